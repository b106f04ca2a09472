//! Sorted sets, ordered by `(score, member bytes)` as Redis orders them.
//!
//! Two encodings, named as Redis names them:
//! - `listpack`: one contiguous byte buffer of `score (f64 LE) | length | member bytes` entries,
//!   kept sorted. Every operation is a linear walk; used while the set is small.
//! - `skiplist`: an arena of slots (`score` + member stored once, inline when short), a hash index
//!   of slot numbers for O(1) member -> score, and an order-statistics B+tree of slot numbers for
//!   O(log n) rank and range queries. About 45 bytes per short member, all told.

use super::ostree::OsTree;
use bytes::Bytes;
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::cmp::Ordering;
use std::hash::BuildHasher;

/// Encoding thresholds (`zset-max-listpack-entries`, `zset-max-listpack-value`).
#[derive(Clone, Copy, Debug)]
pub struct ZLimits {
    pub entries: usize,
    pub value: usize,
}

/// Redis's order: by score, then by member bytes. Scores are never NaN.
pub fn cmp_entry(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    if s1 < s2 {
        Ordering::Less
    } else if s1 > s2 {
        Ordering::Greater
    } else {
        m1.cmp(m2)
    }
}

#[derive(Clone, Debug)]
pub enum ZSet {
    Pack(Pack),
    Big(Box<Big>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Pack(Pack::default())
    }
}

impl PartialEq for ZSet {
    fn eq(&self, other: &ZSet) -> bool {
        self.len() == other.len() && self.range(0, self.len()) == other.range(0, other.len())
    }
}

impl ZSet {
    pub fn new() -> ZSet {
        ZSet::default()
    }

    /// Builds a set from distinct members, choosing the encoding by size as Redis does for
    /// ZUNIONSTORE / ZRANGESTORE destinations.
    pub fn from_entries(items: Vec<(Bytes, f64)>, lim: ZLimits) -> ZSet {
        let small = items.len() <= lim.entries && items.iter().all(|(m, _)| m.len() <= lim.value);
        if small {
            let mut items = items;
            items.sort_by(|a, b| cmp_entry(a.1, &a.0, b.1, &b.0));
            let mut p = Pack::default();
            for (m, s) in &items {
                p.push(m, *s);
            }
            ZSet::Pack(p)
        } else {
            let mut b = Big::default();
            for (m, s) in &items {
                b.insert(m, *s);
            }
            ZSet::Big(Box::new(b))
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.len as usize,
            ZSet::Big(b) => b.tree.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Pack(_) => "listpack",
            ZSet::Big(_) => "skiplist",
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.buf.capacity(),
            ZSet::Big(b) => std::mem::size_of::<Big>() + b.heap_size(),
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Pack(p) => p.iter().find(|e| e.member == member).map(|e| e.score),
            ZSet::Big(b) => b.find(member).map(|id| b.slots[id as usize].score),
        }
    }

    /// Sets `member`'s score; true when the member is new. Converts to `skiplist` when a new
    /// member takes the set past the limits.
    pub fn insert(&mut self, member: &[u8], score: f64, lim: ZLimits) -> bool {
        match self {
            ZSet::Pack(p) => {
                let added = p.insert(member, score);
                if added && (p.len as usize > lim.entries || member.len() > lim.value) {
                    self.convert_to_big();
                }
                added
            }
            ZSet::Big(b) => b.insert(member, score),
        }
    }

