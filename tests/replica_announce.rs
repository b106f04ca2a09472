//! What a replica tells its primary and Sentinel about itself: `replica-announce-ip` and
//! `replica-announce-port` (REPLCONF ip-address / listening-port) decide where the primary's
//! INFO and ROLE list it, which is how Sentinel finds replicas behind NAT or by DNS name in
//! Kubernetes; `replica-priority` reaches INFO's slave_priority (0 = Sentinel never promotes it).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::Server;
use std::time::{Duration, Instant};

fn info(server: &Server) -> String {
    redis::cmd("INFO").arg("replication").query(&mut server.client()).unwrap()
}

fn wait_for_line(server: &Server, line: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = info(server);
        if text.lines().any(|l| l.contains(line)) {
            return text;
        }
        assert!(Instant::now() < deadline, "no line with '{line}' in:\n{text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn primary_lists_the_announced_address_and_port() {
    let primary = Server::start(&[]);
    let replica = Server::start(&[
        &format!("--replicaof=127.0.0.1:{}", primary.port),
        "--replica_announce_ip=mayfly-1.mayfly-headless.cache.svc.cluster.local",
        "--replica_announce_port=7777",
    ]);
    wait_for_line(&primary, "slave0:ip=mayfly-1.mayfly-headless.cache.svc.cluster.local,port=7777,state=online");
    let role: redis::Value = redis::cmd("ROLE").query(&mut primary.client()).unwrap();
    let text = format!("{role:?}");
    assert!(text.contains("mayfly-1.mayfly-headless.cache.svc.cluster.local") && text.contains("7777"), "{text}");
    drop(replica);
}

#[test]
fn without_announce_settings_the_socket_address_and_listening_port_are_used() {
    let primary = Server::start(&[]);
    let replica = Server::start(&[&format!("--replicaof=127.0.0.1:{}", primary.port)]);
    wait_for_line(&primary, &format!("slave0:ip=127.0.0.1,port={},state=online", replica.port));
}

#[test]
fn replica_priority_is_reported_and_settable() {
    let primary = Server::start(&[]);
    let replica = Server::start(&[&format!("--replicaof=127.0.0.1:{}", primary.port), "--slave-priority=0"]);
    wait_for_line(&replica, "master_link_status:up");
    assert!(info(&replica).contains("\r\nslave_priority:0\r\n"));
    let mut con = replica.client();
    let _: () = redis::cmd("CONFIG").arg("SET").arg("replica-priority").arg("42").query(&mut con).unwrap();
    assert!(info(&replica).contains("\r\nslave_priority:42\r\n"));
    let err = redis::cmd("CONFIG").arg("SET").arg("replica-priority").arg("-1").query::<()>(&mut con).unwrap_err();
    assert_eq!(err.code(), Some("ERR"), "{err:?}");
}

#[test]
fn announce_settings_apply_at_the_next_handshake() {
    let primary = Server::start(&[]);
    let replica = Server::start(&[&format!("--replicaof=127.0.0.1:{}", primary.port)]);
    wait_for_line(&primary, &format!("slave0:ip=127.0.0.1,port={}", replica.port));
    // Listed from its PSYNC on, the replica may still be loading (REPLICAOF then says LOADING).
    wait_for_line(&replica, "master_link_status:up");
    let mut con = replica.client();
    let _: () = redis::cmd("CONFIG").arg("SET").arg("replica-announce-ip").arg("10.1.2.3").query(&mut con).unwrap();
    // A new REPLICAOF runs a new handshake, which carries the new address.
    let _: () = redis::cmd("REPLICAOF").arg("NO").arg("ONE").query(&mut con).unwrap();
    let _: () = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(primary.port).query(&mut con).unwrap();
    wait_for_line(&primary, &format!(":ip=10.1.2.3,port={},state=online", replica.port));
}
