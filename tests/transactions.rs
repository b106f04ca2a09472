//! MULTI / EXEC / DISCARD / WATCH through a real 4-shard server: Redis's replies and errors, WATCH
//! aborts (another client's write, expiry, FLUSHDB), and atomicity of transactions spanning
//! shards under concurrent readers.
#![allow(clippy::disallowed_methods)]

mod common;
mod resp;

use common::Server;
use resp::{Resp, V};
use std::time::Duration;

fn ok() -> V {
    V::Simple("OK".into())
}

fn queued() -> V {
    V::Simple("QUEUED".into())
}

#[test]
fn multi_exec_replies_and_errors() {
    let s = Server::start(&["--proactor_threads", "4"]);
    let mut c = Resp::connect(s.port);
    assert_eq!(c.call(&["EXEC"]), V::Err("ERR EXEC without MULTI".into()));
    assert_eq!(c.call(&["DISCARD"]), V::Err("ERR DISCARD without MULTI".into()));
    assert_eq!(c.call(&["MULTI"]), ok());
    assert_eq!(c.call(&["MULTI"]), V::Err("ERR MULTI calls can not be nested".into()));
    assert_eq!(c.call(&["WATCH", "x"]), V::Err("ERR WATCH inside MULTI is not allowed".into()));
    assert_eq!(c.call(&["SET", "a", "1"]), queued());
    assert_eq!(c.call(&["MSET", "b", "2", "c", "3", "d", "4"]), queued());
    assert_eq!(c.call(&["INCR", "a"]), queued());
    assert_eq!(c.call(&["MGET", "a", "b", "c", "d"]), queued());
    assert_eq!(c.call(&["PING"]), queued());
    assert_eq!(
        c.call(&["EXEC"]),
        V::arr(vec![
            ok(),
            ok(),
            V::Int(2),
            V::arr(vec![V::bulk("2"), V::bulk("2"), V::bulk("3"), V::bulk("4")]),
            V::Simple("PONG".into()),
        ])
    );
    // Errors while queueing abort the transaction; errors while running do not.
    assert_eq!(c.call(&["MULTI"]), ok());
    assert_eq!(c.call(&["SET", "a", "9"]), queued());
    assert!(matches!(c.call(&["NOSUCHCMD"]), V::Err(e) if e.starts_with("ERR unknown command")));
    assert_eq!(c.call(&["GET"]), V::Err("ERR wrong number of arguments for 'get' command".into()));
    assert_eq!(c.call(&["EXEC"]), V::Err("EXECABORT Transaction discarded because of previous errors.".into()));
    assert_eq!(c.call(&["GET", "a"]), V::bulk("2"));
    assert_eq!(c.call(&["MULTI"]), ok());
    assert_eq!(c.call(&["SET", "s", "x"]), queued());
    assert_eq!(c.call(&["INCR", "s"]), queued());
    assert_eq!(c.call(&["SET", "t", "y"]), queued());
    assert_eq!(
        c.call(&["EXEC"]),
        V::arr(vec![ok(), V::Err("ERR value is not an integer or out of range".into()), ok()])
    );
    assert_eq!(c.call(&["MULTI"]), ok());
    assert_eq!(c.call(&["SET", "a", "10"]), queued());
    assert_eq!(c.call(&["DISCARD"]), ok());
    assert_eq!(c.call(&["GET", "a"]), V::bulk("2"));
    // SELECT inside a transaction moves the commands after it.
    assert_eq!(c.call(&["MULTI"]), ok());
    assert_eq!(c.call(&["SELECT", "5"]), queued());
    assert_eq!(c.call(&["SET", "a", "db5"]), queued());
    assert_eq!(c.call(&["EXEC"]), V::arr(vec![ok(), ok()]));
    assert_eq!(c.call(&["GET", "a"]), V::bulk("db5"));
}

