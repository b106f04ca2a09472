//! Invariants of MULTI/EXEC over a hash, a list and a sorted set on different shards.
//!
//! Every write transaction appends one unique token to all three: `RPUSH L tok`, `HINCRBY H n 1`,
//! `HSET H tok 1`, `ZINCRBY Z 1 n`, `ZADD Z 0 tok`. A reset transaction deletes all three.
//!
//! - A write's EXEC sees one serial position: RPUSH's length, HINCRBY's and ZINCRBY's counts
//!   are the same number (another transaction interleaving on one shard would split them).
//! - A reader (LRANGE, HGETALL, ZRANGE inside one MULTI/EXEC) sees all of each transaction or
//!   none: the same tokens in the list, the hash and the sorted set, and both counters equal
//!   to the list's length.
//! - One serial order: a token sits in the list at the position its writer's EXEC reported.

use crate::client::Reply;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// Positions reported by successful write transactions, by token.
#[derive(Default)]
pub struct Positions {
    by_token: Mutex<BTreeMap<Bytes, i64>>,
}

fn fail(what: String) -> Result<(), String> {
    Err(format!("transactions: {what}"))
}

fn as_int(r: &Reply) -> Option<i64> {
    match r {
        Reply::Int(i) => Some(*i),
        Reply::Bulk(Some(b)) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

impl Positions {
    /// Checks a write transaction's EXEC reply and records the token's position.
    pub fn check_write(&self, token: &Bytes, reply: &Reply) -> Result<(), String> {
        let Reply::Array(Some(items)) = reply else { return fail(format!("EXEC of a typed write replied {reply:?}")) };
        let [len, hcount, hnew, zcount, znew] = items.as_slice() else {
            return fail(format!("EXEC of 5 typed writes replied {reply:?}"));
        };
        let (Some(pos), Some(h), Some(z)) = (as_int(len), as_int(hcount), as_int(zcount)) else {
            return fail(format!("EXEC of a typed write replied {reply:?}"));
        };
        if pos != h || pos != z || *hnew != Reply::Int(1) || *znew != Reply::Int(1) {
            return fail(format!("torn typed write: list length {pos}, hash count {h}, zset count {z} in {reply:?}"));
        }
        self.by_token.lock().unwrap_or_else(|e| e.into_inner()).insert(token.clone(), pos);
        Ok(())
    }

    /// Checks the EXEC reply of `LRANGE L 0 -1; HGETALL H; ZRANGE Z 0 -1 WITHSCORES`.
    pub fn check_read(&self, reply: &Reply) -> Result<(), String> {
        let Reply::Array(Some(items)) = reply else { return fail(format!("EXEC of a typed read replied {reply:?}")) };
        let [Reply::Array(Some(list)), Reply::Array(Some(hash)), Reply::Array(Some(zset))] = items.as_slice() else {
            return fail(format!("EXEC of a typed read replied {reply:?}"));
        };
        let tokens: Vec<Bytes> =
            list.iter().filter_map(|r| if let Reply::Bulk(Some(b)) = r { Some(b.clone()) } else { None }).collect();
        let counter = Bytes::from_static(b"n");
        let split = |pairs: &[Reply]| -> (BTreeSet<Bytes>, i64) {
            let mut members = BTreeSet::new();
            let mut count = 0;
            for p in pairs.chunks(2) {
                if let [Reply::Bulk(Some(m)), v] = p {
                    if *m == counter {
                        count = as_int(v).unwrap_or(-1);
                    } else {
                        members.insert(m.clone());
                    }
                }
            }
            (members, count)
        };
        let (in_hash, hcount) = split(hash);
        let (in_zset, zcount) = split(zset);
        let in_list: BTreeSet<Bytes> = tokens.iter().cloned().collect();
        let n = tokens.len() as i64;
        if in_list.len() != tokens.len() || n != hcount || n != zcount || in_list != in_hash || in_list != in_zset {
            return fail(format!(
                "torn typed read: list {n} tokens, hash count {hcount} with {} tokens, zset count {zcount} with {} tokens: {reply:?}",
                in_hash.len(),
                in_zset.len()
            ));
        }
        let positions = self.by_token.lock().unwrap_or_else(|e| e.into_inner());
        for (i, t) in tokens.iter().enumerate() {
            if let Some(&p) = positions.get(t) {
                if p != i as i64 + 1 {
                    return fail(format!(
                        "two serial orders: {} is at position {} in the list, its EXEC reported {p}",
                        String::from_utf8_lossy(t),
                        i + 1
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Checks the EXEC reply of `DEL L; DEL H; DEL Z`: all three existed or none did.
pub fn check_reset(reply: &Reply) -> Result<(), String> {
    match reply {
        Reply::Array(Some(items)) if items.len() == 3 && items.windows(2).all(|w| w[0] == w[1]) => Ok(()),
        _ => fail(format!("torn typed reset: DEL of the hash, list and zset replied {reply:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Reply {
        Reply::bulk(&Bytes::copy_from_slice(s.as_bytes()))
    }

    fn a(v: Vec<Reply>) -> Reply {
        Reply::Array(Some(v))
    }

    #[test]
    fn torn_writes_reads_and_orders_are_caught() {
        let p = Positions::default();
        let ok = a(vec![Reply::Int(1), Reply::Int(1), Reply::Int(1), b("1"), Reply::Int(1)]);
        p.check_write(&Bytes::from("t1"), &ok).unwrap();
        let torn = a(vec![Reply::Int(2), Reply::Int(3), Reply::Int(1), b("2"), Reply::Int(1)]);
        assert!(p.check_write(&Bytes::from("t2"), &torn).is_err());
        let read = |list: Vec<&str>, hn: &str, zn: &str| {
            let l = list.iter().map(|t| b(t)).collect();
            let mut h = vec![b("n"), b(hn)];
            let mut z = vec![b("n"), b(zn)];
            for t in &list {
                h.extend([b(t), b("1")]);
                z.extend([b(t), b("0")]);
            }
            a(vec![a(l), a(h), a(z)])
        };
        p.check_read(&read(vec!["t1"], "1", "1")).unwrap();
        p.check_read(&a(vec![a(vec![]), a(vec![]), a(vec![])])).unwrap();
        assert!(p.check_read(&read(vec!["t1"], "1", "2")).is_err());
        assert!(p.check_read(&read(vec!["t0", "t1"], "2", "2")).is_err(), "t1 was written at position 1");
        check_reset(&a(vec![Reply::Int(1), Reply::Int(1), Reply::Int(1)])).unwrap();
        assert!(check_reset(&a(vec![Reply::Int(1), Reply::Int(0), Reply::Int(1)])).is_err());
    }
}
