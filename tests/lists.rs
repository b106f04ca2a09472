//! Lists over TCP against the real binary with several shards: blocking pops woken from other
//! connections (other threads), FIFO service, timeouts, disconnects, moves across shards.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::Server;
use mayfly::engine::Router;
use redis::{Connection, Value};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn start() -> Server {
    Server::start(&["--proactor_threads", "4"])
}

fn q(c: &mut Connection, parts: &[&str]) -> Result<Value, String> {
    let mut cmd = redis::cmd(parts[0]);
    for p in &parts[1..] {
        cmd.arg(*p);
    }
    cmd.query::<Value>(c).map_err(|e| e.to_string())
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn blocked_clients(c: &mut Connection) -> i64 {
    let info: String = redis::cmd("INFO").arg("clients").query(c).unwrap();
    let line = info.lines().find(|l| l.starts_with("blocked_clients:")).expect("blocked_clients in INFO");
    line["blocked_clients:".len()..].trim().parse().unwrap()
}

fn wait_blocked(c: &mut Connection, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while blocked_clients(c) != n {
        assert!(Instant::now() < deadline, "never reached {n} blocked clients");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Two keys the server places on different shards (with or without hash tags).
fn keys_on_two_shards(prefix: &str) -> (String, String) {
    let routers = [Router { num_shards: 4, use_tags: true }, Router { num_shards: 4, use_tags: false }];
    let a = format!("{prefix}-a");
    for i in 0..100 {
        let b = format!("{prefix}-b{i}");
        if routers.iter().all(|r| r.shard_of(a.as_bytes()) != r.shard_of(b.as_bytes())) {
            return (a, b);
        }
    }
    unreachable!()
}

#[test]
fn blpop_is_woken_by_a_push_from_another_connection() {
    let s = start();
    let mut c = s.client();
    let mut waiter = s.client();
    let t = std::thread::spawn(move || q(&mut waiter, &["BLPOP", "nothing", "wk", "0"]).unwrap());
    wait_blocked(&mut c, 1);
    assert_eq!(q(&mut c, &["LPUSH", "wk", "x", "y"]).unwrap(), Value::Int(2));
    assert_eq!(t.join().unwrap(), Value::Array(vec![bulk("wk"), bulk("y")]));
    assert_eq!(q(&mut c, &["LRANGE", "wk", "0", "-1"]).unwrap(), Value::Array(vec![bulk("x")]));
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn blocked_clients_are_served_first_come_first_served() {
    let s = start();
    let mut c = s.client();
    let mut threads = Vec::new();
    for i in 0..3 {
        let mut w = s.client();
        threads.push(std::thread::spawn(move || q(&mut w, &["BRPOP", "fifo", "0"]).unwrap()));
        wait_blocked(&mut c, i + 1);
    }
    q(&mut c, &["RPUSH", "fifo", "a"]).unwrap();
    q(&mut c, &["RPUSH", "fifo", "b"]).unwrap();
    q(&mut c, &["LPUSH", "fifo", "c"]).unwrap();
    let got: Vec<Value> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let want: Vec<Value> = ["a", "b", "c"].iter().map(|v| Value::Array(vec![bulk("fifo"), bulk(v)])).collect();
    assert_eq!(got, want);
    assert_eq!(q(&mut c, &["EXISTS", "fifo"]).unwrap(), Value::Int(0));
}

#[test]
fn timeouts_reply_nil_arrays_in_both_protocols() {
    let s = start();
    let mut c = s.client();
    let t0 = Instant::now();
    assert_eq!(q(&mut c, &["BLPOP", "none", "0.1"]).unwrap(), Value::Nil);
    assert!(t0.elapsed() >= Duration::from_millis(100));
    let mut raw = s.raw();
    raw.write_all(b"BLMPOP 0.05 2 none1 none2 LEFT COUNT 2\r\n").unwrap();
    let mut buf = [0u8; 5];
    raw.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"*-1\r\n");
    raw.write_all(b"HELLO 3\r\n").unwrap();
    let mut hello = vec![0u8; 4096];
    let n = raw.read(&mut hello).unwrap();
    assert!(n > 0);
    raw.write_all(b"BRPOPLPUSH none other 0.05\r\n").unwrap();
    let mut buf = [0u8; 3];
    raw.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"_\r\n");
    assert!(q(&mut c, &["BLPOP", "k", "-1"]).unwrap_err().contains("timeout is negative"));
    assert!(q(&mut c, &["BLPOP", "k", "abc"]).unwrap_err().contains("timeout is not a float or out of range"));
    q(&mut c, &["SET", "str", "v"]).unwrap();
    assert!(q(&mut c, &["BLPOP", "str", "0"]).unwrap_err().contains("wrong kind of value"));
}

#[test]
fn a_client_that_disconnects_while_blocked_is_not_served() {
    let s = start();
    let mut c = s.client();
    let mut raw = s.raw();
    raw.write_all(b"BLPOP gone 0\r\n").unwrap();
    wait_blocked(&mut c, 1);
    drop(raw);
    wait_blocked(&mut c, 0);
    assert_eq!(q(&mut c, &["RPUSH", "gone", "kept"]).unwrap(), Value::Int(1));
    assert_eq!(q(&mut c, &["LRANGE", "gone", "0", "-1"]).unwrap(), Value::Array(vec![bulk("kept")]));
}

#[test]
fn blmove_and_lmove_across_shards() {
    let s = start();
    let mut c = s.client();
    let (src, dst) = keys_on_two_shards("mv");
    let (s2, d2) = (src.clone(), dst.clone());
    let mut w = s.client();
    let t = std::thread::spawn(move || q(&mut w, &["BLMOVE", &s2, &d2, "LEFT", "RIGHT", "0"]).unwrap());
    wait_blocked(&mut c, 1);
    q(&mut c, &["RPUSH", &src, "one", "two"]).unwrap();
    assert_eq!(t.join().unwrap(), bulk("one"));
    assert_eq!(q(&mut c, &["LRANGE", &dst, "0", "-1"]).unwrap(), Value::Array(vec![bulk("one")]));
    assert_eq!(q(&mut c, &["LMOVE", &src, &dst, "RIGHT", "LEFT"]).unwrap(), bulk("two"));
    assert_eq!(q(&mut c, &["EXISTS", &src]).unwrap(), Value::Int(0));
    assert_eq!(q(&mut c, &["RPOPLPUSH", &src, &dst]).unwrap(), Value::Nil);
    assert_eq!(q(&mut c, &["LRANGE", &dst, "0", "-1"]).unwrap(), Value::Array(vec![bulk("two"), bulk("one")]));
    // LMPOP and BLPOP over keys of several shards: the first non-empty key in order wins.
    assert_eq!(
        q(&mut c, &["LMPOP", "2", &src, &dst, "RIGHT", "COUNT", "5"]).unwrap(),
        Value::Array(vec![bulk(&dst), Value::Array(vec![bulk("one"), bulk("two")])])
    );
    let (s3, d3) = (src.clone(), dst.clone());
    let mut w = s.client();
    let t = std::thread::spawn(move || q(&mut w, &["BLPOP", &s3, &d3, "0"]).unwrap());
    wait_blocked(&mut c, 1);
    q(&mut c, &["RPUSH", &dst, "z"]).unwrap();
    assert_eq!(t.join().unwrap(), Value::Array(vec![bulk(&dst), bulk("z")]));
    q(&mut c, &["SET", &dst, "string"]).unwrap();
    q(&mut c, &["RPUSH", &src, "v"]).unwrap();
    assert!(q(&mut c, &["LMOVE", &src, &dst, "LEFT", "LEFT"]).unwrap_err().contains("wrong kind of value"));
    assert_eq!(q(&mut c, &["LLEN", &src]).unwrap(), Value::Int(1));
}

#[test]
fn linked_moves_are_served_before_the_push_returns() {
    let s = start();
    let mut c = s.client();
    let mut w1 = s.client();
    let mut w2 = s.client();
    let t1 = std::thread::spawn(move || q(&mut w1, &["BLMOVE", "l1{t}", "l2{t}", "RIGHT", "LEFT", "0"]).unwrap());
    wait_blocked(&mut c, 1);
    let t2 = std::thread::spawn(move || q(&mut w2, &["BRPOPLPUSH", "l2{t}", "l3{t}", "0"]).unwrap());
    wait_blocked(&mut c, 2);
    q(&mut c, &["RPUSH", "l1{t}", "foo"]).unwrap();
    assert_eq!(q(&mut c, &["LRANGE", "l1{t}", "0", "-1"]).unwrap(), Value::Array(vec![]));
    assert_eq!(q(&mut c, &["LRANGE", "l2{t}", "0", "-1"]).unwrap(), Value::Array(vec![]));
    assert_eq!(q(&mut c, &["LRANGE", "l3{t}", "0", "-1"]).unwrap(), Value::Array(vec![bulk("foo")]));
    assert_eq!(t1.join().unwrap(), bulk("foo"));
    assert_eq!(t2.join().unwrap(), bulk("foo"));
    assert_eq!(q(&mut c, &["OBJECT", "ENCODING", "l3{t}"]).unwrap(), bulk("listpack"));
    assert_eq!(q(&mut c, &["TYPE", "l3{t}"]).unwrap(), Value::SimpleString("list".into()));
}

#[test]
fn rename_and_copy_into_a_waited_key_wake_it() {
    let s = start();
    let mut c = s.client();
    let (other, waited) = keys_on_two_shards("rn");
    for (i, cmd) in [["RENAME", &other, &waited], ["COPY", &other, &waited]].iter().enumerate() {
        let w2 = waited.clone();
        let mut w = s.client();
        let t = std::thread::spawn(move || q(&mut w, &["BRPOP", &w2, "5"]).unwrap());
        wait_blocked(&mut c, 1);
        q(&mut c, &["RPUSH", &other, &format!("v{i}")]).unwrap();
        q(&mut c, &cmd[..]).unwrap();
        assert_eq!(t.join().unwrap(), Value::Array(vec![bulk(&waited), bulk(&format!("v{i}"))]), "{cmd:?}");
        q(&mut c, &["DEL", &other]).unwrap();
    }
}