#[test]
fn watch_aborts_on_changes_expiry_and_flush() {
    let s = Server::start(&["--proactor_threads", "4"]);
    let mut c = Resp::connect(s.port);
    let mut other = Resp::connect(s.port);
    // Untouched: EXEC runs.
    assert_eq!(c.call(&["SET", "w", "1"]), ok());
    assert_eq!(c.call(&["WATCH", "w", "w2"]), ok());
    assert_eq!(c.call(&["MULTI"]), ok());
    assert_eq!(c.call(&["INCR", "w"]), queued());
    assert_eq!(c.call(&["EXEC"]), V::arr(vec![V::Int(2)]));
    // Another client's write: nil.
    assert_eq!(c.call(&["WATCH", "w"]), ok());
    assert_eq!(other.call(&["SET", "w", "5"]), ok());
    assert_eq!(c.call(&["MULTI"]), ok());
    assert_eq!(c.call(&["INCR", "w"]), queued());
    assert_eq!(c.call(&["EXEC"]), V::Array(None));
    assert_eq!(c.call(&["GET", "w"]), V::bulk("5"));
    // The watch is gone after EXEC.
    assert_eq!(other.call(&["SET", "w", "6"]), ok());
    assert_eq!(c.call(&["MULTI"]), ok());
    assert_eq!(c.call(&["INCR", "w"]), queued());
    assert_eq!(c.call(&["EXEC"]), V::arr(vec![V::Int(7)]));
    // UNWATCH forgets.
    assert_eq!(c.call(&["WATCH", "w"]), ok());
    assert_eq!(other.call(&["SET", "w", "1"]), ok());
    assert_eq!(c.call(&["UNWATCH"]), ok());
    assert_eq!(c.call(&["MULTI"]), ok());
    assert_eq!(c.call(&["EXEC"]), V::arr(vec![]));
    // A watched key that expires before EXEC fails it.
    assert_eq!(c.call(&["SET", "e", "1", "PX", "100"]), ok());
    assert_eq!(c.call(&["WATCH", "e"]), ok());
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(c.call(&["MULTI"]), ok());
    assert_eq!(c.call(&["PING"]), queued());
    assert_eq!(c.call(&["EXEC"]), V::Array(None));
    // FLUSHDB touches watched keys that exist.
    assert_eq!(c.call(&["SET", "f", "1"]), ok());
    assert_eq!(c.call(&["WATCH", "f"]), ok());
    assert_eq!(other.call(&["FLUSHDB"]), ok());
    assert_eq!(c.call(&["MULTI"]), ok());
    assert_eq!(c.call(&["PING"]), queued());
    assert_eq!(c.call(&["EXEC"]), V::Array(None));
    // A write in another database does not touch the watch.
    assert_eq!(c.call(&["WATCH", "g"]), ok());
    assert_eq!(other.call(&["SELECT", "3"]), ok());
    assert_eq!(other.call(&["SET", "g", "1"]), ok());
    assert_eq!(c.call(&["MULTI"]), ok());
    assert_eq!(c.call(&["PING"]), queued());
    assert_eq!(c.call(&["EXEC"]), V::arr(vec![V::Simple("PONG".into())]));
}

#[test]
fn transactions_across_shards_are_atomic_for_concurrent_readers() {
    let s = Server::start(&["--proactor_threads", "4"]);
    let keys: Vec<String> = (0..6).map(|i| format!("acct:{i}")).collect();
    let port = s.port;
    let mut threads = Vec::new();
    for w in 0..3 {
        let keys = keys.clone();
        threads.push(std::thread::spawn(move || {
            let mut c = Resp::connect(port);
            for n in 0..150 {
                let token = format!("w{w}-{n}");
                assert_eq!(c.call(&["MULTI"]), ok());
                for k in &keys {
                    assert_eq!(c.call(&["SET", k, &token]), queued());
                }
                let V::Array(Some(r)) = c.call(&["EXEC"]) else { panic!("EXEC failed") };
                assert_eq!(r.len(), keys.len());
            }
        }));
    }
    for _ in 0..3 {
        let keys = keys.clone();
        threads.push(std::thread::spawn(move || {
            let mut c = Resp::connect(port);
            for n in 0..150 {
                let items = if n % 2 == 0 {
                    assert_eq!(c.call(&["MULTI"]), ok());
                    for k in &keys {
                        assert_eq!(c.call(&["GET", k]), queued());
                    }
                    match c.call(&["EXEC"]) {
                        V::Array(Some(items)) => items,
                        other => panic!("EXEC replied {other:?}"),
                    }
                } else {
                    let mut parts = vec!["MGET"];
                    parts.extend(keys.iter().map(String::as_str));
                    match c.call(&parts) {
                        V::Array(Some(items)) => items,
                        other => panic!("MGET replied {other:?}"),
                    }
                };
                assert!(items.windows(2).all(|w| w[0] == w[1]), "torn transaction: {items:?}");
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
}
