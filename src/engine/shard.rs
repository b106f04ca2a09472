//! A shard: a plain struct that owns its part of every database. All access is synchronous
//! (`FnOnce(&mut Shard)`), so a command on one shard can never be interleaved with another.

use super::blocking::Blocking;
use super::db::Db;
use super::locks::{LockKey, LockTable, Mode, Waiter};
use super::memory::{self, MemGauge, Policy};
use super::notify::{class, KeyEvent};
use super::pubsub::{Family, Publication, Registry};
use super::shard_config::ShardConfig;
use super::shardset::ShardSet;
use bytes::Bytes;
use std::sync::{Arc, Weak};
use tokio::sync::oneshot;

/// A key some client WATCHes: how many watchers, and the version they compare against.
#[derive(Clone, Copy, Debug, Default)]
struct Watch {
    refs: u32,
    version: u64,
}

/// Work for a shard: runs synchronously with the shard to itself.
pub type Job = Box<dyn FnOnce(&mut Shard) + Send>;

/// Counters a shard keeps for INFO; summed across shards when read.
#[derive(Clone, Debug, Default)]
pub struct ShardStats {
    pub expired_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub evicted_keys: u64,
    /// Commands run by connections living on this shard's thread.
    pub commands_processed: u64,
    /// Bytes read from and written to the clients served on this shard's thread.
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub commands: hashbrown::HashMap<&'static str, CommandStat, foldhash::fast::FixedState>,
    /// Changes to keys so far (Redis's `server.dirty`), and its value at the cut of the last
    /// successful save: INFO's rdb_changes_since_last_save is the difference.
    pub dirty: u64,
    pub dirty_at_save: u64,
    /// Per-command latency histograms, while `latency-tracking` is on.
    pub latency: hashbrown::HashMap<
        &'static str,
        crate::metrics::latency_histogram::LatencyHistogram,
        foldhash::fast::FixedState,
    >,
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
    /// Clients blocked on this shard's keys (BLPOP and friends).
    pub blocking: Blocking,
    /// WATCHed keys of this shard, by (db, key); `notify` bumps their version.
    watched: hashbrown::HashMap<(usize, Bytes), Watch, foldhash::fast::FixedState>,
    watch_clock: u64,
    /// Subscriptions of the connections living on this shard's thread.
    pub pubsub: Registry,
    /// Every shard, to publish to (set by the server; absent in unit tests).
    pub peers: Option<Weak<ShardSet>>,
    /// Slow commands of the connections this shard's thread serves (SLOWLOG).
    pub slowlog: crate::metrics::slowlog::SlowLog,
    /// The active expiry cycle runs (DEBUG SET-ACTIVE-EXPIRE turns it off).
    pub active_expire: bool,
    /// Set while this node is a replica: its primary expires keys (and sends DEL).
    pub replica_mode: bool,
    /// The running job applies the primary's stream (see `expire_lazily`).
    pub from_master: bool,
    /// Usage figures shared with other threads (the server's; a private one in unit tests).
    pub mem: Arc<MemGauge>,
    /// The running command's client asked not to touch access times (CLIENT NO-TOUCH).
    pub no_touch: bool,
    /// Best eviction candidates seen so far: (score, db, key), higher score goes first.
    evict_pool: Vec<Candidate>,
    /// The replication journal (set by the server; absent in unit tests).
    pub journal: Option<Arc<crate::replication::journal::Journal>>,
    /// Set while a job runs for a transaction: its records are collected here and written to
    /// the journal as one MULTI/EXEC when it ends, instead of one by one.
    pub capture: Option<Arc<super::propagate::Capture>>,
    /// Records of the running job, written when it ends (`propagate`).
    pub pending: Vec<crate::replication::journal::Record>,
    /// The running command recorded itself in another form (`propagate_instead`).
    pub rewritten: bool,
    /// Recount the memory accounting after every job (`Rt::self_checks`: the simulator).
    pub self_checks: bool,
    /// Canary `evict-volatile-any`: volatile-* policies sample every key, TTL or not.
    pub canary_evict_any: bool,
}

