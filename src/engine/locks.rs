//! Per-key intent locks for multi-shard transactions. A transaction locks its keys shard by
//! shard in increasing shard order (so waits never form a cycle), runs its steps, then releases.
//! Within a shard, waiting requests are served strictly first-come-first-served among those that
//! conflict, so none starves. Work that needs no lock at all (the common case) pays one
//! `is_idle` check.
//!
//! A barrier is an exclusive lock on every key of the shard (the snapshot's global cut): it
//! conflicts with every holder and every request, queued or held, in the same FIFO order.

use super::shard::Job;
use bytes::Bytes;
use hashbrown::HashMap;
use std::collections::VecDeque;
use tokio::sync::oneshot;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Read,
    Write,
}

/// A key within one database.
pub type LockKey = (u16, Bytes);

/// Work that waits for its keys on this shard.
pub enum Waiter {
    /// Run once, atomically, when the keys are free (a single-shard command).
    Run(Job),
    /// Take the locks for transaction `txid` and tell its coordinator.
    Grant(u64, oneshot::Sender<()>),
}

struct Pending {
    keys: Vec<(LockKey, Mode)>,
    /// A barrier: every key, exclusively (`keys` is empty).
    all: bool,
    waiter: Waiter,
}

#[derive(Default, Clone, Copy)]
struct Held {
    readers: u32,
    writer: bool,
}

pub struct LockTable {
    held: HashMap<LockKey, Held, foldhash::fast::FixedState>,
    by_tx: HashMap<u64, Vec<(LockKey, Mode)>, foldhash::fast::FixedState>,
    queue: VecDeque<Pending>,
    /// The transaction holding the barrier, if any.
    barrier: Option<u64>,
}

fn conflicts(a: Mode, b: Mode) -> bool {
    a == Mode::Write || b == Mode::Write
}

impl LockTable {
    pub fn new(seed: u64) -> LockTable {
        let s = foldhash::fast::FixedState::with_seed(seed);
        LockTable {
            held: HashMap::with_hasher(s),
            by_tx: HashMap::with_hasher(s),
            queue: VecDeque::new(),
            barrier: None,
        }
    }

    /// Nothing is locked and nothing waits: every command may run at once.
    pub fn is_idle(&self) -> bool {
        self.held.is_empty() && self.queue.is_empty() && self.barrier.is_none()
    }

    /// A barrier holds this shard: nothing may change its data (no command, expiry or eviction).
    pub fn barrier_held(&self) -> bool {
        self.barrier.is_some()
    }

    pub fn waiting(&self) -> usize {
        self.queue.len()
    }

    fn free_of_holders(&self, keys: &[(LockKey, Mode)], all: bool) -> bool {
        if self.barrier.is_some() {
            return false;
        }
        if all {
            return self.held.is_empty();
        }
        keys.iter().all(|(k, m)| match self.held.get(k) {
            None => true,
            Some(h) => !(h.writer || (*m == Mode::Write && h.readers > 0)),
        })
    }

    fn conflicts_with_queue(&self, keys: &[(LockKey, Mode)], all: bool, upto: usize) -> bool {
        self.queue.iter().take(upto).any(|p| {
            all || p.all || p.keys.iter().any(|(pk, pm)| keys.iter().any(|(k, m)| k == pk && conflicts(*m, *pm)))
        })
    }

    /// How many keys transactions hold here right now.
    pub fn held_keys(&self) -> usize {
        self.held.len()
    }

    /// Whether a transaction holds `key` (or the barrier, every key) right now.
    pub fn holds(&self, key: &LockKey) -> bool {
        self.barrier.is_some() || self.held.contains_key(key)
    }

    /// Whether work on `keys` may run now without overtaking anyone.
    pub fn can_run(&self, keys: &[(LockKey, Mode)]) -> bool {
        self.is_idle()
            || (self.free_of_holders(keys, false) && !self.conflicts_with_queue(keys, false, self.queue.len()))
    }

    fn acquire(&mut self, txid: u64, keys: Vec<(LockKey, Mode)>, all: bool) {
        if all {
            self.barrier = Some(txid);
            self.by_tx.entry(txid).or_default();
            return;
        }
        for (k, m) in &keys {
            let h = self.held.entry(k.clone()).or_default();
            match m {
                Mode::Read => h.readers += 1,
                Mode::Write => h.writer = true,
            }
        }
        self.by_tx.entry(txid).or_default().extend(keys);
    }

    /// Queues `waiter` behind whatever holds or awaits a conflicting lock. Call only when
    /// `can_run` is false, or for a `Grant` (which is granted at once when possible).
    pub fn enqueue(&mut self, keys: Vec<(LockKey, Mode)>, waiter: Waiter) -> Vec<Job> {
        self.queue.push_back(Pending { keys, all: false, waiter });
        self.grant_ready()
    }

    /// Queues a barrier for transaction `txid`: granted once every earlier request has been
    /// served and every lock released; until it is released nothing after it runs.
    pub fn enqueue_barrier(&mut self, txid: u64, grant: oneshot::Sender<()>) -> Vec<Job> {
        self.queue.push_back(Pending { keys: Vec::new(), all: true, waiter: Waiter::Grant(txid, grant) });
        self.grant_ready()
    }

    /// Releases every lock `txid` holds here; returns work that may now run, in queue order.
    pub fn release(&mut self, txid: u64) -> Vec<Job> {
        if self.barrier == Some(txid) {
            self.barrier = None;
        }
        if let Some(keys) = self.by_tx.remove(&txid) {
            for (k, m) in keys {
                if let Some(h) = self.held.get_mut(&k) {
                    match m {
                        Mode::Read => h.readers -= 1,
                        Mode::Write => h.writer = false,
                    }
                    if h.readers == 0 && !h.writer {
                        self.held.remove(&k);
                    }
                }
            }
        }
        self.grant_ready()
    }

