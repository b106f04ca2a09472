//! List commands (Redis's t_list.c), including the blocking pops. Single-key commands run on
//! the key's shard; LMOVE/RPOPLPUSH/LMPOP and the blocking family may name keys on several
//! shards and are coordinated here: one shard runs inline, several are locked first.
//!
//! Blocking: a client first tries the non-blocking form; if nothing can be popped it registers
//! a waiter on every key (atomically with the try: same shard step, or under the locks), then
//! waits for a reply, a wake-up (retry) or its timeout. See `engine::blocking`.

use super::errors;
use super::multikey::MultiKind;
use super::table::{spec, CommandSpec, KeySpec, Run};
use super::Ctx;
use crate::engine::notify::class;
use crate::engine::{BlockOp, Mode, Shard, ShardCell, ShardSet, Waiter, WakeMsg};
use crate::protocol::Reply;
use crate::runtime::Rt;
use crate::types::{ListValue, Value, WRONGTYPE};
use crate::util::{parse_f64_strict, parse_i64_strict};
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const W_FAST_OOM: &[&str] = &["write", "denyoom", "fast"];
const W_FAST: &[&str] = &["write", "fast"];
const W_OOM: &[&str] = &["write", "denyoom"];
const W: &[&str] = &["write"];
const RO: &[&str] = &["readonly"];
const RO_FAST: &[&str] = &["readonly", "fast"];
const W_BLOCK: &[&str] = &["write", "noscript", "blocking"];
const W_OOM_BLOCK: &[&str] = &["write", "denyoom", "noscript", "blocking"];
const W_MOVABLE: &[&str] = &["write", "movablekeys"];
const W_BLOCK_MOVABLE: &[&str] = &["write", "blocking", "movablekeys"];
const ACL_W_FAST: &[&str] = &["@write", "@list", "@fast"];
const ACL_W_SLOW: &[&str] = &["@write", "@list", "@slow"];
const ACL_R_FAST: &[&str] = &["@read", "@list", "@fast"];
const ACL_R_SLOW: &[&str] = &["@read", "@list", "@slow"];
const ACL_W_BLOCK: &[&str] = &["@write", "@list", "@slow", "@blocking"];

const RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
const COUNT_NEGATIVE: &str = "ERR COUNT can't be negative";
const MAXLEN_NEGATIVE: &str = "ERR MAXLEN can't be negative";
const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
const INDEX_RANGE: &str = "ERR index out of range";
const NUMKEYS: &str = "ERR numkeys should be greater than 0";
const COUNT_POSITIVE: &str = "ERR count should be greater than 0";
const TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";

pub static COMMANDS: &[CommandSpec] = &[
    spec("list", "lpush", -3, W_FAST_OOM, KeySpec::ONE, ACL_W_FAST, "Prepends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0", Run::Shard(lpush, Mode::Write)),
    spec("list", "rpush", -3, W_FAST_OOM, KeySpec::ONE, ACL_W_FAST, "Appends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0", Run::Shard(rpush, Mode::Write)),
    spec("list", "lpushx", -3, W_FAST_OOM, KeySpec::ONE, ACL_W_FAST, "Prepends one or more elements to a list only when the list exists.", "2.2.0", Run::Shard(lpushx, Mode::Write)),
    spec("list", "rpushx", -3, W_FAST_OOM, KeySpec::ONE, ACL_W_FAST, "Appends an element to a list only when the list exists.", "2.2.0", Run::Shard(rpushx, Mode::Write)),
    spec("list", "lpop", -2, W_FAST, KeySpec::ONE, ACL_W_FAST, "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", "1.0.0", Run::Shard(lpop, Mode::Write)),
    spec("list", "rpop", -2, W_FAST, KeySpec::ONE, ACL_W_FAST, "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", "1.0.0", Run::Shard(rpop, Mode::Write)),
    spec("list", "lrange", 4, RO, KeySpec::ONE, ACL_R_SLOW, "Returns a range of elements from a list.", "1.0.0", Run::Shard(lrange, Mode::Read)),
    spec("list", "lindex", 3, RO, KeySpec::ONE, ACL_R_SLOW, "Returns an element from a list by its index.", "1.0.0", Run::Shard(lindex, Mode::Read)),
    spec("list", "lset", 4, W_OOM, KeySpec::ONE, ACL_W_SLOW, "Sets the value of an element in a list by its index.", "1.0.0", Run::Shard(lset, Mode::Write)),
    spec("list", "linsert", 5, W_OOM, KeySpec::ONE, ACL_W_SLOW, "Inserts an element before or after another element in a list.", "2.2.0", Run::Shard(linsert, Mode::Write)),
    spec("list", "llen", 2, RO_FAST, KeySpec::ONE, ACL_R_FAST, "Returns the length of a list.", "1.0.0", Run::Shard(llen, Mode::Read)),
    spec("list", "lrem", 4, W, KeySpec::ONE, ACL_W_SLOW, "Removes elements from a list. Deletes the list if the last element was removed.", "1.0.0", Run::Shard(lrem, Mode::Write)),
    spec("list", "ltrim", 4, W, KeySpec::ONE, ACL_W_SLOW, "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", "1.0.0", Run::Shard(ltrim, Mode::Write)),
    spec("list", "lpos", -3, RO, KeySpec::ONE, ACL_R_SLOW, "Returns the index of matching elements in a list.", "6.0.6", Run::Shard(lpos, Mode::Read)),
    spec("list", "lmove", 5, W_OOM, KeySpec::TWO, ACL_W_SLOW, "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", "6.2.0", Run::Multi(MultiKind::List(ListCmd::Lmove))),
    spec("list", "rpoplpush", 3, W_OOM, KeySpec::TWO, ACL_W_SLOW, "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", "1.2.0", Run::Multi(MultiKind::List(ListCmd::Rpoplpush))),
    spec("list", "lmpop", -4, W_MOVABLE, KeySpec::NONE, ACL_W_SLOW, "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", "7.0.0", Run::Multi(MultiKind::List(ListCmd::Lmpop))),
    spec("list", "blpop", -3, W_BLOCK, KeySpec { first: 1, last: -2, step: 1 }, ACL_W_BLOCK, "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0", Run::Multi(MultiKind::List(ListCmd::Blpop))),
    spec("list", "brpop", -3, W_BLOCK, KeySpec { first: 1, last: -2, step: 1 }, ACL_W_BLOCK, "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0", Run::Multi(MultiKind::List(ListCmd::Brpop))),
    spec("list", "blmove", 6, W_OOM_BLOCK, KeySpec::TWO, ACL_W_BLOCK, "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", "6.2.0", Run::Multi(MultiKind::List(ListCmd::Blmove))),
    spec("list", "brpoplpush", 4, W_OOM_BLOCK, KeySpec::TWO, ACL_W_BLOCK, "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", "2.2.0", Run::Multi(MultiKind::List(ListCmd::Brpoplpush))),
    spec("list", "blmpop", -5, W_BLOCK_MOVABLE, KeySpec::NONE, ACL_W_BLOCK, "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "7.0.0", Run::Multi(MultiKind::List(ListCmd::Blmpop))),
];

/// The list commands coordinated in this file (their keys may span shards, or they block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListCmd {
    Lmove,
    Rpoplpush,
    Lmpop,
    Blpop,
    Brpop,
    Blmove,
    Brpoplpush,
    Blmpop,
}

