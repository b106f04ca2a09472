//! Serialize-before-mutate (design §4) for one key table: a snapshot started at the cut marks
//! every segment "not yet walked". Before an entry of such a segment changes or is removed, the
//! key table serializes that entry as it was at the cut and remembers its key as handled; a key
//! inserted there after the cut is remembered too. A background walker
//! (`KeyTable::snapshot_step`, driven by hops from the snapshot's coordinator) serializes each
//! segment's entries not yet handled and marks the segment walked, after which its writes cost
//! nothing. Each entry is thus written exactly once, with its value at the cut; a write waits
//! for at most one entry's serialization; the extra memory is the serialized bytes not yet
//! handed to the coordinator plus the keys written in not-yet-walked segments.
//!
//! (Serializing whole segments before a write was simpler, but under random writes nearly every
//! write in the first moments of a snapshot paid for 4096 entries: the whole table was
//! serialized at the writes' expense and throughput collapsed during the save.)
//!
//! The engine knows nothing of the file format: the snapshot carries the function that turns
//! one entry into bytes.

use super::keytable::Entry;
use bytes::Bytes;
use foldhash::fast::FixedState;
use hashbrown::{HashSet, HashTable};

/// How many entries ahead of the one being serialized the walk prefetches.
const PREFETCH_AHEAD: usize = 8;

/// Turns one entry into bytes, appended to the buffer.
pub type EntryEncoder = Box<dyn Fn(&mut Vec<u8>, &Entry) + Send>;

pub struct TableSnapshot {
    /// Which snapshot this is (a late `end` for an older one must not end it).
    pub id: u64,
    /// The database this table was at the cut (SWAPDB may move the table afterwards).
    pub db: usize,
    /// Unix ms of the cut: keys whose deadline had passed by then are left out.
    cut_ms: u64,
    encode: EntryEncoder,
    /// Per segment index: already serialized (or created after the cut).
    pub(super) done: Vec<bool>,
    /// Where the background walk continues.
    pub(super) cursor: usize,
    /// Segments emptied by FLUSHDB/FLUSHALL after the cut, still to serialize.
    pub(super) detached: Vec<HashTable<Entry>>,
    /// Keys of not-yet-walked segments already dealt with: serialized before they changed,
    /// or created after the cut. The walk skips them.
    pub(super) handled: HashSet<Bytes, FixedState>,
    /// Serialized records not yet handed out.
    out: Vec<u8>,
    /// Entries serialized so far.
    pub written: u64,
    /// False only in the simulator's canary that skips serialize-before-mutate (the checker
    /// must then see post-cut values in the file).
    pub before_change: bool,
}

impl TableSnapshot {
    pub fn new(id: u64, db: usize, cut_ms: u64, encode: EntryEncoder) -> TableSnapshot {
        TableSnapshot {
            id,
            db,
            cut_ms,
            encode,
            done: Vec::new(),
            cursor: 0,
            detached: Vec::new(),
            handled: HashSet::with_hasher(FixedState::with_seed(id)),
            out: Vec::new(),
            written: 0,
            before_change: true,
        }
    }

    /// Serializes one entry as of the cut (nothing if it had expired by then).
    fn put(&mut self, e: &Entry) {
        if e.expire_at() == 0 || e.expire_at() > self.cut_ms {
            (self.encode)(&mut self.out, e);
            self.written += 1;
        }
    }

    /// Before `key` (in a segment not yet walked) changes: `current` is its entry, if present.
    /// Serializes that entry the first time and remembers the key either way.
    pub(super) fn before_change(&mut self, key: &[u8], current: Option<&Entry>) {
        if !self.before_change || self.handled.contains(key) {
            return;
        }
        if let Some(e) = current {
            self.put(e);
        }
        self.handled.insert(Bytes::copy_from_slice(key));
    }

    /// Walks one segment: serializes the entries not yet handled. Returns how many it visited.
    pub(super) fn walk(&mut self, entries: &HashTable<Entry>) -> usize {
        // Nodes are scattered over the heap: start loading a few entries ahead so their cache
        // misses overlap instead of coming one after another.
        let mut ahead = entries.iter();
        ahead.by_ref().take(PREFETCH_AHEAD).for_each(Entry::prefetch);
        let check_handled = !self.handled.is_empty();
        for e in entries.iter() {
            if let Some(next) = ahead.next() {
                next.prefetch();
            }
            if !check_handled || !self.handled.contains(e.key()) {
                self.put(e);
            }
        }
        entries.len()
    }

