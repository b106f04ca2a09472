//! The checkers: one invariant per module, all pure functions over histories.
//!
//! Hash maps here use a fixed (unseeded) hasher so that the same history always yields the same
//! report, which the deterministic simulator relies on when it compares runs of one seed.

pub mod convergence;
pub mod counter;
pub mod elle;
pub mod linearizable;
pub mod models;
pub mod report;
pub mod set;
pub mod snapshot_prefix;

pub use linearizable::{Model, Verdict};

use std::hash::{BuildHasherDefault, Hasher};

/// A small multiplicative hasher (the Fx scheme): fast, and deterministic across runs.
#[derive(Clone, Copy, Default)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(buf));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` with the deterministic hasher.
#[allow(clippy::disallowed_types)] // the workspace bans std's *random* hasher; this one is fixed
pub(crate) type FxHashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FxHasher>>;
/// A `HashSet` with the deterministic hasher.
#[allow(clippy::disallowed_types)] // as above
pub(crate) type FxHashSet<K> = std::collections::HashSet<K, BuildHasherDefault<FxHasher>>;
