//! Invariant: once the stream has drained, a replica holds exactly its primary's data, key by
//! key (same keys, same values). A missing key is a lost write, an extra key a write from
//! another timeline or one the primary removed, a different value a reordered or torn stream.

use bytes::Bytes;
use std::collections::BTreeMap;

/// A node's whole keyspace (db 0), read through KEYS and MGET once writes have stopped.
pub type Dataset = BTreeMap<Bytes, Bytes>;

fn show(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Compares `replica`'s data with `primary`'s; the error names the first differing key.
pub fn check(primary_name: &str, primary: &Dataset, replica_name: &str, replica: &Dataset) -> Result<(), String> {
    let mut diffs = Vec::new();
    for (k, v) in primary {
        match replica.get(k) {
            None => diffs.push(format!("{} missing (primary has {:?})", show(k), show(v))),
            Some(r) if r != v => diffs.push(format!("{} = {:?} (primary has {:?})", show(k), show(r), show(v))),
            Some(_) => {}
        }
    }
    for (k, v) in replica {
        if !primary.contains_key(k) {
            diffs.push(format!("{} = {:?} is not on the primary", show(k), show(v)));
        }
    }
    if diffs.is_empty() {
        return Ok(());
    }
    let n = diffs.len();
    diffs.truncate(5);
    Err(format!(
        "convergence: {replica_name} differs from {primary_name} ({} keys vs {}) in {n} keys after the stream drained: {}",
        replica.len(),
        primary.len(),
        diffs.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(pairs: &[(&str, &str)]) -> Dataset {
        pairs
            .iter()
            .map(|(k, v)| (Bytes::copy_from_slice(k.as_bytes()), Bytes::copy_from_slice(v.as_bytes())))
            .collect()
    }

    #[test]
    fn differences_are_named() {
        let p = ds(&[("a", "1"), ("b", "2")]);
        assert!(check("p", &p, "r", &p.clone()).is_ok());
        assert!(check("p", &p, "r", &ds(&[("a", "1")])).unwrap_err().contains("b missing"));
        assert!(check("p", &p, "r", &ds(&[("a", "1"), ("b", "3")])).unwrap_err().contains("b = \"3\""));
        let extra = ds(&[("a", "1"), ("b", "2"), ("c", "9")]);
        assert!(check("p", &p, "r", &extra).unwrap_err().contains("not on the primary"));
    }
}
