//! Memory accounting, maxmemory and eviction over TCP.

mod common;

use common::Server;
use redis::Value;

fn info_field(c: &mut redis::Connection, section: &str, field: &str) -> String {
    let text: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .to_string()
}

fn dbsize(c: &mut redis::Connection) -> i64 {
    redis::cmd("DBSIZE").query(c).unwrap()
}

#[test]
fn info_memory_has_redis_fields() {
    let s = Server::start(&["--proactor_threads", "2", "--maxmemory", "64mb"]);
    let mut c = s.client();
    for f in [
        "used_memory",
        "used_memory_human",
        "used_memory_rss",
        "used_memory_peak",
        "used_memory_dataset",
        "maxmemory",
        "maxmemory_human",
        "maxmemory_policy",
        "mem_fragmentation_ratio",
    ] {
        info_field(&mut c, "memory", f);
    }
    assert_eq!(info_field(&mut c, "memory", "maxmemory"), (64u64 << 20).to_string());
    assert_eq!(info_field(&mut c, "memory", "maxmemory_human"), "64.00M");
    assert_eq!(info_field(&mut c, "memory", "maxmemory_policy"), "noeviction");
    assert_eq!(info_field(&mut c, "stats", "evicted_keys"), "0");
    let before: u64 = info_field(&mut c, "memory", "used_memory_dataset").parse().unwrap();
    let _: () = redis::cmd("SET").arg("big").arg(vec![b'x'; 100_000]).query(&mut c).unwrap();
    let after: u64 = info_field(&mut c, "memory", "used_memory_dataset").parse().unwrap();
    assert!(after >= before + 100_000, "{before} -> {after}");
    let usage: i64 = redis::cmd("MEMORY").arg("USAGE").arg("big").query(&mut c).unwrap();
    assert!((100_000..120_000).contains(&usage), "{usage}");
    let usage: i64 = redis::cmd("MEMORY").arg("USAGE").arg("big").arg("SAMPLES").arg(5).query(&mut c).unwrap();
    assert!(usage >= 100_000);
    let _: () = redis::cmd("DEL").arg("big").query(&mut c).unwrap();
    let gone: u64 = info_field(&mut c, "memory", "used_memory_dataset").parse().unwrap();
    assert!(gone < after - 90_000, "{after} -> {gone}");
}

#[test]
fn noeviction_refuses_writes_but_reads_and_deletes_work() {
    let s = Server::start(&["--proactor_threads", "2", "--maxmemory", "2mb"]);
    let mut c = s.client();
    let value = vec![b'v'; 10_000];
    let mut refused = None;
    for i in 0..2000 {
        let r: redis::RedisResult<()> = redis::cmd("SET").arg(format!("k{i}")).arg(&value).query(&mut c);
        if let Err(e) = r {
            refused = Some((i, e.to_string()));
            break;
        }
    }
    let (n, msg) = refused.expect("writes are refused past maxmemory");
    assert!(msg.contains("OOM") && msg.contains("command not allowed when used memory > 'maxmemory'."), "{msg}");
    assert!(n > 10, "{n} writes before the limit");
    // Nothing was lost, reads and DEL still work, and freeing memory lets writes in again.
    assert_eq!(dbsize(&mut c), n as i64);
    let v: Vec<u8> = redis::cmd("GET").arg("k0").query(&mut c).unwrap();
    assert_eq!(v, value);
    let big: redis::RedisResult<()> = redis::cmd("APPEND").arg("k0").arg("x").query(&mut c);
    assert!(big.unwrap_err().to_string().contains("OOM"));
    let deleted: i64 =
        redis::cmd("DEL").arg((0..n).map(|i| format!("k{i}")).collect::<Vec<_>>()).query(&mut c).unwrap();
    assert_eq!(deleted, n as i64);
    let _: () = redis::cmd("SET").arg("again").arg(&value).query(&mut c).unwrap();
    // MSET goes through the cross-shard path and is refused there too once full.
    let mut mset_refused = false;
    for i in 0..400 {
        let r: redis::RedisResult<()> =
            redis::cmd("MSET").arg(format!("a{i}")).arg(&value).arg(format!("b{i}")).arg(&value).query(&mut c);
        if r.is_err() {
            mset_refused = true;
            break;
        }
    }
    assert!(mset_refused);
    assert_eq!(info_field(&mut c, "stats", "evicted_keys"), "0");
}

