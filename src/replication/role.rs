//! Changing roles: following a primary (REPLICAOF host port, `--replicaof`) and promotion
//! (REPLICAOF NO ONE). The link task notices through `role_changed`.

use super::{replica::new_replid, Replication, Role};
use crate::engine::ShardSet;
use crate::runtime::Rt;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Starts following `host:port`. Client writes stop feeding the journal: a replica passes on
/// its primary's stream instead.
pub async fn follow<R: Rt>(rt: &R, shards: &ShardSet, repl: &Replication, host: &str, port: u16) {
    let was_primary = !repl.following.swap(true, Ordering::AcqRel);
    *repl.role.lock().unwrap() = Role::Replica { host: host.to_string(), port };
    repl.journal.set_on(false);
    {
        let mut link = repl.link.lock().unwrap();
        link.state = "connect";
        link.up = false;
        link.sync_in_progress = false;
        link.down_since_ms = 0;
        link.last_io_ms = 0;
    }
    if was_primary {
        set_replica_mode(rt, shards, true).await;
    }
    tracing::info!("replication: now a replica of {host}:{port}");
    repl.role_changed.notify_one();
}

/// Promotion: the link stops and a new history begins here. The old id stays valid up to the
/// current offset (replid2), so other replicas of our old primary can continue with us.
pub async fn promote<R: Rt>(rt: &R, shards: &ShardSet, repl: &Replication) {
    if !repl.following.load(Ordering::Acquire) {
        return;
    }
    *repl.role.lock().unwrap() = Role::Primary;
    repl.role_changed.notify_one();
    // The link stops (between two commands) before the new history begins: a command applied
    // after it would reach our replicas twice, recorded by the shards and proxied as well.
    wait_link_stopped(rt, repl).await;
    {
        let mut bl = repl.journal.backlog.lock().unwrap();
        bl.shift_replid(new_replid(rt));
        bl.activate();
        tracing::info!(
            "replication: promoted to primary; new replication id {}, previous {} valid up to offset {}",
            bl.replid,
            bl.replid2,
            bl.offset
        );
    }
    repl.journal.set_on(true);
    *repl.link.lock().unwrap() = Default::default();
    set_replica_mode(rt, shards, false).await;
    // Only now may clients write: their writes are recorded for our replicas.
    repl.following.store(false, Ordering::Release);
}

/// How long a promotion waits for the link task to stop applying the old primary's stream.
const LINK_STOP_LIMIT: Duration = Duration::from_secs(5);

async fn wait_link_stopped<R: Rt>(rt: &R, repl: &Replication) {
    let deadline = rt.now() + LINK_STOP_LIMIT;
    loop {
        let left = repl.link_left.notified();
        tokio::pin!(left);
        left.as_mut().enable();
        if !repl.link_active.load(Ordering::Acquire) {
            return;
        }
        let wait = deadline.saturating_sub(rt.now());
        if wait.is_zero() || crate::runtime::timeout(rt, wait, left).await.is_none() {
            tracing::warn!("replication: the link to the old primary did not stop within {LINK_STOP_LIMIT:?}");
            return;
        }
    }
}

/// Replicas leave expiry to their primary (it sends DEL), so shards stop their active cycle.
async fn set_replica_mode<R: Rt>(rt: &R, shards: &ShardSet, on: bool) {
    for s in 0..shards.num_shards() {
        shards.hop(rt, s, move |sh| sh.replica_mode = on).await;
    }
}

/// The `replicaof` flag value that restarts this node in its current role: REPLICAOF changes the
/// role at run time, and CONFIG REWRITE must keep that decision (Redis writes its masterhost).
pub fn replicaof_flag(role: &Role) -> String {
    match role {
        Role::Primary => String::new(),
        Role::Replica { host, port } if host.contains(':') => format!("[{host}]:{port}"),
        Role::Replica { host, port } => format!("{host}:{port}"),
    }
}

/// Parses `--replicaof`: Dragonfly's `host:port` or Redis's `host port` (empty: none).
pub fn parse_replicaof(v: &str) -> Result<Option<(String, u16)>, String> {
    let v = v.trim().trim_matches('"').trim_matches('\'').trim();
    if v.is_empty() || v.eq_ignore_ascii_case("no one") {
        return Ok(None);
    }
    let (host, port) = match v.split_once(char::is_whitespace) {
        Some((h, p)) => (h, p.trim()),
        None => v.rsplit_once(':').ok_or_else(|| format!("replicaof '{v}': expected host:port or 'host port'"))?,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().map_err(|_| format!("replicaof '{v}': bad port '{port}'"))?;
    if host.is_empty() || port == 0 {
        return Err(format!("replicaof '{v}': expected host:port or 'host port'"));
    }
    Ok(Some((host.to_string(), port)))
}

#[cfg(test)]
mod tests {
    use super::{parse_replicaof, replicaof_flag};
    use crate::replication::Role;

    #[test]
    fn replicaof_flag_parses_back() {
        assert_eq!(replicaof_flag(&Role::Primary), "");
        for host in ["10.0.0.1", "redis-0.svc", "::1"] {
            let flag = replicaof_flag(&Role::Replica { host: host.into(), port: 6380 });
            assert_eq!(parse_replicaof(&flag).unwrap(), Some((host.to_string(), 6380)), "{flag}");
        }
    }

    #[test]
    fn replicaof_forms() {
        assert_eq!(parse_replicaof("").unwrap(), None);
        assert_eq!(parse_replicaof("10.0.0.1:6379").unwrap(), Some(("10.0.0.1".into(), 6379)));
        assert_eq!(parse_replicaof("redis-0 6380").unwrap(), Some(("redis-0".into(), 6380)));
        assert_eq!(parse_replicaof("\"primary:7000\"").unwrap(), Some(("primary".into(), 7000)));
        assert_eq!(parse_replicaof("[::1]:7000").unwrap(), Some(("::1".into(), 7000)));
        assert!(parse_replicaof("host").is_err());
        assert!(parse_replicaof("host:99999").is_err());
        assert!(parse_replicaof("host:0").is_err());
    }
}
