//! The set type, with Redis 7.2's encodings: sets of integers are a sorted array ("intset") up
//! to `set-max-intset-entries`; other small sets are one buffer of length-prefixed members
//! ("listpack") up to `set-max-listpack-entries` members of at most `set-max-listpack-value`
//! bytes; anything else is a table ("hashtable"). Conversions only go upward.

use super::dict::Dict;
use super::pack;
use crate::util::parse_i64_strict;
use bytes::Bytes;

#[derive(Clone, Copy, Debug)]
pub struct SetLimits {
    pub max_intset_entries: usize,
    pub max_listpack_entries: usize,
    pub max_listpack_value: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SetValue {
    /// Sorted, distinct.
    Ints(Vec<i64>),
    Pack(Vec<u8>),
    Table(Box<Dict<()>>),
}

fn int_text(n: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes())
}

fn digits(n: i64) -> usize {
    itoa::Buffer::new().format(n).len()
}

impl SetValue {
    /// An empty set fit for `first` and about `hint` members (Redis's `setTypeCreate`).
    pub fn create(first: &[u8], hint: usize, limits: SetLimits) -> SetValue {
        if parse_i64_strict(first).is_some() && hint <= limits.max_intset_entries.min(1 << 30) {
            SetValue::Ints(Vec::new())
        } else if hint <= limits.max_listpack_entries {
            SetValue::Pack(Vec::new())
        } else {
            SetValue::Table(Box::new(Dict::with_capacity(hint)))
        }
    }

