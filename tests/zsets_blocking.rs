//! Blocking sorted-set pops (BZPOPMIN, BZPOPMAX, BZMPOP) over TCP against the real binary with
//! four shards: wake-ups by writes from other connections (other threads), FIFO service,
//! timeouts in both protocols, waits across shards served once, disconnects.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::Server;
use mayfly::engine::Router;
use redis::{Connection, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
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

fn arr(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| bulk(s)).collect())
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

/// Reads exactly `want.len()` bytes from a raw socket and compares them.
fn expect_raw(raw: &mut TcpStream, want: &[u8]) {
    let mut buf = vec![0u8; want.len()];
    raw.read_exact(&mut buf).unwrap();
    assert_eq!(String::from_utf8_lossy(&buf), String::from_utf8_lossy(want));
}

#[test]
fn bzpopmin_is_woken_by_zadd_from_another_connection() {
    let s = start();
    let mut c = s.client();
    let mut waiter = s.client();
    let t = std::thread::spawn(move || q(&mut waiter, &["BZPOPMIN", "nothing", "zk", "0"]).unwrap());
    wait_blocked(&mut c, 1);
    assert_eq!(q(&mut c, &["ZADD", "zk", "2", "b", "1.5", "a"]).unwrap(), Value::Int(2));
    assert_eq!(t.join().unwrap(), arr(&["zk", "a", "1.5"]));
    assert_eq!(q(&mut c, &["ZRANGE", "zk", "0", "-1"]).unwrap(), arr(&["b"]));
    assert_eq!(blocked_clients(&mut c), 0);

    // BZPOPMAX woken by ZINCRBY creating the key; an existing set is popped at once.
    let mut waiter = s.client();
    let t = std::thread::spawn(move || q(&mut waiter, &["BZPOPMAX", "zmax", "0"]).unwrap());
    wait_blocked(&mut c, 1);
    q(&mut c, &["ZINCRBY", "zmax", "7", "m"]).unwrap();
    assert_eq!(t.join().unwrap(), arr(&["zmax", "m", "7"]));
    assert_eq!(q(&mut c, &["EXISTS", "zmax"]).unwrap(), Value::Int(0), "emptied sets are deleted");
    assert_eq!(q(&mut c, &["BZPOPMAX", "none", "zk", "0"]).unwrap(), arr(&["zk", "b", "2"]));
}

#[test]
fn zunionstore_into_a_waited_key_wakes_it() {
    let s = start();
    let mut c = s.client();
    let (dst, src) = keys_on_two_shards("zu");
    q(&mut c, &["ZADD", &src, "3", "x", "4", "y"]).unwrap();
    let mut waiter = s.client();
    let d2 = dst.clone();
    let t = std::thread::spawn(move || q(&mut waiter, &["BZPOPMAX", &d2, "0"]).unwrap());
    wait_blocked(&mut c, 1);
    assert_eq!(q(&mut c, &["ZUNIONSTORE", &dst, "1", &src]).unwrap(), Value::Int(2));
    assert_eq!(t.join().unwrap(), arr(&[&dst, "y", "4"]));
    assert_eq!(q(&mut c, &["ZRANGE", &dst, "0", "-1"]).unwrap(), arr(&["x"]));
}

