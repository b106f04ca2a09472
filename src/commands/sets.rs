//! Set commands (Redis's t_set.c). Values live in `types::SetValue` (intset, listpack or
//! hashtable by the shard's `set-max-*` thresholds). Commands over several keys (SMOVE, SINTER,
//! SUNION, SDIFF, their STORE forms, SINTERCARD) run on one shard when all their keys live there,
//! else as a locked transaction: every source is read under the locks, the result is computed
//! here, and the destination is written on its own shard before the locks are released.

use super::hashes::{parse_count, parse_cursor, sample, scan_options, scan_reply};
use super::multikey::MultiKind;
use super::table::{spec, CommandSpec, KeySpec, Run};
use super::{errors, Ctx};
use crate::engine::notify::class;
use crate::engine::{Mode, Shard};
use crate::protocol::Reply;
use crate::runtime::Rt;
use crate::types::{SetLimits, SetValue, Value, WRONGTYPE};
use crate::util::{glob_match, parse_i64_strict};
use bytes::Bytes;

const W_FAST_OOM: &[&str] = &["write", "denyoom", "fast"];
const W_FAST: &[&str] = &["write", "fast"];
const W_OOM: &[&str] = &["write", "denyoom"];
const RO_FAST: &[&str] = &["readonly", "fast"];
const RO: &[&str] = &["readonly"];
const ACL_W_FAST: &[&str] = &["@write", "@set", "@fast"];
const ACL_W_SLOW: &[&str] = &["@write", "@set", "@slow"];
const ACL_R_FAST: &[&str] = &["@read", "@set", "@fast"];
const ACL_R_SLOW: &[&str] = &["@read", "@set", "@slow"];

/// The set commands whose keys may span shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetMulti {
    Inter,
    Union,
    Diff,
    InterStore,
    UnionStore,
    DiffStore,
    InterCard,
    Move,
}

const ONE: KeySpec = KeySpec::ONE;
const ALL: KeySpec = KeySpec::ALL;

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "set",
        "sadd",
        -3,
        W_FAST_OOM,
        ONE,
        ACL_W_FAST,
        "Add one or more members to a set",
        "1.0.0",
        Run::Shard(sadd, Mode::Write),
    ),
    spec(
        "set",
        "srem",
        -3,
        W_FAST,
        ONE,
        ACL_W_FAST,
        "Remove one or more members from a set",
        "1.0.0",
        Run::Shard(srem, Mode::Write),
    ),
    spec(
        "set",
        "smembers",
        2,
        RO,
        ONE,
        ACL_R_SLOW,
        "Get all the members in a set",
        "1.0.0",
        Run::Shard(smembers, Mode::Read),
    ),
    spec(
        "set",
        "sismember",
        3,
        RO_FAST,
        ONE,
        ACL_R_FAST,
        "Determine if a given value is a member of a set",
        "1.0.0",
        Run::Shard(sismember, Mode::Read),
    ),
    spec(
        "set",
        "smismember",
        -3,
        RO_FAST,
        ONE,
        ACL_R_FAST,
        "Returns the membership associated with the given elements for a set",
        "6.2.0",
        Run::Shard(smismember, Mode::Read),
    ),
    spec(
        "set",
        "scard",
        2,
        RO_FAST,
        ONE,
        ACL_R_FAST,
        "Get the number of members in a set",
        "1.0.0",
        Run::Shard(scard, Mode::Read),
    ),
    spec(
        "set",
        "spop",
        -2,
        W_FAST,
        ONE,
        ACL_W_FAST,
        "Remove and return one or multiple random members from a set",
        "1.0.0",
        Run::Shard(spop, Mode::Write),
    ),
    spec(
        "set",
        "srandmember",
        -2,
        RO,
        ONE,
        ACL_R_SLOW,
        "Get one or multiple random members from a set",
        "1.0.0",
        Run::Shard(srandmember, Mode::Read),
    ),
    spec(
        "set",
        "smove",
        4,
        W_FAST,
        KeySpec::TWO,
        ACL_W_FAST,
        "Move a member from one set to another",
        "1.0.0",
        Run::Multi(MultiKind::Sets(SetMulti::Move)),
    ),
    spec(
        "set",
        "sinter",
        -2,
        RO,
        ALL,
        ACL_R_SLOW,
        "Intersect multiple sets",
        "1.0.0",
        Run::Multi(MultiKind::Sets(SetMulti::Inter)),
    ),
    spec(
        "set",
        "sunion",
        -2,
        RO,
        ALL,
        ACL_R_SLOW,
        "Add multiple sets",
        "1.0.0",
        Run::Multi(MultiKind::Sets(SetMulti::Union)),
    ),
    spec(
        "set",
        "sdiff",
        -2,
        RO,
        ALL,
        ACL_R_SLOW,
        "Subtract multiple sets",
        "1.0.0",
        Run::Multi(MultiKind::Sets(SetMulti::Diff)),
    ),
    spec(
        "set",
        "sinterstore",
        -3,
        W_OOM,
        ALL,
        ACL_W_SLOW,
        "Intersect multiple sets and store the resulting set in a key",
        "1.0.0",
        Run::Multi(MultiKind::Sets(SetMulti::InterStore)),
    ),
    spec(
        "set",
        "sunionstore",
        -3,
        W_OOM,
        ALL,
        ACL_W_SLOW,
        "Add multiple sets and store the resulting set in a key",
        "1.0.0",
        Run::Multi(MultiKind::Sets(SetMulti::UnionStore)),
    ),
    spec(
        "set",
        "sdiffstore",
        -3,
        W_OOM,
        ALL,
        ACL_W_SLOW,
        "Subtract multiple sets and store the resulting set in a key",
        "1.0.0",
        Run::Multi(MultiKind::Sets(SetMulti::DiffStore)),
    ),
    spec(
        "set",
        "sintercard",
        -3,
        &["readonly", "movablekeys"],
        KeySpec::NONE,
        ACL_R_SLOW,
        "Intersect multiple sets and return the cardinality of the result",
        "7.0.0",
        Run::Multi(MultiKind::Sets(SetMulti::InterCard)),
    ),
    spec(
        "set",
        "sscan",
        -3,
        RO,
        ONE,
        ACL_R_SLOW,
        "Incrementally iterate Set elements",
        "2.8.0",
        Run::Shard(sscan, Mode::Read),
    ),
];

