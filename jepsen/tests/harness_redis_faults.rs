//! End to end against redis-server (skipped if it is not installed): the snapshot nemesis finds
//! redis's fork snapshots to be consistent cuts, and a failover without WAIT, with the replicas
//! stalled behind, is reported as data loss while the nodes still converge. `jepsen check` must
//! reach the same verdicts from the stored files.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // runs real processes and reads their files

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const REDIS: &str = "/usr/bin/redis-server";

fn run(name: &str, flags: &[&str]) -> Option<(Output, PathBuf)> {
    if !Path::new(REDIS).exists() {
        eprintln!("redis-server not installed: skipping");
        return None;
    }
    let store = std::env::temp_dir().join(format!("mayfly-jepsen-{name}-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_jepsen"))
        .args(["run", "--time", "10", "--seed", "5", "--store"])
        .arg(&store)
        .args(flags)
        .args(["--", REDIS, "--port", "{PORT}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--dir", "{DIR}"])
        .output()
        .unwrap();
    let dir = std::fs::read_dir(&store).unwrap().next().unwrap().unwrap().path();
    Some((out, dir))
}

fn check(dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jepsen")).arg("check").arg(dir).output().unwrap()
}

#[test]
fn snapshot_recovery_is_a_consistent_cut() {
    let Some((out, dir)) = run("snapshot", &["--workload", "set", "--nemesis", "snapshot"]) else { return };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("snapshot 0 (n1, BGSAVE at"), "{stdout}");
    assert!(stdout.contains("a consistent cut"), "{stdout}");
    let run_json = std::fs::read_to_string(dir.join("run.json")).unwrap();
    for action in ["bgsave", "kill", "restart", "recovered", "reset-keys"] {
        assert!(run_json.contains(&format!("\"action\": \"{action}\"")), "{action}: {run_json}");
    }
    let again = check(&dir);
    let text = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(0), "{text}");
    assert!(text.contains("a consistent cut"), "{text}");
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

#[test]
fn failover_without_wait_loses_acknowledged_writes() {
    let flags = ["--workload", "set", "--nemesis", "failover-kill", "--replicas", "1"];
    let Some((out, dir)) = run("failover", &flags) else { return };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("VERDICT: INVALID (data-loss)"), "{stdout}");
    assert!(stdout.contains("convergence: 2 nodes"), "{stdout}");
    assert!(stdout.contains("identical"), "{stdout}");
    let run_json = std::fs::read_to_string(dir.join("run.json")).unwrap();
    for action in ["lag-replication", "kill-primary", "promote", "restart-as-replica"] {
        assert!(run_json.contains(&format!("\"action\": \"{action}\"")), "{action}: {run_json}");
    }
    let again = check(&dir);
    let text = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(1), "{text}");
    assert!(text.contains("data-loss") && text.contains("identical"), "{text}");
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}
