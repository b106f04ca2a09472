//! String commands (Redis's t_string.c): GET, SET and its variants, counters, ranges.

use super::errors;
use super::multikey::MultiKind;
use super::table::{CommandSpec, KeySpec, Run};
use crate::engine::{Mode, Shard};
use crate::protocol::Reply;
use crate::types::{StrValue, Value, WRONGTYPE};
use crate::util::parse_i64_strict;
use bytes::Bytes;

const RW: &[&str] = &["write", "denyoom"];
const RO_FAST: &[&str] = &["readonly", "fast"];
const ACL_STR_W: &[&str] = &["@write", "@string", "@slow"];
const ACL_STR_R: &[&str] = &["@read", "@string", "@fast"];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "get",
        arity: 2,
        flags: RO_FAST,
        keys: KeySpec::ONE,
        acl: ACL_STR_R,
        group: "string",
        summary: "Returns the string value of a key.",
        since: "1.0.0",
        run: Run::Shard(get, Mode::Read),
    },
    CommandSpec {
        name: "set",
        arity: -3,
        flags: RW,
        keys: KeySpec::ONE,
        acl: ACL_STR_W,
        group: "string",
        summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
        since: "1.0.0",
        run: Run::Shard(set, Mode::Write),
    },
    CommandSpec {
        name: "mget",
        arity: -2,
        flags: RO_FAST,
        keys: KeySpec::ALL,
        acl: ACL_STR_R,
        group: "string",
        summary: "Atomically returns the string values of one or more keys.",
        since: "1.0.0",
        run: Run::Multi(MultiKind::Mget),
    },
    CommandSpec {
        name: "mset",
        arity: -3,
        flags: RW,
        keys: KeySpec { first: 1, last: -1, step: 2 },
        acl: ACL_STR_W,
        group: "string",
        summary: "Atomically creates or modifies the string values of one or more keys.",
        since: "1.0.1",
        run: Run::Multi(MultiKind::Mset),
    },
];

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
        sh.dbs[db].set(Bytes::copy_from_slice(k), Value::Str(StrValue::from_bytes(v)), 0);
    }
}

fn get(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match read_str(sh, db, &args[1]) {
        Ok(v) => Reply::opt_bulk(v.map(|s| s.to_bytes())),
        Err(e) => e,
    }
}

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms-ts | KEEPTTL]
fn set(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let mut nx = false;
    let mut xx = false;
    let mut want_get = false;
    let mut keepttl = false;
    let mut expire: Option<(&[u8], Bytes)> = None;
    let mut i = 3;
    while i < args.len() {
        let opt = args[i].to_ascii_uppercase();
        match opt.as_slice() {
            b"NX" if !xx => nx = true,
            b"XX" if !nx => xx = true,
            b"GET" => want_get = true,
            b"KEEPTTL" if expire.is_none() => keepttl = true,
            b"EX" | b"PX" | b"EXAT" | b"PXAT" if expire.is_none() && !keepttl && i + 1 < args.len() => {
                let unit: &[u8] = match opt.as_slice() {
                    b"EX" => b"EX",
                    b"PX" => b"PX",
                    b"EXAT" => b"EXAT",
                    _ => b"PXAT",
                };
                expire = Some((unit, args[i + 1].clone()));
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
    let deadline = if keepttl { old.as_ref().map_or(0, |(_, ttl)| *ttl) } else { deadline };
    let reply = if want_get { get_reply() } else { Reply::Ok };
    sh.dbs[db].set(Bytes::copy_from_slice(&args[1]), Value::Str(StrValue::from_bytes(&args[2])), deadline);
    reply
}

/// A key's current string value and deadline, for commands that replace it.
fn read_str_for_write(sh: &mut Shard, db: usize, key: &[u8]) -> Result<Option<(StrValue, u64)>, Reply> {
    match sh.lookup_write(db, key) {
        Some(e) => match &e.value {
            Value::Str(s) => Ok(Some((s.clone(), e.expire_at))),
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
