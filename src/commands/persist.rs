//! DUMP and RESTORE (Redis's cluster.c): values travel as an RDB payload — type, value, RDB
//! version (2 bytes LE) and CRC64 (8 bytes LE).

use super::errors;
use super::table::{spec, CommandSpec, KeySpec, Run};
use crate::engine::notify::class;
use crate::engine::{Mode, Shard};
use crate::protocol::Reply;
use crate::storage::rdb::{self, Limits, PayloadError};
use crate::util::parse_i64_strict;
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "generic",
        "dump",
        2,
        &["readonly"],
        KeySpec::ONE,
        &["@keyspace", "@read", "@slow"],
        "Returns a serialized representation of the value stored at a key.",
        "2.6.0",
        Run::Shard(dump, Mode::Read),
    ),
    spec(
        "generic",
        "restore",
        -4,
        &["write", "denyoom"],
        KeySpec::ONE,
        &["@keyspace", "@write", "@slow", "@dangerous"],
        "Creates a key from the serialized representation of a value.",
        "2.6.0",
        Run::Shard(restore, Mode::Write),
    ),
];

fn dump(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    let fill = sh.config.list_max_listpack_size;
    match sh.lookup(db, &args[1]) {
        Some(e) => Reply::Bulk(Bytes::from(rdb::dump_payload(&e.value, fill))),
        None => Reply::Nil,
    }
}

fn int_arg(b: &[u8]) -> Result<i64, Reply> {
    parse_i64_strict(b).ok_or_else(|| Reply::error(errors::NOT_INTEGER))
}

fn restore(sh: &mut Shard, db: usize, args: &[Bytes]) -> Reply {
    match restore_inner(sh, db, args) {
        Ok(r) | Err(r) => r,
    }
}

fn restore_inner(sh: &mut Shard, db: usize, args: &[Bytes]) -> Result<Reply, Reply> {
    let key = &args[1];
    let (mut replace, mut absttl, mut idle, mut freq) = (false, false, None, None);
    let mut j = 4;
    while j < args.len() {
        let opt = args[j].to_ascii_lowercase();
        let more = j + 1 < args.len();
        match &opt[..] {
            b"replace" => replace = true,
            b"absttl" => absttl = true,
            b"idletime" if more && freq.is_none() => {
                let v = int_arg(&args[j + 1])?;
                if v < 0 {
                    return Err(Reply::error(errors::RESTORE_IDLETIME));
                }
                idle = Some(v);
                j += 1;
            }
            b"freq" if more && idle.is_none() => {
                let v = int_arg(&args[j + 1])?;
                if !(0..=255).contains(&v) {
                    return Err(Reply::error(errors::RESTORE_FREQ));
                }
                freq = Some(v);
                j += 1;
            }
            _ => return Err(Reply::error(errors::SYNTAX)),
        }
        j += 1;
    }
    // Mayfly keeps no LRU/LFU data: IDLETIME and FREQ are accepted and checked only.
    let _ = (idle, freq);
    if !replace && sh.lookup_write(db, key).is_some() {
        return Err(Reply::error(errors::BUSYKEY));
    }
    let ttl = int_arg(&args[2])?;
    if ttl < 0 {
        return Err(Reply::error(errors::RESTORE_TTL));
    }
    let value = match rdb::decode_dump_payload(&args[3], Limits::from_config(&sh.config)) {
        Ok(v) => v,
        Err(PayloadError::VersionOrChecksum) => return Err(Reply::error(errors::DUMP_PAYLOAD)),
        Err(PayloadError::BadFormat) => return Err(Reply::error(errors::BAD_DATA_FORMAT)),
    };
    let deleted = replace && sh.dbs[db].remove(key).is_some();
    let now = sh.now_ms as i64;
    let deadline = match ttl {
        0 => 0,
        t if absttl => t,
        t => t.saturating_add(now),
    };
    if deadline != 0 && deadline <= now {
        if deleted {
            sh.notify(db, class::GENERIC, "del", key);
        }
        return Ok(Reply::Ok);
    }
    sh.dbs[db].set(key.clone(), value, deadline as u64);
    sh.notify(db, class::GENERIC, "restore", key);
    Ok(Reply::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn run(sh: &mut Shard, f: fn(&mut Shard, usize, &[Bytes]) -> Reply, args: &[&[u8]]) -> Reply {
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        f(sh, 0, &args)
    }

    #[test]
    fn dump_restore_round_trip_and_errors() {
        let mut sh = Shard::new(0, 16, 7);
        sh.now_ms = 1_000_000;
        sh.dbs[0].set(b("k"), crate::types::Value::Str(crate::types::StrValue::from_bytes(b"hello")), 0);
        let Reply::Bulk(p) = run(&mut sh, dump, &[b"dump", b"k"]) else { panic!() };
        assert_eq!(run(&mut sh, dump, &[b"dump", b"nokey"]), Reply::Nil);
        assert_eq!(run(&mut sh, restore, &[b"restore", b"k", b"0", &p]), Reply::error(errors::BUSYKEY));
        assert_eq!(run(&mut sh, restore, &[b"restore", b"k2", b"-1", &p]), Reply::error(errors::RESTORE_TTL));
        assert_eq!(run(&mut sh, restore, &[b"restore", b"k2", b"x", &p]), Reply::error(errors::NOT_INTEGER));
        assert_eq!(
            run(&mut sh, restore, &[b"restore", b"k2", b"0", b"garbage-payload"]),
            Reply::error(errors::DUMP_PAYLOAD)
        );
        assert_eq!(
            run(&mut sh, restore, &[b"restore", b"k2", b"0", &p, b"idletime", b"-1"]),
            Reply::error(errors::RESTORE_IDLETIME)
        );
        assert_eq!(
            run(&mut sh, restore, &[b"restore", b"k2", b"0", &p, b"freq", b"256"]),
            Reply::error(errors::RESTORE_FREQ)
        );
        assert_eq!(
            run(&mut sh, restore, &[b"restore", b"k2", b"0", &p, b"freq", b"1", b"idletime", b"1"]),
            Reply::error(errors::SYNTAX)
        );
        assert_eq!(run(&mut sh, restore, &[b"restore", b"k2", b"5000", &p, b"idletime", b"10"]), Reply::Ok);
        assert_eq!(sh.dbs[0].table.get(b"k2").unwrap().expire_at(), 1_005_000);
        assert_eq!(run(&mut sh, restore, &[b"restore", b"k", b"2000000", &p, b"REPLACE", b"ABSTTL"]), Reply::Ok);
        assert_eq!(sh.dbs[0].table.get(b"k").unwrap().expire_at(), 2_000_000);
        // An absolute deadline already past: the old key is deleted, nothing is created.
        assert_eq!(run(&mut sh, restore, &[b"restore", b"k", b"10", &p, b"REPLACE", b"ABSTTL"]), Reply::Ok);
        assert!(sh.dbs[0].table.get(b"k").is_none());
    }
}
