//! Sorted-set commands (Redis's t_zset.c). Single-key commands run on the key's shard; the
//! commands whose keys may span shards (ZUNION/ZINTER/ZDIFF[STORE], ZINTERCARD, ZRANGESTORE,
//! ZMPOP) read their sources under the transaction's locks, compute, then write the destination.
//!
//! The blocking forms (BZPOPMIN, BZPOPMAX, BZMPOP) live in `zblocking`, built on `pop_on`,
//! `mpop_local` and `parse_mpop`.

use super::multikey::{by_shard, MultiKind};
use super::table::{spec, CommandSpec, KeySpec, Run};
use super::{errors, Ctx};
use crate::engine::notify::class;
use crate::engine::{Mode, Shard};
use crate::protocol::Reply;
use crate::runtime::Rt;
use crate::types::zset::{cmp_entry, ZLimits, ZSet};
use crate::types::{Value, WRONGTYPE};
use crate::util::{glob_match, parse_i64_strict};
use bytes::Bytes;

const W_FAST_OOM: &[&str] = &["write", "denyoom", "fast"];
const W_OOM: &[&str] = &["write", "denyoom"];
const W_OOM_MOVABLE: &[&str] = &["write", "denyoom", "movablekeys"];
const W_FAST: &[&str] = &["write", "fast"];
const W: &[&str] = &["write"];
const W_MOVABLE: &[&str] = &["write", "movablekeys"];
const RO_FAST: &[&str] = &["readonly", "fast"];
const RO: &[&str] = &["readonly"];
const RO_MOVABLE: &[&str] = &["readonly", "movablekeys"];
const ACL_W_FAST: &[&str] = &["@write", "@sortedset", "@fast"];
const ACL_W_SLOW: &[&str] = &["@write", "@sortedset", "@slow"];
const ACL_R_FAST: &[&str] = &["@read", "@sortedset", "@fast"];
const ACL_R_SLOW: &[&str] = &["@read", "@sortedset", "@slow"];

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "sorted_set",
        "zadd",
        -4,
        W_FAST_OOM,
        KeySpec::ONE,
        ACL_W_FAST,
        "Add one or more members to a sorted set, or update its score if it already exists",
        "1.2.0",
        Run::Shard(zadd, Mode::Write),
    ),
    spec(
        "sorted_set",
        "zincrby",
        4,
        W_FAST_OOM,
        KeySpec::ONE,
        ACL_W_FAST,
        "Increment the score of a member in a sorted set",
        "1.2.0",
        Run::Shard(zincrby, Mode::Write),
    ),
    spec(
        "sorted_set",
        "zrem",
        -3,
        W_FAST,
        KeySpec::ONE,
        ACL_W_FAST,
        "Remove one or more members from a sorted set",
        "1.2.0",
        Run::Shard(zrem, Mode::Write),
    ),
    spec(
        "sorted_set",
        "zscore",
        3,
        RO_FAST,
        KeySpec::ONE,
        ACL_R_FAST,
        "Get the score associated with the given member in a sorted set",
        "1.2.0",
        Run::Shard(zscore, Mode::Read),
    ),
    spec(
        "sorted_set",
        "zmscore",
        -3,
        RO_FAST,
        KeySpec::ONE,
        ACL_R_FAST,
        "Get the score associated with the given members in a sorted set",
        "6.2.0",
        Run::Shard(zmscore, Mode::Read),
    ),
    spec(
        "sorted_set",
        "zcard",
        2,
        RO_FAST,
        KeySpec::ONE,
        ACL_R_FAST,
        "Get the number of members in a sorted set",
        "1.2.0",
        Run::Shard(zcard, Mode::Read),
    ),
    spec(
        "sorted_set",
        "zcount",
        4,
        RO_FAST,
        KeySpec::ONE,
        ACL_R_FAST,
        "Count the members in a sorted set with scores within the given values",
        "2.0.0",
        Run::Shard(zcount, Mode::Read),
    ),
    spec(
        "sorted_set",
        "zlexcount",
        4,
        RO_FAST,
        KeySpec::ONE,
        ACL_R_FAST,
        "Count the number of members in a sorted set between a given lexicographical range",
        "2.8.9",
        Run::Shard(zlexcount, Mode::Read),
    ),
    spec(
        "sorted_set",
        "zrank",
        3,
        RO_FAST,
        KeySpec::ONE,
        ACL_R_FAST,
        "Determine the index of a member in a sorted set",
        "2.0.0",
        Run::Shard(zrank, Mode::Read),
    ),
    spec(
        "sorted_set",
        "zrevrank",
        3,
        RO_FAST,
        KeySpec::ONE,
        ACL_R_FAST,
        "Determine the index of a member in a sorted set, with scores ordered from high to low",
        "2.0.0",
        Run::Shard(zrevrank, Mode::Read),
    ),
    spec(
        "sorted_set",
        "zrange",
        -4,
        RO,
        KeySpec::ONE,
        ACL_R_SLOW,
        "Return a range of members in a sorted set",
        "1.2.0",
        Run::Shard(zrange, Mode::Read),
    ),
    spec(
        "sorted_set",
        "zrangebyscore",
        -4,
        RO,
        KeySpec::ONE,
        ACL_R_SLOW,
        "Return a range of members in a sorted set, by score",
        "1.0.5",
        Run::Shard(zrangebyscore, Mode::Read),
    ),
    spec(
        "sorted_set",
        "zrevrangebyscore",
        -4,
        RO,
        KeySpec::ONE,
        ACL_R_SLOW,
        "Return a range of members in a sorted set, by score, with scores ordered from high to low",
        "2.2.0",
        Run::Shard(zrevrangebyscore, Mode::Read),
    ),
    spec(
        "sorted_set",
        "zrangebylex",
        -4,
        RO,
        KeySpec::ONE,
        ACL_R_SLOW,
        "Return a range of members in a sorted set, by lexicographical range",
        "2.8.9",
        Run::Shard(zrangebylex, Mode::Read),
    ),
    spec(
        "sorted_set",
        "zrevrangebylex",
        -4,
        RO,
        KeySpec::ONE,
        ACL_R_SLOW,
        "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.",
        "2.8.9",
        Run::Shard(zrevrangebylex, Mode::Read),
    ),
    spec(
        "sorted_set",
        "zrevrange",
        -4,
        RO,
        KeySpec::ONE,
        ACL_R_SLOW,
        "Return a range of members in a sorted set, by index, with scores ordered from high to low",
        "1.2.0",
        Run::Shard(zrevrange, Mode::Read),
    ),
    spec(
        "sorted_set",
        "zpopmin",
        -2,
        W_FAST,
        KeySpec::ONE,
        ACL_W_FAST,
        "Remove and return members with the lowest scores in a sorted set",
        "5.0.0",
        Run::Shard(zpopmin, Mode::Write),
    ),
    spec(
        "sorted_set",
        "zpopmax",
        -2,
        W_FAST,
        KeySpec::ONE,
        ACL_W_FAST,
        "Remove and return members with the highest scores in a sorted set",
        "5.0.0",
        Run::Shard(zpopmax, Mode::Write),
    ),
    spec(
        "sorted_set",
        "zrandmember",
        -2,
        RO,
        KeySpec::ONE,
        ACL_R_SLOW,
        "Get one or multiple random elements from a sorted set",
        "6.2.0",
        Run::Shard(zrandmember, Mode::Read),
    ),
    spec(
        "sorted_set",
        "zremrangebyrank",
        4,
        W,
        KeySpec::ONE,
        ACL_W_SLOW,
        "Remove all members in a sorted set within the given indexes",
        "2.0.0",
        Run::Shard(zremrangebyrank, Mode::Write),
    ),
    spec(
        "sorted_set",
        "zremrangebyscore",
        4,
        W,
        KeySpec::ONE,
        ACL_W_SLOW,
        "Remove all members in a sorted set within the given scores",
        "1.2.0",
        Run::Shard(zremrangebyscore, Mode::Write),
    ),
    spec(
        "sorted_set",
        "zremrangebylex",
        4,
        W,
        KeySpec::ONE,
        ACL_W_SLOW,
        "Remove all members in a sorted set between the given lexicographical range",
        "2.8.9",
        Run::Shard(zremrangebylex, Mode::Write),
    ),
    spec(
        "sorted_set",
        "zscan",
        -3,
        RO,
        KeySpec::ONE,
        ACL_R_SLOW,
        "Incrementally iterate sorted sets elements and associated scores",
        "2.8.0",
        Run::Shard(zscan, Mode::Read),
    ),
    spec(
        "sorted_set",
        "zrangestore",
        -5,
        W_OOM,
        KeySpec::TWO,
        ACL_W_SLOW,
        "Store a range of members from sorted set into another key",
        "6.2.0",
        Run::Multi(MultiKind::Zset(ZMulti::RangeStore)),
    ),
    spec(
        "sorted_set",
        "zunion",
        -3,
        RO_MOVABLE,
        KeySpec::NONE,
        ACL_R_SLOW,
        "Add multiple sorted sets",
        "6.2.0",
        Run::Multi(MultiKind::Zset(ZMulti::Set(SetKind::Union, false))),
    ),
    spec(
        "sorted_set",
        "zinter",
        -3,
        RO_MOVABLE,
        KeySpec::NONE,
        ACL_R_SLOW,
        "Intersect multiple sorted sets",
        "6.2.0",
        Run::Multi(MultiKind::Zset(ZMulti::Set(SetKind::Inter, false))),
    ),
    spec(
        "sorted_set",
        "zdiff",
        -3,
        RO_MOVABLE,
        KeySpec::NONE,
        ACL_R_SLOW,
        "Subtract multiple sorted sets",
        "6.2.0",
        Run::Multi(MultiKind::Zset(ZMulti::Set(SetKind::Diff, false))),
    ),
    spec(
        "sorted_set",
        "zunionstore",
        -4,
        W_OOM_MOVABLE,
        KeySpec::ONE,
        ACL_W_SLOW,
        "Add multiple sorted sets and store the resulting sorted set in a new key",
        "2.0.0",
        Run::Multi(MultiKind::Zset(ZMulti::Set(SetKind::Union, true))),
    ),
    spec(
        "sorted_set",
        "zinterstore",
        -4,
        W_OOM_MOVABLE,
        KeySpec::ONE,
        ACL_W_SLOW,
        "Intersect multiple sorted sets and store the resulting sorted set in a new key",
        "2.0.0",
        Run::Multi(MultiKind::Zset(ZMulti::Set(SetKind::Inter, true))),
    ),
    spec(
        "sorted_set",
        "zdiffstore",
        -4,
        W_OOM_MOVABLE,
        KeySpec::ONE,
        ACL_W_SLOW,
        "Subtract multiple sorted sets and store the resulting sorted set in a new key",
        "6.2.0",
        Run::Multi(MultiKind::Zset(ZMulti::Set(SetKind::Diff, true))),
    ),
    spec(
        "sorted_set",
        "zintercard",
        -3,
        RO_MOVABLE,
        KeySpec::NONE,
        ACL_R_SLOW,
        "Intersect multiple sorted sets and return the cardinality of the result",
        "7.0.0",
        Run::Multi(MultiKind::Zset(ZMulti::InterCard)),
    ),
    spec(
        "sorted_set",
        "zmpop",
        -4,
        W_MOVABLE,
        KeySpec::NONE,
        ACL_W_SLOW,
        "Remove and return members with scores in a sorted set",
        "7.0.0",
        Run::Multi(MultiKind::Zset(ZMulti::Mpop)),
    ),
];

