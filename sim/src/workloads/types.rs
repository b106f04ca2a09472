//! The data-type workload: each client runs hash, list, set and sorted-set commands on its own
//! keys (checked exactly by `checkers::types_model`), now and then on a key of another type
//! (WRONGTYPE), and blocking pops that a push from its second connection serves — or that time
//! out (`checkers::blocking`).

use crate::checkers::blocking::{self, Round};
use crate::checkers::types_model::{score_text, TypesModel};
use crate::client::{Client, Reply};
use crate::digest::Digest;
use crate::rt::sim_wall_ms;
use bytes::Bytes;
use madsim::rand::{thread_rng, GlobalRng, Rng};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub struct TypesShared {
    pub server: SocketAddr,
    pub server_skew_ms: i64,
    pub ops_per_client: usize,
    pub digest: Digest,
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn show(args: &[Bytes]) -> String {
    args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" ")
}

/// Keys per type and client: few, so commands meet existing values often.
const KEYS_PER_TYPE: usize = 3;

struct Gen<'a> {
    rng: &'a mut GlobalRng,
    client: usize,
    seq: u64,
}

impl Gen<'_> {
    /// A key of type letter `t` (h, l, s, z); one time in twenty, one of another type.
    fn key(&mut self, t: char) -> Bytes {
        let t = if self.rng.gen_bool(0.05) { ['h', 'l', 's', 'z'][self.rng.gen_range(0..4)] } else { t };
        Bytes::from(format!("c{}:{t}{}", self.client, self.rng.gen_range(0..KEYS_PER_TYPE)))
    }

    fn field(&mut self) -> Bytes {
        Bytes::from(format!("f{}", self.rng.gen_range(0..5)))
    }

    /// A hash value: mostly small integers (so HINCRBY works), sometimes text.
    fn hvalue(&mut self) -> Bytes {
        self.seq += 1;
        if self.rng.gen_bool(0.7) {
            Bytes::from(self.rng.gen_range(-3i64..20).to_string())
        } else {
            Bytes::from(format!("v{}", self.seq))
        }
    }

    fn item(&mut self) -> Bytes {
        self.seq += 1;
        Bytes::from(format!("i{}-{}", self.client, self.seq))
    }

    fn member(&mut self) -> Bytes {
        Bytes::from(format!("m{}", self.rng.gen_range(0..8)))
    }

    /// Scores on halves keep every sum exact.
    fn score(&mut self) -> Bytes {
        score_text(self.rng.gen_range(-8i64..12) as f64 / 2.0)
    }

    fn int(&mut self, lo: i64, hi: i64) -> Bytes {
        Bytes::from(self.rng.gen_range(lo..hi).to_string())
    }

    fn side(&mut self) -> Bytes {
        if self.rng.gen_bool(0.5) {
            b("LEFT")
        } else {
            b("RIGHT")
        }
    }

    fn pairs(&mut self, n: usize, mut f: impl FnMut(&mut Self) -> [Bytes; 2]) -> Vec<Bytes> {
        (0..n).flat_map(|_| f(self)).collect()
    }

    fn zadd(&mut self) -> Vec<Bytes> {
        let mut a = vec![b("ZADD"), self.key('z')];
        let opts: &[&'static str] =
            [&[][..], &["NX"], &["XX"], &["GT"], &["LT"], &["XX", "GT"], &["XX", "LT"]][self.rng.gen_range(0..7)];
        a.extend(opts.iter().map(|o| b(o)));
        if self.rng.gen_bool(0.3) {
            a.push(b("CH"));
        }
        let n = self.rng.gen_range(1..4);
        a.extend(self.pairs(n, |g| [g.score(), g.member()]));
        a
    }

    fn command(&mut self) -> Vec<Bytes> {
        // The arms' widths are their weights; DEL (the last) gets 4 in 76.
        match self.rng.gen_range(0..76) {
            0..=5 => {
                let n = self.rng.gen_range(1..4);
                [vec![b("HSET"), self.key('h')], self.pairs(n, |g| [g.field(), g.hvalue()])].concat()
            }
            6..=7 => vec![b("HDEL"), self.key('h'), self.field(), self.field()],
            8..=10 => vec![b("HINCRBY"), self.key('h'), self.field(), self.int(-5, 10)],
            11..=12 => vec![b("HGET"), self.key('h'), self.field()],
            13..=14 => vec![b("HGETALL"), self.key('h')],
            15 => vec![b("HLEN"), self.key('h')],
            16..=20 => {
                let cmd = if self.rng.gen_bool(0.5) { b("LPUSH") } else { b("RPUSH") };
                let n = self.rng.gen_range(1..4);
                let items: Vec<Bytes> = (0..n).map(|_| self.item()).collect();
                [vec![cmd, self.key('l')], items].concat()
            }
            21..=23 => {
                let cmd = if self.rng.gen_bool(0.5) { b("LPOP") } else { b("RPOP") };
                let mut a = vec![cmd, self.key('l')];
                if self.rng.gen_bool(0.4) {
                    a.push(self.int(1, 4));
                }
                a
            }
            24..=26 => vec![b("LRANGE"), self.key('l'), self.int(-4, 3), self.int(-3, 5)],
            27..=29 => vec![b("LMOVE"), self.key('l'), self.key('l'), self.side(), self.side()],
            30 => vec![b("LLEN"), self.key('l')],
            31 => vec![b("LINDEX"), self.key('l'), self.int(-3, 3)],
            32..=37 => {
                let n = self.rng.gen_range(1..4);
                let m: Vec<Bytes> = (0..n).map(|_| self.member()).collect();
                [vec![b("SADD"), self.key('s')], m].concat()
            }
            38..=39 => vec![b("SREM"), self.key('s'), self.member(), self.member()],
            40..=41 => vec![b("SMEMBERS"), self.key('s')],
            42 => vec![b("SCARD"), self.key('s')],
            43 => vec![b("SISMEMBER"), self.key('s'), self.member()],
            44..=46 => {
                let cmd = if self.rng.gen_bool(0.6) { b("SINTERSTORE") } else { b("SUNIONSTORE") };
                vec![cmd, self.key('s'), self.key('s'), self.key('s')]
            }
            47..=53 => self.zadd(),
            54..=56 => vec![b("ZINCRBY"), self.key('z'), self.score(), self.member()],
            57..=59 => {
                let mut a = vec![b("ZRANGE"), self.key('z'), self.int(-4, 2), self.int(-3, 6)];
                if self.rng.gen_bool(0.6) {
                    a.push(b("WITHSCORES"));
                }
                a
            }
            60..=62 => {
                let cmd = if self.rng.gen_bool(0.5) { b("ZPOPMIN") } else { b("ZPOPMAX") };
                let mut a = vec![cmd, self.key('z')];
                if self.rng.gen_bool(0.5) {
                    a.push(self.int(0, 4));
                }
                a
            }
            63..=64 => vec![b("ZREM"), self.key('z'), self.member(), self.member()],
            65..=66 => vec![b("ZSCORE"), self.key('z'), self.member()],
            67 => vec![b("ZRANK"), self.key('z'), self.member()],
            68 => vec![b("ZCARD"), self.key('z')],
            69..=71 => {
                let t = ['h', 'l', 's', 'z'][self.rng.gen_range(0..4)];
                vec![b("TYPE"), self.key(t)]
            }
            _ => {
                let (t1, t2) =
                    (['h', 'l', 's', 'z'][self.rng.gen_range(0..4)], ['h', 'l', 's', 'z'][self.rng.gen_range(0..4)]);
                vec![b("DEL"), self.key(t1), self.key(t2)]
            }
        }
    }
}

