//! Snapshot-prefix checker: a state recovered from a snapshot (RDB/AOF after a crash, or a replica
//! after failover) must be a *consistent cut* of the history — the state after some prefix of the
//! writes, where the prefix respects real time: if it contains a write, it contains every
//! acknowledged write that returned before that write was invoked.
//!
//! With unique values per key (our workloads write them), the recovered value of each key names
//! the write that must end that key's prefix. The writes the cut must then contain are those
//! named, plus every acknowledged write that returned before the latest of them was invoked (the
//! real-time closure; optionally also everything acknowledged before a durability point). The cut
//! is consistent iff no required write to a key comes strictly after the write whose value was
//! recovered, every recovered value was written by someone, and every key recovered as absent can
//! end with a delete. Any order of the cut that respects real time and puts each named write last
//! for its key exists by an interval-order argument (each such constraint chain strictly increases
//! invocation times), so these checks are complete.

use crate::history::EventType;
use std::collections::BTreeMap;

/// What a write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOp<V> {
    /// SET key value.
    Set(V),
    /// DEL key.
    Del,
}

/// One write of the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write<K, V> {
    /// The key written.
    pub key: K,
    /// The write.
    pub op: WriteOp<V>,
    /// When it was invoked.
    pub call: u64,
    /// When it was acknowledged, if it was.
    pub ret: Option<u64>,
    /// `Ok`, `Fail` (never applied) or `Info` (unknown).
    pub outcome: EventType,
}

/// Why the recovered state is not a consistent cut.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrefixViolation<K, V> {
    /// The recovered value was never written by a write that could have applied.
    UnknownValue {
        /// The key.
        key: K,
        /// The value found.
        value: V,
    },
    /// The cut must contain `later` (real time forces it in), but `later` writes `key` strictly
    /// after `recovered`, the write whose value was found: a newer write is missing while an older
    /// one survived.
    Overwritten {
        /// The key.
        key: K,
        /// Index of the write whose value was recovered.
        recovered: usize,
        /// Index of the required later write.
        later: usize,
    },
    /// The key was recovered absent, but the cut must contain `required`, a SET of it, and no
    /// delete can follow that write.
    Missing {
        /// The key.
        key: K,
        /// Index of the required SET.
        required: usize,
    },
}

/// The checker's findings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotPrefixReport<K, V> {
    /// True iff the recovered state is a consistent cut.
    pub valid: bool,
    /// Indices of the writes the cut must contain (the smallest such cut), ascending.
    pub cut: Vec<usize>,
    /// Everything wrong.
    pub violations: Vec<PrefixViolation<K, V>>,
}

/// Checks a recovered state against the writes of a history. If `durable_before` is given, every
/// write acknowledged before that time must be in the cut as well (e.g. `appendfsync always`).
pub fn check_snapshot_prefix<K: Ord + Clone, V: Eq + Clone>(
    writes: &[Write<K, V>],
    recovered: &BTreeMap<K, V>,
    durable_before: Option<u64>,
) -> SnapshotPrefixReport<K, V> {
    let live = |w: &Write<K, V>| w.outcome != EventType::Fail;
    let mut violations = Vec::new();
    let mut required = vec![false; writes.len()];
    // Acknowledged writes by completion time, for the real-time closure.
    let mut acked: Vec<(u64, usize)> = writes
        .iter()
        .enumerate()
        .filter(|(_, w)| w.outcome == EventType::Ok)
        .map(|(i, w)| (w.ret.unwrap_or(w.call).max(w.call), i))
        .collect();
    acked.sort_unstable();

    // The write that produced each recovered value (earliest invoked, if values repeat).
    let mut last: BTreeMap<K, usize> = BTreeMap::new();
    for (key, value) in recovered {
        let found = writes
            .iter()
            .enumerate()
            .filter(|(_, w)| live(w) && w.key == *key && w.op == WriteOp::Set(value.clone()))
            .min_by_key(|(_, w)| w.call)
            .map(|(i, _)| i);
        match found {
            Some(i) => {
                last.insert(key.clone(), i);
                required[i] = true;
            }
            None => violations.push(PrefixViolation::UnknownValue { key: key.clone(), value: value.clone() }),
        }
    }
    if let Some(t) = durable_before {
        for &(ret, i) in &acked {
            if ret < t {
                required[i] = true;
            }
        }
    }
    let mut horizon = 0u64; // every acknowledged write returning before this is required
    let close = |required: &mut Vec<bool>, horizon: &mut u64| {
        let max_call = writes.iter().zip(required.iter()).filter(|(_, r)| **r).map(|(w, _)| w.call).max().unwrap_or(0);
        if max_call > *horizon {
            *horizon = max_call;
            for &(ret, i) in &acked {
                if ret >= max_call {
                    break;
                }
                required[i] = true;
            }
        }
    };
    close(&mut required, &mut horizon);

    // Keys recovered absent: a required SET must be followed by a delete in the cut. Pick the
    // earliest-invoked delete that is not before any required SET of the key, close, repeat.
    let strictly_before = |a: &Write<K, V>, b: &Write<K, V>| a.ret.is_some_and(|r| r < b.call);
    let mut missing: Vec<(K, usize)> = Vec::new();
    for _round in 0..writes.len() + 1 {
        let mut changed = false;
        missing.clear();
        let mut by_key: BTreeMap<&K, Vec<usize>> = BTreeMap::new();
        for (i, w) in writes.iter().enumerate() {
            if required[i] && !recovered.contains_key(&w.key) {
                by_key.entry(&w.key).or_default().push(i);
            }
        }
        for (key, idxs) in by_key {
            let sets: Vec<usize> = idxs.iter().copied().filter(|&i| matches!(writes[i].op, WriteOp::Set(_))).collect();
            let covered = idxs.iter().any(|&d| {
                writes[d].op == WriteOp::Del && sets.iter().all(|&s| !strictly_before(&writes[d], &writes[s]))
            });
            if sets.is_empty() || covered {
                continue;
            }
            let del = writes
                .iter()
                .enumerate()
                .filter(|(_, w)| live(w) && w.key == *key && w.op == WriteOp::Del)
                .filter(|(_, d)| sets.iter().all(|&s| !strictly_before(d, &writes[s])))
                .min_by_key(|(_, d)| d.call)
                .map(|(i, _)| i);
            match del {
                Some(d) => {
                    required[d] = true;
                    changed = true;
                }
                None => missing.push(((*key).clone(), sets[0])),
            }
        }
        if !changed {
            break;
        }
        close(&mut required, &mut horizon);
    }
    for (key, required) in missing {
        violations.push(PrefixViolation::Missing { key, required });
    }

    // Keys recovered with a value: nothing required may come strictly after the recovered write.
    for (i, w) in writes.iter().enumerate() {
        if !required[i] {
            continue;
        }
        if let Some(&r) = last.get(&w.key) {
            if r != i && strictly_before(&writes[r], w) {
                violations.push(PrefixViolation::Overwritten { key: w.key.clone(), recovered: r, later: i });
            }
        }
    }
    let cut: Vec<usize> = (0..writes.len()).filter(|&i| required[i]).collect();
    SnapshotPrefixReport { valid: violations.is_empty(), cut, violations }
}