/// Sorted-set commands whose keys may live on several shards.
#[derive(Clone, Copy, Debug)]
pub enum ZMulti {
    /// ZUNION / ZINTER / ZDIFF; `true` for the STORE forms.
    Set(SetKind, bool),
    InterCard,
    RangeStore,
    Mpop,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetKind {
    Union,
    Inter,
    Diff,
}

const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";
const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";
const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";

fn limits(sh: &Shard) -> ZLimits {
    ZLimits { entries: sh.config.zset_max_listpack_entries, value: sh.config.zset_max_listpack_value }
}

/// A score argument as Redis's `getDoubleFromObject` reads it: no spaces, no NaN, no overflow.
fn parse_score(b: &[u8]) -> Option<f64> {
    let v = crate::util::parse_f64_strict(b)?;
    if v.is_infinite() && !b.to_ascii_lowercase().windows(3).any(|w| w == b"inf") {
        return None;
    }
    Some(v)
}

/// A range bound number as `strtod` reads it in zslParseRange (leading spaces allowed, an empty
/// string is 0, overflow saturates), NaN refused.
fn parse_bound_number(b: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(b).ok()?.trim_start();
    if text.is_empty() {
        return Some(0.0);
    }
    let v: f64 = text.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

fn int_arg(b: &[u8]) -> Result<i64, Reply> {
    parse_i64_strict(b).ok_or_else(|| Reply::error(errors::NOT_INTEGER))
}

fn eq_ci(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

/// The sorted set at `key` for reading (counts a hit or miss); WRONGTYPE for other types.
fn read_zset<'a>(sh: &'a mut Shard, db: usize, key: &[u8]) -> Result<Option<&'a mut ZSet>, Reply> {
    match sh.lookup(db, key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::ZSet(z) => Ok(Some(z)),
            #[allow(unreachable_patterns)]
            _ => Err(Reply::error(WRONGTYPE)),
        },
    }
}

/// The sorted set at `key` for writing.
fn write_zset<'a>(sh: &'a mut Shard, db: usize, key: &[u8]) -> Result<Option<&'a mut ZSet>, Reply> {
    match sh.lookup_write(db, key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::ZSet(z) => Ok(Some(z)),
            #[allow(unreachable_patterns)]
            _ => Err(Reply::error(WRONGTYPE)),
        },
    }
}

/// After a removal: deletes the key when its set became empty (with Redis's "del" event).
fn drop_if_empty(sh: &mut Shard, db: usize, key: &[u8], empty: bool) {
    if empty {
        sh.dbs[db].remove(key);
        sh.notify(db, class::GENERIC, "del", key);
    }
}

fn member_reply(items: Vec<(Bytes, f64)>, withscores: bool) -> Reply {
    if withscores {
        Reply::Pairs(items.into_iter().map(|(m, s)| (Reply::Bulk(m), Reply::Double(s))).collect())
    } else {
        Reply::Array(items.into_iter().map(|(m, _)| Reply::Bulk(m)).collect())
    }
}

// ---------------------------------------------------------------------------------------------
// ZADD / ZINCRBY / ZREM

#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    incr: bool,
}

enum AddOutcome {
    Added(f64),
    Updated(f64),
    /// Processed without a change of score.
    Same(f64),
    Nop,
}

/// Redis's zsetAdd: one element, with the flags' rules. Err on a NaN result.
fn add_one(z: &mut ZSet, member: &[u8], score: f64, f: AddFlags, lim: ZLimits) -> Result<AddOutcome, Reply> {
    match z.score(member) {
        Some(cur) => {
            if f.nx {
                return Ok(AddOutcome::Nop);
            }
            let mut s = score;
            if f.incr {
                s += cur;
                if s.is_nan() {
                    return Err(Reply::error(NAN_SCORE));
                }
            }
            if (f.lt && s >= cur) || (f.gt && s <= cur) {
                return Ok(AddOutcome::Nop);
            }
            if s != cur {
                z.insert(member, s, lim);
                Ok(AddOutcome::Updated(s))
            } else {
                Ok(AddOutcome::Same(s))
            }
        }
        None if !f.xx => {
            z.insert(member, score, lim);
            Ok(AddOutcome::Added(score))
        }
        None => Ok(AddOutcome::Nop),
    }
}

fn zadd_generic(sh: &mut Shard, db: usize, args: &[Bytes], mut f: AddFlags) -> Reply {
    let mut ch = false;
    let mut idx = 2;
    while idx < args.len() {
        let o = &args[idx];
        if eq_ci(o, "nx") {
            f.nx = true
        } else if eq_ci(o, "xx") {
            f.xx = true
        } else if eq_ci(o, "ch") {
            ch = true
        } else if eq_ci(o, "incr") {
            f.incr = true
        } else if eq_ci(o, "gt") {
            f.gt = true
        } else if eq_ci(o, "lt") {
            f.lt = true
        } else {
            break;
        }
        idx += 1;
    }
    let elements = args.len() - idx;
    if elements % 2 != 0 || elements == 0 {
        return Reply::error(errors::SYNTAX);
    }
    if f.nx && f.xx {
        return Reply::error("ERR XX and NX options at the same time are not compatible");
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Reply::error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && elements > 2 {
        return Reply::error("ERR INCR option supports a single increment-element pair");
    }
    let mut pairs = Vec::with_capacity(elements / 2);
    for p in args[idx..].chunks(2) {
        match parse_score(&p[0]) {
            Some(s) => pairs.push((s, &p[1])),
            None => return Reply::error(errors::NOT_FLOAT),
        }
    }
    let key = &args[1];
    let lim = limits(sh);
    let (mut added, mut updated, mut processed, mut last) = (0i64, 0i64, 0, 0.0);
    let mut err = None;
    let mut run = |z: &mut ZSet| {
        for (s, m) in &pairs {
            match add_one(z, m, *s, f, lim) {
                Ok(AddOutcome::Added(n)) => (added, processed, last) = (added + 1, processed + 1, n),
                Ok(AddOutcome::Updated(n)) => (updated, processed, last) = (updated + 1, processed + 1, n),
                Ok(AddOutcome::Same(n)) => (processed, last) = (processed + 1, n),
                Ok(AddOutcome::Nop) => {}
                Err(e) => {
                    err = Some(e);
                    return;
                }
            }
        }
    };
    match write_zset(sh, db, key) {
        Err(e) => return e,
        Ok(Some(z)) => run(z),
        Ok(None) if f.xx => {}
        Ok(None) => {
            let mut z = ZSet::new();
            run(&mut z);
            if !z.is_empty() {
                sh.dbs[db].set(Bytes::copy_from_slice(key), Value::zset(z), 0);
            }
        }
    }
    if added + updated > 0 {
        sh.notify(db, class::ZSET, if f.incr { "zincr" } else { "zadd" }, key);
    }
    if let Some(e) = err {
        return e;
    }
    if f.incr {
        if processed > 0 {
            Reply::Double(last)
        } else {
            Reply::Nil
        }
    } else {
        Reply::Int(if ch { added + updated } else { added })
    }
}

fn zadd(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    zadd_generic(sh, db, args, AddFlags::default())
}

fn zincrby(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    zadd_generic(sh, db, args, AddFlags { incr: true, ..AddFlags::default() })
}

fn zrem(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let (deleted, empty) = match write_zset(sh, db, key) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(z)) => {
            let mut n = 0;
            for m in &args[2..] {
                n += z.remove(m) as i64;
                if z.is_empty() {
                    break;
                }
            }
            (n, z.is_empty())
        }
    };
    if deleted > 0 {
        sh.notify(db, class::ZSET, "zrem", key);
        drop_if_empty(sh, db, key, empty);
    }
    Reply::Int(deleted)
}

// ---------------------------------------------------------------------------------------------
// Point reads

fn zscore(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match read_zset(sh, db, &args[1]) {
        Err(e) => e,
        Ok(z) => z.and_then(|z| z.score(&args[2])).map_or(Reply::Nil, Reply::Double),
    }
}

fn zmscore(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match read_zset(sh, db, &args[1]) {
        Err(e) => e,
        Ok(z) => Reply::Array(
            args[2..].iter().map(|m| z.as_ref().and_then(|z| z.score(m)).map_or(Reply::Nil, Reply::Double)).collect(),
        ),
    }
}

fn zcard(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match read_zset(sh, db, &args[1]) {
        Err(e) => e,
        Ok(z) => Reply::Int(z.map_or(0, |z| z.len() as i64)),
    }
}

fn rank_generic(sh: &mut Shard, db: usize, args: &[Bytes], rev: bool) -> Reply {
    match read_zset(sh, db, &args[1]) {
        Err(e) => e,
        Ok(None) => Reply::Nil,
        Ok(Some(z)) => match z.rank(&args[2]) {
            Some(r) => Reply::Int(if rev { z.len() - 1 - r } else { r } as i64),
            None => Reply::Nil,
        },
    }
}

fn zrank(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    rank_generic(sh, db, args, false)
}

fn zrevrank(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    rank_generic(sh, db, args, true)
}

// ---------------------------------------------------------------------------------------------
// Ranges

/// A score bound: the value and whether it is exclusive (`(`).
#[derive(Clone, Copy, Debug)]
pub struct ScoreBound {
    v: f64,
    ex: bool,
}

