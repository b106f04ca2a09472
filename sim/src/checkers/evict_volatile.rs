//! Invariant: volatile-* policies evict only keys with a TTL. A key that vanished while only
//! volatile-* policies (or noeviction) were in force must have had a deadline it may have been
//! evicted for; a key written without a TTL, and never given one, stays readable with its last
//! value for as long as no allkeys-* policy is in force.

use super::evict_model::Vanish;
use super::policies::{is_allkeys, is_volatile, PolicyLog};

pub fn check(v: &Vanish, policies: &PolicyLog) -> Result<(), String> {
    let during = policies.during(v.from, v.to);
    if during.iter().any(|p| is_allkeys(p)) || !during.iter().any(|p| is_volatile(p)) {
        return Ok(()); // allkeys-* may evict anything; without a volatile policy, not ours to judge
    }
    if v.before.iter().any(|val| val.deadline.is_some()) {
        return Ok(());
    }
    Err(format!(
        "evict-volatile: key {:?} had no TTL (it held {:?}) but vanished between {}ms and {}ms \
         while the policy was {during:?}",
        String::from_utf8_lossy(&v.key),
        v.before.iter().map(|b| &b.data).collect::<Vec<_>>(),
        v.from,
        v.to
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::evict_model::{Data, Val};
    use bytes::Bytes;

    fn vanish(deadline: Option<(u64, u64)>) -> Vanish {
        let before = vec![Val { data: Data::Str(Bytes::from("v")), deadline }];
        Vanish { key: Bytes::from("k"), before, from: 100, to: 200 }
    }

    #[test]
    fn only_keys_with_a_ttl_may_go_under_volatile_policies() {
        let log = PolicyLog::new("volatile-lru");
        assert!(check(&vanish(Some((10_000, 10_002))), &log).is_ok());
        let e = check(&vanish(None), &log).unwrap_err();
        assert!(e.contains("had no TTL"), "{e}");
        log.record(150, 160, "allkeys-lfu");
        assert!(check(&vanish(None), &log).is_ok(), "an allkeys policy was in force meanwhile");
        assert!(check(&vanish(None), &PolicyLog::new("noeviction")).is_ok(), "noeviction's own checker");
    }
}
