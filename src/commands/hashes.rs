//! Hash commands (Redis's t_hash.c). Values live in `types::HashValue`, which picks the compact
//! or table form by the shard's `hash-max-listpack-*` thresholds.

use super::errors;
use super::table::{spec, CommandSpec, KeySpec, Run};
use crate::engine::notify::class;
use crate::engine::{Mode, Shard};
use crate::protocol::Reply;
use crate::types::{HashLimits, HashValue, Value, WRONGTYPE};
use crate::util::{glob_match, parse_f64_strict, parse_i64_strict};
use bytes::Bytes;

const W_FAST_OOM: &[&str] = &["write", "denyoom", "fast"];
const W_FAST: &[&str] = &["write", "fast"];
const RO_FAST: &[&str] = &["readonly", "fast"];
const RO: &[&str] = &["readonly"];
const ACL_W_FAST: &[&str] = &["@write", "@hash", "@fast"];
const ACL_R_FAST: &[&str] = &["@read", "@hash", "@fast"];
const ACL_R_SLOW: &[&str] = &["@read", "@hash", "@slow"];

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "hash",
        "hset",
        -4,
        W_FAST_OOM,
        KeySpec::ONE,
        ACL_W_FAST,
        "Set the string value of a hash field",
        "2.0.0",
        Run::Shard(hset, Mode::Write),
    ),
    spec(
        "hash",
        "hsetnx",
        4,
        W_FAST_OOM,
        KeySpec::ONE,
        ACL_W_FAST,
        "Set the value of a hash field, only if the field does not exist",
        "2.0.0",
        Run::Shard(hsetnx, Mode::Write),
    ),
    spec(
        "hash",
        "hmset",
        -4,
        W_FAST_OOM,
        KeySpec::ONE,
        ACL_W_FAST,
        "Set multiple hash fields to multiple values",
        "2.0.0",
        Run::Shard(hset, Mode::Write),
    ),
    spec(
        "hash",
        "hget",
        3,
        RO_FAST,
        KeySpec::ONE,
        ACL_R_FAST,
        "Get the value of a hash field",
        "2.0.0",
        Run::Shard(hget, Mode::Read),
    ),
    spec(
        "hash",
        "hmget",
        -3,
        RO_FAST,
        KeySpec::ONE,
        ACL_R_FAST,
        "Get the values of all the given hash fields",
        "2.0.0",
        Run::Shard(hmget, Mode::Read),
    ),
    spec(
        "hash",
        "hgetall",
        2,
        RO,
        KeySpec::ONE,
        ACL_R_SLOW,
        "Get all the fields and values in a hash",
        "2.0.0",
        Run::Shard(hgetall, Mode::Read),
    ),
    spec(
        "hash",
        "hkeys",
        2,
        RO,
        KeySpec::ONE,
        ACL_R_SLOW,
        "Get all the fields in a hash",
        "2.0.0",
        Run::Shard(hkeys, Mode::Read),
    ),
    spec(
        "hash",
        "hvals",
        2,
        RO,
        KeySpec::ONE,
        ACL_R_SLOW,
        "Get all the values in a hash",
        "2.0.0",
        Run::Shard(hvals, Mode::Read),
    ),
    spec(
        "hash",
        "hlen",
        2,
        RO_FAST,
        KeySpec::ONE,
        ACL_R_FAST,
        "Get the number of fields in a hash",
        "2.0.0",
        Run::Shard(hlen, Mode::Read),
    ),
    spec(
        "hash",
        "hexists",
        3,
        RO_FAST,
        KeySpec::ONE,
        ACL_R_FAST,
        "Determine if a hash field exists",
        "2.0.0",
        Run::Shard(hexists, Mode::Read),
    ),
    spec(
        "hash",
        "hdel",
        -3,
        W_FAST,
        KeySpec::ONE,
        ACL_W_FAST,
        "Delete one or more hash fields",
        "2.0.0",
        Run::Shard(hdel, Mode::Write),
    ),
    spec(
        "hash",
        "hstrlen",
        3,
        RO_FAST,
        KeySpec::ONE,
        ACL_R_FAST,
        "Get the length of the value of a hash field",
        "3.2.0",
        Run::Shard(hstrlen, Mode::Read),
    ),
    spec(
        "hash",
        "hincrby",
        4,
        W_FAST_OOM,
        KeySpec::ONE,
        ACL_W_FAST,
        "Increment the integer value of a hash field by the given number",
        "2.0.0",
        Run::Shard(hincrby, Mode::Write),
    ),
    spec(
        "hash",
        "hincrbyfloat",
        4,
        W_FAST_OOM,
        KeySpec::ONE,
        ACL_W_FAST,
        "Increment the float value of a hash field by the given amount",
        "2.6.0",
        Run::Shard(hincrbyfloat, Mode::Write),
    ),
    spec(
        "hash",
        "hrandfield",
        -2,
        RO,
        KeySpec::ONE,
        ACL_R_SLOW,
        "Get one or multiple random fields from a hash",
        "6.2.0",
        Run::Shard(hrandfield, Mode::Read),
    ),
    spec(
        "hash",
        "hscan",
        -3,
        RO,
        KeySpec::ONE,
        ACL_R_SLOW,
        "Incrementally iterate hash fields and associated values",
        "2.8.0",
        Run::Shard(hscan, Mode::Read),
    ),
];

