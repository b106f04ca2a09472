//! How far the snapshot load at start has come, for INFO persistence's `loading_*` fields.
//! The loader advances it; INFO reads it from any thread (plain atomics, no lock).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub struct LoadProgress {
    /// Unix seconds the load started at.
    start_secs: AtomicU64,
    /// The file's size (0 when unknown).
    total_bytes: AtomicU64,
    /// The `used-mem` aux field of the file being loaded (Redis's size estimate when the total
    /// is unknown).
    rdb_used_mem: AtomicU64,
    loaded_bytes: AtomicU64,
}

/// The figures INFO prints while loading, in Redis 7.0's order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadingFields {
    pub start_time: u64,
    pub total_bytes: u64,
    pub rdb_used_mem: u64,
    pub loaded_bytes: u64,
    pub loaded_perc: f64,
    pub eta_seconds: u64,
}

impl LoadProgress {
    /// A load of `total_bytes` starts now (`now_ms` Unix ms).
    pub fn begin(&self, now_ms: u64, total_bytes: u64) {
        self.start_secs.store(now_ms / 1000, Relaxed);
        self.total_bytes.store(total_bytes, Relaxed);
        self.rdb_used_mem.store(0, Relaxed);
        self.loaded_bytes.store(0, Relaxed);
    }

    pub fn set_rdb_used_mem(&self, bytes: u64) {
        self.rdb_used_mem.store(bytes, Relaxed);
    }

    /// `bytes` of the file are loaded so far.
    pub fn advance(&self, bytes: u64) {
        self.loaded_bytes.store(bytes, Relaxed);
    }

    /// The INFO figures at `now_ms`, computed as Redis 7.0 does: the share of the file's bytes
    /// loaded (or of its `used-mem` when its size is unknown, then never quite 100%), and the
    /// time left if the rest goes as fast as what was loaded so far.
    pub fn fields(&self, now_ms: u64) -> LoadingFields {
        let start_time = self.start_secs.load(Relaxed);
        let total_bytes = self.total_bytes.load(Relaxed);
        let rdb_used_mem = self.rdb_used_mem.load(Relaxed);
        let loaded_bytes = self.loaded_bytes.load(Relaxed);
        let (loaded_perc, remaining) = if total_bytes != 0 {
            (loaded_bytes as f64 * 100.0 / total_bytes as f64, total_bytes.saturating_sub(loaded_bytes))
        } else if rdb_used_mem != 0 {
            let perc = (loaded_bytes as f64 * 100.0 / rdb_used_mem as f64).min(99.99);
            (perc, rdb_used_mem.saturating_sub(loaded_bytes).max(1))
        } else {
            (0.0, 1)
        };
        let elapsed = (now_ms / 1000).saturating_sub(start_time);
        // Redis answers a fake 1 second until a second has passed.
        let eta_seconds = if elapsed == 0 { 1 } else { elapsed.saturating_mul(remaining) / (loaded_bytes + 1) };
        LoadingFields { start_time, total_bytes, rdb_used_mem, loaded_bytes, loaded_perc, eta_seconds }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_and_eta_follow_the_bytes_loaded() {
        let p = LoadProgress::default();
        p.begin(100_000, 1000);
        let f = p.fields(100_500);
        assert_eq!((f.start_time, f.total_bytes, f.loaded_bytes, f.loaded_perc, f.eta_seconds), (100, 1000, 0, 0.0, 1));
        p.advance(249);
        // 10 s for 249 bytes: the remaining 751 take (10 * 751) / 250 = 30 s.
        let f = p.fields(110_000);
        assert_eq!((f.loaded_perc, f.eta_seconds), (24.9, 30));
        p.advance(1000);
        assert_eq!(p.fields(110_000).eta_seconds, 0);
        assert_eq!(p.fields(110_000).loaded_perc, 100.0);
    }

    #[test]
    fn without_a_size_the_used_mem_estimate_never_reaches_100_percent() {
        let p = LoadProgress::default();
        p.begin(0, 0);
        p.set_rdb_used_mem(100);
        p.advance(150);
        let f = p.fields(2000);
        assert_eq!(f.loaded_perc, 99.99);
        assert_eq!(f.eta_seconds, 0);
    }
}
