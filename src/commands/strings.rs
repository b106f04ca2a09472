//! String commands (Redis's t_string.c): GET, SET and its variants, counters, ranges.

use super::errors;
use super::multikey::MultiKind;
use super::table::{spec, CommandSpec, KeySpec, Run};
use crate::engine::notify::class;
use crate::engine::{Mode, Shard};
use crate::protocol::Reply;
use crate::types::{StrValue, Value, WRONGTYPE};
use crate::util::{format_f64_human, parse_f64_strict, parse_i64_strict};
use bytes::Bytes;

const RW: &[&str] = &["write", "denyoom"];
const RO_FAST: &[&str] = &["readonly", "fast"];
const ACL_STR_W: &[&str] = &["@write", "@string", "@slow"];
const ACL_STR_R: &[&str] = &["@read", "@string", "@fast"];

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "string",
        "get",
        2,
        RO_FAST,
        KeySpec::ONE,
        ACL_STR_R,
        "Returns the string value of a key.",
        "1.0.0",
        Run::Shard(get, Mode::Read),
    ),
    spec(
        "string",
        "set",
        -3,
        RW,
        KeySpec::ONE,
        ACL_STR_W,
        "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
        "1.0.0",
        Run::Shard(set, Mode::Write),
    ),
    spec(
        "string",
        "mget",
        -2,
        RO_FAST,
        KeySpec::ALL,
        ACL_STR_R,
        "Atomically returns the string values of one or more keys.",
        "1.0.0",
        Run::Multi(MultiKind::Mget),
    ),
    spec(
        "string",
        "mset",
        -3,
        RW,
        KeySpec { first: 1, last: -1, step: 2 },
        ACL_STR_W,
        "Atomically creates or modifies the string values of one or more keys.",
        "1.0.1",
        Run::Multi(MultiKind::Mset),
    ),
    spec(
        "string",
        "msetnx",
        -3,
        RW,
        KeySpec { first: 1, last: -1, step: 2 },
        ACL_STR_W,
        "Atomically modifies the string values of one or more keys only when all keys don't exist.",
        "1.0.1",
        Run::Multi(MultiKind::Msetnx),
    ),
    spec(
        "string",
        "setnx",
        3,
        RW_FAST,
        KeySpec::ONE,
        ACL_STR_W_FAST,
        "Set the string value of a key only when the key doesn't exist.",
        "1.0.0",
        Run::Shard(setnx, Mode::Write),
    ),
    spec(
        "string",
        "setex",
        4,
        RW,
        KeySpec::ONE,
        ACL_STR_W,
        "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
        "2.0.0",
        Run::Shard(setex, Mode::Write),
    ),
    spec(
        "string",
        "psetex",
        4,
        RW,
        KeySpec::ONE,
        ACL_STR_W,
        "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
        "2.6.0",
        Run::Shard(psetex, Mode::Write),
    ),
    spec(
        "string",
        "getset",
        3,
        RW_FAST,
        KeySpec::ONE,
        ACL_STR_W_FAST,
        "Returns the previous string value of a key after setting it to a new value.",
        "1.0.0",
        Run::Shard(getset, Mode::Write),
    ),
    spec(
        "string",
        "getdel",
        2,
        W_FAST,
        KeySpec::ONE,
        ACL_STR_W_FAST,
        "Returns the string value of a key after deleting the key.",
        "6.2.0",
        Run::Shard(getdel, Mode::Write),
    ),
    spec(
        "string",
        "getex",
        -2,
        W_FAST,
        KeySpec::ONE,
        ACL_STR_W_FAST,
        "Returns the string value of a key after setting its expiration time.",
        "6.2.0",
        Run::Shard(getex, Mode::Write),
    ),
    spec(
        "string",
        "append",
        3,
        RW_FAST,
        KeySpec::ONE,
        ACL_STR_W_FAST,
        "Appends a string to the value of a key. Creates the key if it doesn't exist.",
        "2.0.0",
        Run::Shard(append, Mode::Write),
    ),
    spec(
        "string",
        "strlen",
        2,
        RO_FAST,
        KeySpec::ONE,
        ACL_STR_R,
        "Returns the length of a string value.",
        "2.2.0",
        Run::Shard(strlen, Mode::Read),
    ),
    spec(
        "string",
        "incr",
        2,
        RW_FAST,
        KeySpec::ONE,
        ACL_STR_W_FAST,
        "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        "1.0.0",
        Run::Shard(incr, Mode::Write),
    ),
    spec(
        "string",
        "decr",
        2,
        RW_FAST,
        KeySpec::ONE,
        ACL_STR_W_FAST,
        "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        "1.0.0",
        Run::Shard(decr, Mode::Write),
    ),
    spec(
        "string",
        "incrby",
        3,
        RW_FAST,
        KeySpec::ONE,
        ACL_STR_W_FAST,
        "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        "1.0.0",
        Run::Shard(incrby, Mode::Write),
    ),
    spec(
        "string",
        "decrby",
        3,
        RW_FAST,
        KeySpec::ONE,
        ACL_STR_W_FAST,
        "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
        "1.0.0",
        Run::Shard(decrby, Mode::Write),
    ),
    spec(
        "string",
        "incrbyfloat",
        3,
        RW_FAST,
        KeySpec::ONE,
        ACL_STR_W_FAST,
        "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        "2.6.0",
        Run::Shard(incrbyfloat, Mode::Write),
    ),
    spec(
        "string",
        "getrange",
        4,
        RO,
        KeySpec::ONE,
        ACL_STR_R_SLOW,
        "Returns a substring of the string stored at a key.",
        "2.4.0",
        Run::Shard(getrange, Mode::Read),
    ),
    spec(
        "string",
        "substr",
        4,
        RO,
        KeySpec::ONE,
        ACL_STR_R_SLOW,
        "Returns a substring from a string value.",
        "1.0.0",
        Run::Shard(getrange, Mode::Read),
    ),
    spec(
        "string",
        "setrange",
        4,
        RW,
        KeySpec::ONE,
        ACL_STR_W,
        "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
        "2.2.0",
        Run::Shard(setrange, Mode::Write),
    ),
    spec(
        "string",
        "lcs",
        -3,
        RO,
        KeySpec::TWO,
        ACL_STR_R_SLOW,
        "Finds the longest common substring.",
        "7.0.0",
        Run::Multi(MultiKind::Lcs),
    ),
];