fn parse_score_bound(b: &[u8]) -> Option<ScoreBound> {
    match b.first() {
        Some(b'(') => parse_bound_number(&b[1..]).map(|v| ScoreBound { v, ex: true }),
        _ => parse_bound_number(b).map(|v| ScoreBound { v, ex: false }),
    }
}

/// A lex bound: `-`, `+`, `[member` or `(member`.
#[derive(Clone, Debug)]
pub enum LexBound {
    Min,
    Max,
    Incl(Bytes),
    Excl(Bytes),
}

fn parse_lex_bound(b: &Bytes) -> Option<LexBound> {
    match b.first() {
        Some(b'+') if b.len() == 1 => Some(LexBound::Max),
        Some(b'-') if b.len() == 1 => Some(LexBound::Min),
        Some(b'[') => Some(LexBound::Incl(b.slice(1..))),
        Some(b'(') => Some(LexBound::Excl(b.slice(1..))),
        _ => None,
    }
}

#[derive(Clone, Debug)]
pub enum RangeSpec {
    Rank(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound, LexBound),
}

/// A parsed range request: which elements, in which direction, which slice of them.
#[derive(Clone, Debug)]
pub struct RangeReq {
    spec: RangeSpec,
    rev: bool,
    offset: i64,
    /// Negative: no limit.
    limit: i64,
}

/// Ascending rank interval `[lo, hi)` of the elements a score or lex range covers.
fn bounds(z: &ZSet, spec: &RangeSpec) -> (usize, usize) {
    match spec {
        RangeSpec::Rank(..) => unreachable!("rank ranges are resolved by index"),
        RangeSpec::Score(min, max) => {
            let lo = z.count_while(&|s, _| if min.ex { s <= min.v } else { s < min.v });
            let hi = z.count_while(&|s, _| if max.ex { s < max.v } else { s <= max.v });
            (lo, hi.max(lo))
        }
        RangeSpec::Lex(min, max) => {
            let below = |b: &LexBound, upper: bool| -> usize {
                match b {
                    LexBound::Min => 0,
                    LexBound::Max => z.len(),
                    // For the lower bound count members < m ([) or <= m ((); for the upper bound
                    // count members <= m ([) or < m (().
                    LexBound::Incl(m) => z.count_while(&|_, x| if upper { x <= &m[..] } else { x < &m[..] }),
                    LexBound::Excl(m) => z.count_while(&|_, x| if upper { x < &m[..] } else { x <= &m[..] }),
                }
            };
            let (lo, hi) = (below(min, false), below(max, true));
            (lo, hi.max(lo))
        }
    }
}

/// Normalizes Redis rank arguments to an ascending inclusive interval, or None when empty.
fn rank_interval(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize))
}

