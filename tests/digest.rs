//! DEBUG DIGEST and DIGEST-VALUE give the same digests as Redis 7.0 for the same data, whatever
//! the encodings and however keys spread over shards.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::redis_peer::{installed, RedisServer};
use common::Server;
use redis::cmd;

/// The same writes for both servers: every type, compact and large encodings, integers, a TTL,
/// binary data, a second database.
fn load(c: &mut redis::Connection) {
    let mut p = redis::pipe();
    p.cmd("SET").arg("s:raw").arg("hello world").ignore();
    p.cmd("SET").arg("s:int").arg("12345").ignore();
    p.cmd("SET").arg("s:bin").arg(b"\x00\xff\r\n".as_slice()).ignore();
    p.cmd("SET").arg("s:ttl").arg("v").arg("EX").arg(1000).ignore();
    p.cmd("SETBIT").arg("bits").arg(1000).arg(1).ignore();
    p.cmd("PFADD").arg("hll").arg("a").arg("b").arg("c").ignore();
    p.cmd("RPUSH").arg("list").arg("a").arg("b").arg("1").arg("c").ignore();
    p.cmd("SADD").arg("set:ints").arg(3).arg(1).arg(2).ignore();
    p.cmd("SADD").arg("set:str").arg("x").arg("y").arg("10").ignore();
    p.cmd("ZADD").arg("z").arg(1.5).arg("a").arg(-2).arg("b").arg("1e300").arg("c").arg(0.1).arg("7").ignore();
    p.cmd("HSET").arg("h").arg("f1").arg("v1").arg("f2").arg("22").ignore();
    for i in 0..300 {
        p.cmd("RPUSH").arg("list:big").arg(format!("e{i}")).ignore();
        p.cmd("SADD").arg("set:big").arg(format!("m{i}")).ignore();
        p.cmd("ZADD").arg("z:big").arg(i as f64 / 7.0).arg(format!("m{i}")).ignore();
        p.cmd("HSET").arg("h:big").arg(format!("f{i}")).arg(i).ignore();
        p.cmd("SET").arg(format!("k{i}")).arg(i * 3).ignore();
    }
    p.cmd("PEXPIRE").arg("h:big").arg(1_000_000).ignore();
    p.cmd("SELECT").arg(5).ignore();
    p.cmd("SET").arg("s:raw").arg("hello world").ignore();
    p.cmd("SELECT").arg(0).ignore();
    let _: () = p.query(c).unwrap();
}

fn digest(c: &mut redis::Connection) -> String {
    cmd("DEBUG").arg("DIGEST").query(c).unwrap()
}

#[test]
fn digests_match_redis() {
    if !installed("redis-server") {
        return;
    }
    let m = Server::start(&["--proactor_threads", "4", "--enable_debug_command", "yes"]);
    let r = RedisServer::start(&["--enable-debug-command", "yes"]);
    let (mut mc, mut rc) = (m.client(), r.client());
    assert_eq!(digest(&mut mc), "0".repeat(40), "an empty dataset digests to zeros");
    load(&mut mc);
    load(&mut rc);
    let d = digest(&mut mc);
    assert_ne!(d, "0".repeat(40));
    assert_eq!(d, digest(&mut rc));
    let keys = ["s:raw", "s:int", "s:bin", "s:ttl", "bits", "hll", "list", "set:ints", "set:str", "z", "h", "list:big"];
    let keys = keys.iter().chain(&["set:big", "z:big", "h:big", "missing"]);
    let mut q = cmd("DEBUG");
    q.arg("DIGEST-VALUE");
    for k in keys {
        q.arg(*k);
    }
    let mv: Vec<String> = q.query(&mut mc).unwrap();
    let rv: Vec<String> = q.query(&mut rc).unwrap();
    assert_eq!(mv, rv);
    assert_eq!(mv.last().unwrap(), &"0".repeat(40));

    // Content-sensitive: one changed element, a reordered list, a dropped TTL each change it.
    for change in [
        &["HSET", "h:big", "f7", "x"][..],
        &["LMOVE", "list", "list", "LEFT", "RIGHT"],
        &["PERSIST", "s:ttl"],
        &["ZINCRBY", "z", "1", "a"],
    ] {
        let before = digest(&mut mc);
        let mut c1 = cmd(change[0]);
        c1.arg(&change[1..]);
        let _: redis::Value = c1.query(&mut mc).unwrap();
        let _: redis::Value = c1.query(&mut rc).unwrap();
        let after = digest(&mut mc);
        assert_ne!(before, after, "{change:?}");
        assert_eq!(after, digest(&mut rc), "{change:?}");
    }
}
