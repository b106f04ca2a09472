//! The sharded engine through a real client: many shards, cross-shard atomicity, TTLs.
// Tests drive a real process from real threads: the simulator's determinism rules don't apply.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;
use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn keys_spread_over_shards_are_all_reachable() {
    let s = Server::start(&["--proactor_threads", "4"]);
    let mut c = s.client();
    for i in 0..2000 {
        let _: () = redis::cmd("SET").arg(format!("k{i}")).arg(i).query(&mut c).unwrap();
    }
    let keys: Vec<String> = (0..2000).map(|i| format!("k{i}")).collect();
    let vals: Vec<i64> = redis::cmd("MGET").arg(&keys).query(&mut c).unwrap();
    assert_eq!(vals, (0..2000).collect::<Vec<_>>());
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 2000);
    assert_eq!(redis::cmd("DEL").arg(&keys[..1000]).query::<i64>(&mut c).unwrap(), 1000);
    assert_eq!(redis::cmd("EXISTS").arg(&keys).query::<i64>(&mut c).unwrap(), 1000);
}

/// Writers set a group of keys on different shards to one token with MSET; readers must never
/// see a mix of tokens from MGET.
#[test]
fn cross_shard_mset_is_atomic_for_concurrent_readers() {
    let s = Arc::new(Server::start(&["--proactor_threads", "4"]));
    let group: Vec<String> = (0..8).map(|i| format!("group:{i}")).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for w in 0..3 {
        let (s, group, stop) = (s.clone(), group.clone(), stop.clone());
        handles.push(std::thread::spawn(move || {
            let mut c = s.client();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let token = format!("w{w}-{n}");
                let mut cmd = redis::cmd("MSET");
                for k in &group {
                    cmd.arg(k).arg(&token);
                }
                let _: () = cmd.query(&mut c).unwrap();
                n += 1;
            }
            0usize
        }));
    }
    for _ in 0..3 {
        let (s, group, stop) = (s.clone(), group.clone(), stop.clone());
        handles.push(std::thread::spawn(move || {
            let mut c = s.client();
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                let vals: Vec<Option<String>> = redis::cmd("MGET").arg(&group).query(&mut c).unwrap();
                assert!(vals.windows(2).all(|w| w[0] == w[1]), "torn MGET: {vals:?}");
                reads += 1;
            }
            reads
        }));
    }
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    let reads: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(reads > 100, "too few reads to mean anything: {reads}");
}

#[test]
fn ttls_expire_lazily_and_actively() {
    const TTL: Duration = Duration::from_millis(300);
    let s = Server::start(&["--proactor_threads", "2"]);
    let mut c = s.client();
    let set_at = std::time::Instant::now();
    for i in 0..200 {
        let _: () = redis::cmd("SET")
            .arg(format!("t{i}"))
            .arg("v")
            .arg("PX")
            .arg(TTL.as_millis() as u64)
            .query(&mut c)
            .unwrap();
    }
    let _: () = redis::cmd("SET").arg("keep").arg("v").query(&mut c).unwrap();
    let t1 = redis::cmd("GET").arg("t1").query::<Option<String>>(&mut c).unwrap();
    // Every deadline is after set_at + TTL, so a GET answered before then must find the key
    // (on a busy machine the writes alone may take longer: then this proves nothing).
    if set_at.elapsed() + Duration::from_millis(20) < TTL {
        assert_eq!(t1.as_deref(), Some("v"));
    }
    std::thread::sleep(TTL.saturating_sub(set_at.elapsed()));
    // Nobody touches the keys (DBSIZE counts without expiring): the active cycle must remove
    // them. Polled with a deadline: the expiry tick runs late on a busy machine.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n = redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap();
        if n == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the active cycle left {} expired keys", n - 1);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(redis::cmd("GET").arg("t1").query::<Option<String>>(&mut c).unwrap(), None);
    assert_eq!(redis::cmd("GET").arg("keep").query::<Option<String>>(&mut c).unwrap().as_deref(), Some("v"));
}

#[test]
fn databases_are_separate() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let _: () = redis::cmd("SET").arg("k").arg("zero").query(&mut c).unwrap();
    let _: () = redis::cmd("SELECT").arg(3).query(&mut c).unwrap();
    assert_eq!(redis::cmd("GET").arg("k").query::<Option<String>>(&mut c).unwrap(), None);
    let err = redis::cmd("SELECT").arg(16).query::<()>(&mut c).unwrap_err();
    assert!(err.to_string().contains("DB index is out of range"), "{err}");
}
