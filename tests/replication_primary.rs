//! Redis 7.0 replicating from Mayfly: a real redis-server follows a Mayfly primary through a
//! full sync, a live stream of every data type (with the commands Redis rewrites for its
//! replicas), a partial resync after the link is cut, and WAIT. Skipped with a note when
//! redis-server is not installed.

#![allow(clippy::disallowed_methods)]

mod common;

use common::redis_peer::{dataset, eventually, first_difference, info_field, installed, RedisServer};
use common::Server;
use std::time::Duration;

fn q<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn w(c: &mut redis::Connection, args: &[&str]) {
    let _: redis::Value = q(c, args);
}

/// Data of every type, some with TTLs, some in another database.
fn seed(c: &mut redis::Connection) {
    for i in 0..200 {
        w(c, &["SET", &format!("str:{i}"), &format!("value-{i}")]);
        w(c, &["SET", &format!("int:{i}"), &i.to_string()]);
    }
    w(c, &["SET", "ttl:a", "x", "EX", "1000"]);
    w(c, &["HSET", "hash:small", "a", "1", "b", "2"]);
    for i in 0..300 {
        w(c, &["HSET", "hash:big", &format!("f{i}"), &"v".repeat(i % 70)]);
        w(c, &["RPUSH", "list:big", &format!("e{i}")]);
        w(c, &["SADD", "set:big", &format!("m{i}")]);
        w(c, &["ZADD", "zset:big", &(i as f64 / 7.0).to_string(), &format!("z{i}")]);
    }
    w(c, &["SADD", "set:ints", "1", "2", "3", "100000"]);
    w(c, &["RPUSH", "list:small", "a", "b", "c"]);
    w(c, &["ZADD", "zset:small", "1", "a", "2.5", "b"]);
    w(c, &["PFADD", "hll", "a", "b", "c", "d"]);
    w(c, &["SETBIT", "bits", "1000", "1"]);
    w(c, &["PEXPIRE", "hash:small", "900000"]);
    w(c, &["SELECT", "3"]);
    w(c, &["SET", "in:db3", "three"]);
    w(c, &["SELECT", "0"]);
}

/// Writes while the replica streams, including every command Redis rewrites for replicas.
fn live(c: &mut redis::Connection, round: usize) {
    let r = round.to_string();
    w(c, &["SET", &format!("live:{r}"), &r, "PX", "500000"]);
    w(c, &["SETEX", &format!("setex:{r}"), "1000", "v"]);
    w(c, &["INCR", "counter"]);
    w(c, &["INCRBYFLOAT", "float", "0.1"]);
    w(c, &["HINCRBYFLOAT", "hash:small", "f", "1.5"]);
    w(c, &["EXPIRE", &format!("str:{round}"), "1000"]);
    w(c, &["SPOP", "set:big"]);
    w(c, &["SPOP", "set:ints", "2"]);
    w(c, &["LPUSH", "list:small", &r]);
    w(c, &["LMOVE", "list:big", "list:other", "LEFT", "RIGHT"]);
    w(c, &["ZINCRBY", "zset:small", "1", "a"]);
    w(c, &["ZPOPMIN", "zset:big"]);
    w(c, &["BLPOP", "list:small", "1"]);
    w(c, &["MSET", "m:a", &r, "m:b", &r, "m:c", &r]);
    w(c, &["SUNIONSTORE", "set:union", "set:ints", "set:big"]);
    w(c, &["DEL", &format!("int:{round}")]);
    w(c, &["GETDEL", &format!("int:{}", round + 100)]);
    w(c, &["PFADD", "hll", &r]);
    w(c, &["SETBIT", "bits", &(round * 3).to_string(), "1"]);
    w(c, &["MULTI"]);
    w(c, &["INCR", "tx:a"]);
    w(c, &["INCR", "tx:b"]);
    w(c, &["RPUSH", "tx:list", &r]);
    w(c, &["EXEC"]);
    w(c, &["SET", &format!("short:{r}"), "gone", "PX", "1"]);
    w(c, &["SELECT", "3"]);
    w(c, &["SET", &format!("db3:{r}"), &r]);
    w(c, &["SELECT", "0"]);
}

