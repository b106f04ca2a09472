//! INFO rendering in Redis 7.0's layout: `# Section` headers, `field:value` lines, `\r\n` line
//! ends, a blank line between sections. Fields Mayfly has no concept for carry the value an
//! idle Redis would show (zeros, `ok`, `-1`).

use crate::engine::CommandStat;
use std::fmt::Write;

/// Key counts of one database, summed across shards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DbCounts {
    pub keys: u64,
    pub expires: u64,
}

/// Everything INFO prints, gathered by the caller.
/// INFO persistence's snapshot fields.
#[derive(Clone, Debug, Default)]
pub struct RdbInfo {
    pub loading: bool,
    pub changes_since_last_save: u64,
    pub bgsave_in_progress: bool,
    pub last_bgsave_ok: bool,
    pub last_bgsave_time_sec: i64,
    pub current_bgsave_time_sec: i64,
    pub saves: u64,
    pub loaded_keys: u64,
    pub expired_on_load: u64,
    /// While loading: how far the load has come.
    pub load_progress: Option<crate::storage::progress::LoadingFields>,
}

impl RdbInfo {
    pub fn from(p: &crate::storage::Persistence, now_ms: u64) -> RdbInfo {
        use std::sync::atomic::Ordering::Relaxed;
        let running = p.in_progress.load(Relaxed);
        RdbInfo {
            loading: p.is_loading(),
            changes_since_last_save: 0,
            bgsave_in_progress: running,
            last_bgsave_ok: p.last_ok.load(Relaxed),
            last_bgsave_time_sec: p.last_bgsave_secs.load(Relaxed),
            current_bgsave_time_sec: if running {
                (now_ms.saturating_sub(p.current_started_ms.load(Relaxed)) / 1000) as i64
            } else {
                -1
            },
            saves: p.saves.load(Relaxed),
            loaded_keys: p.loaded_keys.load(Relaxed),
            expired_on_load: p.expired_on_load.load(Relaxed),
            load_progress: p.is_loading().then(|| p.load_progress.fields(now_ms)),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct InfoSnapshot {
    pub rdb: RdbInfo,
    pub redis_version: &'static str,
    pub mayfly_version: &'static str,
    pub run_id: String,
    pub tcp_port: u16,
    pub now_ms: u64,
    pub uptime_secs: u64,
    pub hz: i64,
    pub process_id: u32,
    pub executable: String,
    pub config_file: String,
    pub threads: usize,
    pub shards: usize,
    pub connected_clients: usize,
    /// Clients waiting in a blocking command (BLPOP...).
    pub blocked_clients: usize,
    pub maxclients: i64,
    pub used_memory: u64,
    pub used_memory_peak: u64,
    /// Resident set size of the process.
    pub used_memory_rss: u64,
    /// Bytes of the keys and values by the accounting model.
    pub used_memory_dataset: u64,
    pub mem_allocator: &'static str,
    pub maxmemory: i64,
    pub maxmemory_policy: String,
    /// Unix seconds of the last save (the start time until snapshots exist).
    pub last_save_secs: u64,
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub tls_handshake_failures: u64,
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub repl_backlog_size: i64,
    /// Per database index, only those with keys are printed.
    pub dbs: Vec<DbCounts>,
    /// (name, stats), e.g. ("get", ..) or ("client|list", ..).
    pub commands: Vec<(&'static str, CommandStat)>,
    /// (error code, count) for errorstats.
    pub errors: Vec<(String, u64)>,
    pub ops_per_sec: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    /// Replication's share of the two above (Redis 7 counts it in both totals).
    pub net_repl_input_bytes: u64,
    pub net_repl_output_bytes: u64,
    pub cluster_enabled: bool,
    /// The whole replication section as `replication::info` renders it (empty: a primary
    /// that never had a replica, printed below).
    pub replication: String,
    /// Per-command latency histograms merged over shards (INFO latencystats), and the
    /// percentiles to show.
    pub latency: Vec<(&'static str, super::latency_histogram::LatencyHistogram)>,
    pub latency_percentiles: Vec<f64>,
    pub cpu: crate::runtime::CpuTimes,
    pub allocator_active: u64,
    pub total_system_memory: u64,
    /// Bytes the replication backlog holds.
    pub repl_backlog_histlen: u64,
    /// The replication state the section above was printed from (for `/metrics`).
    pub repl: crate::replication::info::ReplSnapshot,
    pub replica_read_only: bool,
}

/// Sections in the order Redis prints them, and whether `INFO`/`default` includes each.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

/// Which sections the INFO arguments ask for (case-insensitive), in Redis's order. Unknown
/// names are ignored, as Redis does.
pub fn select_sections(args: &[&str]) -> Vec<&'static str> {
    let lower: Vec<String> = args.iter().map(|a| a.to_ascii_lowercase()).collect();
    let want_all = lower.iter().any(|a| a == "all" || a == "everything");
    let want_default = lower.is_empty() || lower.iter().any(|a| a == "default");
    SECTIONS
        .iter()
        .filter(|(name, default)| want_all || (want_default && *default) || lower.iter().any(|a| a == name))
        .map(|(name, _)| *name)
        .collect()
}

/// Redis's `bytesToHuman`.
pub fn human_bytes(n: u64) -> String {
    let d = n as f64;
    const K: f64 = 1024.0;
    if n < 1024 {
        format!("{n}B")
    } else if d < K * K {
        format!("{:.2}K", d / K)
    } else if d < K * K * K {
        format!("{:.2}M", d / (K * K))
    } else if d < K * K * K * K {
        format!("{:.2}G", d / (K * K * K))
    } else if d < K * K * K * K * K {
        format!("{:.2}T", d / (K * K * K * K))
    } else {
        format!("{:.2}P", d / (K * K * K * K * K))
    }
}

/// Renders the selected sections.
pub fn render(sections: &[&str], s: &InfoSnapshot) -> String {
    let mut out = String::with_capacity(4096);
    for (i, name) in sections.iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        section(&mut out, name, s);
    }
    out
}

fn kv(out: &mut String, k: &str, v: impl std::fmt::Display) {
    let _ = write!(out, "{k}:{v}\r\n");
}

fn section(out: &mut String, name: &str, s: &InfoSnapshot) {
    match name {
        "server" => {
            out.push_str("# Server\r\n");
            kv(out, "redis_version", s.redis_version);
            kv(out, "redis_git_sha1", "00000000");
            kv(out, "redis_git_dirty", 0);
            kv(out, "redis_build_id", "0");
            kv(out, "redis_mode", if s.cluster_enabled { "cluster" } else { "standalone" });
            kv(out, "os", std::env::consts::OS);
            kv(out, "arch_bits", usize::BITS);
            kv(out, "monotonic_clock", "POSIX clock_gettime");
            kv(out, "multiplexing_api", "epoll");
            kv(out, "atomicvar_api", "c11-builtin");
            kv(out, "gcc_version", "0.0.0");
            kv(out, "process_id", s.process_id);
            kv(out, "process_supervised", "no");
            kv(out, "run_id", &s.run_id);
            kv(out, "tcp_port", s.tcp_port);
            kv(out, "server_time_usec", s.now_ms * 1000);
            kv(out, "uptime_in_seconds", s.uptime_secs);
            kv(out, "uptime_in_days", s.uptime_secs / 86400);
            kv(out, "hz", s.hz);
            kv(out, "configured_hz", s.hz);
            kv(out, "lru_clock", (s.now_ms / 1000) & ((1 << 24) - 1));
            kv(out, "executable", &s.executable);
            kv(out, "config_file", &s.config_file);
            kv(out, "io_threads_active", 0);
            kv(out, "mayfly_version", s.mayfly_version);
            kv(out, "mayfly_threads", s.threads);
            kv(out, "mayfly_shards", s.shards);
        }
        "clients" => {
            out.push_str("# Clients\r\n");
            kv(out, "connected_clients", s.connected_clients);
            kv(out, "cluster_connections", 0);
            kv(out, "maxclients", s.maxclients);
            kv(out, "client_recent_max_input_buffer", 0);
            kv(out, "client_recent_max_output_buffer", 0);
            kv(out, "blocked_clients", s.blocked_clients);
            kv(out, "tracking_clients", 0);
            kv(out, "clients_in_timeout_table", 0);
        }
        "memory" => {
            out.push_str("# Memory\r\n");
            let used = s.used_memory;
            kv(out, "used_memory", used);
            kv(out, "used_memory_human", human_bytes(used));
            kv(out, "used_memory_rss", s.used_memory_rss);
            kv(out, "used_memory_rss_human", human_bytes(s.used_memory_rss));
            let peak = s.used_memory_peak.max(used);
            kv(out, "used_memory_peak", peak);
            kv(out, "used_memory_peak_human", human_bytes(peak));
            kv(out, "used_memory_peak_perc", format!("{:.2}%", used as f64 * 100.0 / peak.max(1) as f64));
            let dataset = s.used_memory_dataset.min(used);
            kv(out, "used_memory_overhead", used - dataset);
            kv(out, "used_memory_startup", 0);
            kv(out, "used_memory_dataset", dataset);
            kv(out, "used_memory_dataset_perc", format!("{:.2}%", dataset as f64 * 100.0 / used.max(1) as f64));
            let active = if s.allocator_active == 0 { used } else { s.allocator_active };
            kv(out, "allocator_allocated", used);
            kv(out, "allocator_active", active);
            kv(out, "allocator_resident", s.used_memory_rss);
            kv(out, "total_system_memory", s.total_system_memory);
            kv(out, "total_system_memory_human", human_bytes(s.total_system_memory));
            // No scripting engine: the script and function figures are those of an empty one.
            kv(out, "used_memory_lua", 31744);
            kv(out, "used_memory_vm_eval", 31744);
            kv(out, "used_memory_lua_human", "31.00K");
            kv(out, "used_memory_scripts_eval", 0);
            kv(out, "number_of_cached_scripts", 0);
            kv(out, "number_of_functions", 0);
            kv(out, "number_of_libraries", 0);
            kv(out, "used_memory_vm_functions", 32768);
            kv(out, "used_memory_vm_total", 31744 + 32768);
            kv(out, "used_memory_vm_total_human", "63.00K");
            kv(out, "used_memory_functions", 0);
            kv(out, "used_memory_scripts", 0);
            kv(out, "used_memory_scripts_human", "0B");
            kv(out, "maxmemory", s.maxmemory);
            kv(out, "maxmemory_human", human_bytes(s.maxmemory.max(0) as u64));
            kv(out, "maxmemory_policy", &s.maxmemory_policy);
            let ratio = |a: u64, b: u64| format!("{:.2}", a as f64 / b.max(1) as f64);
            kv(out, "allocator_frag_ratio", ratio(active, used));
            kv(out, "allocator_frag_bytes", active as i64 - used as i64);
            kv(out, "allocator_rss_ratio", ratio(s.used_memory_rss, active));
            kv(out, "allocator_rss_bytes", s.used_memory_rss as i64 - active as i64);
            kv(out, "rss_overhead_ratio", "1.00");
            kv(out, "rss_overhead_bytes", 0);
            kv(out, "mem_fragmentation_ratio", ratio(s.used_memory_rss, used));
            kv(out, "mem_fragmentation_bytes", s.used_memory_rss as i64 - used as i64);
            kv(out, "mem_not_counted_for_evict", 0);
            kv(out, "mem_replication_backlog", s.repl_backlog_histlen);
            kv(out, "mem_total_replication_buffers", s.repl_backlog_histlen);
            kv(out, "mem_clients_slaves", 0);
            kv(out, "mem_clients_normal", 0);
            kv(out, "mem_cluster_links", 0);
            kv(out, "mem_aof_buffer", 0);
            kv(out, "mem_allocator", if s.mem_allocator.is_empty() { "libc" } else { s.mem_allocator });
            kv(out, "active_defrag_running", 0);
            kv(out, "lazyfree_pending_objects", 0);
            kv(out, "lazyfreed_objects", 0);
        }
        "persistence" => {
            out.push_str("# Persistence\r\n");
            kv(out, "loading", s.rdb.loading as u8);
            kv(out, "async_loading", 0);
            kv(out, "current_cow_peak", 0);
            kv(out, "current_cow_size", 0);
            kv(out, "current_cow_size_age", 0);
            kv(out, "current_fork_perc", "0.00");
            kv(out, "current_save_keys_processed", 0);
            kv(out, "current_save_keys_total", 0);
            kv(out, "rdb_changes_since_last_save", s.rdb.changes_since_last_save);
            kv(out, "rdb_bgsave_in_progress", s.rdb.bgsave_in_progress as u8);
            kv(out, "rdb_last_save_time", s.last_save_secs);
            kv(out, "rdb_last_bgsave_status", if s.rdb.last_bgsave_ok { "ok" } else { "err" });
            kv(out, "rdb_last_bgsave_time_sec", s.rdb.last_bgsave_time_sec);
            kv(out, "rdb_current_bgsave_time_sec", s.rdb.current_bgsave_time_sec);
            kv(out, "rdb_saves", s.rdb.saves);
            kv(out, "rdb_last_cow_size", 0);
            kv(out, "rdb_last_load_keys_expired", s.rdb.expired_on_load);
            kv(out, "rdb_last_load_keys_loaded", s.rdb.loaded_keys);
            kv(out, "aof_enabled", 0);
            kv(out, "aof_rewrite_in_progress", 0);
            kv(out, "aof_rewrite_scheduled", 0);
            kv(out, "aof_last_rewrite_time_sec", -1);
            kv(out, "aof_current_rewrite_time_sec", -1);
            kv(out, "aof_last_bgrewrite_status", "ok");
            kv(out, "aof_rewrites", 0);
            kv(out, "aof_rewrites_consecutive_failures", 0);
            kv(out, "aof_last_write_status", "ok");
            kv(out, "aof_last_cow_size", 0);
            kv(out, "module_fork_in_progress", 0);
            kv(out, "module_fork_last_cow_size", 0);
            if let Some(l) = &s.rdb.load_progress {
                kv(out, "loading_start_time", l.start_time);
                kv(out, "loading_total_bytes", l.total_bytes);
                kv(out, "loading_rdb_used_mem", l.rdb_used_mem);
                kv(out, "loading_loaded_bytes", l.loaded_bytes);
                kv(out, "loading_loaded_perc", format!("{:.2}", l.loaded_perc));
                kv(out, "loading_eta_seconds", l.eta_seconds);
            }
        }
        "stats" => {
            out.push_str("# Stats\r\n");
            kv(out, "total_connections_received", s.total_connections_received);
            kv(out, "total_commands_processed", s.total_commands_processed);
            kv(out, "instantaneous_ops_per_sec", s.ops_per_sec);
            kv(out, "total_net_input_bytes", s.net_input_bytes);
            kv(out, "total_net_output_bytes", s.net_output_bytes);
            kv(out, "total_net_repl_input_bytes", s.net_repl_input_bytes);
            kv(out, "total_net_repl_output_bytes", s.net_repl_output_bytes);
            kv(out, "instantaneous_input_kbps", "0.00");
            kv(out, "instantaneous_output_kbps", "0.00");
            kv(out, "instantaneous_input_repl_kbps", "0.00");
            kv(out, "instantaneous_output_repl_kbps", "0.00");
            kv(out, "rejected_connections", s.rejected_connections);
            kv(out, "tls_handshake_failures", s.tls_handshake_failures);
            kv(out, "sync_full", s.sync_full);
            kv(out, "sync_partial_ok", s.sync_partial_ok);
            kv(out, "sync_partial_err", s.sync_partial_err);
            kv(out, "expired_keys", s.expired_keys);
            kv(out, "expired_stale_perc", "0.00");
            kv(out, "expired_time_cap_reached_count", 0);
            kv(out, "expire_cycle_cpu_milliseconds", 0);
            kv(out, "evicted_keys", s.evicted_keys);
            kv(out, "evicted_clients", 0);
            kv(out, "total_eviction_exceeded_time", 0);
            kv(out, "current_eviction_exceeded_time", 0);
            kv(out, "keyspace_hits", s.keyspace_hits);
            kv(out, "keyspace_misses", s.keyspace_misses);
            kv(out, "pubsub_channels", 0);
            kv(out, "pubsub_patterns", 0);
            kv(out, "pubsubshard_channels", 0);
            kv(out, "latest_fork_usec", 0);
            kv(out, "total_forks", 0);
            kv(out, "migrate_cached_sockets", 0);
            kv(out, "slave_expires_tracked_keys", 0);
            kv(out, "active_defrag_hits", 0);
            kv(out, "active_defrag_misses", 0);
            kv(out, "active_defrag_key_hits", 0);
            kv(out, "active_defrag_key_misses", 0);
            kv(out, "total_active_defrag_time", 0);
            kv(out, "current_active_defrag_time", 0);
            kv(out, "tracking_total_keys", 0);
            kv(out, "tracking_total_items", 0);
            kv(out, "tracking_total_prefixes", 0);
            kv(out, "unexpected_error_replies", 0);
            let errors: u64 = s.errors.iter().map(|(_, n)| n).sum();
            kv(out, "total_error_replies", errors);
            kv(out, "dump_payload_sanitizations", 0);
            kv(out, "total_reads_processed", s.total_commands_processed);
            kv(out, "total_writes_processed", s.total_commands_processed);
            kv(out, "io_threaded_reads_processed", 0);
            kv(out, "io_threaded_writes_processed", 0);
            kv(out, "reply_buffer_shrinks", 0);
            kv(out, "reply_buffer_expands", 0);
        }
        "replication" if !s.replication.is_empty() => out.push_str(&s.replication),
        "replication" => {
            out.push_str("# Replication\r\n");
            kv(out, "role", "master");
            kv(out, "connected_slaves", 0);
            kv(out, "master_failover_state", "no-failover");
            kv(out, "master_replid", &s.run_id);
            kv(out, "master_replid2", "0000000000000000000000000000000000000000");
            kv(out, "master_repl_offset", 0);
            kv(out, "second_repl_offset", -1);
            kv(out, "repl_backlog_active", 0);
            kv(out, "repl_backlog_size", s.repl_backlog_size);
            kv(out, "repl_backlog_first_byte_offset", 0);
            kv(out, "repl_backlog_histlen", 0);
        }
        "cpu" => {
            out.push_str("# CPU\r\n");
            let c = &s.cpu;
            let secs = |d: std::time::Duration| format!("{}.{:06}", d.as_secs(), d.subsec_micros());
            kv(out, "used_cpu_sys", secs(c.sys));
            kv(out, "used_cpu_user", secs(c.user));
            kv(out, "used_cpu_sys_children", secs(c.children_sys));
            kv(out, "used_cpu_user_children", secs(c.children_user));
            kv(out, "used_cpu_sys_main_thread", secs(c.main_sys));
            kv(out, "used_cpu_user_main_thread", secs(c.main_user));
        }
        "modules" => out.push_str("# Modules\r\n"),
        "latencystats" => {
            out.push_str("# Latencystats\r\n");
            for (name, h) in &s.latency {
                let _ = write!(out, "latency_percentiles_usec_{name}:");
                for (i, p) in s.latency_percentiles.iter().enumerate() {
                    let label = super::latency_histogram::percentile_label(*p);
                    let usec = h.value_at_percentile(*p) as f64 / 1000.0;
                    let _ = write!(out, "{}p{label}={usec:.3}", if i > 0 { "," } else { "" });
                }
                out.push_str("\r\n");
            }
        }
        "commandstats" => {
            out.push_str("# Commandstats\r\n");
            for (name, c) in &s.commands {
                let per_call = if c.calls == 0 { 0.0 } else { c.usec as f64 / c.calls as f64 };
                let _ = write!(
                    out,
                    "cmdstat_{name}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
                    c.calls, c.usec, c.rejected_calls, c.failed_calls
                );
            }
        }
        "errorstats" => {
            out.push_str("# Errorstats\r\n");
            for (code, n) in &s.errors {
                let _ = write!(out, "errorstat_{code}:count={n}\r\n");
            }
        }
        "cluster" => {
            out.push_str("# Cluster\r\n");
            kv(out, "cluster_enabled", s.cluster_enabled as u8);
        }
        "keyspace" => {
            out.push_str("# Keyspace\r\n");
            for (i, db) in s.dbs.iter().enumerate() {
                if db.keys > 0 {
                    let _ = write!(out, "db{i}:keys={},expires={},avg_ttl=0\r\n", db.keys, db.expires);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_selection() {
        let d = select_sections(&[]);
        assert!(d.contains(&"server") && d.contains(&"keyspace") && !d.contains(&"commandstats"));
        assert_eq!(select_sections(&["default"]), d);
        assert!(select_sections(&["all"]).contains(&"commandstats"));
        assert_eq!(select_sections(&["KEYSPACE", "server", "bogus"]), vec!["server", "keyspace"]);
        assert!(select_sections(&["bogus"]).is_empty());
    }

    #[test]
    fn renders_like_redis() {
        let mut s = InfoSnapshot { redis_version: "7.0.15", tcp_port: 6379, uptime_secs: 90000, ..Default::default() };
        s.dbs = vec![DbCounts { keys: 2, expires: 1 }, DbCounts::default(), DbCounts { keys: 5, expires: 0 }];
        s.commands = vec![("get", CommandStat { calls: 4, usec: 10, failed_calls: 1, rejected_calls: 0 })];
        let text = render(&["server", "keyspace", "commandstats"], &s);
        assert!(text.starts_with("# Server\r\nredis_version:7.0.15\r\n"));
        assert!(text.contains("uptime_in_days:1\r\n"));
        assert!(
            text.contains("\r\n\r\n# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\ndb2:keys=5,expires=0,avg_ttl=0\r\n")
        );
        assert!(!text.contains("db1:"));
        s.errors = vec![("ERR".into(), 3), ("WRONGTYPE".into(), 1)];
        let errs = render(&["errorstats"], &s);
        assert_eq!(errs, "# Errorstats\r\nerrorstat_ERR:count=3\r\nerrorstat_WRONGTYPE:count=1\r\n");
        assert!(text.ends_with("cmdstat_get:calls=4,usec=10,usec_per_call=2.50,rejected_calls=0,failed_calls=1\r\n"));
    }

    #[test]
    fn human() {
        assert_eq!(human_bytes(1000), "1000B");
        assert_eq!(human_bytes(1536), "1.50K");
        assert_eq!(human_bytes(3 << 20), "3.00M");
    }
}
