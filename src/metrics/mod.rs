//! Server metrics as text: INFO's sections and the
//! Prometheus exposition. Gathering the numbers is the server's job; this
//! module only formats a snapshot, so it can be tested without a running server.

pub mod info;
pub mod latency_histogram;
pub mod memory_doctor;
pub mod prometheus;
pub mod prometheus_repl;
pub mod slowlog;

pub use info::{render, DbCounts, InfoSnapshot};
