//! The hash type. Small hashes are one contiguous buffer of field, value, field, value, ...
//! ("listpack"); past `hash-max-listpack-entries` entries or once any field or value is longer
//! than `hash-max-listpack-value` bytes they become a table ("hashtable"). As in Redis the
//! conversion only goes upward.

use super::dict::Dict;
use super::pack;
use bytes::Bytes;

/// The thresholds of the compact form (from CONFIG).
#[derive(Clone, Copy, Debug)]
pub struct HashLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

/// A field and its value, borrowed from the hash.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

#[derive(Clone, Debug, PartialEq)]
pub enum HashValue {
    /// field, value, field, value, ... in one buffer.
    Pack(Vec<u8>),
    Table(Box<Dict<Bytes>>),
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue::Pack(Vec::new())
    }
}

/// The pairs of a packed hash: (offset of the field, field, value).
fn pairs(buf: &[u8]) -> impl Iterator<Item = (usize, &[u8], &[u8])> {
    let mut it = pack::iter(buf);
    std::iter::from_fn(move || {
        let (off, f) = it.next()?;
        let (_, v) = it.next()?;
        Some((off, f, v))
    })
}

impl HashValue {
    pub fn new() -> HashValue {
        HashValue::default()
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            HashValue::Pack(_) => "listpack",
            HashValue::Table(_) => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            HashValue::Pack(b) => pack::iter(b).count() / 2,
            HashValue::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            HashValue::Pack(b) => b.is_empty(),
            HashValue::Table(d) => d.is_empty(),
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            HashValue::Pack(b) => pairs(b).find(|(_, f, _)| *f == field).map(|(_, _, v)| v),
            HashValue::Table(d) => d.get(field).map(|v| &v[..]),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Converts to the table form when an argument about to be written is too long for the
    /// compact form (Redis's `hashTypeTryConversion`).
    pub fn prepare_for<'a>(&mut self, items: impl IntoIterator<Item = &'a [u8]>, limits: HashLimits) {
        if matches!(self, HashValue::Pack(_)) && items.into_iter().any(|i| i.len() > limits.max_value) {
            self.convert();
        }
    }

    fn convert(&mut self) {
        if let HashValue::Pack(b) = self {
            let mut d = Dict::with_capacity(pack::iter(b).count() / 2);
            for (_, f, v) in pairs(b) {
                d.insert(Bytes::copy_from_slice(f), Bytes::copy_from_slice(v));
            }
            *self = HashValue::Table(Box::new(d));
        }
    }

    /// Sets `field` to `value`; true when the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: HashLimits) -> bool {
        if let HashValue::Pack(_) = self {
            if field.len() > limits.max_value || value.len() > limits.max_value {
                self.convert();
            }
        }
        match self {
            HashValue::Pack(b) => {
                let found = pairs(b).find(|(_, f, _)| *f == field).map(|(off, _, _)| off);
                if let Some(off) = found {
                    let voff = pack::end_of(b, off);
                    let vend = pack::end_of(b, voff);
                    pack::splice(b, voff..vend, &[value]);
                    return false;
                }
                pack::push(b, field);
                pack::push(b, value);
                if self.len() > limits.max_entries {
                    self.convert();
                }
                true
            }
            HashValue::Table(d) => d.insert(Bytes::copy_from_slice(field), Bytes::copy_from_slice(value)).is_none(),
        }
    }

    /// Removes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            HashValue::Pack(b) => {
                let Some(off) = pairs(b).find(|(_, f, _)| *f == field).map(|(off, _, _)| off) else { return false };
                let end = pack::end_of(b, pack::end_of(b, off));
                pack::splice(b, off..end, &[]);
                true
            }
            HashValue::Table(d) => d.remove(field).is_some(),
        }
    }

    /// Every (field, value), in the hash's order.
    pub fn entries(&self) -> Vec<Pair<'_>> {
        match self {
            HashValue::Pack(b) => pairs(b).map(|(_, f, v)| (f, v)).collect(),
            HashValue::Table(d) => d.iter().map(|(f, v)| (&f[..], &v[..])).collect(),
        }
    }

    /// The entry at position `i` (< len), for random picks.
    pub fn nth(&self, i: usize) -> (&[u8], &[u8]) {
        match self {
            HashValue::Pack(b) => pairs(b).nth(i).map(|(_, f, v)| (f, v)).expect("index in range"),
            HashValue::Table(d) => {
                let (f, v) = d.at(i);
                (f, v)
            }
        }
    }

    /// One HSCAN step: the compact form returns everything with cursor 0, as Redis does.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<Pair<'_>>) {
        match self {
            HashValue::Pack(_) => (0, self.entries()),
            HashValue::Table(d) => {
                let (next, items) = d.scan(cursor, count);
                (next, items.into_iter().map(|(f, v)| (&f[..], &v[..])).collect())
            }
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            HashValue::Pack(b) => b.capacity(),
            HashValue::Table(d) => std::mem::size_of::<Dict<Bytes>>() + d.heap_size(|v| v.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const SMALL: HashLimits = HashLimits { max_entries: 4, max_value: 6 };

    #[test]
    fn converts_on_entries_and_on_long_values() {
        let mut h = HashValue::new();
        for i in 0..4 {
            assert!(h.set(format!("f{i}").as_bytes(), b"v", SMALL));
        }
        assert_eq!(h.encoding(), "listpack");
        assert!(!h.set(b"f1", b"longer", SMALL));
        assert_eq!(h.get(b"f1"), Some(&b"longer"[..]));
        assert!(h.set(b"f4", b"v", SMALL));
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 5);
        let mut h2 = HashValue::new();
        h2.set(b"a", b"1234567", SMALL);
        assert_eq!(h2.encoding(), "hashtable");
        let mut h3 = HashValue::new();
        h3.prepare_for([&b"0123456789"[..]], SMALL);
        assert_eq!(h3.encoding(), "hashtable");
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(u8, u16),
        Del(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![(0u8..12, any::<u16>()).prop_map(|(f, v)| Op::Set(f, v)), (0u8..12).prop_map(Op::Del)]
    }

    /// A value whose length varies, so some cross the value threshold.
    fn val(v: u16) -> Vec<u8> {
        vec![b'a' + (v % 26) as u8; (v % 9) as usize]
    }

    proptest! {
        #[test]
        fn behaves_like_a_map(ops in proptest::collection::vec(op(), 1..80)) {
            let mut h = HashValue::new();
            let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            let mut was_table = false;
            for op in ops {
                match op {
                    Op::Set(f, v) => {
                        let (f, v) = (vec![b'f', f], val(v));
                        prop_assert_eq!(h.set(&f, &v, SMALL), model.insert(f, v).is_none());
                    }
                    Op::Del(f) => {
                        prop_assert_eq!(h.remove(&[b'f', f]), model.remove(&vec![b'f', f]).is_some());
                    }
                }
                // Only upward conversions.
                if was_table { prop_assert_eq!(h.encoding(), "hashtable"); }
                was_table = h.encoding() == "hashtable";
                if h.encoding() == "listpack" {
                    prop_assert!(h.len() <= SMALL.max_entries);
                }
                prop_assert_eq!(h.len(), model.len());
                let mut got: Vec<(Vec<u8>, Vec<u8>)> = h.entries().into_iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
                got.sort();
                let want: Vec<(Vec<u8>, Vec<u8>)> = model.iter().map(|(f, v)| (f.clone(), v.clone())).collect();
                prop_assert_eq!(got, want);
                for (f, v) in &model {
                    prop_assert_eq!(h.get(f), Some(&v[..]));
                }
            }
        }
    }
}