/// The elements a range request selects, in reply order.
fn select(z: &ZSet, req: &RangeReq) -> Vec<(Bytes, f64)> {
    let len = z.len();
    if let RangeSpec::Rank(start, end) = req.spec {
        let Some((s, e)) = rank_interval(start, end, len) else { return Vec::new() };
        return if req.rev {
            let mut v = z.range(len - 1 - e, len - s);
            v.reverse();
            v
        } else {
            z.range(s, e + 1)
        };
    }
    let (lo, hi) = bounds(z, &req.spec);
    if req.offset < 0 || req.offset as u64 >= (hi - lo) as u64 {
        return Vec::new();
    }
    let off = req.offset as usize;
    let take = if req.limit < 0 { usize::MAX } else { req.limit as usize };
    if req.rev {
        let b = hi - off;
        let a = b.saturating_sub(take).max(lo);
        let mut v = z.range(a, b);
        v.reverse();
        v
    } else {
        let a = lo + off;
        let b = a.saturating_add(take).min(hi);
        z.range(a, b)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

/// Parses `<min> <max> [options]` starting at `args[at]` (the source key's index), as Redis's
/// zrangeGenericCommand does. Returns the request and WITHSCORES.
/// `dir`: None lets a REV option choose (ZRANGE, ZRANGESTORE); Some fixes the direction.
fn parse_range(
    args: &[Bytes],
    at: usize,
    store: bool,
    mut rt: RangeType,
    dir: Option<bool>,
) -> Result<(RangeReq, bool), Reply> {
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut dir = dir;
    let mut j = at + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if !store && eq_ci(a, "withscores") {
            withscores = true;
        } else if eq_ci(a, "limit") && left >= 2 {
            offset = int_arg(&args[j + 1])?;
            limit = int_arg(&args[j + 2])?;
            j += 2;
        } else if dir.is_none() && eq_ci(a, "rev") {
            dir = Some(true);
        } else if rt == RangeType::Auto && eq_ci(a, "bylex") {
            rt = RangeType::Lex;
        } else if rt == RangeType::Auto && eq_ci(a, "byscore") {
            rt = RangeType::Score;
        } else {
            return Err(Reply::error(errors::SYNTAX));
        }
        j += 1;
    }
    let rev = dir.unwrap_or(false);
    if rt == RangeType::Auto {
        rt = RangeType::Rank;
    }
    if limit != -1 && rt == RangeType::Rank {
        return Err(Reply::error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && rt == RangeType::Lex {
        return Err(Reply::error("ERR syntax error, WITHSCORES not supported in combination with BYLEX"));
    }
    let (mut lo, mut hi) = (&args[at + 1], &args[at + 2]);
    if rev && rt != RangeType::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let spec = match rt {
        RangeType::Score => match (parse_score_bound(lo), parse_score_bound(hi)) {
            (Some(a), Some(b)) => RangeSpec::Score(a, b),
            _ => return Err(Reply::error(NOT_FLOAT_RANGE)),
        },
        RangeType::Lex => match (parse_lex_bound(lo), parse_lex_bound(hi)) {
            (Some(a), Some(b)) => RangeSpec::Lex(a, b),
            _ => return Err(Reply::error(NOT_LEX_RANGE)),
        },
        _ => RangeSpec::Rank(int_arg(lo)?, int_arg(hi)?),
    };
    Ok((RangeReq { spec, rev, offset, limit }, withscores))
}

fn range_read(sh: &mut Shard, db: usize, args: &[Bytes], rt: RangeType, rev: Option<bool>) -> Reply {
    let (req, withscores) = match parse_range(args, 1, false, rt, rev) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match read_zset(sh, db, &args[1]) {
        Err(e) => e,
        Ok(None) => Reply::Array(Vec::new()),
        Ok(Some(z)) => member_reply(select(z, &req), withscores),
    }
}

fn zrange(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    range_read(sh, db, args, RangeType::Auto, None)
}

fn zrevrange(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    range_read(sh, db, args, RangeType::Rank, Some(true))
}

fn zrangebyscore(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    range_read(sh, db, args, RangeType::Score, Some(false))
}

fn zrevrangebyscore(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    range_read(sh, db, args, RangeType::Score, Some(true))
}

fn zrangebylex(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    range_read(sh, db, args, RangeType::Lex, Some(false))
}

fn zrevrangebylex(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    range_read(sh, db, args, RangeType::Lex, Some(true))
}

fn zcount(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let (Some(a), Some(b)) = (parse_score_bound(&args[2]), parse_score_bound(&args[3])) else {
        return Reply::error(NOT_FLOAT_RANGE);
    };
    match read_zset(sh, db, &args[1]) {
        Err(e) => e,
        Ok(None) => Reply::Int(0),
        Ok(Some(z)) => {
            let (lo, hi) = bounds(z, &RangeSpec::Score(a, b));
            Reply::Int((hi - lo) as i64)
        }
    }
}

fn zlexcount(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let (Some(a), Some(b)) = (parse_lex_bound(&args[2]), parse_lex_bound(&args[3])) else {
        return Reply::error(NOT_LEX_RANGE);
    };
    match read_zset(sh, db, &args[1]) {
        Err(e) => e,
        Ok(None) => Reply::Int(0),
        Ok(Some(z)) => {
            let (lo, hi) = bounds(z, &RangeSpec::Lex(a, b));
            Reply::Int((hi - lo) as i64)
        }
    }
}

fn remrange(sh: &mut Shard, db: usize, args: &[Bytes], spec: RangeSpec, event: &'static str) -> Reply {
    let key = &args[1];
    let (n, empty) = match write_zset(sh, db, key) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(z)) => {
            let victims = match spec {
                RangeSpec::Rank(s, e) => match rank_interval(s, e, z.len()) {
                    Some((s, e)) => z.range(s, e + 1),
                    None => return Reply::Int(0),
                },
                spec => {
                    let (lo, hi) = bounds(z, &spec);
                    z.range(lo, hi)
                }
            };
            for (m, _) in &victims {
                z.remove(m);
            }
            (victims.len(), z.is_empty())
        }
    };
    if n > 0 {
        sh.notify(db, class::ZSET, event, key);
        drop_if_empty(sh, db, key, empty);
    }
    Reply::Int(n as i64)
}

fn zremrangebyrank(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let (s, e) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    remrange(sh, db, args, RangeSpec::Rank(s, e), "zremrangebyrank")
}

fn zremrangebyscore(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match (parse_score_bound(&args[2]), parse_score_bound(&args[3])) {
        (Some(a), Some(b)) => remrange(sh, db, args, RangeSpec::Score(a, b), "zremrangebyscore"),
        _ => Reply::error(NOT_FLOAT_RANGE),
    }
}

fn zremrangebylex(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match (parse_lex_bound(&args[2]), parse_lex_bound(&args[3])) {
        (Some(a), Some(b)) => remrange(sh, db, args, RangeSpec::Lex(a, b), "zremrangebylex"),
        _ => Reply::error(NOT_LEX_RANGE),
    }
}

// ---------------------------------------------------------------------------------------------
// Pops, random members, scan

/// Pops up to `count` elements from the low (`max == false`) or high end of the set at `key`,
/// with Redis's events; None when the key does not exist. The core of ZPOPMIN/ZPOPMAX, ZMPOP
/// and (later) their blocking forms.
pub fn pop_on(
    sh: &mut Shard,
    db: usize,
    key: &[u8],
    max: bool,
    count: usize,
) -> Result<Option<Vec<(Bytes, f64)>>, Reply> {
    let (out, empty) = match write_zset(sh, db, key) {
        Err(e) => return Err(e),
        Ok(None) => return Ok(None),
        Ok(Some(z)) => {
            let n = count.min(z.len());
            let mut out = if max { z.range(z.len() - n, z.len()) } else { z.range(0, n) };
            if max {
                out.reverse();
            }
            for (m, _) in &out {
                z.remove(m);
            }
            (out, z.is_empty())
        }
    };
    if !out.is_empty() {
        sh.notify(db, class::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
        drop_if_empty(sh, db, key, empty);
    }
    Ok(Some(out))
}

fn pop_cmd(sh: &mut Shard, db: usize, args: &[Bytes], max: bool) -> Reply {
    if args.len() > 3 {
        return Reply::error(errors::SYNTAX);
    }
    let count = match args.get(2) {
        None => None,
        Some(a) => match parse_i64_strict(a) {
            None => return Reply::error(errors::NOT_INTEGER),
            Some(n) if n < 0 => return Reply::error(MUST_BE_POSITIVE),
            Some(n) => Some(n as usize),
        },
    };
    if count == Some(0) {
        // Redis still type-checks the key before answering an empty array.
        return match read_zset(sh, db, &args[1]) {
            Err(e) => e,
            Ok(_) => Reply::Array(Vec::new()),
        };
    }
    match pop_on(sh, db, &args[1], max, count.unwrap_or(1)) {
        Err(e) => e,
        Ok(None) => Reply::Array(Vec::new()),
        Ok(Some(items)) if count.is_some() => member_reply(items, true),
        Ok(Some(items)) => {
            Reply::Array(items.into_iter().flat_map(|(m, s)| [Reply::Bulk(m), Reply::Double(s)]).collect())
        }
    }
}

fn zpopmin(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    pop_cmd(sh, db, args, false)
}

fn zpopmax(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    pop_cmd(sh, db, args, true)
}

fn zrandmember(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    if args.len() == 2 {
        let pick = match read_zset(sh, db, &args[1]) {
            Err(e) => return e,
            Ok(None) => return Reply::Nil,
            Ok(Some(z)) => z.len(),
        };
        let r = (sh.next_rand() % pick as u64) as usize;
        let z = read_zset(sh, db, &args[1]).ok().flatten().expect("present");
        return Reply::Bulk(z.get(r).0);
    }
    let l = match parse_i64_strict(&args[2]) {
        None => return Reply::error(errors::NOT_INTEGER),
        Some(i64::MIN) => {
            return Reply::error(
                "ERR value is out of range, must be between -9223372036854775807 and 9223372036854775807",
            )
        }
        Some(n) => n,
    };
    let withscores = match args.len() {
        3 => false,
        4 if eq_ci(&args[3], "withscores") => true,
        _ => return Reply::error(errors::SYNTAX),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Reply::error("ERR value is out of range");
    }
    let size = match read_zset(sh, db, &args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Array(Vec::new()),
        Ok(Some(z)) => z.len(),
    };
    let count = l.unsigned_abs() as usize;
    if count == 0 {
        return Reply::Array(Vec::new());
    }
    let ranks: Vec<usize> = if l < 0 || count == 1 {
        (0..count).map(|_| (sh.next_rand() % size as u64) as usize).collect()
    } else if count >= size {
        (0..size).collect()
    } else if count * 3 > size {
        // Partial Fisher-Yates over every rank.
        let mut all: Vec<usize> = (0..size).collect();
        for i in 0..count {
            let j = i + (sh.next_rand() % (size - i) as u64) as usize;
            all.swap(i, j);
        }
        all.truncate(count);
        all
    } else {
        let mut seen = hashbrown::HashSet::with_capacity_and_hasher(count, foldhash::fast::FixedState::with_seed(7));
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let r = (sh.next_rand() % size as u64) as usize;
            if seen.insert(r) {
                out.push(r);
            }
        }
        out
    };
    let z = read_zset(sh, db, &args[1]).ok().flatten().expect("present");
    let items: Vec<(Bytes, f64)> =
        if ranks.len() == size && l > 0 { z.range(0, size) } else { ranks.into_iter().map(|r| z.get(r)).collect() };
    member_reply(items, withscores)
}

fn zscan(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let c = &args[2];
    let cursor = if !c.is_empty() && c.iter().all(u8::is_ascii_digit) {
        c.iter().try_fold(0u64, |n, d| n.checked_mul(10)?.checked_add((d - b'0') as u64))
    } else {
        None
    };
    let Some(cursor) = cursor else { return Reply::error(errors::INVALID_CURSOR) };
    let empty = || Reply::Array(vec![Reply::bulk_str("0"), Reply::Array(Vec::new())]);
    match read_zset(sh, db, &args[1]) {
        Err(e) => return e,
        Ok(None) => return empty(),
        Ok(Some(_)) => {}
    }
    let mut count = 10usize;
    let mut pattern: Option<&Bytes> = None;
    let mut i = 3;
    while i < args.len() {
        if i + 1 >= args.len() {
            return Reply::error(errors::SYNTAX);
        }
        if eq_ci(&args[i], "count") {
            match parse_i64_strict(&args[i + 1]) {
                None => return Reply::error(errors::NOT_INTEGER),
                Some(n) if n < 1 => return Reply::error(errors::SYNTAX),
                Some(n) => count = n.min(1 << 30) as usize,
            }
        } else if eq_ci(&args[i], "match") {
            pattern = (args[i + 1].as_ref() != b"*").then_some(&args[i + 1]);
        } else {
            return Reply::error(errors::SYNTAX);
        }
        i += 2;
    }
    let z = read_zset(sh, db, &args[1]).ok().flatten().expect("present");
    let (next, items) = z.scan(cursor, count, |m| pattern.is_none_or(|p| glob_match(p, m, false)));
    let mut flat = Vec::with_capacity(items.len() * 2);
    for (m, s) in items {
        flat.push(Reply::Bulk(m));
        flat.push(Reply::bulk(Bytes::from(crate::protocol::format_double(s))));
    }
    Reply::Array(vec![Reply::bulk(Bytes::from(next.to_string())), Reply::Array(flat)])
}

// ---------------------------------------------------------------------------------------------
// Multi-key: ZUNION / ZINTER / ZDIFF [STORE], ZINTERCARD, ZRANGESTORE, ZMPOP

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Agg {
    Sum,
    Min,
    Max,
}

/// A parsed ZUNION/ZINTER/ZDIFF[STORE]/ZINTERCARD request.
#[derive(Clone, Debug)]
struct SetOp {
    kind: SetKind,
    weights: Vec<f64>,
    agg: Agg,
    withscores: bool,
    card_only: bool,
    limit: usize,
}

type Members = Vec<(Bytes, f64)>;
type Map = hashbrown::HashMap<Bytes, f64, foldhash::fast::FixedState>;

fn new_map(cap: usize) -> Map {
    Map::with_capacity_and_hasher(cap, foldhash::fast::FixedState::with_seed(0x2e75))
}

fn aggregate(t: &mut f64, v: f64, agg: Agg) {
    match agg {
        Agg::Sum => {
            *t += v;
            if t.is_nan() {
                *t = 0.0;
            }
        }
        Agg::Min => {
            if v < *t {
                *t = v
            }
        }
        Agg::Max => {
            if v > *t {
                *t = v
            }
        }
    }
}

/// Parses `numkeys key... [options]` at `args[at]`; returns the op and the source keys.
fn parse_setop(
    args: &[Bytes],
    at: usize,
    kind: SetKind,
    store: bool,
    card_only: bool,
    name: &str,
) -> Result<(SetOp, Vec<Bytes>), Reply> {
    let n = int_arg(&args[at])?;
    if n < 1 {
        return Err(Reply::error(format!("ERR at least 1 input key is needed for '{name}' command")));
    }
    if n as u64 > (args.len() - at - 1) as u64 {
        return Err(Reply::error(errors::SYNTAX));
    }
    let n = n as usize;
    let keys = args[at + 1..at + 1 + n].to_vec();
    let mut op = SetOp { kind, weights: vec![1.0; n], agg: Agg::Sum, withscores: false, card_only, limit: 0 };
    let mut j = at + 1 + n;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = &args[j];
        if kind != SetKind::Diff && !card_only && remaining > n && eq_ci(a, "weights") {
            for i in 0..n {
                op.weights[i] =
                    parse_score(&args[j + 1 + i]).ok_or_else(|| Reply::error("ERR weight value is not a float"))?;
            }
            j += 1 + n;
        } else if kind != SetKind::Diff && !card_only && remaining >= 2 && eq_ci(a, "aggregate") {
            let v = &args[j + 1];
            op.agg = if eq_ci(v, "sum") {
                Agg::Sum
            } else if eq_ci(v, "min") {
                Agg::Min
            } else if eq_ci(v, "max") {
                Agg::Max
            } else {
                return Err(Reply::error(errors::SYNTAX));
            };
            j += 2;
        } else if !store && !card_only && eq_ci(a, "withscores") {
            op.withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && eq_ci(a, "limit") {
            match parse_i64_strict(&args[j + 1]) {
                Some(l) if l >= 0 => op.limit = l as usize,
                _ => return Err(Reply::error("ERR LIMIT can't be negative")),
            }
            j += 2;
        } else {
            return Err(Reply::error(errors::SYNTAX));
        }
    }
    Ok((op, keys))
}

/// The result of a set operation over the sources' contents (None: missing key), sorted.
fn compute_setop(op: &SetOp, srcs: Vec<Option<Members>>) -> (usize, Members) {
    let mut srcs: Vec<(Members, f64)> =
        srcs.into_iter().zip(op.weights.iter()).map(|(s, &w)| (s.unwrap_or_default(), w)).collect();
    let mut out: Members = Vec::new();
    match op.kind {
        SetKind::Inter => {
            srcs.sort_by_key(|(s, _)| s.len());
            if srcs[0].0.is_empty() {
                return (0, out);
            }
            let others: Vec<(Map, f64)> = srcs[1..]
                .iter()
                .map(|(s, w)| {
                    let mut m = new_map(s.len());
                    m.extend(s.iter().cloned());
                    (m, *w)
                })
                .collect();
            let mut card = 0;
            'each: for (m, s) in &srcs[0].0 {
                let mut score = srcs[0].1 * s;
                if score.is_nan() {
                    score = 0.0;
                }
                for (map, w) in &others {
                    match map.get(m) {
                        Some(v) => aggregate(&mut score, v * w, op.agg),
                        None => continue 'each,
                    }
                }
                card += 1;
                if op.card_only {
                    if op.limit > 0 && card >= op.limit {
                        break;
                    }
                } else {
                    out.push((m.clone(), score));
                }
            }
            if op.card_only {
                return (card, out);
            }
        }
        SetKind::Union => {
            srcs.sort_by_key(|(s, _)| s.len());
            let mut acc = new_map(srcs.last().map_or(0, |s| s.0.len()));
            for (s, w) in &srcs {
                for (m, sc) in s {
                    let mut score = w * sc;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(m) {
                        Some(t) => aggregate(t, score, op.agg),
                        None => {
                            acc.insert(m.clone(), score);
                        }
                    }
                }
            }
            out = acc.into_iter().collect();
        }
        SetKind::Diff => {
            let rest: Vec<Map> = srcs[1..]
                .iter()
                .map(|(s, _)| {
                    let mut m = new_map(s.len());
                    m.extend(s.iter().cloned());
                    m
                })
                .collect();
            out = srcs[0].0.iter().filter(|(m, _)| !rest.iter().any(|r| r.contains_key(m))).cloned().collect();
        }
    }
    out.sort_by(|a, b| cmp_entry(a.1, &a.0, b.1, &b.0));
    (out.len(), out)
}