    fn convert_to_big(&mut self) {
        if let ZSet::Pack(p) = self {
            let mut b = Big::default();
            b.slots.reserve(p.len as usize);
            for e in p.iter() {
                b.insert(e.member, e.score);
            }
            *self = ZSet::Big(Box::new(b));
        }
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Pack(p) => p.remove(member),
            ZSet::Big(b) => b.remove(member),
        }
    }

    /// 0-based rank in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match self {
            ZSet::Pack(p) => p.iter().position(|e| e.member == member),
            ZSet::Big(b) => {
                let id = b.find(member)?;
                let s = &b.slots[id as usize];
                let (score, m) = (s.score, s.member.bytes());
                Some(b.count_while(&|sc, mm| cmp_entry(sc, mm, score, m) == Ordering::Less))
            }
        }
    }

    /// How many leading elements (in order) satisfy `pred`; `pred` must hold on a prefix.
    pub fn count_while(&self, pred: &dyn Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSet::Pack(p) => p.iter().take_while(|e| pred(e.score, e.member)).count(),
            ZSet::Big(b) => b.count_while(pred),
        }
    }

    /// Elements with ranks in `start..end` (clamped), ascending.
    pub fn range(&self, start: usize, end: usize) -> Vec<(Bytes, f64)> {
        let end = end.min(self.len());
        if start >= end {
            return Vec::new();
        }
        match self {
            ZSet::Pack(p) => {
                p.iter().skip(start).take(end - start).map(|e| (Bytes::copy_from_slice(e.member), e.score)).collect()
            }
            ZSet::Big(b) => b
                .tree
                .range(start, end)
                .into_iter()
                .map(|id| {
                    let s = &b.slots[id as usize];
                    (Bytes::copy_from_slice(s.member.bytes()), s.score)
                })
                .collect(),
        }
    }

    /// The element at `rank` (< len).
    pub fn get(&self, rank: usize) -> (Bytes, f64) {
        match self {
            ZSet::Pack(p) => {
                let e = p.iter().nth(rank).expect("rank in range");
                (Bytes::copy_from_slice(e.member), e.score)
            }
            ZSet::Big(b) => {
                let s = &b.slots[b.tree.get(rank) as usize];
                (Bytes::copy_from_slice(s.member.bytes()), s.score)
            }
        }
    }

    /// One ZSCAN step: `(next cursor, elements)`. A listpack is returned whole; a skiplist is
    /// walked by slot number, which never changes while a member stays, so every member present
    /// for the whole scan is returned.
    pub fn scan(&self, cursor: u64, count: usize, mut keep: impl FnMut(&[u8]) -> bool) -> (u64, Vec<(Bytes, f64)>) {
        match self {
            ZSet::Pack(p) => {
                (0, p.iter().filter(|e| keep(e.member)).map(|e| (Bytes::copy_from_slice(e.member), e.score)).collect())
            }
            ZSet::Big(b) => {
                let mut out = Vec::new();
                let mut i = cursor as usize;
                let mut visited = 0;
                while i < b.slots.len() && visited < count {
                    let s = &b.slots[i];
                    if !s.score.is_nan() {
                        visited += 1;
                        if keep(s.member.bytes()) {
                            out.push((Bytes::copy_from_slice(s.member.bytes()), s.score));
                        }
                    }
                    i += 1;
                }
                (if i >= b.slots.len() { 0 } else { i as u64 }, out)
            }
        }
    }
}

/// One listpack entry, borrowed.
pub struct PackEntry<'a> {
    pub score: f64,
    pub member: &'a [u8],
    start: usize,
    end: usize,
}

/// The `listpack` encoding: sorted entries in one buffer.
#[derive(Clone, Debug, Default)]
pub struct Pack {
    buf: Vec<u8>,
    len: u32,
}

impl Pack {
    fn iter(&self) -> impl Iterator<Item = PackEntry<'_>> + '_ {
        let buf = &self.buf;
        let mut pos = 0;
        std::iter::from_fn(move || {
            if pos >= buf.len() {
                return None;
            }
            let start = pos;
            let score = f64::from_le_bytes(buf[pos..pos + 8].try_into().expect("8 bytes"));
            pos += 8;
            let len = if buf[pos] < 0xff {
                pos += 1;
                buf[pos - 1] as usize
            } else {
                let l = u32::from_le_bytes(buf[pos + 1..pos + 5].try_into().expect("4 bytes")) as usize;
                pos += 5;
                l
            };
            let member = &buf[pos..pos + len];
            pos += len;
            Some(PackEntry { score, member, start, end: pos })
        })
    }

    fn encode(member: &[u8], score: f64) -> Vec<u8> {
        let mut e = Vec::with_capacity(member.len() + 13);
        e.extend_from_slice(&score.to_le_bytes());
        if member.len() < 0xff {
            e.push(member.len() as u8);
        } else {
            e.push(0xff);
            e.extend_from_slice(&(member.len() as u32).to_le_bytes());
        }
        e.extend_from_slice(member);
        e
    }

