//! Snapshots end to end: SAVE/BGSAVE/SIGTERM then a restart on the same --dir loads everything
//! back (TTLs included); a damaged file refuses to start; DUMP/RESTORE over the wire.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;
use common::*;
use redis::cmd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mayfly-snapshot-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn args(dir: &std::path::Path) -> Vec<String> {
    vec![format!("--dir={}", dir.display()), "--dbfilename=dump.rdb".into(), "--proactor_threads=4".into()]
}

fn start(dir: &std::path::Path) -> Server {
    let a = args(dir);
    Server::start(&a.iter().map(|s| s.as_str()).collect::<Vec<_>>())
}

fn info_field(c: &mut redis::Connection, field: &str) -> String {
    let info: String = cmd("INFO").arg("persistence").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("{field} missing"))
        .trim()
        .to_string()
}

fn fill(c: &mut redis::Connection) {
    let _: () = cmd("SET").arg("s").arg("hello").query(c).unwrap();
    let _: () = cmd("SET").arg("n").arg(42).query(c).unwrap();
    let _: () = cmd("SET").arg("ttl").arg("v").arg("EX").arg(100000).query(c).unwrap();
    let _: () = cmd("RPUSH").arg("l").arg(&["a", "b", "c"]).query(c).unwrap();
    let _: () = cmd("SADD").arg("si").arg(&["1", "2", "3"]).query(c).unwrap();
    let _: () = cmd("SADD").arg("ss").arg(&["x", "y"]).query(c).unwrap();
    let _: () = cmd("HSET").arg("h").arg(&["f", "v", "g", "w"]).query(c).unwrap();
    let _: () = cmd("ZADD").arg("z").arg(&["1.5", "a", "2", "b"]).query(c).unwrap();
    for i in 0..2000 {
        let _: () = cmd("SET").arg(format!("key:{i}")).arg(i).query(c).unwrap();
    }
    let _: () = cmd("SELECT").arg(2).query(c).unwrap();
    let _: () = cmd("SET").arg("in2").arg("two").query(c).unwrap();
    let _: () = cmd("SELECT").arg(0).query(c).unwrap();
}

fn check(c: &mut redis::Connection) {
    assert_eq!(cmd("DBSIZE").query::<i64>(c).unwrap(), 2008);
    assert_eq!(cmd("GET").arg("s").query::<String>(c).unwrap(), "hello");
    assert_eq!(cmd("GET").arg("key:1234").query::<String>(c).unwrap(), "1234");
    let ttl: i64 = cmd("TTL").arg("ttl").query(c).unwrap();
    assert!(ttl > 99000 && ttl <= 100000, "{ttl}");
    assert_eq!(cmd("TTL").arg("s").query::<i64>(c).unwrap(), -1);
    assert_eq!(cmd("LRANGE").arg("l").arg(0).arg(-1).query::<Vec<String>>(c).unwrap(), ["a", "b", "c"]);
    assert_eq!(cmd("OBJECT").arg("ENCODING").arg("si").query::<String>(c).unwrap(), "intset");
    assert_eq!(cmd("SCARD").arg("ss").query::<i64>(c).unwrap(), 2);
    assert_eq!(cmd("HGET").arg("h").arg("g").query::<String>(c).unwrap(), "w");
    assert_eq!(cmd("ZSCORE").arg("z").arg("a").query::<f64>(c).unwrap(), 1.5);
    let _: () = cmd("SELECT").arg(2).query(c).unwrap();
    assert_eq!(cmd("GET").arg("in2").query::<String>(c).unwrap(), "two");
    let _: () = cmd("SELECT").arg(0).query(c).unwrap();
}

