//! The set of shards as seen from any thread: a mailbox per shard, key routing, and the
//! coordination of work that spans shards. Work reaches a shard only as a closure
//! `FnOnce(&mut Shard)`; results come back on a oneshot.

use super::locks::{LockKey, Mode, Waiter};
use super::propagate::Capture;
use super::slot::Router;
use super::Shard;
use crate::runtime::Rt;
use bytes::Bytes;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

pub type ShardMsg = super::shard::Job;

/// A shard owned by the current thread; borrowed only inside synchronous code.
pub type ShardCell = Rc<RefCell<Shard>>;

pub struct ShardSet {
    senders: Vec<mpsc::UnboundedSender<ShardMsg>>,
    pub router: Router,
    pub dbnum: usize,
    /// Shared by every view, so transaction ids never collide.
    next_txid: Arc<AtomicU64>,
    /// Memory usage the shards publish (see `memory::MemGauge`).
    pub mem: std::sync::Arc<super::memory::MemGauge>,
    /// A view used while EXEC holds the locks of every key its commands touch: `run_keyed`
    /// runs at once and `lock` takes nothing (taking them again would wait on ourselves).
    held: bool,
    /// Work through this view applies the primary's stream (a replica's master client).
    from_master: bool,
    /// Where the records of work run through this view go (a transaction being replicated as
    /// one unit; see `propagate::Capture`).
    capture: Option<Arc<Capture>>,
    /// Taken by the running snapshot: one at a time (each key table has one snapshot state).
    pub snapshot_slot: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl ShardSet {
    /// Creates the mailboxes; the receivers go to the shards' own threads.
    pub fn new(router: Router, dbnum: usize) -> (ShardSet, Vec<mpsc::UnboundedReceiver<ShardMsg>>) {
        let (senders, receivers) = (0..router.num_shards).map(|_| mpsc::unbounded_channel()).unzip();
        let mem = std::sync::Arc::new(super::memory::MemGauge::new(router.num_shards));
        (
            ShardSet {
                senders,
                router,
                dbnum,
                next_txid: Arc::new(AtomicU64::new(1)),
                mem,
                held: false,
                from_master: false,
                capture: None,
                snapshot_slot: Default::default(),
            },
            receivers,
        )
    }

    /// The view of this set for commands run under locks a transaction already holds; their
    /// records go to `capture` when the transaction is replicated.
    pub fn held_view(&self, capture: Option<Arc<Capture>>) -> ShardSet {
        ShardSet {
            senders: self.senders.clone(),
            router: self.router,
            dbnum: self.dbnum,
            next_txid: self.next_txid.clone(),
            mem: self.mem.clone(),
            held: true,
            from_master: self.from_master,
            capture,
            snapshot_slot: self.snapshot_slot.clone(),
        }
    }

    /// The same set, with the records of everything run through it going to `capture`; a
    /// command run through it alone (no transaction) finishes the capture in its job.
    pub fn capturing_view(&self, capture: Arc<Capture>) -> ShardSet {
        ShardSet {
            senders: self.senders.clone(),
            router: self.router,
            dbnum: self.dbnum,
            next_txid: self.next_txid.clone(),
            mem: self.mem.clone(),
            held: self.held,
            from_master: self.from_master,
            capture: Some(capture),
            snapshot_slot: self.snapshot_slot.clone(),
        }
    }

    /// The view a replica applies its primary's stream through.
    pub fn master_view(&self) -> ShardSet {
        let mut v = self.held_view(None);
        v.held = false;
        v.from_master = true;
        v
    }

    pub fn capture(&self) -> Option<&Arc<Capture>> {
        self.capture.as_ref()
    }

    /// Wraps a job so its records go to this view's capture; a lone command (not under held
    /// locks) is finished before the job lets go of the shard.
    fn captured<T>(
        &self,
        f: impl FnOnce(&mut Shard) -> T + Send + 'static,
    ) -> impl FnOnce(&mut Shard) -> T + Send + 'static {
        let cap = self.capture.clone();
        let finish = !self.held;
        let from_master = self.from_master;
        move |sh: &mut Shard| {
            sh.from_master = from_master;
            let out = sh.with_capture(cap.as_ref(), f);
            sh.from_master = false;
            if let (Some(c), true) = (&cap, finish) {
                c.finish();
            }
            out
        }
    }

    pub fn is_held_view(&self) -> bool {
        self.held
    }

    /// A fresh transaction id (for locks and barriers).
    pub(super) fn new_txid(&self) -> u64 {
        self.next_txid.fetch_add(1, Ordering::Relaxed)
    }

    pub fn num_shards(&self) -> usize {
        self.senders.len()
    }

