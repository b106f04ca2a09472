//! One database's slice of keys on one shard: the key table plus an index of deadlines for
//! active expiry. Deadlines are absolute Unix milliseconds; a key is gone once `now >= deadline`.

use super::keytable::{Entry, KeyTable};
use crate::types::Value;
use bytes::Bytes;
use std::collections::BTreeSet;

pub struct Db {
    pub table: KeyTable,
    /// (deadline, key) for every key with a TTL, so expiry finds due keys without sampling.
    expires: BTreeSet<(u64, Bytes)>,
    /// Record keys `set` creates (the `n` notification class is on), for `Shard::notify` to
    /// announce as Redis's `new` event before the command's own.
    pub track_new: bool,
    /// Keys created since the last `notify` on this db (only while `track_new`).
    pub new_keys: Vec<Bytes>,
}

impl Db {
    pub fn new(seed: u64) -> Db {
        Db { table: KeyTable::new(seed), expires: BTreeSet::new(), track_new: false, new_keys: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub fn expires_count(&self) -> usize {
        self.expires.len()
    }

    /// Removes `key` if its deadline has passed; true when it did.
    pub fn expire_if_due(&mut self, key: &[u8], now: u64) -> bool {
        let due = matches!(self.table.get(key), Some(e) if e.expire_at() != 0 && e.expire_at() <= now);
        if due {
            self.remove(key);
        }
        due
    }

    /// Finds a live key, removing it first if its deadline has passed. Returns the entry and
    /// whether an expiry happened.
    pub fn lookup(&mut self, key: &[u8], now: u64) -> (Option<&mut Entry>, bool) {
        let expired = matches!(self.table.get(key), Some(e) if e.expire_at() != 0 && e.expire_at() <= now);
        if expired {
            self.remove(key);
            return (None, true);
        }
        (self.table.get_mut(key), false)
    }

    /// Stores `value` under `key` with deadline `expire_at` (0 = none), replacing any old value.
    /// Every key a command creates comes through here (Redis's dbAdd), so this is where its
    /// `new` event is noted.
    pub fn set(&mut self, key: Bytes, value: Value, expire_at: u64) -> Option<Entry> {
        let track = self.track_new.then(|| key.clone());
        let old = self.set_quietly(key, value, expire_at);
        if let (Some(k), None) = (track, &old) {
            self.new_keys.push(k);
        }
        old
    }

    /// `set` without a `new` event: loading a snapshot creates keys no client wrote.
    pub fn set_quietly(&mut self, key: Bytes, value: Value, expire_at: u64) -> Option<Entry> {
        if expire_at != 0 {
            self.expires.insert((expire_at, key.clone()));
        }
        let old = self.table.insert(Entry::new(&key, value, expire_at));
        if let Some(o) = &old {
            if o.expire_at() != 0 && o.expire_at() != expire_at {
                self.expires.remove(&(o.expire_at(), key));
            }
        }
        old
    }

    /// Like `set`, but copies the key only when it is new: an overwrite keeps the stored key and
    /// needs one lookup. Returns the previous value.
    pub fn upsert(&mut self, key: &[u8], value: Value, expire_at: u64) -> Option<Value> {
        if let Some(e) = self.table.get_mut(key) {
            let old = std::mem::replace(&mut e.value, value);
            let old_deadline = e.expire_at();
            if old_deadline != expire_at {
                e.set_expire_at(expire_at);
                let k = e.key_bytes();
                if old_deadline != 0 {
                    self.expires.remove(&(old_deadline, k.clone()));
                }
                if expire_at != 0 {
                    self.expires.insert((expire_at, k));
                }
            }
            self.table.recharge(key);
            return Some(old);
        }
        self.set(Bytes::copy_from_slice(key), value, expire_at);
        None
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let e = self.table.remove(key)?;
        if e.expire_at() != 0 {
            self.expires.remove(&(e.expire_at(), e.key_bytes()));
        }
        Some(e)
    }

    /// Changes a present key's deadline (0 removes it). Returns false when the key is absent.
    pub fn set_expire(&mut self, key: &[u8], expire_at: u64) -> bool {
        let Some(e) = self.table.get_mut(key) else { return false };
        let old = e.expire_at();
        if old == expire_at {
            return true;
        }
        e.set_expire_at(expire_at);
        let k = e.key_bytes();
        if old != 0 {
            self.expires.remove(&(old, k.clone()));
        }
        if expire_at != 0 {
            self.expires.insert((expire_at, k));
        }
        self.table.recharge(key);
        true
    }

    /// Bytes the keys of this db take by the accounting model, with the deadline index.
    pub fn bytes(&self) -> usize {
        // A B-tree entry: the (deadline, key) pair plus about a third of a node's overhead.
        self.table.bytes() + self.expires.len() * (std::mem::size_of::<(u64, Bytes)>() + 16)
    }

    /// Recounts the table and checks that the deadline index holds exactly the deadlines the
    /// entries carry (volatile-* eviction samples that index).
    pub fn audit(&self) -> Result<(), String> {
        self.table.audit()?;
        let mut volatile = 0;
        for e in self.table.iter().filter(|e| e.expire_at() != 0) {
            volatile += 1;
            if !self.expires.contains(&(e.expire_at(), e.key_bytes())) {
                return Err(format!("key {:?} has a deadline the index lacks", String::from_utf8_lossy(e.key())));
            }
        }
        if volatile != self.expires.len() {
            return Err(format!("{volatile} keys have a deadline but the index holds {}", self.expires.len()));
        }
        Ok(())
    }

    /// Up to `n` keys that have a deadline, from a random place in the deadline index: the
    /// candidates of the volatile-* eviction policies. `r` is a random number.
    pub fn sample_volatile(&self, r: u64, n: usize, mut visit: impl FnMut(&Entry)) {
        let (Some((lo, _)), Some((hi, _))) = (self.expires.first(), self.expires.last()) else { return };
        let at = lo + r % (hi - lo + 1);
        let from = self.expires.range((at, Bytes::new())..).chain(self.expires.iter()).take(n.min(self.expires.len()));
        for (_, key) in from {
            if let Some(e) = self.table.get(key) {
                visit(e);
            }
        }
    }

    /// Removes up to `budget` keys whose deadline has passed; returns how many were removed.
    pub fn expire_due(&mut self, now: u64, budget: usize, mut on_expire: impl FnMut(&Bytes)) -> usize {
        let mut n = 0;
        while n < budget {
            let Some((deadline, key)) = self.expires.first().cloned() else { break };
            if deadline > now {
                break;
            }
            self.expires.pop_first();
            if self.table.remove(&key).is_some() {
                on_expire(&key);
                n += 1;
            }
        }
        n
    }

    pub fn clear(&mut self) {
        self.table.clear();
        self.expires.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::StrValue;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Set(u8, u8, Option<u16>),
        Del(u8),
        Expire(u8, u16),
        Persist(u8),
        Get(u8),
        Advance(u16),
        Cycle(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<u8>(), any::<u8>(), proptest::option::of(1u16..500)).prop_map(|(k, v, t)| Op::Set(k % 40, v, t)),
            any::<u8>().prop_map(|k| Op::Del(k % 40)),
            (any::<u8>(), 1u16..500).prop_map(|(k, t)| Op::Expire(k % 40, t)),
            any::<u8>().prop_map(|k| Op::Persist(k % 40)),
            any::<u8>().prop_map(|k| Op::Get(k % 40)),
            (0u16..300).prop_map(Op::Advance),
            (1u8..10).prop_map(Op::Cycle),
        ]
    }

    proptest! {
        /// The db (table + deadline index, lazy and active expiry) against a plain map where a
        /// key simply stops existing at its deadline.
        #[test]
        fn db_matches_a_model(ops in prop::collection::vec(op(), 1..400)) {
            let mut db = Db::new(9);
            let mut model: BTreeMap<u8, (u8, u64)> = BTreeMap::new();
            let mut now = 1000u64;
            let live = |m: &BTreeMap<u8, (u8, u64)>, now: u64| -> usize { m.values().filter(|(_, d)| *d == 0 || *d > now).count() };
            for op in ops {
                match op {
                    Op::Set(k, v, ttl) => {
                        let d = ttl.map_or(0, |t| now + t as u64);
                        if v % 2 == 0 {
                            db.set(Bytes::from(vec![k]), Value::Str(StrValue::Int(v as i64)), d);
                        } else {
                            db.upsert(&[k], Value::Str(StrValue::Int(v as i64)), d);
                        }
                        model.insert(k, (v, d));
                    }
                    Op::Del(k) => {
                        db.remove(&[k]);
                        model.remove(&k);
                    }
                    Op::Expire(k, t) => {
                        let alive = matches!(model.get(&k), Some((_, d)) if *d == 0 || *d > now);
                        let present = db.lookup(&[k], now).0.is_some();
                        prop_assert_eq!(present, alive);
                        if present {
                            db.set_expire(&[k], now + t as u64);
                            model.get_mut(&k).unwrap().1 = now + t as u64;
                        }
                    }
                    Op::Persist(k) => {
                        if db.lookup(&[k], now).0.is_some() {
                            db.set_expire(&[k], 0);
                            model.get_mut(&k).unwrap().1 = 0;
                        }
                    }
                    Op::Get(k) => {
                        let want = model.get(&k).filter(|(_, d)| *d == 0 || *d > now).map(|(v, _)| *v as i64);
                        let got = db.lookup(&[k], now).0.map(|e| match &e.value { Value::Str(s) => s.as_int().unwrap(), _ => unreachable!() });
                        prop_assert_eq!(got, want);
                    }
                    Op::Advance(ms) => now += ms as u64,
                    Op::Cycle(budget) => {
                        let before = db.len();
                        let removed = db.expire_due(now, budget as usize, |_| {});
                        prop_assert!(removed <= budget as usize);
                        prop_assert_eq!(db.len(), before - removed);
                    }
                }
                prop_assert!(db.len() >= live(&model, now));
            }
            db.expire_due(now, usize::MAX, |_| {});
            prop_assert_eq!(db.len(), live(&model, now));
            prop_assert_eq!(db.expires_count(), model.values().filter(|(_, d)| *d > now).count());
        }
    }

    fn v() -> Value {
        Value::Str(StrValue::Int(1))
    }

    #[test]
    fn lazy_and_active_expiry() {
        let mut db = Db::new(1);
        db.set(Bytes::from_static(b"a"), v(), 100);
        db.set(Bytes::from_static(b"b"), v(), 200);
        db.set(Bytes::from_static(b"c"), v(), 0);
        assert!(db.lookup(b"a", 99).0.is_some());
        assert!(db.lookup(b"a", 100).0.is_none());
        assert_eq!(db.expire_due(250, 10, |_| {}), 1);
        assert_eq!(db.len(), 1);
        assert_eq!(db.expires_count(), 0);
    }

    #[test]
    fn overwrite_and_persist_keep_the_index_true() {
        let mut db = Db::new(1);
        db.set(Bytes::from_static(b"a"), v(), 100);
        db.set(Bytes::from_static(b"a"), v(), 0);
        assert_eq!(db.expires_count(), 0);
        db.set_expire(b"a", 50);
        db.set_expire(b"a", 60);
        assert_eq!(db.expires_count(), 1);
        assert_eq!(db.expire_due(55, 10, |_| {}), 0);
        assert_eq!(db.expire_due(60, 10, |_| {}), 1);
    }
}