fn linked(replica: &mut redis::Connection) -> bool {
    info_field(replica, "master_link_status").as_deref() == Some("up")
        && info_field(replica, "master_sync_in_progress").as_deref() == Some("0")
}

fn converged(primary: &mut redis::Connection, replica: &mut redis::Connection) -> Result<(), String> {
    let want: i64 = q(primary, &["WAIT", "1", "5000"]);
    if want != 1 {
        return Err(format!("WAIT answered {want}"));
    }
    let (a, b) = (dataset(primary, 4), dataset(replica, 4));
    match first_difference(&a, &b) {
        None => Ok(()),
        Some(d) => Err(format!("{} keys vs {}: {d}", a.len(), b.len())),
    }
}

#[test]
fn redis_replica_follows_mayfly_full_sync_live_stream_and_partial_resync() {
    if !installed("redis-server") {
        println!("NOTE: redis-server not installed; replication interop skipped");
        return;
    }
    let m = Server::start(&["--proactor_threads", "3"]);
    let mut p = m.client();
    seed(&mut p);
    let r = RedisServer::start(&["--replicaof", "127.0.0.1", &m.port.to_string()]);
    let mut rc = r.client();
    assert!(eventually(Duration::from_secs(20), || linked(&mut rc)), "the replica never synced");
    for round in 0..20 {
        live(&mut p, round);
    }
    std::thread::sleep(Duration::from_millis(20));
    converged(&mut p, &mut rc).unwrap();
    assert_eq!(info_field(&mut p, "sync_full").as_deref(), Some("1"));
    // What we wrote to the replica is what redis-server counted as read from its primary, but
    // for our +FULLRESYNC line (not counted by Redis) and the stream sent after its last read.
    let ours: i64 = info_field(&mut p, "total_net_repl_output_bytes").unwrap().parse().unwrap();
    let theirs: i64 = info_field(&mut rc, "total_net_repl_input_bytes").unwrap().parse().unwrap();
    assert!(theirs > 10_000 && (0..200).contains(&(ours - theirs)), "wrote {ours}, redis read {theirs}");
    let total: i64 = info_field(&mut p, "total_net_output_bytes").unwrap().parse().unwrap();
    assert!(total >= ours, "total_net_output_bytes {total} < replication's {ours}");

    // Writes to a Redis replica are refused; ours keep flowing.
    let err = redis::cmd("SET").arg("x").arg("1").query::<()>(&mut rc).unwrap_err();
    assert!(err.to_string().to_lowercase().contains("read only replica"), "{err}");

    // Cut the link: the replica comes back with PSYNC and continues from the backlog.
    w(&mut rc, &["CLIENT", "KILL", "TYPE", "master"]);
    for round in 20..30 {
        live(&mut p, round);
    }
    assert!(eventually(Duration::from_secs(20), || linked(&mut rc)), "the replica never came back");
    converged(&mut p, &mut rc).unwrap();
    assert_eq!(info_field(&mut p, "sync_partial_ok").as_deref(), Some("1"));
    assert_eq!(info_field(&mut p, "sync_full").as_deref(), Some("1"), "a partial resync, not a full one");
}

#[test]
fn wait_counts_acknowledging_replicas_and_times_out() {
    if !installed("redis-server") {
        println!("NOTE: redis-server not installed; replication interop skipped");
        return;
    }
    let m = Server::start(&["--proactor_threads", "2"]);
    let mut p = m.client();
    let none: i64 = q(&mut p, &["WAIT", "0", "0"]);
    assert_eq!(none, 0);
    let r1 = RedisServer::start(&["--replicaof", "127.0.0.1", &m.port.to_string()]);
    let r2 = RedisServer::start(&["--replicaof", "127.0.0.1", &m.port.to_string()]);
    for r in [&r1, &r2] {
        let mut c = r.client();
        assert!(eventually(Duration::from_secs(20), || linked(&mut c)));
    }
    w(&mut p, &["SET", "k", "v"]);
    let two: i64 = q(&mut p, &["WAIT", "2", "5000"]);
    assert_eq!(two, 2);
    // Asking for more replicas than exist returns what there is once the timeout passes.
    let start = std::time::Instant::now();
    let still_two: i64 = q(&mut p, &["WAIT", "3", "300"]);
    assert_eq!(still_two, 2);
    assert!(start.elapsed() >= Duration::from_millis(250));
    let err = redis::cmd("WAIT").arg("1").arg("-1").query::<i64>(&mut p).unwrap_err();
    assert!(err.to_string().contains("timeout is negative"), "{err}");
}

