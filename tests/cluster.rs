//! `--cluster_mode=emulated`: a one-node cluster that cluster-aware clients discover and use.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::Server;
use redis::{cmd, Value};

fn err(r: redis::RedisResult<Value>) -> String {
    let e = r.expect_err("an error reply");
    format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")).trim().to_string()
}

#[test]
fn cluster_commands_and_client() {
    let s = Server::start(&["--proactor_threads", "3", "--cluster_mode", "emulated"]);
    let mut c = s.client();
    let info: String = cmd("CLUSTER").arg("INFO").query(&mut c).unwrap();
    assert!(info.starts_with("cluster_state:ok\r\ncluster_slots_assigned:16384\r\n"), "{info}");
    assert!(info.contains("cluster_known_nodes:1\r\n"));
    let id: String = cmd("CLUSTER").arg("MYID").query(&mut c).unwrap();
    assert_eq!(id.len(), 40);
    let nodes: String = cmd("CLUSTER").arg("NODES").query(&mut c).unwrap();
    let expected =
        format!("{id} 127.0.0.1:{}@{} myself,master - 0 0 1 connected 0-16383\n", s.port, s.port as u32 + 10000);
    assert_eq!(nodes, expected);
    let slots: Value = cmd("CLUSTER").arg("SLOTS").query(&mut c).unwrap();
    let Value::Array(ranges) = slots else { panic!("{slots:?}") };
    assert_eq!(ranges.len(), 1);
    let Value::Array(r) = &ranges[0] else { panic!() };
    assert_eq!(r[0], Value::Int(0));
    assert_eq!(r[1], Value::Int(16383));
    let Value::Array(node) = &r[2] else { panic!() };
    assert_eq!(node[0], Value::BulkString(b"127.0.0.1".to_vec()));
    assert_eq!(node[1], Value::Int(s.port as i64));
    assert_eq!(node[2], Value::BulkString(id.clone().into_bytes()));
    let shards: Value = cmd("CLUSTER").arg("SHARDS").query(&mut c).unwrap();
    let Value::Array(shards) = shards else { panic!() };
    assert_eq!(shards.len(), 1);

    let slot: i64 = cmd("CLUSTER").arg("KEYSLOT").arg("foo").query(&mut c).unwrap();
    assert_eq!(slot, 12182);
    let _: () = cmd("MSET").arg("{foo}1").arg("a").arg("{foo}2").arg("b").arg("foo").arg("c").query(&mut c).unwrap();
    let n: i64 = cmd("CLUSTER").arg("COUNTKEYSINSLOT").arg(12182).query(&mut c).unwrap();
    assert_eq!(n, 3);
    let keys: Vec<String> = cmd("CLUSTER").arg("GETKEYSINSLOT").arg(12182).arg(2).query(&mut c).unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(err(cmd("CLUSTER").arg("COUNTKEYSINSLOT").arg(16384).query(&mut c)), "ERR Invalid slot");
    assert_eq!(
        err(cmd("CLUSTER").arg("COUNTKEYSINSLOT").arg("x").query(&mut c)),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(cmd("CLUSTER").arg("GETKEYSINSLOT").arg(1).arg(-1).query(&mut c)),
        "ERR Invalid slot or number of keys"
    );
    assert_eq!(
        err(cmd("MSET").arg("a").arg("1").arg("b").arg("2").query(&mut c)),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );
    assert_eq!(
        err(cmd("DEL").arg("a").arg("b").query(&mut c)),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );
    let ok: String = cmd("READONLY").query(&mut c).unwrap();
    assert_eq!(ok, "OK");
    let ok: String = cmd("READWRITE").query(&mut c).unwrap();
    assert_eq!(ok, "OK");
    let help: Vec<String> = cmd("CLUSTER").arg("HELP").query(&mut c).unwrap();
    assert!(help[0].starts_with("CLUSTER <subcommand>"));

    // A cluster-aware client discovers the node from CLUSTER SLOTS and routes to it.
    let client = redis::cluster::ClusterClient::new(vec![s.url()]).unwrap();
    let mut cc = client.get_connection().unwrap();
    for i in 0..50 {
        let _: () = cmd("SET").arg(format!("key:{i}")).arg(i).query(&mut cc).unwrap();
    }
    for i in 0..50 {
        let v: i64 = cmd("GET").arg(format!("key:{i}")).query(&mut cc).unwrap();
        assert_eq!(v, i);
    }
    let both: Vec<String> = cmd("MGET").arg("{foo}1").arg("{foo}2").query(&mut cc).unwrap();
    assert_eq!(both, vec!["a", "b"]);
}

