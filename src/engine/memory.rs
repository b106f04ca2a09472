//! Memory accounting and eviction policy pieces: the size model every key is charged by, the
//! maxmemory policies, Redis's LRU clock and its 8-bit logarithmic LFU counter, and the gauge
//! shards publish their usage through (read by INFO and by connections checking `denyoom`).
//!
//! Accounting is kept by the key table itself (`KeyTable::bytes`): every insert, replace and
//! removal adjusts it by the entry's stored `charge`, and `Shard::notify` (which every write
//! calls) recharges the touched key after in-place changes to a collection.

use crate::types::Value;
use std::sync::atomic::{AtomicU64, Ordering};

/// The bytes an allocation of `n` bytes really takes: jemalloc's size classes with the 8-byte
/// quantum the binary is built with (`allocator.rs`): 8-byte steps up to 64, then four classes
/// per doubling (80, 96, 112, 128, 160, ...).
pub fn alloc_size(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    if n <= 64 {
        return (n + 7) & !7;
    }
    let p = usize::BITS - (n - 1).leading_zeros(); // 2^p >= n
    let step = 1usize << (p - 3);
    (n + step - 1) & !(step - 1)
}

/// What a value holds outside the table slot.
pub fn value_charge(v: &Value) -> usize {
    match v {
        Value::Str(s) => alloc_size(s.heap_size()),
        // Collections: their own estimate plus the headers of their top-level allocations.
        other => other.heap_size() + 64,
    }
}

/// How many elements a value has (strings count as one): how costly `heap_size` is.
pub fn value_len(v: &Value) -> usize {
    match v {
        Value::Str(_) => 1,
        Value::Hash(h) => h.len(),
        Value::Set(s) => s.len(),
        Value::List(l) => l.len(),
        Value::ZSet(z) => z.len(),
    }
}

/// The charge of one entry: its node of `node_bytes` (key, fields, deadline) and what the value
/// holds outside it (the slot is charged with the table's capacity).
pub fn entry_charge(node_bytes: usize, v: &Value) -> usize {
    alloc_size(node_bytes) + value_charge(v)
}

/// Redis's maxmemory policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Policy {
    #[default]
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    pub fn parse(s: &str) -> Policy {
        match s {
            "allkeys-lru" => Policy::AllKeysLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    pub fn volatile_only(self) -> bool {
        matches!(self, Policy::VolatileLru | Policy::VolatileLfu | Policy::VolatileRandom | Policy::VolatileTtl)
    }
}

/// Marks an access field as set (a fresh entry has 0 until its first write notification).
pub const ACCESS_SET: u32 = 1 << 31;
/// The LRU clock: 31 bits of 64 ms ticks (finer than Redis's seconds, so recency is told apart
/// within a second; wraps after 4 years). The LFU field uses the low 24 bits as Redis does.
const CLOCK_MAX: u64 = (1 << 31) - 1;
const TICK_SHIFT: u32 = 6;
/// Redis's LFU_INIT_VAL: a new key starts here so it is not evicted at once.
pub const LFU_INIT_VAL: u8 = 5;

/// The LRU clock (see `CLOCK_MAX`).
pub fn lru_clock(now_ms: u64) -> u32 {
    ((now_ms >> TICK_SHIFT) & CLOCK_MAX) as u32
}

/// Milliseconds since the access recorded as LRU clock `lru` (Redis's estimateObjectIdleTime).
pub fn lru_idle_ms(lru: u32, now_ms: u64) -> u64 {
    let now = lru_clock(now_ms) as u64;
    let lru = (lru & CLOCK_MAX as u32) as u64;
    let ticks = if now >= lru { now - lru } else { CLOCK_MAX - lru + now };
    ticks << TICK_SHIFT
}

/// Minutes, 16 bits, as the top of Redis's LFU field.
fn lfu_minutes(now_ms: u64) -> u64 {
    (now_ms / 60_000) & 0xFFFF
}

/// A fresh LFU field: now, counter at `LFU_INIT_VAL`.
pub fn lfu_init(now_ms: u64) -> u32 {
    ACCESS_SET | ((lfu_minutes(now_ms) as u32) << 8) | LFU_INIT_VAL as u32
}

/// Minutes elapsed since the field's decrement time (Redis's LFUTimeElapsed).
fn lfu_elapsed(field: u32, now_ms: u64) -> u64 {
    let now = lfu_minutes(now_ms);
    let ldt = ((field >> 8) & 0xFFFF) as u64;
    if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    }
}

/// The counter after decay: one step per `decay_time` minutes elapsed (Redis's LFUDecrAndReturn).
pub fn lfu_decayed(field: u32, now_ms: u64, decay_time: u64) -> u8 {
    let counter = (field & 0xFF) as u64;
    let periods = lfu_elapsed(field, now_ms).checked_div(decay_time).unwrap_or(0);
    counter.saturating_sub(periods) as u8
}

/// Redis's LFULogIncr: increments with probability 1/((counter - LFU_INIT_VAL) * factor + 1).
/// `r` is a uniform random number in [0, 1).
pub fn lfu_log_incr(counter: u8, log_factor: u64, r: f64) -> u8 {
    if counter == 255 {
        return 255;
    }
    let base = (counter as f64 - LFU_INIT_VAL as f64).max(0.0);
    let p = 1.0 / (base * log_factor as f64 + 1.0);
    if r < p {
        counter + 1
    } else {
        counter
    }
}

/// A recorded access under an LFU policy (Redis's updateLFU).
pub fn lfu_touch(field: u32, now_ms: u64, decay_time: u64, log_factor: u64, r: f64) -> u32 {
    let c = if field & ACCESS_SET == 0 { LFU_INIT_VAL } else { lfu_decayed(field, now_ms, decay_time) };
    let c = lfu_log_incr(c, log_factor, r);
    ACCESS_SET | ((lfu_minutes(now_ms) as u32) << 8) | c as u32
}