    fn push(&mut self, member: &[u8], score: f64) {
        self.buf.extend_from_slice(&Self::encode(member, score));
        self.len += 1;
    }

    fn insert(&mut self, member: &[u8], score: f64) -> bool {
        let mut added = true;
        let found = self.iter().find(|e| e.member == member).map(|e| (e.score, e.start, e.end));
        if let Some((old, s, t)) = found {
            if old == score {
                return false;
            }
            self.buf.drain(s..t);
            self.len -= 1;
            added = false;
        }
        let at = self
            .iter()
            .find(|e| cmp_entry(e.score, e.member, score, member) == Ordering::Greater)
            .map_or(self.buf.len(), |e| e.start);
        let enc = Self::encode(member, score);
        self.buf.splice(at..at, enc);
        self.len += 1;
        added
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        let found = self.iter().find(|e| e.member == member).map(|e| (e.start, e.end));
        match found {
            Some((s, t)) => {
                self.buf.drain(s..t);
                self.len -= 1;
                if self.buf.capacity() > 2 * self.buf.len() + 64 {
                    self.buf.shrink_to_fit();
                }
                true
            }
            None => false,
        }
    }
}

/// A member's bytes: inline up to 22 bytes, else one heap allocation. 24 bytes.
#[derive(Clone, Debug)]
enum Small {
    Inline(u8, [u8; 22]),
    Heap(Box<[u8]>),
}

impl Small {
    fn new(b: &[u8]) -> Small {
        if b.len() <= 22 {
            let mut a = [0u8; 22];
            a[..b.len()].copy_from_slice(b);
            Small::Inline(b.len() as u8, a)
        } else {
            Small::Heap(b.into())
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Small::Inline(n, a) => &a[..*n as usize],
            Small::Heap(b) => b,
        }
    }
}

#[derive(Clone, Debug)]
struct Slot {
    /// NaN marks a free slot.
    score: f64,
    member: Small,
}

fn hasher() -> FixedState {
    FixedState::with_seed(0x7a5e_7a5e_0dd5_eed5)
}

/// The `skiplist` encoding (named for Redis; here an arena + hash index + counted B+tree).
#[derive(Clone, Debug, Default)]
pub struct Big {
    slots: Vec<Slot>,
    free: Vec<u32>,
    index: HashTable<u32>,
    tree: OsTree,
}

fn order(slots: &[Slot]) -> impl Fn(u32, u32) -> Ordering + '_ {
    move |a, b| {
        let (x, y) = (&slots[a as usize], &slots[b as usize]);
        cmp_entry(x.score, x.member.bytes(), y.score, y.member.bytes())
    }
}

impl Big {
    fn find(&self, member: &[u8]) -> Option<u32> {
        let h = hasher().hash_one(member);
        self.index.find(h, |&id| self.slots[id as usize].member.bytes() == member).copied()
    }

    fn insert(&mut self, member: &[u8], score: f64) -> bool {
        let Big { slots, free, index, tree } = self;
        let h = hasher().hash_one(member);
        if let Some(&id) = index.find(h, |&id| slots[id as usize].member.bytes() == member) {
            if slots[id as usize].score == score {
                return false;
            }
            tree.remove(id, &order(slots));
            slots[id as usize].score = score;
            tree.insert(id, &order(slots));
            return false;
        }
        let slot = Slot { score, member: Small::new(member) };
        let id = match free.pop() {
            Some(id) => {
                slots[id as usize] = slot;
                id
            }
            None => {
                slots.push(slot);
                (slots.len() - 1) as u32
            }
        };
        let hs = hasher();
        index.insert_unique(h, id, |&i| hs.hash_one(slots[i as usize].member.bytes()));
        tree.insert(id, &order(slots));
        true
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        let Big { slots, free, index, tree } = self;
        let h = hasher().hash_one(member);
        let Ok(entry) = index.find_entry(h, |&id| slots[id as usize].member.bytes() == member) else {
            return false;
        };
        let (id, _) = entry.remove();
        tree.remove(id, &order(slots));
        slots[id as usize] = Slot { score: f64::NAN, member: Small::Inline(0, [0; 22]) };
        free.push(id);
        if tree.is_empty() {
            *self = Big::default();
        }
        true
    }

