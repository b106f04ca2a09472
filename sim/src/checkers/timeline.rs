//! Invariant: a promoted replica never mixes two timelines. `REPLICAOF NO ONE` keeps the old
//! primary's replication id as `master_replid2` (so the other replicas can continue from it),
//! and takes a fresh id for its own history. The data half of the invariant — every node that
//! follows the new primary ends with exactly its data, not the old primary's extra writes — is
//! `convergence`, run against the new primary.

use super::catch_up::NodeRepl;

/// Checks the promoted node's ids against the id it followed before promotion.
pub fn check_promoted(old_replid: &str, promoted: &NodeRepl) -> Result<(), String> {
    if promoted.role != "master" {
        return Err(format!("timeline: the promoted node reports role {}", promoted.role));
    }
    if promoted.replid2 != old_replid {
        return Err(format!(
            "timeline: the promoted node's master_replid2 is {}, expected the old primary's id {old_replid}",
            promoted.replid2
        ));
    }
    if promoted.replid == old_replid {
        return Err(format!("timeline: the promoted node kept the old id {old_replid} for its new history"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_move() {
        let n = |replid: &str, replid2: &str| NodeRepl {
            role: "master".into(),
            replid: replid.into(),
            replid2: replid2.into(),
            ..NodeRepl::default()
        };
        assert!(check_promoted("old", &n("new", "old")).is_ok());
        assert!(check_promoted("old", &n("new", "0000")).is_err());
        assert!(check_promoted("old", &n("old", "old")).is_err());
    }
}