/// Candidates kept between eviction rounds (Redis's EVPOOL_SIZE).
const EVICT_POOL: usize = 16;

/// A key the eviction pool keeps: its score when sampled (higher goes first) and the access
/// field it had then, to tell whether it was used since.
struct Candidate {
    score: u64,
    db: usize,
    key: Bytes,
    access: u32,
}

/// Evictions per call at most, so a lowered maxmemory cannot stall a shard; the next job or
/// tick continues.
const EVICT_BUDGET: usize = 4096;

impl Shard {
    /// Counts one call for INFO commandstats and, with `latency-tracking`, its latency.
    pub fn record_command(&mut self, name: &'static str, took: std::time::Duration, failed: bool) {
        self.stats.record_command(name, took, failed);
        if self.config.latency_tracking {
            self.stats.latency.entry(name).or_default().record(took.as_nanos() as u64);
        }
    }

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
            blocking: Blocking::new(seed.rotate_left(29)),
            watched: hashbrown::HashMap::with_hasher(foldhash::fast::FixedState::with_seed(seed)),
            watch_clock: 0,
            pubsub: Registry::default(),
            peers: None,
            slowlog: Default::default(),
            active_expire: true,
            replica_mode: false,
            from_master: false,
            mem: Arc::new(MemGauge::new(1)),
            no_touch: false,
            evict_pool: Vec::new(),
            journal: None,
            capture: None,
            pending: Vec::new(),
            rewritten: false,
            self_checks: false,
            canary_evict_any: false,
        }
    }

    /// Bytes this shard's data takes by the accounting model.
    pub fn used_memory(&self) -> usize {
        self.dbs.iter().map(Db::bytes).sum()
    }

    /// This shard's share of `maxmemory` for data (u64::MAX when there is no limit).
    pub fn memory_limit(&self) -> u64 {
        self.mem.shard_limit(self.config.maxmemory)
    }

    /// Records an access to `e` for LRU/LFU (Redis's lookupKey), unless the client asked for
    /// NO-TOUCH.
    fn touch_entry(e: &mut super::keytable::Entry, cfg: &super::ShardConfig, now_ms: u64, r: u64) {
        e.access = if cfg.policy.is_lfu() {
            let r = (r >> 11) as f64 / (1u64 << 53) as f64;
            memory::lfu_touch(e.access, now_ms, cfg.lfu_decay_time, cfg.lfu_log_factor, r)
        } else {
            memory::lru_touch(now_ms)
        };
    }

    /// Makes room before a write flagged `denyoom`: evicts by the policy while this shard is
    /// over its share. False when it is still over (the command gets Redis's OOM error).
    pub fn make_room(&mut self) -> bool {
        if self.config.maxmemory == 0 {
            return true;
        }
        self.evict_to_limit();
        if (self.used_memory() as u64) <= self.memory_limit() {
            return true;
        }
        // An evicting policy refuses writes only once nothing it may evict is left (slack in the
        // table or a passing rise of the overhead estimate must not turn into OOM errors).
        self.config.policy != Policy::NoEviction && self.pick_victim(self.config.policy).is_some()
    }

    /// Evicts keys by the policy until under the limit, nothing is evictable, or the budget is
    /// spent. Returns how many keys went.
    pub fn evict_to_limit(&mut self) -> usize {
        let limit = self.memory_limit();
        let policy = self.config.policy;
        let mut n = 0;
        // Under a snapshot's barrier nothing may change (the cut must be one moment).
        if policy == Policy::NoEviction || self.locks.barrier_held() {
            return 0;
        }
        while (self.used_memory() as u64) > limit && n < EVICT_BUDGET {
            let Some((db, key)) = self.pick_victim(policy) else { break };
            self.dbs[db].remove(&key);
            n += 1;
            self.stats.evicted_keys += 1;
            self.propagate_eviction(db, &key);
            self.notify(db, class::EVICTED, "evicted", &key);
        }
        if n > 0 {
            self.publish_usage();
        }
        n
    }

    /// Replication hook: an evicted key reaches replicas and the AOF as a DEL (as Redis's
    /// propagateDeletion). Nothing to propagate to yet.
    fn propagate_eviction(&mut self, _db: usize, _key: &[u8]) {}

    /// Stores this shard's usage where other threads read it.
    pub fn publish_usage(&self) {
        if let Some(u) = self.mem.used.get(self.id) {
            u.store(self.used_memory() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        if let Some(u) = self.mem.evicted.get(self.id) {
            u.store(self.stats.evicted_keys, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// The next key to evict under `policy`: random policies pick a sampled key at once; the
    /// others keep a pool of the best candidates of every round (Redis's evictionPoolPopulate).
    fn pick_victim(&mut self, policy: Policy) -> Option<(usize, Bytes)> {
        // The canary's bug: a volatile policy that samples like its allkeys twin.
        let volatile = policy.volatile_only() && !self.canary_evict_any;
        let samples = self.config.maxmemory_samples;
        let random = matches!(policy, Policy::AllKeysRandom | Policy::VolatileRandom);
        let ndb = self.dbs.len();
        let start = self.next_rand() as usize;
        let now = self.now_ms;
        let decay = self.config.lfu_decay_time;
        let mut sampled: Vec<Candidate> = Vec::new();
        // A key a transaction holds is never evicted: Redis evicts before a command, never
        // between the commands of a MULTI/EXEC, which must see its own writes.
        let locked = |locks: &super::locks::LockTable, db: usize, key: &Bytes| {
            !locks.is_idle() && locks.holds(&(db as u16, key.clone()))
        };
        for i in 0..ndb {
            let db = (start + i) % ndb;
            let d = &self.dbs[db];
            if d.is_empty() || (volatile && d.expires_count() == 0) {
                continue;
            }
            let (r1, r2) = (self.next_rand(), self.next_rand());
            let (d, locks) = (&self.dbs[db], &self.locks);
            let mut visit = |e: &super::keytable::Entry| {
                let key = e.key_bytes();
                if locked(locks, db, &key) {
                    return;
                }
                let score = match policy {
                    Policy::AllKeysLfu | Policy::VolatileLfu => 255 - memory::lfu_decayed(e.access, now, decay) as u64,
                    Policy::VolatileTtl => u64::MAX - e.expire_at(),
                    Policy::AllKeysRandom | Policy::VolatileRandom => 0,
                    _ => memory::lru_idle_ms(e.access, now),
                };
                sampled.push(Candidate { score, db, key, access: e.access });
            };
            if volatile {
                d.sample_volatile(r1, samples, &mut visit);
            } else {
                d.table.sample(r1, r2, samples, &mut visit);
            }
            if random && !sampled.is_empty() {
                let c = sampled.swap_remove(r2 as usize % sampled.len());
                return Some((c.db, c.key));
            }
        }
        // The best of this round, in case the pool holds only keys that are gone by now.
        let fallback = sampled.iter().max_by_key(|c| c.score).map(|c| (c.db, c.key.clone()));
        for c in sampled {
            if self.evict_pool.iter().any(|p| p.db == c.db && p.key == c.key) {
                continue;
            }
            if self.evict_pool.len() < EVICT_POOL {
                self.evict_pool.push(c);
            } else if let Some(min) = self.evict_pool.iter_mut().min_by_key(|p| p.score) {
                if min.score < c.score {
                    *min = c;
                }
            }
        }
        // Best first; candidates that vanished or lost their TTL are dropped on the way, and so
        // are LRU/LFU candidates accessed since they were scored (Redis would evict those on
        // their stale idle time: a hot key that happened to rest when sampled).
        let by_access = !matches!(policy, Policy::VolatileTtl);
        while !self.evict_pool.is_empty() {
            let best = (0..self.evict_pool.len()).max_by_key(|&i| self.evict_pool[i].score)?;
            let c = self.evict_pool.swap_remove(best);
            match self.dbs[c.db].table.get(&c.key) {
                Some(e)
                    if (!volatile || e.expire_at() != 0)
                        && (!by_access || e.access == c.access)
                        && !locked(&self.locks, c.db, &c.key) =>
                {
                    return Some((c.db, c.key))
                }
                _ => continue,
            }
        }
        fallback
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

    /// Installs a configuration; keys created from now on are noted for `new` events when the
    /// `n` class is on.
    pub fn set_config(&mut self, config: ShardConfig) {
        let notify = config.notify;
        self.config = config;
        self.set_notify(notify);
    }

    /// Changes `notify-keyspace-events` on this shard.
    pub fn set_notify(&mut self, flags: super::notify::NotifyFlags) {
        self.config.notify = flags;
        let track = flags.wants(class::NEW);
        for d in &mut self.dbs {
            d.track_new = track;
            d.new_keys.clear();
        }
    }

    /// Every change to a key goes through here: `class` is Redis's notification class
    /// (`notify::class`), `event` Redis's event name ("set", "del", "expire", "hset", ...).
    pub fn notify(&mut self, db: usize, class: u8, event: &'static str, key: &[u8]) {
        if !self.dbs[db].new_keys.is_empty() {
            // Keys this command created come first, as Redis's dbAdd announces them.
            for k in std::mem::take(&mut self.dbs[db].new_keys) {
                self.events.push(KeyEvent { db, class: class::NEW, event: "new", key: k });
            }
        }
        self.stats.dirty += 1;
        if class == class::EXPIRED || class == class::EVICTED {
            self.propagate_del(db, key);
        }
        self.account(db, key);
        if self.blocking.is_waiting() {
            self.blocking.mark_ready(db, key);
        }
        if !self.watched.is_empty() {
            self.touch_watched(db, key);
        }
        if self.config.notify.wants(class) {
            self.events.push(KeyEvent { db, class, event, key: Bytes::copy_from_slice(key) });
        }
    }

    /// Re-measures a key a write just touched (its value may have changed in place) and gives
    /// a new key its first access stamp. Big collections are re-measured on a random subset
    /// of writes (about one per 128 elements), so the cost stays constant per element.
    fn account(&mut self, db: usize, key: &[u8]) {
        let r = self.next_rand();
        let (now, cfg) = (self.now_ms, &self.config);
        let table = &mut self.dbs[db].table;
        let Some(e) = table.get_mut(key) else { return };
        if e.access == 0 {
            e.access = if cfg.policy.is_lfu() { memory::lfu_init(now) } else { memory::lru_touch(now) };
        }
        let n = memory::value_len(&e.value);
        if n <= 128 || r % (n as u64 / 128) == 0 {
            table.recharge(key);
        }
    }

    /// Marks a WATCHed key as changed (any write, expiry, FLUSH*, SWAPDB).
    pub fn touch_watched(&mut self, db: usize, key: &[u8]) {
        if let Some(w) = self.watched.get_mut(&(db, Bytes::copy_from_slice(key))) {
            self.watch_clock += 1;
            w.version = self.watch_clock;
        }
    }

    /// Before `db` is emptied (FLUSHDB/FLUSHALL) or swapped with `other` (SWAPDB): every watched
    /// key of `db` that exists in `db` (or in `other`) changes, as Redis's touchAllWatchedKeysInDb.
    pub fn touch_watched_db(&mut self, db: usize, other: Option<usize>) {
        // Logically expired keys count as missing, as in Redis.
        let now = self.now_ms;
        let live =
            |d: usize, k: &Bytes| self.dbs[d].table.get(k).is_some_and(|e| e.expire_at() == 0 || e.expire_at() > now);
        let hit: Vec<(usize, Bytes)> = self
            .watched
            .keys()
            .filter(|(d, k)| *d == db && (live(db, k) || other.is_some_and(|o| live(o, k))))
            .cloned()
            .collect();
        for (d, k) in hit {
            self.touch_watched(d, &k);
        }
    }

    /// WATCH: registers one watcher of `key` and returns the version to compare at EXEC. A key
    /// already logically expired is reclaimed first, so its deletion does not fail EXEC.
    pub fn watch(&mut self, db: usize, key: &Bytes) -> u64 {
        self.lookup_write(db, key);
        let w = self.watched.entry((db, key.clone())).or_default();
        w.refs += 1;
        w.version
    }

    pub fn unwatch(&mut self, db: usize, key: &Bytes) {
        let k = (db, key.clone());
        if let Some(w) = self.watched.get_mut(&k) {
            w.refs -= 1;
            if w.refs == 0 {
                self.watched.remove(&k);
            }
        }
    }

    /// The current version of a watched key, expiring it lazily first (a watched key that
    /// expires before EXEC fails the transaction).
    pub fn watch_version(&mut self, db: usize, key: &Bytes) -> u64 {
        self.lookup_write(db, key);
        self.watched.get(&(db, key.clone())).map_or(u64::MAX, |w| w.version)
    }

    /// Publishes the keyspace events recorded since the last call (after every command or batch).
    pub fn publish_events(&mut self) {
        if self.config.notify.wants(class::NEW) {
            // A key created and gone again without a notify (nothing happened to it).
            self.dbs.iter_mut().for_each(|d| d.new_keys.clear());
        }
        if self.events.is_empty() {
            return;
        }
        let flags = self.config.notify;
        let mut out = Vec::new();
        for e in std::mem::take(&mut self.events) {
            if flags.keyspace {
                let mut ch = format!("__keyspace@{}__:", e.db).into_bytes();
                ch.extend_from_slice(&e.key);
                out.push(Publication {
                    family: Family::Channel,
                    channel: Bytes::from(ch),
                    payload: Bytes::from_static(e.event.as_bytes()),
                });
            }
            if flags.keyevent {
                out.push(Publication {
                    family: Family::Channel,
                    channel: Bytes::from(format!("__keyevent@{}__:{}", e.db, e.event)),
                    payload: e.key,
                });
            }
        }
        let out = Arc::new(out);
        match self.peers.as_ref().and_then(Weak::upgrade) {
            Some(set) => {
                for id in 0..set.num_shards() {
                    let out = out.clone();
                    set.post(
                        id,
                        Box::new(move |sh| {
                            for p in out.iter() {
                                sh.pubsub.deliver(p, sh.now_ms);
                            }
                        }),
                    );
                }
            }
            None => {
                for p in out.iter() {
                    self.pubsub.deliver(p, self.now_ms);
                }
            }
        }
    }

    /// Publishes pending keyspace events, then hands `out` back: a job's reply leaves only after
    /// its events, so a client acting on the reply cannot overtake them.
    pub fn reply_after_events<T>(&mut self, out: T) -> T {
        self.flush_propagation();
        self.publish_events();
        out
    }

    /// Sends `p` to every shard thread (this shard orders publishes to channels it owns: its
    /// mailbox sends reach each thread in order). Each answer is that thread's reception count.
    pub fn fan_out(&mut self, p: Publication) -> Vec<oneshot::Receiver<usize>> {
        let p = Arc::new(p);
        let Some(set) = self.peers.as_ref().and_then(Weak::upgrade) else {
            let (tx, rx) = oneshot::channel();
            let _ = tx.send(self.pubsub.deliver(&p, self.now_ms));
            return vec![rx];
        };
        (0..set.num_shards())
            .map(|id| {
                let (tx, rx) = oneshot::channel();
                let p = p.clone();
                set.post(
                    id,
                    Box::new(move |sh| {
                        let _ = tx.send(sh.pubsub.deliver(&p, sh.now_ms));
                    }),
                );
                rx
            })
            .collect()
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

    /// Serves blocked clients whose keys the work just run made ready (see `blocking`).
    /// What follows every job on this shard: serve clients blocked on keys the job filled, then
    /// publish the keyspace events it (and the serving) produced.
    pub fn after_work(&mut self) {
        if self.blocking.has_ready() {
            self.serve_blocked();
        }
        if self.config.maxmemory != 0 {
            // Evict right after the write that went over, so usage overshoots by one command.
            if self.used_memory() as u64 > self.memory_limit() {
                self.evict_to_limit();
            }
            self.publish_usage();
        }
        self.flush_propagation();
        self.publish_events();
        if self.self_checks {
            self.assert_accounting();
        }
    }

    pub fn run_all(&mut self, runs: Vec<Job>) {
        for f in runs {
            f(self);
        }
    }

    /// Removes keys whose deadline has passed, at most `budget` per call (the active cycle).
    pub fn expire_cycle(&mut self, budget: usize) -> usize {
        // Under a snapshot's barrier nothing may change (the cut must be one moment).
        if self.locks.barrier_held() {
            return 0;
        }
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

    /// Lazy expiry of `key` before it is used. On a primary a due key is deleted (and the
    /// deletion replicated). On a replica the primary decides: its stream sees the key as it
    /// still is (its DEL will come), and other clients are told it is gone without it being
    /// removed, as Redis does. Returns true when the key is there but must look absent.
    fn expire_lazily(&mut self, db: usize, key: &[u8]) -> bool {
        let now = self.now_ms;
        if self.replica_mode {
            if self.from_master {
                return false;
            }
            return self.dbs[db].table.get(key).is_some_and(|e| e.expire_at() != 0 && e.expire_at() <= now);
        }
        if self.dbs[db].expire_if_due(key, now) {
            self.stats.expired_keys += 1;
            self.notify(db, class::EXPIRED, "expired", key);
        }
        false
    }

    /// Finds a live key in `db`, expiring it lazily, and counts the hit or miss.
    pub fn lookup(&mut self, db: usize, key: &[u8]) -> Option<&mut super::keytable::Entry> {
        let now = self.now_ms;
        let hidden = self.expire_lazily(db, key);
        let r = if self.no_touch { 0 } else { self.next_rand() };
        match self.dbs[db].table.get_mut(key).filter(|_| !hidden) {
            Some(e) => {
                self.stats.keyspace_hits += 1;
                if !self.no_touch {
                    Self::touch_entry(e, &self.config, now, r);
                }
                Some(e)
            }
            None => {
                self.stats.keyspace_misses += 1;
                // A read miss is an event ('m'), not a change: it must not touch WATCHed keys.
                if self.config.notify.wants(class::KEY_MISS) {
                    let key = Bytes::copy_from_slice(key);
                    self.events.push(KeyEvent { db, class: class::KEY_MISS, event: "keymiss", key });
                }
                None
            }
        }
    }

    /// Like `lookup` but without touching hit/miss statistics (for writes and internal reads).
    pub fn lookup_write(&mut self, db: usize, key: &[u8]) -> Option<&mut super::keytable::Entry> {
        let now = self.now_ms;
        if self.expire_lazily(db, key) {
            return None;
        }
        let r = if self.no_touch { 0 } else { self.next_rand() };
        let e = self.dbs[db].table.get_mut(key)?;
        if !self.no_touch {
            Self::touch_entry(e, &self.config, now, r);
        }
        Some(e)
    }

    /// Like `lookup_write` but leaves the access time alone (OBJECT, TYPE-like inspection).
    pub fn peek(&mut self, db: usize, key: &[u8]) -> Option<&mut super::keytable::Entry> {
        if self.expire_lazily(db, key) {
            return None;
        }
        self.dbs[db].table.get_mut(key)
    }
}

#[cfg(test)]
mod watch_tests {
    use super::*;
    use crate::types::{StrValue, Value};

    fn put(sh: &mut Shard, key: &str, expire_at: u64) {
        sh.dbs[0].set(Bytes::copy_from_slice(key.as_bytes()), Value::Str(StrValue::from_bytes(b"v")), expire_at);
    }

    #[test]
    fn writes_expiry_and_flush_change_watched_versions() {
        let mut sh = Shard::new(0, 16, 7);
        sh.now_ms = 1000;
        let k = Bytes::from("k");
        put(&mut sh, "k", 0);
        let v = sh.watch(0, &k);
        assert_eq!(sh.watch_version(0, &k), v);
        sh.notify(1, class::STRING, "set", b"k");
        assert_eq!(sh.watch_version(0, &k), v, "another database");
        sh.notify(0, class::STRING, "set", b"k");
        assert_ne!(sh.watch_version(0, &k), v);
        // Expiry between WATCH and EXEC.
        let e = Bytes::from("e");
        put(&mut sh, "e", 1500);
        let v = sh.watch(0, &e);
        sh.now_ms = 2000;
        assert_ne!(sh.watch_version(0, &e), v);
        // A key already stale at WATCH time is reclaimed first and does not fail EXEC.
        put(&mut sh, "s", 1500);
        let s = Bytes::from("s");
        let v = sh.watch(0, &s);
        assert_eq!(sh.watch_version(0, &s), v);
        // SWAPDB: a missing key replaced by a stale one does not change.
        let z = Bytes::from("z");
        let v_z = sh.watch(0, &z);
        sh.dbs[1].set(z.clone(), Value::Str(StrValue::from_bytes(b"v")), 1500);
        sh.touch_watched_db(0, Some(1));
        assert_eq!(sh.watch_version(0, &z), v_z);
        sh.unwatch(0, &z);
        // FLUSHDB touches watched keys that exist only.
        let v_k = sh.watch_version(0, &k);
        let v_s = sh.watch_version(0, &s);
        sh.touch_watched_db(0, None);
        assert_ne!(sh.watch_version(0, &k), v_k);
        assert_eq!(sh.watch_version(0, &s), v_s);
        // Nothing is tracked once every watcher is gone.
        for key in [&k, &e, &s] {
            sh.unwatch(0, key);
        }
        assert!(sh.watched.is_empty());
    }

    #[test]
    fn a_replica_hides_expired_keys_but_leaves_them_to_its_primary() {
        let mut sh = Shard::new(0, 16, 7);
        sh.replica_mode = true;
        put(&mut sh, "k", 1500);
        sh.now_ms = 2000;
        assert!(sh.lookup(0, b"k").is_none(), "a client sees it gone");
        assert!(sh.lookup_write(0, b"k").is_none());
        assert_eq!(sh.dbs[0].len(), 1, "but it stays until the primary's DEL");
        // The primary's stream still sees it: a PERSIST sent before the primary expired it
        // must find it here too.
        sh.from_master = true;
        assert!(sh.lookup_write(0, b"k").is_some());
        sh.from_master = false;
        sh.replica_mode = false;
        assert!(sh.lookup(0, b"k").is_none());
        assert_eq!(sh.dbs[0].len(), 0, "a primary deletes it");
    }

    #[test]
    fn keyspace_events_are_published_locally_without_peers() {
        use super::super::notify::NotifyFlags;
        use super::super::pubsub::{Delivery, Outbox, OutputLimits, SubKind};
        let mut sh = Shard::new(0, 16, 7);
        sh.set_notify(NotifyFlags::parse("KEA").unwrap());
        let out = Arc::new(Outbox::new(Arc::new(OutputLimits::default()), Box::new(|| {})));
        sh.pubsub.subscribe(SubKind::Channel, Bytes::from("__keyevent@0__:del"), 1, &out);
        sh.notify(0, class::GENERIC, "del", b"gone");
        sh.publish_events();
        assert_eq!(
            out.drain(),
            vec![Delivery::Message(
                super::super::pubsub::Family::Channel,
                Bytes::from("__keyevent@0__:del"),
                Bytes::from("gone")
            )]
        );
    }

    #[test]
    fn new_keys_are_announced_before_the_command_event_only_when_asked() {
        use super::super::notify::NotifyFlags;
        use crate::types::{StrValue, Value};
        let v = || Value::Str(StrValue::Int(1));
        let mut sh = Shard::new(0, 16, 7);
        sh.set_notify(NotifyFlags::parse("KEA").unwrap());
        sh.dbs[0].set(Bytes::from("a"), v(), 0);
        assert!(sh.dbs[0].new_keys.is_empty(), "nothing is noted while `n` is off");
        sh.set_notify(NotifyFlags::parse("KEAn").unwrap());
        sh.dbs[0].set(Bytes::from("a"), v(), 0);
        sh.dbs[0].set(Bytes::from("b"), v(), 0);
        sh.dbs[0].set(Bytes::from("c"), v(), 0);
        sh.notify(0, class::STRING, "set", b"b");
        sh.notify(0, class::STRING, "set", b"c");
        let got: Vec<(&str, &[u8])> = sh.events.iter().map(|e| (e.event, &e.key[..])).collect();
        assert_eq!(got, vec![("new", &b"b"[..]), ("new", b"c"), ("set", b"b"), ("set", b"c")]);
        // A key created without any event for it is not announced later.
        sh.dbs[1].set(Bytes::from("d"), v(), 0);
        sh.publish_events();
        sh.notify(1, class::STRING, "set", b"e");
        assert_eq!(sh.events.iter().map(|e| e.event).collect::<Vec<_>>(), vec!["set"]);
    }
}

#[cfg(test)]
mod eviction_tests {
    use super::*;
    use crate::types::{StrValue, Value};

    /// Found by the simulator's eviction workload (`evict_tx`): EXEC runs its commands one job
    /// at a time, and eviction after the job of `SET k v` took `k` before the `GET k` of the
    /// same transaction.
    #[test]
    fn keys_a_transaction_holds_are_never_evicted() {
        for policy in [Policy::AllKeysRandom, Policy::AllKeysLru, Policy::VolatileTtl] {
            let mut sh = Shard::new(0, 16, 9);
            sh.config.policy = policy;
            for i in 0..50 {
                let k = format!("k{i}");
                sh.dbs[0].set(Bytes::from(k.clone()), Value::Str(StrValue::from_bytes(&[b'v'; 100])), 10_000 + i);
                sh.notify(0, class::STRING, "set", k.as_bytes());
            }
            let (grant, _granted) = oneshot::channel();
            let held = vec![((0u16, Bytes::from("k7")), super::super::locks::Mode::Write)];
            assert!(sh.locks.enqueue(held, super::super::locks::Waiter::Grant(1, grant)).is_empty());
            sh.config.maxmemory = 1; // everything evictable must go
            assert_eq!(sh.evict_to_limit(), 49, "{policy:?}");
            assert!(sh.dbs[0].table.get(b"k7").is_some(), "{policy:?}");
            drop(sh.locks.release(1));
            assert_eq!(sh.evict_to_limit(), 1);
        }
    }

    #[test]
    fn a_pooled_lru_candidate_used_since_it_was_scored_is_not_evicted() {
        let mut sh = Shard::new(0, 16, 7);
        sh.config.policy = Policy::AllKeysLru;
        sh.config.maxmemory_samples = 5;
        for (i, k) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            sh.dbs[0].set(Bytes::from(*k), Value::Str(StrValue::Int(1)), 0);
            sh.dbs[0].table.get_mut(k.as_bytes()).unwrap().access = memory::lru_touch(1000 * (i as u64 + 1));
        }
        sh.now_ms = 10_000;
        // One round samples all five keys into the pool and gives the least recently used.
        assert_eq!(sh.pick_victim(Policy::AllKeysLru), Some((0, Bytes::from("a"))));
        sh.dbs[0].remove(b"a");
        // `b` waits in the pool with its old idle time; a read now makes it the freshest key.
        sh.dbs[0].table.get_mut(b"b").unwrap().access = memory::lru_touch(10_000);
        assert_eq!(sh.pick_victim(Policy::AllKeysLru), Some((0, Bytes::from("c"))));
    }
}