#[test]
fn allkeys_lru_stays_near_the_limit_and_keeps_recent_keys() {
    let s = Server::start(&["--proactor_threads", "2", "--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"]);
    let mut c = s.client();
    let value = vec![b'v'; 1000];
    for i in 0..20_000 {
        let mut p = redis::pipe();
        p.cmd("SET").arg(format!("key:{i}")).arg(&value).ignore();
        if i % 10 == 0 {
            // A hot key, read often, must survive.
            p.cmd("GET").arg("key:0").ignore();
        }
        let _: () = p.query(&mut c).unwrap();
    }
    let evicted: u64 = info_field(&mut c, "stats", "evicted_keys").parse().unwrap();
    assert!(evicted > 10_000, "{evicted}");
    let dataset: u64 = info_field(&mut c, "memory", "used_memory_dataset").parse().unwrap();
    assert!(dataset <= 4 << 20, "{dataset}");
    let n = dbsize(&mut c);
    assert!(n > 1000 && n < 4000, "{n} keys");
    let hot: Option<Vec<u8>> = redis::cmd("GET").arg("key:0").query(&mut c).unwrap();
    assert!(hot.is_some(), "the hot key was evicted");
    let recent: Option<Vec<u8>> = redis::cmd("GET").arg("key:19999").query(&mut c).unwrap();
    assert!(recent.is_some());
}

#[test]
fn volatile_policies_only_evict_keys_with_a_ttl() {
    for policy in ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"] {
        // Room above the allocator's own baseline, so only the data decides what is evicted.
        let s = Server::start(&["--proactor_threads", "2", "--maxmemory", "4mb", "--maxmemory-policy", policy]);
        let mut c = s.client();
        let value = vec![b'v'; 1000];
        for i in 0..300 {
            let _: () = redis::cmd("SET").arg(format!("keep:{i}")).arg(&value).query(&mut c).unwrap();
        }
        let mut oom = false;
        for i in 0..8000 {
            let r: redis::RedisResult<()> =
                redis::cmd("SET").arg(format!("tmp:{i}")).arg(&value).arg("EX").arg(1000).query(&mut c);
            if let Err(e) = r {
                assert!(e.to_string().contains("OOM"), "{e}");
                oom = true;
                break;
            }
        }
        let evicted: u64 = info_field(&mut c, "stats", "evicted_keys").parse().unwrap();
        assert!(evicted > 0, "{policy}");
        for i in 0..300 {
            let v: Option<Vec<u8>> = redis::cmd("GET").arg(format!("keep:{i}")).query(&mut c).unwrap();
            assert!(v.is_some(), "{policy} evicted keep:{i}");
        }
        // With only persistent keys left to take, writes are refused rather than evicting them.
        let _ = oom;
        for i in 0..3000 {
            let r: redis::RedisResult<()> = redis::cmd("SET").arg(format!("more:{i}")).arg(&value).query(&mut c);
            if r.is_err() {
                break;
            }
        }
        for i in 0..300 {
            let v: Option<Vec<u8>> = redis::cmd("GET").arg(format!("keep:{i}")).query(&mut c).unwrap();
            assert!(v.is_some(), "{policy} evicted keep:{i}");
        }
    }
}

