//! Invariant: eviction only ever makes a key disappear. Every reply on a client's private keys
//! (strings, hashes, lists) must be what the client's own acknowledged writes predict, or what
//! they predict for a key that vanished meanwhile (evicted or expired) — never another value.
//!
//! Each client owns its keys, so its requests are the only writers. A key's state is a set of
//! candidates: after every reply the model keeps the candidates that explain it. Any key may
//! vanish between two requests, so "absent" is always a candidate too; when only absence
//! explains a reply, the check returns a [`Vanish`] for the policy checkers (`evict_volatile`,
//! `noeviction`) to judge: whether the key was allowed to go.

use crate::client::Reply;
use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};

pub use super::model::Window;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Data {
    Str(Bytes),
    Hash(BTreeMap<Bytes, Bytes>),
    List(VecDeque<Bytes>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Val {
    pub data: Data,
    /// Earliest and latest possible deadline on the server's clock (ms), if it has a TTL.
    pub deadline: Option<(u64, u64)>,
}

pub type State = Option<Val>;

/// A key that must have vanished between two of its client's requests.
#[derive(Clone, Debug)]
pub struct Vanish {
    pub key: Bytes,
    /// What the key could have held before (none of it absent).
    pub before: Vec<Val>,
    /// When it could have gone: from the send of the request that last pinned its state to the
    /// reply that showed it gone (server clock, ms).
    pub from: u64,
    pub to: u64,
}

struct Key {
    states: Vec<State>,
    /// When the request that established `states` was sent.
    since: u64,
}

#[derive(Default)]
pub struct EvictModel {
    keys: BTreeMap<Bytes, Key>,
}

enum Expect {
    Exact(Reply),
    AnyError,
}

/// Redis's error for a denyoom command refused at maxmemory.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// The commands of this workload that Redis flags `denyoom` (refused when memory is full).
pub fn is_denyoom(cmd: &str) -> bool {
    matches!(cmd, "SET" | "SETEX" | "APPEND" | "INCR" | "HSET" | "RPUSH")
}

fn upper(b: &Bytes) -> String {
    String::from_utf8_lossy(b).to_ascii_uppercase()
}

fn num(b: &Bytes) -> u64 {
    std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn relative(w: Window, secs: u64) -> Option<(u64, u64)> {
    Some((w.sent + secs * 1000, w.recv + secs * 1000))
}

fn show(args: &[Bytes]) -> String {
    args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" ")
}

impl EvictModel {
    /// Checks `reply` to `args` (one key: `args[1]`) and advances the model. `Ok(Some(v))`
    /// when the reply is explained only by the key having vanished.
    pub fn check(&mut self, args: &[Bytes], reply: &Reply, w: Window) -> Result<Option<Vanish>, String> {
        let cmd = upper(&args[0]);
        let key = args[1].clone();
        let entry = self.keys.entry(key.clone()).or_insert(Key { states: vec![None], since: 0 });
        if is_denyoom(&cmd) && *reply == Reply::Error(OOM.into()) {
            // Refused before it ran: nothing changed (the `noeviction` checker judges refusals).
            return Ok(None);
        }
        let mut posts: Vec<State> = Vec::new();
        let mut vanished_posts: Vec<State> = Vec::new();
        let mut tried = Vec::new();
        let present: Vec<Val> = entry.states.iter().flatten().cloned().collect();
        let mut candidates: Vec<(State, bool)> = entry.states.iter().map(|s| (s.clone(), false)).collect();
        if !present.is_empty() {
            candidates.push((None, true));
        }
        for (pre, vanished) in candidates {
            let (expect, post) = step(&cmd, args, &pre, w);
            let ok = match &expect {
                Expect::Exact(r) => r == reply,
                Expect::AnyError => matches!(reply, Reply::Error(_)),
            };
            if !ok {
                if let Expect::Exact(r) = expect {
                    tried.push(r);
                }
                continue;
            }
            let out = if vanished { &mut vanished_posts } else { &mut posts };
            if !out.contains(&post) {
                out.push(post);
            }
        }
        let vanish = if posts.is_empty() && !vanished_posts.is_empty() {
            Some(Vanish { key: key.clone(), before: present, from: entry.since, to: w.recv })
        } else {
            None
        };
        for p in vanished_posts {
            if !posts.contains(&p) {
                posts.push(p);
            }
        }
        if posts.is_empty() {
            return Err(format!(
                "evict-model: `{}` replied {reply:?}, but the key held one of {:?} (or nothing): \
                 expected one of {tried:?}",
                show(args),
                entry.states
            ));
        }
        entry.states = posts;
        entry.since = w.sent;
        Ok(vanish)
    }
}

/// One command applied to one possible prior state: the reply and the next state.
fn step(cmd: &str, args: &[Bytes], pre: &State, w: Window) -> (Expect, State) {
    let exact = |r: Reply, post: State| (Expect::Exact(r), post);
    let keep_ttl = |data: Data| Some(Val { data, deadline: pre.as_ref().and_then(|v| v.deadline) });
    let data = pre.as_ref().map(|v| &v.data);
    match (cmd, data) {
        ("GET", Some(Data::Str(v))) => exact(Reply::bulk(v), pre.clone()),
        ("GET", None) => exact(Reply::nil(), None),
        ("SET", _) => {
            let deadline = match args.get(3).map(upper).as_deref() {
                Some("EX") => relative(w, num(&args[4])),
                _ => None,
            };
            exact(Reply::ok(), Some(Val { data: Data::Str(args[2].clone()), deadline }))
        }
        ("SETEX", _) => {
            exact(Reply::ok(), Some(Val { data: Data::Str(args[3].clone()), deadline: relative(w, num(&args[2])) }))
        }
        ("APPEND", None) => {
            exact(Reply::Int(args[2].len() as i64), Some(Val { data: Data::Str(args[2].clone()), deadline: None }))
        }
        ("APPEND", Some(Data::Str(v))) => {
            let joined = Bytes::from([&v[..], &args[2][..]].concat());
            exact(Reply::Int(joined.len() as i64), keep_ttl(Data::Str(joined)))
        }
        ("INCR", None) => exact(Reply::Int(1), Some(Val { data: Data::Str(Bytes::from("1")), deadline: None })),
        ("INCR", Some(Data::Str(v))) => match std::str::from_utf8(v).ok().and_then(|s| s.parse::<i64>().ok()) {
            Some(n) if n < i64::MAX && v[..] == *n.to_string().as_bytes() => {
                exact(Reply::Int(n + 1), keep_ttl(Data::Str(Bytes::from((n + 1).to_string()))))
            }
            _ => (Expect::AnyError, pre.clone()),
        },
        ("EXPIRE", None) => exact(Reply::Int(0), None),
        ("EXPIRE", Some(d)) => {
            exact(Reply::Int(1), Some(Val { data: d.clone(), deadline: relative(w, num(&args[2])) }))
        }
        ("PERSIST", Some(d)) if pre.as_ref().is_some_and(|v| v.deadline.is_some()) => {
            exact(Reply::Int(1), Some(Val { data: d.clone(), deadline: None }))
        }
        ("PERSIST", _) => exact(Reply::Int(0), pre.clone()),
        ("DEL", _) => exact(Reply::Int(pre.is_some() as i64), None),
        ("HSET", None) => {
            let h = BTreeMap::from([(args[2].clone(), args[3].clone())]);
            exact(Reply::Int(1), Some(Val { data: Data::Hash(h), deadline: None }))
        }
        ("HSET", Some(Data::Hash(h))) => {
            let mut h = h.clone();
            let added = h.insert(args[2].clone(), args[3].clone()).is_none();
            exact(Reply::Int(added as i64), keep_ttl(Data::Hash(h)))
        }
        ("HGET", None) => exact(Reply::nil(), None),
        ("HGET", Some(Data::Hash(h))) => exact(h.get(&args[2]).map_or(Reply::nil(), Reply::bulk), pre.clone()),
        ("RPUSH", None) => {
            let l = VecDeque::from([args[2].clone()]);
            exact(Reply::Int(1), Some(Val { data: Data::List(l), deadline: None }))
        }
        ("RPUSH", Some(Data::List(l))) => {
            let mut l = l.clone();
            l.push_back(args[2].clone());
            exact(Reply::Int(l.len() as i64), keep_ttl(Data::List(l)))
        }
        ("LPOP", None) => exact(Reply::nil(), None),
        ("LPOP", Some(Data::List(l))) => {
            let mut l = l.clone();
            let first = l.pop_front().map_or(Reply::nil(), |v| Reply::bulk(&v));
            // Redis deletes a list when its last element goes.
            let post = if l.is_empty() { None } else { keep_ttl(Data::List(l)) };
            exact(first, post)
        }
        ("LRANGE", None) => exact(Reply::Array(Some(vec![])), None),
        ("LRANGE", Some(Data::List(l))) => exact(Reply::Array(Some(l.iter().map(Reply::bulk).collect())), pre.clone()),
        // A command on a key of another type, or one this model does not know.
        _ => (Expect::AnyError, pre.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<Bytes> {
        s.split(' ').map(|a| Bytes::copy_from_slice(a.as_bytes())).collect()
    }

    fn w(sent: u64) -> Window {
        Window { sent, recv: sent + 2 }
    }

    #[test]
    fn a_key_may_vanish_but_never_change() {
        let mut m = EvictModel::default();
        assert!(m.check(&args("SET k a"), &Reply::ok(), w(0)).unwrap().is_none());
        assert!(m.check(&args("GET k"), &Reply::bulk(&Bytes::from("a")), w(10)).unwrap().is_none());
        let v = m.check(&args("GET k"), &Reply::nil(), w(20)).unwrap().expect("a vanish");
        assert_eq!((v.from, v.to, v.before.len()), (10, 22, 1));
        // Gone stays gone until written again.
        assert!(m.check(&args("GET k"), &Reply::bulk(&Bytes::from("a")), w(30)).is_err());
        m.check(&args("APPEND k xy"), &Reply::Int(2), w(40)).unwrap();
        assert!(m.check(&args("GET k"), &Reply::bulk(&Bytes::from("axy")), w(50)).is_err(), "another value");
        m.check(&args("INCR k"), &Reply::Error("ERR value is not an integer or out of range".into()), w(60)).unwrap();
    }

    #[test]
    fn collections_and_refused_writes() {
        let mut m = EvictModel::default();
        m.check(&args("RPUSH l a"), &Reply::Int(1), w(0)).unwrap();
        m.check(&args("RPUSH l b"), &Reply::Error(OOM.into()), w(5)).unwrap();
        assert!(m
            .check(
                &args("LRANGE l 0 -1"),
                &Reply::Array(Some(vec![Reply::bulk(&Bytes::from("a")), Reply::bulk(&Bytes::from("b"))])),
                w(10)
            )
            .is_err());
        m.check(&args("LPOP l"), &Reply::bulk(&Bytes::from("a")), w(20)).unwrap();
        assert!(m.check(&args("LPOP l"), &Reply::nil(), w(30)).unwrap().is_none(), "the last pop deleted it");
        m.check(&args("HSET h f 1"), &Reply::Int(1), w(40)).unwrap();
        // Counting 1 new field again means the hash vanished in between.
        assert!(m.check(&args("HSET h f 2"), &Reply::Int(1), w(50)).unwrap().is_some());
        assert!(m.check(&args("HGET h f"), &Reply::bulk(&Bytes::from("1")), w(60)).is_err());
    }
}