#[test]
fn wait_waits_for_the_callers_own_last_write_only() {
    if !installed("redis-server") {
        println!("NOTE: redis-server not installed; replication interop skipped");
        return;
    }
    let m = Server::start(&["--proactor_threads", "2"]);
    let mut writer = m.client();
    let mut reader = m.client();
    let r = RedisServer::start(&["--replicaof", "127.0.0.1", &m.port.to_string()]);
    let mut rc = r.client();
    assert!(eventually(Duration::from_secs(20), || linked(&mut rc)));
    w(&mut writer, &["SET", "before", "1"]);
    assert_eq!(q::<i64>(&mut writer, &["WAIT", "1", "5000"]), 1);

    // A frozen replica acknowledges nothing more: the writer's next write stays unacknowledged.
    r.signal("-STOP");
    w(&mut writer, &["SET", "during", "1"]);
    let start = std::time::Instant::now();
    assert_eq!(q::<i64>(&mut writer, &["WAIT", "1", "300"]), 0);
    assert!(start.elapsed() >= Duration::from_millis(250));

    // A client that wrote nothing waits for nothing (its offset is 0), as in Redis: the frozen
    // replica still counts, at once, although the primary's offset moved past its last ACK.
    let start = std::time::Instant::now();
    assert_eq!(q::<i64>(&mut reader, &["WAIT", "1", "10000"]), 1);
    assert!(start.elapsed() < Duration::from_secs(5), "WAIT blocked for {:?}", start.elapsed());
    // Reads do not move it either.
    let _: Option<String> = q(&mut reader, &["GET", "during"]);
    assert_eq!(q::<i64>(&mut reader, &["WAIT", "1", "10000"]), 1);

    // Pipelined writes count as the client's own, also when they are squashed onto the other
    // shard's thread: pipelines to each shard, each from a new client (new clients alternate
    // between the two threads, so this order pairs each thread with each shard).
    for shard in [0, 0, 1, 1] {
        let keys = (0..).map(|i| format!("piped:{i}"));
        let mut pipe = redis::pipe();
        for key in keys.filter(|k| mayfly::engine::slot::key_slot(k.as_bytes()) % 2 == shard).take(10) {
            pipe.cmd("SET").arg(key).arg(1).ignore();
        }
        pipe.cmd("WAIT").arg(1).arg(300);
        let start = std::time::Instant::now();
        let (acked,): (i64,) = pipe.query(&mut m.client()).unwrap();
        assert_eq!(acked, 0, "keys on shard {shard}");
        assert!(start.elapsed() >= Duration::from_millis(250));
    }

    // Inside MULTI, WAIT answers at once with the count so far (Redis's CLIENT_MULTI rule).
    let start = std::time::Instant::now();
    let replies: Vec<i64> = redis::pipe().atomic().cmd("WAIT").arg(1).arg(10000).query(&mut writer).unwrap();
    assert_eq!(replies, vec![0]);
    assert!(start.elapsed() < Duration::from_secs(5), "WAIT in MULTI blocked for {:?}", start.elapsed());

    r.signal("-CONT");
    assert_eq!(q::<i64>(&mut writer, &["WAIT", "1", "10000"]), 1);
}

#[test]
fn a_replica_that_stops_reading_is_cut_off_at_its_output_buffer_limit() {
    use std::io::{Read, Write};
    let m = Server::start(&["--proactor_threads", "2", "--client-output-buffer-limit", "replica 1mb 0 0"]);
    let mut stalled = m.raw();
    stalled.write_all(b"REPLCONF listening-port 1\r\nPSYNC ? -1\r\n").unwrap();
    // Let the full sync start, then never read again while the primary keeps writing.
    std::thread::sleep(Duration::from_millis(200));
    let mut p = m.client();
    let value = "x".repeat(10_000);
    for i in 0..2000 {
        w(&mut p, &["SET", &format!("k{i}"), &value]);
    }
    // The primary was not held up, and it closed the link: reading now reaches EOF well before
    // the 20 MB written.
    stalled.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut total = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match stalled.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) => panic!("the stalled replica was never disconnected ({total} bytes read): {e}"),
        }
    }
    assert!(total < 8 << 20, "read {total} bytes before the cut");
    assert_eq!(q::<i64>(&mut p, &["DBSIZE"]), 2000);
}

