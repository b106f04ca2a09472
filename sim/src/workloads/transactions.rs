//! The transaction workload: clients run MULTI/EXEC transactions over key groups spanning shards
//! (all keys set to one token, or all deleted), read the groups back inside MULTI/EXEC or with
//! MGET, and increment shared counters with WATCH-based check-and-set. Checked by
//! `checkers::transactions`.

use crate::checkers::transactions::{self, CasLog};
use crate::client::{Client, Reply};
use crate::digest::Digest;
use crate::rt::sim_wall_ms;
use bytes::Bytes;
use madsim::rand::{thread_rng, Rng};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub struct TxShared {
    pub server: SocketAddr,
    pub server_skew_ms: i64,
    /// Key groups, each spanning as many shards as it can.
    pub groups: Vec<Vec<Bytes>>,
    /// Counters updated only through WATCH/MULTI/EXEC.
    pub cas_keys: Vec<Bytes>,
    pub ops_per_client: usize,
    pub digest: Digest,
    pub cas: CasLog,
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn show(args: &[Bytes]) -> String {
    args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" ")
}

struct Conn {
    c: Client,
    id: usize,
    sh: Arc<TxShared>,
}

impl Conn {
    async fn call(&mut self, args: Vec<Bytes>) -> Result<Reply, String> {
        let sent = sim_wall_ms(self.sh.server_skew_ms);
        let reply =
            self.c.call(&args).await.map_err(|e| format!("client t{}: `{}` failed: {e}", self.id, show(&args)))?;
        let recv = sim_wall_ms(self.sh.server_skew_ms);
        let id = self.id;
        self.sh.digest.fold(|| format!("t{id} {sent}..{recv} {} -> {reply:?}", show(&args)));
        Ok(reply)
    }

    /// Queues `cmds` inside MULTI and returns EXEC's reply.
    async fn transaction(&mut self, cmds: Vec<Vec<Bytes>>) -> Result<Reply, String> {
        let r = self.call(vec![b("MULTI")]).await?;
        if r != Reply::ok() {
            return Err(format!("transactions: MULTI replied {r:?}"));
        }
        for cmd in cmds {
            let shown = show(&cmd);
            let r = self.call(cmd).await?;
            if r != Reply::Simple("QUEUED".into()) {
                return Err(format!("transactions: `{shown}` inside MULTI replied {r:?}"));
            }
        }
        self.call(vec![b("EXEC")]).await
    }
}

pub async fn client(id: usize, sh: Arc<TxShared>) -> Result<(), String> {
    let mut rng = thread_rng();
    let mut conn = None;
    for _ in 0..100 {
        match Client::connect(sh.server).await {
            Ok(c) => {
                conn = Some(c);
                break;
            }
            Err(_) => madsim::time::sleep(Duration::from_millis(10)).await,
        }
    }
    let c = conn.ok_or_else(|| format!("client t{id}: could not connect to {}", sh.server))?;
    let mut conn = Conn { c, id, sh: sh.clone() };
    let mut seq = 0u64;
    for _ in 0..sh.ops_per_client {
        if rng.gen_bool(0.1) {
            madsim::time::sleep(Duration::from_millis(rng.gen_range(1..50))).await;
        } else {
            madsim::time::sleep(Duration::from_micros(rng.gen_range(0..3000))).await;
        }
        let g = rng.gen_range(0..sh.groups.len());
        let keys = sh.groups[g].clone();
        let at = sim_wall_ms(sh.server_skew_ms);
        let verdict = match rng.gen_range(0..20) {
            0..=6 => {
                seq += 1;
                let token = Bytes::from(format!("x{id}-{seq}"));
                let cmds = keys.iter().map(|k| vec![b("SET"), k.clone(), token.clone()]).collect::<Vec<_>>();
                let n = cmds.len();
                transactions::check_write(n, &conn.transaction(cmds).await?)
            }
            7 => {
                let cmds = keys.iter().map(|k| vec![b("DEL"), k.clone()]).collect::<Vec<_>>();
                let n = cmds.len();
                transactions::check_write(n, &conn.transaction(cmds).await?)
            }
            8..=13 => {
                let cmds = keys.iter().map(|k| vec![b("GET"), k.clone()]).collect::<Vec<_>>();
                transactions::check_read(&keys, &conn.transaction(cmds).await?)
            }
            14..=15 => {
                let r = conn.call([vec![b("MGET")], keys.clone()].concat()).await?;
                crate::checkers::atomicity::check_group_read(&keys, &r)
            }
            _ => {
                // Check-and-set through WATCH.
                let key = sh.cas_keys[rng.gen_range(0..sh.cas_keys.len())].clone();
                let r = conn.call(vec![b("WATCH"), key.clone()]).await?;
                if r != Reply::ok() {
                    return Err(format!("transactions: WATCH replied {r:?}"));
                }
                let cur = match conn.call(vec![b("GET"), key.clone()]).await? {
                    Reply::Bulk(None) => 0,
                    Reply::Bulk(Some(v)) => String::from_utf8_lossy(&v).parse::<i64>().unwrap_or(-1),
                    other => return Err(format!("transactions: GET of a counter replied {other:?}")),
                };
                if rng.gen_bool(0.2) {
                    madsim::time::sleep(Duration::from_millis(rng.gen_range(0..5))).await;
                }
                let next = cur + 1;
                let set = vec![b("SET"), key.clone(), Bytes::from(next.to_string())];
                match conn.transaction(vec![set]).await? {
                    Reply::Array(None) => Ok(()),
                    Reply::Array(Some(items)) if items == vec![Reply::ok()] => sh.cas.record(&key, next, id),
                    other => Err(format!("transactions: check-and-set EXEC replied {other:?}")),
                }
            }
        };
        verdict.map_err(|e| format!("client t{id} at {at}ms: {e}"))?;
    }
    Ok(())
}