#[test]
fn eviction_sends_keyspace_events_and_object_freq_idletime_follow_the_policy() {
    // Room above the allocator's own baseline, so the writes below always find keys to evict.
    let s = Server::start(&["--proactor_threads", "1", "--maxmemory", "8mb", "--maxmemory-policy", "allkeys-lfu"]);
    let mut c = s.client();
    let _: () = redis::cmd("CONFIG").arg("SET").arg("notify-keyspace-events").arg("Ee").query(&mut c).unwrap();
    let mut sub = s.client();
    let _: Value = redis::cmd("SUBSCRIBE").arg("__keyevent@0__:evicted").query(&mut sub).unwrap();
    let _: () = redis::cmd("SET").arg("f").arg("1").query(&mut c).unwrap();
    for _ in 0..50 {
        let _: Option<String> = redis::cmd("GET").arg("f").query(&mut c).unwrap();
    }
    let freq: i64 = redis::cmd("OBJECT").arg("FREQ").arg("f").query(&mut c).unwrap();
    assert!(freq > 5, "{freq}");
    let idle: redis::RedisResult<i64> = redis::cmd("OBJECT").arg("IDLETIME").arg("f").query(&mut c);
    assert!(idle.unwrap_err().to_string().contains("An LRU maxmemory policy is not selected"));
    let value = vec![b'v'; 1000];
    for i in 0..12_000 {
        let _: () = redis::cmd("SET").arg(format!("k{i}")).arg(&value).query(&mut c).unwrap();
    }
    let msg = sub.recv_response().unwrap();
    assert!(format!("{msg:?}").contains("evicted"), "{msg:?}");
    assert!(redis::cmd("GET").arg("f").query::<Option<String>>(&mut c).unwrap().is_some(), "the frequent key stays");
    let _: () = redis::cmd("CONFIG").arg("SET").arg("maxmemory-policy").arg("allkeys-lru").query(&mut c).unwrap();
    // As in Redis, the field is reinterpreted after a switch; an access sets it anew.
    let _: Option<String> = redis::cmd("GET").arg("f").query(&mut c).unwrap();
    let idle: i64 = redis::cmd("OBJECT").arg("IDLETIME").arg("f").query(&mut c).unwrap();
    assert!(idle < 100_000);
    // CONFIG SET maxmemory takes units; 0 lifts the limit.
    let _: () = redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg("1gb").query(&mut c).unwrap();
    assert_eq!(info_field(&mut c, "memory", "maxmemory"), (1u64 << 30).to_string());
    let _: () = redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg("0").query(&mut c).unwrap();
    for i in 0..3000 {
        let _: () = redis::cmd("SET").arg(format!("free{i}")).arg(&value).query(&mut c).unwrap();
    }
}

/// Found by the simulator's eviction workload: EXEC ran each queued command through the OOM
/// check (so a transaction could half run) and evicted between them. Redis checks EXEC once:
/// full since queueing, the whole transaction is aborted; otherwise every command runs.
#[test]
fn exec_is_refused_whole_when_memory_filled_after_queueing() {
    let s = Server::start(&["--proactor_threads", "2", "--maxmemory", "2mb"]);
    let (mut tx, mut reader, mut filler) = (s.client(), s.client(), s.client());
    let value = vec![b'v'; 10_000];
    let _: () = redis::cmd("SET").arg("k0").arg(&value).query(&mut reader).unwrap();
    // A transaction of reads and deletes, queued before memory fills.
    let _: () = redis::cmd("MULTI").query(&mut reader).unwrap();
    let _: String = redis::cmd("GET").arg("k0").query(&mut reader).unwrap();
    let _: String = redis::cmd("DEL").arg("k0").query(&mut reader).unwrap();
    let _: () = redis::cmd("MULTI").query(&mut tx).unwrap();
    let queued: String = redis::cmd("SET").arg("in-tx").arg("v").query(&mut tx).unwrap();
    assert_eq!(queued, "QUEUED");
    let _: String = redis::cmd("GET").arg("in-tx").query(&mut tx).unwrap();
    let full = (1..2000).any(|i| redis::cmd("SET").arg(format!("k{i}")).arg(&value).query::<()>(&mut filler).is_err());
    assert!(full, "2mb never filled");
    let err = redis::cmd("EXEC").query::<Value>(&mut tx).unwrap_err();
    assert_eq!(err.code(), Some("EXECABORT"));
    assert!(err.to_string().contains("OOM command not allowed when used memory > 'maxmemory'."), "{err}");
    let gone: Option<String> = redis::cmd("GET").arg("in-tx").query(&mut tx).unwrap();
    assert_eq!(gone, None, "nothing of the transaction ran");
    // Reads and deletes queued earlier still run while full.
    let out: (Vec<u8>, i64) = redis::cmd("EXEC").query(&mut reader).unwrap();
    assert_eq!((out.0.len(), out.1), (10_000, 1));
}

