//! Invariant: no acknowledged write is lost (no failover, the primary never crashes). Each
//! writer owns private keys and remembers the last value the primary acknowledged for each;
//! every `INCR` of a shared counter was acknowledged. After the stream drains, every node —
//! the primary and each replica — must hold exactly those values.

use super::convergence::Dataset;
use bytes::Bytes;
use std::collections::BTreeMap;

/// Checks that `data` (one node's keyspace) holds every acknowledged value in `acked`.
pub fn check(node: &str, acked: &BTreeMap<Bytes, Bytes>, data: &Dataset) -> Result<(), String> {
    for (k, want) in acked {
        let got = data.get(k);
        if got != Some(want) {
            return Err(format!(
                "acked writes: {node} has {} = {:?}, but the primary acknowledged {:?} as its last write",
                String::from_utf8_lossy(k),
                got.map(|g| String::from_utf8_lossy(g).into_owned()),
                String::from_utf8_lossy(want)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_or_stale_value_is_caught() {
        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        let acked: BTreeMap<Bytes, Bytes> = [(b("k"), b("v2")), (b("n"), b("3"))].into_iter().collect();
        let mut data: Dataset = acked.clone();
        data.insert(b("other"), b("x"));
        assert!(check("r", &acked, &data).is_ok());
        data.insert(b("k"), b("v1"));
        assert!(check("r", &acked, &data).unwrap_err().contains("v2"));
        data.remove(&b("k"));
        assert!(check("r", &acked, &data).unwrap_err().contains("None"));
    }
}
