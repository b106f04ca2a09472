//! The string workload: each client mixes commands on its own private keys (checked exactly by
//! the sequential model, TTLs included) with multi-key writes and reads of shared key groups that
//! span shards (checked by the atomicity checker). Sleeps are seeded, with occasional jumps of
//! seconds so TTLs expire mid-run.
//!
//! Adding a command is one row in [`PRIVATE_OPS`] (plus its arm in `checkers::model` if the model
//! does not know it yet). Rows marked `extended` (INCR, EXPIRE, TTL, ... ) are on unless the run says `--basic`.

use crate::checkers::{atomicity, counters, model};
use crate::client::{Client, Reply};
use crate::digest::Digest;
use crate::rt::sim_wall_ms;
use bytes::Bytes;
use madsim::rand::{thread_rng, GlobalRng, Rng};
use std::net::SocketAddr;
use std::time::Duration;

/// What every client of one run shares.
pub struct Shared {
    pub server: SocketAddr,
    /// The server's clock skew: the model measures TTLs on the server's clock.
    pub server_skew_ms: i64,
    /// Key groups for the atomicity checker, each spanning as many shards as it can.
    pub groups: Vec<Vec<Bytes>>,
    pub ops_per_client: usize,
    pub extended: bool,
    pub digest: Digest,
    /// Shared counters (`INCR`/`GET`), used only when `extended`.
    pub counters: Vec<Bytes>,
    pub counter_state: counters::Counters,
}

/// Which checker a request belongs to.
enum Target {
    Private,
    Group(usize),
    Counter(Bytes, bool),
}

/// What a generator may use: the seeded RNG and this client's keys.
pub struct Gen<'a> {
    rng: &'a mut GlobalRng,
    client: usize,
    seq: &'a mut u64,
    wall_ms: u64,
}

const PRIVATE_KEYS: usize = 6;

impl Gen<'_> {
    fn key(&mut self) -> Bytes {
        let k = self.rng.gen_range(0..PRIVATE_KEYS);
        Bytes::from(format!("c{}:k{k}", self.client))
    }

    /// `n` distinct private keys.
    fn keys(&mut self, n: usize) -> Vec<Bytes> {
        let mut idx: Vec<usize> = (0..PRIVATE_KEYS).collect();
        for i in 0..n {
            let j = self.rng.gen_range(i..PRIVATE_KEYS);
            idx.swap(i, j);
        }
        idx[..n].iter().map(|k| Bytes::from(format!("c{}:k{k}", self.client))).collect()
    }

    /// A fresh value: a unique string, or a small integer (for INCR).
    fn value(&mut self) -> Bytes {
        *self.seq += 1;
        if self.rng.gen_bool(0.3) {
            Bytes::from(self.rng.gen_range(-5i64..100).to_string())
        } else {
            Bytes::from(format!("v{}-{}", self.client, self.seq))
        }
    }

    fn n(&mut self, lo: u64, hi: u64) -> Bytes {
        Bytes::from(self.rng.gen_range(lo..hi).to_string())
    }

    fn set(&mut self) -> Vec<Bytes> {
        let mut a = vec![b("SET"), self.key(), self.value()];
        match self.rng.gen_range(0..10) {
            0 => a.extend([b("EX"), self.n(1, 4)]),
            1 | 2 => a.extend([b("PX"), self.n(50, 3000)]),
            3 => {
                let at = self.wall_ms / 1000 + self.rng.gen_range(2..5);
                a.extend([b("EXAT"), Bytes::from(at.to_string())])
            }
            4 => {
                let at = self.wall_ms + self.rng.gen_range(100..3000);
                a.extend([b("PXAT"), Bytes::from(at.to_string())])
            }
            5 => a.push(b("KEEPTTL")),
            _ => {}
        }
        match self.rng.gen_range(0..6) {
            0 => a.push(b("NX")),
            1 => a.push(b("XX")),
            _ => {}
        }
        if self.rng.gen_bool(0.25) {
            a.push(b("GET"));
        }
        a
    }
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

