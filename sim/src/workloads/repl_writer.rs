//! Writers of the replication scenario: they talk to whichever node is primary now and mix
//! private SETs (the last acknowledged value is remembered), INCRs of shared counters, and
//! whole-group writes that span shards — MSET, MULTI/EXEC of one SET (or DEL) per key, DEL of
//! the group — plus an occasional WAIT. In strict mode (the primary never loses anything) every
//! reply is checked; otherwise a failed request just means a reconnect.

use super::replicated::{show, ReplShared};
use crate::client::{Client, Reply};
use crate::replication::cluster::{self, b, topo};
use bytes::Bytes;
use madsim::rand::{thread_rng, Rng};
use std::sync::Arc;
use std::time::Duration;

const PRIVATE_KEYS: usize = 6;

struct Session {
    id: usize,
    node: usize,
    conn: Option<Client>,
    sh: Arc<ReplShared>,
}

impl Session {
    /// Sends one request to the current primary; `Ok(None)` when the connection failed and the
    /// run tolerates it.
    async fn call(&mut self, args: Vec<Bytes>) -> Result<Option<Reply>, String> {
        self.call_in(args, false).await
    }

    /// `in_tx`: the request belongs to a MULTI on the current connection, so it must not go to
    /// a fresh connection (or another primary) where it would run on its own.
    async fn call_in(&mut self, args: Vec<Bytes>, in_tx: bool) -> Result<Option<Reply>, String> {
        let primary = topo(&self.sh.topology).primary;
        if in_tx && (primary != self.node || self.conn.is_none()) {
            self.conn = None;
            return Ok(None);
        }
        if primary != self.node || self.conn.is_none() {
            self.node = primary;
            self.conn = cluster::connect(primary, 400).await;
        }
        let Some(c) = self.conn.as_mut() else {
            return if self.sh.strict {
                Err(format!("writer {}: cannot reach the primary", self.id))
            } else {
                Ok(None)
            };
        };
        let at = crate::rt::sim_now();
        let res = madsim::time::timeout(Duration::from_secs(30), c.call(&args)).await;
        let (id, node) = (self.id, self.node);
        match res {
            Ok(Ok(reply)) => {
                self.sh
                    .digest
                    .fold(|| format!("w{id}@{node} {:?} {} -> {reply:?}", crate::rt::sim_now() - at, show(&args)));
                if let (Reply::Error(e), false) = (&reply, self.sh.strict) {
                    // A demoted primary (READONLY), a restarted one (LOADING): start afresh.
                    self.sh.digest.fold(|| format!("w{id}: error {e}, reconnecting"));
                    self.conn = None;
                    return Ok(None);
                }
                Ok(Some(reply))
            }
            Ok(Err(e)) if !self.sh.strict => {
                self.sh.digest.fold(|| format!("w{id}@{node}: `{}` failed: {e}", show(&args)));
                self.conn = None;
                Ok(None)
            }
            Ok(Err(e)) => Err(format!("writer {id}: `{}` failed on the primary: {e}", show(&args))),
            Err(_) if !self.sh.strict => {
                self.conn = None;
                Ok(None)
            }
            Err(_) => Err(format!("writer {id}: `{}` got no reply from the primary in 30 s", show(&args))),
        }
    }

    /// MULTI, the commands, EXEC; EXEC's reply (None if the connection failed on the way).
    async fn transaction(&mut self, cmds: Vec<Vec<Bytes>>) -> Result<Option<Reply>, String> {
        let Some(r) = self.call(vec![b("MULTI")]).await? else { return Ok(None) };
        if r != Reply::ok() {
            return Err(format!("writer {}: MULTI replied {r:?}", self.id));
        }
        for cmd in cmds {
            let shown = show(&cmd);
            let Some(r) = self.call_in(cmd, true).await? else { return Ok(None) };
            if r != Reply::Simple("QUEUED".into()) {
                return Err(format!("writer {}: `{shown}` inside MULTI replied {r:?}", self.id));
            }
        }
        self.call_in(vec![b("EXEC")], true).await
    }
}