    fn count_while(&self, pred: &dyn Fn(f64, &[u8]) -> bool) -> usize {
        self.tree.count_while(&|id| {
            let s = &self.slots[id as usize];
            pred(s.score, s.member.bytes())
        })
    }

    fn heap_size(&self) -> usize {
        let members: usize = self
            .slots
            .iter()
            .map(|s| match &s.member {
                Small::Heap(b) => b.len() + 16,
                Small::Inline(..) => 0,
            })
            .sum();
        self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.free.capacity() * 4
            + self.index.capacity() * 5
            + self.tree.heap_size()
            + members
    }

    #[cfg(test)]
    fn check(&self) {
        self.tree.check(&order(&self.slots));
        assert_eq!(self.index.len(), self.tree.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn layout_is_compact() {
        assert_eq!(std::mem::size_of::<Small>(), 24);
        assert_eq!(std::mem::size_of::<Slot>(), 32);
        // No bigger than a string value, so adding zsets does not grow every key's entry.
        assert!(std::mem::size_of::<ZSet>() <= std::mem::size_of::<crate::types::StrValue>());
    }

    #[test]
    fn per_member_memory_for_a_million() {
        // Redis 7 spends about 115 bytes per short member of a 1M skiplist zset; 0.75x is ~86.
        let n = if cfg!(debug_assertions) { 100_000 } else { 1_000_000 };
        let lim = ZLimits { entries: 128, value: 64 };
        let mut z = ZSet::new();
        for i in 0..n {
            z.insert(format!("member:{i}").as_bytes(), (i % 1000) as f64, lim);
        }
        let per = z.heap_size() as f64 / n as f64;
        eprintln!("{per:.1} bytes per member");
        assert!(per < 80.0, "{per} bytes per member");
    }

    fn model_range(m: &BTreeMap<Vec<u8>, f64>) -> Vec<(Bytes, f64)> {
        let mut v: Vec<(Bytes, f64)> = m.iter().map(|(k, s)| (Bytes::copy_from_slice(k), *s)).collect();
        v.sort_by(|a, b| cmp_entry(a.1, &a.0, b.1, &b.0));
        v
    }

    proptest! {
        #[test]
        fn matches_model(
            ops in proptest::collection::vec((0u8..4, 0u16..200, -20i32..20), 1..600),
            entries in 0usize..20,
        ) {
            let lim = ZLimits { entries, value: 64 };
            let mut z = ZSet::new();
            let mut m: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
            for (op, k, s) in ops {
                let key = format!("m{k}").into_bytes();
                let score = s as f64 / 2.0;
                match op {
                    0 | 1 => {
                        prop_assert_eq!(z.insert(&key, score, lim), m.insert(key.clone(), score).is_none());
                    }
                    2 => prop_assert_eq!(z.remove(&key), m.remove(&key).is_some()),
                    _ => prop_assert_eq!(z.score(&key), m.get(&key).copied()),
                }
            }
            if let ZSet::Big(b) = &z { b.check(); }
            let all = model_range(&m);
            prop_assert_eq!(z.len(), all.len());
            prop_assert_eq!(z.range(0, all.len()), all.clone());
            if m.len() > entries { prop_assert_eq!(z.encoding(), "skiplist"); }
            for (i, (mem, s)) in all.iter().enumerate() {
                prop_assert_eq!(z.rank(mem), Some(i));
                prop_assert_eq!(z.get(i), (mem.clone(), *s));
                let below = all.iter().filter(|e| e.1 < *s).count();
                prop_assert_eq!(z.count_while(&|sc, _| sc < *s), below);
            }
            let rebuilt = ZSet::from_entries(all.clone(), lim);
            prop_assert_eq!(&rebuilt, &z);
            let (mut cur, mut seen) = (0, Vec::new());
            loop {
                let (next, part) = z.scan(cur, 7, |_| true);
                seen.extend(part);
                if next == 0 { break; }
                cur = next;
            }
            seen.sort_by(|a, b| cmp_entry(a.1, &a.0, b.1, &b.0));
            prop_assert_eq!(seen, all);
        }
    }
}
