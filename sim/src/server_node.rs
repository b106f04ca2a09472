//! How every simulated node runs a Mayfly server: the settings all nodes share (the port, all
//! interfaces, one shard per simulated core) and then the scenario's own.

use crate::rt::SimRt;
use mayfly::config::{Config, ConfigStore};

/// The port every simulated server listens on (each node has its own address).
pub const PORT: u16 = 6379;

/// Runs the server until the node stops; a server that fails to start is a simulator bug, so
/// it panics with the node's name and the reason.
pub async fn serve(rt: SimRt, node: &str, shards: usize, settings: Vec<(&'static str, String)>) {
    let mut store = ConfigStore::defaults();
    let common = [("port", PORT.to_string()), ("bind", "0.0.0.0".into()), ("proactor-threads", shards.to_string())];
    for (k, v) in common.into_iter().chain(settings) {
        store.set(k, &v, true).unwrap_or_else(|e| panic!("{node}: config {k}={v}: {e}"));
    }
    if let Err(e) = mayfly::server::run(rt, Config { store }, |_| {}).await {
        panic!("{node}: server failed: {e}");
    }
}
