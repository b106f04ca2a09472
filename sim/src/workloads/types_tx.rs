//! Cross-shard transactions over data types: clients append one token to a hash, a list and a
//! sorted set living on different shards inside MULTI/EXEC, reset all three, and read all three
//! back inside MULTI/EXEC. Checked by `checkers::types_tx`.

use crate::checkers::types_tx::{self, Positions};
use crate::client::{Client, Reply};
use crate::digest::Digest;
use crate::rt::sim_wall_ms;
use bytes::Bytes;
use madsim::rand::{thread_rng, Rng};
use mayfly::engine::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub struct TypesTxShared {
    pub server: SocketAddr,
    pub server_skew_ms: i64,
    /// The hash, the list and the sorted set, on as many shards as there are (up to three).
    pub hash: Bytes,
    pub list: Bytes,
    pub zset: Bytes,
    pub ops_per_client: usize,
    pub digest: Digest,
    pub positions: Positions,
}

/// Names `tx-h*`, `tx-l*`, `tx-z*` on distinct shards where the shard count allows.
pub fn typed_keys(router: &Router) -> [Bytes; 3] {
    let mut used = Vec::new();
    ["tx-h", "tx-l", "tx-z"].map(|prefix| {
        let mut n = 0;
        loop {
            let k = format!("{prefix}{n}");
            let s = router.shard_of(k.as_bytes());
            if !used.contains(&s) || used.len() >= router.num_shards {
                used.push(s);
                return Bytes::from(k);
            }
            n += 1;
        }
    })
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn show(args: &[Bytes]) -> String {
    args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" ")
}

async fn call(c: &mut Client, id: usize, sh: &TypesTxShared, args: Vec<Bytes>) -> Result<Reply, String> {
    let sent = sim_wall_ms(sh.server_skew_ms);
    let reply = c.call(&args).await.map_err(|e| format!("client y{id}: `{}` failed: {e}", show(&args)))?;
    let recv = sim_wall_ms(sh.server_skew_ms);
    sh.digest.fold(|| format!("y{id} {sent}..{recv} {} -> {reply:?}", show(&args)));
    Ok(reply)
}

async fn transaction(c: &mut Client, id: usize, sh: &TypesTxShared, cmds: Vec<Vec<Bytes>>) -> Result<Reply, String> {
    let r = call(c, id, sh, vec![b("MULTI")]).await?;
    if r != Reply::ok() {
        return Err(format!("transactions: MULTI replied {r:?}"));
    }
    for cmd in cmds {
        let shown = show(&cmd);
        let r = call(c, id, sh, cmd).await?;
        if r != Reply::Simple("QUEUED".into()) {
            return Err(format!("transactions: `{shown}` inside MULTI replied {r:?}"));
        }
    }
    call(c, id, sh, vec![b("EXEC")]).await
}

pub async fn client(id: usize, sh: Arc<TypesTxShared>) -> Result<(), String> {
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
    let mut c = conn.ok_or_else(|| format!("client y{id}: could not connect to {}", sh.server))?;
    let (h, l, z) = (sh.hash.clone(), sh.list.clone(), sh.zset.clone());
    for seq in 0..sh.ops_per_client {
        madsim::time::sleep(Duration::from_micros(rng.gen_range(0..3000))).await;
        let at = sim_wall_ms(sh.server_skew_ms);
        let verdict = match rng.gen_range(0..20) {
            0..=9 => {
                let tok = Bytes::from(format!("y{id}-{seq}"));
                let cmds = vec![
                    vec![b("RPUSH"), l.clone(), tok.clone()],
                    vec![b("HINCRBY"), h.clone(), b("n"), b("1")],
                    vec![b("HSET"), h.clone(), tok.clone(), b("1")],
                    vec![b("ZINCRBY"), z.clone(), b("1"), b("n")],
                    vec![b("ZADD"), z.clone(), b("0"), tok.clone()],
                ];
                sh.positions.check_write(&tok, &transaction(&mut c, id, &sh, cmds).await?)
            }
            10 => {
                let cmds = vec![vec![b("DEL"), l.clone()], vec![b("DEL"), h.clone()], vec![b("DEL"), z.clone()]];
                types_tx::check_reset(&transaction(&mut c, id, &sh, cmds).await?)
            }
            _ => {
                let cmds = vec![
                    vec![b("LRANGE"), l.clone(), b("0"), b("-1")],
                    vec![b("HGETALL"), h.clone()],
                    vec![b("ZRANGE"), z.clone(), b("0"), b("-1"), b("WITHSCORES")],
                ];
                sh.positions.check_read(&transaction(&mut c, id, &sh, cmds).await?)
            }
        };
        verdict.map_err(|e| format!("client y{id} at {at}ms: {e}"))?;
    }
    Ok(())
}
