//! The eviction workload: 3–4 writers hammer private keys of a server whose maxmemory is a few
//! times too small (`evict_ops`), a config changer now and then switches `maxmemory` or
//! `maxmemory-policy`, and a subscriber counts `evicted`/`expired` keyevents. Every reply goes
//! through the eviction model and the policy checkers; every accepted write is followed by a
//! DEBUG MEMORY-AUDIT judged by `memory_bounds`. After the writers, `evict_probe::finish` fills
//! the server under the final policy and runs the whole-run checks.

use super::evict_ops::{self, Gen};
use super::evict_probe;
use crate::checkers::evict_model::{EvictModel, Window};
use crate::checkers::evicted_count::Growth;
use crate::checkers::policies::{LimitLog, PolicyLog};
use crate::checkers::{evict_tx, evict_volatile, noeviction};
use crate::client::{Client, Reply};
use crate::digest::Digest;
use crate::rt::sim_wall_ms;
use bytes::Bytes;
use madsim::rand::{thread_rng, GlobalRng, Rng};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use mayfly::config::MAXMEMORY_POLICIES as POLICIES;

pub struct EvictShared {
    pub server: SocketAddr,
    pub skew: i64,
    pub shards: usize,
    pub maxmemory: u64,
    pub writers: usize,
    pub ops_per_writer: usize,
    pub policies: PolicyLog,
    pub limits: LimitLog,
    pub digest: Digest,
    pub state: Mutex<EvictState>,
}

/// What the clients report to the whole-run checks.
#[derive(Default)]
pub struct EvictState {
    /// Keys a client saw vanish (not by its own DEL).
    pub vanished: Vec<Bytes>,
    pub growth: Growth,
    pub evicted_events: BTreeMap<Bytes, u64>,
    pub expired_events: BTreeMap<Bytes, u64>,
    /// Tells the subscriber to stop.
    pub stop: bool,
}

impl EvictShared {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, EvictState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn now(&self) -> u64 {
        sim_wall_ms(self.skew)
    }
}

pub fn show(args: &[Bytes]) -> String {
    args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" ")
}

pub async fn connect(addr: SocketAddr) -> Result<Client, String> {
    for _ in 0..100 {
        if let Ok(c) = Client::connect(addr).await {
            return Ok(c);
        }
        madsim::time::sleep(Duration::from_millis(10)).await;
    }
    Err(format!("eviction: could not connect to {addr}"))
}

/// Sends one command and returns its reply with the window it ran in.
pub async fn call(sh: &EvictShared, conn: &mut Client, who: &str, args: &[Bytes]) -> Result<(Reply, Window), String> {
    let sent = sh.now();
    let reply = conn.call(args).await.map_err(|e| format!("{who}: `{}` failed: {e}", show(args)))?;
    let recv = sh.now();
    sh.digest.fold(|| format!("{who} {sent}..{recv} {} -> {reply:?}", show(args)));
    Ok((reply, Window { sent, recv }))
}

/// Runs one reply through the model and every per-reply eviction checker.
pub fn judge(sh: &EvictShared, model: &mut EvictModel, args: &[Bytes], reply: &Reply, w: Window) -> Result<(), String> {
    noeviction::check_refusal(args, reply, false)?;
    if let Some(v) = model.check(args, reply, w)? {
        evict_volatile::check(&v, &sh.policies)?;
        noeviction::check_vanish(&v, &sh.policies)?;
        sh.lock().vanished.push(v.key);
    }
    Ok(())
}

fn think(rng: &mut GlobalRng) -> Duration {
    match rng.gen_range(0..100) {
        0..=1 => Duration::from_millis(rng.gen_range(1000..3000)),
        2..=9 => Duration::from_millis(rng.gen_range(5..100)),
        _ => Duration::from_micros(rng.gen_range(0..3000)),
    }
}

