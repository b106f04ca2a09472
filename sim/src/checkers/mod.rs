//! Invariants, one per file. Each checker turns a reply it cannot explain into an `Err` with a
//! clear message; the scenario stops the seed and reports it.

pub mod atomicity;
pub mod counters;
pub mod model;
pub mod snapshot_cut;
pub mod transactions;
