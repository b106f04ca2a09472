//! The process as operators run it: flags, the seed ADR's arguments, signals.
// Tests drive a real process from real threads: the simulator's determinism rules don't apply.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;
use common::*;
use std::time::Duration;

#[test]
fn seed_adr_arguments_start_the_server() {
    let dir = std::env::temp_dir();
    let dir_flag = format!("--dir={}", dir.display());
    let s = Server::start(&[
        "--cluster_mode=emulated",
        "--maxmemory=400mb",
        "--maxmemory-policy=allkeys-lru",
        "--snapshot_cron=\"0 */6 * * *\"",
        &dir_flag,
        "--dbfilename=dump.rdb",
    ]);
    let mut c = s.client();
    assert_eq!(redis::cmd("PING").query::<String>(&mut c).unwrap(), "PONG");
}

#[test]
fn bad_flags_say_one_line_and_exit_1() {
    for args in [&["--no_such_flag=1"][..], &["--port=banana"], &["--maxmemory-policy=sometimes"]] {
        let (code, stderr) = run_binary(args);
        assert_eq!(code, Some(1), "{args:?}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn sigterm_stops_cleanly_with_exit_0() {
    let mut s = Server::start(&[]);
    let mut c = s.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let status = std::process::Command::new("kill").args(["-TERM", &s.pid().to_string()]).status().unwrap();
    assert!(status.success());
    assert_eq!(s.wait_exit(Duration::from_secs(10)), Some(0));
}