fn limits(sh: &Shard) -> SetLimits {
    SetLimits {
        max_intset_entries: sh.config.set_max_intset_entries,
        max_listpack_entries: sh.config.set_max_listpack_entries,
        max_listpack_value: sh.config.set_max_listpack_value,
    }
}

fn read_set<'a>(sh: &'a mut Shard, db: usize, key: &[u8]) -> Result<Option<&'a SetValue>, Reply> {
    match sh.lookup(db, key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Set(s) => Ok(Some(s)),
            _ => Err(Reply::error(WRONGTYPE)),
        },
    }
}

fn write_set<'a>(sh: &'a mut Shard, db: usize, key: &[u8]) -> Result<Option<&'a mut SetValue>, Reply> {
    match sh.lookup_write(db, key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Set(s) => Ok(Some(s)),
            _ => Err(Reply::error(WRONGTYPE)),
        },
    }
}

/// After removals: deletes `key` if its set is now empty (notifying `del`).
fn drop_if_empty(sh: &mut Shard, db: usize, key: &[u8]) {
    if matches!(sh.dbs[db].table.get(key).map(|e| &e.value), Some(Value::Set(s)) if s.is_empty()) {
        sh.dbs[db].remove(key);
        sh.notify(db, class::GENERIC, "del", key);
    }
}

/// SADD key member [member ...]
fn sadd(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let lim = limits(sh);
    let hint = args.len() - 2;
    let s = match write_set(sh, db, &args[1]) {
        Ok(Some(s)) => {
            s.prepare_for(hint, lim);
            s
        }
        Ok(None) => {
            let key = Bytes::copy_from_slice(&args[1]);
            sh.dbs[db].set(key, Value::set(SetValue::create(&args[2], hint, lim)), 0);
            match sh.dbs[db].table.get_mut(&args[1]).map(|e| &mut e.value) {
                Some(Value::Set(s)) => s,
                _ => unreachable!("just stored"),
            }
        }
        Err(e) => return e,
    };
    let added = args[2..].iter().filter(|m| s.add(m, lim)).count() as i64;
    if added > 0 {
        sh.notify(db, class::SET, "sadd", &args[1]);
    }
    Reply::Int(added)
}

/// SREM key member [member ...]
fn srem(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let s = match write_set(sh, db, &args[1]) {
        Ok(Some(s)) => s,
        Ok(None) => return Reply::Int(0),
        Err(e) => return e,
    };
    let mut deleted = 0;
    for m in &args[2..] {
        if s.remove(m) {
            deleted += 1;
            if s.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        sh.notify(db, class::SET, "srem", &args[1]);
        drop_if_empty(sh, db, &args[1]);
    }
    Reply::Int(deleted)
}

fn smembers(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match read_set(sh, db, &args[1]) {
        Ok(s) => Reply::Set(s.map_or_else(Vec::new, |s| s.members().into_iter().map(Reply::Bulk).collect())),
        Err(e) => e,
    }
}

fn sismember(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match read_set(sh, db, &args[1]) {
        Ok(s) => Reply::Int(s.is_some_and(|s| s.contains(&args[2])) as i64),
        Err(e) => e,
    }
}

fn smismember(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match read_set(sh, db, &args[1]) {
        Ok(s) => Reply::Array(args[2..].iter().map(|m| Reply::Int(s.is_some_and(|s| s.contains(m)) as i64)).collect()),
        Err(e) => e,
    }
}

fn scard(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match read_set(sh, db, &args[1]) {
        Ok(s) => Reply::Int(s.map_or(0, |s| s.len() as i64)),
        Err(e) => e,
    }
}

/// SPOP key [count]
fn spop(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return Reply::error(errors::SYNTAX);
    }
    let count = if args.len() == 3 {
        match parse_i64_strict(&args[2]).filter(|n| *n >= 0) {
            Some(n) => Some(n as u64),
            None => return Reply::error("ERR value is out of range, must be positive"),
        }
    } else {
        None
    };
    let size = match write_set(sh, db, &args[1]) {
        Ok(Some(s)) => s.len(),
        Ok(None) => return if count.is_some() { Reply::Set(vec![]) } else { Reply::Nil },
        Err(e) => return e,
    };
    if count == Some(0) {
        return Reply::Set(vec![]);
    }
    let picks = sample(sh, size, count.unwrap_or(1), true);
    let Ok(Some(s)) = write_set(sh, db, &args[1]) else { unreachable!("present") };
    let popped: Vec<Bytes> = if picks.len() == size {
        s.members()
    } else {
        let chosen: Vec<Bytes> = picks.into_iter().map(|i| s.nth(i)).collect();
        for m in &chosen {
            s.remove(m);
        }
        chosen
    };
    if popped.len() == size {
        sh.dbs[db].remove(&args[1]);
        sh.notify(db, class::SET, "spop", &args[1]);
        sh.notify(db, class::GENERIC, "del", &args[1]);
    } else {
        sh.notify(db, class::SET, "spop", &args[1]);
    }
    match count {
        None => Reply::Bulk(popped.into_iter().next().expect("one popped")),
        Some(_) => Reply::Set(popped.into_iter().map(Reply::Bulk).collect()),
    }
}

