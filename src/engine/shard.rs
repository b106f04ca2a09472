//! A shard: a plain struct that owns its part of every database. All access is synchronous
//! (`FnOnce(&mut Shard)`), so a command on one shard can never be interleaved with another.

use super::db::Db;
use super::locks::{LockKey, LockTable, Mode, Waiter};
use super::notify::{class, KeyEvent};
use super::shard_config::ShardConfig;
use bytes::Bytes;

/// Work for a shard: runs synchronously with the shard to itself.
pub type Job = Box<dyn FnOnce(&mut Shard) + Send>;

/// Counters a shard keeps for INFO; summed across shards when read.
#[derive(Clone, Debug, Default)]
pub struct ShardStats {
    pub expired_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    /// Commands run by connections living on this shard's thread.
    pub commands_processed: u64,
    /// Bytes read from and written to the clients served on this shard's thread.
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub commands: hashbrown::HashMap<&'static str, CommandStat, foldhash::fast::FixedState>,
}

/// INFO commandstats for one command.
#[derive(Clone, Copy, Debug, Default)]
pub struct CommandStat {
    pub calls: u64,
    pub usec: u64,
    pub failed_calls: u64,
    pub rejected_calls: u64,
}

impl ShardStats {
    pub fn record_command(&mut self, name: &'static str, took: std::time::Duration, failed: bool) {
        self.commands_processed += 1;
        let s = self.commands.entry(name).or_default();
        s.calls += 1;
        s.usec += took.as_micros() as u64;
        s.failed_calls += failed as u64;
    }
}

pub struct Shard {
    pub id: usize,
    pub dbs: Vec<Db>,
    pub locks: LockTable,
    pub stats: ShardStats,
    /// Wall-clock ms, refreshed by the runtime before work runs; the clock TTLs use.
    pub now_ms: u64,
    /// Random state for sampling (RANDOMKEY), seeded through the runtime.
    rng: u64,
    /// Thresholds and limits from the configuration (refreshed by CONFIG SET).
    pub config: ShardConfig,
    /// Events recorded by `notify`, waiting to be published.
    pub events: Vec<KeyEvent>,
    /// Slow commands of the connections this shard's thread serves (SLOWLOG).
    pub slowlog: crate::metrics::slowlog::SlowLog,
    /// The active expiry cycle runs (DEBUG SET-ACTIVE-EXPIRE turns it off).
    pub active_expire: bool,
}

impl Shard {
    pub fn new(id: usize, dbnum: usize, seed: u64) -> Shard {
        let dbs = (0..dbnum).map(|i| Db::new(seed ^ (i as u64).wrapping_mul(0x9E37_79B9))).collect();
        Shard {
            id,
            dbs,
            locks: LockTable::new(seed.rotate_left(17)),
            stats: ShardStats::default(),
            now_ms: 0,
            rng: seed | 1,
            config: ShardConfig::default(),
            events: Vec::new(),
            slowlog: Default::default(),
            active_expire: true,
        }
    }

    pub fn next_rand(&mut self) -> u64 {
        // xorshift64*: cheap sampling randomness, fully determined by the seed.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Every change to a key goes through here: `class` is Redis's notification class
    /// (`notify::class`), `event` Redis's event name ("set", "del", "expire", "hset", ...).
    pub fn notify(&mut self, db: usize, class: u8, event: &'static str, key: &[u8]) {
        if self.config.notify.wants(class) {
            self.events.push(KeyEvent { db, class, event, key: Bytes::copy_from_slice(key) });
        }
    }

    /// Runs `f` now if no lock stands in the way of `keys`, else queues it behind the lock.
    /// Returns whether it ran at once.
    pub fn run_or_queue(&mut self, db: u16, keys: &[Bytes], mode: Mode, f: Job) -> bool {
        if self.locks.is_idle() {
            f(self);
            return true;
        }
        let lk: Vec<(LockKey, Mode)> = keys.iter().map(|k| ((db, k.clone()), mode)).collect();
        if self.locks.can_run(&lk) {
            f(self);
            true
        } else {
            let runs = self.locks.enqueue(lk, Waiter::Run(f));
            self.run_all(runs);
            false
        }
    }

    pub fn run_all(&mut self, runs: Vec<Job>) {
        for f in runs {
            f(self);
        }
    }

    /// Removes keys whose deadline has passed, at most `budget` per call (the active cycle).
    pub fn expire_cycle(&mut self, budget: usize) -> usize {
        let now = self.now_ms;
        let mut total = 0;
        let mut expired = Vec::new();
        for (i, db) in self.dbs.iter_mut().enumerate() {
            if total >= budget {
                break;
            }
            total += db.expire_due(now, budget - total, |k| expired.push((i, k.clone())));
        }
        for (db, key) in expired {
            self.notify(db, class::EXPIRED, "expired", &key);
        }
        self.stats.expired_keys += total as u64;
        total
    }

    /// Finds a live key in `db`, expiring it lazily, and counts the hit or miss.
    pub fn lookup(&mut self, db: usize, key: &[u8]) -> Option<&mut super::keytable::Entry> {
        let now = self.now_ms;
        if self.dbs[db].expire_if_due(key, now) {
            self.stats.expired_keys += 1;
            self.notify(db, class::EXPIRED, "expired", key);
        }
        match self.dbs[db].table.get_mut(key) {
            Some(e) => {
                self.stats.keyspace_hits += 1;
                Some(e)
            }
            None => {
                self.stats.keyspace_misses += 1;
                None
            }
        }
    }

    /// Like `lookup` but without touching hit/miss statistics (for writes and internal reads).
    pub fn lookup_write(&mut self, db: usize, key: &[u8]) -> Option<&mut super::keytable::Entry> {
        let now = self.now_ms;
        if self.dbs[db].expire_if_due(key, now) {
            self.stats.expired_keys += 1;
            self.notify(db, class::EXPIRED, "expired", key);
        }
        self.dbs[db].table.get_mut(key)
    }
}
