//! Invariant: `evicted_keys` (INFO stats, and each shard's count in DEBUG MEMORY-AUDIT) only
//! grows, and it matches the keys that vanished by eviction: once the run is over it equals the
//! number of `evicted` keyspace events a subscriber received, every key a client saw vanish has
//! an `evicted` or `expired` event, and a run that was noeviction throughout evicted nothing.

use super::model::Window;
use bytes::Bytes;
use std::collections::BTreeMap;

/// Readings of counters by several clients at once. Two readings are ordered only when one's
/// reply arrived before the other's request left; then the later may not be smaller.
#[derive(Default)]
pub struct Growth {
    /// Per counter (`None`: INFO's total; `Some(shard)`), readings as (reply ms, value), in the
    /// order their replies arrived.
    readings: BTreeMap<Option<u64>, Vec<(u64, u64)>>,
}

impl Growth {
    fn observe(&mut self, counter: Option<u64>, w: Window, now: u64) -> Result<(), String> {
        let seen = self.readings.entry(counter).or_default();
        if let Some(&(at, before)) = seen.iter().filter(|r| r.0 < w.sent).max_by_key(|r| r.1) {
            if now < before {
                let name = counter.map_or("INFO evicted_keys".to_string(), |s| format!("shard {s}'s evicted count"));
                return Err(format!(
                    "evicted-count: {name} went down from {before} (read by {at}ms) to {now} (asked at {}ms)",
                    w.sent
                ));
            }
        }
        seen.push((w.recv, now));
        Ok(())
    }

    pub fn total(&mut self, w: Window, now: u64) -> Result<(), String> {
        self.observe(None, w, now)
    }

    pub fn shard(&mut self, shard: u64, w: Window, now: u64) -> Result<(), String> {
        self.observe(Some(shard), w, now)
    }
}

/// What the run saw, once every client has stopped and the events have arrived.
pub struct Final<'a> {
    pub info_evicted: u64,
    /// Keys of the `evicted` and the `expired` events received, with how many of each.
    pub evicted_events: &'a BTreeMap<Bytes, u64>,
    pub expired_events: &'a BTreeMap<Bytes, u64>,
    /// Keys the clients saw vanish (not by their own DEL).
    pub vanished: &'a [Bytes],
    pub always_noeviction: bool,
}

pub fn check_final(f: &Final<'_>) -> Result<(), String> {
    let events: u64 = f.evicted_events.values().sum();
    if events != f.info_evicted {
        return Err(format!(
            "evicted-count: INFO says {} keys were evicted but {events} `evicted` events arrived",
            f.info_evicted
        ));
    }
    if f.always_noeviction && f.info_evicted != 0 {
        return Err(format!("evicted-count: noeviction all along, yet {} keys were evicted", f.info_evicted));
    }
    for k in f.vanished {
        if !f.evicted_events.contains_key(k) && !f.expired_events.contains_key(k) {
            return Err(format!(
                "evicted-count: key {:?} vanished with neither an `evicted` nor an `expired` event",
                String::from_utf8_lossy(k)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_grow_and_match_the_events() {
        let w = |sent, recv| Window { sent, recv };
        let mut g = Growth::default();
        g.total(w(0, 10), 3).unwrap();
        g.total(w(5, 12), 2).unwrap(); // overlapping: either may have been read first
        assert!(g.total(w(11, 20), 2).is_err());
        g.shard(1, w(0, 1), 5).unwrap();
        assert!(g.shard(1, w(2, 3), 4).is_err());
        let ev = BTreeMap::from([(Bytes::from("a"), 1), (Bytes::from("b"), 2)]);
        let ex = BTreeMap::from([(Bytes::from("c"), 1)]);
        let vanished = [Bytes::from("a"), Bytes::from("c")];
        let f = Final {
            info_evicted: 3,
            evicted_events: &ev,
            expired_events: &ex,
            vanished: &vanished,
            always_noeviction: false,
        };
        check_final(&f).unwrap();
        assert!(check_final(&Final { info_evicted: 4, ..f }).is_err());
        assert!(check_final(&Final { always_noeviction: true, ..f }).is_err());
        let lost = [Bytes::from("z")];
        assert!(check_final(&Final { vanished: &lost, ..f }).unwrap_err().contains("neither"));
    }
}