async fn writer(id: usize, sh: Arc<EvictShared>) -> Result<(), String> {
    let who = format!("evict-writer-{id}");
    let mut conn = connect(sh.server).await?;
    let mut rng = thread_rng();
    let (mut model, mut seq) = (EvictModel::default(), 0u64);
    for n in 0..sh.ops_per_writer {
        madsim::time::sleep(think(&mut rng)).await;
        if rng.gen_bool(0.08) {
            let (set, get) = evict_ops::transaction(&mut Gen { rng: &mut rng, id, seq: &mut seq });
            transaction(&sh, &mut conn, &who, &mut model, &set, &get).await?;
            continue;
        }
        let args = evict_ops::draw(&mut Gen { rng: &mut rng, id, seq: &mut seq });
        let (reply, w) = call(&sh, &mut conn, &who, &args).await?;
        judge(&sh, &mut model, &args, &reply, w).map_err(|e| format!("{who} at {}..{}ms: {e}", w.sent, w.recv))?;
        let read_only = matches!(&args[0][..], b"GET" | b"HGET" | b"LRANGE");
        if !read_only && !matches!(reply, Reply::Error(_)) {
            evict_probe::audit(&sh, &mut conn, &who).await?;
        }
        if n % 16 == 0 {
            evict_probe::info_evicted(&sh, &mut conn, &who).await?;
        }
    }
    Ok(())
}

/// MULTI / SET k v / GET k / EXEC, judged by `evict_tx`.
async fn transaction(
    sh: &EvictShared,
    conn: &mut Client,
    who: &str,
    model: &mut EvictModel,
    set: &[Bytes],
    get: &[Bytes],
) -> Result<(), String> {
    let (multi, _) = call(sh, conn, who, &[Bytes::from("MULTI")]).await?;
    if multi != Reply::ok() {
        return Err(format!("{who}: MULTI replied {multi:?}"));
    }
    let (queued_set, w) = call(sh, conn, who, set).await?;
    noeviction::check_refusal(set, &queued_set, true)?;
    let (queued_get, _) = call(sh, conn, who, get).await?;
    noeviction::check_refusal(get, &queued_get, true)?;
    let (exec, w_exec) = call(sh, conn, who, &[Bytes::from("EXEC")]).await?;
    let w = Window { sent: w.sent, recv: w_exec.recv };
    evict_tx::check(model, set, get, [&queued_set, &queued_get], &exec, w)
        .map_err(|e| format!("{who} at {}..{}ms: {e}", w.sent, w.recv))
}

/// Switches maxmemory or the policy 0–3 times while the writers run.
async fn changer(sh: Arc<EvictShared>) -> Result<(), String> {
    let who = "evict-config";
    let mut conn = connect(sh.server).await?;
    let mut rng = thread_rng();
    for _ in 0..rng.gen_range(0..=3) {
        madsim::time::sleep(Duration::from_millis(rng.gen_range(200..4000))).await;
        let (args, policy) = if rng.gen_bool(0.5) {
            let p = POLICIES[rng.gen_range(0..POLICIES.len())];
            (vec![Bytes::from("CONFIG"), Bytes::from("SET"), Bytes::from("maxmemory-policy"), Bytes::from(p)], Some(p))
        } else {
            let m = sh.maxmemory * [2u64, 3, 6, 8][rng.gen_range(0..4)] / 4;
            sh.limits.record(sh.now(), m);
            (
                vec![Bytes::from("CONFIG"), Bytes::from("SET"), Bytes::from("maxmemory"), Bytes::from(m.to_string())],
                None,
            )
        };
        let (reply, w) = call(&sh, &mut conn, who, &args).await?;
        if reply != Reply::ok() {
            return Err(format!("{who}: `{}` replied {reply:?}", show(&args)));
        }
        if let Some(p) = policy {
            sh.policies.record(w.sent, w.recv, p);
        }
    }
    Ok(())
}

/// The whole workload; `Err` is the first broken invariant.
pub async fn run(sh: Arc<EvictShared>) -> Result<(), String> {
    let subscriber = evict_probe::subscribe(sh.clone()).await?;
    let mut tasks = Vec::new();
    for id in 0..sh.writers {
        tasks.push(madsim::task::spawn(writer(id, sh.clone())));
    }
    tasks.push(madsim::task::spawn(changer(sh.clone())));
    for t in tasks {
        t.await.map_err(|e| format!("eviction: a client task failed: {e}"))??;
    }
    let out = evict_probe::finish(&sh).await;
    sh.lock().stop = true;
    let _ = subscriber.await;
    out
}
