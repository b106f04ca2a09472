//! Clients blocked on keys (BLPOP and friends). The shard owning a key keeps, per (db, key), a
//! FIFO of waiters. A write that may have made the key servable goes through `Shard::notify`,
//! which marks the key ready when someone waits on it; once the command (or the transaction
//! step) that did it has finished, `Shard::serve_blocked` serves the waiters in FIFO order for as
//! long as the key holds elements — as Redis's handleClientsBlockedOnKeys does after `call()`.
//!
//! A client blocked on keys of several shards registers on each with one shared claim flag: the
//! shard that serves it first claims it, so it is served exactly once; the others skip it. A
//! waiter whose client is gone (receiver dropped, or claimed by its own timeout) is skipped.
//! Waiters that need locks on another shard to be served (BLMOVE across shards) are only woken
//! (`BlockOp::Wake`) and retry through the ordinary locked path.

use super::Shard;
use crate::protocol::Reply;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// What serving a waiter means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockOp {
    /// BLPOP/BRPOP (`count: None`: reply `[key, element]`) and BLMPOP (`Some(n)`).
    Pop { left: bool, count: Option<usize> },
    /// BLMOVE/BRPOPLPUSH whose destination lives on the same shard.
    Move { dst: Bytes, from_left: bool, to_left: bool },
    /// Only tell the client to retry (it needs locks this shard cannot take for it).
    Wake,
    /// BZPOPMIN/BZPOPMAX (`count: None`: reply `[key, member, score]`) and BZMPOP (`Some(n)`).
    ZPop { max: bool, count: Option<usize> },
}

impl BlockOp {
    /// Whether this waiter is served from a sorted set (else from a list). A waiter meeting a
    /// value of the other type stays blocked, as in Redis 7.0.
    pub fn wants_zset(&self) -> bool {
        matches!(self, BlockOp::ZPop { .. })
    }
}

/// Serves `op` from `key` (which holds a non-empty list, or sorted set for `BlockOp::ZPop`)
/// and returns the client's reply.
pub type ServeFn = fn(&mut Shard, usize, &Bytes, &BlockOp) -> Reply;

/// What a blocked client receives: `Some(reply)` when served, `None` when asked to retry.
pub type WakeMsg = Option<Reply>;

#[derive(Clone)]
pub struct Waiter {
    pub client: u64,
    /// Set once by whoever finishes the wait: the serving shard, or the client (timeout, gone).
    pub claim: Arc<AtomicBool>,
    pub tx: mpsc::UnboundedSender<WakeMsg>,
    pub op: BlockOp,
    pub serve: ServeFn,
}

impl Waiter {
    fn gone(&self) -> bool {
        self.claim.load(Ordering::Acquire) || self.tx.is_closed()
    }
}

type KeyMap = hashbrown::HashMap<Bytes, VecDeque<Waiter>, foldhash::fast::FixedState>;

pub struct Blocking {
    seed: u64,
    /// Per database: key -> waiters in arrival order.
    per_db: Vec<KeyMap>,
    /// Number of keys with waiters (a cheap "anyone waiting?" test on every write).
    keys_waited: usize,
    /// Keys touched since the last `serve_blocked`, in the order they became ready.
    ready: VecDeque<(usize, Bytes)>,
    /// Clients of this shard's thread currently blocked (INFO `blocked_clients`).
    pub blocked_clients: usize,
}

impl Blocking {
    pub fn new(seed: u64) -> Blocking {
        Blocking { seed, per_db: Vec::new(), keys_waited: 0, ready: VecDeque::new(), blocked_clients: 0 }
    }