#[test]
fn save_then_restart_loads_everything_back() {
    let dir = temp_dir("save");
    {
        let s = start(&dir);
        let mut c = s.client();
        fill(&mut c);
        assert_ne!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
        assert_eq!(cmd("SAVE").query::<String>(&mut c).unwrap(), "OK");
        assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
        assert_eq!(info_field(&mut c, "rdb_saves"), "1");
        assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
        let last: i64 = cmd("LASTSAVE").query(&mut c).unwrap();
        assert!(last > 1_600_000_000);
    }
    let file = dir.join("dump.rdb");
    assert!(file.exists());
    if std::process::Command::new("redis-check-rdb").arg(&file).output().is_ok_and(|o| o.status.success()) {
        println!("redis-check-rdb accepts the snapshot");
    }
    let s = start(&dir);
    let mut c = s.client();
    check(&mut c);
    assert_eq!(info_field(&mut c, "rdb_last_load_keys_loaded"), "2009");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bgsave_and_sigterm_both_persist() {
    let dir = temp_dir("bgsave");
    {
        let s = start(&dir);
        let mut c = s.client();
        fill(&mut c);
        assert_eq!(cmd("BGSAVE").query::<String>(&mut c).unwrap(), "Background saving started");
        let deadline = Instant::now() + Duration::from_secs(20);
        while info_field(&mut c, "rdb_saves") != "1" {
            assert!(Instant::now() < deadline, "BGSAVE did not finish");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(info_field(&mut c, "rdb_bgsave_in_progress"), "0");
        assert!(cmd("BGSAVE").arg("NOW").query::<String>(&mut c).is_err());
    }
    let mut s = start(&dir);
    let mut c = s.client();
    check(&mut c);
    // Written after the BGSAVE, saved by the SIGTERM path.
    let _: () = cmd("SET").arg("late").arg("yes").query(&mut c).unwrap();
    let status = std::process::Command::new("kill").args(["-TERM", &s.pid().to_string()]).status().unwrap();
    assert!(status.success());
    assert_eq!(s.wait_exit(Duration::from_secs(20)), Some(0));
    let s = start(&dir);
    let mut c = s.client();
    assert_eq!(cmd("GET").arg("late").query::<String>(&mut c).unwrap(), "yes");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_damaged_snapshot_refuses_to_start_unless_told_to_skip_it() {
    let dir = temp_dir("corrupt");
    {
        let s = start(&dir);
        let mut c = s.client();
        fill(&mut c);
        assert_eq!(cmd("SAVE").query::<String>(&mut c).unwrap(), "OK");
    }
    let file = dir.join("dump.rdb");
    let data = std::fs::read(&file).unwrap();
    std::fs::write(&file, &data[..data.len() / 2]).unwrap();
    let a = args(&dir);
    let mut a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
    a.push("--port=0");
    let (code, stderr) = run_binary(&a);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("truncated") && stderr.contains("dump.rdb"), "{stderr}");
    // A flipped byte is caught too (by the checksum if nothing else).
    let mut flipped = data.clone();
    let at = data.len() - 20;
    flipped[at] ^= 0x40;
    std::fs::write(&file, &flipped).unwrap();
    let (code, _) = run_binary(&a);
    assert_eq!(code, Some(1));
    // The flag starts empty instead, and leaves the file alone.
    let mut b = args(&dir);
    b.push("--skip_corrupt_snapshot".into());
    let s = Server::start(&b.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    assert_eq!(cmd("DBSIZE").query::<i64>(&mut s.client()).unwrap(), 0);
    assert_eq!(std::fs::read(&file).unwrap(), flipped);
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dump_and_restore_over_the_wire() {
    let s = Server::start(&["--proactor_threads", "4"]);
    let mut c = s.client();
    fill(&mut c);
    for key in ["s", "n", "l", "si", "ss", "h", "z"] {
        let payload: Vec<u8> = cmd("DUMP").arg(key).query(&mut c).unwrap();
        let copy = format!("{key}:copy");
        assert_eq!(cmd("RESTORE").arg(&copy).arg(0).arg(&payload).query::<String>(&mut c).unwrap(), "OK");
        let a: Vec<u8> = cmd("DUMP").arg(&copy).query(&mut c).unwrap();
        assert_eq!(a, payload, "{key}");
        let err = cmd("RESTORE").arg(&copy).arg(0).arg(&payload).query::<String>(&mut c).unwrap_err();
        assert_eq!(err.code(), Some("BUSYKEY"), "{err}");
    }
    let payload: Vec<u8> = cmd("DUMP").arg("h").query(&mut c).unwrap();
    assert_eq!(cmd("RESTORE").arg("h").arg(5000).arg(&payload).arg("REPLACE").query::<String>(&mut c).unwrap(), "OK");
    let pttl: i64 = cmd("PTTL").arg("h").query(&mut c).unwrap();
    assert!(pttl > 0 && pttl <= 5000);
    let mut bad = payload.clone();
    bad[1] ^= 1;
    let err = cmd("RESTORE").arg("x").arg(0).arg(&bad).query::<String>(&mut c).unwrap_err();
    assert!(err.to_string().contains("DUMP payload version or checksum are wrong"), "{err}");
    assert!(cmd("DUMP").arg("nokey").query::<Option<Vec<u8>>>(&mut c).unwrap().is_none());
}

#[test]
fn save_points_start_background_saves_and_config_checks_them() {
    let dir = temp_dir("savepoints");
    let d = format!("--dir={}", dir.display());
    let s = Server::start(&[&d, "--dbfilename=dump.rdb", "--save", "\"1 2\""]);
    let mut c = s.client();
    assert_eq!(cmd("CONFIG").arg("GET").arg("save").query::<Vec<String>>(&mut c).unwrap(), ["save", "1 2"]);
    let err = cmd("CONFIG").arg("SET").arg("save").arg("10").query::<String>(&mut c).unwrap_err();
    assert!(err.to_string().contains("Invalid save parameters"), "{err}");
    assert!(cmd("CONFIG").arg("SET").arg("snapshot-cron").arg("61 * * * *").query::<String>(&mut c).is_err());
    let _: () = cmd("SET").arg("a").arg("1").query(&mut c).unwrap();
    // One change is below the save point's two: nothing is saved.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(info_field(&mut c, "rdb_saves"), "0");
    let _: () = cmd("SET").arg("b").arg("2").query(&mut c).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while info_field(&mut c, "rdb_saves") == "0" {
        assert!(Instant::now() < deadline, "the save point did not trigger a save");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    assert!(dir.join("dump.rdb").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
