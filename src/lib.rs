//! Mayfly: a Redis-compatible, multi-threaded, shared-nothing in-memory cache server.
//!
//! Layers, from the wire inwards: `protocol` (RESP in and out), `server` (connections and
//! server-wide commands), `commands` (the command table and the families), `engine` (shards,
//! routing, cross-shard transactions), `types` (value encodings). Everything that touches the
//! OS goes through `runtime::Rt`, so the same code runs on tokio and in the simulator.

pub mod commands;
pub mod config;
pub mod engine;
pub mod metrics;
pub mod protocol;
pub mod replication;
pub mod runtime;
pub mod server;
pub mod storage;
pub mod types;
pub mod util;

/// Mayfly's own version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The Redis version whose behaviour Mayfly follows (reported as `redis_version`).
pub const REDIS_VERSION: &str = "7.0.15";