#[test]
fn timeouts_reply_nil_arrays_in_both_protocols_and_errors_match_redis() {
    let s = start();
    let mut c = s.client();
    let t0 = Instant::now();
    assert_eq!(q(&mut c, &["BZPOPMIN", "none", "0.1"]).unwrap(), Value::Nil);
    assert!(t0.elapsed() >= Duration::from_millis(100));
    let mut raw = s.raw();
    raw.write_all(b"BZMPOP 0.05 2 none1 none2 MIN COUNT 2\r\n").unwrap();
    expect_raw(&mut raw, b"*-1\r\n");
    raw.write_all(b"HELLO 3\r\n").unwrap();
    let mut hello = vec![0u8; 4096];
    assert!(raw.read(&mut hello).unwrap() > 0);
    raw.write_all(b"BZPOPMAX none 0.05\r\n").unwrap();
    expect_raw(&mut raw, b"_\r\n");
    // RESP3 scores are doubles.
    q(&mut c, &["ZADD", "r3", "1", "a", "2", "b", "3", "c"]).unwrap();
    raw.write_all(b"BZPOPMIN r3 0\r\n").unwrap();
    expect_raw(&mut raw, b"*3\r\n$2\r\nr3\r\n$1\r\na\r\n,1\r\n");
    raw.write_all(b"BZMPOP 0 1 r3 MAX COUNT 1\r\n").unwrap();
    expect_raw(&mut raw, b"*2\r\n$2\r\nr3\r\n*1\r\n*2\r\n$1\r\nc\r\n,3\r\n");

    assert!(q(&mut c, &["BZPOPMIN", "k", "-1"]).unwrap_err().contains("timeout is negative"));
    assert!(q(&mut c, &["BZPOPMAX", "k", "abc"]).unwrap_err().contains("timeout is not a float or out of range"));
    assert!(q(&mut c, &["BZMPOP", "abc", "1", "k", "MIN"]).unwrap_err().contains("timeout is not a float"));
    assert!(q(&mut c, &["BZMPOP", "0", "0", "k", "MIN"]).unwrap_err().contains("numkeys should be greater than 0"));
    assert!(q(&mut c, &["BZMPOP", "0", "1", "k", "MIN", "COUNT", "0"])
        .unwrap_err()
        .contains("count should be greater than 0"));
    assert!(q(&mut c, &["BZMPOP", "0", "1", "k", "LEFT"]).unwrap_err().contains("syntax error"));
    assert!(q(&mut c, &["BZMPOP", "0", "1", "k"]).unwrap_err().contains("wrong number of arguments for 'bzmpop'"));
    assert!(q(&mut c, &["BZPOPMIN", "k"]).unwrap_err().contains("wrong number of arguments for 'bzpopmin'"));
    q(&mut c, &["SET", "str", "v"]).unwrap();
    assert!(q(&mut c, &["BZPOPMIN", "nokey", "str", "0"]).unwrap_err().contains("wrong kind of value"));
    assert!(q(&mut c, &["BZMPOP", "0", "1", "str", "MIN"]).unwrap_err().contains("wrong kind of value"));
}

#[test]
fn bzmpop_count_pops_up_to_count_from_the_first_non_empty_set() {
    let s = start();
    let mut c = s.client();
    let (a, b) = keys_on_two_shards("mp");
    q(&mut c, &["ZADD", &b, "1", "one", "2", "two", "3", "three"]).unwrap();
    let pair = |m: &str, sc: &str| arr(&[m, sc]);
    assert_eq!(
        q(&mut c, &["BZMPOP", "0", "2", &a, &b, "MAX", "COUNT", "2"]).unwrap(),
        Value::Array(vec![bulk(&b), Value::Array(vec![pair("three", "3"), pair("two", "2")])])
    );
    // Blocked, then woken by a ZADD of several members: COUNT caps what it takes.
    let mut waiter = s.client();
    let a2 = a.clone();
    let t = std::thread::spawn(move || q(&mut waiter, &["BZMPOP", "0", "1", &a2, "MIN", "COUNT", "3"]).unwrap());
    wait_blocked(&mut c, 1);
    q(&mut c, &["ZADD", &a, "4", "d", "1", "a", "3", "c", "2", "b"]).unwrap();
    let want = Value::Array(vec![bulk(&a), Value::Array(vec![pair("a", "1"), pair("b", "2"), pair("c", "3")])]);
    assert_eq!(t.join().unwrap(), want);
    assert_eq!(q(&mut c, &["ZRANGE", &a, "0", "-1"]).unwrap(), arr(&["d"]));
}