fn limits(sh: &Shard) -> HashLimits {
    HashLimits { max_entries: sh.config.hash_max_listpack_entries, max_value: sh.config.hash_max_listpack_value }
}

/// The hash at `key` for reading (counts a hit or miss): `Ok(None)` when absent.
fn read_hash<'a>(sh: &'a mut Shard, db: usize, key: &[u8]) -> Result<Option<&'a HashValue>, Reply> {
    match sh.lookup(db, key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Hash(h) => Ok(Some(h)),
            _ => Err(Reply::error(WRONGTYPE)),
        },
    }
}

/// The hash at `key` for writing; an empty one is stored first when absent and `create`.
/// A caller that creates must leave it non-empty (or call `drop_if_empty`).
fn write_hash<'a>(sh: &'a mut Shard, db: usize, key: &[u8], create: bool) -> Result<Option<&'a mut HashValue>, Reply> {
    if sh.lookup_write(db, key).is_none() {
        if !create {
            return Ok(None);
        }
        sh.dbs[db].set(Bytes::copy_from_slice(key), Value::Hash(HashValue::new()), 0);
    }
    match sh.dbs[db].table.get_mut(key).map(|e| &mut e.value) {
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(Reply::error(WRONGTYPE)),
        None => Ok(None),
    }
}

/// Removes `key` when its hash became empty; true when it did.
fn drop_if_empty(sh: &mut Shard, db: usize, key: &[u8]) -> bool {
    if matches!(sh.dbs[db].table.get(key).map(|e| &e.value), Some(Value::Hash(h)) if h.is_empty()) {
        sh.dbs[db].remove(key);
        return true;
    }
    false
}

fn bulk(b: &[u8]) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(b))
}

/// HSET key field value [field value ...] and HMSET (which replies OK).
fn hset(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    if args.len() % 2 == 1 {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        return Reply::error(errors::wrong_args(&name));
    }
    let lim = limits(sh);
    let h = match write_hash(sh, db, &args[1], true) {
        Ok(Some(h)) => h,
        Ok(None) => unreachable!("created"),
        Err(e) => return e,
    };
    h.prepare_for(args[2..].iter().map(|a| &a[..]), lim);
    let mut created = 0;
    for pair in args[2..].chunks_exact(2) {
        created += h.set(&pair[0], &pair[1], lim) as i64;
    }
    sh.notify(db, class::HASH, "hset", &args[1]);
    if args[0].eq_ignore_ascii_case(b"hmset") {
        Reply::Ok
    } else {
        Reply::Int(created)
    }
}

fn hsetnx(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let lim = limits(sh);
    let h = match write_hash(sh, db, &args[1], true) {
        Ok(Some(h)) => h,
        Ok(None) => unreachable!("created"),
        Err(e) => return e,
    };
    if h.contains(&args[2]) {
        return Reply::Int(0);
    }
    h.prepare_for([&args[2][..], &args[3][..]], lim);
    h.set(&args[2], &args[3], lim);
    sh.notify(db, class::HASH, "hset", &args[1]);
    Reply::Int(1)
}

