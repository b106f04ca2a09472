//! The task that starts background saves on its own: Redis's save points (`save`) and
//! `--snapshot_cron`. It runs on shard 0's thread and looks once a second, as Redis's
//! serverCron does (which also waits 5 s before retrying after a failed save).

use super::state::ServerState;
use crate::engine::ShardSet;
use crate::runtime::Rt;
use crate::storage::schedule::{parse_save_points, save_point_reached, Cron};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Seconds Redis waits after a failed background save before a save point may retry.
const RETRY_AFTER_FAILURE_SECS: u64 = 5;

pub async fn run<R: Rt>(rt: R, shards: Arc<ShardSet>, state: Arc<ServerState>) {
    let mut cron_minute_done = u64::MAX;
    loop {
        rt.sleep(Duration::from_secs(1)).await;
        let (points, cron, dir, name) = {
            let c = state.config.read().unwrap();
            let get = |k: &str| c.get_str(k).to_string();
            (get("save"), get("snapshot-cron"), get("dir"), get("dbfilename"))
        };
        let p = &state.persistence;
        if name.is_empty() || p.is_loading() || p.in_progress.load(Ordering::Acquire) {
            continue;
        }
        let now = rt.wall_ms() / 1000;
        let mut reason = None;
        if let Ok(cron) = Cron::parse(&cron) {
            if cron.matches(now) && now / 60 != cron_minute_done {
                cron_minute_done = now / 60;
                reason = Some("snapshot_cron".to_string());
            }
        }
        let points = parse_save_points(&points).unwrap_or_default();
        let may_retry = p.last_ok.load(Ordering::Relaxed)
            || now.saturating_sub(p.current_started_ms.load(Ordering::Relaxed) / 1000) >= RETRY_AFTER_FAILURE_SECS;
        if reason.is_none() && !points.is_empty() && may_retry {
            let mut changes = 0;
            for s in 0..shards.num_shards() {
                changes += shards.hop(&rt, s, |sh| sh.stats.dirty - sh.stats.dirty_at_save).await.unwrap_or(0);
            }
            let elapsed = now.saturating_sub(p.last_save_secs.load(Ordering::Relaxed));
            if save_point_reached(&points, changes, elapsed) {
                reason = Some(format!("{changes} changes in {elapsed} seconds"));
            }
        }
        if let Some(why) = reason {
            if crate::storage::snapshot::start_bgsave(&rt, shards.clone(), p.clone(), dir, name) {
                tracing::info!("{why}. Saving...");
            }
        }
    }
}