    pub fn shard_of(&self, key: &[u8]) -> usize {
        self.router.shard_of(key)
    }

    /// Posts `msg` to shard `id`'s mailbox. Fails only while the server is going away.
    pub fn post(&self, id: usize, msg: ShardMsg) -> bool {
        self.senders[id].send(msg).is_ok()
    }

    /// Runs `f` on shard `id` regardless of locks (for holders of those locks, and for work on
    /// no key) and returns its result.
    pub async fn hop<R: Rt, T: Send + 'static>(
        &self,
        rt: &R,
        id: usize,
        f: impl FnOnce(&mut Shard) -> T + Send + 'static,
    ) -> Option<T> {
        rt.perturb("hop-send").await;
        let (tx, rx) = oneshot::channel();
        let cap = self.capture.clone();
        let from_master = self.from_master;
        if !self.post(
            id,
            Box::new(move |sh| {
                sh.from_master = from_master;
                let out = sh.with_capture(cap.as_ref(), f);
                sh.from_master = false;
                let _ = tx.send(sh.reply_after_events(out));
            }),
        ) {
            return None;
        }
        let out = rx.await.ok();
        rt.perturb("hop-recv").await;
        out
    }

    /// Runs `f` on every shard of `ids` at once (they work in parallel, each on its own thread)
    /// and returns the results in the order of `ids`; None if a shard is gone. For work that
    /// changes no key (nothing of it is recorded for replicas).
    pub async fn hop_each<R: Rt, T: Send + 'static>(
        &self,
        rt: &R,
        ids: &[usize],
        f: impl FnOnce(&mut Shard) -> T + Clone + Send + 'static,
    ) -> Option<Vec<T>> {
        rt.perturb("hop-send").await;
        let mut replies = Vec::with_capacity(ids.len());
        for &id in ids {
            let (tx, rx) = oneshot::channel();
            let f = f.clone();
            if !self.post(id, Box::new(move |sh| drop(tx.send(f(sh))))) {
                return None;
            }
            replies.push(rx);
        }
        let mut out = Vec::with_capacity(ids.len());
        for rx in replies {
            out.push(rx.await.ok()?);
        }
        rt.perturb("hop-recv").await;
        Some(out)
    }

    /// Runs `f` on shard `id` once no transaction holds or awaits a conflicting lock on `keys`.
    /// `home` is the calling thread's own shard: work for it runs inline, with no message.
    #[allow(clippy::too_many_arguments)]
    pub async fn run_keyed<R: Rt, T: Send + 'static>(
        &self,
        rt: &R,
        home: &ShardCell,
        id: usize,
        db: u16,
        keys: &[Bytes],
        mode: Mode,
        f: impl FnOnce(&mut Shard) -> T + Send + 'static,
    ) -> Option<T> {
        let f = self.captured(f);
        if id == home.borrow().id {
            let queued = {
                let mut sh = home.borrow_mut();
                sh.now_ms = rt.wall_ms();
                // The fast path: nothing locked on this shard, so run now with no message at all.
                if sh.locks.is_idle() || self.held {
                    let out = f(&mut sh);
                    sh.after_work();
                    return Some(out);
                }
                let (tx, rx) = oneshot::channel();
                sh.run_or_queue(
                    db,
                    keys,
                    mode,
                    Box::new(move |sh| {
                        let out = f(sh);
                        let _ = tx.send(sh.reply_after_events(out));
                    }),
                );
                sh.after_work();
                rx
            };
            return queued.await.ok();
        }
        if self.held {
            return self.hop(rt, id, f).await;
        }
        let (tx, rx) = oneshot::channel();
        let job: ShardMsg = Box::new(move |sh| {
            let out = f(sh);
            let _ = tx.send(sh.reply_after_events(out));
        });
        rt.perturb("hop-send").await;
        let keys = keys.to_vec();
        if !self.post(
            id,
            Box::new(move |sh| {
                sh.run_or_queue(db, &keys, mode, job);
            }),
        ) {
            return None;
        }
        let out = rx.await.ok();
        rt.perturb("hop-recv").await;
        out
    }

    /// Locks `keys` on every shard they live on, shard by shard in increasing order, and returns
    /// the transaction that holds them. Dropping it releases everything.
    pub async fn lock<'a, R: Rt>(&'a self, rt: &'a R, db: u16, keys: &[(Bytes, Mode)]) -> Tx<'a, R> {
        let keys: Vec<(u16, Bytes, Mode)> = keys.iter().map(|(k, m)| (db, k.clone(), *m)).collect();
        self.lock_in(rt, &keys).await
    }

    /// Like `lock`, for keys in several databases (COPY ... DB n, MOVE).
    pub async fn lock_in<'a, R: Rt>(&'a self, rt: &'a R, keys: &[(u16, Bytes, Mode)]) -> Tx<'a, R> {
        let txid = self.new_txid();
        let mut per_shard: Vec<(usize, Vec<(LockKey, Mode)>)> = Vec::new();
        for (db, k, m) in keys {
            let s = self.shard_of(k);
            let lk = ((*db, k.clone()), *m);
            match per_shard.iter_mut().find(|(id, _)| *id == s) {
                Some((_, v)) => {
                    // One key named twice: a write wins over a read.
                    match v.iter_mut().find(|(key, _)| *key == lk.0) {
                        Some(existing) if lk.1 == Mode::Write => existing.1 = Mode::Write,
                        Some(_) => {}
                        None => v.push(lk),
                    }
                }
                None => per_shard.push((s, vec![lk])),
            }
        }
        per_shard.sort_by_key(|(s, _)| *s);
        // Until steps say otherwise, the shards written first are released first.
        let mut written = Vec::new();
        for (_, k, m) in keys {
            let s = self.shard_of(k);
            if *m == Mode::Write && !written.contains(&s) {
                written.push(s);
            }
        }
        let mut tx = Tx {
            set: self,
            rt,
            txid,
            shards: Vec::with_capacity(per_shard.len()),
            stepped: std::sync::Mutex::new(written),
        };

        if self.held {
            tx.shards = per_shard.iter().map(|(s, _)| *s).collect();
            return tx;
        }
        for (s, keys) in per_shard {
            tx.shards.push(s);
            rt.perturb("lock-send").await;
            let (gtx, grx) = oneshot::channel();
            self.post(
                s,
                Box::new(move |sh| {
                    let runs = sh.locks.enqueue(keys, Waiter::Grant(txid, gtx));
                    sh.run_all(runs);
                }),
            );
            let _ = grx.await;
            rt.perturb("lock-recv").await;
        }
        tx
    }
}

