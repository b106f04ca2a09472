//! Readers of the replication scenario: each is bound to one replica and, until the writers are
//! done, reads whole key groups (`MGET`: a replica must never show half of a multi-shard write)
//! and counters (`GET`: checked by `checkers::replica_counters`). Error replies (-LOADING during
//! a full sync, -MASTERDOWN) and a vanished node are not reads; the reader reconnects.

use super::replicated::{show, ReplShared};
use crate::checkers::atomicity;
use crate::client::{Client, Reply};
use crate::replication::cluster::{self, b};
use madsim::rand::{thread_rng, Rng};
use std::sync::Arc;
use std::time::Duration;

pub async fn client(id: usize, node: usize, sh: Arc<ReplShared>) -> Result<(), String> {
    let mut rng = thread_rng();
    let mut conn: Option<Client> = None;
    while !sh.done() {
        madsim::time::sleep(Duration::from_micros(rng.gen_range(500..20_000))).await;
        if conn.is_none() {
            conn = cluster::connect(node, 1).await;
            if conn.is_none() {
                madsim::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let counter = rng.gen_bool(0.4).then(|| sh.counters[rng.gen_range(0..sh.counters.len())].clone());
        let group = sh.groups[rng.gen_range(0..sh.groups.len())].clone();
        let args = match &counter {
            Some(k) => vec![b("GET"), k.clone()],
            None => [vec![b("MGET")], group.clone()].concat(),
        };
        let ticket = counter.as_ref().map(|k| sh.replica_counters.read_sent(node, k));
        let at = crate::rt::sim_now();
        let reply = match madsim::time::timeout(Duration::from_secs(5), c.call(&args)).await {
            Ok(Ok(r)) => r,
            // A paused, partitioned or restarted replica: try a fresh connection.
            _ => {
                sh.digest.fold(|| format!("r{id}@{node}: `{}` failed, reconnecting", show(&args)));
                conn = None;
                continue;
            }
        };
        sh.digest.fold(|| format!("r{id}@{node} {:?} {} -> {reply:?}", crate::rt::sim_now() - at, show(&args)));
        let verdict = match (counter, ticket) {
            (Some(k), Some(t)) => sh.replica_counters.read_reply(node, &k, t, &reply),
            _ if matches!(reply, Reply::Error(_)) => Ok(()),
            _ => atomicity::check_group_read(&group, &reply),
        };
        verdict.map_err(|e| format!("reader {id} on {}: {e}", cluster::name(node)))?;
    }
    Ok(())
}
