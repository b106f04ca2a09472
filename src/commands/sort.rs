//! SORT and SORT_RO (Redis's sort.c): the elements of a list, set or sorted set, ordered
//! numerically or by bytes (ALPHA), optionally by the values of other keys (BY pattern), with
//! LIMIT, GET patterns and STORE. Pattern keys may live on any shard: they are read after the
//! source, each on its own shard, so a SORT with BY/GET is not isolated from concurrent writes
//! to those other keys (Redis Cluster refuses such patterns outright).

use super::errors;
use super::multikey::MultiKind;
use super::table::{spec, CommandSpec, KeySpec, Run};
use super::Ctx;
use crate::engine::notify::class;
use crate::engine::{Mode, Shard};
use crate::protocol::Reply;
use crate::runtime::Rt;
use crate::types::{ListValue, Value, WRONGTYPE};
use crate::util::parse_i64_strict;
use bytes::Bytes;
use std::cmp::Ordering;

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "generic",
        "sort",
        -2,
        &["write", "denyoom", "movablekeys"],
        KeySpec::ONE,
        &["@write", "@set", "@sortedset", "@list", "@slow", "@dangerous"],
        "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
        "1.0.0",
        Run::Multi(MultiKind::Sort { read_only: false }),
    ),
    spec(
        "generic",
        "sort_ro",
        -2,
        &["readonly", "movablekeys"],
        KeySpec::ONE,
        &["@read", "@set", "@sortedset", "@list", "@slow", "@dangerous"],
        "Returns the sorted elements of a list, a set, or a sorted set.",
        "7.0.0",
        Run::Multi(MultiKind::Sort { read_only: true }),
    ),
];

const NOT_DOUBLE: &str = "ERR One or more scores can't be converted into double";

#[derive(Debug, Default, PartialEq)]
struct SortArgs {
    by: Option<Bytes>,
    /// BY without a `*`: keep the source's order.
    dont_sort: bool,
    limit: Option<(i64, i64)>,
    gets: Vec<Bytes>,
    desc: bool,
    alpha: bool,
    store: Option<Bytes>,
}

fn parse(args: &[Bytes], read_only: bool) -> Result<SortArgs, Reply> {
    let mut s = SortArgs::default();
    let mut i = 2;
    while i < args.len() {
        let left = args.len() - i - 1;
        match args[i].to_ascii_uppercase().as_slice() {
            b"ASC" => s.desc = false,
            b"DESC" => s.desc = true,
            b"ALPHA" => s.alpha = true,
            b"LIMIT" if left >= 2 => {
                let (Some(off), Some(cnt)) = (parse_i64_strict(&args[i + 1]), parse_i64_strict(&args[i + 2])) else {
                    return Err(Reply::error(errors::NOT_INTEGER));
                };
                s.limit = Some((off, cnt));
                i += 2;
            }
            b"STORE" if left >= 1 && !read_only => {
                s.store = Some(args[i + 1].clone());
                i += 1;
            }
            b"BY" if left >= 1 => {
                let p = args[i + 1].clone();
                s.dont_sort = !p.contains(&b'*');
                s.by = Some(p);
                i += 1;
            }
            b"GET" if left >= 1 => {
                s.gets.push(args[i + 1].clone());
                i += 1;
            }
            _ => return Err(Reply::error(errors::SYNTAX)),
        }
        i += 1;
    }
    Ok(s)
}

/// The source's elements in its natural order, and whether it is a set (unordered).
fn read_source(sh: &mut Shard, db: usize, key: &[u8]) -> Result<(Vec<Bytes>, bool), Reply> {
    match sh.lookup(db, key) {
        None => Ok((Vec::new(), false)),
        Some(e) => match &e.value {
            Value::List(l) => Ok((l.range(0, -1), false)),
            Value::Set(s) => Ok((s.members(), true)),
            Value::ZSet(z) => Ok((z.range(0, z.len()).into_iter().map(|(m, _)| m).collect(), false)),
            _ => Err(Reply::error(WRONGTYPE)),
        },
    }
}