const RW_FAST: &[&str] = &["write", "denyoom", "fast"];
const W_FAST: &[&str] = &["write", "fast"];
const RO: &[&str] = &["readonly"];
const ACL_STR_W_FAST: &[&str] = &["@write", "@string", "@fast"];
const ACL_STR_R_SLOW: &[&str] = &["@read", "@string", "@slow"];

/// The largest string SETRANGE and APPEND may build: the live `proto-max-bulk-len`.
fn max_string(sh: &Shard) -> u64 {
    sh.config.proto_max_bulk_len as u64
}

/// The reply for reading `key` as a string: nil when absent or (for MGET) of another type.
pub fn get_value(sh: &mut Shard, db: usize, key: &[u8]) -> Reply {
    match sh.lookup(db, key) {
        Some(e) => match &e.value {
            Value::Str(s) => Reply::Bulk(s.to_bytes()),
            #[allow(unreachable_patterns)]
            _ => Reply::Nil,
        },
        None => Reply::Nil,
    }
}

/// Reads `key` as a string: `Ok(None)` when absent, `Err` (WRONGTYPE) when of another type.
pub fn read_str(sh: &mut Shard, db: usize, key: &[u8]) -> Result<Option<StrValue>, Reply> {
    match sh.lookup(db, key) {
        Some(e) => match &e.value {
            Value::Str(s) => Ok(Some(s.clone())),
            #[allow(unreachable_patterns)]
            _ => Err(Reply::error(WRONGTYPE)),
        },
        None => Ok(None),
    }
}

/// MSET's work on one shard: every pair stored, TTLs cleared.
pub fn set_pairs(sh: &mut Shard, db: usize, pairs: &[(Bytes, Bytes)]) {
    for (k, v) in pairs {
        put_str(sh, db, k, StrValue::from_bytes(v), 0);
        sh.notify(db, class::STRING, "set", k);
    }
}

fn get(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match read_str(sh, db, &args[1]) {
        Ok(v) => Reply::opt_bulk(v.map(|s| s.to_bytes())),
        Err(e) => e,
    }
}

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms-ts | KEEPTTL]
///
/// As in Redis 7.0: NX and GET may be combined; repeating the same option is allowed (the last
/// expire value wins) but mixing two expire forms, or an expire with KEEPTTL, is a syntax error.
fn set(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    if args.len() == 3 {
        // The common form: no options, so nothing to read first.
        sh.dbs[db].upsert(&args[1], Value::Str(StrValue::from_bytes(&args[2])), 0);
        sh.notify(db, crate::engine::notify::class::STRING, "set", &args[1]);
        return Reply::Ok;
    }
    let mut nx = false;
    let mut xx = false;
    let mut want_get = false;
    let mut keepttl = false;
    let mut expire: Option<(&'static [u8], Bytes)> = None;
    let mut i = 3;
    while i < args.len() {
        let opt = args[i].to_ascii_uppercase();
        let unit = expire_unit(&opt);
        match opt.as_slice() {
            b"NX" if !xx => nx = true,
            b"XX" if !nx => xx = true,
            b"GET" => want_get = true,
            b"KEEPTTL" if expire.is_none() => keepttl = true,
            _ if unit.is_some()
                && !keepttl
                && expire.as_ref().is_none_or(|(u, _)| Some(*u) == unit)
                && i + 1 < args.len() =>
            {
                expire = Some((unit.unwrap_or(b"EX"), args[i + 1].clone()));
                i += 1;
            }
            _ => return Reply::error(errors::SYNTAX),
        }
        i += 1;
    }
    let now = sh.now_ms;
    let deadline = match &expire {
        None => 0,
        Some((unit, text)) => match expire_deadline(unit, text, now, "set") {
            Ok(d) => d,
            Err(e) => return e,
        },
    };
    let old = match read_str_for_write(sh, db, &args[1]) {
        Ok(v) => v,
        Err(e) if want_get => return e,
        Err(_) => None,
    };
    let exists = sh.dbs[db].table.get(&args[1]).is_some();
    let get_reply = || if want_get { Reply::opt_bulk(old.as_ref().map(|(s, _)| s.to_bytes())) } else { Reply::Nil };
    if (nx && exists) || (xx && !exists) {
        return get_reply();
    }
    let deadline = if keepttl { sh.dbs[db].table.get(&args[1]).map_or(0, |e| e.expire_at()) } else { deadline };
    let reply = if want_get { get_reply() } else { Reply::Ok };
    put_str(sh, db, &args[1], StrValue::from_bytes(&args[2]), deadline);
    sh.notify(db, class::STRING, "set", &args[1]);
    if expire.is_some() {
        sh.notify(db, class::GENERIC, "expire", &args[1]);
    }
    reply
}

/// The canonical name of an expire option (EX, PX, EXAT, PXAT), given in upper case.
fn expire_unit(opt: &[u8]) -> Option<&'static [u8]> {
    match opt {
        b"EX" => Some(b"EX"),
        b"PX" => Some(b"PX"),
        b"EXAT" => Some(b"EXAT"),
        b"PXAT" => Some(b"PXAT"),
        _ => None,
    }
}

/// Stores a string under `key` with the given deadline (0: none).
fn put_str(sh: &mut Shard, db: usize, key: &[u8], v: StrValue, expire_at: u64) {
    sh.dbs[db].set(Bytes::copy_from_slice(key), Value::Str(v), expire_at);
}

/// Replaces the value of a present key in place, keeping its TTL; stores it without one otherwise.
fn replace_str(sh: &mut Shard, db: usize, key: &[u8], v: StrValue) {
    match sh.dbs[db].table.get_mut(key) {
        Some(e) => e.value = Value::Str(v),
        None => put_str(sh, db, key, v, 0),
    }
}

