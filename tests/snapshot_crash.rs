//! kill -9 during a BGSAVE: the half-written temp file must never be taken for the snapshot; a
//! restart loads the previous SAVE intact (same keys, same values: same DEBUG DIGEST).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;
use common::*;
use redis::cmd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().contains(".tmp-"))
        .collect()
}

#[test]
fn kill_9_during_bgsave_leaves_the_previous_snapshot_loadable() {
    let dir = std::env::temp_dir().join(format!("mayfly-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dir_arg = format!("--dir={}", dir.display());
    let args = [dir_arg.as_str(), "--dbfilename=dump.rdb", "--proactor_threads=2", "--enable_debug_command=yes"];
    let snapshot = dir.join("dump.rdb");

    let s = Server::start(&args);
    let mut c = s.client();
    let _: () = cmd("DEBUG").arg("POPULATE").arg(400_000).arg("old").arg(32).query(&mut c).unwrap();
    let _: () = cmd("SAVE").query(&mut c).unwrap();
    let saved_digest: String = cmd("DEBUG").arg("DIGEST").query(&mut c).unwrap();
    let saved_bytes = std::fs::metadata(&snapshot).unwrap().len();

    // A bigger dataset whose save takes a while; it must never be seen after the crash.
    let _: () = cmd("DEBUG").arg("POPULATE").arg(1_500_000).arg("new").arg(32).query(&mut c).unwrap();
    let _: () = cmd("SET").arg("old:7").arg("changed after the save").query(&mut c).unwrap();
    let _: String = cmd("BGSAVE").query(&mut c).unwrap();
    // Kill once the new file is partly written: a crash in the middle of the stream.
    let deadline = Instant::now() + Duration::from_secs(60);
    let tmp = loop {
        assert!(Instant::now() < deadline, "BGSAVE never wrote its temp file");
        let partly = temp_files(&dir).into_iter().find(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0));
        if let Some(p) = partly {
            break p;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let status = std::process::Command::new("kill").args(["-9", &s.pid().to_string()]).status().unwrap();
    assert!(status.success());
    let written = std::fs::metadata(&tmp).map(|m| m.len()).unwrap_or(0);
    drop(c);
    drop(s);
    assert_eq!(std::fs::metadata(&snapshot).unwrap().len(), saved_bytes, "dump.rdb changed under a crashed save");
    assert!(written > 0, "the crash came before the temp file had any bytes");

    let s = Server::start(&args);
    let mut c = s.client();
    assert_eq!(cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 400_000);
    assert_eq!(cmd("DEBUG").arg("DIGEST").query::<String>(&mut c).unwrap(), saved_digest);
    assert_eq!(cmd("EXISTS").arg("new:0").query::<i64>(&mut c).unwrap(), 0);
    let v: String = cmd("GET").arg("old:7").query(&mut c).unwrap();
    assert_ne!(v, "changed after the save");
    drop(c);
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
