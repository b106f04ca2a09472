//! Sorted sets through the real binary over TCP, with four shards so the multi-key commands
//! (ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE, ZRANGESTORE, ZMPOP, ZINTERCARD) take their cross-shard
//! locked paths.
#![allow(clippy::disallowed_methods)]

mod common;

use common::Server;
use redis::{Connection, Value};
use std::io::{Read, Write};
use std::sync::OnceLock;

fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| Server::start(&["--proactor_threads", "4"]))
}

/// A connection on its own database, so tests running in parallel don't see each other.
fn conn(db: i64) -> Connection {
    let mut c = server().client();
    redis::cmd("SELECT").arg(db).query::<()>(&mut c).unwrap();
    c
}

fn q(c: &mut Connection, parts: &[&str]) -> Result<Value, String> {
    let mut cmd = redis::cmd(parts[0]);
    for p in &parts[1..] {
        cmd.arg(*p);
    }
    cmd.query::<Value>(c).map_err(|e| e.to_string())
}

fn strs(v: Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::BulkString(b) => String::from_utf8(b).unwrap(),
                Value::Int(n) => n.to_string(),
                other => format!("{other:?}"),
            })
            .collect(),
        other => panic!("{other:?}"),
    }
}

fn int(v: Result<Value, String>) -> i64 {
    match v.unwrap() {
        Value::Int(n) => n,
        other => panic!("{other:?}"),
    }
}

/// Several key names: with four shards they land on different shards.
fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}:{i}")).collect()
}