/// A hand-driven diskless replica: PSYNC with `capa eof`, then the whole EOF-marked snapshot
/// read. Returns the link (with a read timeout) and the offset the stream continues after.
fn diskless_replica(m: &Server) -> (std::io::BufReader<std::net::TcpStream>, u64) {
    use std::io::{BufRead, Read, Write};
    let mut s = m.raw();
    s.write_all(b"REPLCONF listening-port 1\r\nREPLCONF capa eof capa psync2\r\nPSYNC ? -1\r\n").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = std::io::BufReader::new(s);
    let mut line = String::new();
    let offset = loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if let Some(rest) = line.strip_prefix("+FULLRESYNC ") {
            break rest.split_whitespace().nth(1).unwrap().parse().unwrap();
        }
        assert!(matches!(line.as_str(), "+OK\r\n" | "\n"), "unexpected {line:?}");
    };
    line.clear();
    r.read_line(&mut line).unwrap();
    let mark = line.trim_end().strip_prefix("$EOF:").unwrap_or_else(|| panic!("not diskless: {line:?}")).to_string();
    let mut payload = Vec::new();
    while !payload.ends_with(mark.as_bytes()) {
        let mut byte = [0u8];
        r.read_exact(&mut byte).unwrap();
        payload.push(byte[0]);
    }
    assert!(payload.starts_with(b"REDIS"));
    (r, offset)
}

#[test]
fn a_diskless_replica_gets_the_stream_only_after_its_first_ack() {
    use std::io::{Read, Write};
    let m = Server::start(&["--proactor_threads", "2", "--repl-diskless-sync", "yes"]);
    let mut p = m.client();
    let (mut r, offset) = diskless_replica(&m);
    w(&mut p, &["SET", "k", "v"]);
    // Loading, as far as the primary knows: nothing more arrives, and it is not online.
    r.get_ref().set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut buf = [0u8; 256];
    assert!(r.read(&mut buf).is_err(), "the stream started before the first ACK");
    assert!(info_field(&mut p, "slave0").is_some_and(|s| !s.contains("state=online")));
    assert_eq!(q::<i64>(&mut p, &["WAIT", "1", "100"]), 0);

    r.get_mut().write_all(format!("REPLCONF ACK {offset}\r\n").as_bytes()).unwrap();
    r.get_ref().set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("$1\r\nk\r\n$1\r\nv\r\n") {
        let n = r.read(&mut buf).unwrap();
        assert!(n > 0, "the primary closed the link");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(info_field(&mut p, "slave0").is_some_and(|s| s.contains("state=online")));
}

#[test]
fn a_loading_diskless_replica_is_cut_off_at_its_output_buffer_limit() {
    use std::io::Read;
    let m = Server::start(&[
        "--proactor_threads",
        "2",
        "--repl-diskless-sync",
        "yes",
        "--client-output-buffer-limit",
        "replica 1mb 0 0",
    ]);
    let mut p = m.client();
    let (mut r, _) = diskless_replica(&m);
    let value = "x".repeat(10_000);
    for i in 0..300 {
        w(&mut p, &["SET", &format!("k{i}"), &value]);
    }
    // Never acknowledged, 3 MB behind: the primary closes the link without sending any of it.
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).expect("the primary never closed the link");
    assert!(rest.is_empty(), "{} stream bytes sent before the first ACK", rest.len());
    assert!(eventually(Duration::from_secs(5), || info_field(&mut p, "slave0").is_none()));
}