/// A multi-shard transaction holding key locks on `shards`. Its steps run with `run`; all locks
/// are released when it is dropped (also when the connection driving it goes away mid-way).
pub struct Tx<'a, R: Rt> {
    set: &'a ShardSet,
    rt: &'a R,
    txid: u64,
    shards: Vec<usize>,
    /// Shards in the order this transaction first wrote keys there (by its key list, then by
    /// its steps): locks are released in that order (see `Drop`).
    stepped: std::sync::Mutex<Vec<usize>>,
}

impl<R: Rt> Tx<'_, R> {
    pub fn shards(&self) -> &[usize] {
        &self.shards
    }

    /// Runs one step on shard `id` (which this transaction has locked).
    pub async fn run<T: Send + 'static>(
        &self,
        id: usize,
        f: impl FnOnce(&mut Shard) -> T + Send + 'static,
    ) -> Option<T> {
        debug_assert!(self.shards.contains(&id), "a transaction step on a shard it did not lock");
        {
            let mut stepped = self.stepped.lock().unwrap_or_else(|e| e.into_inner());
            if !stepped.contains(&id) {
                stepped.push(id);
            }
        }
        self.set.hop(self.rt, id, f).await
    }
}

impl<R: Rt> Drop for Tx<'_, R> {
    fn drop(&mut self) {
        // The transaction's records are written while it still holds every lock, so no
        // conflicting write can come before them in the stream.
        if let Some(c) = &self.set.capture {
            c.finish();
        }
        if self.set.held {
            return;
        }
        let mut order = std::mem::take(&mut *self.stepped.lock().unwrap_or_else(|e| e.into_inner()));
        order.extend(self.shards.iter().filter(|s| !order.contains(s)).collect::<Vec<_>>());
        if let Some(&first) = order.first() {
            self.set.post(first, release_in_order(self.txid, order));
        }
    }
}

/// Releases `txid`'s locks on `order[0]`, serves the clients blocked on keys it filled there,
/// then passes on to the next shard. Clients blocked on several keys are thus served in the
/// order the transaction made those keys ready, as Redis serves them after EXEC; releasing
/// everywhere at once would let a later shard serve first.
fn release_in_order(txid: u64, mut order: Vec<usize>) -> ShardMsg {
    Box::new(move |sh| {
        order.remove(0);
        let runs = sh.locks.release(txid);
        sh.run_all(runs);
        sh.after_work();
        let Some(&next) = order.first() else { return };
        // Every server shard has its peers; only a lone unit-test shard has none to reach.
        if let Some(set) = sh.peers.as_ref().and_then(std::sync::Weak::upgrade) {
            set.post(next, release_in_order(txid, order));
        }
    })
}
