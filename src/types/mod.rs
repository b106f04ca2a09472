//! Value encodings. Plain data structures: no I/O, no commands, no runtime.

pub mod bitmap;
mod dict;
mod hash;
pub mod hll;
mod list;
mod ostree;
mod pack;
mod set;
mod string;
pub mod zset;

pub use hash::{HashLimits, HashValue};
pub use list::ListValue;
pub use set::{SetLimits, SetValue};
pub use string::StrValue;
pub use zset::ZSet;

/// A value stored under a key. 32 bytes: strings and small hashes in place, the other
/// collections behind a box (their headers are larger, and keys holding them are fewer).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(StrValue),
    Hash(HashValue),
    Set(Box<SetValue>),
    List(Box<ListValue>),
    ZSet(Box<ZSet>),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::List(_) => "list",
            Value::ZSet(_) => "zset",
        }
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::List(l) => l.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }

    /// Bytes this value holds beyond the entry itself (for accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::List(l) => l.heap_size(),
            Value::ZSet(z) => z.heap_size(),
        }
    }
}

/// Boxes for the collection variants, so building one reads like the other variants.
impl Value {
    pub fn set(s: SetValue) -> Value {
        Value::Set(Box::new(s))
    }

    pub fn list(l: ListValue) -> Value {
        Value::List(Box::new(l))
    }

    pub fn zset(z: ZSet) -> Value {
        Value::ZSet(Box::new(z))
    }
}

/// Redis's reply when a command meets a key of another type.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[cfg(test)]
mod tests {
    #[test]
    fn a_value_is_32_bytes() {
        assert_eq!(std::mem::size_of::<super::Value>(), 32);
    }
}