/// A recorded access under any other policy: the LRU clock.
pub fn lru_touch(now_ms: u64) -> u32 {
    ACCESS_SET | lru_clock(now_ms)
}

/// Usage figures the shards publish for other threads (INFO, `denyoom` checks on connections),
/// and the server-wide overhead the allocator shows beyond the accounted data.
pub struct MemGauge {
    /// Accounted bytes per shard, stored after every job.
    pub used: Vec<AtomicU64>,
    /// Allocated bytes not accounted to any shard's data (buffers, connections, runtime),
    /// refreshed every tick from the allocator's statistics; each shard's share of
    /// `maxmemory` is reduced by its part of it.
    pub overhead: AtomicU64,
    /// Keys evicted, per shard.
    pub evicted: Vec<AtomicU64>,
}

impl MemGauge {
    pub fn new(shards: usize) -> MemGauge {
        MemGauge {
            used: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            overhead: AtomicU64::new(0),
            evicted: (0..shards).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub fn total_used(&self) -> u64 {
        self.used.iter().map(|u| u.load(Ordering::Relaxed)).sum()
    }

    /// The bytes shard data may take in all, for a `maxmemory` (0 = no limit).
    pub fn data_limit(&self, maxmemory: u64) -> u64 {
        if maxmemory == 0 {
            return u64::MAX;
        }
        // Never let overhead estimates squeeze the data below a tenth of the limit.
        maxmemory.saturating_sub(self.overhead.load(Ordering::Relaxed)).max(maxmemory / 10)
    }

    /// One shard's share of the data limit.
    pub fn shard_limit(&self, maxmemory: u64) -> u64 {
        let l = self.data_limit(maxmemory);
        if l == u64::MAX {
            l
        } else {
            l / self.used.len().max(1) as u64
        }
    }

    /// Whether shard `id` is over its share (the connection-side check for commands that run
    /// through a coordinator).
    pub fn over(&self, id: usize, maxmemory: u64) -> bool {
        maxmemory != 0 && self.used[id].load(Ordering::Relaxed) > self.shard_limit(maxmemory)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes() {
        assert_eq!(alloc_size(0), 0);
        assert_eq!(alloc_size(1), 8);
        assert_eq!(alloc_size(17), 24);
        assert_eq!(alloc_size(57), 64);
        assert_eq!(alloc_size(65), 80);
        assert_eq!(alloc_size(100), 112);
        assert_eq!(alloc_size(128), 128);
        assert_eq!(alloc_size(129), 160);
        assert_eq!(alloc_size(1000), 1024);
        assert_eq!(alloc_size(1025), 1280);
        assert_eq!(alloc_size(4096), 4096);
    }

    #[test]
    fn lfu_counter_grows_logarithmically() {
        // Deterministic pseudo-random numbers.
        let mut x = 12345u64;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut c = LFU_INIT_VAL;
        for _ in 0..100 {
            c = lfu_log_incr(c, 10, rnd());
        }
        // Redis's table: factor 10 reaches ~10 after 100 hits, ~18 after 1000.
        assert!((8..=14).contains(&c), "{c}");
        for _ in 0..900 {
            c = lfu_log_incr(c, 10, rnd());
        }
        assert!((14..=22).contains(&c), "{c}");
        let mut c0 = 0u8;
        for _ in 0..1_000_000 {
            c0 = lfu_log_incr(c0, 0, rnd());
        }
        assert_eq!(c0, 255, "factor 0 counts every hit up to saturation");
        assert_eq!(lfu_log_incr(255, 10, 0.0), 255);
    }

    #[test]
    fn lfu_decays_by_minutes() {
        let t0 = 10 * 60_000;
        let f = ACCESS_SET | ((lfu_minutes(t0) as u32) << 8) | 20;
        assert_eq!(lfu_decayed(f, t0 + 59_000, 1), 20);
        assert_eq!(lfu_decayed(f, t0 + 3 * 60_000, 1), 17);
        assert_eq!(lfu_decayed(f, t0 + 4 * 60_000, 2), 18);
        assert_eq!(lfu_decayed(f, t0 + 100 * 60_000, 1), 0);
        assert_eq!(lfu_decayed(f, t0 + 100 * 60_000, 0), 20, "decay time 0 never decays");
        assert_eq!(lfu_init(t0) & 0xFF, LFU_INIT_VAL as u32, "a fresh key starts at LFU_INIT_VAL");
        assert_eq!(lfu_touch(lfu_init(t0), t0, 1, 10, 0.99) & 0xFF, 6, "the first hits always count");
    }

    #[test]
    fn lru_idle_wraps() {
        let f = lru_touch(5_000);
        assert!((59_900..=60_064).contains(&lru_idle_ms(f, 65_000)));
        let late = lru_clock(CLOCK_MAX << TICK_SHIFT);
        assert!((1_900..=2_064).contains(&lru_idle_ms(late, 2_000)));
        assert!(lru_idle_ms(lru_touch(1_000), 1_200) > lru_idle_ms(lru_touch(1_100), 1_200));
    }

    #[test]
    fn gauge_splits_the_limit() {
        let g = MemGauge::new(4);
        assert_eq!(g.shard_limit(0), u64::MAX);
        assert_eq!(g.shard_limit(4000), 1000);
        g.overhead.store(400, Ordering::Relaxed);
        assert_eq!(g.shard_limit(4000), 900);
        g.used[1].store(901, Ordering::Relaxed);
        assert!(g.over(1, 4000) && !g.over(0, 4000) && !g.over(1, 0));
    }
}
