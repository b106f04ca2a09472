//! The string type: integers that fit an `i64` are kept as integers (Redis's `int` encoding);
//! everything else is shared bytes.

use bytes::Bytes;

/// Redis calls strings up to this length `embstr` (allocated with the object).
const EMBSTR_MAX: usize = 44;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StrValue {
    Int(i64),
    Raw(Bytes),
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
        StrValue::Raw(Bytes::copy_from_slice(bytes))
    }

    /// Takes ownership of bytes already copied out of the request buffer.
    pub fn from_owned(bytes: Bytes) -> StrValue {
        if bytes.len() <= 20 {
            if let Some(n) = crate::util::parse_i64_strict(&bytes) {
                return StrValue::Int(n);
            }
        }
        StrValue::Raw(bytes)
    }

    pub fn to_bytes(&self) -> Bytes {
        match self {
            StrValue::Int(n) => Bytes::copy_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
            StrValue::Raw(b) => b.clone(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            StrValue::Int(n) => itoa::Buffer::new().format(*n).len(),
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
            StrValue::Raw(b) => crate::util::parse_i64_strict(b),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            StrValue::Int(_) => "int",
            StrValue::Raw(b) if b.len() <= EMBSTR_MAX => "embstr",
            StrValue::Raw(_) => "raw",
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            StrValue::Int(_) => 0,
            StrValue::Raw(b) => b.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_kept_as_integers_only_when_canonical() {
        assert_eq!(StrValue::from_bytes(b"123"), StrValue::Int(123));
        assert_eq!(StrValue::from_bytes(b"0123").encoding(), "embstr");
        assert_eq!(StrValue::from_bytes(b"-5").to_bytes(), Bytes::from_static(b"-5"));
        assert_eq!(StrValue::from_bytes(&[b'x'; 45]).encoding(), "raw");
    }
}
