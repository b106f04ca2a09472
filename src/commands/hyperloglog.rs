//! HyperLogLog commands (Redis's hyperloglog.c): PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.
//! HLLs are plain string values in Redis's exact byte layout (types::hll), modified in place so a
//! key keeps its TTL.

use super::errors;
use super::table::{spec, CommandSpec, KeySpec, Run};
use super::Ctx;
use crate::engine::notify::class;
use crate::engine::{Mode, Shard};
use crate::protocol::Reply;
use crate::runtime::Rt;
use crate::types::hll::{self, Corrupt};
use crate::types::{StrValue, Value, WRONGTYPE};
use bytes::Bytes;

const GROUP: &str = "hyperloglog";

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        GROUP,
        "pfadd",
        -2,
        &["write", "denyoom", "fast"],
        KeySpec::ONE,
        &["@write", "@hyperloglog", "@fast"],
        "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.",
        "2.8.9",
        Run::Shard(pfadd, Mode::Write),
    ),
    spec(
        GROUP,
        "pfcount",
        -2,
        &["readonly"],
        KeySpec::ALL,
        &["@read", "@hyperloglog", "@slow"],
        "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).",
        "2.8.9",
        Run::Multi(super::multikey::MultiKind::Hll(HllMulti::Count)),
    ),
    spec(
        GROUP,
        "pfmerge",
        -2,
        &["write", "denyoom"],
        KeySpec::ALL,
        &["@write", "@hyperloglog", "@slow"],
        "Merges one or more HyperLogLog values into a single key.",
        "2.8.9",
        Run::Multi(super::multikey::MultiKind::Hll(HllMulti::Merge)),
    ),
    spec(
        GROUP,
        "pfdebug",
        3,
        &["write", "denyoom", "admin"],
        KeySpec { first: 2, last: 2, step: 1 },
        &["@write", "@hyperloglog", "@admin", "@slow", "@dangerous"],
        "Internal commands for debugging HyperLogLog values.",
        "2.8.9",
        Run::Shard(pfdebug, Mode::Write),
    ),
    spec(
        GROUP,
        "pfselftest",
        1,
        &["admin"],
        KeySpec::NONE,
        &["@hyperloglog", "@admin", "@slow", "@dangerous"],
        "An internal command for testing HyperLogLog values.",
        "2.8.9",
        Run::Shard(pfselftest, Mode::Read),
    ),
];

/// PF* commands whose keys may live on several shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HllMulti {
    Count,
    Merge,
}

fn invalid() -> Reply {
    Reply::error(errors::HLL_CORRUPT)
}

/// Redis's isHLLObjectOrReply: a string holding a well-formed HLL header.
fn check(v: &Value) -> Result<&[u8], Reply> {
    match v {
        Value::Str(s) if s.as_text().is_some_and(hll::is_hll) => Ok(s.as_text().unwrap_or_default()),
        Value::Str(_) => Err(Reply::error(errors::NOT_HLL)),
        #[allow(unreachable_patterns)]
        _ => Err(Reply::error(WRONGTYPE)),
    }
}

/// Runs `f` on the bytes of a checked HLL value, in place (no copy when the value is not shared).
fn edit<T>(v: &mut Value, f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    let Value::Str(s) = v else { unreachable!("checked HLL value") };
    let mut buf = std::mem::replace(s, StrValue::Int(0)).into_vec();
    let out = f(&mut buf);
    *s = StrValue::from_vec(buf);
    out
}

fn store_new(sh: &mut Shard, db: usize, key: &[u8], bytes: Vec<u8>) {
    sh.dbs[db].set(Bytes::copy_from_slice(key), Value::Str(StrValue::from_vec(bytes)), 0);
}

