//! One key as the key table stores it: a single heap node behind one thin pointer, so a table
//! slot is 8 bytes (slots are where a hash table's spare capacity goes, so they must be small).
//! The node holds the value, the access field, the accounting charge, the key's length, a
//! deadline only when the key has one, and the key's bytes:
//!
//! ```text
//! value (32) | access u32 | charge u24, meta u8 | [key length u32] | [deadline u64] | key
//! ```
//!
//! `meta` holds the has-deadline bit and the key's length when it is under 127 bytes (the
//! length word follows only for longer keys). A 16-byte key with a string of up to 30 bytes is
//! one 56-byte allocation in all: one jemalloc size class below the 64 a u32 length and a u32
//! charge beside the access field would take.

use super::memory;
use crate::types::Value;
use bytes::Bytes;
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::mem::{align_of, size_of, ManuallyDrop};
use std::ops::{Deref, DerefMut};
use std::ptr::{self, NonNull};

/// The fields every entry has, at the start of its node (reached through `Deref`). Only this
/// module can build one, so code elsewhere changes the fields one by one and never overwrites
/// the private `word` (swapping two entries' whole `Fields` would mix their key lengths).
#[derive(Debug)]
#[repr(C)]
pub struct Fields {
    pub value: Value,
    /// LRU clock or LFU field of the last access (`memory`); 0 until first set.
    pub access: u32,
    /// The charge (24 bits, `encode_charge`) and the meta byte (`HAS_DEADLINE`, short length).
    word: u32,
}

const HAS_DEADLINE: u8 = 0x80;
/// Lengths below this sit in the meta byte; this value there means a u32 length follows.
const LONG_KEY: u8 = 0x7F;
const TAIL_AT: usize = size_of::<Fields>();
/// Charges below this are stored exactly; larger ones in 64 KiB units (rounded up), so the
/// field reaches 512 GiB. The table sums what was stored, so its total stays exact.
const EXACT_CHARGE: usize = 1 << 23;
const CHARGE_UNIT_SHIFT: u32 = 16;

/// The 24-bit form of a charge of `bytes`.
fn encode_charge(bytes: usize) -> u32 {
    if bytes < EXACT_CHARGE {
        bytes as u32
    } else {
        let units = bytes.div_ceil(1 << CHARGE_UNIT_SHIFT).min(EXACT_CHARGE - 1);
        (EXACT_CHARGE | units) as u32
    }
}

fn decode_charge(code: u32) -> usize {
    let code = code as usize;
    if code < EXACT_CHARGE {
        code
    } else {
        (code - EXACT_CHARGE) << CHARGE_UNIT_SHIFT
    }
}

/// The node's size for a key of `key_len` bytes, with or without a deadline.
fn node_size(key_len: usize, has_deadline: bool) -> usize {
    TAIL_AT + length_word(key_len) + if has_deadline { 8 } else { 0 } + key_len
}