#[test]
fn node_id_survives_restart() {
    let dir = std::env::temp_dir().join(format!("mayfly-cluster-id-{}", std::process::id()));
    let dir = dir.to_str().unwrap().to_string();
    let args =
        ["--cluster_mode", "emulated", "--cluster_announce_ip", "10.9.8.7", "--announce_port", "7001", "--dir", &dir];
    let first: String = {
        let s = Server::start(&args);
        let nodes: String = cmd("CLUSTER").arg("NODES").query(&mut s.client()).unwrap();
        assert!(nodes.contains(" 10.9.8.7:7001@17001 myself,master "), "{nodes}");
        cmd("CLUSTER").arg("MYID").query(&mut s.client()).unwrap()
    };
    let s = Server::start(&args);
    let again: String = cmd("CLUSTER").arg("MYID").query(&mut s.client()).unwrap();
    assert_eq!(first, again);
}

#[test]
fn without_cluster_mode() {
    let s = Server::start(&[]);
    let mut c = s.client();
    for sub in ["INFO", "NODES", "SLOTS", "MYID"] {
        assert_eq!(err(cmd("CLUSTER").arg(sub).query(&mut c)), "ERR This instance has cluster support disabled");
    }
    assert_eq!(err(cmd("READONLY").query(&mut c)), "ERR This instance has cluster support disabled");
    let _: () = cmd("MSET").arg("a").arg("1").arg("b").arg("2").query(&mut c).unwrap();
    let info: String = cmd("INFO").arg("cluster").query(&mut c).unwrap();
    assert!(info.contains("cluster_enabled:0"));
}

#[test]
fn select_in_cluster_mode() {
    let s = Server::start(&["--cluster_mode", "emulated"]);
    let mut c = s.client();
    let ok: String = cmd("SELECT").arg(0).query(&mut c).unwrap();
    assert_eq!(ok, "OK");
    assert_eq!(err(cmd("SELECT").arg(1).query(&mut c)), "ERR SELECT is not allowed in cluster mode");
}

#[test]
fn replicas_are_listed_and_clients_route_writes_to_the_primary() {
    let p = Server::start(&["--proactor_threads", "2", "--cluster_mode", "emulated"]);
    let r = Server::start(&[
        "--proactor_threads",
        "2",
        "--cluster_mode",
        "emulated",
        "--replicaof",
        &format!("127.0.0.1:{}", p.port),
    ]);
    let mut pc = p.client();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let nodes = loop {
        let nodes: String = cmd("CLUSTER").arg("NODES").query(&mut pc).unwrap();
        if nodes.lines().count() == 2 && nodes.contains(" connected\n") && !nodes.contains("disconnected") {
            break nodes;
        }
        assert!(std::time::Instant::now() < deadline, "the replica never showed: {nodes}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let myid: String = cmd("CLUSTER").arg("MYID").query(&mut pc).unwrap();
    let replica_line = nodes.lines().nth(1).unwrap();
    assert!(replica_line.contains(&format!("127.0.0.1:{}@{} slave {myid} ", r.port, r.port as u32 + 10000)), "{nodes}");
    let info: String = cmd("CLUSTER").arg("INFO").query(&mut pc).unwrap();
    assert!(info.contains("cluster_known_nodes:2\r\n"), "{info}");

    // The replica names the primary as the owner of every slot, itself as its replica.
    let mut rc = r.client();
    let slots: Value = cmd("CLUSTER").arg("SLOTS").query(&mut rc).unwrap();
    let Value::Array(ranges) = slots else { panic!("{slots:?}") };
    let Value::Array(range) = &ranges[0] else { panic!() };
    assert_eq!(range.len(), 4, "{range:?}");
    let Value::Array(owner) = &range[2] else { panic!() };
    assert_eq!(owner[1], Value::Int(p.port as i64));
    let rnodes: String = cmd("CLUSTER").arg("NODES").query(&mut rc).unwrap();
    assert!(rnodes.lines().nth(1).unwrap().contains(" myself,slave "), "{rnodes}");

    // A cluster client that starts from the replica's address writes through the primary.
    let client = redis::cluster::ClusterClient::new(vec![r.url()]).unwrap();
    let mut cc = client.get_connection().unwrap();
    let _: () = cmd("SET").arg("routed").arg("yes").query(&mut cc).unwrap();
    let v: Option<String> = cmd("GET").arg("routed").query(&mut pc).unwrap();
    assert_eq!(v.as_deref(), Some("yes"));
}
