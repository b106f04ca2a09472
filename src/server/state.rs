//! State shared by every thread: configuration, the client registry, server-wide counters.

use super::client::ClientRegistry;
use crate::config::{Config, ConfigStore};
use crate::runtime::Rt;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use tokio::sync::Notify;

#[derive(Default)]
pub struct ServerStats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    /// Connections dropped because their TLS handshake failed or timed out.
    pub tls_handshake_failures: AtomicU64,
    /// The largest `used_memory` any INFO or scrape has seen.
    pub memory_peak: AtomicU64,
    /// Error replies by their first word (`ERR`, `WRONGTYPE`), for INFO errorstats. Errors are
    /// rare enough for one lock.
    pub errors: Mutex<BTreeMap<String, u64>>,
    /// (wall ms, total commands, rate) at the last sample, for instantaneous_ops_per_sec.
    pub ops_sample: Mutex<(u64, u64, u64)>,
}

impl ServerStats {
    pub fn count_error(&self, msg: &str) {
        let code = msg.split(' ').next().unwrap_or("ERR");
        let mut m = self.errors.lock().unwrap();
        let full = m.len() >= 128;
        match m.get_mut(code) {
            Some(n) => *n += 1,
            // Redis stops adding new error codes after 128 distinct ones.
            None if !full => {
                m.insert(code.to_string(), 1);
            }
            None => {}
        }
    }

    pub fn reset(&self) {
        self.connections_received.store(0, Ordering::Relaxed);
        self.rejected_connections.store(0, Ordering::Relaxed);
        self.tls_handshake_failures.store(0, Ordering::Relaxed);
        self.errors.lock().unwrap().clear();
    }
}

pub struct ServerState {
    pub config: RwLock<ConfigStore>,
    /// Values read on every request, kept apart from the config lock.
    pub proto_max_bulk_len: AtomicI64,
    pub client_query_buffer_limit: AtomicI64,
    /// `slowlog-log-slower-than` (µs; negative = off) and `slowlog-max-len`, cached.
    pub slowlog_slower_than: AtomicI64,
    pub slowlog_max_len: AtomicI64,
    pub slowlog_next_id: AtomicU64,
    pub clients: ClientRegistry,
    pub next_client_id: AtomicU64,
    pub stats: ServerStats,
    pub addr: SocketAddr,
    pub num_shards: usize,
    pub start_ms: u64,
    pub start_mono: std::time::Duration,
    pub run_id: String,
    /// Set when the server stops: connections finish their batch and close.
    pub stopping: AtomicBool,
    pub stop_notify: Notify,
    /// Notified to make the accept loop stop (SHUTDOWN).
    pub shutdown: Notify,
    pub last_error: Mutex<Option<String>>,
    /// The pubsub class of `client-output-buffer-limit`, read by every subscriber's outbox.
    pub pubsub_limits: std::sync::Arc<crate::engine::pubsub::OutputLimits>,
    /// The normal class of `client-output-buffer-limit`: what a MONITOR feed may hold.
    pub normal_limits: std::sync::Arc<crate::engine::pubsub::OutputLimits>,
    /// MONITOR clients, fed by every connection.
    pub monitors: super::monitor::Monitors,
    /// How this node presents itself in cluster mode (fixed at start).
    pub cluster: super::cmd_cluster::ClusterIdentity,
    /// Snapshots: loading, saves, INFO persistence.
    pub persistence: std::sync::Arc<crate::storage::Persistence>,
    /// Replication: role, the journal and backlog, the link to a primary.
    pub repl: std::sync::Arc<crate::replication::Replication>,
}