#[test]
fn a_full_sync_under_concurrent_writes_is_exact() {
    if !installed("redis-server") {
        println!("NOTE: redis-server not installed; replication interop skipped");
        return;
    }
    let m = Server::start(&["--proactor_threads", "3"]);
    let mut p = m.client();
    for i in 0..20 {
        w(&mut p, &["SET", &format!("bulk:{i}"), &"b".repeat(20_000)]);
    }
    let pipe_fill: Vec<String> = (0..4_000).map(|i| format!("fill:{i}")).collect();
    let mut pipe = redis::pipe();
    for k in &pipe_fill {
        pipe.cmd("SET").arg(k).arg("x".repeat(100)).ignore();
    }
    pipe.query::<()>(&mut p).unwrap();
    // Non-idempotent writes keep running while the snapshot is cut and streamed: each one must
    // be in the snapshot or in the stream after it, never both, never neither.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|t| {
            let (stop, url) = (stop.clone(), m.url());
            std::thread::spawn(move || {
                let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let mut pipe = redis::pipe();
                    for i in 0..20u64 {
                        pipe.cmd("INCR").arg(format!("ctr:{}", (n + i) % 17)).ignore();
                        pipe.cmd("RPUSH").arg(format!("log:{t}:{}", (n + i) % 5)).arg(n + i).ignore();
                        pipe.cmd("MSET")
                            .arg(format!("a:{}", i % 7))
                            .arg(n)
                            .arg(format!("b:{}", i % 11))
                            .arg(n)
                            .ignore();
                    }
                    pipe.query::<()>(&mut c).unwrap();
                    n += 20;
                }
                n
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let r = RedisServer::start(&["--replicaof", "127.0.0.1", &m.port.to_string()]);
    let mut rc = r.client();
    assert!(eventually(Duration::from_secs(30), || linked(&mut rc)), "the replica never synced");
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let total: u64 = writers.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(total > 0);
    converged(&mut p, &mut rc).unwrap();
}

#[test]
fn disk_backed_full_sync_when_diskless_sync_is_off() {
    if !installed("redis-server") {
        println!("NOTE: redis-server not installed; replication interop skipped");
        return;
    }
    let dir = std::env::temp_dir().join(format!("mayfly-repl-disk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let m = Server::start(&["--proactor_threads", "2", "--repl-diskless-sync", "no", "--dir", dir.to_str().unwrap()]);
    let mut p = m.client();
    seed(&mut p);
    let r = RedisServer::start(&["--replicaof", "127.0.0.1", &m.port.to_string()]);
    let mut rc = r.client();
    assert!(eventually(Duration::from_secs(20), || linked(&mut rc)), "the replica never synced");
    live(&mut p, 0);
    converged(&mut p, &mut rc).unwrap();
    // The temporary file is gone once sent.
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_chain_of_mayfly_replicas_and_a_promotion_in_the_middle() {
    let a = Server::start(&["--proactor_threads", "3"]);
    let b = Server::start(&["--proactor_threads", "2", "--replicaof", &format!("127.0.0.1:{}", a.port)]);
    let c = Server::start(&["--proactor_threads", "1", "--replicaof", &format!("127.0.0.1:{}", b.port)]);
    let (mut pa, mut pb, mut pc) = (a.client(), b.client(), c.client());
    seed(&mut pa);
    for round in 0..10 {
        live(&mut pa, round);
    }
    let same_offset = |x: &mut redis::Connection, y: &mut redis::Connection| {
        info_field(x, "master_repl_offset") == info_field(y, "master_repl_offset")
    };
    assert!(eventually(Duration::from_secs(20), || linked(&mut pb) && linked(&mut pc)));
    assert!(eventually(Duration::from_secs(20), || same_offset(&mut pa, &mut pc)), "the chain never caught up");
    let (da, dc) = (dataset(&mut pa, 4), dataset(&mut pc, 4));
    assert_eq!(first_difference(&da, &dc), None);
    assert_eq!(da, dataset(&mut pb, 4));

    // Promote the middle: the end of the chain keeps following it, continuing its history.
    let old_id = info_field(&mut pb, "master_replid").unwrap();
    w(&mut pb, &["REPLICAOF", "NO", "ONE"]);
    assert_eq!(info_field(&mut pb, "master_replid2").as_deref(), Some(old_id.as_str()));
    w(&mut pb, &["SET", "after:promotion", "1"]);
    w(&mut pb, &["INCR", "counter"]);
    assert!(eventually(Duration::from_secs(20), || linked(&mut pc) && same_offset(&mut pb, &mut pc)));
    assert_eq!(first_difference(&dataset(&mut pb, 4), &dataset(&mut pc, 4)), None);
    assert_eq!(info_field(&mut pb, "sync_full").as_deref(), Some("1"), "C continued; no second full sync");
}