fn hget(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match read_hash(sh, db, &args[1]) {
        Ok(h) => h.and_then(|h| h.get(&args[2])).map_or(Reply::Nil, bulk),
        Err(e) => e,
    }
}

fn hmget(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match read_hash(sh, db, &args[1]) {
        Ok(h) => Reply::Array(args[2..].iter().map(|f| h.and_then(|h| h.get(f)).map_or(Reply::Nil, bulk)).collect()),
        Err(e) => e,
    }
}

fn hgetall(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match read_hash(sh, db, &args[1]) {
        Ok(h) => {
            Reply::Map(h.map_or_else(Vec::new, |h| h.entries().into_iter().map(|(f, v)| (bulk(f), bulk(v))).collect()))
        }
        Err(e) => e,
    }
}

fn hkeys(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match read_hash(sh, db, &args[1]) {
        Ok(h) => Reply::Array(h.map_or_else(Vec::new, |h| h.entries().into_iter().map(|(f, _)| bulk(f)).collect())),
        Err(e) => e,
    }
}

fn hvals(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match read_hash(sh, db, &args[1]) {
        Ok(h) => Reply::Array(h.map_or_else(Vec::new, |h| h.entries().into_iter().map(|(_, v)| bulk(v)).collect())),
        Err(e) => e,
    }
}

fn hlen(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match read_hash(sh, db, &args[1]) {
        Ok(h) => Reply::Int(h.map_or(0, |h| h.len() as i64)),
        Err(e) => e,
    }
}

fn hexists(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match read_hash(sh, db, &args[1]) {
        Ok(h) => Reply::Int(h.is_some_and(|h| h.contains(&args[2])) as i64),
        Err(e) => e,
    }
}

fn hstrlen(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match read_hash(sh, db, &args[1]) {
        Ok(h) => Reply::Int(h.and_then(|h| h.get(&args[2])).map_or(0, |v| v.len() as i64)),
        Err(e) => e,
    }
}

fn hdel(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let h = match write_hash(sh, db, &args[1], false) {
        Ok(Some(h)) => h,
        Ok(None) => return Reply::Int(0),
        Err(e) => return e,
    };
    let mut deleted = 0;
    for f in &args[2..] {
        if h.remove(f) {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        sh.notify(db, class::HASH, "hdel", &args[1]);
        if drop_if_empty(sh, db, &args[1]) {
            sh.notify(db, class::GENERIC, "del", &args[1]);
        }
    }
    Reply::Int(deleted)
}

fn hincrby(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let Some(incr) = parse_i64_strict(&args[3]) else { return Reply::error(errors::NOT_INTEGER) };
    let lim = limits(sh);
    let h = match write_hash(sh, db, &args[1], true) {
        Ok(Some(h)) => h,
        Ok(None) => unreachable!("created"),
        Err(e) => return e,
    };
    let old = match h.get(&args[2]) {
        None => 0,
        Some(v) => match parse_i64_strict(v) {
            Some(n) => n,
            None => return Reply::error("ERR hash value is not an integer"),
        },
    };
    let Some(new) = old.checked_add(incr) else { return Reply::error(errors::OVERFLOW) };
    h.prepare_for([&args[2][..]], lim);
    h.set(&args[2], itoa::Buffer::new().format(new).as_bytes(), lim);
    sh.notify(db, class::HASH, "hincrby", &args[1]);
    Reply::Int(new)
}

fn hincrbyfloat(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let Some(incr) = parse_f64_strict(&args[3]) else { return Reply::error(errors::NOT_FLOAT) };
    if !incr.is_finite() {
        return Reply::error("ERR value is NaN or Infinity");
    }
    let lim = limits(sh);
    let h = match write_hash(sh, db, &args[1], true) {
        Ok(Some(h)) => h,
        Ok(None) => unreachable!("created"),
        Err(e) => return e,
    };
    let old = match h.get(&args[2]) {
        None => 0.0,
        Some(v) => match parse_f64_strict(v) {
            Some(n) => n,
            None => {
                drop_if_empty(sh, db, &args[1]);
                return Reply::error("ERR hash value is not a float");
            }
        },
    };
    let new = crate::util::add_floats(old, incr);
    if !new.is_finite() {
        drop_if_empty(sh, db, &args[1]);
        return Reply::error(errors::NAN_OR_INF);
    }
    let text = super::strings::incrbyfloat_text(new);
    h.prepare_for([&args[2][..]], lim);
    h.set(&args[2], text.as_bytes(), lim);
    sh.notify(db, class::HASH, "hincrbyfloat", &args[1]);
    Reply::Bulk(Bytes::from(text))
}

/// A random-count argument as Redis's `getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)`
/// reads it.
pub(super) fn parse_count(b: &[u8]) -> Result<i64, Reply> {
    match parse_i64_strict(b) {
        None => Err(Reply::error(errors::NOT_INTEGER)),
        Some(i64::MIN) => Err(Reply::error(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        )),
        Some(n) => Ok(n),
    }
}

/// Positions to return for a random pick of `count` out of `size` (> 0) entries: distinct when
/// `unique` (all of them when `count >= size`), else `count` independent picks.
pub(super) fn sample(sh: &mut Shard, size: usize, count: u64, unique: bool) -> Vec<usize> {
    if !unique {
        let mut out = Vec::with_capacity(count.min(4096) as usize);
        for _ in 0..count {
            out.push((sh.next_rand() % size as u64) as usize);
        }
        return out;
    }
    if count >= size as u64 {
        return (0..size).collect();
    }
    let count = count as usize;
    if count * 3 > size {
        // A partial shuffle: the first `count` positions of a random permutation.
        let mut all: Vec<usize> = (0..size).collect();
        for i in 0..count {
            let j = i + (sh.next_rand() % (size - i) as u64) as usize;
            all.swap(i, j);
        }
        all.truncate(count);
        return all;
    }
    let mut seen: hashbrown::HashSet<usize, foldhash::fast::FixedState> =
        hashbrown::HashSet::with_capacity_and_hasher(count, foldhash::fast::FixedState::with_seed(1));
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let i = (sh.next_rand() % size as u64) as usize;
        if seen.insert(i) {
            out.push(i);
        }
    }
    out
}