    pub fn is_waiting(&self) -> bool {
        self.keys_waited > 0
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Waiters on `key` (for tests and introspection).
    pub fn waiters(&self, db: usize, key: &[u8]) -> usize {
        self.per_db.get(db).and_then(|m| m.get(key)).map_or(0, |q| q.len())
    }

    /// Adds `w` at the back of `key`'s queue, or refreshes it in place (keeping its turn) when
    /// the same client already waits there.
    pub fn register(&mut self, db: usize, key: &Bytes, w: Waiter) {
        if self.per_db.len() <= db {
            let seed = self.seed;
            self.per_db.resize_with(db + 1, || KeyMap::with_hasher(foldhash::fast::FixedState::with_seed(seed)));
        }
        let map = &mut self.per_db[db];
        let q = match map.get_mut(key.as_ref()) {
            Some(q) => q,
            None => {
                self.keys_waited += 1;
                map.entry(key.clone()).or_default()
            }
        };
        match q.iter_mut().find(|x| x.client == w.client) {
            Some(slot) => *slot = w,
            None => q.push_back(w),
        }
    }

    /// Removes `client` from `key`'s queue, and marks the key ready so a wake-up the client
    /// may have been handed passes on to the next waiter.
    pub fn deregister(&mut self, db: usize, key: &[u8], client: u64) {
        let Some(map) = self.per_db.get_mut(db) else { return };
        let Some(q) = map.get_mut(key) else { return };
        q.retain(|w| w.client != client);
        self.mark_ready(db, key);
        self.prune(db, key);
    }

    fn prune(&mut self, db: usize, key: &[u8]) {
        let map = &mut self.per_db[db];
        if map.get(key).is_some_and(|q| q.is_empty()) {
            map.remove(key);
            self.keys_waited -= 1;
        }
    }

    /// Called for every key write (through `Shard::notify`): remembers keys someone waits on.
    pub fn mark_ready(&mut self, db: usize, key: &[u8]) {
        let waited = self.per_db.get(db).is_some_and(|m| m.contains_key(key));
        if waited && !self.ready.iter().any(|(d, k)| *d == db && k.as_ref() == key) {
            self.ready.push_back((db, Bytes::copy_from_slice(key)));
        }
    }

    /// Takes the first waiter on `key` served from a sorted set (`zset`) or from a list; the
    /// others keep their place.
    fn take_first(&mut self, db: usize, key: &[u8], zset: bool) -> Option<Waiter> {
        let q = self.per_db.get_mut(db)?.get_mut(key)?;
        let w = q.iter().position(|w| w.op.wants_zset() == zset).and_then(|i| q.remove(i));
        self.prune(db, key);
        w
    }
}

impl Shard {
    /// Serves clients blocked on keys that became ready, in FIFO order per key, while each key
    /// holds a non-empty list (list waiters) or sorted set (sorted-set waiters); waiters of the
    /// other kind keep their turn. Keys a transaction holds or awaits stay ready until its locks
    /// are gone.
    pub fn serve_blocked(&mut self) {
        let mut deferred = Vec::new();
        while let Some((db, key)) = self.blocking.ready.pop_front() {
            if !self.locks.is_idle() && !self.locks.can_run(&[((db as u16, key.clone()), super::Mode::Write)]) {
                deferred.push((db, key));
                continue;
            }
            loop {
                let zset = match self.lookup_write(db, &key).map(|e| &e.value) {
                    Some(crate::types::Value::List(l)) if !l.is_empty() => false,
                    Some(crate::types::Value::ZSet(z)) if !z.is_empty() => true,
                    _ => break,
                };
                let Some(w) = self.blocking.take_first(db, &key, zset) else { break };
                if w.gone() {
                    continue;
                }
                if w.op == BlockOp::Wake {
                    // The client retries under its own locks; the element waits for it. If it
                    // does not take it, its deregistration marks the key ready again.
                    let _ = w.tx.send(None);
                    break;
                }
                if w.claim.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_err() {
                    continue;
                }
                let reply = (w.serve)(self, db, &key, &w.op);
                let _ = w.tx.send(Some(reply));
            }
        }
        self.blocking.ready.extend(deferred);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ListValue, Value};

    fn serve_pop(sh: &mut Shard, db: usize, key: &Bytes, _op: &BlockOp) -> Reply {
        let Some(e) = sh.lookup_write(db, key) else { return Reply::NilArray };
        let Value::List(l) = &mut e.value else { return Reply::NilArray };
        let v = l.pop(true).unwrap();
        if l.is_empty() {
            sh.dbs[db].remove(key);
        }
        Reply::Bulk(v)
    }

    fn waiter(client: u64) -> (Waiter, mpsc::UnboundedReceiver<WakeMsg>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let op = BlockOp::Pop { left: true, count: None };
        (Waiter { client, claim: Arc::new(AtomicBool::new(false)), tx, op, serve: serve_pop }, rx)
    }

    fn push(sh: &mut Shard, key: &Bytes, items: &[&'static str]) {
        let l = ListValue::from_items(items.iter().map(|s| Bytes::from_static(s.as_bytes())), 128);
        sh.dbs[0].set(key.clone(), Value::list(l), 0);
        sh.notify(0, crate::engine::notify::class::LIST, "rpush", key);
        sh.serve_blocked();
    }

    #[test]
    fn fifo_skip_gone_and_claimed() {
        let mut sh = Shard::new(0, 16, 3);
        let k = Bytes::from_static(b"k");
        let (w1, mut r1) = waiter(1);
        let (w2, r2) = waiter(2);
        let (w3, mut r3) = waiter(3);
        let (w4, mut r4) = waiter(4);
        w3.claim.store(true, Ordering::Release);
        for w in [w1, w2, w3, w4] {
            sh.blocking.register(0, &k, w);
        }
        drop(r2);
        assert_eq!(sh.blocking.waiters(0, b"k"), 4);
        push(&mut sh, &k, &["a"]);
        assert_eq!(r1.try_recv().unwrap(), Some(Reply::Bulk(Bytes::from_static(b"a"))));
        assert!(r4.try_recv().is_err());
        push(&mut sh, &k, &["b", "c"]);
        assert_eq!(r4.try_recv().unwrap(), Some(Reply::Bulk(Bytes::from_static(b"b"))), "2 gone, 3 claimed");
        assert!(r3.try_recv().is_err());
        assert!(!sh.blocking.is_waiting());
        assert!(sh.dbs[0].table.get(b"k".as_slice()).is_some(), "c stays");
    }

    #[test]
    fn reregistering_keeps_the_turn_and_deregister_passes_on() {
        let mut sh = Shard::new(0, 16, 3);
        let k = Bytes::from_static(b"k");
        let (w1, r1) = waiter(1);
        let (w2, mut r2) = waiter(2);
        sh.blocking.register(0, &k, w1.clone());
        sh.blocking.register(0, &k, w2);
        sh.blocking.register(0, &k, w1);
        assert_eq!(sh.blocking.waiters(0, b"k"), 2);
        drop(r1);
        sh.blocking.deregister(0, b"k", 1);
        push(&mut sh, &k, &["x"]);
        assert_eq!(r2.try_recv().unwrap(), Some(Reply::Bulk(Bytes::from_static(b"x"))));
        assert_eq!(sh.blocking.keys_waited, 0);
    }
}
