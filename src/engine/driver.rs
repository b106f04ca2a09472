//! The tasks that keep a shard alive on its thread: the mailbox loop and the active-expiry tick.

use super::shardset::{ShardCell, ShardMsg};
use crate::runtime::Rt;
use std::time::Duration;
use tokio::sync::mpsc;

/// Redis's default `hz` is 10: the active expiry cycle runs every 100 ms.
const EXPIRE_TICK: Duration = Duration::from_millis(100);
/// At most this many keys are reclaimed per shard per tick, so a mass expiry cannot stall a shard.
const EXPIRE_BUDGET: usize = 20_000;

/// Serves the shard's mailbox until every sender is gone.
pub async fn drive_shard<R: Rt>(rt: R, cell: ShardCell, mut mailbox: mpsc::UnboundedReceiver<ShardMsg>) {
    let ticker = {
        let rt = rt.clone();
        let cell = cell.clone();
        async move {
            loop {
                rt.sleep(EXPIRE_TICK).await;
                let mut sh = cell.borrow_mut();
                sh.now_ms = rt.wall_ms();
                if sh.active_expire && !sh.replica_mode {
                    sh.expire_cycle(EXPIRE_BUDGET);
                }
                if sh.id == 0 && sh.config.maxmemory != 0 {
                    // What the allocator holds beyond the accounted data (buffers, connections,
                    // the model's error) comes off every shard's share of maxmemory.
                    let allocated = rt.memory_stats().allocated;
                    if allocated != 0 {
                        let data = sh.mem.total_used().max(sh.used_memory() as u64);
                        sh.mem.overhead.store(allocated.saturating_sub(data), std::sync::atomic::Ordering::Relaxed);
                    }
                }
                if sh.config.maxmemory != 0 {
                    sh.evict_to_limit();
                    sh.publish_usage();
                }
                sh.flush_propagation();
                sh.publish_events();
            }
        }
    };
    rt.spawn_local("expire", ticker);
    while let Some(msg) = mailbox.recv().await {
        let mut sh = cell.borrow_mut();
        sh.now_ms = rt.wall_ms();
        msg(&mut sh);
        sh.after_work();
        // Drain what is already queued under one borrow: fewer wake-ups under load.
        for _ in 0..64 {
            match mailbox.try_recv() {
                Ok(msg) => {
                    msg(&mut sh);
                    sh.after_work();
                }
                Err(_) => break,
            }
        }
    }
}