fn setnx(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    if sh.lookup_write(db, &args[1]).is_some() {
        return Reply::Int(0);
    }
    put_str(sh, db, &args[1], StrValue::from_bytes(&args[2]), 0);
    sh.notify(db, class::STRING, "set", &args[1]);
    Reply::Int(1)
}

fn setex_generic(sh: &mut Shard, db: usize, args: &[Bytes], unit: &[u8], cmd: &str) -> Reply {
    let deadline = match expire_deadline(unit, &args[2], sh.now_ms, cmd) {
        Ok(d) => d,
        Err(e) => return e,
    };
    put_str(sh, db, &args[1], StrValue::from_bytes(&args[3]), deadline);
    sh.notify(db, class::STRING, "set", &args[1]);
    sh.notify(db, class::GENERIC, "expire", &args[1]);
    Reply::Ok
}

fn setex(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    setex_generic(sh, db, args, b"EX", "setex")
}

fn psetex(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    setex_generic(sh, db, args, b"PX", "psetex")
}

fn getset(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let old = match read_str_for_write(sh, db, &args[1]) {
        Ok(v) => v,
        Err(e) => return e,
    };
    put_str(sh, db, &args[1], StrValue::from_bytes(&args[2]), 0);
    sh.notify(db, class::STRING, "set", &args[1]);
    Reply::opt_bulk(old.map(|(s, _)| s.to_bytes()))
}

fn getdel(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match read_str(sh, db, &args[1]) {
        Ok(Some(v)) => {
            sh.dbs[db].remove(&args[1]);
            sh.notify(db, class::GENERIC, "del", &args[1]);
            Reply::bulk(v.to_bytes())
        }
        Ok(None) => Reply::Nil,
        Err(e) => e,
    }
}

/// GETEX key [EX s | PX ms | EXAT ts | PXAT ms-ts | PERSIST]
fn getex(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let mut persist = false;
    let mut expire: Option<(&'static [u8], Bytes)> = None;
    let mut i = 2;
    while i < args.len() {
        let opt = args[i].to_ascii_uppercase();
        let unit = expire_unit(&opt);
        match opt.as_slice() {
            b"PERSIST" if expire.is_none() => persist = true,
            _ if unit.is_some()
                && !persist
                && expire.as_ref().is_none_or(|(u, _)| Some(*u) == unit)
                && i + 1 < args.len() =>
            {
                expire = Some((unit.unwrap_or(b"EX"), args[i + 1].clone()));
                i += 1;
            }
            _ => return Reply::error(errors::SYNTAX),
        }
        i += 1;
    }
    let now = sh.now_ms;
    let deadline = match &expire {
        None => None,
        Some((unit, text)) => match expire_deadline(unit, text, now, "getex") {
            Ok(d) => Some(d),
            Err(e) => return e,
        },
    };
    let v = match read_str(sh, db, &args[1]) {
        Ok(Some(v)) => v,
        Ok(None) => return Reply::Nil,
        Err(e) => return e,
    };
    match deadline {
        Some(d) if d <= now => {
            sh.dbs[db].remove(&args[1]);
            sh.notify(db, class::GENERIC, "del", &args[1]);
        }
        Some(d) => {
            sh.dbs[db].set_expire(&args[1], d);
            sh.notify(db, class::GENERIC, "expire", &args[1]);
        }
        None if persist && sh.dbs[db].table.get(&args[1]).is_some_and(|e| e.expire_at() != 0) => {
            sh.dbs[db].set_expire(&args[1], 0);
            sh.notify(db, class::GENERIC, "persist", &args[1]);
        }
        None => {}
    }
    Reply::bulk(v.to_bytes())
}

fn append(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let old = match read_str_for_write(sh, db, &args[1]) {
        Ok(v) => v,
        Err(e) => return e,
    };
    match old {
        None => {
            put_str(sh, db, &args[1], StrValue::from_bytes(&args[2]), 0);
            sh.notify(db, class::STRING, "append", &args[1]);
            Reply::Int(args[2].len() as i64)
        }
        Some((s, _)) => {
            let total = s.len() as u64 + args[2].len() as u64;
            if total > max_string(sh) {
                return Reply::error(errors::OOM_STRING);
            }
            let mut buf = Vec::with_capacity(total as usize);
            buf.extend_from_slice(&s.to_bytes());
            buf.extend_from_slice(&args[2]);
            // Like Redis, an appended-to string is raw bytes, never the integer encoding.
            replace_str(sh, db, &args[1], StrValue::from_vec(buf));
            sh.notify(db, class::STRING, "append", &args[1]);
            Reply::Int(total as i64)
        }
    }
}

fn strlen(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match read_str(sh, db, &args[1]) {
        Ok(v) => Reply::Int(v.map_or(0, |s| s.len() as i64)),
        Err(e) => e,
    }
}

/// INCR and friends: adds `delta` to the integer at `key` (0 when absent), keeping its TTL.
pub fn incr_by(sh: &mut Shard, db: usize, key: &[u8], delta: i64) -> Reply {
    let cur = match read_str_for_write(sh, db, key) {
        Ok(None) => 0,
        Ok(Some((s, _))) => match s.as_int() {
            Some(n) => n,
            None => return Reply::error(errors::NOT_INTEGER),
        },
        Err(e) => return e,
    };
    let Some(n) = cur.checked_add(delta) else { return Reply::error(errors::OVERFLOW) };
    replace_str(sh, db, key, StrValue::Int(n));
    sh.notify(db, class::STRING, "incrby", key);
    Reply::Int(n)
}

fn incr(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    incr_by(sh, db, &args[1], 1)
}

fn decr(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    incr_by(sh, db, &args[1], -1)
}

fn incrby(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match parse_i64_strict(&args[2]) {
        Some(d) => incr_by(sh, db, &args[1], d),
        None => Reply::error(errors::NOT_INTEGER),
    }
}

fn decrby(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match parse_i64_strict(&args[2]) {
        Some(i64::MIN) => Reply::error(errors::DECR_OVERFLOW),
        Some(d) => incr_by(sh, db, &args[1], -d),
        None => Reply::error(errors::NOT_INTEGER),
    }
}

fn incrbyfloat(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let cur = match read_str_for_write(sh, db, &args[1]) {
        Ok(None) => 0.0,
        Ok(Some((s, _))) => match parse_f64_strict(&s.to_bytes()) {
            Some(v) => v,
            None => return Reply::error(errors::NOT_FLOAT),
        },
        Err(e) => return e,
    };
    let Some(incr) = parse_f64_strict(&args[2]) else { return Reply::error(errors::NOT_FLOAT) };
    let v = crate::util::add_floats(cur, incr);
    if !v.is_finite() {
        return Reply::error(errors::NAN_OR_INF);
    }
    let text = Bytes::from(incrbyfloat_text(v));
    // Redis stores the result as a plain string (embstr), not as an integer.
    replace_str(sh, db, &args[1], StrValue::text(&text));
    sh.notify(db, class::STRING, "incrbyfloat", &args[1]);
    Reply::Bulk(text)
}

/// INCRBYFLOAT's text for a result. Redis adds in `long double` and prints 17 significant
/// digits, which hides binary noise such as 0.1 + 0.2 = 0.30000000000000004; rounding a
/// fractional f64 to 15 significant digits gives the same text in the usual cases.
pub(super) fn incrbyfloat_text(v: f64) -> String {
    let v = if v != v.trunc() { format!("{v:.14e}").parse().unwrap_or(v) } else { v };
    format_f64_human(v)
}

/// GETRANGE key start end (and SUBSTR): inclusive, negative offsets count from the end.
fn getrange(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let (Some(mut start), Some(mut end)) = (parse_i64_strict(&args[2]), parse_i64_strict(&args[3])) else {
        return Reply::error(errors::NOT_INTEGER);
    };
    let s = match read_str(sh, db, &args[1]) {
        Ok(Some(s)) => s.to_bytes(),
        Ok(None) => return Reply::Bulk(Bytes::new()),
        Err(e) => return e,
    };
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Reply::Bulk(Bytes::new());
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0).min(len - 1);
    if len == 0 || start > end {
        return Reply::Bulk(Bytes::new());
    }
    Reply::Bulk(s.slice(start as usize..=end as usize))
}