/// HRANDFIELD key [count [WITHVALUES]]
fn hrandfield(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    if args.len() == 2 {
        let pick = match read_hash(sh, db, &args[1]) {
            Ok(Some(h)) => h.len(),
            Ok(None) => return Reply::Nil,
            Err(e) => return e,
        };
        let i = (sh.next_rand() % pick as u64) as usize;
        let Ok(Some(h)) = read_hash(sh, db, &args[1]) else { return Reply::Nil };
        return bulk(h.nth(i).0);
    }
    let l = match parse_count(&args[2]) {
        Ok(l) => l,
        Err(e) => return e,
    };
    let withvalues = match args.len() {
        3 => false,
        4 if args[3].eq_ignore_ascii_case(b"withvalues") => true,
        _ => return Reply::error(errors::SYNTAX),
    };
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Reply::error("ERR value is out of range");
    }
    let size = match read_hash(sh, db, &args[1]) {
        Ok(Some(h)) => h.len(),
        Ok(None) => return Reply::Array(vec![]),
        Err(e) => return e,
    };
    if l == 0 {
        return Reply::Array(vec![]);
    }
    let picks = sample(sh, size, l.unsigned_abs(), l > 0);
    let Ok(Some(h)) = read_hash(sh, db, &args[1]) else { return Reply::Array(vec![]) };
    if withvalues {
        Reply::Pairs(picks.into_iter().map(|i| h.nth(i)).map(|(f, v)| (bulk(f), bulk(v))).collect())
    } else {
        Reply::Array(picks.into_iter().map(|i| bulk(h.nth(i).0)).collect())
    }
}

/// A SCAN cursor: decimal digits fitting a u64.
pub(super) fn parse_cursor(text: &[u8]) -> Result<u64, Reply> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return Err(Reply::error(errors::INVALID_CURSOR));
    }
    text.iter()
        .try_fold(0u64, |n, d| n.checked_mul(10)?.checked_add((d - b'0') as u64))
        .ok_or_else(|| Reply::error(errors::INVALID_CURSOR))
}

