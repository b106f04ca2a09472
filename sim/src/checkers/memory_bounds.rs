//! Invariant: memory stays within maxmemory. Read between commands (DEBUG MEMORY-AUDIT, whose
//! recount the server has already checked), each shard's accounted usage is within its share of
//! maxmemory whenever its policy has something to evict: eviction runs right after the job that
//! went over. A shard that cannot evict (noeviction; volatile-* with no key that has a TTL;
//! allkeys-* with no keys; or a transaction holds keys there, which eviction spares until
//! their release, when it catches up) may exceed its share by a documented margin:
//!
//! - the highest share in force so far (`ceiling`): lowering maxmemory cannot take away what a
//!   shard that has nothing to evict already holds;
//! - one accepted write: a write is admitted while the shard is at or under its share, and the
//!   largest this workload sends (key and value under 400 bytes, or one hash field or list
//!   element) adds at most [`MAX_WRITE_GROWTH`];
//! - the table's structure: an insert may double a segment's slot array (`structure`), and
//!   eviction cannot give slots back;
//! - [`TTL_GROWTH`] per key: EXPIRE is not `denyoom` (as in Redis), so a full shard still
//!   accepts deadlines (8 bytes in the key's node plus an entry in the deadline index).

use super::policies::{is_allkeys, is_volatile};
use std::collections::BTreeSet;

pub const MAX_WRITE_GROWTH: u64 = 1024;
pub const TTL_GROWTH: u64 = 64;

/// One shard's figures from DEBUG MEMORY-AUDIT.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardMem {
    pub shard: u64,
    pub used: u64,
    pub limit: u64,
    pub structure: u64,
    pub keys: u64,
    pub volatile: u64,
    pub evicted: u64,
    /// Keys transactions hold.
    pub held: u64,
}

fn can_evict(policy: &str, s: &ShardMem) -> bool {
    s.held == 0 && ((is_allkeys(policy) && s.keys > 0) || (is_volatile(policy) && s.volatile > 0))
}

/// `policies`: every policy that may have been in force while the audit ran; `ceiling`: the
/// shard's highest share of maxmemory so far.
pub fn check(s: &ShardMem, policies: &BTreeSet<&'static str>, ceiling: u64) -> Result<(), String> {
    if s.used <= s.limit {
        return Ok(());
    }
    if policies.iter().all(|p| can_evict(p, s)) {
        return Err(format!(
            "memory-bounds: shard {} uses {} bytes over its share of {} under {policies:?} with {} keys \
             ({} with a TTL) it could have evicted",
            s.shard, s.used, s.limit, s.keys, s.volatile
        ));
    }
    let margin = MAX_WRITE_GROWTH + s.structure + TTL_GROWTH * s.keys;
    let bound = s.limit.max(ceiling);
    if s.used > bound + margin {
        return Err(format!(
            "memory-bounds: shard {} uses {} bytes, over its share of {} (highest so far {bound}) by more \
             than the margin {margin} (policy {policies:?}, {} keys, {} structure bytes)",
            s.shard, s.used, s.limit, s.keys, s.structure
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_the_limit_only_when_nothing_may_go() {
        let set = |p: &'static str| BTreeSet::from([p]);
        let s = ShardMem { used: 11_000, limit: 10_000, structure: 500, keys: 20, volatile: 0, ..Default::default() };
        assert!(check(&s, &set("allkeys-lru"), 0).unwrap_err().contains("could have evicted"));
        assert!(check(&s, &set("volatile-ttl"), 0).is_ok(), "no key has a TTL");
        assert!(check(&s, &set("noeviction"), 0).is_ok());
        let far = ShardMem { used: 20_000, ..s };
        assert!(check(&far, &set("noeviction"), 0).unwrap_err().contains("margin"));
        assert!(check(&far, &set("noeviction"), 18_000).is_ok(), "held under a higher limit before");
        let in_tx = ShardMem { volatile: 1, ..s };
        assert!(check(&in_tx, &set("volatile-ttl"), 0).is_err());
        assert!(check(&ShardMem { held: 1, ..in_tx }, &set("volatile-ttl"), 0).is_ok(), "the key is held");
        let under = ShardMem { used: 9_000, ..s };
        assert!(check(&under, &set("allkeys-lru"), 0).is_ok());
    }
}