/// PFADD key [element ...]
fn pfadd(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let max_bytes = sh.config.hll_sparse_max_bytes;
    let key = &args[1];
    let add_all = |h: &mut Vec<u8>| -> Result<bool, Corrupt> {
        let mut changed = false;
        for e in &args[2..] {
            changed |= hll::add(h, e, max_bytes)?;
        }
        Ok(changed)
    };
    let outcome = match sh.lookup_write(db, key) {
        Some(e) => {
            if let Err(r) = check(&e.value) {
                return r;
            }
            edit(&mut e.value, |h| {
                let r = add_all(h);
                if r == Ok(true) {
                    hll::invalidate_cache(h);
                }
                r
            })
        }
        None => {
            let mut h = hll::new_sparse();
            let r = add_all(&mut h).map(|_| true);
            hll::invalidate_cache(&mut h);
            store_new(sh, db, key, h);
            r
        }
    };
    match outcome {
        Ok(true) => {
            sh.notify(db, class::STRING, "pfadd", key);
            Reply::Int(1)
        }
        Ok(false) => Reply::Int(0),
        Err(Corrupt) => invalid(),
    }
}

/// PFCOUNT with one key: the cached cardinality, or a fresh one written back to the header.
fn count_one(sh: &mut Shard, db: usize, key: &[u8]) -> Reply {
    let Some(e) = sh.lookup(db, key) else { return Reply::Int(0) };
    let bytes = match check(&e.value) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Some(card) = hll::cached_count(bytes) {
        return Reply::Int(card as i64);
    }
    let card = match hll::count(bytes) {
        Ok(c) => c,
        Err(Corrupt) => return invalid(),
    };
    edit(&mut e.value, |h| hll::set_cached_count(h, card));
    // The value changed (its cache), though no event is emitted: WATCH sees it, as in Redis.
    sh.touch_watched(db, key);
    Reply::Int(card as i64)
}

/// The registers of several HLLs merged on one shard: `max[i]` over the keys, whether any was
/// dense, and the first failure (argument index, reply), if any.
struct Gathered {
    max: Vec<u8>,
    dense: bool,
    err: Option<(usize, Reply)>,
}

impl Gathered {
    fn new() -> Gathered {
        Gathered { max: vec![0; hll::REGISTERS], dense: false, err: None }
    }

    /// Folds another shard's part in.
    fn absorb(&mut self, other: Gathered) {
        for (m, o) in self.max.iter_mut().zip(&other.max) {
            *m = (*m).max(*o);
        }
        self.dense |= other.dense;
        if let Some((i, r)) = other.err {
            if self.err.as_ref().is_none_or(|(j, _)| i < *j) {
                self.err = Some((i, r));
            }
        }
    }
}

/// Reads `keys` (argument index, key) in order into `g`, stopping at the first failure.
fn gather(sh: &mut Shard, db: usize, keys: &[(usize, Bytes)], g: &mut Gathered) {
    for (i, k) in keys {
        let Some(e) = sh.lookup(db, k) else { continue };
        let bytes = match check(&e.value) {
            Ok(b) => b,
            Err(r) => {
                g.err = Some((*i, r));
                return;
            }
        };
        g.dense |= hll::encoding(bytes) == hll::DENSE;
        if hll::merge_into(&mut g.max, bytes).is_err() {
            g.err = Some((*i, invalid()));
            return;
        }
    }
}

/// PFMERGE's write: the destination (created sparse if absent; dense when any input was
/// dense) takes the merged registers and a stale cache.
fn store_merged(sh: &mut Shard, db: usize, dest: &[u8], g: &Gathered) -> Reply {
    let max_bytes = sh.config.hll_sparse_max_bytes;
    let write = |h: &mut Vec<u8>| -> Result<(), Corrupt> {
        if g.dense {
            hll::to_dense(h)?;
        }
        hll::raise_all(h, &g.max, max_bytes)
    };
    let outcome = match sh.lookup_write(db, dest) {
        Some(e) => match check(&e.value) {
            Ok(_) => edit(&mut e.value, write),
            Err(r) => return r,
        },
        None => {
            let mut h = hll::new_sparse();
            let r = write(&mut h);
            store_new(sh, db, dest, h);
            r
        }
    };
    match outcome {
        Ok(()) => {
            // Redis reports a merge as a PFADD: in effect it adds many elements.
            sh.notify(db, class::STRING, "pfadd", dest);
            Reply::Ok
        }
        Err(Corrupt) => invalid(),
    }
}

