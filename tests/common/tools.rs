//! Outside programs some tests drive (redis-server, redis-cli, redis-sentinel, openssl,
//! promtool, prometheus). Locally a missing one skips the part of the test that needs it, with a
//! note; with `MAYFLY_REQUIRE_TOOLS=1` (set by .ci/run, which installs them all) a missing one
//! fails the test instead, so no test passes in CI by not running.
#![allow(dead_code, clippy::disallowed_methods, clippy::disallowed_types)]

use std::process::{Command, Stdio};

/// Whether `program` runs (`program version_arg` exits 0).
pub fn available(program: &str, version_arg: &str) -> bool {
    let runs = Command::new(program)
        .arg(version_arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !runs {
        assert!(
            std::env::var_os("MAYFLY_REQUIRE_TOOLS").is_none(),
            "{program} is not installed, and MAYFLY_REQUIRE_TOOLS is set: this test must not skip"
        );
        eprintln!("note: {program} not installed; skipping what needs it");
    }
    runs
}