/// How a source key is read: whole, or only the slice a ZRANGESTORE asks for.
#[derive(Clone, Debug)]
enum Reader {
    Whole,
    Range(RangeReq),
}

/// A source's contents (None when missing); WRONGTYPE for non-zsets.
fn read_source(sh: &mut Shard, db: usize, key: &[u8], how: &Reader) -> Result<Option<Members>, Reply> {
    match sh.lookup(db, key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::ZSet(z) => Ok(Some(match how {
                Reader::Whole => z.range(0, z.len()),
                Reader::Range(req) => select(z, req),
            })),
            // A plain set counts as a sorted set whose scores are all 1 (ZUNION/ZINTER/ZDIFF).
            Value::Set(s) if matches!(how, Reader::Whole) => {
                let mut members: Members = s.members().into_iter().map(|m| (m, 1.0)).collect();
                members.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(Some(members))
            }
            _ => Err(Reply::error(WRONGTYPE)),
        },
    }
}

/// Stores a computed set at `dst` (deleting it when empty), with Redis's events and reply.
fn store_result(sh: &mut Shard, db: usize, dst: &[u8], items: Members, event: &'static str) -> Reply {
    let n = items.len();
    if n == 0 {
        if sh.lookup_write(db, dst).is_some() {
            sh.dbs[db].remove(dst);
            sh.notify(db, class::GENERIC, "del", dst);
        }
        return Reply::Int(0);
    }
    let z = ZSet::from_entries(items, limits(sh));
    sh.dbs[db].set(Bytes::copy_from_slice(dst), Value::zset(z), 0);
    sh.notify(db, class::ZSET, event, dst);
    Reply::Int(n as i64)
}

/// What to do with the sources' contents once read.
#[derive(Clone, Debug)]
enum Finish {
    Set(SetOp),
    /// ZRANGESTORE: the one source was already sliced.
    RangeStore,
}

impl Finish {
    /// Either a reply for the client, or members to store under the destination.
    fn apply(&self, srcs: Vec<Option<Members>>) -> Result<Reply, Members> {
        match self {
            Finish::RangeStore => Err(srcs.into_iter().next().flatten().unwrap_or_default()),
            Finish::Set(op) => {
                let (card, items) = compute_setop(op, srcs);
                if op.card_only {
                    Ok(Reply::Int(card as i64))
                } else {
                    Err(items)
                }
            }
        }
    }
}

fn read_all(sh: &mut Shard, db: usize, keys: &[Bytes], how: &Reader) -> Result<Vec<Option<Members>>, Reply> {
    keys.iter().map(|k| read_source(sh, db, k, how)).collect()
}

/// Runs a read-compute-(store) command: one shard without locks, else under a transaction.
async fn read_compute<R: Rt>(
    ctx: &mut Ctx<'_, R>,
    srcs: Vec<Bytes>,
    how: Reader,
    dst: Option<(Bytes, &'static str)>,
    finish: Finish,
) -> Reply {
    let db = ctx.client.db;
    let withscores = matches!(&finish, Finish::Set(op) if op.withscores);
    let to_reply = move |r: Result<Reply, Members>| match r {
        Ok(reply) => reply,
        Err(items) => member_reply(items, withscores),
    };
    let mut all_keys: Vec<Bytes> = srcs.clone();
    if let Some((d, _)) = &dst {
        all_keys.push(d.clone());
    }
    let first = ctx.shards.shard_of(&all_keys[0]);
    if all_keys.iter().all(|k| ctx.shards.shard_of(k) == first) {
        let mode = if dst.is_some() { Mode::Write } else { Mode::Read };
        return ctx
            .shards
            .run_keyed(ctx.rt, ctx.home, first, db as u16, &all_keys, mode, move |sh| {
                let contents = match read_all(sh, db, &srcs, &how) {
                    Ok(c) => c,
                    Err(e) => return e,
                };
                match (finish.apply(contents), dst) {
                    (Ok(r), _) => r,
                    (Err(items), Some((d, ev))) => store_result(sh, db, &d, items, ev),
                    (Err(items), None) => to_reply(Err(items)),
                }
            })
            .await
            .unwrap_or_else(|| Reply::error(errors::SHUTTING_DOWN));
    }
    let mut lock_keys: Vec<(Bytes, Mode)> = srcs.iter().map(|k| (k.clone(), Mode::Read)).collect();
    if let Some((d, _)) = &dst {
        lock_keys.push((d.clone(), Mode::Write));
    }
    let tx = ctx.shards.lock(ctx.rt, db as u16, &lock_keys).await;
    let mut contents: Vec<Option<Result<Option<Members>, Reply>>> = (0..srcs.len()).map(|_| None).collect();
    for (shard, idx) in by_shard(ctx, &srcs, 0..srcs.len()) {
        let ks: Vec<Bytes> = idx.iter().map(|&i| srcs[i].clone()).collect();
        let h = how.clone();
        let Some(got) =
            tx.run(shard, move |sh| ks.iter().map(|k| read_source(sh, db, k, &h)).collect::<Vec<_>>()).await
        else {
            return Reply::error(errors::SHUTTING_DOWN);
        };
        for (i, g) in idx.into_iter().zip(got) {
            contents[i] = Some(g);
        }
    }
    let mut read = Vec::with_capacity(srcs.len());
    for c in contents {
        match c.expect("every source read") {
            Ok(v) => read.push(v),
            Err(e) => return e,
        }
    }
    match (finish.apply(read), dst) {
        (Ok(r), _) => r,
        (Err(items), Some((d, ev))) => {
            let shard = ctx.shards.shard_of(&d);
            tx.run(shard, move |sh| store_result(sh, db, &d, items, ev))
                .await
                .unwrap_or_else(|| Reply::error(errors::SHUTTING_DOWN))
        }
        (Err(items), None) => to_reply(Err(items)),
    }
}

/// ZMPOP's work on keys that share one shard: the first non-empty set, in key order.
/// `Ok(None)` when every key is missing. The core BZMPOP will reuse.
pub fn mpop_local(
    sh: &mut Shard,
    db: usize,
    keys: &[Bytes],
    max: bool,
    count: usize,
) -> Result<Option<(Bytes, Members)>, Reply> {
    for k in keys {
        if let Some(items) = pop_on(sh, db, k, max, count)? {
            return Ok(Some((k.clone(), items)));
        }
    }
    Ok(None)
}

fn mpop_reply(r: Result<Option<(Bytes, Members)>, Reply>) -> Reply {
    match r {
        Err(e) => e,
        Ok(None) => Reply::NilArray,
        Ok(Some((k, items))) => Reply::Array(vec![
            Reply::Bulk(k),
            Reply::Array(
                items.into_iter().map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)])).collect(),
            ),
        ]),
    }
}

/// Parses `numkeys key... MIN|MAX [COUNT n]` at `args[at]`.
pub fn parse_mpop(args: &[Bytes], at: usize) -> Result<(Vec<Bytes>, bool, usize), Reply> {
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    let n = match parse_i64_strict(&args[at]) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(Reply::error(NUMKEYS)),
    };
    let where_idx = at as u64 + n + 1;
    if where_idx >= args.len() as u64 {
        return Err(Reply::error(errors::SYNTAX));
    }
    let where_idx = where_idx as usize;
    let max = if eq_ci(&args[where_idx], "min") {
        false
    } else if eq_ci(&args[where_idx], "max") {
        true
    } else {
        return Err(Reply::error(errors::SYNTAX));
    };
    let mut count = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && eq_ci(&args[j], "count") && j + 1 < args.len() {
            match parse_i64_strict(&args[j + 1]) {
                Some(c) if c >= 1 => count = Some(c as usize),
                _ => return Err(Reply::error("ERR count should be greater than 0")),
            }
            j += 2;
        } else {
            return Err(Reply::error(errors::SYNTAX));
        }
    }
    Ok((args[at + 1..where_idx].to_vec(), max, count.unwrap_or(1)))
}

async fn zmpop<R: Rt>(ctx: &mut Ctx<'_, R>, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    let (keys, max, count) = match parse_mpop(args, 1) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let first = ctx.shards.shard_of(&keys[0]);
    if keys.iter().all(|k| ctx.shards.shard_of(k) == first) {
        let ks = keys.clone();
        return ctx
            .shards
            .run_keyed(ctx.rt, ctx.home, first, db as u16, &keys, Mode::Write, move |sh| {
                mpop_reply(mpop_local(sh, db, &ks, max, count))
            })
            .await
            .unwrap_or_else(|| Reply::error(errors::SHUTTING_DOWN));
    }
    let lock_keys: Vec<(Bytes, Mode)> = keys.iter().map(|k| (k.clone(), Mode::Write)).collect();
    let tx = ctx.shards.lock(ctx.rt, db as u16, &lock_keys).await;
    for k in keys {
        let shard = ctx.shards.shard_of(&k);
        let k2 = k.clone();
        match tx.run(shard, move |sh| pop_on(sh, db, &k2, max, count)).await {
            None => return Reply::error(errors::SHUTTING_DOWN),
            Some(Err(e)) => return e,
            Some(Ok(None)) => continue,
            Some(Ok(Some(items))) => return mpop_reply(Ok(Some((k, items)))),
        }
    }
    Reply::NilArray
}

