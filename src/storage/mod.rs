//! Persistence: the RDB format (`rdb`), writing snapshots (`snapshot`) and loading them at
//! start (`load`).

pub mod rdb;
