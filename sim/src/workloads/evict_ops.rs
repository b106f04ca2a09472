//! The eviction writers' commands: one row per command (name, weight, generator) on the
//! writer's private keys — strings `w{id}:s*` (small values, integers for INCR), big strings
//! `w{id}:b*` (what fills memory), hashes `w{id}:h*` and lists `w{id}:l*`. TTLs are mostly long
//! (minutes: what volatile-* policies evict) and sometimes seconds (so keys also expire).

use bytes::Bytes;
use madsim::rand::{GlobalRng, Rng};

const SMALL_KEYS: usize = 24;
const BIG_KEYS: usize = 40;
const HASH_KEYS: usize = 6;
const LIST_KEYS: usize = 6;
/// The biggest value a writer sends: `memory_bounds::MAX_WRITE_GROWTH` covers one of them.
pub const MAX_VALUE: usize = 320;

pub struct Gen<'a> {
    pub rng: &'a mut GlobalRng,
    pub id: usize,
    pub seq: &'a mut u64,
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

impl Gen<'_> {
    fn key(&mut self, kind: char, n: usize) -> Bytes {
        let k = self.rng.gen_range(0..n);
        Bytes::from(format!("w{}:{kind}{k}", self.id))
    }
    fn small(&mut self) -> Bytes {
        self.key('s', SMALL_KEYS)
    }
    fn big(&mut self) -> Bytes {
        self.key('b', BIG_KEYS)
    }
    fn coll(&mut self) -> Bytes {
        if self.rng.gen_bool(0.5) {
            self.key('h', HASH_KEYS)
        } else {
            self.key('l', LIST_KEYS)
        }
    }

    /// A value unique to this write, `len` bytes or a little more; sometimes an integer.
    fn value(&mut self, len: usize) -> Bytes {
        *self.seq += 1;
        if len < 32 && self.rng.gen_bool(0.3) {
            return Bytes::from(self.rng.gen_range(-5i64..1000).to_string());
        }
        let mut v = format!("v{}-{}:", self.id, self.seq);
        while v.len() < len {
            v.push((b'a' + (v.len() % 26) as u8) as char);
        }
        Bytes::from(v)
    }

    fn ttl(&mut self) -> Bytes {
        let secs = if self.rng.gen_bool(0.8) { self.rng.gen_range(60..600) } else { self.rng.gen_range(1..4) };
        Bytes::from(secs.to_string())
    }

    fn set(&mut self, key: Bytes, len: usize) -> Vec<Bytes> {
        let v = self.value(len);
        if self.rng.gen_bool(0.35) {
            let t = self.ttl();
            vec![b("SET"), key, v, b("EX"), t]
        } else {
            vec![b("SET"), key, v]
        }
    }
}

type Make = fn(&mut Gen<'_>) -> Vec<Bytes>;

pub const OPS: &[(&str, u32, Make)] = &[
    ("GET", 14, |g| vec![b("GET"), g.small()]),
    ("SET", 14, |g| {
        let (k, n) = (g.small(), g.rng.gen_range(4..48));
        g.set(k, n)
    }),
    ("SETEX", 4, |g| {
        let (k, t, v) = (g.small(), g.ttl(), g.value(24));
        vec![b("SETEX"), k, t, v]
    }),
    ("EXPIRE", 6, |g| {
        let k = if g.rng.gen_bool(0.7) { g.small() } else { g.coll() };
        vec![b("EXPIRE"), k, g.ttl()]
    }),
    ("PERSIST", 4, |g| {
        let k = if g.rng.gen_bool(0.7) { g.small() } else { g.coll() };
        vec![b("PERSIST"), k]
    }),
    ("INCR", 6, |g| vec![b("INCR"), g.small()]),
    ("APPEND", 5, |g| {
        let (k, v) = (g.small(), g.value(8));
        vec![b("APPEND"), k, v]
    }),
    ("DEL", 4, |g| {
        let k = match g.rng.gen_range(0..3) {
            0 => g.small(),
            1 => g.big(),
            _ => g.coll(),
        };
        vec![b("DEL"), k]
    }),
    ("SET big", 22, |g| {
        let (k, n) = (g.big(), g.rng.gen_range(100..MAX_VALUE - 16));
        g.set(k, n)
    }),
    ("GET big", 6, |g| vec![b("GET"), g.big()]),
    ("HSET", 6, |g| {
        let (k, f, v) = (g.key('h', HASH_KEYS), g.rng.gen_range(0..12), g.value(16));
        vec![b("HSET"), k, Bytes::from(format!("f{f}")), v]
    }),
    ("HGET", 4, |g| {
        let (k, f) = (g.key('h', HASH_KEYS), g.rng.gen_range(0..12));
        vec![b("HGET"), k, Bytes::from(format!("f{f}"))]
    }),
    ("RPUSH", 5, |g| {
        let (k, v) = (g.key('l', LIST_KEYS), g.value(16));
        vec![b("RPUSH"), k, v]
    }),
    ("LPOP", 2, |g| vec![b("LPOP"), g.key('l', LIST_KEYS)]),
    ("LRANGE", 3, |g| vec![b("LRANGE"), g.key('l', LIST_KEYS), b("0"), b("-1")]),
];

/// A transaction's two commands: a write that may push the shard over its share, and a read
/// of the same key that must see it.
pub fn transaction(g: &mut Gen<'_>) -> (Vec<Bytes>, Vec<Bytes>) {
    let (k, n) = if g.rng.gen_bool(0.5) { (g.big(), g.rng.gen_range(100..MAX_VALUE - 16)) } else { (g.small(), 24) };
    (g.set(k.clone(), n), vec![b("GET"), k])
}

/// Draws one command by weight.
pub fn draw(g: &mut Gen<'_>) -> Vec<Bytes> {
    let total: u32 = OPS.iter().map(|o| o.1).sum();
    let mut pick = g.rng.gen_range(0..total);
    for op in OPS {
        if pick < op.1 {
            return (op.2)(g);
        }
        pick -= op.1;
    }
    unreachable!("weights cover the draw")
}
