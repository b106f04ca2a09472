//! One key as the key table stores it: a single heap node behind one thin pointer, so a table
//! slot is 8 bytes (slots are where a hash table's spare capacity goes, so they must be small).
//! The node holds the value, the accounting and access fields, the key's bytes, and a deadline
//! only when the key has one:
//!
//! ```text
//! Fields (value, charge, access) | key length u32, top bit = deadline follows | [deadline u64] | key
//! ```
//!
//! A 16-byte key with a string of up to 30 bytes is one 64-byte allocation in all.

use super::memory;
use crate::types::Value;
use bytes::Bytes;
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::mem::{align_of, size_of, ManuallyDrop};
use std::ops::{Deref, DerefMut};
use std::ptr::{self, NonNull};

/// The fields every entry has, at the start of its node (reached through `Deref`).
#[derive(Debug)]
pub struct Fields {
    pub value: Value,
    /// Bytes this entry is charged in the table's accounting (`Entry::measure` when it was
    /// last measured); the table's total is the sum of these plus its slots.
    pub charge: u32,
    /// LRU clock or LFU field of the last access (`memory`); 0 until first set.
    pub access: u32,
}

const LEN_AT: usize = size_of::<Fields>();
const HAS_DEADLINE: u32 = 1 << 31;
const TAIL_AT: usize = LEN_AT + 4;

/// The node's size for a key of `key_len` bytes, with or without a deadline.
fn node_size(key_len: usize, has_deadline: bool) -> usize {
    TAIL_AT + if has_deadline { 8 } else { 0 } + key_len
}

fn layout(key_len: usize, has_deadline: bool) -> Layout {
    Layout::from_size_align(node_size(key_len, has_deadline), align_of::<Fields>()).expect("key length within limits")
}

pub struct Entry {
    node: NonNull<Fields>,
}

// SAFETY: an Entry owns its node exclusively, like a Box<Fields> plus plain bytes.
unsafe impl Send for Entry where Fields: Send {}
unsafe impl Sync for Entry where Fields: Sync {}

/// Allocates a node holding `fields`, `key` and, when not 0, `deadline`.
fn build(key: &[u8], deadline: u64, fields: Fields) -> NonNull<Fields> {
    assert!(key.len() < HAS_DEADLINE as usize, "key too long for an entry");
    let has = deadline != 0;
    let lay = layout(key.len(), has);
    // SAFETY: the layout is non-zero sized; every write stays inside it (see `node_size`), and
    // the u32/u64 writes are unaligned-safe.
    unsafe {
        let p = alloc(lay);
        if p.is_null() {
            handle_alloc_error(lay);
        }
        p.cast::<Fields>().write(fields);
        let meta = key.len() as u32 | if has { HAS_DEADLINE } else { 0 };
        p.add(LEN_AT).cast::<u32>().write_unaligned(meta);
        let mut at = TAIL_AT;
        if has {
            p.add(at).cast::<u64>().write_unaligned(deadline);
            at += 8;
        }
        ptr::copy_nonoverlapping(key.as_ptr(), p.add(at), key.len());
        NonNull::new_unchecked(p.cast::<Fields>())
    }
}

impl Entry {
    pub fn new(key: &[u8], value: Value, expire_at: u64) -> Entry {
        let mut e = Entry { node: build(key, expire_at, Fields { value, charge: 0, access: 0 }) };
        e.charge = e.measure();
        e
    }

    fn base(&self) -> *mut u8 {
        self.node.as_ptr().cast::<u8>()
    }

    fn meta(&self) -> u32 {
        // SAFETY: every node has its meta word at LEN_AT.
        unsafe { self.base().add(LEN_AT).cast::<u32>().read_unaligned() }
    }

    fn has_deadline(&self) -> bool {
        self.meta() & HAS_DEADLINE != 0
    }

    fn key_len(&self) -> usize {
        (self.meta() & !HAS_DEADLINE) as usize
    }

    pub fn key(&self) -> &[u8] {
        let at = TAIL_AT + if self.has_deadline() { 8 } else { 0 };
        // SAFETY: the key's bytes were written at `at` and live as long as the node.
        unsafe { std::slice::from_raw_parts(self.base().add(at), self.key_len()) }
    }

    /// The key as shared bytes (a copy).
    pub fn key_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self.key())
    }

    /// Absolute deadline in Unix ms; 0 when the key has no TTL.
    pub fn expire_at(&self) -> u64 {
        if !self.has_deadline() {
            return 0;
        }
        // SAFETY: a node flagged with a deadline holds it at TAIL_AT.
        unsafe { self.base().add(TAIL_AT).cast::<u64>().read_unaligned() }
    }

    /// Asks the CPU to start loading this entry's node (a hint, no effect on behaviour): a walk
    /// over many entries is bound by cache misses on their nodes, and overlapping them helps.
    #[inline]
    pub fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetching is a hint that never faults, whatever the address; SSE is part
        // of every x86_64 target.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>(self.base().cast::<i8>());
        }
    }

    /// Sets the deadline (0 removes it). Adding or removing one rebuilds the node, so a key
    /// without a TTL never carries room for one. The caller recharges the entry.
    pub fn set_expire_at(&mut self, deadline: u64) {
        match (self.has_deadline(), deadline != 0) {
            (true, true) => {
                // SAFETY: as in `expire_at`.
                unsafe { self.base().add(TAIL_AT).cast::<u64>().write_unaligned(deadline) }
            }
            (false, false) => {}
            (had, _) => {
                let old = layout(self.key_len(), had);
                // SAFETY: the fields are moved bitwise into the new node, and the old node is
                // then freed without dropping them, so they are owned exactly once.
                unsafe {
                    let fields = ptr::read(self.node.as_ptr());
                    let node = build(self.key(), deadline, fields);
                    dealloc(self.base(), old);
                    self.node = node;
                }
            }
        }
    }

    /// The bytes this entry takes by the accounting model: its node and the value's heap.
    pub fn measure(&self) -> u32 {
        memory::entry_charge(node_size(self.key_len(), self.has_deadline()), &self.value)
    }

    /// Takes the entry apart: key, value, deadline.
    pub fn into_parts(self) -> (Bytes, Value, u64) {
        let key = self.key_bytes();
        let deadline = self.expire_at();
        let lay = layout(self.key_len(), self.has_deadline());
        let this = ManuallyDrop::new(self);
        // SAFETY: the fields are read out once and the node freed without dropping them.
        let fields = unsafe { ptr::read(this.node.as_ptr()) };
        unsafe { dealloc(this.base(), lay) };
        (key, fields.value, deadline)
    }
}

