//! The blocking sorted-set pops: BZPOPMIN, BZPOPMAX, BZMPOP (Redis's t_zset.c blocking forms).
//!
//! Like the list family's blocking pops (`lists`): a client first tries the non-blocking pop on
//! its keys in order; if every key is missing it registers a `BlockOp::ZPop` waiter on each key
//! in the same atomic step (the owning shard's step, or under the locks when the keys span
//! shards), then waits for a reply or its timeout. A write to a waited key goes through
//! `Shard::notify`, so the owning shard serves the oldest sorted-set waiter with `serve_zpop`
//! once that write's command has finished (`engine::blocking`); a client waiting on keys of
//! several shards is served by whichever claims it first, exactly once.

use super::lists::{parse_timeout, wait_wake, BlockGuard};
use super::multikey::MultiKind;
use super::table::{spec, CommandSpec, KeySpec, Run};
use super::zsets::{mpop_local, parse_mpop, pop_on};
use super::{errors, Ctx};
use crate::engine::{BlockOp, Mode, Shard, ShardSet, Waiter, WakeMsg};
use crate::protocol::Reply;
use crate::runtime::Rt;
use bytes::Bytes;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const W_FAST_BLOCK: &[&str] = &["write", "noscript", "fast", "blocking"];
const W_BLOCK_MOVABLE: &[&str] = &["write", "blocking", "movablekeys"];
const ACL_W_FAST_BLOCK: &[&str] = &["@write", "@sortedset", "@fast", "@blocking"];
const ACL_W_SLOW_BLOCK: &[&str] = &["@write", "@sortedset", "@slow", "@blocking"];

pub static COMMANDS: &[CommandSpec] = &[
    spec("sorted_set", "bzpopmin", -3, W_FAST_BLOCK, KeySpec { first: 1, last: -2, step: 1 }, ACL_W_FAST_BLOCK, "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", "5.0.0", Run::Multi(MultiKind::ZBlock(ZBlockCmd::PopMin))),
    spec("sorted_set", "bzpopmax", -3, W_FAST_BLOCK, KeySpec { first: 1, last: -2, step: 1 }, ACL_W_FAST_BLOCK, "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", "5.0.0", Run::Multi(MultiKind::ZBlock(ZBlockCmd::PopMax))),
    // Keys follow numkeys (a movable-keys command): no legacy range, as LMPOP/BLMPOP/ZMPOP.
    spec("sorted_set", "bzmpop", -5, W_BLOCK_MOVABLE, KeySpec::NONE, ACL_W_SLOW_BLOCK, "Remove and return members with scores in a sorted set or block until one is available", "7.0.0", Run::Multi(MultiKind::ZBlock(ZBlockCmd::Mpop))),
];

/// The blocking sorted-set commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZBlockCmd {
    PopMin,
    PopMax,
    Mpop,
}

/// A parsed request: keys in order, which end, `count` (None for BZPOPMIN/BZPOPMAX's flat
/// reply), and the timeout (`None` = forever).
#[derive(Clone, Debug, PartialEq)]
struct Req {
    keys: Vec<Bytes>,
    max: bool,
    count: Option<usize>,
    timeout: Option<Duration>,
}

/// Parses in Redis's order: BZPOPMIN/BZPOPMAX read the timeout first; BZMPOP checks numkeys,
/// MIN|MAX and COUNT before the timeout.
fn parse(cmd: ZBlockCmd, args: &[Bytes]) -> Result<Req, Reply> {
    match cmd {
        ZBlockCmd::PopMin | ZBlockCmd::PopMax => {
            let timeout = parse_timeout(&args[args.len() - 1])?;
            let keys = args[1..args.len() - 1].to_vec();
            Ok(Req { keys, max: cmd == ZBlockCmd::PopMax, count: None, timeout })
        }
        ZBlockCmd::Mpop => {
            let (keys, max, count) = parse_mpop(args, 2)?;
            let timeout = parse_timeout(&args[1])?;
            Ok(Req { keys, max, count: Some(count), timeout })
        }
    }
}

