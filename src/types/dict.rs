//! The large form of hashes and sets: entries in a dense vector, found through a hashbrown index
//! of positions. Dense entries give O(1) random picks (HRANDFIELD, SRANDMEMBER, SPOP); removal
//! swaps the last entry into the hole. SCAN cursors are positions in hash space, not in the
//! vector, so an entry present for a whole scan is returned however the vector is reordered.

use bytes::Bytes;
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// The fixed seed of every hash or set dictionary (deterministic across runs).
const SEED: u64 = 0x6d61_7966_6c79_6873;

#[derive(Clone)]
pub struct Dict<V> {
    entries: Vec<(Bytes, V)>,
    index: HashTable<u32>,
    hasher: FixedState,
}

impl<V: std::fmt::Debug> std::fmt::Debug for Dict<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.entries.iter().map(|(k, v)| (k, v))).finish()
    }
}

impl<V: PartialEq> PartialEq for Dict<V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.entries.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<V> Dict<V> {
    pub fn with_capacity(n: usize) -> Dict<V> {
        Dict { entries: Vec::with_capacity(n), index: HashTable::with_capacity(n), hasher: FixedState::with_seed(SEED) }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn position(&self, key: &[u8]) -> Option<usize> {
        let h = self.hash(key);
        self.index.find(h, |&i| self.entries[i as usize].0 == key).map(|&i| i as usize)
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.position(key).map(|i| &mut self.entries[i].1)
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.position(key).is_some()
    }

    /// Inserts or replaces; returns the old value when the key was present.
    pub fn insert(&mut self, key: Bytes, value: V) -> Option<V> {
        if let Some(i) = self.position(&key) {
            return Some(std::mem::replace(&mut self.entries[i].1, value));
        }
        let h = self.hash(&key);
        let pos = self.entries.len() as u32;
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index.insert_unique(h, pos, |&i| hasher.hash_one(&entries[i as usize].0[..]));
        self.entries.push((key, value));
        None
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        let h = self.hash(key);
        let entries = &self.entries;
        let slot = self.index.find_entry(h, |&i| entries[i as usize].0 == key).ok()?;
        let (pos, _) = slot.remove();
        let pos = pos as usize;
        let last = self.entries.len() - 1;
        if pos != last {
            // The last entry moves into the hole: point its index slot at the new position.
            let lh = self.hash(&self.entries[last].0);
            if let Some(p) = self.index.find_mut(lh, |&i| i as usize == last) {
                *p = pos as u32;
            }
        }
        let (_, v) = self.entries.swap_remove(pos);
        Some(v)
    }

    /// The entry at dense position `i` (for random picks).
    pub fn at(&self, i: usize) -> (&Bytes, &V) {
        let (k, v) = &self.entries[i];
        (k, v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// Where `key` sits in the scan order: 1..=2^63, so 0 is free to mean "start" and "done".
    fn scan_pos(&self, key: &[u8]) -> u64 {
        (self.hash(key) >> 1) + 1
    }

    /// One SCAN step: about `count` entries whose scan position is at least `cursor`, in scan
    /// order, and the next cursor (0 when done). Entries sharing a position are never split.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<(&Bytes, &V)>) {
        let count = count.max(1);
        let mut found: Vec<(u64, usize)> = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (self.scan_pos(k), i))
            .filter(|(p, _)| *p >= cursor)
            .collect();
        if found.len() > count {
            found.select_nth_unstable(count - 1);
            let limit = found[count - 1].0;
            found.retain(|(p, _)| *p <= limit);
        }
        found.sort_unstable();
        let more = self.entries.iter().any(|(k, _)| self.scan_pos(k) > found.last().map_or(u64::MAX, |l| l.0));
        let next = match found.last() {
            Some(&(p, _)) if more => p + 1,
            _ => 0,
        };
        (next, found.into_iter().map(|(_, i)| self.at(i)).collect())
    }

    /// Approximate heap bytes: the entries, their keys and the index.
    pub fn heap_size(&self, value_size: impl Fn(&V) -> usize) -> usize {
        self.entries.capacity() * std::mem::size_of::<(Bytes, V)>()
            + self.index.capacity() * 5
            + self.entries.iter().map(|(k, v)| k.len() + value_size(v)).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn insert_remove_keeps_index_consistent() {
        let mut d: Dict<u32> = Dict::with_capacity(0);
        for i in 0..200 {
            assert_eq!(d.insert(b(&format!("k{i}")), i), None);
        }
        assert_eq!(d.insert(b("k5"), 500), Some(5));
        for i in (0..200).step_by(3) {
            assert!(d.remove(format!("k{i}").as_bytes()).is_some());
        }
        assert_eq!(d.remove(b"k0"), None);
        for i in 0..200 {
            assert_eq!(d.contains(format!("k{i}").as_bytes()), i % 3 != 0, "k{i}");
        }
        assert_eq!(d.get(b"k5"), Some(&500));
    }

    #[test]
    fn scan_returns_everything_once() {
        let mut d: Dict<()> = Dict::with_capacity(0);
        for i in 0..1000 {
            d.insert(b(&i.to_string()), ());
        }
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        loop {
            let (next, items) = d.scan(cursor, 7);
            assert!(items.len() >= 7 || next == 0);
            for (k, _) in items {
                assert!(seen.insert(k.clone()));
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert_eq!(seen.len(), 1000);
    }
}