/// A pattern applied to an element: the key to read and, for `key->field`, the hash field.
/// `None` for `#` (the element itself) — and for a pattern without `*`, every element reads the
/// same key, as in Redis.
fn substitute(pattern: &[u8], elem: &[u8]) -> Option<(Bytes, Option<Bytes>)> {
    if pattern == b"#" {
        return None;
    }
    let star = pattern.iter().position(|&b| b == b'*');
    let arrow = pattern.windows(2).position(|w| w == b"->").filter(|&a| star.is_some_and(|s| a > s));
    let (key_part, field) = match arrow {
        Some(a) if a + 2 < pattern.len() => (&pattern[..a], Some(Bytes::copy_from_slice(&pattern[a + 2..]))),
        _ => (pattern, None),
    };
    let key = match star {
        Some(s) if s < key_part.len() => {
            let mut k = Vec::with_capacity(key_part.len() + elem.len());
            k.extend_from_slice(&key_part[..s]);
            k.extend_from_slice(elem);
            k.extend_from_slice(&key_part[s + 1..]);
            Bytes::from(k)
        }
        _ => Bytes::copy_from_slice(key_part),
    };
    Some((key, field))
}

/// Reads a pattern's value on the shard owning its key: a string, or a hash field.
fn read_pattern(sh: &mut Shard, db: usize, key: &[u8], field: Option<&[u8]>) -> Option<Bytes> {
    let e = sh.lookup(db, key)?;
    match (&e.value, field) {
        (Value::Str(s), None) => Some(s.to_bytes()),
        (Value::Hash(h), Some(f)) => h.get(f).map(Bytes::copy_from_slice),
        _ => None,
    }
}

/// Fetches every (key, field) the patterns name, visiting each shard once.
async fn fetch_all<R: Rt>(ctx: &Ctx<'_, R>, wanted: Vec<(Bytes, Option<Bytes>)>) -> Vec<Option<Bytes>> {
    let db = ctx.client.db;
    let mut out = vec![None; wanted.len()];
    let mut by_shard: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, (k, _)) in wanted.iter().enumerate() {
        let s = ctx.shards.shard_of(k);
        match by_shard.iter_mut().find(|(id, _)| *id == s) {
            Some((_, v)) => v.push(i),
            None => by_shard.push((s, vec![i])),
        }
    }
    for (shard, idx) in by_shard {
        let asks: Vec<(Bytes, Option<Bytes>)> = idx.iter().map(|&i| wanted[i].clone()).collect();
        let keys: Vec<Bytes> = asks.iter().map(|(k, _)| k.clone()).collect();
        let got = ctx
            .shards
            .run_keyed(ctx.rt, ctx.home, shard, db as u16, &keys, Mode::Read, move |sh| {
                asks.iter().map(|(k, f)| read_pattern(sh, db, k, f.as_deref())).collect::<Vec<_>>()
            })
            .await
            .unwrap_or_default();
        for (i, v) in idx.into_iter().zip(got) {
            out[i] = v;
        }
    }
    out
}

/// Reads a double the way SORT does: surrounding spaces are not allowed, `inf` is.
fn sort_score(b: &[u8]) -> Option<f64> {
    let v = crate::util::parse_f64_strict(b)?;
    Some(v)
}

