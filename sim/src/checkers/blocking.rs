//! Invariants of blocking pops (BLPOP, BRPOP, BZPOPMIN, BZPOPMAX) on a key that starts empty,
//! with at most one push from another connection:
//!
//! - a pop that times out waited at least its timeout, and no push finished before its deadline
//!   (the deadline is at least `sent + timeout`, so a push whose reply came before that ran
//!   first and must have served the pop);
//! - a pop that returns got exactly the pushed element, and it is then gone from the key;
//! - a pop with timeout 0 never times out;
//! - the push replies as if nobody were waiting (length or count 1), as in Redis.

use crate::client::Reply;
use bytes::Bytes;

pub struct Round {
    /// A sorted set (BZPOP*) rather than a list (BLPOP/BRPOP).
    pub zset: bool,
    pub key: Bytes,
    pub value: Bytes,
    /// 0 blocks forever.
    pub timeout_ms: u64,
    /// Server-clock window of the blocking request.
    pub sent: u64,
    pub recv: u64,
    /// The push's reply and window, if one was sent.
    pub push: Option<(Reply, u64, u64)>,
}

impl Round {
    fn served(&self) -> Reply {
        let mut items = vec![Reply::bulk(&self.key), Reply::bulk(&self.value)];
        if self.zset {
            items.push(Reply::bulk(&Bytes::from_static(b"1")));
        }
        Reply::Array(Some(items))
    }

    /// Checks the blocking pop's reply; returns whether the pushed element must still be there.
    pub fn check(&self, reply: &Reply) -> Result<bool, String> {
        let fail = |what: String| Err(format!("blocking: {} on {:?}: {what}", self.describe(), self.key));
        if let Some((r, _, _)) = &self.push {
            if *r != Reply::Int(1) {
                return fail(format!("the push into an empty key replied {r:?}, expected :1"));
            }
        }
        if *reply == Reply::Array(None) {
            if self.timeout_ms == 0 {
                return fail("timed out with timeout 0".into());
            }
            if self.recv + 1 < self.sent + self.timeout_ms {
                return fail(format!("timed out after at most {} ms", self.recv - self.sent));
            }
            if let Some((_, _, pushed_by)) = self.push {
                if pushed_by + 1 < self.sent + self.timeout_ms {
                    return fail(format!("timed out although the push was done by {pushed_by}, before the deadline"));
                }
            }
            return Ok(self.push.is_some());
        }
        if self.push.is_none() {
            return fail(format!("returned {reply:?} with nothing pushed"));
        }
        if *reply != self.served() {
            return fail(format!("returned {reply:?}, expected {:?}", self.served()));
        }
        Ok(false)
    }

    fn describe(&self) -> String {
        format!(
            "pop at {}..{}ms, timeout {}ms, push {:?}",
            self.sent,
            self.recv,
            self.timeout_ms,
            self.push.as_ref().map(|(_, s, e)| (s, e))
        )
    }
}

/// Checks the non-blocking pop (LPOP / ZPOPMIN) that empties the key after a round.
pub fn check_leftover(round: &Round, left: bool, reply: &Reply) -> Result<(), String> {
    let want = match (round.zset, left) {
        (false, true) => Reply::bulk(&round.value),
        (false, false) => Reply::nil(),
        (true, true) => Reply::Array(Some(vec![Reply::bulk(&round.value), Reply::bulk(&Bytes::from_static(b"1"))])),
        (true, false) => Reply::Array(Some(vec![])),
    };
    if *reply == want {
        Ok(())
    } else {
        Err(format!("blocking: after the round ({}) the key held {reply:?}, expected {want:?}", round.describe()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(timeout_ms: u64, push: Option<u64>) -> Round {
        Round {
            zset: false,
            key: Bytes::from("q"),
            value: Bytes::from("v"),
            timeout_ms,
            sent: 1000,
            recv: 1300,
            push: push.map(|t| (Reply::Int(1), t - 5, t)),
        }
    }

    #[test]
    fn early_timeouts_and_missed_pushes_are_caught() {
        let served = Reply::Array(Some(vec![Reply::bulk(&Bytes::from("q")), Reply::bulk(&Bytes::from("v"))]));
        assert_eq!(round(200, Some(1100)).check(&served), Ok(false));
        assert!(round(200, Some(1100)).check(&Reply::Array(None)).is_err(), "push before the deadline");
        assert_eq!(round(200, Some(1250)).check(&Reply::Array(None)), Ok(true));
        assert!(round(400, None).check(&Reply::Array(None)).is_err(), "returned before its timeout");
        assert!(round(0, Some(1250)).check(&Reply::Array(None)).is_err());
        assert!(round(200, None).check(&served).is_err());
        assert!(check_leftover(&round(200, Some(1250)), true, &Reply::nil()).is_err());
    }
}
