//! The key table: extendible hashing over hashbrown tables. A directory indexed by the top bits
//! of a key's hash points at segments; a segment that fills past `SPLIT_AT` splits in two on
//! its own, so the table never rehashes everything at once (no latency spike, no moment with two
//! copies). Segments cover contiguous ranges of hash space, which gives SCAN a cursor that stays
//! valid across splits: a position in hash space.

pub use super::entry::Entry;
use super::table_snapshot::TableSnapshot;
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// A full segment splits once it holds this many entries (a 4096-slot hashbrown table is full
/// at 7/8); below it, a full segment is rebuilt one size up, or at its size when deleted slots
/// took its room.
const SPLIT_AT: usize = 4096 * 7 / 8 * 3 / 4;
/// Hash positions used by cursors: the top 56 bits of the hash.
pub const POS_BITS: u32 = 56;

struct Segment {
    table: HashTable<Entry>,
    /// Local depth: how many top hash bits every key in this segment shares.
    depth: u32,
}

/// The hash a segment's hashbrown table sees. The directory consumes the top bits of a key's
/// hash, so every key of a segment shares them — and hashbrown takes its 7-bit tag from the top
/// bits too. Unrotated, every key of a deep segment would carry the same tag and each probe
/// would compare keys byte by byte. Rotating gives hashbrown bits the directory does not use.
#[inline]
fn seg_hash(h: u64) -> u64 {
    h.rotate_left(32)
}

/// Where a key's hash places it in the directory's (and SCAN's) space: `h(2 + h) / 3` for `h`
/// in [0, 1). Keys are twice as dense at one end of that space as at the other. With uniform
/// places every segment holds the same number of keys, so all of them double their slots at
/// the same key counts and the table's spare slots swing between 10 and 19 bytes a key with the
/// key count; spread over an octave of densities, segments grow at different moments and the
/// slack stays near 15 bytes a key whatever the count (and splits come one by one, not in bursts).
#[inline]
fn place(h: u64) -> u64 {
    let h = h as u128;
    ((2 * h + ((h * h) >> 64)) / 3) as u64
}

pub struct KeyTable {
    hasher: FixedState,
    /// Index into `segments`, by the top `global_depth` bits of a hash.
    directory: Vec<u32>,
    global_depth: u32,
    segments: Vec<Segment>,
    len: usize,
    /// Sum of the entries' charges.
    charged: usize,
    /// Bytes of the segments' slot arrays (their allocations, not just occupied slots).
    slots: usize,
    /// A snapshot in progress: segments are serialized before they change.
    snap: Option<Box<TableSnapshot>>,
}