/// The reply for elements popped from `key`: `[key, member, score]` for BZPOPMIN/BZPOPMAX,
/// `[key, [[member, score], ...]]` for BZMPOP (scores are doubles in RESP3, bulk in RESP2).
fn pop_reply(key: Bytes, items: Vec<(Bytes, f64)>, count: Option<usize>) -> Reply {
    match count {
        None => {
            let mut out = Vec::with_capacity(1 + 2 * items.len());
            out.push(Reply::Bulk(key));
            for (m, s) in items {
                out.push(Reply::Bulk(m));
                out.push(Reply::Double(s));
            }
            Reply::Array(out)
        }
        Some(_) => Reply::Array(vec![
            Reply::Bulk(key),
            Reply::Array(
                items.into_iter().map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)])).collect(),
            ),
        ]),
    }
}

/// Pops from the first of `keys` (all on this shard) holding a sorted set; `None` when every
/// key is missing. WRONGTYPE when the first existing key is not a sorted set.
fn pop_first(sh: &mut Shard, db: usize, keys: &[Bytes], max: bool, count: Option<usize>) -> Option<Reply> {
    match mpop_local(sh, db, keys, max, count.unwrap_or(1)) {
        Err(e) => Some(e),
        Ok(None) => None,
        Ok(Some((k, items))) => {
            // Replicas pop the same members whichever command did it.
            let mut rec = vec![Bytes::from_static(if max { b"ZPOPMAX" } else { b"ZPOPMIN" }), k.clone()];
            if count.is_some() {
                rec.push(Bytes::from(items.len().to_string()));
            }
            sh.propagate_instead(db, rec);
            Some(pop_reply(k, items, count))
        }
    }
}

/// Serves a blocked BZPOPMIN/BZPOPMAX/BZMPOP from `key`, which holds a non-empty sorted set.
fn serve_zpop(sh: &mut Shard, db: usize, key: &Bytes, op: &BlockOp) -> Reply {
    match op {
        BlockOp::ZPop { max, count } => pop_first(sh, db, std::slice::from_ref(key), *max, *count),
        _ => None,
    }
    .unwrap_or(Reply::NilArray)
}

/// Runs a blocking sorted-set command.
pub async fn run<R: Rt>(ctx: &mut Ctx<'_, R>, cmd: ZBlockCmd, args: &[Bytes]) -> Reply {
    // Inside EXEC the transaction holds its locks: never wait there.
    let may_block = !ctx.client.in_exec;
    run_with(ctx, cmd, args, may_block).await
}

/// The form used where a client may not block (MULTI/EXEC): nothing to pop replies a nil
/// array at once, as Redis does for clients denied blocking.
pub async fn run_without_blocking<R: Rt>(ctx: &mut Ctx<'_, R>, cmd: ZBlockCmd, args: &[Bytes]) -> Reply {
    run_with(ctx, cmd, args, false).await
}

/// Whether `spec` is one of the blocking sorted-set commands.
pub fn is_blocking(spec: &CommandSpec) -> bool {
    matches!(spec.run, Run::Multi(MultiKind::ZBlock(_)))
}

async fn run_with<R: Rt>(ctx: &mut Ctx<'_, R>, cmd: ZBlockCmd, args: &[Bytes], may_block: bool) -> Reply {
    let req = match parse(cmd, args) {
        Ok(r) => r,
        Err(e) => return e,
    };
    if may_block {
        block(ctx, &req).await
    } else {
        attempt(ctx, &req, None).await.unwrap_or(Reply::NilArray)
    }
}

fn shutting_down() -> Reply {
    Reply::error(errors::SHUTTING_DOWN)
}