/// SRANDMEMBER key [count]
fn srandmember(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return Reply::error(errors::SYNTAX);
    }
    let l = if args.len() == 3 {
        match parse_count(&args[2]) {
            Ok(l) => Some(l),
            Err(e) => return e,
        }
    } else {
        None
    };
    let size = match read_set(sh, db, &args[1]) {
        Ok(Some(s)) => s.len(),
        Ok(None) => return if l.is_some() { Reply::Array(vec![]) } else { Reply::Nil },
        Err(e) => return e,
    };
    let picks = match l {
        Some(0) => return Reply::Array(vec![]),
        Some(l) => sample(sh, size, l.unsigned_abs(), l > 0),
        None => sample(sh, size, 1, true),
    };
    let Some(Value::Set(s)) = sh.dbs[db].table.get(&args[1]).map(|e| &e.value) else { unreachable!("present") };
    let mut members = picks.into_iter().map(|i| Reply::Bulk(s.nth(i)));
    match l {
        None => members.next().unwrap_or(Reply::Nil),
        Some(_) => Reply::Array(members.collect()),
    }
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
fn sscan(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let cursor = match parse_cursor(&args[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let s = match read_set(sh, db, &args[1]) {
        Ok(Some(s)) => s,
        Ok(None) => return scan_reply(0, vec![]),
        Err(e) => return e,
    };
    let (pattern, count) = match scan_options(&args[3..]) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let (next, items) = s.scan(cursor, count);
    let items = items
        .into_iter()
        .filter(|m| pattern.as_ref().is_none_or(|p| glob_match(p, m, false)))
        .map(Reply::Bulk)
        .collect();
    scan_reply(next, items)
}

// ---- Commands over several sets ----

/// What a multi-set command reads and writes.
struct Plan {
    sources: Vec<Bytes>,
    dst: Option<Bytes>,
    /// SINTERCARD's LIMIT (0 = none).
    limit: usize,
}

fn plan(op: SetMulti, args: &[Bytes]) -> Result<Plan, Reply> {
    match op {
        SetMulti::Inter | SetMulti::Union | SetMulti::Diff => {
            Ok(Plan { sources: args[1..].to_vec(), dst: None, limit: 0 })
        }
        SetMulti::InterStore | SetMulti::UnionStore | SetMulti::DiffStore => {
            Ok(Plan { sources: args[2..].to_vec(), dst: Some(args[1].clone()), limit: 0 })
        }
        SetMulti::InterCard => {
            let numkeys = parse_i64_strict(&args[1])
                .filter(|n| *n >= 1)
                .ok_or_else(|| Reply::error("ERR numkeys should be greater than 0"))?;
            if numkeys > args.len() as i64 - 2 {
                return Err(Reply::error("ERR Number of keys can't be greater than number of args"));
            }
            let end = 2 + numkeys as usize;
            let mut limit = 0;
            let mut i = end;
            while i < args.len() {
                if args[i].eq_ignore_ascii_case(b"limit") && i + 1 < args.len() {
                    limit = parse_i64_strict(&args[i + 1])
                        .filter(|n| *n >= 0)
                        .ok_or_else(|| Reply::error("ERR LIMIT can't be negative"))?
                        as usize;
                    i += 2;
                } else {
                    return Err(Reply::error(errors::SYNTAX));
                }
            }
            Ok(Plan { sources: args[2..end].to_vec(), dst: None, limit })
        }
        SetMulti::Move => unreachable!("SMOVE has its own path"),
    }
}

/// A source as read on its shard: absent, a set, or another type.
type Source = Result<Option<SetValue>, ()>;

/// Reads one source for a cross-shard command (cloned: the result is computed elsewhere).
fn read_source(sh: &mut Shard, db: usize, key: &[u8]) -> Source {
    match sh.lookup(db, key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Set(s) => Ok(Some((**s).clone())),
            _ => Err(()),
        },
    }
}

/// The result of a multi-set command before it is replied or stored.
enum Outcome {
    Members(Vec<Bytes>),
    Count(i64),
}

/// Computes SINTER/SUNION/SDIFF (and SINTERCARD's count) over sets read in key order.
fn compute(op: SetMulti, sets: &[Option<&SetValue>], limit: usize) -> Outcome {
    match op {
        SetMulti::Inter | SetMulti::InterStore | SetMulti::InterCard => {
            let card = op == SetMulti::InterCard;
            if sets.iter().any(Option::is_none) {
                return if card { Outcome::Count(0) } else { Outcome::Members(vec![]) };
            }
            let mut sets: Vec<&SetValue> = sets.iter().flatten().copied().collect();
            sets.sort_by_key(|s| s.len());
            let (first, rest) = sets.split_first().expect("at least one key");
            let mut out = Vec::new();
            let mut count = 0i64;
            let mut full = false;
            first.for_each(|m| {
                if full || !rest.iter().all(|s| s.contains(m)) {
                    return;
                }
                if card {
                    count += 1;
                    full = limit != 0 && count as usize >= limit;
                } else {
                    out.push(Bytes::copy_from_slice(m));
                }
            });
            if card {
                Outcome::Count(count)
            } else {
                Outcome::Members(out)
            }
        }
        SetMulti::Union | SetMulti::UnionStore => {
            let mut seen: hashbrown::HashSet<Bytes, foldhash::fast::FixedState> =
                hashbrown::HashSet::with_hasher(foldhash::fast::FixedState::with_seed(2));
            let mut out = Vec::new();
            for s in sets.iter().flatten() {
                s.for_each(|m| {
                    if !seen.contains(m) {
                        let m = Bytes::copy_from_slice(m);
                        seen.insert(m.clone());
                        out.push(m);
                    }
                });
            }
            Outcome::Members(out)
        }
        SetMulti::Diff | SetMulti::DiffStore => {
            let mut out = Vec::new();
            if let Some(Some(first)) = sets.first() {
                first.for_each(|m| {
                    if !sets[1..].iter().flatten().any(|s| s.contains(m)) {
                        out.push(Bytes::copy_from_slice(m));
                    }
                });
            }
            Outcome::Members(out)
        }
        SetMulti::Move => unreachable!("SMOVE has its own path"),
    }
}

fn store_event(op: SetMulti) -> &'static str {
    match op {
        SetMulti::InterStore => "sinterstore",
        SetMulti::UnionStore => "sunionstore",
        _ => "sdiffstore",
    }
}