/// SETRANGE key offset value: overwrites from `offset`, padding with zero bytes.
fn setrange(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let Some(offset) = parse_i64_strict(&args[2]) else { return Reply::error(errors::NOT_INTEGER) };
    if offset < 0 {
        return Reply::error(errors::OFFSET_RANGE);
    }
    let value = &args[3];
    let old = match read_str_for_write(sh, db, &args[1]) {
        Ok(v) => v.map(|(s, _)| s.to_bytes()),
        Err(e) => return e,
    };
    if value.is_empty() {
        return Reply::Int(old.map_or(0, |s| s.len() as i64));
    }
    let end = offset as u64 + value.len() as u64;
    if end > max_string(sh) {
        return Reply::error(errors::OOM_STRING);
    }
    let old = old.unwrap_or_default();
    let mut buf = old.to_vec();
    if buf.len() < end as usize {
        buf.resize(end as usize, 0);
    }
    buf[offset as usize..end as usize].copy_from_slice(value);
    let len = buf.len() as i64;
    replace_str(sh, db, &args[1], StrValue::from_vec(buf));
    sh.notify(db, class::STRING, "setrange", &args[1]);
    Reply::Int(len)
}

/// A key's current string value and deadline, for commands that replace it.
fn read_str_for_write(sh: &mut Shard, db: usize, key: &[u8]) -> Result<Option<(StrValue, u64)>, Reply> {
    match sh.lookup_write(db, key) {
        Some(e) => match &e.value {
            Value::Str(s) => Ok(Some((s.clone(), e.expire_at()))),
            #[allow(unreachable_patterns)]
            _ => Err(Reply::error(WRONGTYPE)),
        },
        None => Ok(None),
    }
}

/// Turns an EX/PX/EXAT/PXAT argument into an absolute deadline in ms, with Redis's checks:
/// not an integer → not-integer error; zero, negative or overflowing → invalid expire time.
pub fn expire_deadline(unit: &[u8], text: &[u8], now: u64, cmd: &str) -> Result<u64, Reply> {
    let n = parse_i64_strict(text).ok_or_else(|| Reply::error(errors::NOT_INTEGER))?;
    if n <= 0 {
        return Err(Reply::error(errors::invalid_expire(cmd)));
    }
    let ms = match unit {
        b"EX" | b"EXAT" => n.checked_mul(1000).ok_or_else(|| Reply::error(errors::invalid_expire(cmd)))?,
        _ => n,
    };
    let deadline = match unit {
        b"EX" | b"PX" => ms.checked_add(now as i64).ok_or_else(|| Reply::error(errors::invalid_expire(cmd)))?,
        _ => ms,
    };
    Ok(deadline.max(1) as u64)
}

/// LCS's value for one key: the string, empty when absent, an error for another type.
pub fn lcs_value(sh: &mut Shard, db: usize, key: &[u8]) -> Result<Bytes, Reply> {
    match read_str(sh, db, key) {
        Ok(v) => Ok(v.map_or_else(Bytes::new, |s| s.to_bytes())),
        Err(_) => Err(Reply::error(errors::LCS_WRONGTYPE)),
    }
}

