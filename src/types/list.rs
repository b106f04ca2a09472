//! The list type. Elements live in a ring buffer (O(1) push and pop at both ends, O(1) index).
//! The encoding Redis reports follows its rules: a list is a `listpack` while it fits one
//! node of `list-max-listpack-size`, and a `quicklist` beyond; a quicklist shrinks back to a
//! listpack only at half the limit, so a list hovering at the edge does not flip-flop.

use bytes::Bytes;
use std::collections::VecDeque;

/// Per-element overhead Redis's listpack spends (header and backlen), for the size classes.
const ENTRY_OVERHEAD: usize = 2;
/// A listpack's fixed header and terminator.
const LISTPACK_OVERHEAD: usize = 7;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListValue {
    items: VecDeque<Bytes>,
    /// Sum of element lengths (kept for the size classes and memory accounting).
    bytes: usize,
    quicklist: bool,
}

/// Whether a node of `len` entries and `bytes` payload bytes fits the `list-max-listpack-size`
/// limit (positive: entries; -1..-5: 4/8/16/32/64 KiB).
fn fits(limit: i64, len: usize, bytes: usize) -> bool {
    if limit > 0 {
        len <= limit as usize
    } else {
        let class = match limit {
            -1 => 4096,
            -2 => 8192,
            -3 => 16384,
            -4 => 32768,
            _ => 65536,
        };
        bytes + len * ENTRY_OVERHEAD + LISTPACK_OVERHEAD <= class
    }
}

impl ListValue {
    pub fn new() -> ListValue {
        ListValue::default()
    }

    pub fn from_items<I: IntoIterator<Item = Bytes>>(items: I, limit: i64) -> ListValue {
        let mut l = ListValue::new();
        for i in items {
            l.push_back(i);
        }
        l.update_encoding(limit);
        l
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        if self.quicklist {
            "quicklist"
        } else {
            "listpack"
        }
    }

    pub fn heap_size(&self) -> usize {
        self.bytes + self.items.capacity() * std::mem::size_of::<Bytes>()
    }

    /// Re-evaluates the encoding after a change, with Redis's hysteresis.
    pub fn update_encoding(&mut self, limit: i64) {
        let (len, bytes) = (self.items.len(), self.bytes);
        if !self.quicklist {
            if !fits(limit, len, bytes) {
                self.quicklist = true;
            }
        } else {
            let half_fits = if limit > 0 { len <= (limit as usize) / 2 } else { fits(limit, len * 2, bytes * 2) };
            if half_fits {
                self.quicklist = false;
            }
        }
    }

    pub fn push_front(&mut self, v: Bytes) {
        self.bytes += v.len();
        self.items.push_front(v);
    }

    pub fn push_back(&mut self, v: Bytes) {
        self.bytes += v.len();
        self.items.push_back(v);
    }

    pub fn push(&mut self, left: bool, v: Bytes) {
        if left {
            self.push_front(v)
        } else {
            self.push_back(v)
        }
    }

    pub fn pop(&mut self, left: bool) -> Option<Bytes> {
        let v = if left { self.items.pop_front() } else { self.items.pop_back() }?;
        self.bytes -= v.len();
        Some(v)
    }

    /// Pops up to `n` elements from one end, in pop order.
    pub fn pop_many(&mut self, left: bool, n: usize) -> Vec<Bytes> {
        let n = n.min(self.items.len());
        (0..n).filter_map(|_| self.pop(left)).collect()
    }

    /// Resolves a Redis index (negative counts from the tail) to a position.
    pub fn resolve(&self, index: i64) -> Option<usize> {
        let len = self.items.len() as i64;
        let i = if index < 0 { len + index } else { index };
        (0..len).contains(&i).then_some(i as usize)
    }

    pub fn get(&self, index: i64) -> Option<&Bytes> {
        self.resolve(index).map(|i| &self.items[i])
    }

    /// Replaces the element at `index`; false when out of range.
    pub fn set(&mut self, index: i64, v: Bytes) -> bool {
        let Some(i) = self.resolve(index) else { return false };
        self.bytes = self.bytes - self.items[i].len() + v.len();
        self.items[i] = v;
        true
    }

    /// Clamps Redis's `start`/`end` (inclusive, negative from the tail) to a position range.
    pub fn range_bounds(&self, start: i64, end: i64) -> Option<(usize, usize)> {
        let len = self.items.len() as i64;
        let mut s = if start < 0 { len.saturating_add(start) } else { start };
        let mut e = if end < 0 { len.saturating_add(end) } else { end };
        if s < 0 {
            s = 0;
        }
        if s > e || s >= len {
            return None;
        }
        if e >= len {
            e = len - 1;
        }
        Some((s as usize, e as usize))
    }

