//! Set checker: every acknowledged add must survive into the final read, and nothing may appear
//! that was never added.
//!
//! Classification follows Jepsen's set checker: *lost* elements were acknowledged but are absent;
//! *unexpected* ones were read but never attempted (we also count adds that definitely failed, since
//! a failed SADD must not take effect); *recovered* ones had an indeterminate add (timeout, crash)
//! and turned out present, which is allowed.

use crate::history::EventType;
use std::collections::BTreeSet;

/// One attempted add and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetAdd<T> {
    /// The element.
    pub element: T,
    /// `Ok` (acknowledged), `Fail` (definitely not applied) or `Info` (unknown).
    pub outcome: EventType,
}

/// The set checker's findings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetReport<T> {
    /// True iff nothing was lost and nothing unexpected appeared.
    pub valid: bool,
    /// Acknowledged adds found in the final read.
    pub ok: BTreeSet<T>,
    /// Acknowledged adds missing from the final read.
    pub lost: BTreeSet<T>,
    /// Elements read that were never attempted, or whose add definitely failed.
    pub unexpected: BTreeSet<T>,
    /// Elements whose add was indeterminate and which are present.
    pub recovered: BTreeSet<T>,
    /// Elements whose add was indeterminate and which are absent (allowed).
    pub not_recovered: BTreeSet<T>,
}

/// Checks a final read of a set against the adds attempted.
pub fn check_set<T: Ord + Clone>(adds: &[SetAdd<T>], final_read: &[T]) -> SetReport<T> {
    let read: BTreeSet<T> = final_read.iter().cloned().collect();
    let mut acked = BTreeSet::new();
    let mut maybe = BTreeSet::new();
    let mut failed = BTreeSet::new();
    for a in adds {
        match a.outcome {
            EventType::Ok => {
                acked.insert(a.element.clone());
            }
            EventType::Fail => {
                failed.insert(a.element.clone());
            }
            EventType::Info | EventType::Invoke => {
                maybe.insert(a.element.clone());
            }
        }
    }
    // An element added several times counts as acknowledged if any add was; as failed only if
    // every attempt failed.
    let maybe: BTreeSet<T> = maybe.difference(&acked).cloned().collect();
    let failed: BTreeSet<T> = failed.iter().filter(|e| !acked.contains(*e) && !maybe.contains(*e)).cloned().collect();
    let ok: BTreeSet<T> = acked.intersection(&read).cloned().collect();
    let lost: BTreeSet<T> = acked.difference(&read).cloned().collect();
    let unexpected: BTreeSet<T> =
        read.iter().filter(|e| failed.contains(*e) || (!acked.contains(*e) && !maybe.contains(*e))).cloned().collect();
    let recovered: BTreeSet<T> = maybe.intersection(&read).cloned().collect();
    let not_recovered: BTreeSet<T> = maybe.difference(&read).cloned().collect();
    SetReport { valid: lost.is_empty() && unexpected.is_empty(), ok, lost, unexpected, recovered, not_recovered }
}
