//! Key events: the single hook every write goes through. A command that changes a key calls
//! `Shard::notify(db, class, event, key)` with Redis's notification class and event name (the
//! ones `notify-keyspace-events` filters and `__keyspace@db__` channels carry). The hook records
//! the event for keyspace notifications when its class is enabled, and is where WATCH learns
//! that a key changed.

use bytes::Bytes;

/// Redis's notification classes, as the letters `notify-keyspace-events` uses.
pub mod class {
    pub const GENERIC: u8 = b'g';
    pub const STRING: u8 = b'$';
    pub const LIST: u8 = b'l';
    pub const SET: u8 = b's';
    pub const HASH: u8 = b'h';
    pub const ZSET: u8 = b'z';
    pub const EXPIRED: u8 = b'x';
    pub const EVICTED: u8 = b'e';
    pub const STREAM: u8 = b't';
    pub const KEY_MISS: u8 = b'm';
    pub const NEW: u8 = b'n';
}

/// One event waiting to be published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEvent {
    pub db: usize,
    pub class: u8,
    pub event: &'static str,
    pub key: Bytes,
}

/// Which classes are published; parsed from `notify-keyspace-events`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NotifyFlags {
    /// Bit per class letter (see `bit`).
    pub classes: u32,
    /// `K`: publish to `__keyspace@<db>__:<key>`.
    pub keyspace: bool,
    /// `E`: publish to `__keyevent@<db>__:<event>`.
    pub keyevent: bool,
}

fn bit(class: u8) -> u32 {
    match class {
        b'g' => 1,
        b'$' => 1 << 1,
        b'l' => 1 << 2,
        b's' => 1 << 3,
        b'h' => 1 << 4,
        b'z' => 1 << 5,
        b'x' => 1 << 6,
        b'e' => 1 << 7,
        b't' => 1 << 8,
        b'm' => 1 << 9,
        b'd' => 1 << 10,
        b'n' => 1 << 11,
        _ => 0,
    }
}

impl NotifyFlags {
    /// Parses Redis's flag letters; `None` for a letter Redis does not know.
    pub fn parse(text: &str) -> Option<NotifyFlags> {
        let mut f = NotifyFlags::default();
        for c in text.bytes() {
            match c {
                b'K' => f.keyspace = true,
                b'E' => f.keyevent = true,
                // `A` is every class except key-miss and new-key, as in Redis.
                b'A' => {
                    f.classes |= ["g", "$", "l", "s", "h", "z", "x", "e", "t", "d"]
                        .iter()
                        .map(|c| bit(c.as_bytes()[0]))
                        .sum::<u32>()
                }
                c if bit(c) != 0 => f.classes |= bit(c),
                _ => return None,
            }
        }
        Some(f)
    }

    pub fn wants(&self, class: u8) -> bool {
        (self.keyspace || self.keyevent) && self.classes & bit(class) != 0
    }

    /// The canonical text CONFIG GET prints.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let all = NotifyFlags::parse("A").unwrap().classes;
        if self.classes & all == all {
            s.push('A');
        }
        for c in [b'g', b'$', b'l', b's', b'h', b'z', b'x', b'e', b't', b'm', b'd', b'n'] {
            if self.classes & bit(c) != 0 && !(s.starts_with('A') && all & bit(c) != 0) {
                s.push(c as char);
            }
        }
        if self.keyspace {
            s.push('K');
        }
        if self.keyevent {
            s.push('E');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_like_redis() {
        let f = NotifyFlags::parse("KEA").unwrap();
        assert!(f.wants(b'$') && f.wants(b'x') && !f.wants(b'm'));
        assert_eq!(f.to_text(), "AKE");
        assert_eq!(NotifyFlags::parse("Ex").unwrap().to_text(), "xE");
        assert!(NotifyFlags::parse("Q").is_none());
        assert!(!NotifyFlags::parse("A").unwrap().wants(b'g'), "no K or E: nothing is published");
    }
}
