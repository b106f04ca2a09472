//! The eviction workload's observers: DEBUG MEMORY-AUDIT after writes (`memory_bounds`), INFO
//! `evicted_keys` (`evicted_count`), the keyevent subscriber, and the final phase: fill the
//! server under the policy in force at the end, read every key back, and compare the eviction
//! count with the events received.

use super::eviction::{call, connect, judge, show, EvictShared};
use crate::checkers::evict_model::{EvictModel, OOM};
use crate::checkers::evicted_count::{self, Final};
use crate::checkers::memory_bounds::{self, ShardMem};
use crate::checkers::policies::is_allkeys;
use crate::client::{Client, Reply};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn parse_audit(reply: &Reply) -> Option<Vec<ShardMem>> {
    let Reply::Array(Some(shards)) = reply else { return None };
    let mut out = Vec::new();
    for s in shards {
        let Reply::Array(Some(kv)) = s else { return None };
        let mut m = ShardMem::default();
        for pair in kv.chunks(2) {
            let (Reply::Bulk(Some(k)), Reply::Int(v)) = (&pair[0], &pair[1]) else { return None };
            // -1 is "no limit".
            let v = u64::try_from(*v).unwrap_or(u64::MAX);
            match &k[..] {
                b"shard" => m.shard = v,
                b"used" => m.used = v,
                b"limit" => m.limit = v,
                b"structure" => m.structure = v,
                b"keys" => m.keys = v,
                b"volatile" => m.volatile = v,
                b"evicted" => m.evicted = v,
                b"held" => m.held = v,
                _ => {}
            }
        }
        out.push(m);
    }
    Some(out)
}

/// DEBUG MEMORY-AUDIT: the server recounted its accounting (an error reply is a disagreement);
/// each shard must be within its bounds, and its eviction count may only grow.
pub async fn audit(sh: &EvictShared, conn: &mut Client, who: &str) -> Result<(), String> {
    let (reply, w) = call(sh, conn, who, &[b("DEBUG"), b("MEMORY-AUDIT")]).await?;
    let shards = parse_audit(&reply).ok_or_else(|| format!("{who}: DEBUG MEMORY-AUDIT replied {reply:?}"))?;
    let policies = sh.policies.during(w.sent, w.recv);
    let ceiling = sh.limits.highest(w.recv) / sh.shards as u64;
    for s in &shards {
        memory_bounds::check(s, &policies, ceiling).map_err(|e| format!("{who} at {}..{}ms: {e}", w.sent, w.recv))?;
        sh.lock().growth.shard(s.shard, w, s.evicted)?;
    }
    Ok(())
}