/// LCS's reply once both values are known: `args` are the whole request (for the options).
pub fn lcs_reply(a: &[u8], b: &[u8], args: &[Bytes]) -> Reply {
    let (mut want_len, mut want_idx, mut with_len) = (false, false, false);
    let mut min_len: usize = 0;
    let mut i = 3;
    while i < args.len() {
        match args[i].to_ascii_uppercase().as_slice() {
            b"IDX" => want_idx = true,
            b"LEN" => want_len = true,
            b"WITHMATCHLEN" => with_len = true,
            b"MINMATCHLEN" if i + 1 < args.len() => {
                let Some(n) = parse_i64_strict(&args[i + 1]) else { return Reply::error(errors::NOT_INTEGER) };
                min_len = n.max(0) as usize;
                i += 1;
            }
            _ => return Reply::error(errors::SYNTAX),
        }
        i += 1;
    }
    if want_idx && want_len {
        return Reply::error(errors::LCS_IDX_AND_LEN);
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1).saturating_mul(blen as u64 + 1);
    // The DP table must fit the same bound as a string (LCS runs outside any shard).
    if cells.saturating_mul(4) > 512 * 1024 * 1024 {
        return Reply::error(errors::LCS_TOO_BIG);
    }
    // dp[i][j]: length of the LCS of a[..i] and b[..j].
    let w = blen + 1;
    let mut dp = vec![0u32; (alen + 1) * w];
    for i in 1..=alen {
        for j in 1..=blen {
            dp[i * w + j] = if a[i - 1] == b[j - 1] {
                dp[(i - 1) * w + j - 1] + 1
            } else {
                dp[(i - 1) * w + j].max(dp[i * w + j - 1])
            };
        }
    }
    let total = dp[alen * w + blen] as usize;
    if want_len {
        return Reply::Int(total as i64);
    }
    // Walk back from the end, building the common string and the ranges of contiguous matches
    // (reported from the last to the first, as Redis does).
    let mut common = vec![0u8; total];
    let mut matches = Vec::new();
    let (mut i, mut j, mut k) = (alen, blen, total);
    let mut open: Option<(usize, usize, usize, usize)> = None; // (a_start, a_end, b_start, b_end)
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            common[k - 1] = a[i - 1];
            open = match open {
                None => Some((i - 1, i - 1, j - 1, j - 1)),
                Some((s, e, bs, be)) if s == i && bs == j => Some((s - 1, e, bs - 1, be)),
                Some(r) => {
                    emit = true;
                    Some(r)
                }
            };
            if let Some((s, _, bs, _)) = open {
                if s == 0 || bs == 0 {
                    emit = true;
                }
            }
            k -= 1;
            i -= 1;
            j -= 1;
        } else {
            if dp[(i - 1) * w + j] > dp[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = open.is_some();
        }
        if emit {
            if let Some((s, e, bs, be)) = open.take() {
                let len = e - s + 1;
                if want_idx && (min_len == 0 || len >= min_len) {
                    let mut m = vec![
                        Reply::Array(vec![Reply::Int(s as i64), Reply::Int(e as i64)]),
                        Reply::Array(vec![Reply::Int(bs as i64), Reply::Int(be as i64)]),
                    ];
                    if with_len {
                        m.push(Reply::Int(len as i64));
                    }
                    matches.push(Reply::Array(m));
                }
            }
        }
    }
    if want_idx {
        Reply::Map(vec![
            (Reply::bulk_str("matches"), Reply::Array(matches)),
            (Reply::bulk_str("len"), Reply::Int(total as i64)),
        ])
    } else {
        Reply::Bulk(Bytes::from(common))
    }
}