impl Deref for Entry {
    type Target = Fields;

    fn deref(&self) -> &Fields {
        // SAFETY: the node starts with initialised Fields for the entry's whole life.
        unsafe { self.node.as_ref() }
    }
}

impl DerefMut for Entry {
    fn deref_mut(&mut self) -> &mut Fields {
        // SAFETY: as in `deref`; `&mut self` makes the access exclusive. Fields ends before the
        // meta word, so writing through it cannot touch the key or the deadline.
        unsafe { self.node.as_mut() }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let lay = layout(self.key_len(), self.has_deadline());
        // SAFETY: the fields are dropped once, then the node is freed with its own layout.
        unsafe {
            ptr::drop_in_place(self.node.as_ptr());
            dealloc(self.base(), lay);
        }
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &self.key_bytes())
            .field("value", &self.value)
            .field("expire_at", &self.expire_at())
            .field("charge", &self.charge)
            .field("access", &self.access)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{HashValue, StrValue};
    use proptest::prelude::*;

    #[test]
    fn a_slot_is_one_pointer_and_a_small_key_one_64_byte_node() {
        assert_eq!(size_of::<Entry>(), 8);
        assert_eq!(size_of::<Fields>(), 40);
        let e = Entry::new(b"key:000000000001", Value::Str(StrValue::from_bytes(&[b'v'; 30])), 0);
        assert_eq!(node_size(e.key().len(), false), 60);
        assert_eq!(e.measure(), 64);
        assert_eq!(e.charge, 64);
    }

    #[test]
    fn a_deadline_costs_eight_bytes_and_only_while_set() {
        let mut e = Entry::new(b"k", Value::Str(StrValue::Int(7)), 0);
        let bare = node_size(1, false);
        e.set_expire_at(1234);
        assert_eq!((e.expire_at(), e.key()), (1234, &b"k"[..]));
        assert_eq!(node_size(e.key_len(), e.has_deadline()), bare + 8);
        e.set_expire_at(0);
        assert_eq!((e.expire_at(), e.key()), (0, &b"k"[..]));
        assert_eq!(node_size(e.key_len(), e.has_deadline()), bare);
        assert_eq!(e.value, Value::Str(StrValue::Int(7)));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Deadline(u64),
        Value(Vec<u8>),
        Hash(Vec<u8>),
        Access(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()].prop_map(Op::Deadline),
            prop::collection::vec(any::<u8>(), 0..70).prop_map(Op::Value),
            prop::collection::vec(any::<u8>(), 0..20).prop_map(Op::Hash),
            any::<u32>().prop_map(Op::Access),
        ]
    }

    proptest! {
        /// An entry against a plain record of what was put in, through deadline changes that
        /// rebuild the node, value changes across the inline/heap border, and taking it apart.
        #[test]
        fn behaves_like_a_plain_record(key in prop::collection::vec(any::<u8>(), 0..300), first in any::<u64>(), ops in prop::collection::vec(op(), 0..40)) {
            let mut e = Entry::new(&key, Value::Str(StrValue::Int(1)), first);
            let (mut value, mut deadline, mut access) = (Value::Str(StrValue::Int(1)), first, 0u32);
            for op in ops {
                match op {
                    Op::Deadline(d) => { e.set_expire_at(d); deadline = d; }
                    Op::Value(b) => { e.value = Value::Str(StrValue::from_bytes(&b)); value = Value::Str(StrValue::from_bytes(&b)); }
                    Op::Hash(f) => {
                        let mut h = HashValue::new();
                        h.set(&f, b"v", crate::types::HashLimits { max_entries: 128, max_value: 64 });
                        e.value = Value::Hash(h.clone());
                        value = Value::Hash(h);
                    }
                    Op::Access(a) => { e.access = a; access = a; }
                }
                prop_assert_eq!(e.key(), &key[..]);
                prop_assert_eq!(e.expire_at(), deadline);
                prop_assert_eq!(&e.value, &value);
                prop_assert_eq!(e.access, access);
                prop_assert_eq!(e.measure() as usize, memory::alloc_size(node_size(key.len(), deadline != 0)) + memory::value_charge(&value));
            }
            let (k, v, d) = e.into_parts();
            prop_assert_eq!(&k[..], &key[..]);
            prop_assert_eq!(v, value);
            prop_assert_eq!(d, deadline);
        }
    }
}
