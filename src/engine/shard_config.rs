//! The configuration a shard consults while it runs commands: encoding thresholds, limits and
//! notification classes. A copy lives in each shard (no lock on the command path); CONFIG SET
//! sends every shard a fresh copy.

use super::notify::NotifyFlags;
use crate::config::ConfigStore;

#[derive(Clone, Debug, PartialEq)]
pub struct ShardConfig {
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    pub set_max_listpack_entries: usize,
    pub set_max_listpack_value: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    /// Positive: entries per list node; negative: node size class (-2 = 8 KiB), as in Redis.
    pub list_max_listpack_size: i64,
    /// The largest string a command may build (APPEND, SETRANGE, ...).
    pub proto_max_bulk_len: usize,
    /// A sparse HyperLogLog growing past this many bytes becomes dense.
    pub hll_sparse_max_bytes: usize,
    pub notify: NotifyFlags,
    /// `maxmemory` in bytes for the whole server (0 = none); each shard enforces its share.
    pub maxmemory: u64,
    pub policy: super::memory::Policy,
    pub maxmemory_samples: usize,
    pub lfu_log_factor: u64,
    pub lfu_decay_time: u64,
    /// `latency-tracking`: per-command latency histograms (INFO latencystats).
    pub latency_tracking: bool,
}

impl Default for ShardConfig {
    fn default() -> Self {
        ShardConfig::from_store(&ConfigStore::defaults())
    }
}

impl ShardConfig {
    pub fn from_store(s: &ConfigStore) -> ShardConfig {
        let n = |name: &str| s.get(name).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0).max(0) as usize;
        ShardConfig {
            hash_max_listpack_entries: n("hash-max-listpack-entries"),
            hash_max_listpack_value: n("hash-max-listpack-value"),
            set_max_intset_entries: n("set-max-intset-entries"),
            set_max_listpack_entries: n("set-max-listpack-entries"),
            set_max_listpack_value: s.get("set-max-listpack-value").map_or(64, |v| v.parse().unwrap_or(64)),
            zset_max_listpack_entries: n("zset-max-listpack-entries"),
            zset_max_listpack_value: n("zset-max-listpack-value"),
            list_max_listpack_size: s.get_int("list-max-listpack-size"),
            proto_max_bulk_len: n("proto-max-bulk-len"),
            hll_sparse_max_bytes: n("hll-sparse-max-bytes"),
            notify: NotifyFlags::parse(s.get_str("notify-keyspace-events")).unwrap_or_default(),
            maxmemory: n("maxmemory") as u64,
            policy: match super::memory::Policy::parse(s.get_str("maxmemory-policy")) {
                // Dragonfly's cache mode: evict like a cache (LRU over every key) when full.
                super::memory::Policy::NoEviction if s.get_bool("cache-mode") => super::memory::Policy::AllKeysLru,
                p => p,
            },
            maxmemory_samples: n("maxmemory-samples").max(1),
            lfu_log_factor: n("lfu-log-factor") as u64,
            lfu_decay_time: n("lfu-decay-time") as u64,
            latency_tracking: s.get_bool("latency-tracking"),
        }
    }
}
