//! Replica convergence checker: once faults heal and writes stop, every replica must hold the same
//! data. A replica that differs after quiescence has lost or invented writes for good.

use std::collections::{BTreeMap, BTreeSet};

/// A key whose replicas disagree, with each replica's value (`None` = absent there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence<K, V> {
    /// The key.
    pub key: K,
    /// `(replica name, value)` for every replica.
    pub values: Vec<(String, Option<V>)>,
}

/// The checker's findings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvergenceReport<K, V> {
    /// True iff all replicas hold identical data.
    pub converged: bool,
    /// The keys that differ, in key order.
    pub divergent: Vec<Divergence<K, V>>,
}

/// Compares the final states of named replicas key by key.
pub fn check_convergence<K: Ord + Clone, V: Eq + Clone>(
    replicas: &[(String, BTreeMap<K, V>)],
) -> ConvergenceReport<K, V> {
    let keys: BTreeSet<&K> = replicas.iter().flat_map(|(_, m)| m.keys()).collect();
    let mut divergent = Vec::new();
    for key in keys {
        let values: Vec<(String, Option<V>)> =
            replicas.iter().map(|(name, m)| (name.clone(), m.get(key).cloned())).collect();
        if values.windows(2).any(|w| w[0].1 != w[1].1) {
            divergent.push(Divergence { key: key.clone(), values });
        }
    }
    ConvergenceReport { converged: divergent.is_empty(), divergent }
}
