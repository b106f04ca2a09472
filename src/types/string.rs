//! The string type: integers that fit an `i64` are kept as integers (Redis's `int` encoding),
//! short strings live inside the value itself (no allocation), longer ones in one exact-size
//! heap buffer. The whole value is 32 bytes, so `Value` stays 32 bytes too.

use bytes::Bytes;

/// Redis calls strings up to this length `embstr` (allocated with the object).
const EMBSTR_MAX: usize = 44;
/// The longest string kept inline: what is left of 32 bytes after the tag and a length byte.
pub const INLINE_MAX: usize = 30;

/// Up to `INLINE_MAX` bytes stored in place.
#[derive(Clone, Copy)]
pub struct InlineStr {
    len: u8,
    bytes: [u8; INLINE_MAX],
}

impl InlineStr {
    fn new(b: &[u8]) -> InlineStr {
        let mut bytes = [0; INLINE_MAX];
        bytes[..b.len()].copy_from_slice(b);
        InlineStr { len: b.len() as u8, bytes }
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl PartialEq for InlineStr {
    fn eq(&self, other: &InlineStr) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for InlineStr {}

impl std::fmt::Debug for InlineStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", Bytes::copy_from_slice(self.as_slice()))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StrValue {
    Int(i64),
    Inline(InlineStr),
    Raw(Box<[u8]>),
}

impl StrValue {
    /// Stores `bytes`, as an integer when it is the canonical text of one (so it prints back
    /// identically).
    pub fn from_bytes(bytes: &[u8]) -> StrValue {
        if bytes.len() <= 20 {
            if let Some(n) = crate::util::parse_i64_strict(bytes) {
                return StrValue::Int(n);
            }
        }
        StrValue::text(bytes)
    }

    /// Takes bytes already copied out of the request buffer: a long string keeps their buffer
    /// when nothing else shares it (no second copy of a large value).
    pub fn from_owned(bytes: Bytes) -> StrValue {
        if bytes.len() <= INLINE_MAX {
            return StrValue::from_bytes(&bytes);
        }
        StrValue::Raw(Vec::from(bytes).into_boxed_slice())
    }

    /// Bytes kept as text even when they spell an integer (APPEND, SETRANGE, bit commands).
    pub fn text(bytes: &[u8]) -> StrValue {
        if bytes.len() <= INLINE_MAX {
            StrValue::Inline(InlineStr::new(bytes))
        } else {
            StrValue::Raw(bytes.into())
        }
    }

    /// Like `text`, reusing the buffer when it is too long to inline.
    pub fn from_vec(bytes: Vec<u8>) -> StrValue {
        if bytes.len() <= INLINE_MAX {
            StrValue::Inline(InlineStr::new(&bytes))
        } else {
            StrValue::Raw(bytes.into_boxed_slice())
        }
    }

    /// The stored text, or `None` for an integer.
    pub fn as_text(&self) -> Option<&[u8]> {
        match self {
            StrValue::Int(_) => None,
            StrValue::Inline(s) => Some(s.as_slice()),
            StrValue::Raw(b) => Some(b),
        }
    }

    /// The bytes as a vector to edit in place (no copy for a heap string).
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            StrValue::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
            StrValue::Inline(s) => s.as_slice().to_vec(),
            StrValue::Raw(b) => b.into_vec(),
        }
    }

    pub fn to_bytes(&self) -> Bytes {
        match self {
            StrValue::Int(n) => Bytes::copy_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
            StrValue::Inline(s) => Bytes::copy_from_slice(s.as_slice()),
            StrValue::Raw(b) => Bytes::copy_from_slice(b),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            StrValue::Int(n) => itoa::Buffer::new().format(*n).len(),
            StrValue::Inline(s) => s.len as usize,
            StrValue::Raw(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The integer value, if the string is one (as INCR reads it).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            StrValue::Int(n) => Some(*n),
            other => crate::util::parse_i64_strict(other.as_text().unwrap_or_default()),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            StrValue::Int(_) => "int",
            other if other.len() <= EMBSTR_MAX => "embstr",
            _ => "raw",
        }
    }

    /// Bytes held outside the value (only a long string has any).
    pub fn heap_size(&self) -> usize {
        match self {
            StrValue::Raw(b) => b.len(),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn integers_are_kept_as_integers_only_when_canonical() {
        assert_eq!(StrValue::from_bytes(b"123"), StrValue::Int(123));
        assert_eq!(StrValue::from_bytes(b"0123").encoding(), "embstr");
        assert_eq!(StrValue::from_bytes(b"-5").to_bytes(), Bytes::from_static(b"-5"));
        assert_eq!(StrValue::from_bytes(&[b'x'; 45]).encoding(), "raw");
    }

    #[test]
    fn short_strings_take_no_allocation_and_the_value_stays_small() {
        assert_eq!(std::mem::size_of::<StrValue>(), 32);
        assert!(matches!(StrValue::from_bytes(&[b'a'; INLINE_MAX]), StrValue::Inline(_)));
        assert!(matches!(StrValue::from_bytes(&[b'a'; INLINE_MAX + 1]), StrValue::Raw(_)));
        assert_eq!(StrValue::text(b"42").as_int(), Some(42));
        assert_eq!(StrValue::text(b"42").encoding(), "embstr");
    }

    proptest! {
        /// Every form reads back exactly the bytes it was given, across the inline/heap border.
        #[test]
        fn round_trips_like_plain_bytes(b in prop::collection::vec(any::<u8>(), 0..80), digits in any::<i64>()) {
            let s = StrValue::from_bytes(&b);
            prop_assert_eq!(s.to_bytes(), Bytes::from(b.clone()));
            prop_assert_eq!(s.len(), b.len());
            prop_assert_eq!(s.heap_size(), if b.len() > INLINE_MAX && !matches!(s, StrValue::Int(_)) { b.len() } else { 0 });
            prop_assert_eq!(s.clone().into_vec(), b.clone());
            prop_assert_eq!(&StrValue::from_owned(Bytes::from(b.clone())), &s);
            let v = StrValue::from_vec(b.clone());
            prop_assert_eq!(v.as_text(), Some(&b[..]));
            let n = digits.to_string();
            prop_assert_eq!(StrValue::from_bytes(n.as_bytes()), StrValue::Int(digits));
            prop_assert_eq!(StrValue::text(n.as_bytes()).as_int(), Some(digits));
        }
    }
}
