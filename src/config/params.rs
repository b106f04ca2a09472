//! Every configuration parameter, once: Redis's name (with `-`), the kind of value, the default,
//! and whether CONFIG SET may change it while running. Parameters other parts of Mayfly will use
//! later are accepted and stored now, so existing deployments start and CONFIG GET answers.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A plain integer.
    Int { min: i64, max: i64 },
    /// A byte size with units (`400mb`).
    Memory,
    /// `yes` / `no` (flags also accept `true`/`false`/`1`/`0` and a bare `--flag`).
    Bool,
    /// One of a fixed set of words.
    Enum(&'static [&'static str]),
    /// Free text.
    Str,
    /// Redis's save points ("3600 1 300 100"; "" for none).
    SavePoints,
    /// A 5-field cron schedule ("" for none).
    Cron,
}

#[derive(Debug)]
pub struct Param {
    /// Redis's name, or Dragonfly's (with `-` for `_`) for Mayfly-only flags.
    pub name: &'static str,
    pub kind: Kind,
    pub default: &'static str,
    /// CONFIG SET may change it at runtime.
    pub mutable: bool,
    pub help: &'static str,
}

const fn p(name: &'static str, kind: Kind, default: &'static str, mutable: bool, help: &'static str) -> Param {
    Param { name, kind, default, mutable, help }
}

/// maxmemory-policy's values, in Redis's order (the simulator draws from them too).
pub const POLICIES: &[&str] = &[
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
];
const INT: Kind = Kind::Int { min: i64::MIN, max: i64::MAX };
const NONNEG: Kind = Kind::Int { min: 0, max: i64::MAX };

