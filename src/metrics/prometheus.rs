//! `/metrics` in the Prometheus text exposition format (0.0.4), from the same snapshot INFO
//! prints. Names, types, units and labels follow redis_exporter (`<prefix>_<suffix>`), so with
//! `--metrics_prefix=redis` the dashboards and alerts written for redis_exporter work unchanged
//! (Grafana dashboard 763 and the redis-mixin alerts).

use super::info::InfoSnapshot;
use std::fmt::Write;

/// What the exposition adds to INFO's snapshot.
#[derive(Clone, Debug, Default)]
pub struct Extra {
    pub os: &'static str,
    /// Seconds since the Unix epoch when the server started.
    pub start_time_secs: u64,
}

/// Writes metric families: each `# HELP` / `# TYPE` pair once, then its samples.
pub struct Exposition<'a> {
    prefix: &'a str,
    out: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Gauge,
    Counter,
}

impl<'a> Exposition<'a> {
    pub fn new(prefix: &'a str) -> Self {
        Exposition { prefix, out: String::with_capacity(8192) }
    }

    /// Starts a family `<prefix>_<suffix>`.
    pub fn family(&mut self, suffix: &str, ty: Type, help: &str) {
        let ty = match ty {
            Type::Gauge => "gauge",
            Type::Counter => "counter",
        };
        let _ = write!(self.out, "# HELP {}_{suffix} {}\n# TYPE {}_{suffix} {ty}\n", self.prefix, help, self.prefix);
    }