    /// Grants, in order, every queued request that conflicts neither with holders nor with an
    /// earlier request still waiting. Grants take effect here; runs are returned to the caller.
    fn grant_ready(&mut self) -> Vec<Job> {
        let mut runs = Vec::new();
        let mut i = 0;
        while i < self.queue.len() {
            let ready = {
                let p = &self.queue[i];
                self.free_of_holders(&p.keys, p.all) && !self.conflicts_with_queue(&p.keys, p.all, i)
            };
            if !ready {
                i += 1;
                continue;
            }
            let p = self.queue.remove(i).expect("index checked");
            match p.waiter {
                Waiter::Run(f) => runs.push(f),
                Waiter::Grant(txid, tx) => {
                    if tx.send(()).is_ok() {
                        self.acquire(txid, p.keys, p.all);
                    }
                    // A coordinator that vanished before its grant takes nothing.
                }
            }
        }
        runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &'static str) -> LockKey {
        (0, Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn grant_blocks_conflicting_runs_until_release() {
        let mut t = LockTable::new(0);
        let (tx, mut rx) = oneshot::channel();
        assert!(t.enqueue(vec![(k("a"), Mode::Write)], Waiter::Grant(1, tx)).is_empty());
        assert!(rx.try_recv().is_ok());
        assert!(!t.can_run(&[(k("a"), Mode::Read)]));
        assert!(t.can_run(&[(k("b"), Mode::Write)]));
        let runs = t.enqueue(vec![(k("a"), Mode::Read)], Waiter::Run(Box::new(|_| {})));
        assert!(runs.is_empty());
        assert_eq!(t.release(1).len(), 1);
        assert!(t.is_idle());
    }

    #[test]
    fn readers_share_writers_wait_in_order() {
        let mut t = LockTable::new(0);
        let (t1, mut r1) = oneshot::channel();
        let (t2, mut r2) = oneshot::channel();
        let (t3, mut r3) = oneshot::channel();
        t.enqueue(vec![(k("a"), Mode::Read)], Waiter::Grant(1, t1));
        t.enqueue(vec![(k("a"), Mode::Write)], Waiter::Grant(2, t2));
        t.enqueue(vec![(k("a"), Mode::Read)], Waiter::Grant(3, t3));
        assert!(r1.try_recv().is_ok());
        assert!(r2.try_recv().is_err());
        // The third reader must not overtake the waiting writer.
        assert!(r3.try_recv().is_err());
        t.release(1);
        assert!(r2.try_recv().is_ok());
        assert!(r3.try_recv().is_err());
        t.release(2);
        assert!(r3.try_recv().is_ok());
        t.release(3);
        assert!(t.is_idle());
    }

    #[test]
    fn barrier_waits_for_holders_and_blocks_later_work() {
        let mut t = LockTable::new(0);
        let (t1, mut r1) = oneshot::channel();
        let (tb, mut rb) = oneshot::channel();
        t.enqueue(vec![(k("a"), Mode::Read)], Waiter::Grant(1, t1));
        assert!(r1.try_recv().is_ok());
        t.enqueue_barrier(2, tb);
        assert!(rb.try_recv().is_err(), "a barrier waits for the holder of any key");
        // Work on an unrelated key queues behind the barrier (FIFO), nothing overtakes it.
        assert!(!t.can_run(&[(k("b"), Mode::Read)]));
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        let queued = Box::new(move |_: &mut super::super::Shard| flag.store(true, std::sync::atomic::Ordering::SeqCst));
        assert!(t.enqueue(vec![(k("b"), Mode::Write)], Waiter::Run(queued)).is_empty());
        assert!(t.release(1).is_empty(), "the barrier is granted, the later run still waits");
        assert!(rb.try_recv().is_ok());
        assert!(t.barrier_held() && !t.is_idle());
        assert!(!t.can_run(&[(k("c"), Mode::Write)]));
        let runs = t.release(2);
        assert_eq!(runs.len(), 1);
        assert!(t.is_idle() && !t.barrier_held());
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn requests_before_a_barrier_keep_their_turn() {
        let mut t = LockTable::new(0);
        let (t1, mut r1) = oneshot::channel();
        let (t2, mut r2) = oneshot::channel();
        let (tb, mut rb) = oneshot::channel();
        let (t3, mut r3) = oneshot::channel();
        t.enqueue(vec![(k("a"), Mode::Write)], Waiter::Grant(1, t1));
        t.enqueue(vec![(k("a"), Mode::Write)], Waiter::Grant(2, t2));
        t.enqueue_barrier(9, tb);
        t.enqueue(vec![(k("z"), Mode::Write)], Waiter::Grant(3, t3));
        assert!(r1.try_recv().is_ok());
        assert!(r2.try_recv().is_err() && rb.try_recv().is_err() && r3.try_recv().is_err());
        t.release(1);
        assert!(r2.try_recv().is_ok(), "the earlier writer goes before the barrier");
        assert!(rb.try_recv().is_err() && r3.try_recv().is_err(), "a later request waits behind the barrier");
        t.release(2);
        assert!(rb.try_recv().is_ok());
        assert!(r3.try_recv().is_err());
        t.release(9);
        assert!(r3.try_recv().is_ok());
        t.release(3);
        assert!(t.is_idle());
    }

    #[test]
    fn vanished_coordinator_takes_nothing() {
        let mut t = LockTable::new(0);
        let (tx, rx) = oneshot::channel();
        drop(rx);
        t.enqueue(vec![(k("a"), Mode::Write)], Waiter::Grant(1, tx));
        assert!(t.is_idle());
    }
}
