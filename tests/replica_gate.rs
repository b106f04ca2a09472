//! A Mayfly replica refuses client writes with READONLY whichever shard owns the key: keys of
//! other shards than the connection's own go through the pipelined (squashed) path, which must
//! check the same gate. Also after a runtime REPLICAOF, the way Sentinel demotes a server.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::Server;
use std::time::{Duration, Instant};

const THREADS: &str = "--proactor_threads=4";

fn assert_every_write_refused(replica: &Server, primary: &Server) {
    // Several connections, so that some are served by each shard thread.
    for c in 0..4 {
        let mut con = replica.client();
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for i in 0..32 {
            pipe.cmd("SET").arg(format!("k:{c}:{i}")).arg("v");
        }
        let replies: Vec<redis::Value> = pipe.query(&mut con).unwrap_or_else(|e| panic!("pipeline: {e:?}"));
        for (i, r) in replies.iter().enumerate() {
            match r {
                redis::Value::ServerError(e) => assert_eq!(e.code(), "READONLY", "key k:{c}:{i}: {e:?}"),
                other => panic!("a replica accepted SET k:{c}:{i}: {other:?}"),
            }
        }
        for i in 0..32 {
            let err = redis::cmd("INCR").arg(format!("n:{c}:{i}")).query::<i64>(&mut con).unwrap_err();
            assert_eq!(err.code(), Some("READONLY"), "INCR n:{c}:{i}: {err:?}");
        }
    }
    let mut p = primary.client();
    let dbsize: i64 = redis::cmd("DBSIZE").query(&mut p).unwrap();
    assert_eq!(dbsize, 0, "nothing written on the primary");
    let mut r = replica.client();
    let dbsize: i64 = redis::cmd("DBSIZE").query(&mut r).unwrap();
    assert_eq!(dbsize, 0, "the replica's data did not change");
}

fn wait_link_up(replica: &Server) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut con = replica.client();
    loop {
        let info: String = redis::cmd("INFO").arg("replication").query(&mut con).unwrap();
        if info.contains("master_link_status:up") {
            return;
        }
        assert!(Instant::now() < deadline, "link never came up:\n{info}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn replica_started_with_replicaof_refuses_writes_on_every_shard() {
    let primary = Server::start(&[THREADS]);
    let replica = Server::start(&[THREADS, &format!("--replicaof=127.0.0.1:{}", primary.port)]);
    wait_link_up(&replica);
    assert_every_write_refused(&replica, &primary);
}

#[test]
fn primary_demoted_by_replicaof_refuses_writes_on_every_shard() {
    let primary = Server::start(&[THREADS]);
    let demoted = Server::start(&[THREADS]);
    let mut con = demoted.client();
    let _: () = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(primary.port).query(&mut con).unwrap();
    wait_link_up(&demoted);
    assert_every_write_refused(&demoted, &primary);
}