    pub fn range(&self, start: i64, end: i64) -> Vec<Bytes> {
        match self.range_bounds(start, end) {
            Some((s, e)) => self.items.range(s..=e).cloned().collect(),
            None => Vec::new(),
        }
    }

    /// Keeps only `start..=end` (LTRIM).
    pub fn trim(&mut self, start: i64, end: i64) {
        match self.range_bounds(start, end) {
            Some((s, e)) => {
                for v in self.items.drain(e + 1..) {
                    self.bytes -= v.len();
                }
                for v in self.items.drain(..s) {
                    self.bytes -= v.len();
                }
            }
            None => {
                self.items.clear();
                self.bytes = 0;
            }
        }
    }

    /// Inserts `v` before or after the first element equal to `pivot`; false if none is.
    pub fn insert(&mut self, pivot: &[u8], v: Bytes, after: bool) -> bool {
        let Some(i) = self.items.iter().position(|e| e.as_ref() == pivot) else { return false };
        self.bytes += v.len();
        self.items.insert(if after { i + 1 } else { i }, v);
        true
    }

    /// Removes elements equal to `v`: `count > 0` the first `count` from the head, `count < 0`
    /// from the tail, `0` all. Returns how many went.
    pub fn remove(&mut self, v: &[u8], count: i64) -> usize {
        let limit = if count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
        let mut removed = 0;
        if count >= 0 {
            let mut i = 0;
            while i < self.items.len() && removed < limit {
                if self.items[i].as_ref() == v {
                    let e = self.items.remove(i).unwrap();
                    self.bytes -= e.len();
                    removed += 1;
                } else {
                    i += 1;
                }
            }
        } else {
            let mut i = self.items.len();
            while i > 0 && removed < limit {
                i -= 1;
                if self.items[i].as_ref() == v {
                    let e = self.items.remove(i).unwrap();
                    self.bytes -= e.len();
                    removed += 1;
                }
            }
        }
        removed
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Bytes> + ExactSizeIterator {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn strs(v: &[Bytes]) -> Vec<String> {
        v.iter().map(|x| String::from_utf8_lossy(x).into_owned()).collect()
    }

    #[test]
    fn ends_index_and_ranges() {
        let mut l = ListValue::from_items(["a", "b", "c", "d"].map(b), 128);
        assert_eq!(l.get(-1), Some(&b("d")));
        assert_eq!(l.get(4), None);
        assert_eq!(strs(&l.range(1, -2)), ["b", "c"]);
        assert_eq!(strs(&l.range(-100, 100)), ["a", "b", "c", "d"]);
        assert!(l.range(3, 1).is_empty());
        assert_eq!(strs(&l.pop_many(false, 2)), ["d", "c"]);
        l.push_front(b("z"));
        assert!(l.insert(b"a", b("y"), true));
        assert!(!l.insert(b"q", b("y"), true));
        assert_eq!(strs(&l.range(0, -1)), ["z", "a", "y", "b"]);
        l.trim(1, 2);
        assert_eq!(strs(&l.range(0, -1)), ["a", "y"]);
        l.trim(5, 10);
        assert!(l.is_empty());
        assert!(l.heap_size() >= l.bytes);
    }

    #[test]
    fn remove_from_either_end() {
        let mut l = ListValue::from_items(["x", "a", "x", "b", "x"].map(b), 128);
        assert_eq!(l.remove(b"x", -2), 2);
        assert_eq!(strs(&l.range(0, -1)), ["x", "a", "b"]);
        assert_eq!(l.remove(b"x", 0), 1);
        assert_eq!(l.bytes, 2);
    }

    #[test]
    fn encoding_follows_limits_with_hysteresis() {
        let mut l = ListValue::new();
        for i in 0..5 {
            l.push_back(b(&i.to_string()));
            l.update_encoding(4);
        }
        assert_eq!(l.encoding(), "quicklist");
        l.pop(true);
        l.pop(true);
        l.update_encoding(4);
        assert_eq!(l.encoding(), "quicklist", "3 > 4/2: stays");
        l.pop(true);
        l.update_encoding(4);
        assert_eq!(l.encoding(), "listpack");
        // Size classes: -2 is 8 KiB.
        let mut big = ListValue::from_items([Bytes::from(vec![b'x'; 5000])], -2);
        assert_eq!(big.encoding(), "listpack");
        big.push_back(Bytes::from(vec![b'x'; 5000]));
        big.update_encoding(-2);
        assert_eq!(big.encoding(), "quicklist");
    }
}