#[test]
fn blocked_clients_are_served_first_come_first_served() {
    let s = start();
    let mut c = s.client();
    let mut threads = Vec::new();
    for (i, cmd) in ["BZPOPMIN", "BZPOPMAX"].into_iter().enumerate() {
        let mut w = s.client();
        threads.push(std::thread::spawn(move || q(&mut w, &[cmd, "fifo", "0"]).unwrap()));
        wait_blocked(&mut c, i as i64 + 1);
    }
    // One ZADD of three members serves both waiters in arrival order, each once.
    q(&mut c, &["ZADD", "fifo", "1", "a", "2", "b", "3", "c"]).unwrap();
    let got: Vec<Value> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(got, vec![arr(&["fifo", "a", "1"]), arr(&["fifo", "c", "3"])]);
    assert_eq!(q(&mut c, &["ZRANGE", "fifo", "0", "-1"]).unwrap(), arr(&["b"]));

    // Two waiters, one member each time: the first to block gets the first member.
    let mut threads = Vec::new();
    for i in 0..2 {
        let mut w = s.client();
        threads.push(std::thread::spawn(move || q(&mut w, &["BZPOPMIN", "fifo2", "0"]).unwrap()));
        wait_blocked(&mut c, i + 1);
    }
    q(&mut c, &["ZADD", "fifo2", "5", "first"]).unwrap();
    q(&mut c, &["ZADD", "fifo2", "1", "second"]).unwrap();
    let got: Vec<Value> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(got, vec![arr(&["fifo2", "first", "5"]), arr(&["fifo2", "second", "1"])]);
}

#[test]
fn waits_across_shards_are_served_exactly_once() {
    let s = start();
    let mut c = s.client();
    let (a, b) = keys_on_two_shards("x");
    let mut threads = Vec::new();
    for i in 0..2 {
        let mut w = s.client();
        let (a, b) = (a.clone(), b.clone());
        threads.push(std::thread::spawn(move || q(&mut w, &["BZPOPMIN", &a, &b, "0"]).unwrap()));
        wait_blocked(&mut c, i + 1);
    }
    // Both keys become ready in one pipeline: each waiter is served once, from one key.
    let mut p = redis::pipe();
    p.cmd("ZADD").arg(&a).arg(1).arg("ma").cmd("ZADD").arg(&b).arg(2).arg("mb");
    let _: Vec<i64> = p.query(&mut c).unwrap();
    let mut got: Vec<Value> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    got.sort_by_key(|v| format!("{v:?}"));
    let mut want = vec![arr(&[&a, "ma", "1"]), arr(&[&b, "mb", "2"])];
    want.sort_by_key(|v| format!("{v:?}"));
    assert_eq!(got, want);
    wait_blocked(&mut c, 0);
    assert_eq!(q(&mut c, &["EXISTS", &a, &b]).unwrap(), Value::Int(0));
    // No waiter is left registered: a later write stays put.
    q(&mut c, &["ZADD", &a, "1", "kept"]).unwrap();
    q(&mut c, &["ZADD", &b, "1", "kept"]).unwrap();
    assert_eq!(q(&mut c, &["ZCARD", &a]).unwrap(), Value::Int(1));
    assert_eq!(q(&mut c, &["ZCARD", &b]).unwrap(), Value::Int(1));
}

#[test]
fn a_client_that_disconnects_while_blocked_leaves_nothing_behind() {
    let s = start();
    let mut c = s.client();
    let (a, b) = keys_on_two_shards("gone");
    let mut raw = s.raw();
    raw.write_all(format!("BZMPOP 0 2 {a} {b} MIN\r\n").as_bytes()).unwrap();
    wait_blocked(&mut c, 1);
    drop(raw);
    wait_blocked(&mut c, 0);
    q(&mut c, &["ZADD", &a, "1", "kept"]).unwrap();
    q(&mut c, &["ZADD", &b, "1", "kept"]).unwrap();
    assert_eq!(q(&mut c, &["ZRANGE", &a, "0", "-1"]).unwrap(), arr(&["kept"]));
    assert_eq!(q(&mut c, &["ZRANGE", &b, "0", "-1"]).unwrap(), arr(&["kept"]));
}

#[test]
fn a_list_written_to_a_waited_key_does_not_serve_a_sorted_set_waiter() {
    let s = start();
    let mut c = s.client();
    let mut waiter = s.client();
    let t = std::thread::spawn(move || q(&mut waiter, &["BZPOPMIN", "mixed", "0"]).unwrap());
    wait_blocked(&mut c, 1);
    q(&mut c, &["RPUSH", "mixed", "x"]).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(blocked_clients(&mut c), 1, "still waiting for a sorted set");
    q(&mut c, &["DEL", "mixed"]).unwrap();
    q(&mut c, &["ZADD", "mixed", "1", "z"]).unwrap();
    assert_eq!(t.join().unwrap(), arr(&["mixed", "z", "1"]));
}