/// INFO stats' `evicted_keys`, checked to only grow.
pub async fn info_evicted(sh: &EvictShared, conn: &mut Client, who: &str) -> Result<u64, String> {
    let (reply, w) = call(sh, conn, who, &[b("INFO"), b("stats")]).await?;
    let Reply::Bulk(Some(text)) = &reply else { return Err(format!("{who}: INFO replied {reply:?}")) };
    let text = String::from_utf8_lossy(text);
    let n = text
        .lines()
        .find_map(|l| l.strip_prefix("evicted_keys:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("{who}: INFO stats has no evicted_keys"))?;
    sh.lock().growth.total(w, n)?;
    Ok(n)
}

/// Subscribes to the `evicted` and `expired` keyevents before any write, then records every
/// message until told to stop.
pub async fn subscribe(sh: Arc<EvictShared>) -> Result<madsim::task::JoinHandle<Result<(), String>>, String> {
    let mut conn = connect(sh.server).await?;
    let args = [b("SUBSCRIBE"), b("__keyevent@0__:evicted"), b("__keyevent@0__:expired")];
    let first = conn.call(&args).await.map_err(|e| format!("evict-subscriber: {e}"))?;
    let second = conn.next_reply().await.map_err(|e| format!("evict-subscriber: {e}"))?;
    for r in [&first, &second] {
        if !matches!(r, Reply::Array(Some(items)) if items.first() == Some(&Reply::bulk(&b("subscribe")))) {
            return Err(format!("evict-subscriber: `{}` replied {r:?}", show(&args)));
        }
    }
    Ok(madsim::task::spawn(async move {
        loop {
            match madsim::time::timeout(Duration::from_millis(200), conn.next_reply()).await {
                Ok(Ok(Reply::Array(Some(m)))) if m.len() == 3 && m[0] == Reply::bulk(&b("message")) => {
                    let (Reply::Bulk(Some(channel)), Reply::Bulk(Some(key))) = (&m[1], &m[2]) else {
                        return Err(format!("evict-subscriber: malformed message {m:?}"));
                    };
                    sh.digest.fold(|| format!("evict-subscriber {:?} {:?}", channel, key));
                    let mut st = sh.lock();
                    let counts =
                        if channel.ends_with(b"evicted") { &mut st.evicted_events } else { &mut st.expired_events };
                    *counts.entry(key.clone()).or_default() += 1;
                }
                Ok(Ok(other)) => return Err(format!("evict-subscriber: unexpected {other:?}")),
                Ok(Err(e)) => return Err(format!("evict-subscriber: {e}")),
                Err(_) if sh.lock().stop => return Ok(()),
                Err(_) => {}
            }
        }
    }))
}

/// Bytes of each value the final fill writes.
const FILL_VALUE: usize = 300;

/// The final phase, with every writer stopped and the policy settled.
pub async fn finish(sh: &EvictShared) -> Result<(), String> {
    let who = "evict-final";
    let mut conn = connect(sh.server).await?;
    let now = sh.now();
    let policy = *sh.policies.during(now, now).first().expect("a policy is always in force");
    let (reply, _) = call(sh, &mut conn, who, &[b("CONFIG"), b("GET"), b("maxmemory")]).await?;
    let maxmemory: u64 = match &reply {
        Reply::Array(Some(kv)) if kv.len() == 2 => match &kv[1] {
            Reply::Bulk(Some(v)) => String::from_utf8_lossy(v).parse().unwrap_or(0),
            _ => 0,
        },
        _ => 0,
    };
    // Twice the limit in new keys without TTL: noeviction must start refusing on the way.
    let writes = 2 * maxmemory as usize / FILL_VALUE + 32;
    let mut model = EvictModel::default();
    let (mut written, mut refused) = (Vec::new(), None);
    for i in 0..writes {
        let key = Bytes::from(format!("fill:{i}"));
        let value = Bytes::from(format!("{i:0>width$}", width = FILL_VALUE));
        let args = [b("SET"), key.clone(), value];
        let (reply, w) = call(sh, &mut conn, who, &args).await?;
        judge(sh, &mut model, &args, &reply, w).map_err(|e| format!("{who}: {e}"))?;
        if reply == Reply::Error(OOM.into()) {
            refused = Some(key);
            break;
        }
        written.push(key);
    }
    match (&refused, policy) {
        (None, "noeviction") => {
            return Err(format!(
                "noeviction: {writes} writes of {FILL_VALUE} bytes (twice maxmemory {maxmemory}) were all accepted"
            ))
        }
        (Some(k), p) if is_allkeys(p) => {
            return Err(format!(
                "{p} refused `SET {}` with Redis's OOM error while it had keys to evict",
                String::from_utf8_lossy(k)
            ))
        }
        _ => {}
    }
    // Full (or evicting): reads and DEL still work, and every fill key is its value or, where the
    // policy may evict it, gone.
    for key in &written {
        let args = [b("GET"), key.clone()];
        let (reply, w) = call(sh, &mut conn, who, &args).await?;
        judge(sh, &mut model, &args, &reply, w).map_err(|e| format!("{who}: {e}"))?;
    }
    if let Some(first) = written.first() {
        let args = [b("DEL"), first.clone()];
        let (reply, w) = call(sh, &mut conn, who, &args).await?;
        judge(sh, &mut model, &args, &reply, w).map_err(|e| format!("{who}: {e}"))?;
    }
    audit(sh, &mut conn, who).await?;
    // Every eviction has been announced by now or soon: wait for the events to catch up.
    let mut info = 0;
    for _ in 0..100 {
        info = info_evicted(sh, &mut conn, who).await?;
        if sh.lock().evicted_events.values().sum::<u64>() >= info {
            break;
        }
        madsim::time::sleep(Duration::from_millis(100)).await;
    }
    let st = sh.lock();
    evicted_count::check_final(&Final {
        info_evicted: info,
        evicted_events: &st.evicted_events,
        expired_events: &st.expired_events,
        vanished: &st.vanished,
        always_noeviction: sh.policies.always("noeviction"),
    })
}
