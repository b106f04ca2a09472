//! Invariant: counter reads on a replica are a prefix of the primary's history. Writers `INCR`
//! shared counters on the primary; readers `GET` them on replicas. For each (replica, counter):
//! - a read never exceeds the number of `INCR`s issued so far (the replica cannot know of
//!   increments nobody sent; "issued" rather than "acknowledged", since a replica may apply an
//!   `INCR` before its reply reaches the writer);
//! - while monotonic reads are expected (the primary keeps its history and the replica was not
//!   restarted empty: one epoch), a read is at least the largest value any read on that replica
//!   returned before it was sent. A full sync loads a newer snapshot, so it never goes back.

use crate::client::Reply;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default)]
struct State {
    /// `INCR`s sent per counter.
    issued: BTreeMap<Bytes, i64>,
    /// Per replica: its epoch and whether reads must be monotonic in it.
    epochs: BTreeMap<usize, (u64, bool)>,
    /// Per (replica, counter): the epoch and the largest value read in it.
    seen: BTreeMap<(usize, Bytes), (u64, i64)>,
}

#[derive(Default)]
pub struct ReplicaCounters(Mutex<State>);

/// What a read must respect, taken when it is sent.
pub struct ReadTicket {
    epoch: u64,
    floor: Option<i64>,
}

impl ReplicaCounters {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A writer is about to send `INCR key`.
    pub fn issue(&self, key: &Bytes) {
        *self.state().issued.entry(key.clone()).or_insert(0) += 1;
    }

    /// The replica lost its data or switched timelines: earlier reads say nothing about later
    /// ones. `monotonic` says whether reads in the new epoch must not go back.
    pub fn new_epoch(&self, replica: usize, monotonic: bool) {
        let mut s = self.state();
        let e = s.epochs.entry(replica).or_insert((0, true));
        *e = (e.0 + 1, monotonic);
    }

    pub fn read_sent(&self, replica: usize, key: &Bytes) -> ReadTicket {
        let s = self.state();
        let (epoch, monotonic) = s.epochs.get(&replica).copied().unwrap_or((0, true));
        let floor = match s.seen.get(&(replica, key.clone())) {
            Some(&(e, v)) if e == epoch && monotonic => Some(v),
            _ => None,
        };
        ReadTicket { epoch, floor }
    }

    /// Checks the reply to `GET key` on `replica`; errors such as -LOADING are not reads.
    pub fn read_reply(&self, replica: usize, key: &Bytes, t: ReadTicket, reply: &Reply) -> Result<(), String> {
        let value = match reply {
            Reply::Bulk(None) => 0,
            Reply::Bulk(Some(b)) => std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| format!("replica counters: GET {key:?} on replica {replica} replied {reply:?}"))?,
            Reply::Error(_) => return Ok(()),
            other => return Err(format!("replica counters: GET {key:?} on replica {replica} replied {other:?}")),
        };
        let mut s = self.state();
        let issued = s.issued.get(key).copied().unwrap_or(0);
        if value > issued {
            return Err(format!(
                "replica counters: replica {replica} read {} = {value}, but only {issued} INCRs were ever sent",
                String::from_utf8_lossy(key)
            ));
        }
        let (epoch, _) = s.epochs.get(&replica).copied().unwrap_or((0, true));
        if epoch != t.epoch {
            return Ok(()); // the epoch changed while the read was in flight
        }
        if let Some(floor) = t.floor {
            if value < floor {
                return Err(format!(
                    "replica counters: non-monotonic read on replica {replica}: {} = {value} after an earlier read saw {floor}",
                    String::from_utf8_lossy(key)
                ));
            }
        }
        let slot = s.seen.entry((replica, key.clone())).or_insert((epoch, value));
        if slot.0 != epoch || slot.1 < value {
            *slot = (epoch, value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(n: i64) -> Reply {
        Reply::Bulk(Some(Bytes::from(n.to_string())))
    }

    #[test]
    fn going_back_or_beyond_issued_is_caught() {
        let c = ReplicaCounters::default();
        let k = Bytes::from("n0");
        for _ in 0..3 {
            c.issue(&k);
        }
        let t = c.read_sent(1, &k);
        c.read_reply(1, &k, t, &int(2)).unwrap();
        let t = c.read_sent(1, &k);
        assert!(c.read_reply(1, &k, t, &int(1)).unwrap_err().contains("non-monotonic"));
        let t = c.read_sent(2, &k);
        c.read_reply(2, &k, t, &Reply::nil()).unwrap(); // another replica may lag
        let t = c.read_sent(1, &k);
        assert!(c.read_reply(1, &k, t, &int(4)).unwrap_err().contains("only 3"));
        // A replica restarted empty starts a new epoch.
        c.new_epoch(1, true);
        let t = c.read_sent(1, &k);
        c.read_reply(1, &k, t, &Reply::nil()).unwrap();
        // A read in flight across an epoch change proves nothing about the floor.
        let t = c.read_sent(1, &k);
        c.new_epoch(1, false);
        c.read_reply(1, &k, t, &int(0)).unwrap();
        let t = c.read_sent(1, &k);
        c.read_reply(1, &k, t, &int(3)).unwrap();
        let t = c.read_sent(1, &k);
        c.read_reply(1, &k, t, &int(0)).unwrap(); // not monotonic in this epoch
    }
}
