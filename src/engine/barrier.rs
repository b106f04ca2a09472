//! The global cut: a barrier takes an exclusive lock on every key of every shard, shard by
//! shard in increasing order like `ShardSet::lock_in` (so it waits for transactions already
//! holding locks and cannot deadlock with them). While it holds a shard nothing changes there:
//! commands queue behind it, and the expiry tick, eviction and blocked-client service pause.
//! Work posted with `hop` still runs (it ignores locks): that is how a snapshot starts on every
//! shard at the cut.

use super::ShardSet;
use crate::runtime::Rt;
use tokio::sync::oneshot;

/// Holds every shard exclusively until dropped (also when its owner goes away mid-way).
pub struct Barrier<'a> {
    set: &'a ShardSet,
    txid: u64,
    /// Shards whose barrier was requested (released on drop, granted or not).
    shards: usize,
}

impl ShardSet {
    /// Takes the barrier on every shard; returns once all of them are held.
    pub async fn barrier<R: Rt>(&self, rt: &R) -> Barrier<'_> {
        let txid = self.new_txid();
        let mut b = Barrier { set: self, txid, shards: 0 };
        for s in 0..self.num_shards() {
            rt.perturb("lock-send").await;
            let (grant, granted) = oneshot::channel();
            b.shards = s + 1;
            self.post(
                s,
                Box::new(move |sh| {
                    let runs = sh.locks.enqueue_barrier(txid, grant);
                    sh.run_all(runs);
                }),
            );
            let _ = granted.await;
            rt.perturb("lock-recv").await;
        }
        b
    }
}

impl Drop for Barrier<'_> {
    fn drop(&mut self) {
        let txid = self.txid;
        for s in 0..self.shards {
            self.set.post(
                s,
                Box::new(move |sh| {
                    let runs = sh.locks.release(txid);
                    sh.run_all(runs);
                    // Blocked clients whose keys filled meanwhile are served now.
                    sh.after_work();
                }),
            );
        }
    }
}