/// Writes a STORE command's result into `dst` (deleting it when the result is empty).
fn store(sh: &mut Shard, db: usize, dst: &[u8], members: Vec<Bytes>, event: &'static str) -> Reply {
    let existed = sh.lookup_write(db, dst).is_some();
    if members.is_empty() {
        if existed {
            sh.dbs[db].remove(dst);
            sh.notify(db, class::GENERIC, "del", dst);
        }
        return Reply::Int(0);
    }
    let lim = limits(sh);
    let mut set = SetValue::empty();
    for m in &members {
        set.add(m, lim);
    }
    let n = set.len() as i64;
    sh.dbs[db].set(Bytes::copy_from_slice(dst), Value::set(set), 0);
    sh.notify(db, class::SET, event, dst);
    Reply::Int(n)
}

fn finish(op: SetMulti, outcome: Outcome) -> Reply {
    match outcome {
        Outcome::Count(n) => Reply::Int(n),
        Outcome::Members(m) if op == SetMulti::Inter || op == SetMulti::Union || op == SetMulti::Diff => {
            Reply::Set(m.into_iter().map(Reply::Bulk).collect())
        }
        Outcome::Members(_) => unreachable!("stores reply with their count"),
    }
}

/// A multi-set command when every key lives on this shard.
fn local(sh: &mut Shard, db: usize, op: SetMulti, p: &Plan) -> Reply {
    for k in &p.sources {
        sh.lookup(db, k);
    }
    let table = &sh.dbs[db].table;
    let mut sets = Vec::with_capacity(p.sources.len());
    for k in &p.sources {
        match table.get(k).map(|e| &e.value) {
            None => sets.push(None),
            Some(Value::Set(s)) => sets.push(Some(&**s)),
            Some(_) => return Reply::error(WRONGTYPE),
        }
    }
    let outcome = compute(op, &sets, p.limit);
    match (&p.dst, outcome) {
        (Some(dst), Outcome::Members(m)) => store(sh, db, dst, m, store_event(op)),
        (_, outcome) => finish(op, outcome),
    }
}

/// SMOVE on one shard.
fn smove_local(sh: &mut Shard, db: usize, src: &[u8], dst: &[u8], m: &[u8]) -> Reply {
    let member = match probe_src(sh, db, src, m) {
        Ok(Some(member)) => member,
        Ok(None) => return Reply::Int(0),
        Err(e) => return e,
    };
    if let Err(e) = probe_dst(sh, db, dst) {
        return e;
    }
    if src == dst || !member {
        return Reply::Int(member as i64);
    }
    take_member(sh, db, src, m);
    give_member(sh, db, dst, m);
    Reply::Int(1)
}

/// SMOVE's first look at the source: absent (`None`), or whether it holds the member.
fn probe_src(sh: &mut Shard, db: usize, src: &[u8], m: &[u8]) -> Result<Option<bool>, Reply> {
    Ok(write_set(sh, db, src)?.map(|s| s.contains(m)))
}

fn probe_dst(sh: &mut Shard, db: usize, dst: &[u8]) -> Result<(), Reply> {
    write_set(sh, db, dst).map(|_| ())
}

fn take_member(sh: &mut Shard, db: usize, src: &[u8], m: &[u8]) {
    if let Ok(Some(s)) = write_set(sh, db, src) {
        s.remove(m);
    }
    sh.notify(db, class::SET, "srem", src);
    drop_if_empty(sh, db, src);
}

fn give_member(sh: &mut Shard, db: usize, dst: &[u8], m: &[u8]) {
    let lim = limits(sh);
    let added = match write_set(sh, db, dst) {
        Ok(Some(s)) => s.add(m, lim),
        _ => {
            let mut s = SetValue::create(m, 1, lim);
            s.add(m, lim);
            sh.dbs[db].set(Bytes::copy_from_slice(dst), Value::set(s), 0);
            true
        }
    };
    if added {
        sh.notify(db, class::SET, "sadd", dst);
    }
}

fn shutting_down() -> Reply {
    Reply::error(errors::SHUTTING_DOWN)
}

/// Runs SMOVE, SINTER, SUNION, SDIFF, their STORE forms and SINTERCARD.
pub async fn run_multi<R: Rt>(ctx: &mut Ctx<'_, R>, op: SetMulti, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    if op == SetMulti::Move {
        return smove(ctx, args).await;
    }
    let p = match plan(op, args) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mode = if p.dst.is_some() { Mode::Write } else { Mode::Read };
    let all_keys: Vec<Bytes> = p.dst.iter().chain(&p.sources).cloned().collect();
    let first_shard = ctx.shards.shard_of(&all_keys[0]);
    if all_keys.iter().all(|k| ctx.shards.shard_of(k) == first_shard) {
        return ctx
            .shards
            .run_keyed(ctx.rt, ctx.home, first_shard, db as u16, &all_keys, mode, move |sh| local(sh, db, op, &p))
            .await
            .unwrap_or_else(shutting_down);
    }
    let mut locks: Vec<(Bytes, Mode)> = p.sources.iter().map(|k| (k.clone(), Mode::Read)).collect();
    if let Some(d) = &p.dst {
        locks.push((d.clone(), Mode::Write));
    }
    let tx = ctx.shards.lock(ctx.rt, db as u16, &locks).await;
    // Read every source on its shard, under the locks.
    let mut by_shard: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, k) in p.sources.iter().enumerate() {
        let s = ctx.shards.shard_of(k);
        match by_shard.iter_mut().find(|(id, _)| *id == s) {
            Some((_, v)) => v.push(i),
            None => by_shard.push((s, vec![i])),
        }
    }
    let mut read: Vec<Source> = vec![Ok(None); p.sources.len()];
    for (shard, idx) in by_shard {
        let keys: Vec<Bytes> = idx.iter().map(|&i| p.sources[i].clone()).collect();
        let Some(vals) = tx.run(shard, move |sh| keys.iter().map(|k| read_source(sh, db, k)).collect::<Vec<_>>()).await
        else {
            return shutting_down();
        };
        for (i, v) in idx.into_iter().zip(vals) {
            read[i] = v;
        }
    }
    let mut sets = Vec::with_capacity(read.len());
    for r in &read {
        match r {
            Ok(s) => sets.push(s.as_ref()),
            Err(()) => return Reply::error(WRONGTYPE),
        }
    }
    let outcome = compute(op, &sets, p.limit);
    match (p.dst, outcome) {
        (Some(dst), Outcome::Members(m)) => {
            let event = store_event(op);
            let shard = ctx.shards.shard_of(&dst);
            tx.run(shard, move |sh| store(sh, db, &dst, m, event)).await.unwrap_or_else(shutting_down)
        }
        (_, outcome) => finish(op, outcome),
    }
}

