//! Invariant: every reply about a client's private hashes, lists, sets and sorted sets is exactly
//! what a sequential model predicts.
//!
//! The keys carry no TTL, so unlike `model` (strings) there is no doubt about time: each reply
//! has exactly one right answer. Replies whose order Redis leaves open (HGETALL, SMEMBERS) are
//! compared as multisets. Multi-key commands (LMOVE, SINTERSTORE, SUNIONSTORE, DEL) span shards,
//! since private keys hash anywhere.

use crate::client::Reply;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub const WRONGTYPE: &str = "WRONGTYPE";

#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Hash(BTreeMap<Bytes, Bytes>),
    List(VecDeque<Bytes>),
    Set(BTreeSet<Bytes>),
    Zset(BTreeMap<Bytes, f64>),
}

impl Val {
    fn type_name(&self) -> &'static str {
        match self {
            Val::Hash(_) => "hash",
            Val::List(_) => "list",
            Val::Set(_) => "set",
            Val::Zset(_) => "zset",
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Val::Hash(h) => h.is_empty(),
            Val::List(l) => l.is_empty(),
            Val::Set(s) => s.is_empty(),
            Val::Zset(z) => z.is_empty(),
        }
    }
}

/// What a reply must be.
#[derive(Debug)]
enum Want {
    Exact(Reply),
    /// An array holding these items in any order (HGETALL as pairs, SMEMBERS as members).
    Unordered(Vec<Reply>, usize),
    /// An error whose text starts with this.
    Error(&'static str),
}

impl Want {
    fn matches(&self, r: &Reply) -> bool {
        match self {
            Want::Exact(e) => e == r,
            Want::Error(prefix) => matches!(r, Reply::Error(e) if e.starts_with(prefix)),
            Want::Unordered(items, chunk) => {
                let Reply::Array(Some(got)) = r else { return false };
                let key = |v: &[Reply]| v.chunks(*chunk).map(|c| format!("{c:?}")).collect::<Vec<_>>();
                let (mut a, mut b) = (key(items), key(got));
                a.sort();
                b.sort();
                got.len() == items.len() && a == b
            }
        }
    }
}

fn int(i: i64) -> Want {
    Want::Exact(Reply::Int(i))
}

fn bulk(b: &Bytes) -> Reply {
    Reply::bulk(b)
}

fn arr(v: Vec<Reply>) -> Want {
    Want::Exact(Reply::Array(Some(v)))
}

fn text(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn upper(b: &Bytes) -> String {
    text(b).to_ascii_uppercase()
}

fn parse_i64(b: &Bytes) -> Option<i64> {
    text(b).parse().ok()
}

fn parse_f64(b: &Bytes) -> f64 {
    text(b).parse().unwrap_or(f64::NAN)
}

/// A score as Redis 7.0 prints it (`%.17g`): integral values without a fraction. The workload
/// keeps scores on halves, so this is exact.
pub fn score_text(s: f64) -> Bytes {
    if s.fract() == 0.0 && s.abs() < 1e15 {
        Bytes::from(format!("{}", s as i64))
    } else {
        Bytes::from(format!("{s}"))
    }
}

/// Redis's inclusive index range over a sequence of `len`, or `None` when it is empty.
fn index_range(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let s = if start < 0 { (len + start).max(0) } else { start };
    let e = if stop < 0 { len + stop } else { stop.min(len - 1) };
    (s <= e && s < len).then_some((s as usize, e as usize))
}

/// Members in Redis's order: by score, then bytewise by member.
fn zsorted(z: &BTreeMap<Bytes, f64>) -> Vec<(Bytes, f64)> {
    let mut v: Vec<(Bytes, f64)> = z.iter().map(|(m, s)| (m.clone(), *s)).collect();
    v.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    v
}

#[derive(Default)]
pub struct TypesModel {
    keys: BTreeMap<Bytes, Val>,
}

impl TypesModel {
    /// Checks `reply` to `args` and advances the model; `Err` names the violation.
    pub fn check(&mut self, args: &[Bytes], reply: &Reply) -> Result<(), String> {
        let before = self.keys.clone();
        let want = self.apply(args);
        if want.matches(reply) {
            self.keys.retain(|_, v| !v.is_empty());
            return Ok(());
        }
        let shown: Vec<String> = args.iter().map(text).collect();
        self.keys = before.clone();
        let keys: Vec<String> =
            args[1..].iter().filter_map(|k| before.get(k).map(|v| format!("{}={v:?}", text(k)))).collect();
        Err(format!("types model: `{}` replied {reply:?}, expected {want:?}; keys were {keys:?}", shown.join(" ")))
    }

    /// `key`'s value if it is of the wanted kind: `Ok(None)` when absent, `Err` on a wrong type.
    fn kind(&self, key: &Bytes, name: &str) -> Result<Option<&Val>, ()> {
        match self.keys.get(key) {
            None => Ok(None),
            Some(v) if v.type_name() == name => Ok(Some(v)),
            Some(_) => Err(()),
        }
    }

    fn hash(&mut self, key: &Bytes) -> Result<&mut BTreeMap<Bytes, Bytes>, ()> {
        self.kind(key, "hash")?;
        match self.keys.entry(key.clone()).or_insert_with(|| Val::Hash(BTreeMap::new())) {
            Val::Hash(h) => Ok(h),
            _ => Err(()),
        }
    }

    fn list(&mut self, key: &Bytes) -> Result<&mut VecDeque<Bytes>, ()> {
        self.kind(key, "list")?;
        match self.keys.entry(key.clone()).or_insert_with(|| Val::List(VecDeque::new())) {
            Val::List(l) => Ok(l),
            _ => Err(()),
        }
    }

    fn set(&mut self, key: &Bytes) -> Result<&mut BTreeSet<Bytes>, ()> {
        self.kind(key, "set")?;
        match self.keys.entry(key.clone()).or_insert_with(|| Val::Set(BTreeSet::new())) {
            Val::Set(s) => Ok(s),
            _ => Err(()),
        }
    }

    fn zset(&mut self, key: &Bytes) -> Result<&mut BTreeMap<Bytes, f64>, ()> {
        self.kind(key, "zset")?;
        match self.keys.entry(key.clone()).or_insert_with(|| Val::Zset(BTreeMap::new())) {
            Val::Zset(z) => Ok(z),
            _ => Err(()),
        }
    }

    /// Applies one command to the model and returns the reply it must get. Empty collections
    /// left behind are dropped by `check`, as Redis deletes them.
    fn apply(&mut self, a: &[Bytes]) -> Want {
        self.try_apply(a).unwrap_or(Want::Error(WRONGTYPE))
    }

    fn try_apply(&mut self, a: &[Bytes]) -> Result<Want, ()> {
        let cmd = upper(&a[0]);
        let k = &a[1];
        Ok(match cmd.as_str() {
            "DEL" => {
                let n = a[1..].iter().filter(|k| self.keys.remove(*k).is_some()).count();
                int(n as i64)
            }
            "TYPE" => {
                let name = self.keys.get(k).map_or("none", |v| v.type_name());
                Want::Exact(Reply::Simple(name.into()))
            }
            "HSET" => {
                let h = self.hash(k)?;
                let new = a[2..].chunks(2).filter(|p| h.insert(p[0].clone(), p[1].clone()).is_none()).count();
                int(new as i64)
            }
            "HDEL" => {
                let h = self.hash(k)?;
                int(a[2..].iter().filter(|f| h.remove(*f).is_some()).count() as i64)
            }
            "HGET" => {
                let h = self.hash(k)?;
                Want::Exact(h.get(&a[2]).map_or(Reply::nil(), bulk))
            }
            "HLEN" => int(self.hash(k)?.len() as i64),
            "HINCRBY" => {
                let h = self.hash(k)?;
                let by = parse_i64(&a[3]).unwrap_or(0);
                match h.get(&a[2]).map(parse_i64) {
                    Some(None) => Want::Error("ERR hash value is not an integer"),
                    cur => {
                        let n = cur.flatten().unwrap_or(0) + by;
                        h.insert(a[2].clone(), Bytes::from(n.to_string()));
                        int(n)
                    }
                }
            }
            "HGETALL" => {
                let h = self.hash(k)?;
                Want::Unordered(h.iter().flat_map(|(f, v)| [bulk(f), bulk(v)]).collect(), 2)
            }
            "LPUSH" | "RPUSH" => {
                let l = self.list(k)?;
                for v in &a[2..] {
                    if cmd == "LPUSH" {
                        l.push_front(v.clone())
                    } else {
                        l.push_back(v.clone())
                    }
                }
                int(l.len() as i64)
            }
            "LPOP" | "RPOP" => {
                let absent = self.kind(k, "list")?.is_none();
                let count = a.get(2).and_then(parse_i64);
                if absent {
                    return Ok(Want::Exact(if count.is_some() { Reply::Array(None) } else { Reply::nil() }));
                }
                let l = self.list(k)?;
                let mut pop = || if cmd == "LPOP" { l.pop_front() } else { l.pop_back() };
                match count {
                    None => Want::Exact(pop().map_or(Reply::nil(), |v| bulk(&v))),
                    Some(n) => arr((0..n).map_while(|_| pop()).map(|v| bulk(&v)).collect()),
                }
            }
            "LLEN" => int(self.list(k)?.len() as i64),
            "LINDEX" => {
                let l = self.list(k)?;
                let i = parse_i64(&a[2]).unwrap_or(0);
                let i = if i < 0 { l.len() as i64 + i } else { i };
                Want::Exact(usize::try_from(i).ok().and_then(|i| l.get(i)).map_or(Reply::nil(), bulk))
            }
            "LRANGE" => {
                let l = self.list(k)?;
                let (s, e) = (parse_i64(&a[2]).unwrap_or(0), parse_i64(&a[3]).unwrap_or(0));
                let items = index_range(l.len(), s, e).map_or(vec![], |(s, e)| l.range(s..=e).map(bulk).collect());
                arr(items)
            }
            "LMOVE" => {
                let dst = &a[2];
                if self.kind(k, "list")?.is_none() {
                    return Ok(Want::Exact(Reply::nil()));
                }
                self.kind(dst, "list")?;
                let l = self.list(k)?;
                let v = if upper(&a[3]) == "LEFT" { l.pop_front() } else { l.pop_back() }.unwrap_or_default();
                let d = self.list(dst)?;
                if upper(&a[4]) == "LEFT" {
                    d.push_front(v.clone())
                } else {
                    d.push_back(v.clone())
                }
                Want::Exact(bulk(&v))
            }
            "SADD" => {
                let s = self.set(k)?;
                int(a[2..].iter().filter(|m| s.insert((*m).clone())).count() as i64)
            }
            "SREM" => {
                let s = self.set(k)?;
                int(a[2..].iter().filter(|m| s.remove(*m)).count() as i64)
            }
            "SCARD" => int(self.set(k)?.len() as i64),
            "SISMEMBER" => int(self.set(k)?.contains(&a[2]) as i64),
            "SMEMBERS" => Want::Unordered(self.set(k)?.iter().map(bulk).collect(), 1),
            "SINTERSTORE" | "SUNIONSTORE" => {
                let mut sources = Vec::new();
                for key in &a[2..] {
                    sources.push(match self.kind(key, "set")? {
                        Some(Val::Set(s)) => Some(s.clone()),
                        _ => None,
                    });
                }
                let result: BTreeSet<Bytes> = if cmd == "SINTERSTORE" {
                    if sources.iter().any(|s| s.is_none()) {
                        BTreeSet::new()
                    } else {
                        let mut it = sources.into_iter().flatten();
                        let first = it.next().unwrap_or_default();
                        it.fold(first, |acc, s| acc.intersection(&s).cloned().collect())
                    }
                } else {
                    sources.into_iter().flatten().flatten().collect()
                };
                let n = result.len();
                self.keys.insert(k.clone(), Val::Set(result));
                int(n as i64)
            }
            "ZADD" => self.zadd(a)?,
            "ZINCRBY" => {
                let z = self.zset(k)?;
                let s = z.entry(a[3].clone()).or_insert(0.0);
                *s += parse_f64(&a[2]);
                Want::Exact(bulk(&score_text(*s)))
            }
            "ZSCORE" => Want::Exact(self.zset(k)?.get(&a[2]).map_or(Reply::nil(), |s| bulk(&score_text(*s)))),
            "ZCARD" => int(self.zset(k)?.len() as i64),
            "ZREM" => {
                let z = self.zset(k)?;
                int(a[2..].iter().filter(|m| z.remove(*m).is_some()).count() as i64)
            }
            "ZRANK" => {
                let z = self.zset(k)?;
                let order = zsorted(z);
                Want::Exact(order.iter().position(|(m, _)| *m == a[2]).map_or(Reply::nil(), |i| Reply::Int(i as i64)))
            }
            "ZRANGE" => {
                let order = zsorted(self.zset(k)?);
                let (s, e) = (parse_i64(&a[2]).unwrap_or(0), parse_i64(&a[3]).unwrap_or(0));
                let scores = a.len() > 4;
                let mut out = Vec::new();
                if let Some((s, e)) = index_range(order.len(), s, e) {
                    for (m, sc) in &order[s..=e] {
                        out.push(bulk(m));
                        if scores {
                            out.push(bulk(&score_text(*sc)));
                        }
                    }
                }
                arr(out)
            }
            "ZPOPMIN" | "ZPOPMAX" => {
                let z = self.zset(k)?;
                let mut order = zsorted(z);
                if cmd == "ZPOPMAX" {
                    order.reverse();
                }
                let n = a.get(2).and_then(parse_i64).unwrap_or(1).max(0) as usize;
                let mut out = Vec::new();
                for (m, s) in order.into_iter().take(n) {
                    z.remove(&m);
                    out.extend([bulk(&m), bulk(&score_text(s))]);
                }
                arr(out)
            }
            _ => Want::Error("ERR"),
        })
    }

    /// ZADD [NX|XX] [GT|LT] [CH] score member ...: members one by one, as Redis does.
    fn zadd(&mut self, a: &[Bytes]) -> Result<Want, ()> {
        let mut i = 2;
        let (mut nx, mut xx, mut gt, mut lt, mut ch) = (false, false, false, false, false);
        while i < a.len() {
            match upper(&a[i]).as_str() {
                "NX" => nx = true,
                "XX" => xx = true,
                "GT" => gt = true,
                "LT" => lt = true,
                "CH" => ch = true,
                _ => break,
            }
            i += 1;
        }
        if nx && (xx || gt || lt) || gt && lt {
            return Ok(Want::Error("ERR"));
        }
        let z = self.zset(&a[1])?;
        let (mut added, mut changed) = (0, 0);
        for pair in a[i..].chunks(2) {
            let (score, m) = (parse_f64(&pair[0]), &pair[1]);
            match z.get(m).copied() {
                None if !xx => {
                    z.insert(m.clone(), score);
                    added += 1;
                }
                None => {}
                Some(old) => {
                    let skip = nx || gt && score <= old || lt && score >= old;
                    if !skip && score != old {
                        z.insert(m.clone(), score);
                        changed += 1;
                    }
                }
            }
        }
        Ok(int(if ch { added + changed } else { added }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<Bytes> {
        s.split(' ').map(|a| Bytes::copy_from_slice(a.as_bytes())).collect()
    }

    fn b(s: &str) -> Reply {
        Reply::bulk(&Bytes::copy_from_slice(s.as_bytes()))
    }

    fn wrongtype() -> Reply {
        Reply::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into())
    }

    #[test]
    fn hashes_lists_and_wrong_types() {
        let mut m = TypesModel::default();
        m.check(&args("HSET h a 1 b x"), &Reply::Int(2)).unwrap();
        m.check(&args("HINCRBY h a 4"), &Reply::Int(5)).unwrap();
        assert!(m.check(&args("HINCRBY h b 1"), &Reply::Int(1)).is_err());
        m.check(&args("HINCRBY h b 1"), &Reply::Error("ERR hash value is not an integer".into())).unwrap();
        let all = Reply::Array(Some(vec![b("b"), b("x"), b("a"), b("5")]));
        m.check(&args("HGETALL h"), &all).unwrap();
        m.check(&args("LPUSH h v"), &wrongtype()).unwrap();
        m.check(&args("RPUSH l a b c"), &Reply::Int(3)).unwrap();
        m.check(&args("LMOVE l l LEFT RIGHT"), &b("a")).unwrap();
        m.check(&args("LRANGE l 0 -1"), &Reply::Array(Some(vec![b("b"), b("c"), b("a")]))).unwrap();
        m.check(&args("RPOP l 5"), &Reply::Array(Some(vec![b("a"), b("c"), b("b")]))).unwrap();
        m.check(&args("RPOP l 5"), &Reply::Array(None)).unwrap();
        m.check(&args("TYPE l"), &Reply::Simple("none".into())).unwrap();
        m.check(&args("HDEL h a b"), &Reply::Int(2)).unwrap();
        m.check(&args("TYPE h"), &Reply::Simple("none".into())).unwrap();
    }

    #[test]
    fn sets_and_sorted_sets() {
        let mut m = TypesModel::default();
        m.check(&args("SADD a 1 2 3"), &Reply::Int(3)).unwrap();
        m.check(&args("SADD b 2 3 4"), &Reply::Int(3)).unwrap();
        m.check(&args("SINTERSTORE d a b"), &Reply::Int(2)).unwrap();
        m.check(&args("SMEMBERS d"), &Reply::Array(Some(vec![b("3"), b("2")]))).unwrap();
        m.check(&args("SINTERSTORE d a nope"), &Reply::Int(0)).unwrap();
        m.check(&args("TYPE d"), &Reply::Simple("none".into())).unwrap();
        m.check(&args("ZADD z 1 x 2.5 y"), &Reply::Int(2)).unwrap();
        m.check(&args("ZADD z GT CH 2 x 1 y 0 w"), &Reply::Int(2)).unwrap();
        m.check(&args("ZINCRBY z -0.5 y"), &b("2")).unwrap();
        let r = Reply::Array(Some(vec![b("w"), b("0"), b("x"), b("2"), b("y"), b("2")]));
        m.check(&args("ZRANGE z 0 -1 WITHSCORES"), &r).unwrap();
        m.check(&args("ZPOPMAX z"), &Reply::Array(Some(vec![b("y"), b("2")]))).unwrap();
        m.check(&args("ZRANK z x"), &Reply::Int(1)).unwrap();
        m.check(&args("SADD z m"), &wrongtype()).unwrap();
        assert!(m.check(&args("ZCARD z"), &Reply::Int(3)).is_err());
    }
}
