//! Promotion under a live write stream: a chain primary -> replica -> sub-replica, INCRs
//! streaming to the primary while the replica gets REPLICAOF NO ONE. Whatever the replica
//! applied before it stopped, its sub-replica (which keeps following it) must end with exactly
//! its data: a command applied while the new history began must not reach the sub-replica twice
//! (once recorded by the shards, once proxied from the old primary's stream).

#![allow(clippy::disallowed_methods)]

mod common;

use common::Server;
use redis::Connection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn info_field(c: &mut Connection, field: &str) -> String {
    let text: String = redis::cmd("INFO").arg("replication").query(c).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO replication:\n{text}"))
        .trim()
        .to_string()
}

fn wait_in_sync(primary: &mut Connection, replica: &mut Connection) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let up = info_field(replica, "master_link_status") == "up";
        let want = info_field(primary, "master_repl_offset");
        let have = info_field(replica, "master_repl_offset");
        if up && want == have && info_field(primary, "master_replid") == info_field(replica, "master_replid") {
            return;
        }
        assert!(Instant::now() < deadline, "replica never caught up: link up {up}, offset {have} of {want}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_sub_replica_ends_equal_to_a_replica_promoted_under_writes() {
    let primary = Server::start(&["--proactor_threads", "2"]);
    let replica = Server::start(&["--proactor_threads", "2", "--replicaof", &format!("127.0.0.1:{}", primary.port)]);
    let sub = Server::start(&["--proactor_threads", "2", "--replicaof", &format!("127.0.0.1:{}", replica.port)]);
    let (mut p, mut r, mut s) = (primary.client(), replica.client(), sub.client());
    let _: () = redis::cmd("SET").arg("warm").arg("1").query(&mut p).unwrap();
    wait_in_sync(&mut p, &mut r);
    wait_in_sync(&mut r, &mut s);

    for round in 0..5 {
        if round > 0 {
            // Back to a chain under the primary for the next round.
            let _: () = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(primary.port).query(&mut r).unwrap();
            wait_in_sync(&mut p, &mut r);
            wait_in_sync(&mut r, &mut s);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let (stop, mut c) = (stop.clone(), primary.client());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let _: i64 = redis::cmd("INCR").arg(format!("n{w}")).query(&mut c).unwrap();
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(150));
        let _: () = redis::cmd("REPLICAOF").arg("NO").arg("ONE").query(&mut r).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        stop.store(true, Ordering::Relaxed);
        writers.into_iter().for_each(|w| w.join().unwrap());
        // A write on the new primary, so the sub-replica must have followed its new history.
        let _: i64 = redis::cmd("INCR").arg("after").query(&mut r).unwrap();
        wait_in_sync(&mut r, &mut s);
        for key in ["n0", "n1", "n2", "n3", "after"] {
            let on_replica: Option<i64> = redis::cmd("GET").arg(key).query(&mut r).unwrap();
            let on_sub: Option<i64> = redis::cmd("GET").arg(key).query(&mut s).unwrap();
            assert_eq!(on_sub, on_replica, "round {round}: {key} on the sub-replica vs the promoted replica");
        }
    }
}