/// Everything a multi-key PFCOUNT or PFMERGE does when its keys share one shard.
fn local(sh: &mut Shard, db: usize, op: HllMulti, args: &[Bytes]) -> Reply {
    if op == HllMulti::Count && args.len() == 2 {
        return count_one(sh, db, &args[1]);
    }
    let keys: Vec<(usize, Bytes)> = args.iter().enumerate().skip(1).map(|(i, k)| (i, k.clone())).collect();
    let mut g = Gathered::new();
    gather(sh, db, &keys, &mut g);
    finish(sh, db, op, args, g)
}

fn finish(sh: &mut Shard, db: usize, op: HllMulti, args: &[Bytes], g: Gathered) -> Reply {
    if let Some((_, r)) = g.err {
        return r;
    }
    match op {
        HllMulti::Count => Reply::Int(hll::estimate(&hll::raw_histogram(&g.max)) as i64),
        HllMulti::Merge => store_merged(sh, db, &args[1], &g),
    }
}

fn shutting_down() -> Reply {
    Reply::error(errors::SHUTTING_DOWN)
}

/// PFCOUNT key [key ...] and PFMERGE destkey [sourcekey ...]. Keys on several shards are read
/// under locks taken together (PFMERGE's destination for writing), so the union is a snapshot
/// and the merge is atomic.
pub async fn run_multi<R: Rt>(ctx: &mut Ctx<'_, R>, op: HllMulti, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    // A single-key PFCOUNT may write the cached cardinality.
    let single_mode = if op == HllMulti::Merge || args.len() == 2 { Mode::Write } else { Mode::Read };
    let first = ctx.shards.shard_of(&args[1]);
    if args[2..].iter().all(|k| ctx.shards.shard_of(k) == first) {
        let owned: Vec<Bytes> = args.to_vec();
        return ctx
            .shards
            .run_keyed(ctx.rt, ctx.home, first, db as u16, &args[1..], single_mode, move |sh| local(sh, db, op, &owned))
            .await
            .unwrap_or_else(shutting_down);
    }
    let locks: Vec<(Bytes, Mode)> = args[1..]
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), if i == 0 && op == HllMulti::Merge { Mode::Write } else { Mode::Read }))
        .collect();
    let tx = ctx.shards.lock(ctx.rt, db as u16, &locks).await;
    let mut total = Gathered::new();
    for (shard, idx) in super::multikey::by_shard(ctx, args, 1..args.len()) {
        let keys: Vec<(usize, Bytes)> = idx.into_iter().map(|i| (i, args[i].clone())).collect();
        let part = tx
            .run(shard, move |sh| {
                let mut g = Gathered::new();
                gather(sh, db, &keys, &mut g);
                g
            })
            .await;
        match part {
            Some(g) => total.absorb(g),
            None => return shutting_down(),
        }
    }
    if total.err.is_some() || op == HllMulti::Count {
        // Nothing to write: the reply needs no shard.
        return match total.err {
            Some((_, r)) => r,
            None => Reply::Int(hll::estimate(&hll::raw_histogram(&total.max)) as i64),
        };
    }
    let dest = args[1].clone();
    let shard = ctx.shards.shard_of(&dest);
    tx.run(shard, move |sh| store_merged(sh, db, &dest, &total)).await.unwrap_or_else(shutting_down)
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key
fn pfdebug(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let Some(e) = sh.lookup_write(db, &args[2]) else {
        return Reply::error("ERR The specified key does not exist");
    };
    let bytes = match check(&e.value) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let sub = args[1].to_ascii_lowercase();
    let sparse = hll::encoding(bytes) == hll::SPARSE;
    match sub.as_slice() {
        b"getreg" => {
            if sparse && edit(&mut e.value, hll::to_dense).is_err() {
                return invalid();
            }
            let Ok(bytes) = check(&e.value) else { return invalid() };
            match hll::registers(bytes) {
                Ok(regs) => Reply::Array(regs.into_iter().map(|r| Reply::Int(r as i64)).collect()),
                Err(Corrupt) => invalid(),
            }
        }
        b"decode" => {
            if !sparse {
                return Reply::error("ERR HLL encoding is not sparse");
            }
            Reply::Bulk(Bytes::from(hll::decode(bytes)))
        }
        b"encoding" => Reply::simple(if sparse { "sparse" } else { "dense" }),
        b"todense" => {
            if !sparse {
                return Reply::Int(0);
            }
            match edit(&mut e.value, hll::to_dense) {
                Ok(()) => Reply::Int(1),
                Err(Corrupt) => invalid(),
            }
        }
        _ => Reply::error(format!("ERR Unknown PFDEBUG subcommand '{}'", String::from_utf8_lossy(&args[1]))),
    }
}