/// Bytes of the length word: none for a key short enough for the meta byte.
fn length_word(key_len: usize) -> usize {
    if key_len < LONG_KEY as usize {
        0
    } else {
        4
    }
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

/// Allocates a node holding `value`, `access`, `key` and, when not 0, `deadline` (charge 0).
fn build(key: &[u8], deadline: u64, value: Value, access: u32) -> NonNull<Fields> {
    assert!(key.len() <= u32::MAX as usize, "key too long for an entry");
    let has = deadline != 0;
    let lay = layout(key.len(), has);
    let short = key.len() < LONG_KEY as usize;
    let meta = if short { key.len() as u8 } else { LONG_KEY } | if has { HAS_DEADLINE } else { 0 };
    // SAFETY: the layout is non-zero sized; every write stays inside it (see `node_size`), and
    // the u32/u64 writes are unaligned-safe.
    unsafe {
        let p = alloc(lay);
        if p.is_null() {
            handle_alloc_error(lay);
        }
        p.cast::<Fields>().write(Fields { value, access, word: (meta as u32) << 24 });
        let mut at = TAIL_AT;
        if !short {
            p.add(at).cast::<u32>().write_unaligned(key.len() as u32);
            at += 4;
        }
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
        let mut e = Entry { node: build(key, expire_at, value, 0) };
        e.recharge();
        e
    }

    fn base(&self) -> *mut u8 {
        self.node.as_ptr().cast::<u8>()
    }

    fn meta(&self) -> u8 {
        (self.word >> 24) as u8
    }

    fn has_deadline(&self) -> bool {
        self.meta() & HAS_DEADLINE != 0
    }

    fn key_len(&self) -> usize {
        let short = self.meta() & !HAS_DEADLINE;
        if short < LONG_KEY {
            return short as usize;
        }
        // SAFETY: a node whose meta says LONG_KEY holds the length word at TAIL_AT.
        unsafe { self.base().add(TAIL_AT).cast::<u32>().read_unaligned() as usize }
    }

    /// Where the deadline (if any) and then the key start.
    fn after_length(&self) -> usize {
        TAIL_AT + length_word(self.key_len())
    }

    pub fn key(&self) -> &[u8] {
        let at = self.after_length() + if self.has_deadline() { 8 } else { 0 };
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
        // SAFETY: a node flagged with a deadline holds it right after the length word.
        unsafe { self.base().add(self.after_length()).cast::<u64>().read_unaligned() }
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
                unsafe { self.base().add(self.after_length()).cast::<u64>().write_unaligned(deadline) }
            }
            (false, false) => {}
            (had, _) => {
                let old = layout(self.key_len(), had);
                let charge = self.word & 0x00FF_FFFF;
                // SAFETY: the value is moved bitwise into the new node, and the old node is
                // then freed without dropping it, so it is owned exactly once.
                unsafe {
                    let fields = ptr::read(self.node.as_ptr());
                    let node = build(self.key(), deadline, fields.value, fields.access);
                    dealloc(self.base(), old);
                    self.node = node;
                }
                // Until the caller recharges, the entry keeps the charge the table counted.
                self.word |= charge;
            }
        }
    }

    /// The bytes this entry takes by the accounting model: its node and the value's heap.
    pub fn measure(&self) -> usize {
        memory::entry_charge(node_size(self.key_len(), self.has_deadline()), &self.value)
    }

    /// The charge the table counted for this entry (what the last `recharge` recorded).
    pub fn charge(&self) -> usize {
        decode_charge(self.word & 0x00FF_FFFF)
    }

    /// Test hook: records a charge `by` bytes off the measured one (small charges are exact).
    #[cfg(test)]
    pub fn skew_charge(&mut self, by: i32) {
        let code = encode_charge(self.charge().wrapping_add_signed(by as isize));
        self.word = (self.word & 0xFF00_0000) | code;
    }

    /// Re-measures the entry and records the result; returns the charge now counted.
    pub fn recharge(&mut self) -> usize {
        let code = encode_charge(self.measure());
        let word = &mut self.word;
        *word = (*word & 0xFF00_0000) | code;
        decode_charge(code)
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
            .field("charge", &self.charge())
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
    fn a_slot_is_one_pointer_and_a_small_key_one_56_byte_node() {
        assert_eq!(size_of::<Entry>(), 8);
        assert_eq!(size_of::<Fields>(), 40);
        let e = Entry::new(b"key:000000000001", Value::Str(StrValue::from_bytes(&[b'v'; 30])), 0);
        assert_eq!(node_size(e.key().len(), false), 56);
        assert_eq!(e.measure(), 56);
        assert_eq!(e.charge(), 56);
    }

    #[test]
    fn only_long_keys_carry_a_length_word() {
        assert_eq!(node_size(126, false), 40 + 126);
        assert_eq!(node_size(127, false), 40 + 4 + 127);
        for len in [0, 1, 126, 127, 128, 70_000] {
            let key = vec![b'k'; len];
            let mut e = Entry::new(&key, Value::Str(StrValue::Int(1)), 99);
            assert_eq!((e.key(), e.expire_at()), (&key[..], 99));
            e.set_expire_at(0);
            assert_eq!((e.key(), e.expire_at()), (&key[..], 0));
        }
    }

    #[test]
    fn charges_are_exact_when_small_and_never_under_when_large() {
        for c in [0, 1, 56, EXACT_CHARGE - 1] {
            assert_eq!(decode_charge(encode_charge(c)), c);
        }
        for c in [EXACT_CHARGE, EXACT_CHARGE + 1, 3 << 30, (1 << 39) - (1 << 17)] {
            let back = decode_charge(encode_charge(c));
            assert!(back >= c && back - c < 1 << CHARGE_UNIT_SHIFT, "{c} -> {back}");
            assert!(encode_charge(c) < 1 << 24);
        }
        assert_eq!(decode_charge(encode_charge(usize::MAX)), (EXACT_CHARGE - 1) << CHARGE_UNIT_SHIFT);
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
                prop_assert_eq!(e.measure(), memory::alloc_size(node_size(key.len(), deadline != 0)) + memory::value_charge(&value));
                // Recharging changes only the charge: key, deadline and length stay readable.
                prop_assert_eq!(e.recharge(), e.measure());
                prop_assert_eq!(e.charge(), e.measure());
                prop_assert_eq!(e.key(), &key[..]);
                prop_assert_eq!(e.expire_at(), deadline);
            }
            let (k, v, d) = e.into_parts();
            prop_assert_eq!(&k[..], &key[..]);
            prop_assert_eq!(v, value);
            prop_assert_eq!(d, deadline);
        }
    }
}