    /// One sample of the family just started.
    pub fn sample(&mut self, suffix: &str, labels: &[(&str, &str)], value: f64) {
        let _ = write!(self.out, "{}_{suffix}", self.prefix);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"");
                escape_label(&mut self.out, v);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        push_value(&mut self.out, value);
        self.out.push('\n');
    }

    /// A family with one unlabelled sample.
    pub fn single(&mut self, suffix: &str, ty: Type, help: &str, value: f64) {
        self.family(suffix, ty, help);
        self.sample(suffix, &[], value);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn push_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

/// A metric name prefix must itself be a valid metric name start: letters, digits, `_`, `:`,
/// not starting with a digit. Anything else falls back to `mayfly`.
pub fn valid_prefix(p: &str) -> bool {
    !p.is_empty()
        && !p.as_bytes()[0].is_ascii_digit()
        && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Reads one number of a command's statistics.
type StatField = fn(&crate::engine::CommandStat) -> f64;

/// The whole exposition.
pub fn render(prefix: &str, s: &InfoSnapshot, x: &Extra) -> String {
    use Type::{Counter, Gauge};
    let prefix = if valid_prefix(prefix) { prefix } else { "mayfly" };
    let mut e = Exposition::new(prefix);
    let f = |n: u64| n as f64;

    e.single("up", Gauge, "Information about the Redis instance", 1.0);
    e.family("instance_info", Gauge, "Information about the Redis instance");
    let port = s.tcp_port.to_string();
    let pid = s.process_id.to_string();
    let mode = if s.cluster_enabled { "cluster" } else { "standalone" };
    e.sample(
        "instance_info",
        &[
            ("role", s.repl.role()),
            ("redis_version", s.redis_version),
            ("mayfly_version", s.mayfly_version),
            ("redis_build_id", "0"),
            ("redis_mode", mode),
            ("os", x.os),
            ("maxmemory_policy", &s.maxmemory_policy),
            ("tcp_port", &port),
            ("run_id", &s.run_id),
            ("process_id", &pid),
            ("master_replid", &s.repl.replid),
        ],
        1.0,
    );
    e.single(
        "start_time_seconds",
        Gauge,
        "Start time of the Redis instance since unix epoch in seconds.",
        f(x.start_time_secs),
    );
    e.single("uptime_in_seconds", Gauge, "uptime_in_seconds metric", f(s.uptime_secs));

    // Clients.
    e.single("connected_clients", Gauge, "connected_clients metric", s.connected_clients as f64);
    e.single("blocked_clients", Gauge, "blocked_clients metric", s.blocked_clients as f64);
    e.single("max_clients", Gauge, "maxclients metric", s.maxclients as f64);
    e.single("config_maxclients", Gauge, "config_maxclients metric", s.maxclients as f64);

    // Memory.
    let peak = s.used_memory_peak.max(s.used_memory);
    e.single("memory_used_bytes", Gauge, "used_memory metric", f(s.used_memory));
    e.single("memory_used_rss_bytes", Gauge, "used_memory_rss metric", f(s.used_memory_rss));
    e.single("memory_used_peak_bytes", Gauge, "used_memory_peak metric", f(peak));
    e.single("memory_max_bytes", Gauge, "maxmemory metric", s.maxmemory.max(0) as f64);
    e.single("config_maxmemory", Gauge, "config_maxmemory metric", s.maxmemory.max(0) as f64);
    e.single(
        "mem_fragmentation_ratio",
        Gauge,
        "mem_fragmentation_ratio metric",
        s.used_memory_rss as f64 / s.used_memory.max(1) as f64,
    );

    // Commands.
    e.single("commands_processed_total", Counter, "total_commands_processed metric", f(s.total_commands_processed));
    e.single("instantaneous_ops", Gauge, "instantaneous_ops_per_sec metric", f(s.ops_per_sec));
    let families: [(&str, &str, StatField); 4] = [
        ("commands_total", "Total number of calls per command", |c| c.calls as f64),
        ("commands_duration_seconds_total", "Total amount of time in seconds spent per command", |c| {
            c.usec as f64 / 1e6
        }),
        ("commands_failed_calls_total", "Total number of errors within command execution per command", |c| {
            c.failed_calls as f64
        }),
        ("commands_rejected_calls_total", "Total number of errors prior command execution per command", |c| {
            c.rejected_calls as f64
        }),
    ];
    for (suffix, help, value) in families {
        if s.commands.is_empty() {
            continue;
        }
        e.family(suffix, Counter, help);
        for (name, c) in &s.commands {
            e.sample(suffix, &[("cmd", name)], value(c));
        }
    }
    if !s.errors.is_empty() {
        e.family("errors_total", Counter, "Total number of errors per error type");
        for (code, n) in &s.errors {
            e.sample("errors_total", &[("err", code)], f(*n));
        }
    }

    // Keyspace.
    e.single("keyspace_hits_total", Counter, "keyspace_hits metric", f(s.keyspace_hits));
    e.single("keyspace_misses_total", Counter, "keyspace_misses metric", f(s.keyspace_misses));
    e.single("expired_keys_total", Counter, "expired_keys metric", f(s.expired_keys));
    e.single("evicted_keys_total", Counter, "evicted_keys metric", f(s.evicted_keys));
    let names: Vec<String> = (0..s.dbs.len()).map(|i| format!("db{i}")).collect();
    e.family("db_keys", Gauge, "Total number of keys by DB");
    for (name, db) in names.iter().zip(&s.dbs) {
        e.sample("db_keys", &[("db", name)], f(db.keys));
    }
    e.family("db_keys_expiring", Gauge, "Total number of expiring keys by DB");
    for (name, db) in names.iter().zip(&s.dbs) {
        e.sample("db_keys_expiring", &[("db", name)], f(db.expires));
    }

    // Network and connections.
    e.single("net_input_bytes_total", Counter, "total_net_input_bytes metric", f(s.net_input_bytes));
    e.single("net_output_bytes_total", Counter, "total_net_output_bytes metric", f(s.net_output_bytes));
    e.single(
        "connections_received_total",
        Counter,
        "total_connections_received metric",
        f(s.total_connections_received),
    );
    e.single("rejected_connections_total", Counter, "rejected_connections metric", f(s.rejected_connections));
    e.single(
        "tls_handshake_failures_total",
        Counter,
        "connections closed because their TLS handshake failed",
        f(s.tls_handshake_failures),
    );

    super::prometheus_repl::render(&mut e, &s.repl, s);

    // Persistence.
    let rdb = &s.rdb;
    e.single(
        "rdb_changes_since_last_save",
        Gauge,
        "rdb_changes_since_last_save metric",
        f(rdb.changes_since_last_save),
    );
    e.single("rdb_last_save_timestamp_seconds", Gauge, "rdb_last_save_time metric", f(s.last_save_secs));
    e.single("rdb_last_bgsave_status", Gauge, "rdb_last_bgsave_status metric", rdb.last_bgsave_ok as u8 as f64);
    e.single("rdb_bgsave_in_progress", Gauge, "rdb_bgsave_in_progress metric", rdb.bgsave_in_progress as u8 as f64);
    e.single(
        // redis_exporter says `_sec`; promtool rejects abbreviated units.
        "rdb_last_bgsave_duration_seconds",
        Gauge,
        "rdb_last_bgsave_time_sec metric",
        rdb.last_bgsave_time_sec as f64,
    );
    e.single("rdb_saves_total", Counter, "rdb_saves metric", f(rdb.saves));
    e.single("loading_dump_file", Gauge, "loading metric", rdb.loading as u8 as f64);
    e.single("aof_enabled", Gauge, "aof_enabled metric", 0.0);

    // Cluster.
    e.single("cluster_enabled", Gauge, "cluster_enabled metric", if s.cluster_enabled { 1.0 } else { 0.0 });
    e.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::CommandStat;
    use crate::metrics::DbCounts;

    fn snapshot() -> InfoSnapshot {
        InfoSnapshot {
            redis_version: "7.0.15",
            mayfly_version: "0.1.0",
            run_id: "abc".into(),
            tcp_port: 6379,
            uptime_secs: 42,
            maxclients: 10000,
            used_memory: 1 << 20,
            maxmemory_policy: "noeviction".into(),
            total_commands_processed: 7,
            keyspace_hits: 3,
            dbs: vec![DbCounts { keys: 5, expires: 2 }, DbCounts::default()],
            commands: vec![
                ("get", CommandStat { calls: 4, usec: 1_500_000, failed_calls: 1, rejected_calls: 0 }),
                ("client|list", CommandStat { calls: 1, usec: 10, failed_calls: 0, rejected_calls: 2 }),
            ],
            errors: vec![("WRONGTYPE".into(), 1)],
            ..Default::default()
        }
    }

    #[test]
    fn exposition_format() {
        let text = render("mayfly", &snapshot(), &Extra { os: "linux", ..Default::default() });
        assert!(text.starts_with(
            "# HELP mayfly_up Information about the Redis instance\n# TYPE mayfly_up gauge\nmayfly_up 1\n"
        ));
        assert!(text.contains("# TYPE mayfly_commands_processed_total counter\nmayfly_commands_processed_total 7\n"));
        assert!(text.contains("mayfly_commands_total{cmd=\"get\"} 4\n"));
        assert!(text.contains("mayfly_commands_total{cmd=\"client|list\"} 1\n"));
        assert!(text.contains("mayfly_commands_duration_seconds_total{cmd=\"get\"} 1.5\n"));
        assert!(text.contains("mayfly_commands_rejected_calls_total{cmd=\"client|list\"} 2\n"));
        assert!(text.contains("mayfly_db_keys{db=\"db0\"} 5\nmayfly_db_keys{db=\"db1\"} 0\n"));
        assert!(text.contains("mayfly_db_keys_expiring{db=\"db0\"} 2\n"));
        assert!(text.contains("mayfly_errors_total{err=\"WRONGTYPE\"} 1\n"));
        assert!(text.contains("mayfly_instance_info{role=\"master\",redis_version=\"7.0.15\","));
        assert!(text.ends_with("mayfly_cluster_enabled 0\n"));
        // Every family is announced once, before its samples.
        let mut seen = std::collections::BTreeSet::new();
        for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
            assert!(seen.insert(line.split(' ').nth(2).unwrap().to_string()), "{line}");
        }
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(seen.contains(name), "{name} has no TYPE");
        }
    }

    #[test]
    fn dashboard_763_names_with_redis_prefix() {
        let text = render("redis", &snapshot(), &Extra::default());
        for name in [
            "redis_up",
            "redis_uptime_in_seconds",
            "redis_connected_clients",
            "redis_memory_used_bytes",
            "redis_memory_max_bytes",
            "redis_commands_processed_total",
            "redis_keyspace_hits_total",
            "redis_keyspace_misses_total",
            "redis_net_input_bytes_total",
            "redis_net_output_bytes_total",
            "redis_db_keys",
            "redis_db_keys_expiring",
            "redis_expired_keys_total",
            "redis_evicted_keys_total",
            "redis_commands_total",
        ] {
            assert!(text.contains(&format!("\n{name} ")) || text.contains(&format!("\n{name}{{")), "{name}");
        }
    }

    #[test]
    fn escapes_and_values() {
        let mut e = Exposition::new("p");
        e.family("x", Type::Gauge, "h");
        e.sample("x", &[("l", "a\"b\\c\nd")], 0.25);
        e.sample("x", &[], f64::INFINITY);
        assert_eq!(e.finish(), "# HELP p_x h\n# TYPE p_x gauge\np_x{l=\"a\\\"b\\\\c\\nd\"} 0.25\np_x +Inf\n");
        assert!(valid_prefix("redis") && valid_prefix("my_app:x"));
        assert!(!valid_prefix("") && !valid_prefix("9x") && !valid_prefix("a-b"));
    }
}