/// PFSELFTEST: register access, then sparse/dense agreement and the estimate's error at
/// cardinalities 1, 10, ..., 10^7, as Redis's self test checks them.
fn pfselftest(sh: &mut Shard, _db: usize, _args: &[Bytes]) -> Reply {
    let mut regs = vec![0u8; hll::DENSE_SIZE - hll::HDR_SIZE];
    let mut want = vec![0u8; hll::REGISTERS];
    for _ in 0..1000 {
        for (i, w) in want.iter_mut().enumerate() {
            *w = (sh.next_rand() & 63) as u8;
            hll::dense_put(&mut regs, i, *w);
        }
        for (i, &w) in want.iter().enumerate() {
            let got = hll::dense_get(&regs, i);
            if got != w {
                return Reply::error(format!("TESTFAILED Register {i} should be {w} but is {got}"));
            }
        }
    }
    let max_bytes = sh.config.hll_sparse_max_bytes;
    let mut dense = hll::new_sparse();
    if hll::to_dense(&mut dense).is_err() {
        return Reply::error("TESTFAILED dense/sparse disagree");
    }
    let mut sparse = hll::new_sparse();
    let relerr = 1.04 / (hll::REGISTERS as f64).sqrt();
    let seed = sh.next_rand();
    let mut checkpoint: u64 = 1;
    for j in 1..=10_000_000u64 {
        let ele = (j ^ seed).to_le_bytes();
        let _ = hll::add(&mut dense, &ele, max_bytes);
        let _ = hll::add(&mut sparse, &ele, max_bytes);
        if j != checkpoint {
            continue;
        }
        if j < (max_bytes / 2) as u64 && hll::encoding(&sparse) != hll::SPARSE {
            return Reply::error("TESTFAILED sparse encoding not used");
        }
        let (a, b) = (hll::count(&dense), hll::count(&sparse));
        if a != b {
            return Reply::error("TESTFAILED dense/sparse disagree");
        }
        let est = a.unwrap_or(0);
        let abserr = checkpoint.abs_diff(est);
        let mut maxerr = (relerr * 6.0 * checkpoint as f64).ceil() as u64;
        if j == 10 {
            maxerr = 1;
        }
        if abserr > maxerr {
            return Reply::error(format!("TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"));
        }
        checkpoint *= 10;
    }
    Reply::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(sh: &mut Shard, f: super::super::table::ShardFn, args: &[&[u8]]) -> Reply {
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        f(sh, 0, &args)
    }

    fn count(sh: &mut Shard, keys: &[&[u8]]) -> Reply {
        let mut args = vec![Bytes::from_static(b"pfcount")];
        args.extend(keys.iter().map(|k| Bytes::copy_from_slice(k)));
        local(sh, 0, HllMulti::Count, &args)
    }

    fn merge(sh: &mut Shard, keys: &[&[u8]]) -> Reply {
        let mut args = vec![Bytes::from_static(b"pfmerge")];
        args.extend(keys.iter().map(|k| Bytes::copy_from_slice(k)));
        local(sh, 0, HllMulti::Merge, &args)
    }

    fn raw(sh: &mut Shard, key: &[u8]) -> Vec<u8> {
        match &sh.dbs[0].table.get(key).unwrap().value {
            Value::Str(s) => s.to_bytes().to_vec(),
            _ => panic!("not a string"),
        }
    }

    fn put(sh: &mut Shard, key: &[u8], v: &[u8]) {
        sh.dbs[0].set(Bytes::copy_from_slice(key), Value::Str(StrValue::from_bytes(v)), 0);
    }

    #[test]
    fn pfadd_pfcount_and_cache() {
        let mut sh = Shard::new(0, 16, 1);
        assert_eq!(call(&mut sh, pfadd, &[b"pfadd", b"h"]), Reply::Int(1));
        assert_eq!(count(&mut sh, &[b"h"]), Reply::Int(0));
        assert_eq!(call(&mut sh, pfadd, &[b"pfadd", b"h", b"a", b"b", b"c"]), Reply::Int(1));
        assert_eq!(raw(&mut sh, b"h")[15], 0x80);
        assert_eq!(count(&mut sh, &[b"h"]), Reply::Int(3));
        assert_eq!(raw(&mut sh, b"h")[8..16], [3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(call(&mut sh, pfadd, &[b"pfadd", b"h", b"a", b"b", b"c"]), Reply::Int(0));
        assert_eq!(raw(&mut sh, b"h")[15], 0);
        assert_eq!(call(&mut sh, pfadd, &[b"pfadd", b"h", b"1", b"2", b"3"]), Reply::Int(1));
        assert_eq!(raw(&mut sh, b"h")[15], 0x80);
        assert_eq!(count(&mut sh, &[b"nosuch"]), Reply::Int(0));
        assert_eq!(call(&mut sh, pfadd, &[b"pfadd", b"h", b""]), Reply::Int(1));
    }

    #[test]
    fn pfadd_keeps_ttl() {
        let mut sh = Shard::new(0, 16, 1);
        call(&mut sh, pfadd, &[b"pfadd", b"h", b"a"]);
        sh.dbs[0].set_expire(b"h", 10_000_000);
        call(&mut sh, pfadd, &[b"pfadd", b"h", b"b"]);
        assert_eq!(sh.dbs[0].table.get(&b"h"[..]).unwrap().expire_at(), 10_000_000);
    }

    #[test]
    fn type_errors_and_corruption() {
        let mut sh = Shard::new(0, 16, 1);
        put(&mut sh, b"s", b"bar");
        put(&mut sh, b"i", b"12345");
        let not_hll = Reply::error(errors::NOT_HLL);
        assert_eq!(call(&mut sh, pfadd, &[b"pfadd", b"s", b"1"]), not_hll);
        assert_eq!(call(&mut sh, pfadd, &[b"pfadd", b"i", b"1"]), not_hll);
        assert_eq!(count(&mut sh, &[b"s"]), not_hll);
        assert_eq!(count(&mut sh, &[b"x", b"s"]), not_hll);
        assert_eq!(merge(&mut sh, &[b"bar", b"s"]), not_hll);
        assert_eq!(merge(&mut sh, &[b"s", b"bar"]), not_hll);
        assert!(sh.dbs[0].table.get(&b"bar"[..]).is_none());

        call(&mut sh, pfadd, &[b"pfadd", b"c", b"a", b"b", b"c"]);
        let mut bytes = raw(&mut sh, b"c");
        bytes.extend_from_slice(b"hello");
        sh.dbs[0].set(Bytes::from_static(b"c"), Value::Str(StrValue::from_vec(bytes)), 0);
        assert_eq!(count(&mut sh, &[b"c"]), invalid());
        assert_eq!(count(&mut sh, &[b"c", b"x"]), invalid());
        // The first failing key decides the error.
        assert_eq!(count(&mut sh, &[b"c", b"s"]), invalid());
        assert_eq!(count(&mut sh, &[b"s", b"c"]), not_hll);
        assert_eq!(call(&mut sh, pfdebug, &[b"pfdebug", b"getreg", b"c"]), invalid());
    }

    #[test]
    fn merge_and_multi_count() {
        let mut sh = Shard::new(0, 16, 1);
        call(&mut sh, pfadd, &[b"pfadd", b"h1", b"a", b"b", b"c"]);
        call(&mut sh, pfadd, &[b"pfadd", b"h2", b"b", b"c", b"d"]);
        call(&mut sh, pfadd, &[b"pfadd", b"h3", b"c", b"d", b"e"]);
        assert_eq!(count(&mut sh, &[b"h1", b"h2", b"h3"]), Reply::Int(5));
        assert_eq!(merge(&mut sh, &[b"h", b"h1", b"h2", b"h3"]), Reply::Ok);
        assert_eq!(count(&mut sh, &[b"h"]), Reply::Int(5));
        assert_eq!(call(&mut sh, pfdebug, &[b"pfdebug", b"encoding", b"h"]), Reply::simple("sparse"));
        assert_eq!(call(&mut sh, pfdebug, &[b"pfdebug", b"todense", b"h2"]), Reply::Int(1));
        assert_eq!(call(&mut sh, pfdebug, &[b"pfdebug", b"todense", b"h2"]), Reply::Int(0));
        assert_eq!(merge(&mut sh, &[b"d", b"h1", b"h2"]), Reply::Ok);
        assert_eq!(call(&mut sh, pfdebug, &[b"pfdebug", b"encoding", b"d"]), Reply::simple("dense"));
        assert_eq!(count(&mut sh, &[b"d"]), Reply::Int(4));
        assert_eq!(merge(&mut sh, &[b"empty"]), Reply::Ok);
        assert_eq!(count(&mut sh, &[b"empty"]), Reply::Int(0));
    }

    #[test]
    fn pfdebug_subcommands() {
        let mut sh = Shard::new(0, 16, 1);
        assert_eq!(
            call(&mut sh, pfdebug, &[b"pfdebug", b"getreg", b"none"]),
            Reply::error("ERR The specified key does not exist")
        );
        call(&mut sh, pfadd, &[b"pfadd", b"h", b"a", b"b", b"c"]);
        assert_eq!(
            call(&mut sh, pfdebug, &[b"pfdebug", b"DECODE", b"h"]),
            Reply::Bulk(Bytes::from_static(b"Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"))
        );
        assert_eq!(
            call(&mut sh, pfdebug, &[b"pfdebug", b"foo", b"h"]),
            Reply::error("ERR Unknown PFDEBUG subcommand 'foo'")
        );
        match call(&mut sh, pfdebug, &[b"pfdebug", b"getreg", b"h"]) {
            Reply::Array(v) => {
                assert_eq!(v.len(), hll::REGISTERS);
                assert_eq!(v[8436], Reply::Int(1));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(call(&mut sh, pfdebug, &[b"pfdebug", b"encoding", b"h"]), Reply::simple("dense"));
        assert_eq!(
            call(&mut sh, pfdebug, &[b"pfdebug", b"decode", b"h"]),
            Reply::error("ERR HLL encoding is not sparse")
        );
    }

    #[test]
    fn sparse_max_bytes_comes_from_config() {
        let mut sh = Shard::new(0, 16, 1);
        sh.config.hll_sparse_max_bytes = 30;
        let mut args: Vec<&[u8]> = vec![b"pfadd", b"h"];
        let items: Vec<Vec<u8>> = (0..20).map(|i| format!("e{i}").into_bytes()).collect();
        args.extend(items.iter().map(|v| v.as_slice()));
        call(&mut sh, pfadd, &args);
        assert_eq!(call(&mut sh, pfdebug, &[b"pfdebug", b"encoding", b"h"]), Reply::simple("dense"));
    }
}
