//! Consistency checkers for Mayfly histories.
//!
//! Everything here is a pure function over an in-memory history: no sockets, no files, no clocks
//! except the optional wall-clock budget of the searches. The simulator (`sim/`) and the
//! real-process harness feed histories in; verdicts and human-readable reports come out.
//!
//! - [`checker::linearizable`]: Wing–Gong search with Lowe's memoization over a [`checker::Model`].
//! - [`checker::elle`]: Elle-style list-append transaction checker (cycles and non-cycle anomalies).
//! - [`checker::set`], [`checker::counter`], [`checker::convergence`],
//!   [`checker::snapshot_prefix`]: one checker per invariant.
//! - [`history`]: history types and parsers (Porcupine logs, Jepsen EDN).

pub mod checker;
pub mod history;