/// SMOVE source destination member
async fn smove<R: Rt>(ctx: &mut Ctx<'_, R>, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    let (src, dst, m) = (args[1].clone(), args[2].clone(), args[3].clone());
    let (ss, ds) = (ctx.shards.shard_of(&src), ctx.shards.shard_of(&dst));
    if ss == ds {
        return ctx
            .shards
            .run_keyed(ctx.rt, ctx.home, ss, db as u16, &args[1..3], Mode::Write, move |sh| {
                smove_local(sh, db, &src, &dst, &m)
            })
            .await
            .unwrap_or_else(shutting_down);
    }
    let tx = ctx.shards.lock(ctx.rt, db as u16, &[(src.clone(), Mode::Write), (dst.clone(), Mode::Write)]).await;
    let (s2, m2) = (src.clone(), m.clone());
    let member = match tx.run(ss, move |sh| probe_src(sh, db, &s2, &m2)).await {
        Some(Ok(Some(member))) => member,
        Some(Ok(None)) => return Reply::Int(0),
        Some(Err(e)) => return e,
        None => return shutting_down(),
    };
    let d2 = dst.clone();
    match tx.run(ds, move |sh| probe_dst(sh, db, &d2)).await {
        Some(Ok(())) => {}
        Some(Err(e)) => return e,
        None => return shutting_down(),
    }
    if !member {
        return Reply::Int(0);
    }
    let m2 = m.clone();
    if tx.run(ss, move |sh| take_member(sh, db, &src, &m2)).await.is_none() {
        return shutting_down();
    }
    match tx.run(ds, move |sh| give_member(sh, db, &dst, &m)).await {
        Some(()) => Reply::Int(1),
        None => shutting_down(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::hashes::tests::{args, b, call, encoding, err, shard, wire};
    use super::*;
    use crate::protocol::RespVersion;

    fn multi(sh: &mut Shard, op: SetMulti, parts: &[&str]) -> Reply {
        let a = args(parts);
        match plan(op, &a) {
            Ok(p) => local(sh, 0, op, &p),
            Err(e) => e,
        }
    }

    fn sorted(r: Reply) -> Vec<Reply> {
        let mut v = match r {
            Reply::Array(v) | Reply::Set(v) => v,
            other => panic!("{other:?}"),
        };
        v.sort_by_key(|r| format!("{r:?}"));
        v
    }

    fn set_of(items: &[&str]) -> Vec<Reply> {
        let mut v: Vec<Reply> = items.iter().map(|s| b(s)).collect();
        v.sort_by_key(|r| format!("{r:?}"));
        v
    }

    #[test]
    fn basic_membership() {
        let mut sh = shard();
        assert_eq!(call(&mut sh, sadd, &["sadd", "s", "1", "2", "2", "3"]), Reply::Int(3));
        assert_eq!(encoding(&sh, "s"), "intset");
        assert_eq!(call(&mut sh, sadd, &["sadd", "s", "3", "x"]), Reply::Int(1));
        assert_eq!(encoding(&sh, "s"), "listpack");
        assert_eq!(call(&mut sh, scard, &["scard", "s"]), Reply::Int(4));
        assert_eq!(call(&mut sh, scard, &["scard", "nokey"]), Reply::Int(0));
        assert_eq!(call(&mut sh, sismember, &["sismember", "s", "x"]), Reply::Int(1));
        assert_eq!(call(&mut sh, sismember, &["sismember", "s", "y"]), Reply::Int(0));
        assert_eq!(call(&mut sh, sismember, &["sismember", "nokey", "y"]), Reply::Int(0));
        assert_eq!(
            call(&mut sh, smismember, &["smismember", "s", "1", "y", "x"]),
            Reply::Array(vec![Reply::Int(1), Reply::Int(0), Reply::Int(1)])
        );
        assert_eq!(call(&mut sh, smismember, &["smismember", "nokey", "1"]), Reply::Array(vec![Reply::Int(0)]));
        let m = call(&mut sh, smembers, &["smembers", "s"]);
        assert!(wire(&m, RespVersion::Resp3).starts_with("~4\r\n"));
        assert_eq!(sorted(m), set_of(&["1", "2", "3", "x"]));
        assert_eq!(call(&mut sh, smembers, &["smembers", "nokey"]), Reply::Set(vec![]));
        sh.set_notify(crate::engine::notify::NotifyFlags::parse("KEA").unwrap());
        assert_eq!(call(&mut sh, srem, &["srem", "s", "1", "nope", "x"]), Reply::Int(2));
        assert_eq!(call(&mut sh, srem, &["srem", "s", "nope"]), Reply::Int(0));
        assert_eq!(call(&mut sh, srem, &["srem", "s", "2", "3", "4"]), Reply::Int(2));
        assert_eq!(encoding(&sh, "s"), "none");
        let ev: Vec<&str> = sh.events.iter().map(|e| e.event).collect();
        assert_eq!(ev, vec!["srem", "srem", "del"]);
    }

    #[test]
    fn encodings_follow_config() {
        let mut sh = shard();
        sh.config.set_max_intset_entries = 4;
        sh.config.set_max_listpack_entries = 3;
        sh.config.set_max_listpack_value = 4;
        call(&mut sh, sadd, &["sadd", "i", "1", "2", "3", "4"]);
        assert_eq!(encoding(&sh, "i"), "intset");
        call(&mut sh, sadd, &["sadd", "i", "5"]);
        assert_eq!(encoding(&sh, "i"), "hashtable");
        call(&mut sh, sadd, &["sadd", "l", "a", "b", "c"]);
        assert_eq!(encoding(&sh, "l"), "listpack");
        call(&mut sh, sadd, &["sadd", "l", "d"]);
        assert_eq!(encoding(&sh, "l"), "hashtable");
        call(&mut sh, sadd, &["sadd", "v", "abcde"]);
        assert_eq!(encoding(&sh, "v"), "hashtable");
        // A hint above the thresholds goes straight to a table.
        call(&mut sh, sadd, &["sadd", "h", "a", "b", "c", "d"]);
        assert_eq!(encoding(&sh, "h"), "hashtable");
        call(&mut sh, srem, &["srem", "h", "a", "b", "c"]);
        assert_eq!(encoding(&sh, "h"), "hashtable");
        // An intset meeting a string with more members than a listpack may hold.
        call(&mut sh, sadd, &["sadd", "j", "1", "2", "3"]);
        call(&mut sh, sadd, &["sadd", "j", "a"]);
        assert_eq!(encoding(&sh, "j"), "hashtable");
    }

    #[test]
    fn wrongtype_everywhere() {
        let mut sh = shard();
        sh.dbs[0].set(Bytes::from_static(b"str"), Value::Str(crate::types::StrValue::from_bytes(b"x")), 0);
        let fns: &[(super::super::table::ShardFn, &[&str])] = &[
            (sadd, &["sadd", "str", "a"]),
            (srem, &["srem", "str", "a"]),
            (smembers, &["smembers", "str"]),
            (sismember, &["sismember", "str", "a"]),
            (smismember, &["smismember", "str", "a"]),
            (scard, &["scard", "str"]),
            (spop, &["spop", "str"]),
            (spop, &["spop", "str", "2"]),
            (srandmember, &["srandmember", "str"]),
            (srandmember, &["srandmember", "str", "2"]),
            (sscan, &["sscan", "str", "0"]),
        ];
        for (f, a) in fns {
            assert_eq!(call(&mut sh, *f, a), err(WRONGTYPE), "{a:?}");
        }
        call(&mut sh, sadd, &["sadd", "s", "a"]);
        for op in [SetMulti::Inter, SetMulti::Union, SetMulti::Diff] {
            assert_eq!(multi(&mut sh, op, &["x", "s", "str"]), err(WRONGTYPE));
        }
        assert_eq!(multi(&mut sh, SetMulti::InterStore, &["x", "d", "s", "str"]), err(WRONGTYPE));
        assert_eq!(smove_local(&mut sh, 0, b"str", b"s", b"a"), err(WRONGTYPE));
        assert_eq!(smove_local(&mut sh, 0, b"s", b"str", b"a"), err(WRONGTYPE));
        assert_eq!(smove_local(&mut sh, 0, b"nokey", b"str", b"a"), Reply::Int(0));
    }

    #[test]
    fn spop_and_srandmember() {
        let mut sh = shard();
        assert_eq!(call(&mut sh, spop, &["spop", "s"]), Reply::Nil);
        assert_eq!(call(&mut sh, spop, &["spop", "s", "3"]), Reply::Set(vec![]));
        assert_eq!(call(&mut sh, srandmember, &["srandmember", "s"]), Reply::Nil);
        assert_eq!(call(&mut sh, srandmember, &["srandmember", "s", "3"]), Reply::Array(vec![]));
        call(&mut sh, sadd, &["sadd", "s", "a", "b", "c", "d", "e"]);
        assert_eq!(call(&mut sh, spop, &["spop", "s", "-1"]), err("ERR value is out of range, must be positive"));
        assert_eq!(call(&mut sh, spop, &["spop", "s", "x"]), err("ERR value is out of range, must be positive"));
        assert_eq!(call(&mut sh, spop, &["spop", "s", "1", "2"]), err(errors::SYNTAX));
        assert_eq!(call(&mut sh, spop, &["spop", "s", "0"]), Reply::Set(vec![]));
        let Reply::Bulk(one) = call(&mut sh, spop, &["spop", "s"]) else { panic!() };
        assert_eq!(call(&mut sh, scard, &["scard", "s"]), Reply::Int(4));
        assert_eq!(call(&mut sh, sismember, &["sismember", "s", std::str::from_utf8(&one).unwrap()]), Reply::Int(0));
        let Reply::Set(two) = call(&mut sh, spop, &["spop", "s", "2"]) else { panic!() };
        assert!(two.len() == 2 && two[0] != two[1]);
        assert_eq!(call(&mut sh, scard, &["scard", "s"]), Reply::Int(2));
        let Reply::Set(rest) = call(&mut sh, spop, &["spop", "s", "10"]) else { panic!() };
        assert_eq!(rest.len(), 2);
        assert_eq!(encoding(&sh, "s"), "none");

        call(&mut sh, sadd, &["sadd", "r", "1", "2", "3"]);
        assert_eq!(sorted(call(&mut sh, srandmember, &["srandmember", "r", "10"])), set_of(&["1", "2", "3"]));
        let Reply::Array(two) = call(&mut sh, srandmember, &["srandmember", "r", "2"]) else { panic!() };
        assert!(two.len() == 2 && two[0] != two[1]);
        let Reply::Array(many) = call(&mut sh, srandmember, &["srandmember", "r", "-10"]) else { panic!() };
        assert_eq!(many.len(), 10);
        assert_eq!(call(&mut sh, srandmember, &["srandmember", "r", "0"]), Reply::Array(vec![]));
        assert_eq!(
            call(&mut sh, srandmember, &["srandmember", "r", "-9223372036854775808"]),
            err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        );
        assert_eq!(call(&mut sh, srandmember, &["srandmember", "r", "1", "2"]), err(errors::SYNTAX));
        // Large sets (hashtable) too.
        for i in 0..300 {
            call(&mut sh, sadd, &["sadd", "big", &format!("m{i}")]);
        }
        assert_eq!(encoding(&sh, "big"), "hashtable");
        let Reply::Array(ten) = call(&mut sh, srandmember, &["srandmember", "big", "10"]) else { panic!() };
        assert_eq!(sorted(Reply::Array(ten.clone())).windows(2).filter(|w| w[0] == w[1]).count(), 0);
        let Reply::Set(popped) = call(&mut sh, spop, &["spop", "big", "250"]) else { panic!() };
        assert_eq!(popped.len(), 250);
        assert_eq!(call(&mut sh, scard, &["scard", "big"]), Reply::Int(50));
    }

    #[test]
    fn algebra_on_one_shard() {
        let mut sh = shard();
        call(&mut sh, sadd, &["sadd", "a", "1", "2", "3", "x"]);
        call(&mut sh, sadd, &["sadd", "b", "2", "3", "4"]);
        call(&mut sh, sadd, &["sadd", "c", "3", "x"]);
        assert_eq!(sorted(multi(&mut sh, SetMulti::Inter, &["sinter", "a", "b"])), set_of(&["2", "3"]));
        assert_eq!(sorted(multi(&mut sh, SetMulti::Inter, &["sinter", "a", "b", "c"])), set_of(&["3"]));
        assert_eq!(multi(&mut sh, SetMulti::Inter, &["sinter", "a", "nokey"]), Reply::Set(vec![]));
        assert_eq!(
            sorted(multi(&mut sh, SetMulti::Union, &["sunion", "a", "b", "nokey"])),
            set_of(&["1", "2", "3", "4", "x"])
        );
        assert_eq!(sorted(multi(&mut sh, SetMulti::Diff, &["sdiff", "a", "b", "nokey"])), set_of(&["1", "x"]));
        assert_eq!(multi(&mut sh, SetMulti::Diff, &["sdiff", "a", "a"]), Reply::Set(vec![]));
        assert_eq!(multi(&mut sh, SetMulti::Diff, &["sdiff", "nokey", "a"]), Reply::Set(vec![]));

        assert_eq!(multi(&mut sh, SetMulti::InterStore, &["sinterstore", "d", "a", "b"]), Reply::Int(2));
        assert_eq!(encoding(&sh, "d"), "intset");
        assert_eq!(multi(&mut sh, SetMulti::UnionStore, &["sunionstore", "d", "a", "c"]), Reply::Int(4));
        assert_eq!(encoding(&sh, "d"), "listpack");
        assert_eq!(multi(&mut sh, SetMulti::DiffStore, &["sdiffstore", "d", "b", "a"]), Reply::Int(1));
        assert_eq!(sorted(call(&mut sh, smembers, &["smembers", "d"])), set_of(&["4"]));
        // An empty result deletes the destination, whatever its type.
        sh.dbs[0].set(Bytes::from_static(b"str"), Value::Str(crate::types::StrValue::from_bytes(b"x")), 0);
        assert_eq!(multi(&mut sh, SetMulti::InterStore, &["sinterstore", "str", "a", "nokey"]), Reply::Int(0));
        assert_eq!(encoding(&sh, "str"), "none");
        // The destination may also be a source.
        assert_eq!(multi(&mut sh, SetMulti::UnionStore, &["sunionstore", "a", "a", "b"]), Reply::Int(5));

        assert_eq!(multi(&mut sh, SetMulti::InterCard, &["sintercard", "2", "a", "b"]), Reply::Int(3));
        assert_eq!(multi(&mut sh, SetMulti::InterCard, &["sintercard", "2", "a", "b", "LIMIT", "2"]), Reply::Int(2));
        assert_eq!(multi(&mut sh, SetMulti::InterCard, &["sintercard", "2", "a", "b", "limit", "0"]), Reply::Int(3));
        assert_eq!(multi(&mut sh, SetMulti::InterCard, &["sintercard", "1", "nokey"]), Reply::Int(0));
        assert_eq!(
            multi(&mut sh, SetMulti::InterCard, &["sintercard", "0", "a"]),
            err("ERR numkeys should be greater than 0")
        );
        assert_eq!(
            multi(&mut sh, SetMulti::InterCard, &["sintercard", "x", "a"]),
            err("ERR numkeys should be greater than 0")
        );
        assert_eq!(
            multi(&mut sh, SetMulti::InterCard, &["sintercard", "3", "a", "b"]),
            err("ERR Number of keys can't be greater than number of args")
        );
        assert_eq!(
            multi(&mut sh, SetMulti::InterCard, &["sintercard", "1", "a", "LIMIT", "-1"]),
            err("ERR LIMIT can't be negative")
        );
        assert_eq!(multi(&mut sh, SetMulti::InterCard, &["sintercard", "1", "a", "LIMIT"]), err(errors::SYNTAX));
        assert_eq!(multi(&mut sh, SetMulti::InterCard, &["sintercard", "1", "a", "b"]), err(errors::SYNTAX));
    }

    #[test]
    fn smove_on_one_shard() {
        let mut sh = shard();
        sh.set_notify(crate::engine::notify::NotifyFlags::parse("KEA").unwrap());
        call(&mut sh, sadd, &["sadd", "a", "1", "2"]);
        call(&mut sh, sadd, &["sadd", "b", "x"]);
        assert_eq!(smove_local(&mut sh, 0, b"a", b"b", b"1"), Reply::Int(1));
        assert_eq!(smove_local(&mut sh, 0, b"a", b"b", b"1"), Reply::Int(0));
        assert_eq!(smove_local(&mut sh, 0, b"a", b"a", b"2"), Reply::Int(1));
        assert_eq!(smove_local(&mut sh, 0, b"a", b"a", b"9"), Reply::Int(0));
        assert_eq!(smove_local(&mut sh, 0, b"a", b"new", b"2"), Reply::Int(1));
        assert_eq!(encoding(&sh, "a"), "none");
        assert_eq!(encoding(&sh, "new"), "intset");
        assert_eq!(sorted(call(&mut sh, smembers, &["smembers", "b"])), set_of(&["1", "x"]));
        let ev: Vec<&str> = sh.events.iter().map(|e| e.event).collect();
        assert_eq!(ev, vec!["sadd", "sadd", "srem", "sadd", "srem", "del", "sadd"]);
    }

    #[test]
    fn sscan_small_and_large() {
        let mut sh = shard();
        assert_eq!(call(&mut sh, sscan, &["sscan", "s", "0"]), scan_reply(0, vec![]));
        call(&mut sh, sadd, &["sadd", "s", "a1", "b1", "a2"]);
        let Reply::Array(r) = call(&mut sh, sscan, &["sscan", "s", "0", "match", "a*", "count", "1"]) else { panic!() };
        assert_eq!(r[0], b("0"));
        assert_eq!(sorted(r[1].clone()), set_of(&["a1", "a2"]));
        assert_eq!(call(&mut sh, sscan, &["sscan", "s", "-1"]), err(errors::INVALID_CURSOR));
        for i in 0..700 {
            call(&mut sh, sadd, &["sadd", "big", &i.to_string()]);
        }
        assert_eq!(encoding(&sh, "big"), "hashtable");
        let (mut cursor, mut seen) = ("0".to_string(), std::collections::BTreeSet::new());
        loop {
            let Reply::Array(r) = call(&mut sh, sscan, &["sscan", "big", &cursor, "COUNT", "50"]) else { panic!() };
            let (Reply::Bulk(c), Reply::Array(items)) = (&r[0], &r[1]) else { panic!() };
            for m in items {
                let Reply::Bulk(m) = m else { panic!() };
                seen.insert(m.clone());
            }
            cursor = String::from_utf8(c.to_vec()).unwrap();
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 700);
    }

    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[derive(Debug, Clone)]
    enum Op {
        Add(u8, String),
        Rem(u8, String),
        Move(u8, u8, String),
        Store(u8, u8, u8, u8),
        Pop(u8),
    }

    fn member() -> impl Strategy<Value = String> {
        prop_oneof![(-5i64..10).prop_map(|n| n.to_string()), "[a-d]{1,7}"]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..3, member()).prop_map(|(k, m)| Op::Add(k, m)),
            (0u8..3, member()).prop_map(|(k, m)| Op::Rem(k, m)),
            (0u8..3, 0u8..3, member()).prop_map(|(a, b, m)| Op::Move(a, b, m)),
            (0u8..3, 0u8..3, 0u8..3, 0u8..3).prop_map(|(o, d, a, b)| Op::Store(o, d, a, b)),
            (0u8..3).prop_map(Op::Pop),
        ]
    }

    proptest! {
        #[test]
        fn commands_behave_like_a_model(ops in proptest::collection::vec(op(), 1..60)) {
            let mut sh = shard();
            sh.config.set_max_intset_entries = 4;
            sh.config.set_max_listpack_entries = 3;
            sh.config.set_max_listpack_value = 5;
            let key = |k: u8| format!("k{k}");
            let mut model: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Add(k, m) => {
                        let added = model.entry(key(k)).or_default().insert(m.clone());
                        prop_assert_eq!(call(&mut sh, sadd, &["sadd", &key(k), &m]), Reply::Int(added as i64));
                    }
                    Op::Rem(k, m) => {
                        let removed = model.get_mut(&key(k)).is_some_and(|s| s.remove(&m));
                        prop_assert_eq!(call(&mut sh, srem, &["srem", &key(k), &m]), Reply::Int(removed as i64));
                    }
                    Op::Move(a, b, m) => {
                        let present = model.get(&key(a)).is_some_and(|s| s.contains(&m));
                        if present && a != b {
                            model.get_mut(&key(a)).unwrap().remove(&m);
                            model.entry(key(b)).or_default().insert(m.clone());
                        }
                        prop_assert_eq!(smove_local(&mut sh, 0, key(a).as_bytes(), key(b).as_bytes(), m.as_bytes()), Reply::Int(present as i64));
                    }
                    Op::Store(o, d, a, b) => {
                        let (sa, sb) = (model.get(&key(a)).cloned().unwrap_or_default(), model.get(&key(b)).cloned().unwrap_or_default());
                        let (op, name, result): (SetMulti, &str, BTreeSet<String>) = match o {
                            0 => (SetMulti::InterStore, "sinterstore", sa.intersection(&sb).cloned().collect()),
                            1 => (SetMulti::UnionStore, "sunionstore", sa.union(&sb).cloned().collect()),
                            _ => (SetMulti::DiffStore, "sdiffstore", sa.difference(&sb).cloned().collect()),
                        };
                        let n = result.len() as i64;
                        model.insert(key(d), result);
                        prop_assert_eq!(multi(&mut sh, op, &[name, &key(d), &key(a), &key(b)]), Reply::Int(n));
                    }
                    Op::Pop(k) => {
                        match call(&mut sh, spop, &["spop", &key(k)]) {
                            Reply::Nil => prop_assert!(model.get(&key(k)).is_none_or(|s| s.is_empty())),
                            Reply::Bulk(m) => {
                                let m = String::from_utf8(m.to_vec()).unwrap();
                                prop_assert!(model.get_mut(&key(k)).unwrap().remove(&m));
                            }
                            other => prop_assert!(false, "{:?}", other),
                        }
                    }
                }
                model.retain(|_, s| !s.is_empty());
                for k in 0..3u8 {
                    let want = model.get(&key(k)).cloned().unwrap_or_default();
                    let got: BTreeSet<String> = match call(&mut sh, smembers, &["smembers", &key(k)]) {
                        Reply::Set(v) => v.into_iter().map(|r| match r { Reply::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(), _ => unreachable!() }).collect(),
                        other => { prop_assert!(false, "{:?}", other); unreachable!() }
                    };
                    prop_assert_eq!(&got, &want);
                    prop_assert_eq!(call(&mut sh, scard, &["scard", &key(k)]), Reply::Int(want.len() as i64));
                    let enc = encoding(&sh, &key(k));
                    match enc {
                        "intset" => prop_assert!(want.len() <= 4 && want.iter().all(|m| m.parse::<i64>().is_ok())),
                        "listpack" => prop_assert!(want.len() <= 3),
                        "none" => prop_assert!(want.is_empty()),
                        _ => {}
                    }
                }
            }
        }
    }
}
