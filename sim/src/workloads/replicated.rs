//! What the writers and readers of the replication scenario share: the key groups, the
//! counters, what the primary acknowledged, and when to stop.

use crate::checkers::counters::Counters;
use crate::checkers::replica_counters::ReplicaCounters;
use crate::digest::Digest;
use crate::replication::cluster::SharedTopology;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

pub struct ReplShared {
    pub topology: SharedTopology,
    /// Key groups spanning shards, written whole (MSET, MULTI/EXEC) and read whole (MGET).
    pub groups: Vec<Vec<Bytes>>,
    /// Shared counters: `INCR` on the primary, `GET` on replicas.
    pub counters: Vec<Bytes>,
    /// The primary keeps every acknowledged write (no crash, no failover): writers check INCR
    /// replies strictly, any error fails the seed, and the final data must hold every ack.
    pub strict: bool,
    pub incr_checks: Counters,
    pub replica_counters: ReplicaCounters,
    /// The last value the primary acknowledged per writer-private key.
    pub acked: Mutex<BTreeMap<Bytes, Bytes>>,
    /// Acknowledged `INCR`s per counter.
    pub incr_acked: Mutex<BTreeMap<Bytes, i64>>,
    pub digest: Digest,
    /// Set when every writer is done: readers stop too.
    pub writers_done: AtomicBool,
}

impl ReplShared {
    pub fn done(&self) -> bool {
        self.writers_done.load(Ordering::Acquire)
    }

    /// What every node must hold at the end when `strict`: private keys and counters.
    pub fn expected(&self) -> BTreeMap<Bytes, Bytes> {
        let mut out = self.acked.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for (k, n) in self.incr_acked.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            out.insert(k.clone(), Bytes::from(n.to_string()));
        }
        out
    }
}

pub fn show(args: &[Bytes]) -> String {
    args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" ")
}