type Make = fn(&mut Gen<'_>) -> Vec<Bytes>;

/// One row per command on private keys: (name, weight, extended, generator).
pub const PRIVATE_OPS: &[(&str, u32, bool, Make)] = &[
    ("GET", 20, false, |g| vec![b("GET"), g.key()]),
    ("SET", 30, false, |g| g.set()),
    ("MGET", 6, false, |g| [vec![b("MGET")], g.keys(3)].concat()),
    ("MSET", 5, false, |g| {
        let mut a = vec![b("MSET")];
        for k in g.keys(2) {
            a.extend([k, g.value()]);
        }
        a
    }),
    ("DEL", 6, false, |g| [vec![b("DEL")], g.keys(2)].concat()),
    ("EXISTS", 5, false, |g| [vec![b("EXISTS")], g.keys(3)].concat()),
    ("PING", 1, false, |_| vec![b("PING")]),
    ("ECHO", 1, false, |g| vec![b("ECHO"), g.value()]),
    ("INCR", 6, true, |g| vec![b("INCR"), g.key()]),
    ("EXPIRE", 4, true, |g| vec![b("EXPIRE"), g.key(), g.n(1, 4)]),
    ("TTL", 3, true, |g| vec![b("TTL"), g.key()]),
    ("PTTL", 3, true, |g| vec![b("PTTL"), g.key()]),
    ("PERSIST", 2, true, |g| vec![b("PERSIST"), g.key()]),
    ("RENAME", 2, true, |g| [vec![b("RENAME")], g.keys(2)].concat()),
];

/// Seeded think time: mostly short, sometimes a jump of seconds so TTLs run out mid-run.
fn think(rng: &mut GlobalRng) -> Duration {
    match rng.gen_range(0..100) {
        0..=2 => Duration::from_millis(rng.gen_range(1000..3500)),
        3..=9 => Duration::from_millis(rng.gen_range(5..100)),
        _ => Duration::from_micros(rng.gen_range(0..5000)),
    }
}

fn show(args: &[Bytes]) -> String {
    args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" ")
}

/// Runs one client to completion; `Err` is the first invariant it saw broken.
pub async fn client(id: usize, sh: std::sync::Arc<Shared>) -> Result<(), String> {
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
    let mut conn = conn.ok_or_else(|| format!("client {id}: could not connect to {}", sh.server))?;
    let ops: Vec<_> = PRIVATE_OPS.iter().filter(|op| sh.extended || !op.2).collect();
    let total: u32 = ops.iter().map(|op| op.1).sum();
    let mut model = model::Model::default();
    let mut seq = 0u64;
    for _ in 0..sh.ops_per_client {
        let pause = think(&mut rng);
        if !pause.is_zero() {
            madsim::time::sleep(pause).await;
        }
        let target = match rng.gen_range(0..100) {
            0..=34 => Target::Group(rng.gen_range(0..sh.groups.len())),
            35..=44 if sh.extended => {
                Target::Counter(sh.counters[rng.gen_range(0..sh.counters.len())].clone(), rng.gen_bool(0.7))
            }
            _ => Target::Private,
        };
        let args = match &target {
            Target::Group(g) => {
                let keys = &sh.groups[*g];
                match rng.gen_range(0..20) {
                    0 => [vec![b("DEL")], keys.clone()].concat(),
                    1..=6 => {
                        seq += 1;
                        let token = Bytes::from(format!("t{id}-{seq}"));
                        let mut a = vec![b("MSET")];
                        for k in keys {
                            a.extend([k.clone(), token.clone()]);
                        }
                        a
                    }
                    _ => [vec![b("MGET")], keys.clone()].concat(),
                }
            }
            Target::Counter(k, incr) => vec![if *incr { b("INCR") } else { b("GET") }, k.clone()],
            Target::Private => {
                let mut pick = rng.gen_range(0..total);
                let mut op = ops[0];
                for o in &ops {
                    if pick < o.1 {
                        op = o;
                        break;
                    }
                    pick -= o.1;
                }
                let mut g = Gen { rng: &mut rng, client: id, seq: &mut seq, wall_ms: sim_wall_ms(sh.server_skew_ms) };
                let args = (op.3)(&mut g);
                // A key the model lost track of is pinned down again first.
                match args[1..].iter().find(|k| model.slot(k) == model::Slot::Unknown) {
                    Some(k) => vec![b("DEL"), k.clone()],
                    None => args,
                }
            }
        };
        let ticket = match &target {
            Target::Counter(k, incr) => Some(sh.counter_state.send(k, *incr)),
            _ => None,
        };
        let sent = sim_wall_ms(sh.server_skew_ms);
        let reply = conn.call(&args).await.map_err(|e| format!("client {id}: `{}` failed: {e}", show(&args)))?;
        let recv = sim_wall_ms(sh.server_skew_ms);
        sh.digest.fold(|| format!("c{id} {sent}..{recv} {} -> {reply:?}", show(&args)));
        let w = model::Window { sent, recv };
        let verdict = match (&target, ticket) {
            (Target::Group(g), _) if args[0] == "MGET" => atomicity::check_group_read(&sh.groups[*g], &reply),
            (Target::Group(_), _) if args[0] == "MSET" && reply != Reply::ok() => {
                Err(format!("atomicity: `{}` replied {reply:?}", show(&args)))
            }
            (Target::Group(_), _) => Ok(()),
            (Target::Counter(k, incr), Some(t)) => sh.counter_state.reply(k, *incr, t, &reply),
            _ => model.check(&args, &reply, w),
        };
        verdict.map_err(|e| format!("client {id} at {sent}..{recv}ms: {e}"))?;
    }
    Ok(())
}