/// Entry point for `MultiKind::Zset`.
pub async fn run_multi<R: Rt>(ctx: &mut Ctx<'_, R>, op: ZMulti, args: &[Bytes]) -> Reply {
    match op {
        ZMulti::Mpop => zmpop(ctx, args).await,
        ZMulti::RangeStore => {
            let (req, _) = match parse_range(args, 2, true, RangeType::Auto, None) {
                Ok(r) => r,
                Err(e) => return e,
            };
            let dst = (args[1].clone(), "zrangestore");
            read_compute(ctx, vec![args[2].clone()], Reader::Range(req), Some(dst), Finish::RangeStore).await
        }
        ZMulti::InterCard => match parse_setop(args, 1, SetKind::Inter, false, true, "zintercard") {
            Ok((op, keys)) => read_compute(ctx, keys, Reader::Whole, None, Finish::Set(op)).await,
            Err(e) => e,
        },
        ZMulti::Set(kind, store) => {
            let name = match (kind, store) {
                (SetKind::Union, false) => "zunion",
                (SetKind::Inter, false) => "zinter",
                (SetKind::Diff, false) => "zdiff",
                (SetKind::Union, true) => "zunionstore",
                (SetKind::Inter, true) => "zinterstore",
                (SetKind::Diff, true) => "zdiffstore",
            };
            let at = if store { 2 } else { 1 };
            match parse_setop(args, at, kind, store, false, name) {
                Ok((op, keys)) => {
                    let dst = store.then(|| (args[1].clone(), name));
                    read_compute(ctx, keys, Reader::Whole, dst, Finish::Set(op)).await
                }
                Err(e) => e,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn shard() -> Shard {
        let mut sh = Shard::new(0, 16, 5);
        sh.now_ms = 1_700_000_000_000;
        sh
    }

    fn a(parts: &[&str]) -> Vec<Bytes> {
        parts.iter().map(|p| Bytes::copy_from_slice(p.as_bytes())).collect()
    }

    fn call(sh: &mut Shard, f: crate::commands::table::ShardFn, parts: &[&str]) -> Reply {
        let mut v = vec!["cmd"];
        v.extend_from_slice(parts);
        f(sh, 0, &a(&v))
    }

    fn err(s: &str) -> Reply {
        Reply::error(s.to_string())
    }

    fn bulks(items: &[&str]) -> Reply {
        Reply::Array(items.iter().map(|s| Reply::bulk_str(s)).collect())
    }

    fn pairs(items: &[(&str, f64)]) -> Reply {
        Reply::Pairs(items.iter().map(|(m, s)| (Reply::bulk_str(m), Reply::Double(*s))).collect())
    }

    fn events(sh: &mut Shard) -> Vec<&'static str> {
        std::mem::take(&mut sh.events).into_iter().map(|e| e.event).collect()
    }

    fn seed(sh: &mut Shard) {
        call(sh, zadd, &["z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"]);
    }

    #[test]
    fn zadd_options_and_errors() {
        let mut sh = shard();
        assert_eq!(call(&mut sh, zadd, &["z", "1", "a", "2", "b"]), Reply::Int(2));
        assert_eq!(call(&mut sh, zadd, &["z", "1", "a", "3", "b", "1", "c"]), Reply::Int(1));
        assert_eq!(call(&mut sh, zadd, &["z", "ch", "5", "a", "3", "b", "9", "n"]), Reply::Int(2));
        assert_eq!(
            call(&mut sh, zadd, &["z", "nx", "xx", "1", "a"]),
            err("ERR XX and NX options at the same time are not compatible")
        );
        let gtlt = err("ERR GT, LT, and/or NX options at the same time are not compatible");
        assert_eq!(call(&mut sh, zadd, &["z", "gt", "lt", "1", "a"]), gtlt);
        assert_eq!(call(&mut sh, zadd, &["z", "nx", "gt", "1", "a"]), gtlt);
        assert_eq!(
            call(&mut sh, zadd, &["z", "incr", "1", "a", "2", "b"]),
            err("ERR INCR option supports a single increment-element pair")
        );
        assert_eq!(call(&mut sh, zadd, &["z", "1", "a", "2"]), err(errors::SYNTAX));
        assert_eq!(call(&mut sh, zadd, &["z", "nx"]), err(errors::SYNTAX));
        assert_eq!(call(&mut sh, zadd, &["z", "x", "a"]), err(errors::NOT_FLOAT));
        assert_eq!(call(&mut sh, zadd, &["z", "nan", "a"]), err(errors::NOT_FLOAT));
        assert_eq!(call(&mut sh, zadd, &["z", "", "a"]), err(errors::NOT_FLOAT));
        assert_eq!(call(&mut sh, zadd, &["z", "1", "x", "bad", "y"]), err(errors::NOT_FLOAT));
        assert_eq!(call(&mut sh, zscore, &["z", "x"]), Reply::Nil, "nothing added on a parse error");
        // GT / LT / XX / NX
        assert_eq!(call(&mut sh, zadd, &["z", "gt", "ch", "1", "a", "10", "b"]), Reply::Int(1));
        assert_eq!(call(&mut sh, zscore, &["z", "a"]), Reply::Double(5.0));
        assert_eq!(call(&mut sh, zadd, &["z", "lt", "ch", "1", "a", "100", "b"]), Reply::Int(1));
        assert_eq!(call(&mut sh, zadd, &["z", "xx", "1", "new"]), Reply::Int(0));
        assert_eq!(call(&mut sh, zadd, &["z", "nx", "100", "a"]), Reply::Int(0));
        assert_eq!(call(&mut sh, zscore, &["z", "a"]), Reply::Double(1.0));
        // INCR
        assert_eq!(call(&mut sh, zadd, &["z", "incr", "2.5", "a"]), Reply::Double(3.5));
        assert_eq!(call(&mut sh, zadd, &["z", "nx", "incr", "2.5", "a"]), Reply::Nil);
        assert_eq!(call(&mut sh, zadd, &["z", "gt", "incr", "-1", "a"]), Reply::Nil);
        assert_eq!(call(&mut sh, zadd, &["z", "xx", "incr", "1", "zz"]), Reply::Nil);
        assert_eq!(call(&mut sh, zadd, &["missing", "xx", "1", "a"]), Reply::Int(0));
        assert!(sh.dbs[0].table.get(b"missing").is_none());
        // WRONGTYPE
        sh.dbs[0].set(Bytes::from_static(b"s"), Value::Str(crate::types::StrValue::from_bytes(b"v")), 0);
        assert_eq!(call(&mut sh, zadd, &["s", "1", "a"]), err(WRONGTYPE));
        assert_eq!(call(&mut sh, zrange, &["s", "0", "-1"]), err(WRONGTYPE));
    }

    #[test]
    fn zincrby_and_nan() {
        let mut sh = shard();
        assert_eq!(call(&mut sh, zincrby, &["z", "2", "a"]), Reply::Double(2.0));
        assert_eq!(call(&mut sh, zincrby, &["z", "-5", "a"]), Reply::Double(-3.0));
        assert_eq!(call(&mut sh, zincrby, &["z", "x", "a"]), err(errors::NOT_FLOAT));
        call(&mut sh, zadd, &["z", "inf", "i"]);
        assert_eq!(call(&mut sh, zincrby, &["z", "-inf", "i"]), err(NAN_SCORE));
        assert_eq!(call(&mut sh, zscore, &["z", "i"]), Reply::Double(f64::INFINITY));
        sh.set_notify(crate::engine::notify::NotifyFlags::parse("KEA").unwrap());
        call(&mut sh, zincrby, &["z", "1", "a"]);
        assert_eq!(events(&mut sh), vec!["zincr"]);
    }

    #[test]
    fn point_reads() {
        let mut sh = shard();
        seed(&mut sh);
        assert_eq!(call(&mut sh, zcard, &["z"]), Reply::Int(5));
        assert_eq!(call(&mut sh, zcard, &["nope"]), Reply::Int(0));
        assert_eq!(call(&mut sh, zrank, &["z", "c"]), Reply::Int(2));
        assert_eq!(call(&mut sh, zrevrank, &["z", "c"]), Reply::Int(2));
        assert_eq!(call(&mut sh, zrevrank, &["z", "a"]), Reply::Int(4));
        assert_eq!(call(&mut sh, zrank, &["z", "x"]), Reply::Nil);
        assert_eq!(call(&mut sh, zrank, &["nope", "x"]), Reply::Nil);
        assert_eq!(
            call(&mut sh, zmscore, &["z", "a", "x", "e"]),
            Reply::Array(vec![Reply::Double(1.0), Reply::Nil, Reply::Double(5.0)])
        );
        assert_eq!(call(&mut sh, zmscore, &["nope", "a"]), Reply::Array(vec![Reply::Nil]));
        assert_eq!(call(&mut sh, zcount, &["z", "(1", "3"]), Reply::Int(2));
        assert_eq!(call(&mut sh, zcount, &["z", "-inf", "+inf"]), Reply::Int(5));
        assert_eq!(call(&mut sh, zcount, &["z", "x", "3"]), err(NOT_FLOAT_RANGE));
        assert_eq!(call(&mut sh, zcount, &["z", "1", "nan"]), err(NOT_FLOAT_RANGE));
    }

    #[test]
    fn ranges() {
        let mut sh = shard();
        seed(&mut sh);
        assert_eq!(call(&mut sh, zrange, &["z", "0", "-1"]), bulks(&["a", "b", "c", "d", "e"]));
        assert_eq!(call(&mut sh, zrange, &["z", "-2", "100"]), bulks(&["d", "e"]));
        assert_eq!(call(&mut sh, zrange, &["z", "3", "1"]), bulks(&[]));
        assert_eq!(call(&mut sh, zrange, &["z", "0", "1", "rev", "withscores"]), pairs(&[("e", 5.0), ("d", 4.0)]));
        assert_eq!(call(&mut sh, zrevrange, &["z", "0", "1"]), bulks(&["e", "d"]));
        assert_eq!(call(&mut sh, zrange, &["z", "(1", "3", "byscore"]), bulks(&["b", "c"]));
        assert_eq!(call(&mut sh, zrange, &["z", "3", "(1", "byscore", "rev"]), bulks(&["c", "b"]));
        assert_eq!(call(&mut sh, zrange, &["z", "-inf", "+inf", "byscore", "limit", "1", "2"]), bulks(&["b", "c"]));
        assert_eq!(
            call(&mut sh, zrange, &["z", "+inf", "-inf", "byscore", "rev", "limit", "1", "2"]),
            bulks(&["d", "c"])
        );
        assert_eq!(call(&mut sh, zrange, &["z", "-inf", "+inf", "byscore", "limit", "-1", "2"]), bulks(&[]));
        assert_eq!(call(&mut sh, zrange, &["z", "-inf", "+inf", "byscore", "limit", "3", "-1"]), bulks(&["d", "e"]));
        assert_eq!(call(&mut sh, zrangebyscore, &["z", "2", "3", "withscores"]), pairs(&[("b", 2.0), ("c", 3.0)]));
        assert_eq!(call(&mut sh, zrevrangebyscore, &["z", "3", "2"]), bulks(&["c", "b"]));
        assert_eq!(call(&mut sh, zrangebyscore, &["z", "5", "1"]), bulks(&[]));
        assert_eq!(call(&mut sh, zrangebyscore, &["z", "str", "1"]), err(NOT_FLOAT_RANGE));
        assert_eq!(call(&mut sh, zrange, &["nope", "0", "-1"]), bulks(&[]));
        let lim = "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
        assert_eq!(call(&mut sh, zrange, &["z", "0", "-1", "limit", "1", "2"]), err(lim));
        assert_eq!(
            call(&mut sh, zrange, &["z", "0", "-1", "bylex", "withscores"]),
            err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
        );
        assert_eq!(call(&mut sh, zrevrange, &["z", "0", "-1", "byscore"]), err(errors::SYNTAX));
        assert_eq!(call(&mut sh, zrangebyscore, &["z", "0", "-1", "rev"]), err(errors::SYNTAX));
        assert_eq!(call(&mut sh, zrange, &["z", "x", "1"]), err(errors::NOT_INTEGER));
        assert_eq!(call(&mut sh, zrange, &["z", "0", "-1", "limit", "x", "1", "byscore"]), err(errors::NOT_INTEGER));
        // lex
        let mut sh = shard();
        call(&mut sh, zadd, &["l", "0", "alpha", "0", "bar", "0", "cool", "0", "down", "0", "elephant", "0", "foo"]);
        assert_eq!(call(&mut sh, zrangebylex, &["l", "-", "[cool"]), bulks(&["alpha", "bar", "cool"]));
        assert_eq!(call(&mut sh, zrangebylex, &["l", "(bar", "(down"]), bulks(&["cool"]));
        assert_eq!(call(&mut sh, zrevrangebylex, &["l", "+", "(down"]), bulks(&["foo", "elephant"]));
        assert_eq!(call(&mut sh, zrangebylex, &["l", "[bar", "+", "limit", "1", "2"]), bulks(&["cool", "down"]));
        assert_eq!(call(&mut sh, zrange, &["l", "[e", "(a", "bylex", "rev"]), bulks(&["down", "cool", "bar", "alpha"]));
        assert_eq!(call(&mut sh, zlexcount, &["l", "-", "+"]), Reply::Int(6));
        assert_eq!(call(&mut sh, zlexcount, &["l", "[b", "(d"]), Reply::Int(2));
        for bad in [["foo", "bar"], ["[foo", "bar"], ["foo", "[bar"], ["+x", "[bar"], ["-x", "[bar"]] {
            assert_eq!(call(&mut sh, zrangebylex, &["l", bad[0], bad[1]]), err(NOT_LEX_RANGE));
        }
    }

    #[test]
    fn removals_and_events() {
        let mut sh = shard();
        sh.set_notify(crate::engine::notify::NotifyFlags::parse("KEA").unwrap());
        seed(&mut sh);
        assert_eq!(events(&mut sh), vec!["zadd"]);
        assert_eq!(call(&mut sh, zrem, &["z", "a", "x"]), Reply::Int(1));
        assert_eq!(call(&mut sh, zrem, &["z", "x"]), Reply::Int(0));
        assert_eq!(events(&mut sh), vec!["zrem"]);
        assert_eq!(call(&mut sh, zremrangebyrank, &["z", "0", "0"]), Reply::Int(1));
        assert_eq!(call(&mut sh, zremrangebyscore, &["z", "(3", "+inf"]), Reply::Int(2));
        assert_eq!(call(&mut sh, zremrangebyscore, &["z", "x", "1"]), err(NOT_FLOAT_RANGE));
        assert_eq!(call(&mut sh, zremrangebylex, &["z", "-", "+"]), Reply::Int(1));
        assert_eq!(events(&mut sh), vec!["zremrangebyrank", "zremrangebyscore", "zremrangebylex", "del"]);
        assert!(sh.dbs[0].table.get(b"z").is_none());
        seed(&mut sh);
        assert_eq!(call(&mut sh, zremrangebyrank, &["z", "10", "20"]), Reply::Int(0));
        assert_eq!(call(&mut sh, zrem, &["z", "a", "b", "c", "d", "e"]), Reply::Int(5));
        assert!(sh.dbs[0].table.get(b"z").is_none());
    }

    #[test]
    fn pops_and_random() {
        let mut sh = shard();
        seed(&mut sh);
        assert_eq!(call(&mut sh, zpopmin, &["z"]), Reply::Array(vec![Reply::bulk_str("a"), Reply::Double(1.0)]));
        assert_eq!(call(&mut sh, zpopmax, &["z", "2"]), pairs(&[("e", 5.0), ("d", 4.0)]));
        assert_eq!(call(&mut sh, zpopmax, &["z", "0"]), bulks(&[]));
        assert_eq!(call(&mut sh, zpopmax, &["z", "-1"]), err(MUST_BE_POSITIVE));
        assert_eq!(call(&mut sh, zpopmax, &["z", "1", "2"]), err(errors::SYNTAX));
        assert_eq!(call(&mut sh, zpopmin, &["z", "10"]), pairs(&[("b", 2.0), ("c", 3.0)]));
        assert_eq!(call(&mut sh, zpopmin, &["z"]), bulks(&[]));
        assert!(sh.dbs[0].table.get(b"z").is_none());
        seed(&mut sh);
        let mut keys = Vec::new();
        for (count, expect) in [("3", 3), ("5", 5), ("10", 5), ("-10", 10), ("1", 1), ("0", 0)] {
            let Reply::Array(v) = call(&mut sh, zrandmember, &["z", count]) else { panic!() };
            assert_eq!(v.len(), expect);
            if !count.starts_with('-') {
                let set: std::collections::BTreeSet<_> = v.iter().map(|r| format!("{r:?}")).collect();
                assert_eq!(set.len(), expect, "distinct");
            }
            keys.extend(v);
        }
        let Reply::Pairs(p) = call(&mut sh, zrandmember, &["z", "2", "withscores"]) else { panic!() };
        assert_eq!(p.len(), 2);
        assert!(matches!(call(&mut sh, zrandmember, &["z"]), Reply::Bulk(_)));
        assert_eq!(call(&mut sh, zrandmember, &["nope"]), Reply::Nil);
        assert_eq!(call(&mut sh, zrandmember, &["nope", "3"]), bulks(&[]));
        assert_eq!(call(&mut sh, zrandmember, &["z", "3", "x"]), err(errors::SYNTAX));
        assert_eq!(
            call(&mut sh, zrandmember, &["z", "-9223372036854770000", "withscores"]),
            err("ERR value is out of range")
        );
        assert!(matches!(call(&mut sh, zrandmember, &["z", "-9223372036854775808"]), Reply::Error(_)));
        let r = mpop_local(&mut sh, 0, &a(&["nope", "z"]), true, 2).unwrap().unwrap();
        assert_eq!(r.0, Bytes::from_static(b"z"));
        assert_eq!(r.1.len(), 2);
        assert!(mpop_local(&mut sh, 0, &a(&["nope"]), true, 2).unwrap().is_none());
        assert_eq!(
            parse_mpop(&a(&["zmpop", "0", "z", "min"]), 1).unwrap_err(),
            err("ERR numkeys should be greater than 0")
        );
        assert_eq!(
            parse_mpop(&a(&["zmpop", "1", "z", "min", "count", "0"]), 1).unwrap_err(),
            err("ERR count should be greater than 0")
        );
        assert_eq!(parse_mpop(&a(&["zmpop", "1", "z", "max", "min"]), 1).unwrap_err(), err(errors::SYNTAX));
        assert_eq!(
            parse_mpop(&a(&["zmpop", "1", "z", "max", "count", "1", "count", "2"]), 1).unwrap_err(),
            err(errors::SYNTAX)
        );
        assert_eq!(parse_mpop(&a(&["zmpop", "3", "z", "max"]), 1).unwrap_err(), err(errors::SYNTAX));
    }

    #[test]
    fn zscan_walks_everything() {
        let mut sh = shard();
        for i in 0..300 {
            call(&mut sh, zadd, &["z", &i.to_string(), &format!("m{i}")]);
        }
        assert_eq!(call(&mut sh, zscan, &["z", "x"]), err(errors::INVALID_CURSOR));
        assert_eq!(call(&mut sh, zscan, &["z", "0", "count", "0"]), err(errors::SYNTAX));
        let mut cursor = "0".to_string();
        let mut seen = 0;
        loop {
            let Reply::Array(v) = call(&mut sh, zscan, &["z", &cursor, "count", "20", "match", "m1*"]) else {
                panic!()
            };
            let Reply::Bulk(c) = &v[0] else { panic!() };
            let Reply::Array(items) = &v[1] else { panic!() };
            seen += items.len() / 2;
            cursor = String::from_utf8(c.to_vec()).unwrap();
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen, 111, "m1, m10..m19, m100..m199");
        assert_eq!(
            call(&mut sh, zscan, &["nope", "0"]),
            Reply::Array(vec![Reply::bulk_str("0"), Reply::Array(vec![])])
        );
    }

    #[test]
    fn encodings_follow_thresholds() {
        let mut sh = shard();
        sh.config.zset_max_listpack_entries = 3;
        sh.config.zset_max_listpack_value = 8;
        call(&mut sh, zadd, &["z", "1", "a", "2", "b", "3", "c"]);
        let enc = |sh: &mut Shard, k: &[u8]| sh.dbs[0].table.get(k).unwrap().value.encoding();
        assert_eq!(enc(&mut sh, b"z"), "listpack");
        call(&mut sh, zadd, &["z", "4", "d"]);
        assert_eq!(enc(&mut sh, b"z"), "skiplist");
        call(&mut sh, zadd, &["y", "1", "a-very-long-member"]);
        assert_eq!(enc(&mut sh, b"y"), "skiplist");
        sh.config.zset_max_listpack_entries = 0;
        call(&mut sh, zadd, &["x", "1", "a"]);
        assert_eq!(enc(&mut sh, b"x"), "skiplist");
    }

    #[test]
    fn set_operations() {
        let op =
            |kind, weights: Vec<f64>, agg| SetOp { kind, weights, agg, withscores: false, card_only: false, limit: 0 };
        let s1: Members = vec![(Bytes::from_static(b"a"), 1.0), (Bytes::from_static(b"b"), 2.0)];
        let s2: Members = vec![(Bytes::from_static(b"b"), 3.0), (Bytes::from_static(b"c"), 4.0)];
        let (_, u) =
            compute_setop(&op(SetKind::Union, vec![1.0, 2.0], Agg::Sum), vec![Some(s1.clone()), Some(s2.clone())]);
        assert_eq!(
            u,
            vec![(Bytes::from_static(b"a"), 1.0), (Bytes::from_static(b"b"), 8.0), (Bytes::from_static(b"c"), 8.0)]
        );
        let (_, i) =
            compute_setop(&op(SetKind::Inter, vec![1.0, 1.0], Agg::Max), vec![Some(s1.clone()), Some(s2.clone())]);
        assert_eq!(i, vec![(Bytes::from_static(b"b"), 3.0)]);
        let (_, i) = compute_setop(&op(SetKind::Inter, vec![1.0, 1.0], Agg::Min), vec![Some(s1.clone()), None]);
        assert!(i.is_empty());
        let (_, d) =
            compute_setop(&op(SetKind::Diff, vec![1.0, 1.0], Agg::Sum), vec![Some(s1.clone()), Some(s2.clone())]);
        assert_eq!(d, vec![(Bytes::from_static(b"a"), 1.0)]);
        let card = SetOp { card_only: true, limit: 0, ..op(SetKind::Inter, vec![1.0; 2], Agg::Sum) };
        assert_eq!(compute_setop(&card, vec![Some(s1.clone()), Some(s1.clone())]).0, 2);
        let card1 = SetOp { limit: 1, ..card };
        assert_eq!(compute_setop(&card1, vec![Some(s1.clone()), Some(s1.clone())]).0, 1);
        // inf * 0 is NaN: Redis counts it as 0.
        let inf: Members = vec![(Bytes::from_static(b"a"), f64::INFINITY)];
        let (_, u) = compute_setop(&op(SetKind::Union, vec![0.0], Agg::Sum), vec![Some(inf)]);
        assert_eq!(u[0].1, 0.0);
        let p = |parts: &[&str], store| {
            parse_setop(&a(parts), if store { 2 } else { 1 }, SetKind::Union, store, false, "zunion")
        };
        assert_eq!(
            p(&["zunion", "0", "k"], false).unwrap_err(),
            err("ERR at least 1 input key is needed for 'zunion' command")
        );
        assert_eq!(p(&["zunion", "3", "k"], false).unwrap_err(), err(errors::SYNTAX));
        assert_eq!(
            p(&["zunion", "1", "k", "weights", "x"], false).unwrap_err(),
            err("ERR weight value is not a float")
        );
        assert_eq!(p(&["zunion", "1", "k", "aggregate", "avg"], false).unwrap_err(), err(errors::SYNTAX));
        assert_eq!(p(&["zunionstore", "d", "1", "k", "withscores"], true).unwrap_err(), err(errors::SYNTAX));
        assert!(p(&["zunion", "1", "k", "weights", "2", "aggregate", "max", "withscores"], false).is_ok());
        let c = |parts: &[&str]| parse_setop(&a(parts), 1, SetKind::Inter, false, true, "zintercard");
        assert_eq!(c(&["zintercard", "1", "k", "k"]).unwrap_err(), err(errors::SYNTAX));
        assert_eq!(c(&["zintercard", "1", "k", "limit", "-1"]).unwrap_err(), err("ERR LIMIT can't be negative"));
        assert_eq!(c(&["zintercard", "1", "k", "limit", "a"]).unwrap_err(), err("ERR LIMIT can't be negative"));
        assert_eq!(c(&["zintercard", "1", "k", "withscores"]).unwrap_err(), err(errors::SYNTAX));
    }

    #[test]
    fn store_result_replaces_and_deletes() {
        let mut sh = shard();
        sh.set_notify(crate::engine::notify::NotifyFlags::parse("KEA").unwrap());
        let items: Members = vec![(Bytes::from_static(b"a"), 1.0)];
        assert_eq!(store_result(&mut sh, 0, b"d", items, "zunionstore"), Reply::Int(1));
        assert_eq!(store_result(&mut sh, 0, b"d", Vec::new(), "zunionstore"), Reply::Int(0));
        assert_eq!(store_result(&mut sh, 0, b"d", Vec::new(), "zunionstore"), Reply::Int(0));
        assert_eq!(events(&mut sh), vec!["zunionstore", "del"]);
    }

    /// Replies as (member, score) lists, to compare with the model.
    fn as_items(r: Reply) -> Vec<(Vec<u8>, f64)> {
        match r {
            Reply::Pairs(p) => p
                .into_iter()
                .map(|(m, s)| match (m, s) {
                    (Reply::Bulk(m), Reply::Double(s)) => (m.to_vec(), s),
                    other => panic!("{other:?}"),
                })
                .collect(),
            Reply::Array(v) => v
                .into_iter()
                .map(|m| match m {
                    Reply::Bulk(m) => (m.to_vec(), f64::NAN),
                    other => panic!("{other:?}"),
                })
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    fn bound_text(v: i32, ex: bool) -> String {
        match v {
            -6 => "-inf".into(),
            6 => "+inf".into(),
            v => format!("{}{}", if ex { "(" } else { "" }, v),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn commands_match_a_btreemap_model(
            ops in proptest::collection::vec((0u8..3, 0u8..40, -5i32..5), 1..200),
            entries in 0usize..8,
            queries in proptest::collection::vec((-6i32..7, -6i32..7, any::<bool>(), any::<bool>(), any::<bool>(), -1i64..4, -1i64..4), 12),
        ) {
            let mut sh = shard();
            sh.config.zset_max_listpack_entries = entries;
            let mut model: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
            for (op, m, s) in ops {
                let member = format!("m{m:02}");
                match op {
                    0 | 1 => {
                        let r = call(&mut sh, zadd, &["z", &s.to_string(), &member]);
                        prop_assert_eq!(r, Reply::Int(model.insert(member.into_bytes(), s as f64).is_none() as i64));
                    }
                    _ => {
                        let r = call(&mut sh, zrem, &["z", &member]);
                        prop_assert_eq!(r, Reply::Int(model.remove(member.as_bytes()).is_some() as i64));
                    }
                }
            }
            let mut sorted: Vec<(Vec<u8>, f64)> = model.iter().map(|(k, v)| (k.clone(), *v)).collect();
            sorted.sort_by(|x, y| cmp_entry(x.1, &x.0, y.1, &y.0));
            let len = sorted.len();
            prop_assert_eq!(call(&mut sh, zcard, &["z"]), Reply::Int(len as i64));
            if len > entries {
                prop_assert_eq!(sh.dbs[0].table.get(b"z").unwrap().value.encoding(), "skiplist");
            }
            for (i, (m, _)) in sorted.iter().enumerate() {
                prop_assert_eq!(call(&mut sh, zrank, &["z", std::str::from_utf8(m).unwrap()]), Reply::Int(i as i64));
            }
            for (lo, hi, lex, rev, ex, off, cnt) in queries {
                let (lo_t, hi_t) = (bound_text(lo, ex), bound_text(hi, !ex));
                let in_lo = |s: f64| match lo { -6 => true, 6 => false, v => if ex { s > v as f64 } else { s >= v as f64 } };
                let in_hi = |s: f64| match hi { -6 => false, 6 => true, v => if !ex { s < hi as f64 } else { s <= v as f64 } };
                let mut expect: Vec<(Vec<u8>, f64)> = sorted.iter().filter(|(_, s)| in_lo(*s) && in_hi(*s)).cloned().collect();
                if rev { expect.reverse(); }
                let expect: Vec<(Vec<u8>, f64)> = if off < 0 { vec![] } else {
                    expect.into_iter().skip(off as usize).take(if cnt < 0 { usize::MAX } else { cnt as usize }).collect()
                };
                let (a1, a2) = if rev { (hi_t.clone(), lo_t.clone()) } else { (lo_t.clone(), hi_t.clone()) };
                let mut args = vec!["z", &a1, &a2, "byscore", "withscores", "limit"];
                let (o, c) = (off.to_string(), cnt.to_string());
                args.push(&o);
                args.push(&c);
                if rev { args.push("rev"); }
                prop_assert_eq!(as_items(call(&mut sh, zrange, &args)), expect);
                // Rank ranges.
                let (s, e) = (lo as i64, hi as i64);
                let mut by_rank: Vec<(Vec<u8>, f64)> = match rank_interval(s, e, len) {
                    Some((s, e)) => if rev { sorted.iter().rev().skip(s).take(e - s + 1).cloned().collect() } else { sorted[s..=e].to_vec() },
                    None => vec![],
                };
                if !rev { by_rank.iter_mut().for_each(|x| x.1 = f64::NAN); }
                let cmd = if rev { zrevrange } else { zrange };
                let (ss, es) = (s.to_string(), e.to_string());
                let mut rargs = vec!["z", ss.as_str(), es.as_str()];
                if rev { rargs.push("withscores"); }
                let got = as_items(call(&mut sh, cmd, &rargs));
                prop_assert_eq!(format!("{got:?}"), format!("{by_rank:?}"));
                // Lex over members (meaningful when all scores are equal; here only checked for
                // counting consistency on a same-score copy).
                if lex {
                    let lo_m = format!("[m{:02}", (lo + 6) * 3);
                    let hi_m = format!("(m{:02}", (hi + 6) * 3);
                    let mut flat = shard();
                    for (m, _) in &sorted {
                        call(&mut flat, zadd, &["f", "0", std::str::from_utf8(m).unwrap()]);
                    }
                    let want = sorted.iter().filter(|(m, _)| m.as_slice() >= &lo_m.as_bytes()[1..] && m.as_slice() < &hi_m.as_bytes()[1..]).count();
                    if len > 0 {
                        prop_assert_eq!(call(&mut flat, zlexcount, &["f", &lo_m, &hi_m]), Reply::Int(want as i64));
                    }
                }
            }
        }
    }
}