struct Conn {
    c: Client,
    name: String,
    sh: Arc<TypesShared>,
}

impl Conn {
    async fn open(name: String, sh: Arc<TypesShared>) -> Result<Conn, String> {
        for _ in 0..100 {
            match Client::connect(sh.server).await {
                Ok(c) => return Ok(Conn { c, name, sh }),
                Err(_) => madsim::time::sleep(Duration::from_millis(10)).await,
            }
        }
        Err(format!("{name}: could not connect to {}", sh.server))
    }

    /// Sends `args`; returns the reply with the server-clock window it was in flight.
    async fn call(&mut self, args: &[Bytes]) -> Result<(Reply, u64, u64), String> {
        let sent = sim_wall_ms(self.sh.server_skew_ms);
        let reply = self.c.call(args).await.map_err(|e| format!("{}: `{}` failed: {e}", self.name, show(args)))?;
        let recv = sim_wall_ms(self.sh.server_skew_ms);
        let name = &self.name;
        self.sh.digest.fold(|| format!("{name} {sent}..{recv} {} -> {reply:?}", show(args)));
        Ok((reply, sent, recv))
    }
}

/// One blocking pop on an empty key of this client, maybe served by a push from the other
/// connection after a delay, maybe timing out first.
async fn blocking_round(
    id: usize,
    rng: &mut GlobalRng,
    main: &mut Conn,
    waiter: &mut Conn,
    seq: u64,
) -> Result<(), String> {
    let zset = rng.gen_bool(0.35);
    let key = Bytes::from(format!("c{id}:q{}", if zset { "z" } else { "l" }));
    let value = Bytes::from(format!("p{id}-{seq}"));
    let push = rng.gen_bool(0.75);
    // 0 blocks forever: only when a push will come.
    let timeout_ms: u64 = if push && rng.gen_bool(0.15) { 0 } else { rng.gen_range(20..400) };
    let delay = Duration::from_millis(rng.gen_range(0..500));
    let pop =
        if zset { ["BZPOPMIN", "BZPOPMAX"][rng.gen_range(0..2)] } else { ["BLPOP", "BRPOP"][rng.gen_range(0..2)] };
    let timeout = Bytes::from(format!("{}.{:03}", timeout_ms / 1000, timeout_ms % 1000));
    let block_args = vec![Bytes::from_static(pop.as_bytes()), key.clone(), timeout];
    let push_args = if zset {
        vec![b("ZADD"), key.clone(), b("1"), value.clone()]
    } else {
        vec![b("RPUSH"), key.clone(), value.clone()]
    };
    let blocked = waiter.call(&block_args);
    let pusher = async {
        madsim::time::sleep(delay).await;
        if push {
            main.call(&push_args).await.map(Some)
        } else {
            Ok(None)
        }
    };
    let (blocked, pushed) = tokio::join!(blocked, pusher);
    let (reply, sent, recv) = blocked?;
    let pushed = pushed?;
    let round = Round { zset, key: key.clone(), value, timeout_ms, sent, recv, push: pushed };
    let left = round.check(&reply)?;
    // Whatever the pop left behind goes now, so the next round starts from an empty key.
    let drain = if zset { vec![b("ZPOPMIN"), key] } else { vec![b("LPOP"), key] };
    let (r, _, _) = main.call(&drain).await?;
    blocking::check_leftover(&round, left, &r)
}

pub async fn client(id: usize, sh: Arc<TypesShared>) -> Result<(), String> {
    let mut rng = thread_rng();
    let mut main = Conn::open(format!("d{id}"), sh.clone()).await?;
    let mut waiter = Conn::open(format!("d{id}w"), sh.clone()).await?;
    let mut model = TypesModel::default();
    let mut g = Gen { rng: &mut rng, client: id, seq: 0 };
    for _ in 0..sh.ops_per_client {
        let pause = match g.rng.gen_range(0..100) {
            0..=4 => Duration::from_millis(g.rng.gen_range(5..100)),
            _ => Duration::from_micros(g.rng.gen_range(0..4000)),
        };
        madsim::time::sleep(pause).await;
        if g.rng.gen_bool(0.1) {
            g.seq += 1;
            let seq = g.seq;
            blocking_round(id, g.rng, &mut main, &mut waiter, seq).await.map_err(|e| format!("client d{id}: {e}"))?;
            continue;
        }
        let args = g.command();
        let (reply, sent, recv) = main.call(&args).await?;
        model.check(&args, &reply).map_err(|e| format!("client d{id} at {sent}..{recv}ms: {e}"))?;
    }
    Ok(())
}