fn expect(id: usize, what: &str, reply: Option<Reply>, ok: impl Fn(&Reply) -> bool) -> Result<(), String> {
    match reply {
        Some(r) if !ok(&r) => Err(format!("writer {id}: {what} replied {r:?}")),
        _ => Ok(()),
    }
}

/// Runs one writer for `run_for` of virtual time.
pub async fn client(id: usize, sh: Arc<ReplShared>, run_for: Duration) -> Result<(), String> {
    let mut rng = thread_rng();
    let end = crate::rt::sim_now() + run_for;
    let mut s = Session { id, node: usize::MAX, conn: None, sh: sh.clone() };
    let mut seq = 0u64;
    while crate::rt::sim_now() < end {
        let pause = match rng.gen_range(0..100) {
            0..=4 => Duration::from_millis(rng.gen_range(50..400)),
            _ => Duration::from_micros(rng.gen_range(500..15_000)),
        };
        madsim::time::sleep(pause).await;
        seq += 1;
        let token = Bytes::from(format!("w{id}-{seq}"));
        let group = sh.groups[rng.gen_range(0..sh.groups.len())].clone();
        match rng.gen_range(0..100) {
            0..=24 => {
                let key = Bytes::from(format!("w{id}:k{}", rng.gen_range(0..PRIVATE_KEYS)));
                let r = s.call(vec![b("SET"), key.clone(), token.clone()]).await?;
                if let Some(r) = r {
                    if r != Reply::ok() {
                        return Err(format!("writer {id}: SET replied {r:?}"));
                    }
                    sh.acked.lock().unwrap_or_else(|e| e.into_inner()).insert(key, token);
                }
            }
            25..=44 => {
                let key = sh.counters[rng.gen_range(0..sh.counters.len())].clone();
                sh.replica_counters.issue(&key);
                let ticket = sh.incr_checks.send(&key, true);
                if let Some(r) = s.call(vec![b("INCR"), key.clone()]).await? {
                    if sh.strict {
                        sh.incr_checks.reply(&key, true, ticket, &r).map_err(|e| format!("writer {id}: {e}"))?;
                    }
                    if !matches!(r, Reply::Int(_)) {
                        return Err(format!("writer {id}: INCR replied {r:?}"));
                    }
                    *sh.incr_acked.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_insert(0) += 1;
                }
            }
            45..=64 => {
                let mut args = vec![b("MSET")];
                for k in &group {
                    args.extend([k.clone(), token.clone()]);
                }
                expect(id, "MSET of a group", s.call(args).await?, |r| *r == Reply::ok())?;
            }
            65..=84 => {
                let cmds = group.iter().map(|k| vec![b("SET"), k.clone(), token.clone()]).collect::<Vec<_>>();
                let n = cmds.len();
                let r = s.transaction(cmds).await?;
                expect(id, "EXEC of a group's SETs", r, |r| matches!(r, Reply::Array(Some(v)) if v.len() == n))?;
            }
            85..=89 => {
                let cmds = group.iter().map(|k| vec![b("DEL"), k.clone()]).collect::<Vec<_>>();
                let n = cmds.len();
                let r = s.transaction(cmds).await?;
                expect(id, "EXEC of a group's DELs", r, |r| matches!(r, Reply::Array(Some(v)) if v.len() == n))?;
            }
            90..=94 => {
                let r = s.call([vec![b("DEL")], group].concat()).await?;
                expect(id, "DEL of a group", r, |r| matches!(r, Reply::Int(_)))?;
            }
            _ => {
                // WAIT counts replicas that acknowledged: never more than attach directly.
                let r = s.call(vec![b("WAIT"), b("1"), b("20")]).await?;
                expect(id, "WAIT 1 20", r, |r| matches!(r, Reply::Int(0..=2)))?;
            }
        }
    }
    Ok(())
}