/// Tries `req` once. `None` when every key was missing; then, when `waiter` is given, it has
/// been registered on every key in the same atomic step.
async fn attempt<R: Rt>(ctx: &Ctx<'_, R>, req: &Req, waiter: Option<&Waiter>) -> Option<Reply> {
    let db = ctx.client.db;
    let (max, count) = (req.max, req.count);
    let mut groups: Vec<(usize, Vec<Bytes>)> = Vec::new();
    for k in &req.keys {
        let s = ctx.shards.shard_of(k);
        match groups.iter_mut().find(|(id, _)| *id == s) {
            Some((_, v)) => v.push(k.clone()),
            None => groups.push((s, vec![k.clone()])),
        }
    }
    if groups.len() == 1 {
        let keys = req.keys.clone();
        let w = waiter.cloned();
        return ctx
            .shards
            .run_keyed(ctx.rt, ctx.home, groups[0].0, db as u16, &req.keys, Mode::Write, move |sh| {
                let r = pop_first(sh, db, &keys, max, count);
                if let (None, Some(w)) = (&r, w) {
                    for k in &keys {
                        sh.blocking.register(db, k, w.clone());
                    }
                }
                r
            })
            .await
            .unwrap_or_else(|| Some(shutting_down()));
    }
    groups.sort_by_key(|(s, _)| *s);
    let locks: Vec<(Bytes, Mode)> = req.keys.iter().map(|k| (k.clone(), Mode::Write)).collect();
    let tx = ctx.shards.lock(ctx.rt, db as u16, &locks).await;
    for k in &req.keys {
        let key = k.clone();
        match tx.run(ctx.shards.shard_of(k), move |sh| pop_on(sh, db, &key, max, count.unwrap_or(1))).await {
            None => return Some(shutting_down()),
            Some(Err(e)) => return Some(e),
            Some(Ok(None)) => {}
            Some(Ok(Some(items))) => return Some(pop_reply(k.clone(), items, count)),
        }
    }
    if let Some(w) = waiter {
        for (s, ks) in groups {
            let w = w.clone();
            tx.run(s, move |sh| {
                for k in &ks {
                    sh.blocking.register(db, k, w.clone());
                }
            })
            .await;
        }
    }
    None
}

