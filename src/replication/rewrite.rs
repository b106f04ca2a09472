//! Commands that reach replicas in another form than they were sent, as Redis 7.0 rewrites
//! them: relative times become absolute (a replica applies them later), and commands whose
//! effect depends on chance or on a float's formatting become what they did.

use crate::engine::Shard;
use crate::protocol::Reply;
use bytes::Bytes;

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn num(n: u64) -> Bytes {
    Bytes::from(n.to_string())
}

/// The key's deadline now, if it exists (0 = no TTL).
fn deadline(sh: &Shard, db: usize, key: &[u8]) -> Option<u64> {
    sh.dbs[db].table.get(key).map(|e| e.expire_at())
}

/// What to record for a write command that changed data; `None` means its own arguments.
/// `name` is the command table's (lowercase) name.
pub fn records_for(sh: &Shard, name: &str, db: usize, args: &[Bytes], reply: &Reply) -> Option<Vec<Vec<Bytes>>> {
    let key = args.get(1)?.clone();
    match name {
        "expire" | "pexpire" | "expireat" | "pexpireat" => Some(vec![match deadline(sh, db, &key) {
            Some(at) if at != 0 => vec![b("PEXPIREAT"), key, num(at)],
            Some(_) => return None,
            None => vec![b("DEL"), key],
        }]),
        "setex" | "psetex" => {
            let at = deadline(sh, db, &key)?;
            Some(vec![vec![b("SET"), key, args[3].clone(), b("PXAT"), num(at)]])
        }
        "set" => {
            let opt = args[3..].iter().position(|a| {
                let a = a.to_ascii_uppercase();
                a == b"EX" || a == b"PX" || a == b"EXAT"
            })?;
            let at = deadline(sh, db, &key)?;
            let mut out = args.to_vec();
            out[3 + opt] = b("PXAT");
            out[4 + opt] = num(at);
            Some(vec![out])
        }
        "getex" => {
            if args.len() < 3 {
                return Some(Vec::new());
            }
            Some(vec![match deadline(sh, db, &key) {
                Some(0) => vec![b("PERSIST"), key],
                Some(at) => vec![b("PEXPIREAT"), key, num(at)],
                None => vec![b("DEL"), key],
            }])
        }
        "getdel" => Some(vec![vec![b("DEL"), key]]),
        "incrbyfloat" => match reply {
            Reply::Bulk(v) => Some(vec![vec![b("SET"), key, v.clone(), b("KEEPTTL")]]),
            _ => None,
        },
        "hincrbyfloat" => match reply {
            Reply::Bulk(v) => Some(vec![vec![b("HSET"), key, args[2].clone(), v.clone()]]),
            _ => None,
        },
        "spop" => {
            let members: Vec<Bytes> = match reply {
                Reply::Bulk(m) => vec![m.clone()],
                Reply::Array(items) | Reply::Set(items) => items
                    .iter()
                    .filter_map(|r| match r {
                        Reply::Bulk(m) => Some(m.clone()),
                        _ => None,
                    })
                    .collect(),
                _ => return Some(Vec::new()),
            };
            // Large pops go out in batches, as Redis sends them.
            Some(
                members
                    .chunks(1024)
                    .map(|c| {
                        let mut cmd = vec![b("SREM"), key.clone()];
                        cmd.extend_from_slice(c);
                        cmd
                    })
                    .collect(),
            )
        }
        "restore" => {
            let ttl = crate::util::parse_i64_strict(args.get(2)?)?;
            let absttl = args[4..].iter().any(|a| a.eq_ignore_ascii_case(b"ABSTTL"));
            if ttl <= 0 || absttl {
                return None;
            }
            let at = deadline(sh, db, &key)?;
            let mut out = args.to_vec();
            out[2] = num(at);
            out.push(b("ABSTTL"));
            Some(vec![out])
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{StrValue, Value};

    fn args(s: &str) -> Vec<Bytes> {
        s.split(' ').map(|a| Bytes::copy_from_slice(a.as_bytes())).collect()
    }

    fn records_for_text(sh: &Shard, args: &[Bytes], reply: &Reply) -> Option<Vec<Vec<Bytes>>> {
        let name = String::from_utf8(args[0].to_ascii_lowercase()).unwrap();
        let spec = crate::commands::lookup(name.as_bytes()).unwrap();
        records_for(sh, spec.name, 0, args, reply)
    }

    fn text(recs: Option<Vec<Vec<Bytes>>>) -> Vec<String> {
        recs.unwrap()
            .iter()
            .map(|r| r.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" "))
            .collect()
    }

    #[test]
    fn relative_times_become_absolute_and_chance_becomes_what_happened() {
        let mut sh = Shard::new(0, 16, 1);
        sh.dbs[0].set(Bytes::from("k"), Value::Str(StrValue::from_bytes(b"v")), 5_000);
        assert_eq!(text(records_for_text(&sh, &args("EXPIRE k 10"), &Reply::Int(1))), ["PEXPIREAT k 5000"]);
        assert_eq!(text(records_for_text(&sh, &args("set k v NX ex 10"), &Reply::Ok)), ["set k v NX PXAT 5000"]);
        assert_eq!(text(records_for_text(&sh, &args("SETEX k 10 v"), &Reply::Ok)), ["SET k v PXAT 5000"]);
        assert_eq!(text(records_for_text(&sh, &args("GETEX k PX 5"), &Reply::Nil)), ["PEXPIREAT k 5000"]);
        assert!(records_for_text(&sh, &args("SET k v"), &Reply::Ok).is_none());
        assert_eq!(text(records_for_text(&sh, &args("EXPIRE gone 10"), &Reply::Int(1))), ["DEL gone"]);
        let popped = Reply::Array(vec![Reply::Bulk(Bytes::from("a")), Reply::Bulk(Bytes::from("b"))]);
        assert_eq!(text(records_for_text(&sh, &args("SPOP s 2"), &popped)), ["SREM s a b"]);
        assert_eq!(
            text(records_for_text(&sh, &args("INCRBYFLOAT f 0.1"), &Reply::Bulk(Bytes::from("1.1")))),
            ["SET f 1.1 KEEPTTL"]
        );
        assert_eq!(text(records_for_text(&sh, &args("RESTORE k 100 xx"), &Reply::Ok)), ["RESTORE k 5000 xx ABSTTL"]);
    }
}