pub static PARAMS: &[Param] = &[
    // Mayfly / Dragonfly process flags.
    p("port", Kind::Int { min: 0, max: 65535 }, "6379", false, "TCP port to listen on"),
    p("bind", Kind::Str, "0.0.0.0", false, "address to listen on"),
    p("proactor-threads", NONNEG, "0", false, "threads (one shard each); 0 = one per core"),
    p("num-shards", NONNEG, "0", false, "shards; 0 = one per thread"),
    p("databases", Kind::Int { min: 1, max: 1024 }, "16", false, "number of databases (also --dbnum)"),
    p("requirepass", Kind::Str, "", true, "password clients must AUTH with"),
    p("masterauth", Kind::Str, "", true, "password for the primary when replicating"),
    p("masteruser", Kind::Str, "", true, "ACL user for the primary when replicating"),
    p("maxmemory", Kind::Memory, "0", true, "memory limit (400mb, 1gb); 0 = none"),
    p("maxmemory-policy", Kind::Enum(POLICIES), "noeviction", true, "what to evict at maxmemory"),
    p("maxmemory-samples", Kind::Int { min: 1, max: 64 }, "5", true, "keys sampled per eviction"),
    p("lfu-log-factor", NONNEG, "10", true, "LFU counter logarithm factor"),
    p("lfu-decay-time", NONNEG, "1", true, "LFU counter decay in minutes"),
    p("cache-mode", Kind::Bool, "no", true, "evict as a cache when memory is full (Dragonfly's --cache_mode)"),
    p("dir", Kind::Str, ".", true, "directory for snapshots"),
    p("dbfilename", Kind::Str, "dump.rdb", true, "snapshot file name ({timestamp} allowed)"),
    p("snapshot-cron", Kind::Cron, "", true, "5-field cron schedule for snapshots"),
    p("save", Kind::SavePoints, "", true, "Redis save points, e.g. \"3600 1 300 100\""),
    p("skip-corrupt-snapshot", Kind::Bool, "no", false, "start empty when the snapshot in --dir is corrupt"),
    p("cluster-mode", Kind::Enum(&["", "emulated", "yes"]), "", false, "cluster emulation mode"),
    p("cluster-announce-ip", Kind::Str, "", false, "IP address cluster clients are told to use for this node"),
    p(
        "announce-port",
        Kind::Int { min: 0, max: 65535 },
        "0",
        false,
        "port cluster clients are told to use; 0 = the listening port",
    ),
    p("lock-on-hashtags", Kind::Bool, "no", false, "route keys by their {hashtag}"),
    p("replicaof", Kind::Str, "", false, "primary to replicate from (host:port)"),
    p("admin-port", Kind::Int { min: 0, max: 65535 }, "0", false, "extra port for admin and metrics; 0 = none"),
    // TLS (Dragonfly's flag names; CONFIG GET answers under Redis's tls-* names).
    p("tls", Kind::Bool, "no", false, "serve TLS on the main port (and the admin port, see --no_tls_on_admin_port)"),
    p(
        "tls-cert-file",
        Kind::Str,
        "",
        false,
        "PEM certificate chain the server presents (also a replica's client certificate)",
    ),
    p("tls-key-file", Kind::Str, "", false, "PEM private key of --tls_cert_file"),
    p(
        "tls-ca-cert-file",
        Kind::Str,
        "",
        false,
        "PEM CA certificates: clients must present a certificate it signed; a replica checks its primary with it",
    ),
    p(
        "tls-auth-clients",
        Kind::Enum(&["yes", "no", "optional"]),
        "yes",
        false,
        "with --tls_ca_cert_file: whether clients must present a certificate",
    ),
    p("tls-replication", Kind::Bool, "no", false, "the link to a primary uses TLS"),
    p("no-tls-on-admin-port", Kind::Bool, "no", false, "serve the admin port (metrics, probes) without TLS"),
    p("metrics-prefix", Kind::Str, "mayfly", false, "prefix of Prometheus metric names"),
    p("loglevel", Kind::Enum(&["debug", "verbose", "notice", "warning", "nothing"]), "notice", true, "log verbosity"),
    p(
        "logtostderr",
        Kind::Bool,
        "yes",
        false,
        "log to standard error (always on; accepted for Dragonfly compatibility)",
    ),
    // Redis parameters.
    p("proto-max-bulk-len", Kind::Memory, "512mb", true, "largest single request argument"),
    p("client-query-buffer-limit", Kind::Memory, "1gb", true, "largest unprocessed request buffer per client"),
    p("maxclients", Kind::Int { min: 1, max: i64::MAX }, "10000", true, "connection limit"),
    p("timeout", NONNEG, "0", true, "close idle clients after this many seconds; 0 = never"),
    p("tcp-keepalive", NONNEG, "300", true, "TCP keepalive interval"),
    p("hz", Kind::Int { min: 1, max: 500 }, "10", true, "background task frequency"),
    p("appendonly", Kind::Bool, "no", true, "append-only file (not supported; always no)"),
    p("appendfsync", Kind::Enum(&["always", "everysec", "no"]), "everysec", true, "AOF fsync policy"),
    p("slowlog-log-slower-than", INT, "10000", true, "slow log threshold in microseconds"),
    p("slowlog-max-len", NONNEG, "128", true, "slow log length"),
    p("latency-tracking", Kind::Bool, "yes", true, "per-command latency tracking"),
    p("latency-tracking-info-percentiles", Kind::Str, "50 99 99.9", true, "percentiles INFO latencystats shows"),
    p("notify-keyspace-events", Kind::Str, "", true, "keyspace notification classes"),
    p("hash-max-listpack-entries", NONNEG, "128", true, "small hash threshold (entries)"),
    p("hash-max-listpack-value", NONNEG, "64", true, "small hash threshold (value bytes)"),
    p("list-max-listpack-size", INT, "-2", true, "list node size"),
    p(
        "list-compress-depth",
        NONNEG,
        "0",
        true,
        "list nodes left uncompressed at each end (accepted; lists are not compressed)",
    ),
    p("set-max-intset-entries", NONNEG, "512", true, "intset threshold"),
    p("set-max-listpack-entries", NONNEG, "128", true, "small set threshold"),
    p("set-max-listpack-value", NONNEG, "64", true, "small set threshold (member bytes)"),
    p("zset-max-listpack-entries", NONNEG, "128", true, "small zset threshold (entries)"),
    p("zset-max-listpack-value", NONNEG, "64", true, "small zset threshold (value bytes)"),
    p("hll-sparse-max-bytes", Kind::Memory, "3000", true, "HyperLogLog sparse encoding size limit (bytes)"),
    p("replica-read-only", Kind::Bool, "yes", true, "replicas refuse writes"),
    p("replica-serve-stale-data", Kind::Bool, "yes", true, "replicas answer while syncing"),
    p("repl-backlog-size", Kind::Memory, "1mb", true, "replication backlog size"),
    p("repl-timeout", NONNEG, "60", true, "replication timeout in seconds"),
    p("repl-diskless-sync", Kind::Bool, "yes", true, "full sync without a file"),
    p(
        "replica-priority",
        Kind::Int { min: 0, max: i32::MAX as i64 },
        "100",
        true,
        "Sentinel promotes the replica with the lowest priority; 0 = never promote this one",
    ),
    p(
        "replica-announce-ip",
        Kind::Str,
        "",
        true,
        "address a replica asks its primary to list it under (INFO, ROLE, Sentinel); empty = its connection's",
    ),
    p(
        "replica-announce-port",
        Kind::Int { min: 0, max: 65535 },
        "0",
        true,
        "port a replica asks its primary to list it under; 0 = the listening port",
    ),
    p("enable-debug-command", Kind::Enum(&["no", "yes", "local"]), "no", false, "allow DEBUG"),
    p("lazyfree-lazy-user-del", Kind::Bool, "no", true, "DEL behaves like UNLINK"),
    p("lazyfree-lazy-user-flush", Kind::Bool, "no", true, "FLUSH* default to ASYNC"),
    p("active-expire-effort", Kind::Int { min: 1, max: 10 }, "1", true, "active expiry effort"),
    p(
        "client-output-buffer-limit",
        Kind::Str,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        true,
        "output buffer limits per class",
    ),
];

/// Names a flag or CONFIG name may use besides the canonical one.
pub static ALIASES: &[(&str, &str)] = &[
    ("dbnum", "databases"),
    // Redis 7 still accepts the pre-listpack names.
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("slaveof", "replicaof"),
    ("slave-read-only", "replica-read-only"),
    ("slave-serve-stale-data", "replica-serve-stale-data"),
    ("slave-priority", "replica-priority"),
    ("slave-announce-ip", "replica-announce-ip"),
    ("slave-announce-port", "replica-announce-port"),
];

pub fn find(name: &str) -> Option<&'static Param> {
    let canon = ALIASES.iter().find(|(a, _)| *a == name).map_or(name, |(_, c)| c);
    PARAMS.iter().find(|p| p.name == canon)
}