/// Tries, registers, waits until served, timed out, or the connection goes away (then the
/// guard claims the wait and deregisters it from every key).
async fn block<R: Rt>(ctx: &mut Ctx<'_, R>, req: &Req) -> Reply {
    let db = ctx.client.db;
    let client = ctx.client.id;
    let (tx, mut rx) = mpsc::unbounded_channel::<WakeMsg>();
    let claim = Arc::new(AtomicBool::new(false));
    let op = BlockOp::ZPop { max: req.max, count: req.count };
    let waiter = Waiter { client, claim: claim.clone(), tx, op, serve: serve_zpop };
    let deadline = req.timeout.map(|d| ctx.rt.now() + d);
    let shards: &ShardSet = ctx.shards;
    let mut guard = BlockGuard::new(shards, ctx.home, db, client, claim.clone(), req.keys.clone());
    loop {
        if let Some(r) = attempt(ctx, req, Some(&waiter)).await {
            return r;
        }
        guard.count();
        if let Some(reply) = wait_wake(ctx.rt, &mut rx, &claim, deadline).await {
            return reply;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::notify::class;
    use crate::types::{ListValue, Value};

    fn args(parts: &[&str]) -> Vec<Bytes> {
        parts.iter().map(|p| Bytes::copy_from_slice(p.as_bytes())).collect()
    }

    fn b(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn err(s: &str) -> Reply {
        Reply::error(s.to_string())
    }

    /// Runs a single-shard command the way the server does, then serves blocked clients.
    fn call(sh: &mut Shard, parts: &[&str]) -> Reply {
        let spec = super::super::lookup(parts[0].as_bytes()).unwrap();
        let Run::Shard(f, _) = spec.run else { panic!("{} is coordinated", parts[0]) };
        let r = f(sh, 0, &args(parts));
        sh.after_work();
        r
    }

    fn waiter(client: u64, op: BlockOp) -> (Waiter, mpsc::UnboundedReceiver<WakeMsg>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let claim = Arc::new(AtomicBool::new(false));
        (Waiter { client, claim, tx, op, serve: serve_zpop }, rx)
    }

    #[test]
    fn parsing_follows_redis_order_and_errors() {
        let p = |parts: &[&str], cmd| parse(cmd, &args(parts));
        const NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
        const NEGATIVE: &str = "ERR timeout is negative";
        const NUMKEYS: &str = "ERR numkeys should be greater than 0";
        const COUNT: &str = "ERR count should be greater than 0";
        let r = p(&["bzpopmin", "a", "b", "1.5"], ZBlockCmd::PopMin).unwrap();
        assert_eq!(r.keys, args(&["a", "b"]));
        assert_eq!((r.max, r.count, r.timeout), (false, None, Some(Duration::from_millis(1500))));
        assert_eq!(p(&["bzpopmax", "a", "0"], ZBlockCmd::PopMax).unwrap().timeout, None);
        assert!(p(&["bzpopmax", "a", "0"], ZBlockCmd::PopMax).unwrap().max);
        assert_eq!(p(&["bzpopmin", "a", "x"], ZBlockCmd::PopMin).unwrap_err(), err(NOT_FLOAT));
        assert_eq!(p(&["bzpopmin", "a", "-0.5"], ZBlockCmd::PopMin).unwrap_err(), err(NEGATIVE));
        let r = p(&["bzmpop", "0.01", "2", "a", "b", "MAX", "count", "3"], ZBlockCmd::Mpop).unwrap();
        assert_eq!((r.keys.len(), r.max, r.count, r.timeout), (2, true, Some(3), Some(Duration::from_millis(10))));
        assert_eq!(p(&["bzmpop", "0", "1", "a", "min"], ZBlockCmd::Mpop).unwrap().count, Some(1));
        for (bad, e) in [
            (&["bzmpop", "1", "0", "a", "MIN"][..], NUMKEYS),
            (&["bzmpop", "1", "a", "a", "MIN"], NUMKEYS),
            (&["bzmpop", "1", "-1", "a", "MAX"], NUMKEYS),
            (&["bzmpop", "1", "1", "a", "bad_where"], errors::SYNTAX),
            (&["bzmpop", "1", "1", "a", "MIN", "bar_arg"], errors::SYNTAX),
            (&["bzmpop", "1", "1", "a", "MIN", "COUNT"], errors::SYNTAX),
            (&["bzmpop", "1", "1", "a", "MAX", "MIN"], errors::SYNTAX),
            (&["bzmpop", "1", "1", "a", "MIN", "COUNT", "1", "COUNT", "2"], errors::SYNTAX),
            (&["bzmpop", "1", "2", "a", "b", "bad_arg"], errors::SYNTAX),
            (&["bzmpop", "1", "3", "a", "MIN"], errors::SYNTAX),
            (&["bzmpop", "1", "1", "a", "MIN", "COUNT", "0"], COUNT),
            (&["bzmpop", "1", "1", "a", "MAX", "COUNT", "-1"], COUNT),
            // numkeys and the options are checked before the timeout, as in Redis.
            (&["bzmpop", "x", "0", "a", "MIN"], NUMKEYS),
            (&["bzmpop", "x", "1", "a", "MIN"], NOT_FLOAT),
            (&["bzmpop", "-1", "1", "a", "MIN"], NEGATIVE),
        ] {
            assert_eq!(p(bad, ZBlockCmd::Mpop).unwrap_err(), err(e), "{bad:?}");
        }
    }

    #[test]
    fn table_entries_match_redis() {
        let min = super::super::lookup(b"BZPOPMIN").unwrap();
        assert_eq!((min.arity, min.keys.first, min.keys.last, min.keys.step), (-3, 1, -2, 1));
        assert!(min.has_flag("blocking") && min.has_flag("write") && min.has_flag("fast"));
        assert_eq!(min.keys.positions(4).collect::<Vec<_>>(), vec![1, 2]);
        let mpop = super::super::lookup(b"bzmpop").unwrap();
        assert_eq!((mpop.arity, mpop.keys.first), (-5, 0));
        assert!(mpop.has_flag("movablekeys") && mpop.acl.contains(&"@blocking"));
        assert!(super::super::is_blocking(min) && super::super::is_blocking(mpop));
        assert!(super::super::is_blocking(super::super::lookup(b"blpop").unwrap()));
        assert!(!super::super::is_blocking(super::super::lookup(b"zpopmin").unwrap()));
    }

    #[test]
    fn immediate_pops_and_reply_shapes() {
        let mut sh = Shard::new(0, 16, 9);
        call(&mut sh, &["zadd", "z", "1", "a", "2", "b", "3", "c"]);
        let keys = args(&["missing", "z"]);
        assert_eq!(
            pop_first(&mut sh, 0, &keys, false, None),
            Some(Reply::Array(vec![b("z"), b("a"), Reply::Double(1.0)]))
        );
        let pair = |m: &str, s: f64| Reply::Array(vec![b(m), Reply::Double(s)]);
        assert_eq!(
            pop_first(&mut sh, 0, &keys, true, Some(5)),
            Some(Reply::Array(vec![b("z"), Reply::Array(vec![pair("c", 3.0), pair("b", 2.0)])]))
        );
        assert!(sh.dbs[0].table.get(b"z".as_slice()).is_none(), "emptied sets go away");
        assert_eq!(pop_first(&mut sh, 0, &keys, false, None), None);
        call(&mut sh, &["set", "s", "v"]);
        call(&mut sh, &["zadd", "z", "1", "a"]);
        assert_eq!(pop_first(&mut sh, 0, &args(&["s", "z"]), false, None), Some(err(crate::types::WRONGTYPE)));
    }

    #[test]
    fn waiters_are_served_in_order_by_zset_writes_only() {
        let mut sh = Shard::new(0, 16, 9);
        let k = Bytes::from_static(b"q");
        let (w1, mut r1) = waiter(1, BlockOp::ZPop { max: false, count: None });
        let (w2, mut r2) = waiter(2, BlockOp::ZPop { max: true, count: Some(10) });
        let (w3, mut r3) = waiter(3, BlockOp::ZPop { max: false, count: Some(1) });
        for w in [w1, w2, w3] {
            sh.blocking.register(0, &k, w);
        }
        // A list written to the key serves nobody waiting for a sorted set.
        let l = ListValue::from_items([Bytes::from_static(b"x")], 128);
        sh.dbs[0].set(k.clone(), Value::list(l), 0);
        sh.notify(0, class::LIST, "lpush", &k);
        sh.after_work();
        assert!(r1.try_recv().is_err());
        assert_eq!(sh.blocking.waiters(0, b"q"), 3);
        sh.dbs[0].remove(b"q".as_slice());
        call(&mut sh, &["zadd", "q", "1", "a", "2", "b", "3", "c", "4", "d"]);
        assert_eq!(r1.try_recv().unwrap(), Some(Reply::Array(vec![b("q"), b("a"), Reply::Double(1.0)])));
        let pair = |m: &str, s: f64| Reply::Array(vec![b(m), Reply::Double(s)]);
        let want = Reply::Array(vec![b("q"), Reply::Array(vec![pair("d", 4.0), pair("c", 3.0), pair("b", 2.0)])]);
        assert_eq!(r2.try_recv().unwrap(), Some(want));
        assert!(r3.try_recv().is_err(), "the set emptied before the third waiter's turn");
        assert!(sh.dbs[0].table.get(b"q".as_slice()).is_none());
        call(&mut sh, &["zincrby", "q", "5", "m"]);
        assert_eq!(r3.try_recv().unwrap(), Some(Reply::Array(vec![b("q"), Reply::Array(vec![pair("m", 5.0)])])));
        assert!(!sh.blocking.is_waiting());
    }

    #[test]
    fn list_and_zset_waiters_on_one_key_keep_their_turns() {
        let mut sh = Shard::new(0, 16, 9);
        let k = Bytes::from_static(b"k");
        let (wz, mut rz) = waiter(1, BlockOp::ZPop { max: false, count: None });
        let (tx, mut rl) = mpsc::unbounded_channel();
        fn serve_list(sh: &mut Shard, db: usize, key: &Bytes, _op: &BlockOp) -> Reply {
            sh.dbs[db].remove(key);
            Reply::Bulk(key.clone())
        }
        let claim = Arc::new(AtomicBool::new(false));
        let wl = Waiter { client: 2, claim, tx, op: BlockOp::Pop { left: true, count: None }, serve: serve_list };
        sh.blocking.register(0, &k, wz);
        sh.blocking.register(0, &k, wl);
        sh.dbs[0].set(k.clone(), Value::list(ListValue::from_items([Bytes::from_static(b"x")], 128)), 0);
        sh.notify(0, class::LIST, "rpush", &k);
        sh.after_work();
        assert_eq!(rl.try_recv().unwrap(), Some(b("k")), "the list waiter behind a sorted-set waiter is served");
        assert!(rz.try_recv().is_err());
        call(&mut sh, &["zadd", "k", "7", "m"]);
        assert_eq!(rz.try_recv().unwrap(), Some(Reply::Array(vec![b("k"), b("m"), Reply::Double(7.0)])));
    }
}
