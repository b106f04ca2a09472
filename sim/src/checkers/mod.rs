//! Invariants, one per file. Each checker turns a reply it cannot explain into an `Err` with a
//! clear message; the scenario stops the seed and reports it.

pub mod acked_writes;
pub mod atomicity;
pub mod blocking;
pub mod catch_up;
pub mod convergence;
pub mod counters;
pub mod evict_model;
pub mod evict_tx;
pub mod evict_volatile;
pub mod evicted_count;
pub mod memory_bounds;
pub mod model;
pub mod noeviction;
pub mod policies;
pub mod replica_counters;
pub mod snapshot_cut;
pub mod timeline;
pub mod transactions;
pub mod types_model;
pub mod types_tx;