#[test]
fn basic_commands_over_tcp() {
    let mut c = conn(1);
    assert_eq!(int(q(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c"])), 3);
    assert_eq!(strs(q(&mut c, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]).unwrap()), ["a", "1", "b", "2", "c", "3"]);
    assert_eq!(strs(q(&mut c, &["ZRANGEBYSCORE", "z", "(1", "+inf"]).unwrap()), ["b", "c"]);
    assert_eq!(strs(q(&mut c, &["ZREVRANGE", "z", "0", "0"]).unwrap()), ["c"]);
    assert_eq!(q(&mut c, &["ZSCORE", "z", "b"]).unwrap(), Value::BulkString(b"2".to_vec()));
    assert_eq!(q(&mut c, &["ZINCRBY", "z", "0.5", "b"]).unwrap(), Value::BulkString(b"2.5".to_vec()));
    assert_eq!(int(q(&mut c, &["ZRANK", "z", "c"])), 2);
    assert_eq!(q(&mut c, &["TYPE", "z"]).unwrap(), Value::SimpleString("zset".into()));
    assert_eq!(q(&mut c, &["OBJECT", "ENCODING", "z"]).unwrap(), Value::BulkString(b"listpack".to_vec()));
    let err = q(&mut c, &["ZADD", "z", "NX", "XX", "1", "a"]).unwrap_err();
    assert!(err.contains("XX and NX options at the same time are not compatible"), "{err}");
    let err = q(&mut c, &["ZADD", "z", "abc", "a"]).unwrap_err();
    assert!(err.contains("value is not a valid float"), "{err}");
    q(&mut c, &["SET", "s", "x"]).unwrap();
    let err = q(&mut c, &["ZADD", "s", "1", "a"]).unwrap_err();
    assert!(err.contains("WRONGTYPE"), "{err}");
    assert_eq!(int(q(&mut c, &["ZREM", "z", "a", "b", "c"])), 3);
    assert_eq!(int(q(&mut c, &["EXISTS", "z"])), 0);
}

#[test]
fn encoding_converts_past_the_configured_threshold() {
    let mut c = conn(2);
    for i in 0..200 {
        q(&mut c, &["ZADD", "big", &i.to_string(), &format!("m{i}")]).unwrap();
    }
    assert_eq!(q(&mut c, &["OBJECT", "ENCODING", "big"]).unwrap(), Value::BulkString(b"skiplist".to_vec()));
    assert_eq!(int(q(&mut c, &["ZCOUNT", "big", "10", "(20"])), 10);
    assert_eq!(int(q(&mut c, &["ZREVRANK", "big", "m0"])), 199);
    let long = "x".repeat(100);
    q(&mut c, &["ZADD", "long", "1", &long]).unwrap();
    assert_eq!(q(&mut c, &["OBJECT", "ENCODING", "long"]).unwrap(), Value::BulkString(b"skiplist".to_vec()));
}

#[test]
fn resp3_withscores_is_nested_and_scores_are_doubles() {
    let mut c = conn(3);
    q(&mut c, &["ZADD", "r3", "1.5", "a", "2", "b"]).unwrap();
    let mut s = server().raw();
    let send = |s: &mut std::net::TcpStream, cmd: &str| s.write_all(cmd.as_bytes()).unwrap();
    send(&mut s, "HELLO 3\r\nSELECT 3\r\nZRANGE r3 0 -1 WITHSCORES\r\nZSCORE r3 a\r\nZPOPMIN r3 1\r\n");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut buf = vec![0u8; 64 * 1024];
    let n = s.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(text.contains("*2\r\n*2\r\n$1\r\na\r\n,1.5\r\n*2\r\n$1\r\nb\r\n,2\r\n"), "{text}");
    assert!(text.contains(",1.5\r\n*1\r\n*2\r\n$1\r\na\r\n,1.5\r\n"), "{text}");
}

#[test]
fn cross_shard_union_inter_diff_store() {
    let mut c = conn(4);
    let ks = keys("src", 4);
    for (i, k) in ks.iter().enumerate() {
        // src:i holds members 0..=i+2, scored i+1 each.
        for m in 0..=(i + 2) {
            q(&mut c, &["ZADD", k, &(i + 1).to_string(), &format!("m{m}")]).unwrap();
        }
    }
    let mut args = vec!["ZUNIONSTORE", "dst:union", "4"];
    args.extend(ks.iter().map(String::as_str));
    assert_eq!(int(q(&mut c, &args)), 6);
    // m0 is in all four: 1+2+3+4.
    assert_eq!(q(&mut c, &["ZSCORE", "dst:union", "m0"]).unwrap(), Value::BulkString(b"10".to_vec()));
    assert_eq!(q(&mut c, &["ZSCORE", "dst:union", "m5"]).unwrap(), Value::BulkString(b"4".to_vec()));
    let mut args = vec!["ZINTERSTORE", "dst:inter", "4"];
    args.extend(ks.iter().map(String::as_str));
    args.extend(["WEIGHTS", "1", "1", "1", "2", "AGGREGATE", "MAX"]);
    assert_eq!(int(q(&mut c, &args)), 3);
    assert_eq!(
        strs(q(&mut c, &["ZRANGE", "dst:inter", "0", "-1", "WITHSCORES"]).unwrap()),
        ["m0", "8", "m1", "8", "m2", "8"]
    );
    let mut args = vec!["ZDIFFSTORE", "dst:diff", "2", &ks[3], &ks[1]];
    assert_eq!(int(q(&mut c, &args)), 2);
    assert_eq!(strs(q(&mut c, &["ZRANGE", "dst:diff", "0", "-1"]).unwrap()), ["m4", "m5"]);
    // An empty result deletes the destination.
    args = vec!["ZINTERSTORE", "dst:diff", "2", &ks[0], "missing:key"];
    assert_eq!(int(q(&mut c, &args)), 0);
    assert_eq!(int(q(&mut c, &["EXISTS", "dst:diff"])), 0);
    // Non-store forms and ZINTERCARD.
    let mut args = vec!["ZUNION", "2", &ks[0], &ks[3], "WITHSCORES"];
    assert_eq!(strs(q(&mut c, &args).unwrap()).len(), 12);
    args = vec!["ZINTERCARD", "4", &ks[0], &ks[1], &ks[2], &ks[3]];
    assert_eq!(int(q(&mut c, &args)), 3);
    args.extend(["LIMIT", "2"]);
    assert_eq!(int(q(&mut c, &args)), 2);
    // A source of the wrong type anywhere fails the whole command.
    q(&mut c, &["SET", "str:key", "x"]).unwrap();
    let err = q(&mut c, &["ZUNIONSTORE", "dst:union", "2", &ks[0], "str:key"]).unwrap_err();
    assert!(err.contains("WRONGTYPE"), "{err}");
    assert_eq!(int(q(&mut c, &["ZCARD", "dst:union"])), 6);
    // The destination may be one of the sources.
    assert_eq!(int(q(&mut c, &["ZUNIONSTORE", &ks[0], "2", &ks[0], &ks[1]])), 4);
}

#[test]
fn cross_shard_rangestore_and_mpop() {
    let mut c = conn(5);
    let ks = keys("mp", 6);
    q(&mut c, &["ZADD", &ks[0], "1", "a", "2", "b", "3", "c", "4", "d"]).unwrap();
    assert_eq!(int(q(&mut c, &["ZRANGESTORE", &ks[1], &ks[0], "(1", "3", "BYSCORE"])), 2);
    assert_eq!(strs(q(&mut c, &["ZRANGE", &ks[1], "0", "-1"]).unwrap()), ["b", "c"]);
    assert_eq!(int(q(&mut c, &["ZRANGESTORE", &ks[2], &ks[0], "0", "1", "REV"])), 2);
    assert_eq!(strs(q(&mut c, &["ZRANGE", &ks[2], "0", "-1"]).unwrap()), ["c", "d"]);
    let err = q(&mut c, &["ZRANGESTORE", &ks[2], &ks[0], "0", "-1", "WITHSCORES"]).unwrap_err();
    assert!(err.contains("syntax error"), "{err}");
    q(&mut c, &["ZADD", &ks[5], "9", "z"]).unwrap();
    let r = q(&mut c, &["ZMPOP", "3", &ks[3], &ks[4], &ks[5], "MAX", "COUNT", "5"]).unwrap();
    assert_eq!(
        r,
        Value::Array(vec![
            Value::BulkString(ks[5].as_bytes().to_vec()),
            Value::Array(vec![Value::Array(vec![Value::BulkString(b"z".to_vec()), Value::BulkString(b"9".to_vec())])]),
        ])
    );
    assert_eq!(int(q(&mut c, &["EXISTS", &ks[5]])), 0);
    assert_eq!(q(&mut c, &["ZMPOP", "2", &ks[3], &ks[4], "MIN"]).unwrap(), Value::Nil);
}

#[test]
fn cross_shard_store_is_atomic_under_concurrent_writers() {
    // The writer grows `at:0` and then copies it into `at:1` (another shard) with ZUNIONSTORE,
    // so `at:1` is always a subset of `at:0`. A reader's ZDIFF at:1 at:0 reads both under one
    // transaction and must therefore always be empty.
    let ks = keys("at", 2);
    let mut c = conn(6);
    q(&mut c, &["ZADD", &ks[0], "0", "m0"]).unwrap();
    let writer = {
        let ks = ks.clone();
        std::thread::spawn(move || {
            let mut w = conn(6);
            for i in 1..150 {
                q(&mut w, &["ZADD", &ks[0], &i.to_string(), &format!("m{i}")]).unwrap();
                q(&mut w, &["ZUNIONSTORE", &ks[1], "1", &ks[0]]).unwrap();
            }
        })
    };
    for _ in 0..150 {
        let diff = strs(q(&mut c, &["ZDIFF", "2", &ks[1], &ks[0]]).unwrap());
        assert!(diff.is_empty(), "{diff:?}");
    }
    writer.join().unwrap();
    assert_eq!(int(q(&mut c, &["ZCARD", &ks[1]])), 150);
}
