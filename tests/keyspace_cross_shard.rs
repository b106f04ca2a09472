//! String and keyspace commands through a real server with several shards, so that multi-key
//! commands take their cross-shard (locked transaction) paths. The test harness owns a real OS
//! thread for the server, as the production binary does.
#![allow(clippy::disallowed_methods)]

use mayfly::config::{parse_command_line, Config};
use mayfly::runtime::TokioRt;
use redis::{Commands, Connection, Value};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::OnceLock;

fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let args: Vec<String> = ["--port=0", "--bind=127.0.0.1", "--proactor_threads=4", "--dbfilename="]
                .iter()
                .map(|s| s.to_string())
                .collect();
            let store = parse_command_line(&args, &[], &|_| Err("no files".into())).unwrap();
            let rt = TokioRt::new();
            let _ = rt.block_on(mayfly::server::run(rt.clone(), Config { store }, move |s| {
                assert_eq!(s.state.num_shards, 4);
                tx.send(s.addr).unwrap();
            }));
        });
        rx.recv().unwrap()
    })
}

/// A connection on its own database, so tests running in parallel don't see each other.
fn conn(db: i64) -> Connection {
    let mut c = redis::Client::open(format!("redis://{}/", server())).unwrap().get_connection().unwrap();
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

fn keys_on_many_shards(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

#[test]
fn msetnx_is_all_or_nothing_across_shards() {
    let mut c = conn(1);
    let ks = keys_on_many_shards("mx", 8);
    let mut args = vec!["MSETNX"];
    for k in &ks {
        args.push(k);
        args.push("v");
    }
    assert_eq!(q(&mut c, &args).unwrap(), Value::Int(1));
    assert_eq!(q(&mut c, &args).unwrap(), Value::Int(0));
    let _: () = c.del(&ks[3]).unwrap();
    assert_eq!(q(&mut c, &args).unwrap(), Value::Int(0), "one key still present elsewhere");
    let n: i64 = c.exists(&ks).unwrap();
    assert_eq!(n, 7);
    assert!(q(&mut c, &["MSETNX", "a", "1", "b"]).unwrap_err().contains("wrong number of arguments for 'msetnx'"));
}

#[test]
fn rename_copy_and_lcs_across_shards() {
    let mut c = conn(2);
    for i in 0..8 {
        let (src, dst) = (format!("src{i}"), format!("dst{i}"));
        let _: () = redis::cmd("SET").arg(&src).arg(i).arg("EX").arg(100).query(&mut c).unwrap();
        assert_eq!(q(&mut c, &["RENAME", &src, &dst]).unwrap(), Value::Okay);
        let v: Option<String> = c.get(&src).unwrap();
        assert_eq!(v, None);
        let v: String = c.get(&dst).unwrap();
        assert_eq!(v, i.to_string());
        let ttl: i64 = c.ttl(&dst).unwrap();
        assert!(ttl > 90, "RENAME keeps the TTL");
        let _: () = c.set(&src, "x").unwrap();
        assert_eq!(q(&mut c, &["RENAMENX", &src, &dst]).unwrap(), Value::Int(0));
        assert_eq!(q(&mut c, &["COPY", &src, &dst]).unwrap(), Value::Int(0));
        assert_eq!(q(&mut c, &["COPY", &src, &dst, "REPLACE"]).unwrap(), Value::Int(1));
        assert_eq!(q(&mut c, &["COPY", &src, &dst, "DB", "3"]).unwrap(), Value::Int(1));
        assert_eq!(q(&mut c, &["RENAMENX", &src, &format!("fresh{i}")]).unwrap(), Value::Int(1));
    }
    assert!(q(&mut c, &["RENAME", "nosuch", "x"]).unwrap_err().contains("no such key"));
    assert!(q(&mut c, &["COPY", "a", "a"]).unwrap_err().contains("source and destination objects are the same"));
    assert!(q(&mut c, &["COPY", "a", "b", "DB", "99"]).unwrap_err().contains("DB index is out of range"));
    let mut c3 = conn(3);
    let v: String = c3.get("dst0").unwrap();
    assert_eq!(v, "x");

    let _: () = c.set("key1", "ohmytext").unwrap();
    let _: () = c.set("key2", "mynewtext").unwrap();
    assert_eq!(q(&mut c, &["LCS", "key1", "key2"]).unwrap(), Value::BulkString(b"mytext".to_vec()));
    assert_eq!(q(&mut c, &["LCS", "key1", "key2", "LEN"]).unwrap(), Value::Int(6));
    let _: () = c.set("lcs:a", "foo").unwrap();
    let _: () = c.set("lcs:b", "xfoox").unwrap();
    assert_eq!(q(&mut c, &["LCS", "lcs:a", "lcs:b", "LEN"]).unwrap(), Value::Int(3));
}

#[test]
fn scan_keys_randomkey_across_shards() {
    let mut c = conn(4);
    let ks = keys_on_many_shards("scan:", 300);
    for k in &ks {
        let _: () = c.set(k, 1).unwrap();
    }
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    let mut rounds = 0;
    loop {
        let (next, batch): (String, Vec<String>) =
            redis::cmd("SCAN").arg(&cursor).arg("COUNT").arg(17).query(&mut c).unwrap();
        seen.extend(batch);
        // Insert while scanning: pre-existing keys must all still be returned.
        let _: () = c.set(format!("during:{rounds}"), 1).unwrap();
        rounds += 1;
        if next == "0" {
            break;
        }
        cursor = next;
        assert!(rounds < 10_000);
    }
    for k in &ks {
        assert!(seen.contains(k), "SCAN missed {k}");
    }
    let (_, only): (String, Vec<String>) =
        redis::cmd("SCAN").arg(0).arg("MATCH").arg("nomatch*").arg("COUNT").arg(1000).query(&mut c).unwrap();
    assert!(only.is_empty());
    assert!(q(&mut c, &["SCAN", "abc"]).unwrap_err().contains("invalid cursor"));
    assert!(q(&mut c, &["SCAN", "0", "COUNT", "0"]).unwrap_err().contains("syntax error"));
    let mut all: Vec<String> = c.keys("scan:*").unwrap();
    all.sort();
    let mut want = ks.clone();
    want.sort();
    assert_eq!(all, want);
    let r: Option<String> = redis::cmd("RANDOMKEY").query(&mut c).unwrap();
    assert!(r.is_some());
    let mut empty = conn(5);
    let r: Option<String> = redis::cmd("RANDOMKEY").query(&mut empty).unwrap();
    assert_eq!(r, None);
    assert_eq!(q(&mut c, &["OBJECT", "ENCODING", "scan:1"]).unwrap(), Value::BulkString(b"int".to_vec()));
    assert!(q(&mut c, &["OBJECT", "FREQ", "scan:1"]).unwrap_err().contains("LFU maxmemory policy is not selected"));
    assert!(q(&mut c, &["OBJECT", "NOPE"]).unwrap_err().contains("unknown subcommand"));
    let n: i64 = redis::cmd("TOUCH").arg(&ks[..10]).arg("missing").query(&mut c).unwrap();
    assert_eq!(n, 10);
    let n: i64 = redis::cmd("UNLINK").arg(&ks[..10]).query(&mut c).unwrap();
    assert_eq!(n, 10);
}
