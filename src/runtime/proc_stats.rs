//! Process figures Linux publishes under /proc: CPU time (INFO cpu) and the machine's memory
//! (INFO `total_system_memory`). Zeros where /proc is missing or unreadable.
//! Part of the production backend: it reads the OS directly, as the runtime seam may.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use super::CpuTimes;
use std::time::Duration;

/// /proc reports CPU time in clock ticks of USER_HZ, which the kernel ABI fixes at 100 on
/// every architecture Mayfly builds for.
const TICKS_PER_SEC: u64 = 100;

fn ticks(t: u64) -> Duration {
    Duration::from_millis(t * 1000 / TICKS_PER_SEC)
}

/// (user, sys, children's user, children's sys) from a `stat` file; the fields after the
/// command name, which is in parentheses and may itself hold spaces.
fn stat_times(path: &str) -> Option<[Duration; 4]> {
    let text = std::fs::read_to_string(path).ok()?;
    let after = text.rsplit_once(')')?.1;
    let f: Vec<u64> = after.split_whitespace().skip(11).take(4).map(|w| w.parse().unwrap_or(0)).collect();
    (f.len() == 4).then(|| [ticks(f[0]), ticks(f[1]), ticks(f[2]), ticks(f[3])])
}

pub fn cpu_times() -> CpuTimes {
    let mut out = CpuTimes::default();
    if let Some([user, sys, cuser, csys]) = stat_times("/proc/self/stat") {
        (out.user, out.sys, out.children_user, out.children_sys) = (user, sys, cuser, csys);
    }
    // The thread that started the process (accept loop, signals), as Redis's main thread.
    if let Some([user, sys, _, _]) = stat_times(&format!("/proc/self/task/{}/stat", std::process::id())) {
        (out.main_user, out.main_sys) = (user, sys);
    }
    out
}

/// MemTotal from /proc/meminfo, in bytes.
pub fn total_system_memory() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/meminfo") else { return 0 };
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_process() {
        let t = super::cpu_times();
        // Busy for a moment so at least one tick is charged.
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_add(1);
        }
        assert!(x > 0);
        let later = super::cpu_times();
        assert!(later.user + later.sys >= t.user + t.sys);
        assert!(super::total_system_memory() > 1 << 20);
    }
}