impl ServerState {
    pub fn new<R: Rt>(rt: &R, config: Config, addr: SocketAddr, num_shards: usize) -> ServerState {
        let store = config.store;
        let pubsub_limits = std::sync::Arc::new(crate::engine::pubsub::OutputLimits::default());
        let normal_limits = std::sync::Arc::new(crate::engine::pubsub::OutputLimits::default());
        refresh_limits(&store, &pubsub_limits, &normal_limits);
        let cluster = super::cmd_cluster::ClusterIdentity::from_config(&store, addr);
        let run_id: String = (0..40).map(|_| format!("{:x}", rt.rng_u64() % 16)).collect();
        let replid: String = (0..40).map(|_| format!("{:x}", rt.rng_u64() % 16)).collect();
        let backlog_size = store.get_int("repl-backlog-size").max(16 * 1024) as usize;
        let repl = std::sync::Arc::new(crate::replication::Replication::new(replid, backlog_size));
        #[cfg(feature = "canary")]
        repl.journal.split_transactions.store(rt.fault_enabled("repl-split-tx"), Ordering::Relaxed);
        ServerState {
            proto_max_bulk_len: AtomicI64::new(store.get_int("proto-max-bulk-len")),
            client_query_buffer_limit: AtomicI64::new(store.get_int("client-query-buffer-limit")),
            slowlog_slower_than: AtomicI64::new(store.get_int("slowlog-log-slower-than")),
            slowlog_max_len: AtomicI64::new(store.get_int("slowlog-max-len")),
            slowlog_next_id: AtomicU64::new(0),
            config: RwLock::new(store),
            clients: ClientRegistry::default(),
            next_client_id: AtomicU64::new(1),
            stats: ServerStats::default(),
            addr,
            num_shards,
            start_ms: rt.wall_ms(),
            start_mono: rt.now(),
            run_id,
            stopping: AtomicBool::new(false),
            stop_notify: Notify::new(),
            shutdown: Notify::new(),
            last_error: Mutex::new(None),
            pubsub_limits,
            normal_limits,
            monitors: Default::default(),
            cluster,
            persistence: std::sync::Arc::new(crate::storage::Persistence::new(rt.wall_ms())),
            repl,
        }
    }

    pub fn begin_shutdown(&self) {
        self.stopping.store(true, Ordering::Release);
        self.stop_notify.notify_waiters();
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Installs a whole new configuration (an atomic CONFIG SET), refreshing the cached values.
    pub fn config_replace(&self, new: ConfigStore) {
        let mut store = self.config.write().unwrap();
        *store = new;
        self.repl.journal.backlog.lock().unwrap().capacity = store.get_int("repl-backlog-size").max(16 * 1024) as usize;
        refresh_limits(&store, &self.pubsub_limits, &self.normal_limits);
        self.proto_max_bulk_len.store(store.get_int("proto-max-bulk-len"), Ordering::Relaxed);
        self.client_query_buffer_limit.store(store.get_int("client-query-buffer-limit"), Ordering::Relaxed);
        self.slowlog_slower_than.store(store.get_int("slowlog-log-slower-than"), Ordering::Relaxed);
        self.slowlog_max_len.store(store.get_int("slowlog-max-len"), Ordering::Relaxed);
    }

    /// Applies a CONFIG SET, refreshing the values cached for the hot path.
    pub fn config_set(&self, name: &str, value: &str) -> Result<(), String> {
        let mut store = self.config.write().unwrap();
        store.set(name, value, false)?;
        self.proto_max_bulk_len.store(store.get_int("proto-max-bulk-len"), Ordering::Relaxed);
        self.client_query_buffer_limit.store(store.get_int("client-query-buffer-limit"), Ordering::Relaxed);
        self.slowlog_slower_than.store(store.get_int("slowlog-log-slower-than"), Ordering::Relaxed);
        self.slowlog_max_len.store(store.get_int("slowlog-max-len"), Ordering::Relaxed);
        Ok(())
    }

    pub fn requirepass(&self) -> Option<String> {
        let s = self.config.read().unwrap();
        let p = s.get_str("requirepass");
        (!p.is_empty()).then(|| p.to_string())
    }
}

fn refresh_limits(
    store: &ConfigStore,
    pubsub: &crate::engine::pubsub::OutputLimits,
    normal: &crate::engine::pubsub::OutputLimits,
) {
    use crate::engine::pubsub::OutputLimits;
    let text = store.get_str("client-output-buffer-limit");
    if let Ok(Some((hard, soft, secs))) = OutputLimits::parse_class(text, "pubsub") {
        pubsub.set(hard, soft, secs);
    }
    if let Ok(Some((hard, soft, secs))) = OutputLimits::parse_class(text, "normal") {
        normal.set(hard, soft, secs);
    }
}