/// MSETNX's check on one shard: whether any of `keys` exists.
pub fn any_exists(sh: &mut Shard, db: usize, keys: &[Bytes]) -> bool {
    keys.iter().any(|k| sh.lookup_write(db, k).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const NOW: u64 = 1_700_000_000_000;

    fn shard() -> Shard {
        let mut sh = Shard::new(0, 16, 7);
        sh.now_ms = NOW;
        sh
    }

    fn args(parts: &[&str]) -> Vec<Bytes> {
        parts.iter().map(|p| Bytes::copy_from_slice(p.as_bytes())).collect()
    }

    fn call(sh: &mut Shard, f: fn(&mut Shard, usize, &[Bytes]) -> Reply, parts: &[&str]) -> Reply {
        f(sh, 0, &args(parts))
    }

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn err(s: &str) -> Reply {
        Reply::error(s.to_string())
    }

    fn expire_at(sh: &Shard, key: &str) -> u64 {
        sh.dbs[0].table.get(key.as_bytes()).map_or(u64::MAX, |e| e.expire_at())
    }

    #[test]
    fn set_options() {
        let mut sh = shard();
        assert_eq!(call(&mut sh, set, &["set", "k", "v", "NX"]), Reply::Ok);
        assert_eq!(call(&mut sh, set, &["set", "k", "w", "NX"]), Reply::Nil);
        assert_eq!(call(&mut sh, set, &["set", "k", "w", "nx", "get"]), bulk("v"));
        assert_eq!(call(&mut sh, set, &["set", "k2", "w", "NX", "GET"]), Reply::Nil);
        assert_eq!(call(&mut sh, get, &["get", "k2"]), bulk("w"));
        assert_eq!(call(&mut sh, set, &["set", "nope", "w", "XX"]), Reply::Nil);
        assert_eq!(call(&mut sh, set, &["set", "k", "x", "XX", "GET"]), bulk("v"));
        for bad in [
            &["set", "k", "v", "NX", "XX"][..],
            &["set", "k", "v", "EX", "10", "PX", "100"],
            &["set", "k", "v", "EX", "10", "KEEPTTL"],
            &["set", "k", "v", "KEEPTTL", "EX", "10"],
            &["set", "k", "v", "EX"],
            &["set", "k", "v", "PERSIST"],
            &["set", "k", "v", "foo"],
        ] {
            assert_eq!(call(&mut sh, set, bad), err(errors::SYNTAX), "{bad:?}");
        }
        assert_eq!(call(&mut sh, set, &["set", "k", "v", "EX", "0"]), err("ERR invalid expire time in 'set' command"));
        assert_eq!(call(&mut sh, set, &["set", "k", "v", "PX", "-1"]), err("ERR invalid expire time in 'set' command"));
        assert_eq!(
            call(&mut sh, set, &["set", "k", "v", "EX", "9223372036854775807"]),
            err("ERR invalid expire time in 'set' command")
        );
        assert_eq!(call(&mut sh, set, &["set", "k", "v", "EX", "x"]), err(errors::NOT_INTEGER));
        // The same option twice is accepted; the last value wins.
        assert_eq!(call(&mut sh, set, &["set", "k", "v", "EX", "10", "ex", "20"]), Reply::Ok);
        assert_eq!(expire_at(&sh, "k"), NOW + 20_000);
        assert_eq!(call(&mut sh, set, &["set", "k", "v2", "KEEPTTL"]), Reply::Ok);
        assert_eq!(expire_at(&sh, "k"), NOW + 20_000);
        assert_eq!(call(&mut sh, set, &["set", "k", "v3"]), Reply::Ok);
        assert_eq!(expire_at(&sh, "k"), 0);
        assert_eq!(call(&mut sh, set, &["set", "k", "v", "PXAT", &(NOW + 5).to_string()]), Reply::Ok);
        assert_eq!(expire_at(&sh, "k"), NOW + 5);
        assert_eq!(call(&mut sh, set, &["set", "k", "v", "EXAT", "1"]), Reply::Ok);
        assert_eq!(call(&mut sh, get, &["get", "k"]), Reply::Nil);
    }

    #[test]
    fn setnx_setex_getset_getdel() {
        let mut sh = shard();
        assert_eq!(call(&mut sh, setnx, &["setnx", "a", "1"]), Reply::Int(1));
        assert_eq!(call(&mut sh, setnx, &["setnx", "a", "2"]), Reply::Int(0));
        assert_eq!(call(&mut sh, setex, &["setex", "b", "10", "x"]), Reply::Ok);
        assert_eq!(expire_at(&sh, "b"), NOW + 10_000);
        assert_eq!(call(&mut sh, setex, &["setex", "b", "0", "x"]), err("ERR invalid expire time in 'setex' command"));
        assert_eq!(
            call(&mut sh, psetex, &["psetex", "b", "-5", "x"]),
            err("ERR invalid expire time in 'psetex' command")
        );
        assert_eq!(call(&mut sh, psetex, &["psetex", "b", "1.5", "x"]), err(errors::NOT_INTEGER));
        assert_eq!(call(&mut sh, psetex, &["psetex", "c", "1500", "y"]), Reply::Ok);
        assert_eq!(expire_at(&sh, "c"), NOW + 1500);
        assert_eq!(call(&mut sh, getset, &["getset", "c", "z"]), bulk("y"));
        assert_eq!(expire_at(&sh, "c"), 0);
        assert_eq!(call(&mut sh, getset, &["getset", "new", "z"]), Reply::Nil);
        assert_eq!(call(&mut sh, getdel, &["getdel", "c"]), bulk("z"));
        assert_eq!(call(&mut sh, getdel, &["getdel", "c"]), Reply::Nil);
    }

    #[test]
    fn getex_options() {
        let mut sh = shard();
        call(&mut sh, set, &["set", "k", "v"]);
        assert_eq!(call(&mut sh, getex, &["getex", "missing", "EX", "10"]), Reply::Nil);
        assert_eq!(call(&mut sh, getex, &["getex", "k", "EX", "10"]), bulk("v"));
        assert_eq!(expire_at(&sh, "k"), NOW + 10_000);
        assert_eq!(call(&mut sh, getex, &["getex", "k"]), bulk("v"));
        assert_eq!(expire_at(&sh, "k"), NOW + 10_000);
        assert_eq!(call(&mut sh, getex, &["getex", "k", "PERSIST"]), bulk("v"));
        assert_eq!(expire_at(&sh, "k"), 0);
        assert_eq!(call(&mut sh, getex, &["getex", "k", "PXAT", &(NOW + 7).to_string()]), bulk("v"));
        assert_eq!(expire_at(&sh, "k"), NOW + 7);
        assert_eq!(call(&mut sh, getex, &["getex", "k", "EX", "1", "PERSIST"]), err(errors::SYNTAX));
        assert_eq!(call(&mut sh, getex, &["getex", "k", "EX", "1", "PX", "1"]), err(errors::SYNTAX));
        assert_eq!(call(&mut sh, getex, &["getex", "k", "KEEPTTL"]), err(errors::SYNTAX));
        assert_eq!(call(&mut sh, getex, &["getex", "k", "EX", "0"]), err("ERR invalid expire time in 'getex' command"));
        // A deadline already past deletes the key but still returns the value.
        assert_eq!(call(&mut sh, getex, &["getex", "k", "EXAT", "1"]), bulk("v"));
        assert_eq!(call(&mut sh, get, &["get", "k"]), Reply::Nil);
    }

    #[test]
    fn counters() {
        let mut sh = shard();
        assert_eq!(call(&mut sh, incr, &["incr", "n"]), Reply::Int(1));
        assert_eq!(call(&mut sh, incrby, &["incrby", "n", "41"]), Reply::Int(42));
        assert_eq!(call(&mut sh, decr, &["decr", "n"]), Reply::Int(41));
        assert_eq!(call(&mut sh, decrby, &["decrby", "n", "-1"]), Reply::Int(42));
        assert_eq!(call(&mut sh, decrby, &["decrby", "n", "-9223372036854775808"]), err(errors::DECR_OVERFLOW));
        assert_eq!(call(&mut sh, incrby, &["incrby", "n", "1x"]), err(errors::NOT_INTEGER));
        call(&mut sh, set, &["set", "max", "9223372036854775807", "EX", "100"]);
        assert_eq!(call(&mut sh, incr, &["incr", "max"]), err(errors::OVERFLOW));
        assert_eq!(call(&mut sh, decr, &["decr", "max"]), Reply::Int(i64::MAX - 1));
        assert_eq!(expire_at(&sh, "max"), NOW + 100_000, "INCR keeps the TTL");
        call(&mut sh, set, &["set", "min", "-9223372036854775808"]);
        assert_eq!(call(&mut sh, decr, &["decr", "min"]), err(errors::OVERFLOW));
        for bad in ["abc", " 1", "1 ", "01", "1.0", ""] {
            call(&mut sh, set, &["set", "s", bad]);
            assert_eq!(call(&mut sh, incr, &["incr", "s"]), err(errors::NOT_INTEGER), "{bad:?}");
        }
    }

    #[test]
    fn incrbyfloat_formatting() {
        let mut sh = shard();
        assert_eq!(call(&mut sh, incrbyfloat, &["incrbyfloat", "f", "10.5"]), bulk("10.5"));
        assert_eq!(call(&mut sh, incrbyfloat, &["incrbyfloat", "f", "0.1"]), bulk("10.6"));
        assert_eq!(call(&mut sh, incrbyfloat, &["incrbyfloat", "f", "-5.6"]), bulk("5"));
        assert_eq!(call(&mut sh, incrbyfloat, &["incrbyfloat", "f", "5.0e3"]), bulk("5005"));
        assert_eq!(call(&mut sh, incrbyfloat, &["incrbyfloat", "f", "x"]), err(errors::NOT_FLOAT));
        // The examples of Redis's INCRBYFLOAT page.
        call(&mut sh, set, &["set", "mykey", "10.50"]);
        assert_eq!(call(&mut sh, incrbyfloat, &["incrbyfloat", "mykey", "0.1"]), bulk("10.6"));
        assert_eq!(call(&mut sh, incrbyfloat, &["incrbyfloat", "mykey", "-5"]), bulk("5.6"));
        call(&mut sh, set, &["set", "mykey", "5.0e3"]);
        assert_eq!(call(&mut sh, incrbyfloat, &["incrbyfloat", "mykey", "2.0e2"]), bulk("5200"));
        assert_eq!(sh.dbs[0].table.get(b"mykey".as_slice()).map(|e| e.value.encoding()), Some("embstr"));
        call(&mut sh, set, &["set", "p", "0.1"]);
        assert_eq!(call(&mut sh, incrbyfloat, &["incrbyfloat", "p", "0.2"]), bulk("0.3"));
        assert_eq!(call(&mut sh, incrbyfloat, &["incrbyfloat", "p", "-0.3"]), bulk("0"));
        assert_eq!(call(&mut sh, incrbyfloat, &["incrbyfloat", "f", "inf"]), err(errors::NAN_OR_INF));
        call(&mut sh, set, &["set", "s", "hello", "PX", "100"]);
        assert_eq!(call(&mut sh, incrbyfloat, &["incrbyfloat", "s", "1"]), err(errors::NOT_FLOAT));
        call(&mut sh, set, &["set", "t", "3", "PX", "100"]);
        assert_eq!(call(&mut sh, incrbyfloat, &["incrbyfloat", "t", "1.5"]), bulk("4.5"));
        assert_eq!(expire_at(&sh, "t"), NOW + 100);
    }

    #[test]
    fn append_strlen_ranges() {
        let mut sh = shard();
        assert_eq!(call(&mut sh, append, &["append", "s", "Hello"]), Reply::Int(5));
        assert_eq!(call(&mut sh, append, &["append", "s", " World"]), Reply::Int(11));
        assert_eq!(call(&mut sh, strlen, &["strlen", "s"]), Reply::Int(11));
        assert_eq!(call(&mut sh, strlen, &["strlen", "nope"]), Reply::Int(0));
        let gr = |sh: &mut Shard, a: &str, b: &str| call(sh, getrange, &["getrange", "s", a, b]);
        assert_eq!(gr(&mut sh, "0", "3"), bulk("Hell"));
        assert_eq!(gr(&mut sh, "-3", "-1"), bulk("rld"));
        assert_eq!(gr(&mut sh, "0", "-1"), bulk("Hello World"));
        assert_eq!(gr(&mut sh, "10", "100"), bulk("d"));
        assert_eq!(gr(&mut sh, "5", "3"), bulk(""));
        assert_eq!(gr(&mut sh, "-1", "-5"), bulk(""));
        assert_eq!(gr(&mut sh, "-100", "2"), bulk("Hel"));
        assert_eq!(gr(&mut sh, "20", "30"), bulk(""));
        assert_eq!(gr(&mut sh, "a", "1"), err(errors::NOT_INTEGER));
        assert_eq!(call(&mut sh, getrange, &["getrange", "nope", "0", "-1"]), bulk(""));
        call(&mut sh, set, &["set", "i", "12345"]);
        assert_eq!(call(&mut sh, getrange, &["substr", "i", "1", "2"]), bulk("23"));

        assert_eq!(call(&mut sh, setrange, &["setrange", "s", "6", "Redis"]), Reply::Int(11));
        assert_eq!(call(&mut sh, get, &["get", "s"]), bulk("Hello Redis"));
        assert_eq!(call(&mut sh, setrange, &["setrange", "z", "3", "ab"]), Reply::Int(5));
        assert_eq!(call(&mut sh, get, &["get", "z"]), Reply::Bulk(Bytes::from_static(b"\0\0\0ab")));
        assert_eq!(call(&mut sh, setrange, &["setrange", "empty", "10", ""]), Reply::Int(0));
        assert_eq!(call(&mut sh, get, &["get", "empty"]), Reply::Nil);
        assert_eq!(call(&mut sh, setrange, &["setrange", "s", "100", ""]), Reply::Int(11));
        assert_eq!(call(&mut sh, setrange, &["setrange", "s", "-1", "x"]), err(errors::OFFSET_RANGE));
        assert_eq!(call(&mut sh, setrange, &["setrange", "s", "536870912", "x"]), err(errors::OOM_STRING));
        assert_eq!(call(&mut sh, setrange, &["setrange", "q", "536870912", ""]), Reply::Int(0));
        assert_eq!(call(&mut sh, setrange, &["setrange", "q", "536870912", "x"]), err(errors::OOM_STRING));
        call(&mut sh, set, &["set", "i", "12345", "EX", "5"]);
        assert_eq!(call(&mut sh, setrange, &["setrange", "i", "1", "x"]), Reply::Int(5));
        assert_eq!(call(&mut sh, get, &["get", "i"]), bulk("1x345"));
        assert_eq!(expire_at(&sh, "i"), NOW + 5000, "SETRANGE keeps the TTL");
    }

    fn lcs(a: &str, b: &str, opts: &[&str]) -> Reply {
        let mut parts = vec!["lcs", "a", "b"];
        parts.extend_from_slice(opts);
        lcs_reply(a.as_bytes(), b.as_bytes(), &args(&parts))
    }

    fn range(a: i64, b: i64) -> Reply {
        Reply::Array(vec![Reply::Int(a), Reply::Int(b)])
    }

    #[test]
    fn lcs_examples_from_the_docs() {
        assert_eq!(lcs("ohmytext", "mynewtext", &[]), bulk("mytext"));
        assert_eq!(lcs("ohmytext", "mynewtext", &["LEN"]), Reply::Int(6));
        let idx = lcs("ohmytext", "mynewtext", &["IDX"]);
        assert_eq!(
            idx,
            Reply::Map(vec![
                (
                    bulk("matches"),
                    Reply::Array(vec![
                        Reply::Array(vec![range(4, 7), range(5, 8)]),
                        Reply::Array(vec![range(2, 3), range(0, 1)]),
                    ])
                ),
                (bulk("len"), Reply::Int(6)),
            ])
        );
        let min = lcs("ohmytext", "mynewtext", &["IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"]);
        assert_eq!(
            min,
            Reply::Map(vec![
                (bulk("matches"), Reply::Array(vec![Reply::Array(vec![range(4, 7), range(5, 8), Reply::Int(4)])])),
                (bulk("len"), Reply::Int(6)),
            ])
        );
        assert_eq!(lcs("", "abc", &[]), bulk(""));
        assert_eq!(lcs("abc", "abc", &["LEN", "IDX"]), err(errors::LCS_IDX_AND_LEN));
        assert_eq!(lcs("abc", "abc", &["MINMATCHLEN"]), err(errors::SYNTAX));
        assert_eq!(lcs("abc", "abc", &["MINMATCHLEN", "x"]), err(errors::NOT_INTEGER));
        assert_eq!(lcs("abc", "abc", &["IDX", "MINMATCHLEN", "-3"]).clone(), lcs("abc", "abc", &["IDX"]));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(u8, u16),
        SetNx(u8, u16),
        Append(u8, u16),
        Incr(u8, i16),
        Del(u8),
        GetDel(u8),
        SetRange(u8, u8, u16),
        Get(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..8, any::<u16>()).prop_map(|(k, v)| Op::Set(k, v)),
            (0u8..8, any::<u16>()).prop_map(|(k, v)| Op::SetNx(k, v)),
            (0u8..8, any::<u16>()).prop_map(|(k, v)| Op::Append(k, v)),
            (0u8..8, any::<i16>()).prop_map(|(k, v)| Op::Incr(k, v)),
            (0u8..8).prop_map(Op::Del),
            (0u8..8).prop_map(Op::GetDel),
            (0u8..8, 0u8..8, any::<u16>()).prop_map(|(k, o, v)| Op::SetRange(k, o, v)),
            (0u8..8).prop_map(Op::Get),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn strings_behave_like_a_map(ops in prop::collection::vec(op(), 1..200)) {
            let mut sh = shard();
            let mut model: BTreeMap<String, Vec<u8>> = BTreeMap::new();
            let model_bulk = |v: Option<&Vec<u8>>| v.map_or(Reply::Nil, |v| Reply::Bulk(Bytes::copy_from_slice(v)));
            for op in ops {
                match op {
                    Op::Set(k, v) => {
                        let (k, v) = (format!("k{k}"), v.to_string());
                        prop_assert_eq!(call(&mut sh, set, &["set", &k, &v]), Reply::Ok);
                        model.insert(k, v.into_bytes());
                    }
                    Op::SetNx(k, v) => {
                        let (k, v) = (format!("k{k}"), v.to_string());
                        let fresh = !model.contains_key(&k);
                        prop_assert_eq!(call(&mut sh, setnx, &["setnx", &k, &v]), Reply::Int(fresh as i64));
                        model.entry(k).or_insert(v.into_bytes());
                    }
                    Op::Append(k, v) => {
                        let (k, v) = (format!("k{k}"), v.to_string());
                        let e = model.entry(k.clone()).or_default();
                        e.extend_from_slice(v.as_bytes());
                        prop_assert_eq!(call(&mut sh, append, &["append", &k, &v]), Reply::Int(e.len() as i64));
                    }
                    Op::Incr(k, d) => {
                        let k = format!("k{k}");
                        let cur = model.get(&k).map(|v| parse_i64_strict(v));
                        let got = call(&mut sh, incrby, &["incrby", &k, &d.to_string()]);
                        match cur {
                            Some(None) => prop_assert_eq!(got, err(errors::NOT_INTEGER)),
                            c => {
                                let n = c.flatten().unwrap_or(0) + d as i64;
                                prop_assert_eq!(got, Reply::Int(n));
                                model.insert(k, n.to_string().into_bytes());
                            }
                        }
                    }
                    Op::Del(k) => {
                        let k = format!("k{k}");
                        model.remove(&k);
                        sh.dbs[0].remove(k.as_bytes());
                    }
                    Op::GetDel(k) => {
                        let k = format!("k{k}");
                        prop_assert_eq!(call(&mut sh, getdel, &["getdel", &k]), model_bulk(model.get(&k)));
                        model.remove(&k);
                    }
                    Op::SetRange(k, o, v) => {
                        let (k, v) = (format!("k{k}"), v.to_string());
                        let e = model.entry(k.clone()).or_default();
                        let end = o as usize + v.len();
                        if e.len() < end {
                            e.resize(end, 0);
                        }
                        e[o as usize..end].copy_from_slice(v.as_bytes());
                        let got = call(&mut sh, setrange, &["setrange", &k, &o.to_string(), &v]);
                        prop_assert_eq!(got, Reply::Int(e.len() as i64));
                    }
                    Op::Get(k) => {
                        let k = format!("k{k}");
                        prop_assert_eq!(call(&mut sh, get, &["get", &k]), model_bulk(model.get(&k)));
                    }
                }
            }
            for (k, v) in &model {
                prop_assert_eq!(call(&mut sh, get, &["get", k]), model_bulk(Some(v)));
            }
        }
    }
}