    /// Hands out the bytes serialized so far.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Bytes waiting to be handed out.
    pub fn pending_bytes(&self) -> usize {
        self.out.len()
    }

    /// Whether every segment (and every detached one) has been serialized.
    pub(super) fn is_complete(&self) -> bool {
        self.detached.is_empty() && self.cursor >= self.done.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::KeyTable;
    use crate::types::{StrValue, Value};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn put(t: &mut KeyTable, k: u32, v: i64, expire_at: u64) {
        t.insert(Entry::new(format!("k{k}").as_bytes(), Value::Str(StrValue::Int(v)), expire_at));
    }

    /// Encodes an entry as `key=value;` so the test can read the snapshot back.
    fn encoder() -> EntryEncoder {
        Box::new(|out: &mut Vec<u8>, e: &Entry| {
            let Value::Str(StrValue::Int(v)) = &e.value else { panic!("test values are integers") };
            out.extend_from_slice(e.key());
            out.extend_from_slice(format!("={v};").as_bytes());
        })
    }

    fn parse(bytes: &[u8]) -> BTreeMap<String, i64> {
        let mut m = BTreeMap::new();
        for rec in std::str::from_utf8(bytes).unwrap().split_terminator(';') {
            let (k, v) = rec.split_once('=').unwrap();
            assert!(m.insert(k.to_string(), v.parse().unwrap()).is_none(), "{k} written twice");
        }
        m
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(u32, i64),
        Del(u32),
        Touch(u32),
        Step(u8),
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (0u32..12_000, any::<i64>()).prop_map(|(k, v)| Op::Set(k, v)),
            4 => (0u32..12_000).prop_map(Op::Del),
            2 => (0u32..12_000).prop_map(Op::Touch),
            3 => (1u8..8).prop_map(Op::Step),
            1 => Just(Op::Clear),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Whatever happens after the cut (writes, deletes, splits, FLUSHDB), the snapshot holds
        /// exactly the live keys of the cut with their cut-time values.
        #[test]
        fn snapshot_equals_the_cut(initial in 0u32..9000, ops in prop::collection::vec(op(), 0..600)) {
            let mut t = KeyTable::new(11);
            let mut cut = BTreeMap::new();
            for k in 0..initial {
                // Every seventh key had expired by the cut (deadline 500 <= cut 1000).
                let expire_at = if k % 7 == 0 { 500 } else if k % 5 == 0 { 5000 } else { 0 };
                put(&mut t, k, k as i64, expire_at);
                if expire_at != 500 {
                    cut.insert(format!("k{k}"), k as i64);
                }
            }
            t.start_snapshot(TableSnapshot::new(1, 0, 1000, encoder()));
            let mut out = Vec::new();
            for op in ops {
                match op {
                    Op::Set(k, v) => put(&mut t, k, v, 0),
                    Op::Del(k) => { t.remove(format!("k{k}").as_bytes()); }
                    Op::Touch(k) => {
                        if let Some(e) = t.get_mut(format!("k{k}").as_bytes()) {
                            e.value = Value::Str(StrValue::Int(-1));
                        }
                    }
                    Op::Step(n) => { t.snapshot_step(n as usize * 300); }
                    Op::Clear => t.clear(),
                }
                out.extend(t.snapshot_mut().unwrap().take_output());
            }
            while !t.snapshot_step(1000) {}
            out.extend(t.snapshot_mut().unwrap().take_output());
            t.end_snapshot(1);
            prop_assert!(t.snapshot().is_none());
            prop_assert_eq!(parse(&out), cut);
        }
    }

    #[test]
    fn a_late_end_of_another_snapshot_is_ignored() {
        let mut t = KeyTable::new(3);
        put(&mut t, 1, 1, 0);
        t.start_snapshot(TableSnapshot::new(2, 0, 0, encoder()));
        t.end_snapshot(1);
        assert!(t.snapshot().is_some());
        assert!(t.snapshot_step(10));
        assert_eq!(parse(&t.snapshot_mut().unwrap().take_output()).len(), 1);
    }
}