// ---------------------------------------------------------------------------------------------
// Shard-local helpers

/// The list at `key`: `Ok(None)` when absent, `Err` (WRONGTYPE) for another type.
fn list_at<'a>(sh: &'a mut Shard, db: usize, key: &[u8], read: bool) -> Result<Option<&'a mut ListValue>, Reply> {
    let e = if read { sh.lookup(db, key) } else { sh.lookup_write(db, key) };
    match e {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::List(l) => Ok(Some(l)),
            #[allow(unreachable_patterns)]
            _ => Err(Reply::error(WRONGTYPE)),
        },
    }
}

macro_rules! list_or {
    ($sh:expr, $db:expr, $key:expr, $read:expr, $absent:expr) => {
        match list_at($sh, $db, $key, $read) {
            Ok(Some(l)) => l,
            Ok(None) => return $absent,
            Err(e) => return e,
        }
    };
}

fn int_arg(a: &[u8]) -> Result<i64, Reply> {
    parse_i64_strict(a).ok_or_else(|| Reply::error(errors::NOT_INTEGER))
}

/// `LEFT` / `RIGHT` (true for left).
fn parse_where(a: &[u8]) -> Result<bool, Reply> {
    if a.eq_ignore_ascii_case(b"left") {
        Ok(true)
    } else if a.eq_ignore_ascii_case(b"right") {
        Ok(false)
    } else {
        Err(Reply::error(errors::SYNTAX))
    }
}

/// A blocking timeout in seconds as a float; `None` is forever (0).
pub fn parse_timeout(a: &[u8]) -> Result<Option<Duration>, Reply> {
    let secs = parse_f64_strict(a).ok_or_else(|| Reply::error(TIMEOUT_NOT_FLOAT))?;
    let ms = (secs * 1000.0).ceil();
    if ms < 0.0 {
        return Err(Reply::error(TIMEOUT_NEGATIVE));
    }
    if ms == 0.0 {
        return Ok(None);
    }
    // Beyond a century is forever in practice; keeps the arithmetic finite.
    Ok(Some(Duration::from_millis(ms.min(3_153_600_000_000.0) as u64)))
}

/// Bookkeeping after elements left the list at `key`: the event, and the key goes when empty.
fn removed(sh: &mut Shard, db: usize, key: &[u8], event: &'static str) {
    sh.notify(db, class::LIST, event, key);
    let limit = sh.config.list_max_listpack_size;
    let empty = match sh.dbs[db].table.get_mut(key).map(|e| &mut e.value) {
        Some(Value::List(l)) => {
            l.update_encoding(limit);
            l.is_empty()
        }
        _ => false,
    };
    if empty {
        sh.dbs[db].remove(key);
        sh.notify(db, class::GENERIC, "del", key);
    }
}

fn pop_event(left: bool) -> &'static str {
    if left {
        "lpop"
    } else {
        "rpop"
    }
}

fn push_event(left: bool) -> &'static str {
    if left {
        "lpush"
    } else {
        "rpush"
    }
}

/// Pushes `vals` onto `key`, creating the list unless `only_existing`. Returns the new length
/// (0 when absent and `only_existing`).
fn push_values(sh: &mut Shard, db: usize, key: &Bytes, vals: &[Bytes], left: bool, only_existing: bool) -> Reply {
    let limit = sh.config.list_max_listpack_size;
    let len = match list_at(sh, db, key, false) {
        Err(e) => return e,
        Ok(None) if only_existing => return Reply::Int(0),
        Ok(None) => {
            let mut l = ListValue::new();
            for v in vals {
                l.push(left, Bytes::copy_from_slice(v));
            }
            l.update_encoding(limit);
            let n = l.len();
            sh.dbs[db].set(Bytes::copy_from_slice(key), Value::list(l), 0);
            n
        }
        Ok(Some(l)) => {
            for v in vals {
                l.push(left, Bytes::copy_from_slice(v));
            }
            l.update_encoding(limit);
            l.len()
        }
    };
    sh.notify(db, class::LIST, push_event(left), key);
    Reply::Int(len as i64)
}

fn lpush(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    push_values(sh, db, &args[1], &args[2..], true, false)
}

fn rpush(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    push_values(sh, db, &args[1], &args[2..], false, false)
}

fn lpushx(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    push_values(sh, db, &args[1], &args[2..], true, true)
}

fn rpushx(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    push_values(sh, db, &args[1], &args[2..], false, true)
}

/// LPOP / RPOP key [count]
fn pop_cmd(sh: &mut Shard, db: usize, args: &[Bytes], left: bool) -> Reply {
    if args.len() > 3 {
        return Reply::error(errors::wrong_args(if left { "lpop" } else { "rpop" }));
    }
    let count = match args.get(2) {
        None => None,
        Some(a) => match parse_i64_strict(a) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Reply::error(MUST_BE_POSITIVE),
        },
    };
    let l = list_or!(sh, db, &args[1], false, if count.is_some() { Reply::NilArray } else { Reply::Nil });
    let reply = match count {
        Some(0) => return Reply::Array(vec![]),
        None => Reply::opt_bulk(l.pop(left)),
        Some(n) => Reply::Array(l.pop_many(left, n).into_iter().map(Reply::Bulk).collect()),
    };
    removed(sh, db, &args[1], pop_event(left));
    reply
}

fn lpop(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    pop_cmd(sh, db, args, true)
}

fn rpop(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    pop_cmd(sh, db, args, false)
}

fn lrange(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let (start, end) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let l = list_or!(sh, db, &args[1], true, Reply::Array(vec![]));
    Reply::Array(l.range(start, end).into_iter().map(Reply::Bulk).collect())
}

fn lindex(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let l = list_or!(sh, db, &args[1], true, Reply::Nil);
    match int_arg(&args[2]) {
        Ok(i) => Reply::opt_bulk(l.get(i).cloned()),
        Err(e) => e,
    }
}