    /// An empty set for building a result into (Redis starts those as an intset).
    pub fn empty() -> SetValue {
        SetValue::Ints(Vec::new())
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            SetValue::Ints(_) => "intset",
            SetValue::Pack(_) => "listpack",
            SetValue::Table(_) => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            SetValue::Ints(v) => v.len(),
            SetValue::Pack(b) => pack::iter(b).count(),
            SetValue::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            SetValue::Ints(v) => v.is_empty(),
            SetValue::Pack(b) => b.is_empty(),
            SetValue::Table(d) => d.is_empty(),
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            SetValue::Ints(v) => parse_i64_strict(m).is_some_and(|n| v.binary_search(&n).is_ok()),
            SetValue::Pack(b) => pack::iter(b).any(|(_, x)| x == m),
            SetValue::Table(d) => d.contains(m),
        }
    }

    /// Goes straight to the table when about `hint` members are coming that the current form
    /// cannot hold (Redis's `setTypeMaybeConvert`).
    pub fn prepare_for(&mut self, hint: usize, limits: SetLimits) {
        let too_many = match self {
            SetValue::Ints(_) => hint > limits.max_intset_entries.min(1 << 30),
            SetValue::Pack(_) => hint > limits.max_listpack_entries,
            SetValue::Table(_) => false,
        };
        if too_many {
            self.make_table(hint);
        }
    }

    fn make_table(&mut self, hint: usize) {
        let members = self.members();
        let mut d = Dict::with_capacity(hint.max(members.len()));
        for m in members {
            d.insert(m, ());
        }
        *self = SetValue::Table(Box::new(d));
    }

    /// Adds `m`; true when it was not there.
    pub fn add(&mut self, m: &[u8], limits: SetLimits) -> bool {
        match self {
            SetValue::Ints(v) => {
                if let Some(n) = parse_i64_strict(m) {
                    let Err(at) = v.binary_search(&n) else { return false };
                    v.insert(at, n);
                    if v.len() > limits.max_intset_entries.min(1 << 30) {
                        self.make_table(0);
                    }
                    return true;
                }
                // A non-integer: a listpack if everything would fit one, else a table.
                let widest = match (v.first(), v.last()) {
                    (Some(&a), Some(&b)) => digits(a).max(digits(b)),
                    _ => 0,
                };
                let len = v.len();
                if len < limits.max_listpack_entries
                    && m.len() <= limits.max_listpack_value
                    && widest <= limits.max_listpack_value
                {
                    let mut buf = Vec::new();
                    for &n in v.iter() {
                        pack::push(&mut buf, itoa::Buffer::new().format(n).as_bytes());
                    }
                    *self = SetValue::Pack(buf);
                } else {
                    self.make_table(len + 1);
                }
                self.add(m, limits)
            }
            SetValue::Pack(b) => {
                if pack::iter(b).any(|(_, x)| x == m) {
                    return false;
                }
                if pack::iter(b).count() < limits.max_listpack_entries && m.len() <= limits.max_listpack_value {
                    pack::push(b, m);
                    return true;
                }
                self.make_table(0);
                self.add(m, limits)
            }
            SetValue::Table(d) => {
                if d.contains(m) {
                    return false;
                }
                d.insert(Bytes::copy_from_slice(m), ());
                true
            }
        }
    }

    /// Removes `m`; true when it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            SetValue::Ints(v) => match parse_i64_strict(m).map(|n| v.binary_search(&n)) {
                Some(Ok(i)) => {
                    v.remove(i);
                    true
                }
                _ => false,
            },
            SetValue::Pack(b) => {
                let Some(off) = pack::iter(b).find(|(_, x)| *x == m).map(|(off, _)| off) else { return false };
                let end = pack::end_of(b, off);
                pack::splice(b, off..end, &[]);
                true
            }
            SetValue::Table(d) => d.remove(m).is_some(),
        }
    }

    /// Every member (integers as their decimal text).
    pub fn members(&self) -> Vec<Bytes> {
        match self {
            SetValue::Ints(v) => v.iter().map(|&n| int_text(n)).collect(),
            SetValue::Pack(b) => pack::iter(b).map(|(_, x)| Bytes::copy_from_slice(x)).collect(),
            SetValue::Table(d) => d.iter().map(|(k, _)| k.clone()).collect(),
        }
    }

    /// Calls `f` on every member without copying it (integers formatted on the fly).
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        match self {
            SetValue::Ints(v) => v.iter().for_each(|&n| f(itoa::Buffer::new().format(n).as_bytes())),
            SetValue::Pack(b) => pack::iter(b).for_each(|(_, x)| f(x)),
            SetValue::Table(d) => d.iter().for_each(|(k, _)| f(k)),
        }
    }

    /// The member at position `i` (< len), for random picks.
    pub fn nth(&self, i: usize) -> Bytes {
        match self {
            SetValue::Ints(v) => int_text(v[i]),
            SetValue::Pack(b) => Bytes::copy_from_slice(pack::iter(b).nth(i).expect("index in range").1),
            SetValue::Table(d) => d.at(i).0.clone(),
        }
    }

    /// One SSCAN step: the compact forms return everything with cursor 0, as Redis does.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<Bytes>) {
        match self {
            SetValue::Table(d) => {
                let (next, items) = d.scan(cursor, count);
                (next, items.into_iter().map(|(k, _)| k.clone()).collect())
            }
            _ => (0, self.members()),
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            SetValue::Ints(v) => v.capacity() * 8,
            SetValue::Pack(b) => b.capacity(),
            SetValue::Table(d) => std::mem::size_of::<Dict<()>>() + d.heap_size(|_| 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    const SMALL: SetLimits = SetLimits { max_intset_entries: 5, max_listpack_entries: 4, max_listpack_value: 4 };

    #[test]
    fn encodings_follow_redis() {
        let mut s = SetValue::create(b"1", 1, SMALL);
        for i in [3, 1, 2] {
            s.add(i.to_string().as_bytes(), SMALL);
        }
        assert_eq!(s.encoding(), "intset");
        assert_eq!(s.members(), vec![int_text(1), int_text(2), int_text(3)]);
        assert!(s.add(b"ab", SMALL));
        assert_eq!(s.encoding(), "listpack");
        assert!(s.contains(b"2") && s.contains(b"ab"));
        assert!(s.add(b"cd", SMALL));
        assert_eq!(s.encoding(), "hashtable");
        let mut big = SetValue::create(b"1", 1, SMALL);
        for i in 0..6 {
            big.add(i.to_string().as_bytes(), SMALL);
        }
        assert_eq!(big.encoding(), "hashtable");
        let mut long = SetValue::create(b"x", 1, SMALL);
        assert_eq!(long.encoding(), "listpack");
        long.add(b"toolong", SMALL);
        assert_eq!(long.encoding(), "hashtable");
        assert_eq!(SetValue::create(b"1", 9, SMALL).encoding(), "hashtable");
        // "01" is not an integer's canonical text: it is kept as a string.
        let mut s = SetValue::create(b"1", 1, SMALL);
        s.add(b"1", SMALL);
        assert!(!s.contains(b"01"));
        s.add(b"01", SMALL);
        assert_eq!(s.len(), 2);
    }

    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![(-20i64..20).prop_map(|n| n.to_string().into_bytes()), "[a-c]{1,6}".prop_map(|s| s.into_bytes()),]
    }

    proptest! {
        #[test]
        fn behaves_like_a_set(ops in proptest::collection::vec((any::<bool>(), member()), 1..80)) {
            let mut s = SetValue::create(&ops[0].1, 1, SMALL);
            let mut model = BTreeSet::new();
            let rank = |e: &str| match e { "intset" => 0, "listpack" => 1, _ => 2 };
            let mut last = 0;
            for (add, m) in ops {
                if add {
                    prop_assert_eq!(s.add(&m, SMALL), model.insert(m.clone()));
                } else {
                    prop_assert_eq!(s.remove(&m), model.remove(&m));
                }
                let r = rank(s.encoding());
                prop_assert!(r >= last, "conversions only go upward");
                last = r;
                prop_assert_eq!(s.len(), model.len());
                let got: BTreeSet<Vec<u8>> = s.members().into_iter().map(|b| b.to_vec()).collect();
                prop_assert_eq!(&got, &model);
                for m in &model {
                    prop_assert!(s.contains(m));
                }
                if s.encoding() == "intset" {
                    prop_assert!(model.len() <= SMALL.max_intset_entries);
                }
                if s.encoding() == "listpack" {
                    prop_assert!(model.len() <= SMALL.max_listpack_entries);
                }
            }
        }
    }
}
