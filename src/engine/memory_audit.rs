//! Self-checks of the memory accounting: a recount of everything `KeyTable` and `Db` keep
//! incrementally, and the figures the simulator's eviction checkers judge (usage against the
//! shard's share of maxmemory). Run after every job only when the runtime asks for
//! self-checks (the simulator), and by DEBUG MEMORY-AUDIT; never on production command paths.

use super::shard::Shard;
use std::sync::atomic::Ordering;

/// One shard's memory figures at a moment between jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryAudit {
    pub shard: usize,
    /// Accounted bytes (`Shard::used_memory`), checked against a recount.
    pub used: u64,
    /// This shard's share of maxmemory (u64::MAX without a limit).
    pub limit: u64,
    /// Of `used`, the key tables' slot arrays and directories: a table that grows may double
    /// them in one insert, and eviction cannot shrink them.
    pub structure: u64,
    pub keys: u64,
    /// Keys with a deadline: what volatile-* policies may evict.
    pub volatile: u64,
    pub evicted: u64,
    /// Keys transactions hold right now: eviction spares them until they are released.
    pub held: u64,
}

impl Shard {
    /// Recounts the accounting and returns the shard's figures, or what disagrees.
    pub fn audit_memory(&self) -> Result<MemoryAudit, String> {
        for (i, db) in self.dbs.iter().enumerate() {
            db.audit().map_err(|e| format!("db {i}: {e}"))?;
        }
        let used = self.used_memory() as u64;
        if self.config.maxmemory != 0 {
            // Every job ends by publishing (`after_work`): other threads must see the truth.
            let published = self.mem.used.get(self.id).map(|u| u.load(Ordering::Relaxed));
            if published.is_some_and(|p| p != used) {
                return Err(format!("published usage {published:?} but accounted {used}"));
            }
        }
        Ok(MemoryAudit {
            shard: self.id,
            used,
            limit: self.memory_limit(),
            structure: self.dbs.iter().map(|d| d.table.structure_bytes() as u64).sum(),
            keys: self.dbs.iter().map(|d| d.len() as u64).sum(),
            volatile: self.dbs.iter().map(|d| d.expires_count() as u64).sum(),
            evicted: self.stats.evicted_keys,
            held: self.locks.held_keys() as u64,
        })
    }

    /// The simulator's per-job self-check: a disagreement is a bug in the engine, so the run
    /// stops there with the shard and what disagreed.
    pub fn assert_accounting(&self) {
        if let Err(e) = self.audit_memory() {
            panic!("memory audit of shard {}: {e}", self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::memory::Policy;
    use crate::engine::Shard;
    use crate::types::{StrValue, Value};
    use bytes::Bytes;

    fn put(sh: &mut Shard, key: &str, deadline: u64) {
        let v = Value::Str(StrValue::from_bytes(format!("value of {key}").as_bytes()));
        sh.dbs[0].set(Bytes::copy_from_slice(key.as_bytes()), v, deadline);
        sh.notify(0, crate::engine::notify::class::STRING, "set", key.as_bytes());
    }

    #[test]
    fn a_consistent_shard_passes_and_reports_its_figures() {
        let mut sh = Shard::new(0, 16, 3);
        sh.config.maxmemory = 1 << 20;
        sh.config.policy = Policy::AllKeysLru;
        for i in 0..200 {
            put(&mut sh, &format!("k{i}"), if i % 4 == 0 { 10_000 } else { 0 });
        }
        sh.after_work();
        let a = sh.audit_memory().unwrap();
        assert_eq!((a.keys, a.volatile, a.used), (200, 50, sh.used_memory() as u64));
        assert!(a.structure > 0 && a.structure < a.used);
    }

    #[test]
    fn a_wrong_charge_or_a_stale_gauge_is_reported() {
        let mut sh = Shard::new(0, 16, 3);
        sh.config.maxmemory = 1 << 20;
        put(&mut sh, "k", 0);
        sh.after_work();
        sh.dbs[0].table.skew_charge(b"k", 8);
        let e = sh.audit_memory().unwrap_err();
        assert!(e.contains("charged") && e.contains("measures"), "{e}");
        sh.dbs[0].table.skew_charge(b"k", -8);
        sh.audit_memory().unwrap();
        put(&mut sh, "other", 0);
        assert!(sh.audit_memory().unwrap_err().contains("published usage"));
    }
}