fn lset(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let limit = sh.config.list_max_listpack_size;
    let l = list_or!(sh, db, &args[1], false, Reply::error(errors::NO_SUCH_KEY));
    let i = match int_arg(&args[2]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    if !l.set(i, Bytes::copy_from_slice(&args[3])) {
        return Reply::error(INDEX_RANGE);
    }
    l.update_encoding(limit);
    sh.notify(db, class::LIST, "lset", &args[1]);
    Reply::Ok
}

fn linsert(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let after = if args[2].eq_ignore_ascii_case(b"after") {
        true
    } else if args[2].eq_ignore_ascii_case(b"before") {
        false
    } else {
        return Reply::error(errors::SYNTAX);
    };
    let limit = sh.config.list_max_listpack_size;
    let l = list_or!(sh, db, &args[1], false, Reply::Int(0));
    if !l.insert(&args[3], Bytes::copy_from_slice(&args[4]), after) {
        return Reply::Int(-1);
    }
    l.update_encoding(limit);
    let n = l.len() as i64;
    sh.notify(db, class::LIST, "linsert", &args[1]);
    Reply::Int(n)
}

fn llen(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let l = list_or!(sh, db, &args[1], true, Reply::Int(0));
    Reply::Int(l.len() as i64)
}

fn lrem(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let count = match int_arg(&args[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let l = list_or!(sh, db, &args[1], false, Reply::Int(0));
    let n = l.remove(&args[3], count);
    if n > 0 {
        removed(sh, db, &args[1], "lrem");
    }
    Reply::Int(n as i64)
}

fn ltrim(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let (start, end) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let l = list_or!(sh, db, &args[1], false, Reply::Ok);
    l.trim(start, end);
    removed(sh, db, &args[1], "ltrim");
    Reply::Ok
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
fn lpos(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let (mut rank, mut count, mut maxlen) = (1i64, None::<usize>, 0usize);
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        let opt = &args[i];
        if opt.eq_ignore_ascii_case(b"RANK") && more {
            rank = match int_arg(&args[i + 1]) {
                Ok(0) => return Reply::error(RANK_ZERO),
                Ok(r) => r,
                Err(e) => return e,
            };
        } else if opt.eq_ignore_ascii_case(b"COUNT") && more {
            count = match parse_i64_strict(&args[i + 1]) {
                Some(c) if c >= 0 => Some(c as usize),
                _ => return Reply::error(COUNT_NEGATIVE),
            };
        } else if opt.eq_ignore_ascii_case(b"MAXLEN") && more {
            maxlen = match parse_i64_strict(&args[i + 1]) {
                Some(m) if m >= 0 => m as usize,
                _ => return Reply::error(MAXLEN_NEGATIVE),
            };
        } else {
            return Reply::error(errors::SYNTAX);
        }
        i += 2;
    }
    let absent = if count.is_some() { Reply::Array(vec![]) } else { Reply::Nil };
    let l = list_or!(sh, db, &args[1], true, absent);
    let len = l.len();
    let from_tail = rank < 0;
    let skip = rank.unsigned_abs() as usize - 1;
    let want = match count {
        Some(0) => usize::MAX,
        Some(c) => c,
        None => 1,
    };
    let scan = if maxlen == 0 { len } else { maxlen.min(len) };
    let ele = &args[2];
    let mut found = Vec::new();
    let mut matches = 0usize;
    for step in 0..scan {
        let pos = if from_tail { len - 1 - step } else { step };
        if l.get(pos as i64).is_some_and(|e| e == ele) {
            matches += 1;
            if matches > skip {
                found.push(Reply::Int(pos as i64));
                if found.len() >= want {
                    break;
                }
            }
        }
    }
    match count {
        Some(_) => Reply::Array(found),
        None => found.pop().unwrap_or(Reply::Nil),
    }
}

/// Pops from the first of `keys` (all on this shard) holding a list: `[key, element]` when
/// `count` is None, else `[key, [elements...]]`. `None` when every key is absent.
pub fn pop_first(sh: &mut Shard, db: usize, keys: &[Bytes], left: bool, count: Option<usize>) -> Option<Reply> {
    for key in keys {
        let l = match list_at(sh, db, key, false) {
            Ok(Some(l)) if !l.is_empty() => l,
            Ok(_) => continue,
            Err(e) => return Some(e),
        };
        let reply = match count {
            None => Reply::Array(vec![Reply::Bulk(key.clone()), Reply::opt_bulk(l.pop(left))]),
            Some(n) => Reply::Array(vec![
                Reply::Bulk(key.clone()),
                Reply::Array(l.pop_many(left, n).into_iter().map(Reply::Bulk).collect()),
            ]),
        };
        removed(sh, db, key, pop_event(left));
        // Replicas pop the same elements whichever command did it (BLPOP, LMPOP...).
        let mut rec = vec![Bytes::from_static(if left { b"LPOP" } else { b"RPOP" }), key.clone()];
        if let (Some(_), Reply::Array(parts)) = (count, &reply) {
            if let Some(Reply::Array(items)) = parts.get(1) {
                rec.push(Bytes::from(items.len().to_string()));
            }
        }
        sh.propagate_instead(db, rec);
        return Some(reply);
    }
    None
}

fn side(left: bool) -> Bytes {
    Bytes::from_static(if left { b"LEFT" } else { b"RIGHT" })
}

/// What replicas apply for a move, whichever command made it (BLMOVE, BRPOPLPUSH...).
fn propagate_move(sh: &mut Shard, db: usize, src: &Bytes, dst: &Bytes, from_left: bool, to_left: bool) {
    let rec = vec![Bytes::from_static(b"LMOVE"), src.clone(), dst.clone(), side(from_left), side(to_left)];
    sh.propagate_instead(db, rec);
}

/// LMOVE with both keys on this shard. `None` when the source is absent.
pub fn lmove_local(
    sh: &mut Shard,
    db: usize,
    src: &Bytes,
    dst: &Bytes,
    from_left: bool,
    to_left: bool,
) -> Option<Reply> {
    match list_at(sh, db, src, false) {
        Ok(Some(l)) if !l.is_empty() => {}
        Ok(_) => return None,
        Err(e) => return Some(e),
    }
    if let Err(e) = list_at(sh, db, dst, false) {
        return Some(e);
    }
    let Ok(Some(l)) = list_at(sh, db, src, false) else { return None };
    let v = l.pop(from_left)?;
    push_values(sh, db, dst, std::slice::from_ref(&v), to_left, false);
    if src != dst {
        removed(sh, db, src, pop_event(from_left));
    } else {
        sh.notify(db, class::LIST, pop_event(from_left), src);
    }
    propagate_move(sh, db, src, dst, from_left, to_left);
    Some(Reply::Bulk(v))
}

fn serve_pop(sh: &mut Shard, db: usize, key: &Bytes, op: &BlockOp) -> Reply {
    match op {
        BlockOp::Pop { left, count } => pop_first(sh, db, std::slice::from_ref(key), *left, *count),
        _ => None,
    }
    .unwrap_or(Reply::NilArray)
}

fn serve_move(sh: &mut Shard, db: usize, key: &Bytes, op: &BlockOp) -> Reply {
    match op {
        BlockOp::Move { dst, from_left, to_left } => lmove_local(sh, db, key, dst, *from_left, *to_left),
        _ => None,
    }
    .unwrap_or(Reply::NilArray)
}

// ---------------------------------------------------------------------------------------------
// Coordinated commands

#[derive(Clone, Debug)]
enum Req {
    Pop { keys: Vec<Bytes>, left: bool, count: Option<usize> },
    Move { src: Bytes, dst: Bytes, from_left: bool, to_left: bool },
}

/// Parses a coordinated command: the request and, for blocking commands, the timeout
/// (`Some(None)` = forever).
#[allow(clippy::type_complexity)]
fn parse(kind: ListCmd, args: &[Bytes]) -> Result<(Req, Option<Option<Duration>>), Reply> {
    match kind {
        ListCmd::Lmove | ListCmd::Blmove => {
            let from_left = parse_where(&args[3])?;
            let to_left = parse_where(&args[4])?;
            let t = if kind == ListCmd::Blmove { Some(parse_timeout(&args[5])?) } else { None };
            Ok((Req::Move { src: args[1].clone(), dst: args[2].clone(), from_left, to_left }, t))
        }
        ListCmd::Rpoplpush => {
            Ok((Req::Move { src: args[1].clone(), dst: args[2].clone(), from_left: false, to_left: true }, None))
        }
        ListCmd::Brpoplpush => {
            let t = parse_timeout(&args[3])?;
            Ok((Req::Move { src: args[1].clone(), dst: args[2].clone(), from_left: false, to_left: true }, Some(t)))
        }
        ListCmd::Blpop | ListCmd::Brpop => {
            let t = parse_timeout(&args[args.len() - 1])?;
            let keys = args[1..args.len() - 1].to_vec();
            Ok((Req::Pop { keys, left: kind == ListCmd::Blpop, count: None }, Some(t)))
        }
        ListCmd::Lmpop | ListCmd::Blmpop => {
            let nk_idx = if kind == ListCmd::Lmpop { 1 } else { 2 };
            let numkeys = match parse_i64_strict(&args[nk_idx]) {
                Some(n) if n >= 1 => n as u64,
                _ => return Err(Reply::error(NUMKEYS)),
            };
            let where_idx = nk_idx as u64 + numkeys + 1;
            if where_idx >= args.len() as u64 {
                return Err(Reply::error(errors::SYNTAX));
            }
            let where_idx = where_idx as usize;
            let left = parse_where(&args[where_idx])?;
            let mut count = None;
            let mut j = where_idx + 1;
            while j < args.len() {
                if count.is_none() && args[j].eq_ignore_ascii_case(b"COUNT") && j + 1 < args.len() {
                    count = match parse_i64_strict(&args[j + 1]) {
                        Some(c) if c >= 1 => Some(c as usize),
                        _ => return Err(Reply::error(COUNT_POSITIVE)),
                    };
                    j += 2;
                } else {
                    return Err(Reply::error(errors::SYNTAX));
                }
            }
            let t = if kind == ListCmd::Blmpop { Some(parse_timeout(&args[1])?) } else { None };
            let keys = args[nk_idx + 1..where_idx].to_vec();
            Ok((Req::Pop { keys, left, count: Some(count.unwrap_or(1)) }, t))
        }
    }
}

/// Runs a coordinated list command.
pub async fn run_cross<R: Rt>(ctx: &mut Ctx<'_, R>, kind: ListCmd, args: &[Bytes]) -> Reply {
    // Inside EXEC the transaction holds its locks: a blocking form must not wait there.
    let may_block = !ctx.client.in_exec;
    run(ctx, kind, args, may_block).await
}

/// The form MULTI/EXEC (and anything else that must not block) uses: a blocking command
/// behaves as its non-blocking form with an immediate timeout — BLPOP/BRPOP/BLMPOP reply a
/// nil array, BLMOVE/BRPOPLPUSH a nil, when nothing can be popped, as Redis does for
/// clients that may not block.
pub async fn run_without_blocking<R: Rt>(ctx: &mut Ctx<'_, R>, kind: ListCmd, args: &[Bytes]) -> Reply {
    run(ctx, kind, args, false).await
}

/// Whether `spec` is a list command that may block (and so must not inside MULTI).
pub fn is_blocking(spec: &CommandSpec) -> bool {
    matches!(spec.run, Run::Multi(MultiKind::List(k)) if matches!(k, ListCmd::Blpop | ListCmd::Brpop | ListCmd::Blmove | ListCmd::Brpoplpush | ListCmd::Blmpop))
}

async fn run<R: Rt>(ctx: &mut Ctx<'_, R>, kind: ListCmd, args: &[Bytes], may_block: bool) -> Reply {
    let (req, timeout) = match parse(kind, args) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let none = match req {
        Req::Move { .. } => Reply::Nil,
        Req::Pop { .. } => Reply::NilArray,
    };
    match timeout {
        Some(t) if may_block => block(ctx, req, t).await,
        _ => attempt(ctx, &req, None).await.unwrap_or(none),
    }
}

fn shutting_down() -> Reply {
    Reply::error(errors::SHUTTING_DOWN)
}

/// Tries `req` once. `None` when there was nothing to pop; then, when `waiter` is given, it
/// has been registered on every key in the same atomic step.
async fn attempt<R: Rt>(ctx: &Ctx<'_, R>, req: &Req, waiter: Option<&Waiter>) -> Option<Reply> {
    let db = ctx.client.db;
    let w = waiter.cloned();
    match req.clone() {
        Req::Pop { keys, left, count } => {
            let mut groups: Vec<(usize, Vec<Bytes>)> = Vec::new();
            for k in &keys {
                let s = ctx.shards.shard_of(k);
                match groups.iter_mut().find(|(id, _)| *id == s) {
                    Some((_, v)) => v.push(k.clone()),
                    None => groups.push((s, vec![k.clone()])),
                }
            }
            if groups.len() == 1 {
                let ks = keys.clone();
                return ctx
                    .shards
                    .run_keyed(ctx.rt, ctx.home, groups[0].0, db as u16, &keys, Mode::Write, move |sh| {
                        let r = pop_first(sh, db, &ks, left, count);
                        if r.is_none() {
                            if let Some(w) = w {
                                for k in &ks {
                                    sh.blocking.register(db, k, w.clone());
                                }
                            }
                        }
                        r
                    })
                    .await
                    .unwrap_or_else(|| Some(shutting_down()));
            }
            groups.sort_by_key(|(s, _)| *s);
            let locks: Vec<(Bytes, Mode)> = keys.iter().map(|k| (k.clone(), Mode::Write)).collect();
            let tx = ctx.shards.lock(ctx.rt, db as u16, &locks).await;
            for k in keys {
                let s = ctx.shards.shard_of(&k);
                match tx.run(s, move |sh| pop_first(sh, db, std::slice::from_ref(&k), left, count)).await {
                    Some(Some(r)) => return Some(r),
                    Some(None) => {}
                    None => return Some(shutting_down()),
                }
            }
            if let Some(w) = w {
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
        Req::Move { src, dst, from_left, to_left } => {
            let (ss, ds) = (ctx.shards.shard_of(&src), ctx.shards.shard_of(&dst));
            if ss == ds {
                let keys = [src.clone(), dst.clone()];
                return ctx
                    .shards
                    .run_keyed(ctx.rt, ctx.home, ss, db as u16, &keys, Mode::Write, move |sh| {
                        let r = lmove_local(sh, db, &src, &dst, from_left, to_left);
                        if let (None, Some(w)) = (&r, w) {
                            sh.blocking.register(db, &src, w);
                        }
                        r
                    })
                    .await
                    .unwrap_or_else(|| Some(shutting_down()));
            }
            let locks = vec![(src.clone(), Mode::Write), (dst.clone(), Mode::Write)];
            let tx = ctx.shards.lock(ctx.rt, db as u16, &locks).await;
            let s2 = src.clone();
            let present = tx.run(ss, move |sh| match list_at(sh, db, &s2, false) {
                Ok(Some(l)) if !l.is_empty() => Ok(true),
                Ok(_) => {
                    if let Some(w) = w {
                        sh.blocking.register(db, &s2, w);
                    }
                    Ok(false)
                }
                Err(e) => Err(e),
            });
            match present.await {
                Some(Ok(true)) => {}
                Some(Ok(false)) => return None,
                Some(Err(e)) => return Some(e),
                None => return Some(shutting_down()),
            }
            let d2 = dst.clone();
            match tx.run(ds, move |sh| list_at(sh, db, &d2, false).err()).await {
                Some(None) => {}
                Some(Some(e)) => return Some(e),
                None => return Some(shutting_down()),
            }
            let s3 = src.clone();
            let d3 = dst.clone();
            let v = tx
                .run(ss, move |sh| {
                    let v = match list_at(sh, db, &s3, false) {
                        Ok(Some(l)) => l.pop(from_left),
                        _ => None,
                    };
                    if v.is_some() {
                        removed(sh, db, &s3, pop_event(from_left));
                        propagate_move(sh, db, &s3, &d3, from_left, to_left);
                    }
                    v
                })
                .await;
            let Some(Some(v)) = v else { return Some(shutting_down()) };
            let v2 = v.clone();
            tx.run(ds, move |sh| push_values(sh, db, &dst, std::slice::from_ref(&v2), to_left, false)).await;
            Some(Reply::Bulk(v))
        }
    }
}

/// While a client is blocked: on drop (served, timed out, or the connection went away) it
/// claims the wait so no shard serves it any more, deregisters it from every key, and
/// uncounts it from INFO's `blocked_clients`. Shared with the sorted sets' blocking pops.
pub(super) struct BlockGuard<'a> {
    shards: &'a ShardSet,
    home: ShardCell,
    db: usize,
    client: u64,
    claim: Arc<AtomicBool>,
    keys: Vec<Bytes>,
    /// Whether this client is counted in `blocked_clients` (once it actually waits).
    counted: bool,
}

impl<'a> BlockGuard<'a> {
    pub(super) fn new(
        shards: &'a ShardSet,
        home: &ShardCell,
        db: usize,
        client: u64,
        claim: Arc<AtomicBool>,
        keys: Vec<Bytes>,
    ) -> Self {
        BlockGuard { shards, home: home.clone(), db, client, claim, keys, counted: false }
    }

    pub(super) fn count(&mut self) {
        if !self.counted {
            self.counted = true;
            self.home.borrow_mut().blocking.blocked_clients += 1;
        }
    }
}

impl Drop for BlockGuard<'_> {
    fn drop(&mut self) {
        self.claim.store(true, Ordering::Release);
        let mut per_shard: Vec<(usize, Vec<Bytes>)> = Vec::new();
        for k in self.keys.drain(..) {
            let s = self.shards.shard_of(&k);
            match per_shard.iter_mut().find(|(id, _)| *id == s) {
                Some((_, v)) => v.push(k),
                None => per_shard.push((s, vec![k])),
            }
        }
        let (db, client) = (self.db, self.client);
        for (s, ks) in per_shard {
            self.shards.post(
                s,
                Box::new(move |sh| {
                    for k in &ks {
                        sh.blocking.deregister(db, k, client);
                    }
                }),
            );
        }
        if let (true, Ok(mut h)) = (self.counted, self.home.try_borrow_mut()) {
            h.blocking.blocked_clients = h.blocking.blocked_clients.saturating_sub(1);
        }
    }
}

/// Tries, registers, waits; retries when woken without being served.
async fn block<R: Rt>(ctx: &mut Ctx<'_, R>, req: Req, timeout: Option<Duration>) -> Reply {
    let db = ctx.client.db;
    let client = ctx.client.id;
    let (tx, mut rx) = mpsc::unbounded_channel::<WakeMsg>();
    let claim = Arc::new(AtomicBool::new(false));
    let (op, serve, keys): (BlockOp, crate::engine::ServeFn, Vec<Bytes>) = match &req {
        Req::Pop { keys, left, count } => (BlockOp::Pop { left: *left, count: *count }, serve_pop, keys.clone()),
        Req::Move { src, dst, from_left, to_left } => {
            let op = if ctx.shards.shard_of(src) == ctx.shards.shard_of(dst) {
                BlockOp::Move { dst: dst.clone(), from_left: *from_left, to_left: *to_left }
            } else {
                BlockOp::Wake
            };
            (op, serve_move, vec![src.clone()])
        }
    };
    let waiter = Waiter { client, claim: claim.clone(), tx, op, serve };
    let deadline = timeout.map(|d| ctx.rt.now() + d);
    let shards: &ShardSet = ctx.shards;
    // Made before the first try, so a client that vanishes mid-registration leaves nothing.
    let mut guard = BlockGuard::new(shards, ctx.home, db, client, claim.clone(), keys);
    loop {
        if let Some(r) = attempt(ctx, &req, Some(&waiter)).await {
            return r;
        }
        guard.count();
        if let Some(reply) = wait_wake(ctx.rt, &mut rx, &claim, deadline).await {
            return reply;
        }
    }
}

/// Waits for a blocked client's wake-up until `deadline`. `Some(reply)` ends the wait (served, or
/// timed out with Redis's nil array); `None` means the client was only woken and retries its pop.
pub(super) async fn wait_wake<R: Rt>(
    rt: &R,
    rx: &mut mpsc::UnboundedReceiver<WakeMsg>,
    claim: &AtomicBool,
    deadline: Option<Duration>,
) -> Option<Reply> {
    let msg = match deadline {
        None => rx.recv().await,
        Some(dl) => {
            let left = dl.saturating_sub(rt.now());
            match crate::runtime::timeout(rt, left, rx.recv()).await {
                Some(m) => m,
                None => {
                    if claim.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                        return Some(Reply::NilArray);
                    }
                    // A shard claimed this client first: its reply is on the way.
                    rx.recv().await
                }
            }
        }
    };
    match msg {
        Some(Some(reply)) => Some(reply),
        Some(None) => None,
        None => Some(Reply::NilArray),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    fn shard() -> Shard {
        let mut sh = Shard::new(0, 16, 5);
        sh.now_ms = 1_700_000_000_000;
        sh
    }

    fn args(parts: &[&str]) -> Vec<Bytes> {
        parts.iter().map(|p| Bytes::copy_from_slice(p.as_bytes())).collect()
    }

    fn call(sh: &mut Shard, parts: &[&str]) -> Reply {
        let spec = super::super::lookup(parts[0].as_bytes()).unwrap();
        assert!(spec.arity_ok(parts.len()), "arity of {parts:?}");
        let Run::Shard(f, _) = spec.run else { panic!("{} is coordinated", parts[0]) };
        let r = f(sh, 0, &args(parts));
        sh.after_work();
        r
    }

    fn b(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn arr(items: &[&str]) -> Reply {
        Reply::Array(items.iter().map(|s| b(s)).collect())
    }

    fn ints(items: &[i64]) -> Reply {
        Reply::Array(items.iter().map(|i| Reply::Int(*i)).collect())
    }

    fn err(s: &str) -> Reply {
        Reply::error(s.to_string())
    }

    fn set_string(sh: &mut Shard, key: &str) {
        sh.dbs[0].set(Bytes::copy_from_slice(key.as_bytes()), Value::Str(crate::types::StrValue::from_bytes(b"x")), 0);
    }

    #[test]
    fn push_pop_and_reply_shapes() {
        let mut sh = shard();
        assert_eq!(call(&mut sh, &["lpush", "l", "a", "b", "c"]), Reply::Int(3));
        assert_eq!(call(&mut sh, &["rpush", "l", "d"]), Reply::Int(4));
        assert_eq!(call(&mut sh, &["lrange", "l", "0", "-1"]), arr(&["c", "b", "a", "d"]));
        assert_eq!(call(&mut sh, &["lpushx", "nope", "a"]), Reply::Int(0));
        assert_eq!(call(&mut sh, &["rpushx", "l", "e", "f"]), Reply::Int(6));
        assert_eq!(call(&mut sh, &["lpop", "l"]), b("c"));
        assert_eq!(call(&mut sh, &["rpop", "l", "2"]), arr(&["f", "e"]));
        assert_eq!(call(&mut sh, &["lpop", "l", "0"]), Reply::Array(vec![]));
        assert_eq!(call(&mut sh, &["lpop", "missing"]), Reply::Nil);
        assert_eq!(call(&mut sh, &["lpop", "missing", "3"]), Reply::NilArray);
        assert_eq!(call(&mut sh, &["lpop", "l", "-1"]), err(MUST_BE_POSITIVE));
        assert_eq!(call(&mut sh, &["lpop", "l", "x"]), err(MUST_BE_POSITIVE));
        assert_eq!(call(&mut sh, &["lpop", "l", "1", "1"]), err("ERR wrong number of arguments for 'lpop' command"));
        assert_eq!(call(&mut sh, &["lpop", "l", "10"]), arr(&["b", "a", "d"]));
        assert!(sh.dbs[0].table.get(b"l".as_slice()).is_none(), "emptied lists go away");
        set_string(&mut sh, "s");
        for cmd in [
            &["lpush", "s", "a"][..],
            &["lpop", "s"],
            &["llen", "s"],
            &["lrange", "s", "0", "1"],
            &["lindex", "s", "0"],
        ] {
            assert_eq!(call(&mut sh, cmd), err(WRONGTYPE), "{cmd:?}");
        }
    }

    #[test]
    fn index_set_insert_len() {
        let mut sh = shard();
        call(&mut sh, &["rpush", "l", "a", "b", "c"]);
        assert_eq!(call(&mut sh, &["lindex", "l", "-1"]), b("c"));
        assert_eq!(call(&mut sh, &["lindex", "l", "3"]), Reply::Nil);
        assert_eq!(call(&mut sh, &["lindex", "l", "x"]), err(errors::NOT_INTEGER));
        assert_eq!(call(&mut sh, &["lindex", "nokey", "x"]), Reply::Nil);
        assert_eq!(call(&mut sh, &["lset", "l", "1", "B"]), Reply::Ok);
        assert_eq!(call(&mut sh, &["lset", "l", "10", "B"]), err(INDEX_RANGE));
        assert_eq!(call(&mut sh, &["lset", "nokey", "0", "B"]), err(errors::NO_SUCH_KEY));
        assert_eq!(call(&mut sh, &["linsert", "l", "before", "B", "x"]), Reply::Int(4));
        assert_eq!(call(&mut sh, &["linsert", "l", "AFTER", "c", "y"]), Reply::Int(5));
        assert_eq!(call(&mut sh, &["linsert", "l", "after", "zz", "y"]), Reply::Int(-1));
        assert_eq!(call(&mut sh, &["linsert", "l", "middle", "c", "y"]), err(errors::SYNTAX));
        assert_eq!(call(&mut sh, &["linsert", "nokey", "after", "c", "y"]), Reply::Int(0));
        assert_eq!(call(&mut sh, &["lrange", "l", "0", "-1"]), arr(&["a", "x", "B", "c", "y"]));
        assert_eq!(call(&mut sh, &["llen", "l"]), Reply::Int(5));
        assert_eq!(call(&mut sh, &["llen", "nokey"]), Reply::Int(0));
        assert_eq!(call(&mut sh, &["lrange", "l", "a", "1"]), err(errors::NOT_INTEGER));
        assert_eq!(call(&mut sh, &["lrange", "l", "3", "1"]), arr(&[]));
    }

    #[test]
    fn rem_trim() {
        let mut sh = shard();
        call(&mut sh, &["rpush", "l", "x", "a", "x", "b", "x"]);
        assert_eq!(call(&mut sh, &["lrem", "l", "-2", "x"]), Reply::Int(2));
        assert_eq!(call(&mut sh, &["lrange", "l", "0", "-1"]), arr(&["x", "a", "b"]));
        assert_eq!(call(&mut sh, &["lrem", "l", "z", "x"]), err(errors::NOT_INTEGER));
        assert_eq!(call(&mut sh, &["lrem", "nokey", "0", "x"]), Reply::Int(0));
        assert_eq!(call(&mut sh, &["ltrim", "l", "1", "-1"]), Reply::Ok);
        assert_eq!(call(&mut sh, &["lrange", "l", "0", "-1"]), arr(&["a", "b"]));
        assert_eq!(call(&mut sh, &["ltrim", "nokey", "1", "-1"]), Reply::Ok);
        assert_eq!(call(&mut sh, &["ltrim", "l", "5", "10"]), Reply::Ok);
        assert_eq!(call(&mut sh, &["llen", "l"]), Reply::Int(0));
        call(&mut sh, &["rpush", "l", "q"]);
        assert_eq!(call(&mut sh, &["lrem", "l", "0", "q"]), Reply::Int(1));
        assert!(sh.dbs[0].table.get(b"l".as_slice()).is_none());
    }

    #[test]
    fn lpos_like_redis() {
        let mut sh = shard();
        call(&mut sh, &["rpush", "l", "a", "b", "c", "1", "2", "3", "c", "c"]);
        assert_eq!(call(&mut sh, &["lpos", "l", "c"]), Reply::Int(2));
        assert_eq!(call(&mut sh, &["lpos", "l", "c", "RANK", "2"]), Reply::Int(6));
        assert_eq!(call(&mut sh, &["lpos", "l", "c", "RANK", "-1"]), Reply::Int(7));
        assert_eq!(call(&mut sh, &["lpos", "l", "c", "COUNT", "0"]), ints(&[2, 6, 7]));
        assert_eq!(call(&mut sh, &["lpos", "l", "c", "COUNT", "2", "RANK", "-1"]), ints(&[7, 6]));
        assert_eq!(call(&mut sh, &["lpos", "l", "c", "COUNT", "0", "MAXLEN", "7"]), ints(&[2, 6]));
        assert_eq!(call(&mut sh, &["lpos", "l", "c", "RANK", "-1", "MAXLEN", "1"]), Reply::Int(7));
        assert_eq!(call(&mut sh, &["lpos", "l", "z"]), Reply::Nil);
        assert_eq!(call(&mut sh, &["lpos", "l", "z", "COUNT", "1"]), arr(&[]));
        assert_eq!(call(&mut sh, &["lpos", "nokey", "z"]), Reply::Nil);
        assert_eq!(call(&mut sh, &["lpos", "nokey", "z", "COUNT", "0"]), arr(&[]));
        assert_eq!(call(&mut sh, &["lpos", "l", "c", "RANK", "0"]), err(RANK_ZERO));
        assert_eq!(call(&mut sh, &["lpos", "l", "c", "COUNT", "-1"]), err(COUNT_NEGATIVE));
        assert_eq!(call(&mut sh, &["lpos", "l", "c", "MAXLEN", "-1"]), err(MAXLEN_NEGATIVE));
        assert_eq!(call(&mut sh, &["lpos", "l", "c", "RANK"]), err(errors::SYNTAX));
        assert_eq!(call(&mut sh, &["lpos", "l", "c", "RANK", "x"]), err(errors::NOT_INTEGER));
    }

    #[test]
    fn encodings_follow_the_config() {
        let mut sh = shard();
        sh.config.list_max_listpack_size = 4;
        call(&mut sh, &["rpush", "l", "1", "2", "3", "4"]);
        let enc = |sh: &mut Shard| sh.lookup(0, b"l").unwrap().value.encoding();
        assert_eq!(enc(&mut sh), "listpack");
        call(&mut sh, &["rpush", "l", "5"]);
        assert_eq!(enc(&mut sh), "quicklist");
        call(&mut sh, &["rpop", "l", "3"]);
        assert_eq!(enc(&mut sh), "listpack");
        assert_eq!(sh.lookup(0, b"l").unwrap().value.type_name(), "list");
    }

    #[test]
    fn local_moves_and_multi_pops() {
        let mut sh = shard();
        let k = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        call(&mut sh, &["rpush", "src", "a", "b"]);
        assert_eq!(lmove_local(&mut sh, 0, &k("src"), &k("dst"), false, true), Some(b("b")));
        assert_eq!(lmove_local(&mut sh, 0, &k("src"), &k("src"), true, false), Some(b("a")), "rotation");
        assert_eq!(lmove_local(&mut sh, 0, &k("nokey"), &k("dst"), true, true), None);
        set_string(&mut sh, "s");
        assert_eq!(lmove_local(&mut sh, 0, &k("src"), &k("s"), true, true), Some(err(WRONGTYPE)));
        assert_eq!(lmove_local(&mut sh, 0, &k("s"), &k("dst"), true, true), Some(err(WRONGTYPE)));
        assert_eq!(call(&mut sh, &["lrange", "src", "0", "-1"]), arr(&["a"]));
        call(&mut sh, &["rpush", "m", "1", "2", "3"]);
        let keys = [k("nokey"), k("m"), k("src")];
        assert_eq!(pop_first(&mut sh, 0, &keys, false, Some(2)), Some(Reply::Array(vec![b("m"), arr(&["3", "2"])])));
        assert_eq!(pop_first(&mut sh, 0, &keys, true, None), Some(arr(&["m", "1"])));
        assert_eq!(pop_first(&mut sh, 0, &[k("nokey")], true, None), None);
        assert_eq!(pop_first(&mut sh, 0, &[k("s"), k("src")], true, None), Some(err(WRONGTYPE)));
    }

    #[test]
    fn parsing_of_coordinated_commands() {
        let p = |parts: &[&str], kind| parse(kind, &args(parts)).map(|(r, t)| (format!("{r:?}"), t));
        assert_eq!(p(&["blpop", "a", "x"], ListCmd::Blpop).unwrap_err(), err(TIMEOUT_NOT_FLOAT));
        assert_eq!(p(&["blpop", "a", "-1"], ListCmd::Blpop).unwrap_err(), err(TIMEOUT_NEGATIVE));
        assert_eq!(p(&["blpop", "a", "0"], ListCmd::Blpop).unwrap().1, Some(None));
        assert_eq!(p(&["blpop", "a", "0.0001"], ListCmd::Blpop).unwrap().1, Some(Some(Duration::from_millis(1))));
        assert_eq!(p(&["blmove", "a", "b", "up", "left", "0"], ListCmd::Blmove).unwrap_err(), err(errors::SYNTAX));
        assert_eq!(
            p(&["blmove", "a", "b", "left", "left", "nan"], ListCmd::Blmove).unwrap_err(),
            err(TIMEOUT_NOT_FLOAT)
        );
        for (bad, e) in [
            (&["lmpop", "0", "l", "LEFT"][..], NUMKEYS),
            (&["lmpop", "a", "l", "LEFT"], NUMKEYS),
            (&["lmpop", "-1", "l", "RIGHT"], NUMKEYS),
            (&["lmpop", "1", "l", "bad"], errors::SYNTAX),
            (&["lmpop", "1", "l", "LEFT", "bar"], errors::SYNTAX),
            (&["lmpop", "1", "l", "RIGHT", "LEFT"], errors::SYNTAX),
            (&["lmpop", "1", "l", "COUNT"], errors::SYNTAX),
            (&["lmpop", "1", "l", "LEFT", "COUNT", "1", "COUNT", "2"], errors::SYNTAX),
            (&["lmpop", "2", "l", "l2", "bad"], errors::SYNTAX),
            (&["lmpop", "5", "l", "LEFT"], errors::SYNTAX),
            (&["lmpop", "1", "l", "LEFT", "COUNT", "0"], COUNT_POSITIVE),
            (&["lmpop", "1", "l", "LEFT", "COUNT", "a"], COUNT_POSITIVE),
        ] {
            assert_eq!(p(bad, ListCmd::Lmpop).unwrap_err(), err(e), "{bad:?}");
        }
        let (r, t) = p(&["blmpop", "1.5", "2", "a", "b", "right", "count", "3"], ListCmd::Blmpop).unwrap();
        assert_eq!(t, Some(Some(Duration::from_millis(1500))));
        assert!(r.contains("count: Some(3)") && r.contains("left: false"), "{r}");
        assert_eq!(p(&["blmpop", "-1", "1", "a", "left"], ListCmd::Blmpop).unwrap_err(), err(TIMEOUT_NEGATIVE));
    }

    #[test]
    fn blocked_waiters_are_served_in_order_by_the_shard() {
        let mut sh = shard();
        let k = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        let mut rxs = Vec::new();
        for (i, op) in [
            BlockOp::Pop { left: true, count: None },
            BlockOp::Move { dst: k("dst"), from_left: true, to_left: true },
            BlockOp::Pop { left: false, count: Some(5) },
        ]
        .into_iter()
        .enumerate()
        {
            let (tx, rx) = mpsc::unbounded_channel();
            let serve = if matches!(op, BlockOp::Move { .. }) { serve_move } else { serve_pop };
            let w = Waiter { client: i as u64, claim: Arc::new(AtomicBool::new(false)), tx, op, serve };
            sh.blocking.register(0, &k("q"), w);
            rxs.push(rx);
        }
        call(&mut sh, &["rpush", "q", "a", "b", "c", "d"]);
        assert_eq!(rxs[0].try_recv().unwrap(), Some(arr(&["q", "a"])));
        assert_eq!(rxs[1].try_recv().unwrap(), Some(b("b")));
        assert_eq!(rxs[2].try_recv().unwrap(), Some(Reply::Array(vec![b("q"), arr(&["d", "c"])])));
        assert_eq!(call(&mut sh, &["lrange", "dst", "0", "-1"]), arr(&["b"]));
        assert_eq!(call(&mut sh, &["llen", "q"]), Reply::Int(0));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(bool, Vec<u8>),
        Pop(bool, Option<u8>),
        Range(i8, i8),
        Index(i8),
        Set(i8, u8),
        Insert(bool, u8, u8),
        Rem(i8, u8),
        Trim(i8, i8),
        Len,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<bool>(), prop::collection::vec(0u8..6, 1..4)).prop_map(|(l, v)| Op::Push(l, v)),
            (any::<bool>(), proptest::option::of(0u8..5)).prop_map(|(l, c)| Op::Pop(l, c)),
            (-8i8..8, -8i8..8).prop_map(|(s, e)| Op::Range(s, e)),
            (-8i8..8).prop_map(Op::Index),
            (-8i8..8, 0u8..6).prop_map(|(i, v)| Op::Set(i, v)),
            (any::<bool>(), 0u8..6, 0u8..6).prop_map(|(a, p, v)| Op::Insert(a, p, v)),
            (-3i8..3, 0u8..6).prop_map(|(c, v)| Op::Rem(c, v)),
            (-8i8..8, -8i8..8).prop_map(|(s, e)| Op::Trim(s, e)),
            Just(Op::Len),
        ]
    }

    fn model_range(m: &VecDeque<u8>, s: i64, e: i64) -> Option<(usize, usize)> {
        let len = m.len() as i64;
        let s = if s < 0 { (len + s).max(0) } else { s };
        let e = if e < 0 { len + e } else { e.min(len - 1) };
        (s <= e && s < len).then_some((s as usize, e as usize))
    }

    proptest! {
        /// List commands against a VecDeque model.
        #[test]
        fn lists_match_a_vecdeque(ops in prop::collection::vec(op(), 1..120), limit in prop_oneof![Just(-2i64), Just(3i64), Just(128i64)]) {
            let mut sh = shard();
            sh.config.list_max_listpack_size = limit;
            let mut m: VecDeque<u8> = VecDeque::new();
            let s = |v: u8| v.to_string();
            for op in ops {
                match op {
                    Op::Push(left, vals) => {
                        let mut cmd = vec![if left { "lpush".to_string() } else { "rpush".to_string() }, "k".into()];
                        cmd.extend(vals.iter().map(|v| s(*v)));
                        let parts: Vec<&str> = cmd.iter().map(|x| x.as_str()).collect();
                        for v in &vals { if left { m.push_front(*v) } else { m.push_back(*v) } }
                        prop_assert_eq!(call(&mut sh, &parts), Reply::Int(m.len() as i64));
                    }
                    Op::Pop(left, count) => {
                        let name = if left { "lpop" } else { "rpop" };
                        let exists = !m.is_empty();
                        let mut pop = || if left { m.pop_front() } else { m.pop_back() };
                        match count {
                            None => {
                                let want = pop().map_or(Reply::Nil, |v| b(&s(v)));
                                prop_assert_eq!(call(&mut sh, &[name, "k"]), want);
                            }
                            Some(c) => {
                                let c2 = c.to_string();
                                let got = call(&mut sh, &[name, "k", &c2]);
                                if !exists {
                                    prop_assert_eq!(got, Reply::NilArray);
                                } else {
                                    let vals: Vec<Reply> = (0..c).filter_map(|_| pop()).map(|v| b(&s(v))).collect();
                                    prop_assert_eq!(got, Reply::Array(vals));
                                }
                            }
                        }
                    }
                    Op::Range(a, z) => {
                        let want = model_range(&m, a as i64, z as i64).map_or(vec![], |(x, y)| m.range(x..=y).map(|v| b(&s(*v))).collect());
                        prop_assert_eq!(call(&mut sh, &["lrange", "k", &a.to_string(), &z.to_string()]), Reply::Array(want));
                    }
                    Op::Index(i) => {
                        let len = m.len() as i64;
                        let p = if i < 0 { len + i as i64 } else { i as i64 };
                        let want = if (0..len).contains(&p) { b(&s(m[p as usize])) } else { Reply::Nil };
                        prop_assert_eq!(call(&mut sh, &["lindex", "k", &i.to_string()]), want);
                    }
                    Op::Set(i, v) => {
                        let len = m.len() as i64;
                        let p = if i < 0 { len + i as i64 } else { i as i64 };
                        let want = if m.is_empty() { err(errors::NO_SUCH_KEY) } else if (0..len).contains(&p) { m[p as usize] = v; Reply::Ok } else { err(INDEX_RANGE) };
                        prop_assert_eq!(call(&mut sh, &["lset", "k", &i.to_string(), &s(v)]), want);
                    }
                    Op::Insert(after, pivot, v) => {
                        let want = if m.is_empty() { 0 } else { match m.iter().position(|x| *x == pivot) {
                            Some(p) => { m.insert(if after { p + 1 } else { p }, v); m.len() as i64 }
                            None => -1,
                        }};
                        let w = if after { "after" } else { "before" };
                        prop_assert_eq!(call(&mut sh, &["linsert", "k", w, &s(pivot), &s(v)]), Reply::Int(want));
                    }
                    Op::Rem(c, v) => {
                        let mut n = 0i64;
                        let limit = if c == 0 { i64::MAX } else { (c as i64).abs() };
                        if c >= 0 {
                            let mut i = 0;
                            while i < m.len() { if m[i] == v && n < limit { m.remove(i); n += 1; } else { i += 1; } }
                        } else {
                            let mut i = m.len();
                            while i > 0 { i -= 1; if m[i] == v && n < limit { m.remove(i); n += 1; } }
                        }
                        prop_assert_eq!(call(&mut sh, &["lrem", "k", &c.to_string(), &s(v)]), Reply::Int(n));
                    }
                    Op::Trim(a, z) => {
                        m = match model_range(&m, a as i64, z as i64) { Some((x, y)) => m.range(x..=y).copied().collect(), None => VecDeque::new() };
                        prop_assert_eq!(call(&mut sh, &["ltrim", "k", &a.to_string(), &z.to_string()]), Reply::Ok);
                    }
                    Op::Len => prop_assert_eq!(call(&mut sh, &["llen", "k"]), Reply::Int(m.len() as i64)),
                }
                prop_assert_eq!(sh.dbs[0].table.get(b"k".as_slice()).is_some(), !m.is_empty());
            }
        }
    }
}
