//! Invariant: shared counters never lose or duplicate an increment and respect real time.
//! Clients `INCR` and `GET` a few shared counters (no other writes touch them). For each counter:
//! - every `INCR` returns a value no other `INCR` returned (no lost or duplicated update);
//! - a reply is at least the largest value already returned before the request was sent
//!   (greater, for `INCR`): nothing goes back in time;
//! - a reply never exceeds the number of `INCR`s issued so far.

use crate::client::Reply;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

#[derive(Default)]
struct Counter {
    issued: i64,
    /// Largest value any reply (INCR or GET) has returned so far.
    completed_max: i64,
    returned: BTreeSet<i64>,
}

/// Shared by every client of a run.
#[derive(Default)]
pub struct Counters(Mutex<BTreeMap<Bytes, Counter>>);

/// Taken when a request is sent.
pub struct Ticket {
    floor: i64,
}

impl Counters {
    pub fn send(&self, key: &Bytes, incr: bool) -> Ticket {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let c = g.entry(key.clone()).or_default();
        c.issued += incr as i64;
        Ticket { floor: c.completed_max }
    }

    pub fn reply(&self, key: &Bytes, incr: bool, t: Ticket, reply: &Reply) -> Result<(), String> {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let c = g.entry(key.clone()).or_default();
        let name = String::from_utf8_lossy(key);
        let cmd = if incr { "INCR" } else { "GET" };
        let v = match reply {
            Reply::Int(v) if incr => *v,
            Reply::Bulk(None) if !incr => 0,
            Reply::Bulk(Some(b)) if !incr => match std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()) {
                Some(v) => v,
                None => return Err(format!("counters: `GET {name}` replied {reply:?}, not a counter")),
            },
            _ => return Err(format!("counters: `{cmd} {name}` replied {reply:?}")),
        };
        let least = if incr { t.floor + 1 } else { t.floor };
        if v < least || v > c.issued {
            return Err(format!(
                "counters: `{cmd} {name}` returned {v}, outside {least}..={} (values already returned before it \
                 was sent reach {}; {} INCRs issued)",
                c.issued, t.floor, c.issued
            ));
        }
        if incr && !c.returned.insert(v) {
            return Err(format!("counters: two INCRs of {name} both returned {v} (a lost update)"));
        }
        c.completed_max = c.completed_max.max(v);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_time_travel_are_caught() {
        let c = Counters::default();
        let k = Bytes::from("n");
        let (a, b) = (c.send(&k, true), c.send(&k, true));
        c.reply(&k, true, a, &Reply::Int(1)).unwrap();
        assert!(c.reply(&k, true, b, &Reply::Int(1)).is_err(), "duplicate");
        let r = c.send(&k, false);
        assert!(c.reply(&k, false, r, &Reply::nil()).is_err(), "went back in time");
        let r = c.send(&k, false);
        assert!(c.reply(&k, false, r, &Reply::bulk(&Bytes::from("3"))).is_err(), "more than issued");
    }
}
