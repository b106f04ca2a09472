//! End to end against redis-server (skipped if it is not installed): one short run with a kill -9
//! and no persistence must be reported as data loss; re-checking the stored history with
//! `--durability none` must find each process lifetime linearizable.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // runs real processes and reads their files

use std::path::Path;
use std::process::Command;

#[test]
fn kill_without_persistence_is_data_loss_not_a_crash() {
    if !Path::new("/usr/bin/redis-server").exists() {
        eprintln!("redis-server not installed: skipping");
        return;
    }
    let store = std::env::temp_dir().join(format!("mayfly-jepsen-test-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_jepsen"))
        .args(["run", "--workload", "register", "--nemesis", "kill", "--time", "9", "--seed", "3", "--store"])
        .arg(&store)
        .args([
            "--",
            "/usr/bin/redis-server",
            "--port",
            "{PORT}",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--dir", "{DIR}"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("VERDICT: INVALID"), "{stdout}");
    assert!(stdout.contains("data-loss"), "{stdout}");

    let run_dir = std::fs::read_dir(&store).unwrap().next().unwrap().unwrap().path();
    for f in ["history.jsonl", "run.json", "results.txt", "timeline.html", "n1.log"] {
        assert!(run_dir.join(f).exists(), "{f} missing");
    }
    let run_json = std::fs::read_to_string(run_dir.join("run.json")).unwrap();
    assert!(run_json.contains("\"action\": \"restart\""), "{run_json}");

    let check = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_jepsen")).arg("check").args(extra).arg(&run_dir).output().unwrap()
    };
    let again = check(&[]);
    assert_eq!(again.status.code(), Some(1));
    let lenient = check(&["--durability", "none"]);
    let text = String::from_utf8_lossy(&lenient.stdout);
    assert_eq!(lenient.status.code(), Some(0), "{text}");
    assert!(text.contains("2 process lifetimes"), "{text}");
    let _ = std::fs::remove_dir_all(&store);
}
