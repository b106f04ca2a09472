//! Hashes and sets through the real binary with four shards, so multi-key set commands take
//! their cross-shard (locked transaction) paths.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::Server;
use redis::{Commands, Connection, Value};
use std::collections::BTreeSet;
use std::io::{Read, Write};

fn q(c: &mut Connection, parts: &[&str]) -> Result<Value, String> {
    let mut cmd = redis::cmd(parts[0]);
    for p in &parts[1..] {
        cmd.arg(*p);
    }
    cmd.query::<Value>(c).map_err(|e| e.to_string())
}

fn members(c: &mut Connection, key: &str) -> BTreeSet<String> {
    c.smembers(key).unwrap()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn start() -> Server {
    Server::start(&["--proactor_threads", "4"])
}

#[test]
fn hashes_over_tcp() {
    let s = start();
    let mut c = s.client();
    assert_eq!(q(&mut c, &["HSET", "h", "a", "1", "b", "2"]).unwrap(), Value::Int(2));
    let v: Option<String> = c.hget("h", "a").unwrap();
    assert_eq!(v.as_deref(), Some("1"));
    let n: i64 = c.hincr("h", "a", 10).unwrap();
    assert_eq!(n, 11);
    assert_eq!(q(&mut c, &["HINCRBYFLOAT", "h", "b", "0.5"]).unwrap(), Value::BulkString(b"2.5".to_vec()));
    let all: std::collections::BTreeMap<String, String> = c.hgetall("h").unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(q(&mut c, &["OBJECT", "ENCODING", "h"]).unwrap(), Value::BulkString(b"listpack".to_vec()));
    assert_eq!(q(&mut c, &["TYPE", "h"]).unwrap(), Value::SimpleString("hash".into()));
    let long = "x".repeat(100);
    let _: () = c.hset("h", "long", &long).unwrap();
    assert_eq!(q(&mut c, &["OBJECT", "ENCODING", "h"]).unwrap(), Value::BulkString(b"hashtable".to_vec()));
    let _: () = redis::cmd("CONFIG").arg("SET").arg("hash-max-listpack-entries").arg("2").query(&mut c).unwrap();
    let _: () = c.hset_multiple("h2", &[("a", "1"), ("b", "2"), ("c", "3")]).unwrap();
    assert_eq!(q(&mut c, &["OBJECT", "ENCODING", "h2"]).unwrap(), Value::BulkString(b"hashtable".to_vec()));
    let _: () = redis::cmd("CONFIG").arg("SET").arg("hash-max-listpack-entries").arg("128").query(&mut c).unwrap();
    let _: () = c.set("str", "x").unwrap();
    assert!(q(&mut c, &["HGET", "str", "a"]).unwrap_err().contains("WRONGTYPE"));
    assert!(q(&mut c, &["HSET", "h", "a"]).unwrap_err().contains("wrong number of arguments for 'hset' command"));
    // COPY and RENAME carry hashes across shards.
    for i in 0..6 {
        let dst = format!("hcopy{i}");
        assert_eq!(q(&mut c, &["COPY", "h", &dst]).unwrap(), Value::Int(1));
        let n: i64 = c.hlen(&dst).unwrap();
        assert_eq!(n, 3);
    }

    // RESP3: HRANDFIELD WITHVALUES gives pairs, HGETALL a map.
    let mut raw = s.raw();
    raw.write_all(b"HELLO 3\r\n").unwrap();
    let mut buf = vec![0u8; 4096];
    let _ = raw.read(&mut buf).unwrap();
    raw.write_all(b"HSET r f v\r\nHRANDFIELD r -2 WITHVALUES\r\nHGETALL r\r\n").unwrap();
    let want = b":1\r\n*2\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n%1\r\n$1\r\nf\r\n$1\r\nv\r\n";
    let mut got = vec![0u8; want.len()];
    raw.read_exact(&mut got).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
}

#[test]
fn cross_shard_set_algebra_and_smove() {
    let s = start();
    let mut c = s.client();
    // Eight keys per role spread over the four shards.
    for i in 0..8 {
        let (a, b, d) = (format!("a{i}"), format!("b{i}"), format!("d{i}"));
        let _: () = c.sadd(&a, &["1", "2", "3", "x"]).unwrap();
        let _: () = c.sadd(&b, &["2", "3", "4"]).unwrap();
        let inter: BTreeSet<String> = c.sinter(&[&a, &b]).unwrap();
        assert_eq!(inter, set(&["2", "3"]));
        let union: BTreeSet<String> = c.sunion(&[&a, &b, "nokey"]).unwrap();
        assert_eq!(union, set(&["1", "2", "3", "4", "x"]));
        let diff: BTreeSet<String> = c.sdiff(&[&a, &b]).unwrap();
        assert_eq!(diff, set(&["1", "x"]));
        assert_eq!(q(&mut c, &["SINTERSTORE", &d, &a, &b]).unwrap(), Value::Int(2));
        assert_eq!(members(&mut c, &d), set(&["2", "3"]));
        assert_eq!(q(&mut c, &["OBJECT", "ENCODING", &d]).unwrap(), Value::BulkString(b"intset".to_vec()));
        assert_eq!(q(&mut c, &["SUNIONSTORE", &d, &a, &b]).unwrap(), Value::Int(5));
        assert_eq!(q(&mut c, &["SDIFFSTORE", &d, &a, &b]).unwrap(), Value::Int(2));
        assert_eq!(members(&mut c, &d), set(&["1", "x"]));
        assert_eq!(q(&mut c, &["SINTERCARD", "2", &a, &b, "LIMIT", "1"]).unwrap(), Value::Int(1));
        assert_eq!(q(&mut c, &["SINTERSTORE", &d, &a, "nokey"]).unwrap(), Value::Int(0));
        let exists: bool = c.exists(&d).unwrap();
        assert!(!exists);

        // SMOVE across shards.
        assert_eq!(q(&mut c, &["SMOVE", &a, &b, "x"]).unwrap(), Value::Int(1));
        assert_eq!(q(&mut c, &["SMOVE", &a, &b, "x"]).unwrap(), Value::Int(0));
        assert!(members(&mut c, &b).contains("x"));
        assert_eq!(q(&mut c, &["SMOVE", &a, &format!("fresh{i}"), "1"]).unwrap(), Value::Int(1));
        let _: () = c.set(format!("str{i}"), "v").unwrap();
        assert!(q(&mut c, &["SMOVE", &a, &format!("str{i}"), "2"]).unwrap_err().contains("WRONGTYPE"));
        assert!(q(&mut c, &["SINTER", &a, &format!("str{i}")]).unwrap_err().contains("WRONGTYPE"));
        assert_eq!(q(&mut c, &["SMOVE", "nokey", &format!("str{i}"), "2"]).unwrap(), Value::Int(0));
    }
    assert!(q(&mut c, &["SINTERCARD", "0", "a"]).unwrap_err().contains("numkeys should be greater than 0"));
}

#[test]
fn concurrent_smoves_never_lose_or_duplicate_members() {
    let s = start();
    let mut c = s.client();
    let keys: Vec<String> = (0..4).map(|i| format!("pool{i}")).collect();
    let all: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
    for (i, m) in all.iter().enumerate() {
        let _: () = c.sadd(&keys[i % 4], m).unwrap();
    }
    let movers: Vec<_> = (0..3)
        .map(|t| {
            let (url, keys, all) = (s.url(), keys.clone(), all.clone());
            std::thread::spawn(move || {
                let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
                for n in 0..150usize {
                    let (src, dst) = (&keys[(n + t) % 4], &keys[(n * 3 + t + 1) % 4]);
                    let _: i64 = c.smove(src, dst, &all[(n * 7 + t) % all.len()]).unwrap();
                }
            })
        })
        .collect();
    for _ in 0..100 {
        let union: Vec<String> = redis::cmd("SUNION").arg(&keys).query(&mut c).unwrap();
        assert_eq!(union.len(), all.len(), "a reader saw a half-done SMOVE");
        let n: i64 = redis::cmd("SUNIONSTORE").arg("{pool}dst").arg(&keys).query(&mut c).unwrap();
        assert_eq!(n as usize, all.len());
    }
    for m in movers {
        m.join().unwrap();
    }
    let total: usize = keys.iter().map(|k| c.scard::<_, usize>(k).unwrap()).sum();
    assert_eq!(total, all.len());
}
