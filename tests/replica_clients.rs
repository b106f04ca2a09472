//! A primary shows its replicas' links as clients, as Redis does: CLIENT LIST prints them with
//! flags=S and `TYPE replica` (or `slave`) selects them; CLIENT KILL TYPE replica drops a link
//! and the replica (redis-server or Mayfly) reconnects and continues with PSYNC.

#![allow(clippy::disallowed_methods)]

mod common;

use common::redis_peer::{eventually, info_field, installed, RedisServer};
use common::Server;
use std::time::Duration;

fn client_list(c: &mut redis::Connection, kind: &str) -> Vec<String> {
    let text: String = redis::cmd("CLIENT").arg("LIST").arg("TYPE").arg(kind).query(c).unwrap();
    text.lines().map(str::to_string).collect()
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split(' ').find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('='))).unwrap_or("")
}

fn linked(replica: &mut redis::Connection) -> bool {
    info_field(replica, "master_link_status").as_deref() == Some("up")
        && info_field(replica, "master_sync_in_progress").as_deref() == Some("0")
}

fn counter(c: &mut redis::Connection, name: &str) -> String {
    info_field(c, name).unwrap_or_default()
}

/// Checks the one replica link the primary lists, kills it by type, and waits for the replica
/// to come back with a partial resync.
fn list_kill_and_continue(p: &mut redis::Connection, replica: &mut redis::Connection, kill_type: &str) {
    assert!(eventually(Duration::from_secs(20), || linked(replica)), "the replica never synced");
    // The link shows REPLCONF as its last command once the replica has acknowledged.
    assert!(
        eventually(Duration::from_secs(10), || {
            let lines = client_list(p, "replica");
            lines.len() == 1 && field(&lines[0], "cmd") == "replconf"
        }),
        "no replica link listed: {:?}",
        client_list(p, "replica")
    );
    let line = client_list(p, "replica").remove(0);
    assert_eq!(field(&line, "flags"), "S", "{line}");
    assert_eq!(client_list(p, "slave"), vec![line.clone()], "TYPE slave is TYPE replica");
    let id = field(&line, "id").to_string();
    assert!(!client_list(p, "normal").iter().any(|l| field(l, "id") == id), "a replica is not a normal client");
    let all: String = redis::cmd("CLIENT").arg("LIST").query(p).unwrap();
    assert!(all.lines().any(|l| field(l, "id") == id && field(l, "flags") == "S"), "{all}");

    let full = counter(p, "sync_full");
    let partial: i64 = counter(p, "sync_partial_ok").parse().unwrap();
    redis::cmd("SET").arg("before-kill").arg("1").query::<()>(p).unwrap();
    let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg(kill_type).query(p).unwrap();
    assert_eq!(killed, 1);
    redis::cmd("SET").arg("after-kill").arg("2").query::<()>(p).unwrap();
    assert!(
        eventually(Duration::from_secs(20), || {
            let lines = client_list(p, "replica");
            lines.len() == 1 && field(&lines[0], "id") != id && linked(replica)
        }),
        "the replica never came back: {:?}",
        client_list(p, "replica")
    );
    assert!(
        eventually(Duration::from_secs(10), || {
            redis::cmd("GET").arg("after-kill").query::<Option<String>>(replica).unwrap().as_deref() == Some("2")
        }),
        "the write after the kill never arrived"
    );
    let continued = || counter(p, "sync_partial_ok") == (partial + 1).to_string();
    assert!(eventually(Duration::from_secs(10), continued), "the replica never continued with PSYNC");
    assert_eq!(counter(p, "sync_full"), full, "no second full sync");
}

#[test]
fn a_redis_replica_is_listed_and_killed_by_type() {
    if !installed("redis-server") {
        println!("NOTE: redis-server not installed; replication interop skipped");
        return;
    }
    let m = Server::start(&["--proactor_threads", "2"]);
    let mut p = m.client();
    let r = RedisServer::start(&["--replicaof", "127.0.0.1", &m.port.to_string()]);
    let mut rc = r.client();
    list_kill_and_continue(&mut p, &mut rc, "replica");
}

#[test]
fn a_mayfly_replica_is_listed_and_killed_by_type() {
    let m = Server::start(&["--proactor_threads", "2"]);
    let r = Server::start(&["--proactor_threads", "1", "--replicaof", &format!("127.0.0.1:{}", m.port)]);
    let (mut p, mut rc) = (m.client(), r.client());
    list_kill_and_continue(&mut p, &mut rc, "slave");
}

fn master_link_id(replica: &mut redis::Connection) -> Option<String> {
    let lines = client_list(replica, "master");
    (lines.len() == 1).then(|| field(&lines[0], "id").to_string())
}

/// As Redis's cached master: a link that continues (PSYNC +CONTINUE) keeps its client id; a
/// full resync makes a new master client, with a new id.
#[test]
fn the_master_link_gets_a_new_client_id_after_a_full_resync_only() {
    let m = Server::start(&["--proactor_threads", "1"]);
    let port = m.port;
    let r = Server::start(&["--proactor_threads", "1", "--replicaof", &format!("127.0.0.1:{port}")]);
    let (mut p, mut rc) = (m.client(), r.client());
    redis::cmd("SET").arg("a").arg("1").query::<()>(&mut p).unwrap();
    assert!(eventually(Duration::from_secs(20), || linked(&mut rc) && master_link_id(&mut rc).is_some()));
    let first = master_link_id(&mut rc).unwrap();

    let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("master").query(&mut rc).unwrap();
    assert_eq!(killed, 1);
    assert!(
        eventually(Duration::from_secs(20), || counter(&mut p, "sync_partial_ok") == "1" && linked(&mut rc)),
        "the link never continued"
    );
    assert!(eventually(Duration::from_secs(10), || master_link_id(&mut rc).is_some()));
    assert_eq!(master_link_id(&mut rc).unwrap(), first, "a continued link keeps its client");

    // A restarted primary has a new history: the replica resyncs in full.
    drop(p);
    drop(m);
    let m = Server::start_at(port, &["--proactor_threads", "1"]);
    let mut p = m.client();
    assert!(
        eventually(Duration::from_secs(20), || counter(&mut p, "sync_full") == "1" && linked(&mut rc)),
        "the replica never resynced from the restarted primary"
    );
    assert!(eventually(Duration::from_secs(10), || master_link_id(&mut rc).is_some()));
    let second = master_link_id(&mut rc).unwrap();
    assert_ne!(second, first, "a full resync makes a new master client");
    assert!(second.parse::<u64>().unwrap() > first.parse::<u64>().unwrap(), "ids only grow");
}