/// HSCAN/SSCAN options after the cursor: `(MATCH pattern, COUNT n)`.
pub(super) fn scan_options(args: &[Bytes]) -> Result<(Option<Bytes>, usize), Reply> {
    let (mut pattern, mut count) = (None, 10usize);
    let mut i = 0;
    while i < args.len() {
        if i + 1 >= args.len() {
            return Err(Reply::error(errors::SYNTAX));
        }
        if args[i].eq_ignore_ascii_case(b"count") {
            let n = parse_i64_strict(&args[i + 1]).ok_or_else(|| Reply::error(errors::NOT_INTEGER))?;
            if n < 1 {
                return Err(Reply::error(errors::SYNTAX));
            }
            count = n.min(usize::MAX as i64) as usize;
        } else if args[i].eq_ignore_ascii_case(b"match") {
            pattern = Some(args[i + 1].clone()).filter(|p| &p[..] != b"*");
        } else {
            return Err(Reply::error(errors::SYNTAX));
        }
        i += 2;
    }
    Ok((pattern, count))
}

/// The reply of a SCAN-family command.
pub(super) fn scan_reply(next: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::copy_from_slice(itoa::Buffer::new().format(next).as_bytes())),
        Reply::Array(items),
    ])
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
fn hscan(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let cursor = match parse_cursor(&args[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let h = match read_hash(sh, db, &args[1]) {
        Ok(Some(h)) => h,
        Ok(None) => return scan_reply(0, vec![]),
        Err(e) => return e,
    };
    let (pattern, count) = match scan_options(&args[3..]) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let (next, items) = h.scan(cursor, count);
    let mut out = Vec::with_capacity(items.len() * 2);
    for (f, v) in items {
        if pattern.as_ref().is_none_or(|p| glob_match(p, f, false)) {
            out.push(bulk(f));
            out.push(bulk(v));
        }
    }
    scan_reply(next, out)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::protocol::RespVersion;

    pub fn shard() -> Shard {
        let mut sh = Shard::new(0, 16, 7);
        sh.now_ms = 1_000_000;
        sh
    }

    pub fn args(parts: &[&str]) -> Vec<Bytes> {
        parts.iter().map(|p| Bytes::copy_from_slice(p.as_bytes())).collect()
    }

    pub fn call(sh: &mut Shard, f: fn(&mut Shard, usize, &[Bytes]) -> Reply, parts: &[&str]) -> Reply {
        f(sh, 0, &args(parts))
    }

    pub fn b(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    pub fn err(s: &str) -> Reply {
        Reply::Error(s.to_string().into())
    }

    pub fn wire(r: &Reply, v: RespVersion) -> String {
        let mut out = bytes::BytesMut::new();
        r.encode(v, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    pub fn encoding(sh: &Shard, key: &str) -> &'static str {
        sh.dbs[0].table.get(key.as_bytes()).map_or("none", |e| e.value.encoding())
    }

    fn sorted(r: Reply) -> Vec<Reply> {
        let mut v = match r {
            Reply::Array(v) | Reply::Set(v) => v,
            other => panic!("{other:?}"),
        };
        v.sort_by_key(|r| format!("{r:?}"));
        v
    }

    #[test]
    fn set_get_and_friends() {
        let mut sh = shard();
        assert_eq!(call(&mut sh, hset, &["hset", "h", "a", "1", "b", "2"]), Reply::Int(2));
        assert_eq!(call(&mut sh, hset, &["hset", "h", "a", "3", "c", "4"]), Reply::Int(1));
        assert_eq!(call(&mut sh, hset, &["hset", "h", "a"]), err("ERR wrong number of arguments for 'hset' command"));
        assert_eq!(
            call(&mut sh, hset, &["HMSET", "h", "a", "1", "b"]),
            err("ERR wrong number of arguments for 'hmset' command")
        );
        assert_eq!(call(&mut sh, hset, &["hmset", "h", "d", "5"]), Reply::Ok);
        assert_eq!(call(&mut sh, hget, &["hget", "h", "a"]), b("3"));
        assert_eq!(call(&mut sh, hget, &["hget", "h", "zz"]), Reply::Nil);
        assert_eq!(call(&mut sh, hget, &["hget", "nokey", "a"]), Reply::Nil);
        assert_eq!(
            call(&mut sh, hmget, &["hmget", "h", "a", "zz", "b"]),
            Reply::Array(vec![b("3"), Reply::Nil, b("2")])
        );
        assert_eq!(call(&mut sh, hmget, &["hmget", "nokey", "a"]), Reply::Array(vec![Reply::Nil]));
        assert_eq!(call(&mut sh, hlen, &["hlen", "h"]), Reply::Int(4));
        assert_eq!(call(&mut sh, hlen, &["hlen", "nokey"]), Reply::Int(0));
        assert_eq!(call(&mut sh, hexists, &["hexists", "h", "c"]), Reply::Int(1));
        assert_eq!(call(&mut sh, hexists, &["hexists", "h", "x"]), Reply::Int(0));
        assert_eq!(call(&mut sh, hstrlen, &["hstrlen", "h", "c"]), Reply::Int(1));
        assert_eq!(call(&mut sh, hstrlen, &["hstrlen", "h", "x"]), Reply::Int(0));
        assert_eq!(call(&mut sh, hsetnx, &["hsetnx", "h", "a", "9"]), Reply::Int(0));
        assert_eq!(call(&mut sh, hsetnx, &["hsetnx", "h", "e", "9"]), Reply::Int(1));
        assert_eq!(call(&mut sh, hkeys, &["hkeys", "h"]), Reply::Array(["a", "b", "c", "d", "e"].map(b).to_vec()));
        assert_eq!(call(&mut sh, hvals, &["hvals", "h"]), Reply::Array(["3", "2", "4", "5", "9"].map(b).to_vec()));
        let all = call(&mut sh, hgetall, &["hgetall", "h"]);
        assert!(wire(&all, RespVersion::Resp3).starts_with("%5\r\n$1\r\na\r\n$1\r\n3\r\n"));
        assert!(wire(&all, RespVersion::Resp2).starts_with("*10\r\n"));
        assert_eq!(call(&mut sh, hgetall, &["hgetall", "nokey"]), Reply::Map(vec![]));
        assert_eq!(encoding(&sh, "h"), "listpack");
        assert_eq!(sh.events.len(), 0, "no notifications configured");
    }

    #[test]
    fn wrongtype_everywhere() {
        let mut sh = shard();
        sh.dbs[0].set(Bytes::from_static(b"s"), Value::Str(crate::types::StrValue::from_bytes(b"x")), 0);
        let fns: &[(super::super::table::ShardFn, &[&str])] = &[
            (hset, &["hset", "s", "a", "1"]),
            (hsetnx, &["hsetnx", "s", "a", "1"]),
            (hget, &["hget", "s", "a"]),
            (hmget, &["hmget", "s", "a"]),
            (hgetall, &["hgetall", "s"]),
            (hkeys, &["hkeys", "s"]),
            (hvals, &["hvals", "s"]),
            (hlen, &["hlen", "s"]),
            (hexists, &["hexists", "s", "a"]),
            (hdel, &["hdel", "s", "a"]),
            (hstrlen, &["hstrlen", "s", "a"]),
            (hincrby, &["hincrby", "s", "a", "1"]),
            (hincrbyfloat, &["hincrbyfloat", "s", "a", "1"]),
            (hrandfield, &["hrandfield", "s"]),
            (hrandfield, &["hrandfield", "s", "2"]),
            (hscan, &["hscan", "s", "0"]),
        ];
        for (f, a) in fns {
            assert_eq!(call(&mut sh, *f, a), err(WRONGTYPE), "{a:?}");
        }
    }

    #[test]
    fn hdel_removes_the_key_and_notifies() {
        let mut sh = shard();
        sh.set_notify(crate::engine::notify::NotifyFlags::parse("KEA").unwrap());
        call(&mut sh, hset, &["hset", "h", "a", "1", "b", "2"]);
        assert_eq!(call(&mut sh, hdel, &["hdel", "h", "a", "zz"]), Reply::Int(1));
        assert_eq!(call(&mut sh, hdel, &["hdel", "h", "zz"]), Reply::Int(0));
        assert_eq!(call(&mut sh, hdel, &["hdel", "h", "b", "a"]), Reply::Int(1));
        assert!(sh.dbs[0].table.get(b"h".as_slice()).is_none());
        assert_eq!(call(&mut sh, hdel, &["hdel", "h", "b"]), Reply::Int(0));
        let ev: Vec<&str> = sh.events.iter().map(|e| e.event).collect();
        assert_eq!(ev, vec!["hset", "hdel", "hdel", "del"]);
    }

    #[test]
    fn counters() {
        let mut sh = shard();
        assert_eq!(call(&mut sh, hincrby, &["hincrby", "h", "n", "5"]), Reply::Int(5));
        assert_eq!(call(&mut sh, hincrby, &["hincrby", "h", "n", "-7"]), Reply::Int(-2));
        assert_eq!(call(&mut sh, hincrby, &["hincrby", "h", "n", "x"]), err(errors::NOT_INTEGER));
        call(&mut sh, hset, &["hset", "h", "s", "abc", "big", "9223372036854775807", "f", "1.5"]);
        assert_eq!(call(&mut sh, hincrby, &["hincrby", "h", "s", "1"]), err("ERR hash value is not an integer"));
        assert_eq!(call(&mut sh, hincrby, &["hincrby", "h", "big", "1"]), err(errors::OVERFLOW));
        assert_eq!(call(&mut sh, hincrbyfloat, &["hincrbyfloat", "h", "f", "0.1"]), b("1.6"));
        assert_eq!(call(&mut sh, hincrbyfloat, &["hincrbyfloat", "h", "n", "2.5"]), b("0.5"));
        assert_eq!(call(&mut sh, hincrbyfloat, &["hincrbyfloat", "h", "new", "10.5e2"]), b("1050"));
        assert_eq!(call(&mut sh, hincrbyfloat, &["hincrbyfloat", "h", "s", "1"]), err("ERR hash value is not a float"));
        assert_eq!(call(&mut sh, hincrbyfloat, &["hincrbyfloat", "h", "f", "x"]), err(errors::NOT_FLOAT));
        assert_eq!(
            call(&mut sh, hincrbyfloat, &["hincrbyfloat", "h", "f", "inf"]),
            err("ERR value is NaN or Infinity")
        );
        call(&mut sh, hset, &["hset", "h", "huge", "1.7e308"]);
        assert_eq!(call(&mut sh, hincrbyfloat, &["hincrbyfloat", "h", "huge", "1.7e308"]), err(errors::NAN_OR_INF));
        assert_eq!(call(&mut sh, hincrbyfloat, &["hincrbyfloat", "h2", "f", "x"]), err(errors::NOT_FLOAT));
        assert!(sh.dbs[0].table.get(b"h2".as_slice()).is_none());
    }

    #[test]
    fn encodings_follow_config() {
        let mut sh = shard();
        sh.config.hash_max_listpack_entries = 3;
        sh.config.hash_max_listpack_value = 5;
        call(&mut sh, hset, &["hset", "h", "a", "1", "b", "2", "c", "3"]);
        assert_eq!(encoding(&sh, "h"), "listpack");
        call(&mut sh, hset, &["hset", "h", "d", "4"]);
        assert_eq!(encoding(&sh, "h"), "hashtable");
        call(&mut sh, hset, &["hset", "v", "a", "123456"]);
        assert_eq!(encoding(&sh, "v"), "hashtable");
        call(&mut sh, hset, &["hset", "f", "123456", "1"]);
        assert_eq!(encoding(&sh, "f"), "hashtable");
        // Shrinking never converts back.
        call(&mut sh, hdel, &["hdel", "h", "a", "b"]);
        assert_eq!(encoding(&sh, "h"), "hashtable");
    }

    #[test]
    fn hrandfield_counts() {
        let mut sh = shard();
        assert_eq!(call(&mut sh, hrandfield, &["hrandfield", "h"]), Reply::Nil);
        assert_eq!(call(&mut sh, hrandfield, &["hrandfield", "h", "3"]), Reply::Array(vec![]));
        call(&mut sh, hset, &["hset", "h", "a", "1", "b", "2", "c", "3"]);
        for _ in 0..20 {
            let Reply::Bulk(f) = call(&mut sh, hrandfield, &["hrandfield", "h"]) else { panic!() };
            assert!([&b"a"[..], b"b", b"c"].contains(&&f[..]));
        }
        assert_eq!(sorted(call(&mut sh, hrandfield, &["hrandfield", "h", "10"])), ["a", "b", "c"].map(b).to_vec());
        let Reply::Array(two) = call(&mut sh, hrandfield, &["hrandfield", "h", "2"]) else { panic!() };
        assert!(two.len() == 2 && two[0] != two[1]);
        let Reply::Array(rep) = call(&mut sh, hrandfield, &["hrandfield", "h", "-20"]) else { panic!() };
        assert_eq!(rep.len(), 20);
        assert_eq!(call(&mut sh, hrandfield, &["hrandfield", "h", "0"]), Reply::Array(vec![]));
        let wv = call(&mut sh, hrandfield, &["hrandfield", "h", "-5", "WITHVALUES"]);
        let Reply::Pairs(pairs) = &wv else { panic!() };
        assert_eq!(pairs.len(), 5);
        for (f, v) in pairs {
            let (Reply::Bulk(f), Reply::Bulk(v)) = (f, v) else { panic!() };
            assert_eq!(v[0] - b'0', f[0] - b'a' + 1);
        }
        assert!(wire(&wv, RespVersion::Resp2).starts_with("*10\r\n$1\r\n"));
        assert!(wire(&wv, RespVersion::Resp3).starts_with("*5\r\n*2\r\n$1\r\n"));
        assert_eq!(call(&mut sh, hrandfield, &["hrandfield", "h", "1", "vals"]), err(errors::SYNTAX));
        assert_eq!(call(&mut sh, hrandfield, &["hrandfield", "h", "1", "withvalues", "x"]), err(errors::SYNTAX));
        assert_eq!(call(&mut sh, hrandfield, &["hrandfield", "h", "x"]), err(errors::NOT_INTEGER));
        assert_eq!(
            call(&mut sh, hrandfield, &["hrandfield", "h", "-9223372036854775807", "withvalues"]),
            err("ERR value is out of range")
        );
        assert_eq!(
            call(&mut sh, hrandfield, &["hrandfield", "h", "-9223372036854775808"]),
            err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        );
    }

    #[test]
    fn hscan_small_and_large() {
        let mut sh = shard();
        assert_eq!(call(&mut sh, hscan, &["hscan", "h", "0"]), scan_reply(0, vec![]));
        assert_eq!(call(&mut sh, hscan, &["hscan", "h", "x"]), err(errors::INVALID_CURSOR));
        call(&mut sh, hset, &["hset", "h", "a1", "1", "b1", "2"]);
        assert_eq!(call(&mut sh, hscan, &["hscan", "h", "0", "MATCH", "a*"]), scan_reply(0, vec![b("a1"), b("1")]));
        assert_eq!(call(&mut sh, hscan, &["hscan", "h", "0", "COUNT", "0"]), err(errors::SYNTAX));
        assert_eq!(call(&mut sh, hscan, &["hscan", "h", "0", "COUNT"]), err(errors::SYNTAX));
        assert_eq!(call(&mut sh, hscan, &["hscan", "h", "0", "COUNT", "x"]), err(errors::NOT_INTEGER));
        assert_eq!(call(&mut sh, hscan, &["hscan", "h", "0", "TYPE", "string"]), err(errors::SYNTAX));
        for i in 0..1000 {
            let (f, v) = (format!("f{i}"), i.to_string());
            call(&mut sh, hset, &["hset", "big", &f, &v]);
        }
        assert_eq!(encoding(&sh, "big"), "hashtable");
        let mut cursor = "0".to_string();
        let mut seen = std::collections::BTreeSet::new();
        loop {
            let Reply::Array(r) = call(&mut sh, hscan, &["hscan", "big", &cursor]) else { panic!() };
            let (Reply::Bulk(c), Reply::Array(items)) = (&r[0], &r[1]) else { panic!() };
            for pair in items.chunks(2) {
                let (Reply::Bulk(f), Reply::Bulk(v)) = (&pair[0], &pair[1]) else { panic!() };
                assert_eq!(&f[1..], &v[..]);
                seen.insert(f.clone());
            }
            cursor = String::from_utf8(c.to_vec()).unwrap();
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
    }
}
