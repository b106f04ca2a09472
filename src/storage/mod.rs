//! Persistence: the RDB format (`rdb`), writing snapshots (`snapshot`) and loading them at
//! start (`load`).

pub mod load;
pub mod progress;
pub mod rdb;
pub mod schedule;
pub mod snapshot;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// Server-wide persistence state, read by INFO, LASTSAVE and the command gate while loading.
#[derive(Default)]
pub struct Persistence {
    /// True until the snapshot found at start is loaded: commands get -LOADING meanwhile.
    pub loading: AtomicBool,
    pub in_progress: AtomicBool,
    /// BGSAVE SCHEDULE asked for a save while one was running.
    pub scheduled: AtomicBool,
    pub last_save_secs: AtomicU64,
    pub last_ok: AtomicBool,
    /// Seconds the last background save took (-1: none yet).
    pub last_bgsave_secs: AtomicI64,
    /// Unix ms the running save started at.
    pub current_started_ms: AtomicU64,
    pub saves: AtomicU64,
    pub loaded_keys: AtomicU64,
    pub expired_on_load: AtomicU64,
    /// How far the load at start has come (INFO's loading_* fields).
    pub load_progress: progress::LoadProgress,
}

impl Persistence {
    pub fn new(start_ms: u64) -> Persistence {
        let p = Persistence::default();
        p.last_save_secs.store(start_ms / 1000, Ordering::Relaxed);
        p.last_ok.store(true, Ordering::Relaxed);
        p.last_bgsave_secs.store(-1, Ordering::Relaxed);
        p
    }

    pub fn is_loading(&self) -> bool {
        self.loading.load(Ordering::Acquire)
    }
}

/// Redis's reply to commands that cannot run while the dataset loads.
pub const LOADING: &str = "LOADING Redis is loading the dataset in memory";

/// `dbfilename` with Dragonfly's `{timestamp}` replaced by the UTC time of `ms`
/// (`2024-05-01T12:00:00`).
pub fn expand_filename(pattern: &str, ms: u64) -> String {
    if !pattern.contains("{timestamp}") {
        return pattern.to_string();
    }
    let secs = ms / 1000;
    let (days, rem) = (secs / 86400, secs % 86400);
    let (y, m, d) = schedule::civil_date(days);
    let stamp = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60);
    pattern.replace("{timestamp}", &stamp)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_in_file_names() {
        assert_eq!(super::expand_filename("dump.rdb", 0), "dump.rdb");
        assert_eq!(super::expand_filename("dump-{timestamp}.rdb", 1_714_564_800_000), "dump-2024-05-01T12:00:00.rdb");
    }
}