pub async fn run<R: Rt>(ctx: &mut Ctx<'_, R>, read_only: bool, args: &[Bytes]) -> Reply {
    let mut opts = match parse(args, read_only) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let db = ctx.client.db;
    let src = args[1].clone();
    let shard = ctx.shards.shard_of(&src);
    let s2 = src.clone();
    let read = ctx
        .shards
        .run_keyed(ctx.rt, ctx.home, shard, db as u16, std::slice::from_ref(&src), Mode::Read, move |sh| {
            read_source(sh, db, &s2)
        })
        .await;
    let (mut elems, is_set) = match read {
        Some(Ok(v)) => v,
        Some(Err(e)) => return e,
        None => return Reply::error(errors::SHUTTING_DOWN),
    };
    // A set has no order of its own: when the result is stored, sort it anyway so that it is
    // deterministic, as Redis does.
    if opts.dont_sort && is_set && opts.store.is_some() {
        opts.dont_sort = false;
        opts.alpha = true;
        opts.by = None;
    }

    // Values the BY pattern names, one per element.
    let by_values: Option<Vec<Option<Bytes>>> = match (&opts.by, opts.dont_sort) {
        (Some(p), false) => {
            let wanted: Vec<_> = elems.iter().filter_map(|e| substitute(p, e)).collect();
            if wanted.len() == elems.len() {
                Some(fetch_all(ctx, wanted).await)
            } else {
                Some(elems.iter().map(|e| Some(e.clone())).collect())
            }
        }
        _ => None,
    };

    if !opts.dont_sort {
        // Sort keys: a score (numeric) or bytes (ALPHA), ties broken by the element itself.
        let keys: Vec<Option<Bytes>> = match &by_values {
            Some(v) => v.clone(),
            None => elems.iter().map(|e| Some(e.clone())).collect(),
        };
        let mut order: Vec<usize> = (0..elems.len()).collect();
        if opts.alpha {
            order.sort_by(|&a, &b| {
                let c = match (&keys[a], &keys[b]) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(x), Some(y)) => x.cmp(y),
                };
                let c = c.then_with(|| elems[a].cmp(&elems[b]));
                if opts.desc {
                    c.reverse()
                } else {
                    c
                }
            });
        } else {
            let mut scores = Vec::with_capacity(keys.len());
            for k in &keys {
                scores.push(match k {
                    None => 0.0,
                    Some(b) => match sort_score(b) {
                        Some(v) => v,
                        None => return Reply::error(NOT_DOUBLE),
                    },
                });
            }
            order.sort_by(|&a, &b| {
                let c =
                    scores[a].partial_cmp(&scores[b]).unwrap_or(Ordering::Equal).then_with(|| elems[a].cmp(&elems[b]));
                if opts.desc {
                    c.reverse()
                } else {
                    c
                }
            });
        }
        elems = order.into_iter().map(|i| elems[i].clone()).collect();
    } else if opts.desc && !is_set {
        elems.reverse();
    }

    if let Some((offset, count)) = opts.limit {
        let start = offset.max(0) as usize;
        let end = if count < 0 { elems.len() } else { start.saturating_add(count as usize) };
        elems = elems.get(start.min(elems.len())..end.min(elems.len())).map(|s| s.to_vec()).unwrap_or_default();
    }

    // GET patterns turn each element into one value per pattern.
    let rows: Vec<Option<Bytes>> = if opts.gets.is_empty() {
        elems.into_iter().map(Some).collect()
    } else {
        let mut wanted = Vec::new();
        let mut plan = Vec::new();
        for e in &elems {
            for g in &opts.gets {
                match substitute(g, e) {
                    None => plan.push(Err(e.clone())),
                    Some(kf) => {
                        plan.push(Ok(wanted.len()));
                        wanted.push(kf);
                    }
                }
            }
        }
        let fetched = fetch_all(ctx, wanted).await;
        plan.into_iter()
            .map(|p| match p {
                Err(elem) => Some(elem),
                Ok(i) => fetched[i].clone(),
            })
            .collect()
    };

    match opts.store {
        None => Reply::Array(rows.into_iter().map(Reply::opt_bulk).collect()),
        Some(dst) => {
            let n = rows.len() as i64;
            let items: Vec<Bytes> = rows.into_iter().map(|r| r.unwrap_or_default()).collect();
            let dshard = ctx.shards.shard_of(&dst);
            let d2 = dst.clone();
            ctx.shards
                .run_keyed(ctx.rt, ctx.home, dshard, db as u16, std::slice::from_ref(&dst), Mode::Write, move |sh| {
                    if items.is_empty() {
                        if sh.dbs[db].remove(&d2).is_some() {
                            sh.notify(db, class::GENERIC, "del", &d2);
                        }
                    } else {
                        let limit = sh.config.list_max_listpack_size;
                        sh.dbs[db].set(d2.clone(), Value::list(ListValue::from_items(items, limit)), 0);
                        sh.notify(db, class::LIST, "sortstore", &d2);
                    }
                })
                .await;
            Reply::Int(n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn patterns_substitute_like_redis() {
        assert_eq!(substitute(b"#", b"x"), None);
        assert_eq!(substitute(b"w_*", b"x"), Some((b("w_x"), None)));
        assert_eq!(substitute(b"h_*->f", b"x"), Some((b("h_x"), Some(b("f")))));
        assert_eq!(substitute(b"nosort", b"x"), Some((b("nosort"), None)));
        // An arrow before the star is part of the key name.
        assert_eq!(substitute(b"a->b*", b"x"), Some((b("a->bx"), None)));
    }

    #[test]
    fn options() {
        let args: Vec<Bytes> = ["sort", "k", "BY", "w_*", "LIMIT", "0", "2", "GET", "#", "DESC", "ALPHA", "STORE", "d"]
            .iter()
            .map(|s| b(s))
            .collect();
        let o = parse(&args, false).unwrap();
        assert_eq!(o.limit, Some((0, 2)));
        assert!(o.desc && o.alpha && !o.dont_sort);
        assert_eq!(o.store, Some(b("d")));
        assert!(parse(&args, true).is_err(), "SORT_RO has no STORE");
        let bad: Vec<Bytes> = ["sort", "k", "LIMIT", "x", "1"].iter().map(|s| b(s)).collect();
        assert_eq!(parse(&bad, false), Err(Reply::error(errors::NOT_INTEGER)));
    }
}
