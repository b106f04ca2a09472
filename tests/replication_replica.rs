//! Mayfly as a replica of a real redis-server 7.0: full sync of every data type (diskless and
//! disk-backed RDB transfer), the live stream, READONLY, a partial resync after the link is
//! killed, and promotion. Skipped, with a note, when redis-server is not installed.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::{free_port, Server};
use redis::Connection;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct RedisPrimary {
    port: u16,
    child: Child,
    _dir: TempDir,
}

/// A scratch directory removed on drop (redis-server's working dir: no dump.rdb left behind).
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl RedisPrimary {
    fn start(diskless: bool) -> Option<RedisPrimary> {
        if !common::redis_peer::installed("redis-server") {
            return None;
        }
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("mayfly-repl-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--dir", dir.to_str().unwrap()])
            .args(["--repl-diskless-sync", if diskless { "yes" } else { "no" }, "--repl-diskless-sync-delay", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let p = RedisPrimary { port, child, _dir: TempDir(dir) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(mut c) = p.try_client() {
                if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                    return Some(p);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start");
    }

    fn try_client(&self) -> redis::RedisResult<Connection> {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?.get_connection()
    }

    fn client(&self) -> Connection {
        self.try_client().unwrap()
    }
}

impl Drop for RedisPrimary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn info_field(c: &mut Connection, section: &str, field: &str) -> String {
    let text: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}:\n{text}"))
        .trim()
        .to_string()
}

/// Waits until the replica's link is up and its offset equals the primary's.
fn wait_in_sync(primary: &mut Connection, replica: &mut Connection) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let up = info_field(replica, "replication", "master_link_status") == "up";
        let want = info_field(primary, "replication", "master_repl_offset");
        let have = info_field(replica, "replication", "master_repl_offset");
        if up && want == have {
            return;
        }
        assert!(Instant::now() < deadline, "replica never caught up: link up {up}, offset {have} of {want}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn q<T: redis::FromRedisValue>(c: &mut Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Writes one key of every type (names prefixed by `p`), some with TTLs.
fn write_every_type(c: &mut Connection, p: &str) {
    let k = |s: &str| format!("{p}{s}");
    q::<()>(c, &["SET", &k("str"), "hello world"]);
    q::<()>(c, &["SET", &k("int"), "12345"]);
    q::<()>(c, &["SET", &k("ttl"), "v", "PX", "600000"]);
    q::<()>(c, &["SET", &k("big"), &"x".repeat(5000)]);
    q::<()>(c, &["HSET", &k("hash"), "a", "1", "b", "two"]);
    let many: Vec<String> = (0..200).flat_map(|i| [format!("f{i}"), format!("v{i}")]).collect();
    let mut hset = vec!["HSET".to_string(), k("bighash")];
    hset.extend(many);
    let hset: Vec<&str> = hset.iter().map(|s| s.as_str()).collect();
    q::<()>(c, &hset);
    q::<()>(c, &["RPUSH", &k("list"), "a", "b", "c", "a"]);
    q::<()>(c, &["SADD", &k("intset"), "1", "2", "3", "-7"]);
    q::<()>(c, &["SADD", &k("set"), "x", "y", "z"]);
    q::<()>(c, &["ZADD", &k("zset"), "1.5", "a", "-2", "b", "3", "c"]);
    q::<()>(c, &["PFADD", &k("hll"), "a", "b", "c", "d"]);
    q::<()>(c, &["SETBIT", &k("bits"), "100", "1"]);
    q::<()>(c, &["EXPIRE", &k("hash"), "5000"]);
    q::<()>(c, &["PEXPIRE", &k("zset"), "7000000"]);
    q::<()>(c, &["SELECT", "2"]);
    q::<()>(c, &["SET", &k("in-db2"), "2"]);
    q::<()>(c, &["SELECT", "0"]);
}

/// A canonical rendering of one key: type, value, and the TTL rounded to 10 seconds.
fn dump_key(c: &mut Connection, key: &str) -> (String, String, i64) {
    let t: String = q(c, &["TYPE", key]);
    let value = match t.as_str() {
        "string" => format!("{:?}", q::<Vec<u8>>(c, &["GET", key])),
        "hash" => {
            let mut v: Vec<(String, String)> = q(c, &["HGETALL", key]);
            v.sort();
            format!("{v:?}")
        }
        "list" => format!("{:?}", q::<Vec<String>>(c, &["LRANGE", key, "0", "-1"])),
        "set" => {
            let mut v: Vec<String> = q(c, &["SMEMBERS", key]);
            v.sort();
            format!("{v:?}")
        }
        "zset" => format!("{:?}", q::<Vec<String>>(c, &["ZRANGE", key, "0", "-1", "WITHSCORES"])),
        other => panic!("unexpected type {other} of {key}"),
    };
    let pttl: i64 = q(c, &["PTTL", key]);
    (t, value, if pttl < 0 { pttl } else { (pttl + 5_000) / 10_000 })
}

/// Compares every key of dbs 0 and 2 between the two servers.
fn assert_same_data(primary: &mut Connection, replica: &mut Connection) -> usize {
    let mut n = 0;
    for db in ["0", "2"] {
        q::<()>(primary, &["SELECT", db]);
        q::<()>(replica, &["SELECT", db]);
        let mut keys: Vec<String> = q(primary, &["KEYS", "*"]);
        let mut theirs: Vec<String> = q(replica, &["KEYS", "*"]);
        keys.sort();
        theirs.sort();
        assert_eq!(keys, theirs, "keys of db {db}");
        for k in &keys {
            assert_eq!(dump_key(primary, k), dump_key(replica, k), "key {k} in db {db}");
        }
        n += keys.len();
    }
    q::<()>(primary, &["SELECT", "0"]);
    q::<()>(replica, &["SELECT", "0"]);
    n
}

fn follow(replica: &Server, primary: &RedisPrimary) -> Connection {
    let mut c = replica.client();
    let reply: String = q(&mut c, &["REPLICAOF", "127.0.0.1", &primary.port.to_string()]);
    assert_eq!(reply, "OK");
    c
}

/// A Mayfly replica of `redis` (holding every type, prefixed `pre:`), fully synced: clients
/// of the primary and of the replica, and the replica itself.
fn synced_replica(redis: &RedisPrimary) -> (Connection, Connection, Server) {
    let mut p = redis.client();
    write_every_type(&mut p, "pre:");
    let replica = Server::start(&[]);
    let mut r = follow(&replica, redis);
    wait_in_sync(&mut p, &mut r);
    (p, r, replica)
}

#[test]
fn replicates_from_redis_through_full_sync_stream_resync_and_promotion() {
    let Some(redis) = RedisPrimary::start(true) else { return };
    let (mut p, mut r, _replica) = synced_replica(&redis);
    // Asked only once synced: during the full sync's load REPLICAOF answers -LOADING (it has
    // no `loading` flag, in Redis either), and a busy machine can make the load overlap it.
    let again: String = q(&mut r, &["REPLICAOF", "127.0.0.1", &redis.port.to_string()]);
    assert_eq!(again, "OK Already connected to specified master");
    assert_eq!(assert_same_data(&mut p, &mut r), 13);

    // The live stream: every type again, plus deletes, counters, expiry changes, a transaction.
    write_every_type(&mut p, "live:");
    q::<()>(&mut p, &["DEL", "pre:str"]);
    q::<()>(&mut p, &["INCRBY", "pre:int", "10"]);
    q::<()>(&mut p, &["PERSIST", "pre:ttl"]);
    q::<()>(&mut p, &["LPOP", "pre:list"]);
    q::<()>(&mut p, &["ZINCRBY", "pre:zset", "10", "b"]);
    redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("tx:a")
        .arg("1")
        .cmd("HSET")
        .arg("tx:h")
        .arg("f")
        .arg("v")
        .query::<()>(&mut p)
        .unwrap();
    wait_in_sync(&mut p, &mut r);
    assert_eq!(assert_same_data(&mut p, &mut r), 13 + 13 - 1 + 2);

    // WAIT on redis gets our acknowledgement (REPLCONF GETACK answered with the exact offset).
    q::<()>(&mut p, &["SET", "acked", "1"]);
    assert_eq!(q::<i64>(&mut p, &["WAIT", "1", "5000"]), 1);

    // Clients cannot write to a read-only replica.
    let err = redis::cmd("SET").arg("k").arg("v").query::<()>(&mut r).unwrap_err();
    assert_eq!(err.code(), Some("READONLY"), "{err}");
    let role: redis::Value = q(&mut r, &["ROLE"]);
    assert!(format!("{role:?}").contains("connected"), "{role:?}");

    // Killing the link: the replica comes back with a partial resync, not a full one.
    let full_before = info_field(&mut p, "stats", "sync_full");
    let partial_before: u64 = info_field(&mut p, "stats", "sync_partial_ok").parse().unwrap();
    let killed: i64 = q(&mut p, &["CLIENT", "KILL", "TYPE", "replica"]);
    assert_eq!(killed, 1);
    q::<()>(&mut p, &["SET", "after:kill", "1"]);
    q::<()>(&mut p, &["RPUSH", "live:list", "more"]);
    wait_in_sync(&mut p, &mut r);
    assert_eq!(info_field(&mut p, "stats", "sync_full"), full_before);
    let partial_after: u64 = info_field(&mut p, "stats", "sync_partial_ok").parse().unwrap();
    assert_eq!(partial_after, partial_before + 1);
    assert_same_data(&mut p, &mut r);

    // Promotion: writes accepted, and the old history is kept as replid2.
    let old_id = info_field(&mut r, "replication", "master_replid");
    let old_offset: i64 = info_field(&mut r, "replication", "master_repl_offset").parse().unwrap();
    assert_eq!(q::<String>(&mut r, &["REPLICAOF", "NO", "ONE"]), "OK");
    q::<()>(&mut r, &["SET", "mine", "1"]);
    assert_eq!(q::<String>(&mut r, &["GET", "mine"]), "1");
    assert_eq!(info_field(&mut r, "replication", "role"), "master");
    assert_eq!(info_field(&mut r, "replication", "master_replid2"), old_id);
    assert_ne!(info_field(&mut r, "replication", "master_replid"), old_id);
    assert_eq!(info_field(&mut r, "replication", "second_repl_offset"), (old_offset + 1).to_string());
}

/// INFO stats `total_net_repl_input_bytes` (or output) as a number.
fn repl_bytes(c: &mut Connection, direction: &str) -> i64 {
    info_field(c, "stats", &format!("total_net_repl_{direction}_bytes")).parse().unwrap()
}

#[test]
fn the_master_link_is_a_listed_killable_client_and_its_bytes_are_counted() {
    let Some(redis) = RedisPrimary::start(true) else { return };
    let (mut p, mut r, _replica) = synced_replica(&redis);

    // Redis lists its master client with flags=M and type master; so do we.
    let masters: String = q(&mut r, &["CLIENT", "LIST", "TYPE", "master"]);
    let lines: Vec<&str> = masters.lines().collect();
    assert_eq!(lines.len(), 1, "{masters}");
    assert!(lines[0].contains(" flags=M "), "{}", lines[0]);
    assert!(lines[0].contains(&format!(" addr=127.0.0.1:{} ", redis.port)), "{}", lines[0]);
    let all: String = q(&mut r, &["CLIENT", "LIST"]);
    assert_eq!(all.lines().filter(|l| l.contains(" flags=M ")).count(), 1, "{all}");
    let normal: String = q(&mut r, &["CLIENT", "LIST", "TYPE", "normal"]);
    assert!(!normal.contains(" flags=M "), "{normal}");

    // What our link read is what redis-server wrote to it, but for the handshake's replies
    // (+PONG, +OK..., +FULLRESYNC), which Redis does not count as replication bytes.
    let (ours, theirs) = (repl_bytes(&mut r, "input"), repl_bytes(&mut p, "output"));
    assert!(theirs > 1000 && (0..200).contains(&(ours - theirs)), "read {ours}, redis wrote {theirs}");
    let total_in: i64 = info_field(&mut r, "stats", "total_net_input_bytes").parse().unwrap();
    assert!(total_in >= ours, "total_net_input_bytes {total_in} < replication's {ours}");

    // Killing the master client drops the link; it comes back with a partial resync (from
    // offset 1 on: at offset 0 there is no history to continue yet).
    q::<()>(&mut p, &["SET", "streamed", "1"]);
    wait_in_sync(&mut p, &mut r);
    let full_before = info_field(&mut p, "stats", "sync_full");
    let partial_before: u64 = info_field(&mut p, "stats", "sync_partial_ok").parse().unwrap();
    assert_eq!(q::<i64>(&mut r, &["CLIENT", "KILL", "TYPE", "master"]), 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    while info_field(&mut p, "stats", "sync_partial_ok").parse::<u64>().unwrap() == partial_before {
        assert!(Instant::now() < deadline, "the replica never came back");
        std::thread::sleep(Duration::from_millis(20));
    }
    q::<()>(&mut p, &["SET", "after:kill", &"v".repeat(1000)]);
    wait_in_sync(&mut p, &mut r);
    assert_eq!(info_field(&mut p, "stats", "sync_full"), full_before, "a partial resync, not a full one");
    assert_eq!(q::<String>(&mut r, &["GET", "after:kill"]), "v".repeat(1000));
    assert!(repl_bytes(&mut r, "input") > ours + 1000);
}

#[test]
fn disk_backed_transfer_and_replicaof_flag() {
    let Some(redis) = RedisPrimary::start(false) else { return };
    let mut p = redis.client();
    write_every_type(&mut p, "disk:");
    let replica = Server::start(&["--replicaof", &format!("127.0.0.1:{}", redis.port)]);
    let mut r = replica.client();
    wait_in_sync(&mut p, &mut r);
    assert_eq!(assert_same_data(&mut p, &mut r), 13);
    write_every_type(&mut p, "more:");
    wait_in_sync(&mut p, &mut r);
    assert_eq!(assert_same_data(&mut p, &mut r), 26);
}

#[test]
fn replicaof_errors_and_stale_data_refusal() {
    let replica = Server::start(&["--replica-serve-stale-data", "no"]);
    let mut r = replica.client();
    let err = redis::cmd("REPLICAOF").arg("127.0.0.1").arg("70000").query::<()>(&mut r).unwrap_err();
    assert!(err.to_string().contains("Invalid master port"), "{err}");
    // Nobody listens there: the link stays down, so data commands are refused, INFO is not.
    let dead = free_port();
    assert_eq!(q::<String>(&mut r, &["REPLICAOF", "127.0.0.1", &dead.to_string()]), "OK");
    let err = redis::cmd("GET").arg("k").query::<Option<String>>(&mut r).unwrap_err();
    assert_eq!(err.code(), Some("MASTERDOWN"), "{err}");
    assert_eq!(info_field(&mut r, "replication", "master_link_status"), "down");
    let role: Vec<redis::Value> = q(&mut r, &["ROLE"]);
    assert_eq!(role.len(), 5);
    assert_eq!(q::<String>(&mut r, &["REPLICAOF", "NO", "ONE"]), "OK");
    assert_eq!(q::<Option<String>>(&mut r, &["GET", "k"]), None);
}

/// Reads one RESP array of bulk strings (what a replica sends its primary).
fn read_command(r: &mut std::io::BufReader<std::net::TcpStream>) -> Vec<String> {
    use std::io::{BufRead, Read};
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let n: usize = line.trim().strip_prefix('*').unwrap_or_else(|| panic!("not an array: {line:?}")).parse().unwrap();
    (0..n)
        .map(|_| {
            line.clear();
            r.read_line(&mut line).unwrap();
            let len: usize = line.trim()[1..].parse().unwrap();
            let mut buf = vec![0u8; len + 2];
            r.read_exact(&mut buf).unwrap();
            String::from_utf8_lossy(&buf[..len]).into_owned()
        })
        .collect()
}

/// Accepts the replica's next connection and answers its handshake; returns its PSYNC.
fn accept_handshake(l: &std::net::TcpListener) -> (std::net::TcpStream, Vec<String>) {
    use std::io::Write;
    l.set_nonblocking(false).unwrap();
    let (mut s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = std::io::BufReader::new(s.try_clone().unwrap());
    assert_eq!(read_command(&mut r), ["PING"]);
    s.write_all(b"+PONG\r\n").unwrap();
    let port = read_command(&mut r);
    assert_eq!(port[..2], ["REPLCONF", "listening-port"]);
    s.write_all(b"+OK\r\n").unwrap();
    assert_eq!(read_command(&mut r), ["REPLCONF", "capa", "eof", "capa", "psync2"]);
    s.write_all(b"+OK\r\n").unwrap();
    let psync = read_command(&mut r);
    (s, psync)
}

#[test]
fn corrupt_payloads_silent_primaries_and_garbage_drop_the_link_not_the_server() {
    use std::io::Write;
    let fake = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = fake.local_addr().unwrap().port();
    let replica = Server::start(&["--replicaof", &format!("127.0.0.1:{port}"), "--repl-timeout", "1"]);
    let id = "f".repeat(40);

    // A payload that is not an RDB: an error on the link, an empty dataset, a retry.
    let (mut s, psync) = accept_handshake(&fake);
    assert_eq!(psync, ["PSYNC", "?", "-1"]);
    s.write_all(format!("+FULLRESYNC {id} 100\r\n$20\r\nthis is not an rdb!!").as_bytes()).unwrap();
    let (mut s, psync) = accept_handshake(&fake);
    assert_eq!(psync, ["PSYNC", "?", "-1"], "a failed load leaves no history to continue");
    let mut r = replica.client();
    assert_eq!(q::<String>(&mut r, &["PING"]), "PONG");
    assert_eq!(q::<i64>(&mut r, &["DBSIZE"]), 0);
    assert_eq!(info_field(&mut r, "replication", "master_link_status"), "down");

    // A primary that goes silent is dropped after repl-timeout.
    let started = Instant::now();
    s.write_all(b"+CONTINUE\r\n").unwrap();
    let (mut s, _) = accept_handshake(&fake);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(5), "reconnected after {took:?}");

    // Garbage in the stream ends the link too; the server keeps serving.
    s.write_all(b"+CONTINUE\r\n*1\r\n$4\r\nPING\r\n*x\r\n").unwrap();
    let (_s, _) = accept_handshake(&fake);
    assert_eq!(q::<String>(&mut r, &["PING"]), "PONG");
    drop(fake);
}