/// Redis 7.0 refuses every command queued inside MULTI while memory is full, reads included
/// (the queue itself would grow), and MULTI or WATCH sent inside it too; EXEC then aborts.
/// EXEC, DISCARD and RESET are spared.
#[test]
fn multi_queues_nothing_while_memory_is_full() {
    let s = Server::start(&["--proactor_threads", "2", "--maxmemory", "2mb"]);
    let (mut c, mut filler) = (s.client(), s.client());
    let value = vec![b'v'; 10_000];
    let full = (0..2000).any(|i| redis::cmd("SET").arg(format!("k{i}")).arg(&value).query::<()>(&mut filler).is_err());
    assert!(full, "2mb never filled");
    let oom = "command not allowed when used memory > 'maxmemory'.";
    let _: () = redis::cmd("MULTI").query(&mut c).unwrap();
    for cmd in
        [vec!["GET", "k0"], vec!["PING"], vec!["DEL", "k0"], vec!["MULTI"], vec!["WATCH", "k0"], vec!["SELECT", "1"]]
    {
        let err = redis::cmd(cmd[0]).arg(&cmd[1..]).query::<Value>(&mut c).unwrap_err();
        assert_eq!(err.code(), Some("OOM"), "{cmd:?}: {err}");
        assert_eq!(err.detail(), Some(oom), "{cmd:?}: {err}");
    }
    // An unknown command keeps its own error (checked before memory, as in Redis).
    let err = redis::cmd("NO-SUCH-CMD").query::<Value>(&mut c).unwrap_err();
    assert!(err.to_string().contains("unknown command"), "{err}");
    let err = redis::cmd("EXEC").query::<Value>(&mut c).unwrap_err();
    assert_eq!(err.code(), Some("EXECABORT"));
    assert!(err.to_string().contains("previous errors"), "{err}");
    let kept: Vec<u8> = redis::cmd("GET").arg("k0").query(&mut c).unwrap();
    assert_eq!(kept.len(), 10_000, "the refused DEL never ran");
    // DISCARD and RESET still end a transaction.
    let _: () = redis::cmd("MULTI").query(&mut c).unwrap();
    let _: () = redis::cmd("DISCARD").query(&mut c).unwrap();
    let _: () = redis::cmd("MULTI").query(&mut c).unwrap();
    let reset: String = redis::cmd("RESET").query(&mut c).unwrap();
    assert_eq!(reset, "RESET");
    // Outside MULTI, reads and deletes work at the limit.
    let deleted: i64 = redis::cmd("DEL").arg("k0").query(&mut c).unwrap();
    assert_eq!(deleted, 1);
    // With the limit lifted, queueing works again.
    let _: () = redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg("0").query(&mut c).unwrap();
    let _: () = redis::cmd("MULTI").query(&mut c).unwrap();
    let _: String = redis::cmd("GET").arg("k1").query(&mut c).unwrap();
    let out: Vec<Option<Vec<u8>>> = redis::cmd("EXEC").query(&mut c).unwrap();
    assert_eq!(out.len(), 1);
}