impl KeyTable {
    pub fn new(seed: u64) -> KeyTable {
        KeyTable {
            hasher: FixedState::with_seed(seed),
            directory: vec![0],
            global_depth: 0,
            segments: vec![Segment { table: HashTable::new(), depth: 0 }],
            len: 0,
            charged: 0,
            slots: 0,
            snap: None,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes the table and its data take, by the accounting model (kept incrementally).
    pub fn bytes(&self) -> usize {
        self.charged + self.slots + self.directory.capacity() * 4
    }

    /// The part of `bytes` that is table structure (slot arrays, directory), not entries.
    pub fn structure_bytes(&self) -> usize {
        self.slots + self.directory.capacity() * 4
    }

    /// Re-measures `key`'s charge after its value changed in place; returns the entry.
    pub fn recharge(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let h = self.hash(key);
        let s = self.segment_of(h);
        // Only the accounting changes here, which no snapshot records.
        let e = self.segments[s].table.find_mut(seg_hash(h), |e| e.key() == key)?;
        let old = e.charge();
        self.charged = self.charged + e.recharge() - old;
        Some(e)
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn dir_index(&self, place: u64) -> usize {
        if self.global_depth == 0 {
            0
        } else {
            (place >> (64 - self.global_depth)) as usize
        }
    }

    /// The segment holding the key of hash `hash`.
    fn segment_of(&self, hash: u64) -> usize {
        self.segment_at(place(hash))
    }

    /// The segment covering directory place `place`.
    fn segment_at(&self, place: u64) -> usize {
        self.directory[self.dir_index(place)] as usize
    }

    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        let h = self.hash(key);
        self.segments[self.segment_of(h)].table.find(seg_hash(h), |e| e.key() == key)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let h = self.hash(key);
        let s = self.segment_of(h);
        if self.snap.is_some() {
            // A miss changes nothing: only a found entry may be changed through the reference.
            self.segments[s].table.find(seg_hash(h), |e| e.key() == key)?;
            self.before_change(s, h, key);
        }
        self.segments[s].table.find_mut(seg_hash(h), |e| e.key() == key)
    }

    /// Inserts or replaces; returns the previous entry.
    pub fn insert(&mut self, entry: Entry) -> Option<Entry> {
        let h = self.hash(entry.key());
        let s = self.segment_of(h);
        self.before_change(s, h, entry.key());
        self.charged += entry.charge();
        if let Some(slot) = self.segments[s].table.find_mut(seg_hash(h), |e| e.key() == entry.key()) {
            let old = std::mem::replace(slot, entry);
            self.charged -= old.charge();
            return Some(old);
        }
        let hasher = self.hasher;
        let s = self.make_room(s, h);
        self.segments[s].table.insert_unique(seg_hash(h), entry, |e| seg_hash(hasher.hash_one(e.key())));
        self.len += 1;
        None
    }

    /// Before a new key goes into segment `s`: if its table has no room left, splits it (when
    /// full enough) or rebuilds it. hashbrown would otherwise double the table itself — also
    /// when the room went to deleted slots, which under steady churn doubles a segment's slots
    /// for nothing. Returns the segment that now covers hash `h`.
    fn make_room(&mut self, s: usize, h: u64) -> usize {
        let t = &self.segments[s].table;
        if t.len() < t.capacity() {
            return s;
        }
        if t.len() >= SPLIT_AT {
            self.split(s);
            return self.segment_of(h);
        }
        self.rebuild(s);
        s
    }

    /// Moves segment `s` into a fresh table with room for one more entry (no deleted slots).
    fn rebuild(&mut self, s: usize) {
        let hasher = self.hasher;
        let old = std::mem::replace(&mut self.segments[s].table, HashTable::new());
        let mut table = HashTable::with_capacity(old.len() + 1);
        self.slots = self.slots + table.allocation_size() - old.allocation_size();
        for e in old {
            table.insert_unique(seg_hash(hasher.hash_one(e.key())), e, |e| seg_hash(hasher.hash_one(e.key())));
        }
        self.segments[s].table = table;
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let h = self.hash(key);
        let s = self.segment_of(h);
        self.before_change(s, h, key);
        let found = self.segments[s].table.find_entry(seg_hash(h), |e| e.key() == key).ok()?;
        let (entry, _) = found.remove();
        self.len -= 1;
        self.charged -= entry.charge();
        Some(entry)
    }

    pub fn clear(&mut self) {
        let snap = self.snap.take().map(|mut snap| {
            // The cut-time contents not yet serialized leave with the snapshot, to be
            // serialized by its walk; everything in the emptied table is newer than the cut.
            for (i, seg) in self.segments.drain(..).enumerate() {
                if !snap.done.get(i).copied().unwrap_or(true) && !seg.table.is_empty() {
                    snap.detached.push(seg.table);
                }
            }
            snap.done = vec![true];
            snap.cursor = 1;
            snap
        });
        *self = KeyTable::new_with(self.hasher);
        self.snap = snap;
    }

    /// Serialize-before-mutate: `key` (hash `h`, in segment `s`) is about to change, be
    /// inserted or removed; a snapshot that has not walked its segment yet serializes the
    /// entry's cut-time state first.
    #[inline]
    fn before_change(&mut self, s: usize, h: u64, key: &[u8]) {
        if let Some(snap) = &mut self.snap {
            if !snap.done[s] {
                let current = self.segments[s].table.find(seg_hash(h), |e| e.key() == key);
                snap.before_change(key, current);
            }
        }
    }

    /// Starts `snap` at the cut: every segment is still to be serialized. Any snapshot already
    /// running on this table is abandoned.
    pub fn start_snapshot(&mut self, mut snap: TableSnapshot) {
        snap.done = vec![false; self.segments.len()];
        snap.cursor = 0;
        self.snap = Some(Box::new(snap));
    }

    /// The running snapshot, if any.
    pub fn snapshot(&self) -> Option<&TableSnapshot> {
        self.snap.as_deref()
    }

    pub fn snapshot_mut(&mut self) -> Option<&mut TableSnapshot> {
        self.snap.as_deref_mut()
    }

    /// Ends snapshot `id` (finished or abandoned); its buffers are freed.
    pub fn end_snapshot(&mut self, id: u64) {
        if self.snap.as_ref().is_some_and(|s| s.id == id) {
            self.snap = None;
        }
    }

    /// One background step of the running snapshot: serializes whole segments not yet done
    /// (detached ones first) until about `budget` entries were visited. Returns true once
    /// nothing is left to serialize.
    pub fn snapshot_step(&mut self, budget: usize) -> bool {
        let Some(snap) = &mut self.snap else { return true };
        let mut visited = 0;
        while visited < budget {
            if let Some(t) = snap.detached.pop() {
                visited += snap.walk(&t);
                continue;
            }
            let s = snap.cursor;
            if s >= snap.done.len() {
                break;
            }
            snap.cursor += 1;
            if !snap.done[s] {
                snap.done[s] = true;
                visited += snap.walk(&self.segments[s].table);
            }
        }
        if snap.is_complete() {
            snap.handled = Default::default();
            return true;
        }
        false
    }

    fn new_with(hasher: FixedState) -> KeyTable {
        KeyTable {
            hasher,
            directory: vec![0],
            global_depth: 0,
            segments: vec![Segment { table: HashTable::new(), depth: 0 }],
            len: 0,
            charged: 0,
            slots: 0,
            snap: None,
        }
    }

    /// Recounts what the table keeps incrementally (entries, charges, slot bytes) and re-measures
    /// every entry small enough to be recharged on each write (`Shard::account` re-measures
    /// bigger collections on a sample of writes only). For the simulator's self-checks and
    /// DEBUG MEMORY-AUDIT: O(entries), never on a command path.
    pub fn audit(&self) -> Result<(), String> {
        let (mut len, mut charged) = (0usize, 0usize);
        for e in self.iter() {
            len += 1;
            charged += e.charge();
            if super::memory::value_len(&e.value) <= 128 && e.charge() != e.measure() {
                return Err(format!(
                    "key {:?} is charged {} bytes but measures {}",
                    String::from_utf8_lossy(e.key()),
                    e.charge(),
                    e.measure()
                ));
            }
        }
        let slots: usize = self.segments.iter().map(|s| s.table.allocation_size()).sum();
        if (len, charged, slots) != (self.len, self.charged, self.slots) {
            return Err(format!(
                "table keeps {} entries, {} charged, {} slot bytes; recount {len}, {charged}, {slots}",
                self.len, self.charged, self.slots
            ));
        }
        Ok(())
    }

    /// Test hook: corrupts one entry's charge, to prove `audit` notices.
    #[cfg(test)]
    pub fn skew_charge(&mut self, key: &[u8], by: i32) {
        if let Some(e) = self.get_mut(key) {
            e.skew_charge(by);
            self.charged = self.charged.wrapping_add_signed(by as isize);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.segments.iter().flat_map(|s| s.table.iter())
    }

    fn split(&mut self, s: usize) {
        if self.segments[s].depth == self.global_depth {
            // Double the directory: each entry now covers one more bit.
            self.directory = self.directory.iter().flat_map(|&i| [i, i]).collect();
            self.global_depth += 1;
        }
        let depth = self.segments[s].depth + 1;
        let hasher = self.hasher;
        let old = std::mem::replace(&mut self.segments[s].table, HashTable::new());
        self.slots -= old.allocation_size();
        let mut low = HashTable::with_capacity(old.len() / 2 + 16);
        let mut high = HashTable::with_capacity(old.len() / 2 + 16);
        for e in old {
            let h = hasher.hash_one(e.key());
            let table = if (place(h) >> (64 - depth)) & 1 == 1 { &mut high } else { &mut low };
            table.insert_unique(seg_hash(h), e, |e| seg_hash(hasher.hash_one(e.key())));
        }
        self.slots += low.allocation_size() + high.allocation_size();
        self.segments[s] = Segment { table: low, depth };
        let new_id = self.segments.len() as u32;
        self.segments.push(Segment { table: high, depth });
        if let Some(snap) = &mut self.snap {
            // Both halves hold what the parent held: walked if it was walked. (If it was not,
            // `handled` is by key, so it stays true across the move.)
            let parent = snap.done[s];
            snap.done.push(parent);
        }
        // Directory entries of the old segment whose bit `depth` is set now point at `high`.
        let shift = self.global_depth - depth;
        for (i, slot) in self.directory.iter_mut().enumerate() {
            if *slot as usize == s && (i >> shift) & 1 == 1 {
                *slot = new_id;
            }
        }
    }

    /// The hash-space range `[lo, hi)` (in `POS_BITS` positions) that the segment at `pos` covers.
    fn segment_range(&self, pos: u64) -> (usize, u64, u64) {
        let h = pos << (64 - POS_BITS);
        let s = self.segment_at(h);
        let depth = self.segments[s].depth;
        if depth == 0 {
            return (s, 0, 1 << POS_BITS);
        }
        let prefix = h >> (64 - depth);
        let width = 1u64 << (POS_BITS - depth);
        (s, prefix * width, (prefix + 1) * width)
    }

    /// One SCAN step from position `pos`: visits about `count` keys in hash order (never
    /// splitting keys of one position) and returns the next position, or `None` at the end.
    /// Every key present for the whole scan is visited at least once, whatever splits happen.
    pub fn scan(&self, mut pos: u64, count: usize, mut visit: impl FnMut(&Entry)) -> Option<u64> {
        let count = count.max(1);
        let mut visited = 0;
        let mut batch: Vec<(u64, &Entry)> = Vec::new();
        loop {
            let (s, _lo, hi) = self.segment_range(pos);
            batch.clear();
            batch.extend(
                self.segments[s]
                    .table
                    .iter()
                    .map(|e| (place(self.hash(e.key())) >> (64 - POS_BITS), e))
                    .filter(|(p, _)| *p >= pos),
            );
            batch.sort_unstable_by_key(|(p, _)| *p);
            let mut i = 0;
            while i < batch.len() {
                if visited >= count && batch[i].0 != batch[i - 1].0 {
                    return Some(batch[i].0);
                }
                visit(batch[i].1);
                visited += 1;
                i += 1;
            }
            if hi >= 1 << POS_BITS {
                return None;
            }
            pos = hi;
            if visited >= count {
                return Some(pos);
            }
        }
    }

    /// Up to `n` entries read consecutively from a random place of a random segment (cheap
    /// sampling for eviction, like Redis's dictGetSomeKeys); `r1`, `r2` are random numbers.
    pub fn sample(&self, r1: u64, r2: u64, n: usize, mut visit: impl FnMut(&Entry)) {
        if self.len == 0 {
            return;
        }
        let d = self.directory.len();
        for k in 0..d {
            let s = self.directory[(r1 as usize + k) % d] as usize;
            let t = &self.segments[s].table;
            if !t.is_empty() {
                let start = r2 as usize % t.len();
                t.iter().skip(start).chain(t.iter()).take(n.min(t.len())).for_each(&mut visit);
                return;
            }
        }
    }

    /// A uniformly chosen segment's entry at a random place; `r1`, `r2` are random numbers.
    pub fn random(&self, r1: u64, r2: u64) -> Option<&Entry> {
        if self.len == 0 {
            return None;
        }
        let n = self.directory.len();
        for k in 0..n {
            let s = self.directory[(r1 as usize + k) % n] as usize;
            let t = &self.segments[s].table;
            if !t.is_empty() {
                return t.iter().nth(r2 as usize % t.len());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{StrValue, Value};
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn entry(k: &str) -> Entry {
        Entry::new(k.as_bytes(), Value::Str(StrValue::Int(1)), 0)
    }

    #[test]
    fn grows_by_splitting_and_keeps_everything() {
        let mut t = KeyTable::new(7);
        for i in 0..50_000 {
            assert!(t.insert(entry(&format!("k{i}"))).is_none());
        }
        assert_eq!(t.len(), 50_000);
        assert!(t.segments.len() > 8);
        for i in 0..50_000 {
            assert!(t.get(format!("k{i}").as_bytes()).is_some());
        }
        for i in 0..25_000 {
            assert!(t.remove(format!("k{i}").as_bytes()).is_some());
        }
        assert_eq!(t.len(), 25_000);
        assert_eq!(t.iter().count(), 25_000);
    }

    #[test]
    fn scan_sees_keys_present_throughout_despite_splits() {
        let mut t = KeyTable::new(1);
        for i in 0..20_000 {
            t.insert(entry(&format!("old{i}")));
        }
        let mut seen = BTreeSet::new();
        let mut pos = 0;
        let mut round = 0;
        loop {
            let next = t.scan(pos, 100, |e| {
                seen.insert(e.key_bytes());
            });
            // Grow the table while scanning, forcing splits under the cursor.
            for j in 0..200 {
                t.insert(entry(&format!("new{round}-{j}")));
            }
            round += 1;
            match next {
                Some(p) => pos = p,
                None => break,
            }
        }
        assert!(t.segments.len() > 8);
        for i in 0..20_000 {
            assert!(seen.contains(format!("old{i}").as_bytes()), "missed old{i}");
        }
    }

    /// The slot bytes as they are, to check the incremental figure against.
    fn recount(t: &KeyTable) -> usize {
        t.segments.iter().map(|s| s.table.allocation_size()).sum()
    }

    #[test]
    fn churn_keeps_slot_memory_flat_and_accounted() {
        let mut t = KeyTable::new(5);
        for i in 0..3000 {
            t.insert(entry(&format!("k{i}")));
        }
        let settled = recount(&t);
        // Replace keys one by one: deleted slots pile up, but no segment may double for them.
        for i in 0..200_000 {
            assert!(t.remove(format!("k{i}").as_bytes()).is_some());
            t.insert(entry(&format!("k{}", i + 3000)));
            assert_eq!(t.slots, recount(&t));
        }
        assert_eq!(t.len(), 3000);
        assert!(recount(&t) <= settled * 2, "{} slot bytes after churn, {settled} before", recount(&t));
    }

    #[test]
    fn spare_slots_stay_near_fifteen_bytes_a_key_at_every_size() {
        // Uniform places would swing between ~10.5 and ~19 bytes a key over this range.
        let mut t = KeyTable::new(11);
        let mut seen = Vec::new();
        for i in 0..400_000 {
            t.insert(entry(&format!("key:{i:012}")));
            if i >= 50_000 && i % 10_000 == 0 {
                seen.push(t.slots as f64 / t.len() as f64);
            }
        }
        let (lo, hi) = seen.iter().fold((f64::MAX, 0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        assert!(lo > 12.5 && hi < 17.0, "slot bytes a key ranged {lo:.1}..{hi:.1}");
    }

    #[test]
    fn places_cover_the_whole_space_in_order() {
        assert_eq!(place(0), 0);
        assert!(place(u64::MAX) > u64::MAX - 4);
        let mut last = 0;
        for i in 1..=1000u64 {
            let p = place(i.wrapping_mul(u64::MAX / 1000));
            assert!(p >= last);
            last = p;
        }
        // Twice as dense near 0 as near the top: the first half of hashes takes 5/12 of places.
        let mid = place(1 << 63) as f64 / u64::MAX as f64;
        assert!((mid - 5.0 / 12.0).abs() < 1e-9, "{mid}");
    }

    proptest! {
        #[test]
        fn behaves_like_a_map(ops in prop::collection::vec((0u8..3, 0u16..600), 0..3000)) {
            let mut t = KeyTable::new(3);
            let mut model = BTreeMap::new();
            for (op, k) in ops {
                let key = format!("key:{k}");
                match op {
                    0 => { prop_assert_eq!(t.insert(entry(&key)).is_some(), model.insert(key, ()).is_some()); }
                    1 => { prop_assert_eq!(t.remove(key.as_bytes()).is_some(), model.remove(&key).is_some()); }
                    _ => { prop_assert_eq!(t.get(key.as_bytes()).is_some(), model.contains_key(&key)); }
                }
            }
            prop_assert_eq!(t.len(), model.len());
            let mut all = BTreeSet::new();
            let mut pos = 0;
            loop {
                let next = t.scan(pos, 7, |e| { all.insert(String::from_utf8(e.key().to_vec()).unwrap()); });
                match next { Some(p) => pos = p, None => break }
            }
            prop_assert_eq!(all, model.keys().cloned().collect::<BTreeSet<_>>());
        }
    }
}
