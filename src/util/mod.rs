//! Small pure helpers shared by the protocol and the commands.

mod glob;
mod numbers;
pub mod sha1;

pub use glob::glob_match;
pub use numbers::{add_floats, format_f64_human, parse_f64_strict, parse_i64_strict, parse_u64_strict};
