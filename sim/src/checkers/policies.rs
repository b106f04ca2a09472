//! Which `maxmemory-policy` (and `maxmemory`) may have been in force during a window of the server's clock: the
//! eviction checkers judge a vanished key by every policy that could have evicted it. Changes
//! come from one client, one at a time; a change is in force somewhere between the moment its
//! `CONFIG SET` was sent and the moment its reply arrived (shards install it one by one).

use std::collections::BTreeSet;
use std::sync::Mutex;

#[derive(Default)]
pub struct PolicyLog {
    initial: &'static str,
    /// (sent ms, reply ms, new policy), in order.
    changes: Mutex<Vec<(u64, u64, &'static str)>>,
}

pub fn is_allkeys(p: &str) -> bool {
    p.starts_with("allkeys-")
}

pub fn is_volatile(p: &str) -> bool {
    p.starts_with("volatile-")
}

impl PolicyLog {
    pub fn new(initial: &'static str) -> PolicyLog {
        PolicyLog { initial, changes: Mutex::new(Vec::new()) }
    }

    pub fn record(&self, sent: u64, recv: u64, policy: &'static str) {
        self.changes.lock().unwrap_or_else(|e| e.into_inner()).push((sent, recv, policy));
    }

    /// Every policy that may have been in force at some moment of [from, to].
    pub fn during(&self, from: u64, to: u64) -> BTreeSet<&'static str> {
        let mut set = BTreeSet::new();
        let mut before = self.initial;
        for &(sent, recv, p) in self.changes.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            if recv < from {
                before = p;
            } else if sent <= to {
                set.insert(p);
            }
        }
        set.insert(before);
        set
    }

    /// Whether the policy never changed from noeviction (for whole-run checks).
    pub fn always(&self, policy: &str) -> bool {
        self.initial == policy && self.changes.lock().unwrap_or_else(|e| e.into_inner()).iter().all(|c| c.2 == policy)
    }
}

/// The `maxmemory` values set during the run: a shard that cannot evict keeps what it held
/// under a higher limit after the limit is lowered, so its bound is the highest limit so far.
pub struct LimitLog {
    initial: u64,
    changes: Mutex<Vec<(u64, u64)>>,
}

impl LimitLog {
    pub fn new(initial: u64) -> LimitLog {
        LimitLog { initial, changes: Mutex::new(Vec::new()) }
    }

    /// A `CONFIG SET maxmemory` sent at `sent` ms.
    pub fn record(&self, sent: u64, maxmemory: u64) {
        self.changes.lock().unwrap_or_else(|e| e.into_inner()).push((sent, maxmemory));
    }

    /// The highest maxmemory that may have been in force up to `to`.
    pub fn highest(&self, to: u64) -> u64 {
        let changes = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        changes.iter().filter(|c| c.0 <= to).map(|c| c.1).fold(self.initial, u64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_counts_from_its_request_to_its_reply() {
        let log = PolicyLog::new("noeviction");
        log.record(100, 110, "allkeys-lru");
        log.record(500, 520, "volatile-ttl");
        let v = |a, b| log.during(a, b).into_iter().collect::<Vec<_>>();
        assert_eq!(v(0, 99), ["noeviction"]);
        assert_eq!(v(0, 105), ["allkeys-lru", "noeviction"]);
        assert_eq!(v(111, 499), ["allkeys-lru"]);
        assert_eq!(v(200, 510), ["allkeys-lru", "volatile-ttl"]);
        assert_eq!(v(521, 900), ["volatile-ttl"]);
        assert!(!log.always("noeviction") && PolicyLog::new("noeviction").always("noeviction"));
    }

    #[test]
    fn the_highest_limit_so_far() {
        let log = LimitLog::new(1000);
        log.record(50, 4000);
        log.record(90, 500);
        assert_eq!((log.highest(10), log.highest(60), log.highest(100)), (1000, 4000, 4000));
    }
}
