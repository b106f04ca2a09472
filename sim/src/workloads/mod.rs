//! Workloads: what the simulated clients do. Each workload drives one client connection and runs
//! its replies through the checkers.

pub mod evict_ops;
pub mod evict_probe;
pub mod eviction;
pub mod eviction_start;
pub mod repl_reader;
pub mod repl_writer;
pub mod replicated;
pub mod snapshots;
pub mod strings;
pub mod transactions;
pub mod types;
pub mod types_start;
pub mod types_tx;
