//! The replicated cluster of one seed: three server nodes (node 0 starts as the primary, nodes 1
//! and 2 as its replicas, or node 2 chained under node 1), each a madsim node running the real
//! `mayfly::server::run` with its own shard count. Who follows whom lives in `Topology`, which a
//! node reads whenever it (re)starts, so a restarted replica rejoins its current primary.

use crate::client::{Client, Reply};
use crate::rt::SimRt;
use bytes::Bytes;
use madsim::runtime::{Handle, NodeHandle};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const NODES: usize = 3;
pub use crate::server_node::PORT;

pub fn ip(node: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, node as u8 + 1)
}

pub fn addr(node: usize) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip(node)), PORT)
}

pub fn name(node: usize) -> String {
    format!("node{node}")
}

/// Who is primary and whom each node follows.
#[derive(Clone, Debug)]
pub struct Topology {
    pub primary: usize,
    /// `Some(n)`: this node replicates from node `n`.
    pub upstream: [Option<usize>; NODES],
}

impl Topology {
    pub fn replicas(&self) -> Vec<usize> {
        (0..NODES).filter(|&n| self.upstream[n].is_some()).collect()
    }
}

pub type SharedTopology = Arc<Mutex<Topology>>;

pub fn topo(t: &SharedTopology) -> Topology {
    t.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Settings every node of the seed gets.
#[derive(Clone, Debug)]
pub struct NodeSettings {
    pub shards: usize,
    pub repl_timeout_s: u64,
    pub diskless: bool,
}

/// Starts node `id`; its init re-reads the topology on every restart.
pub fn start_node(
    handle: &Handle,
    id: usize,
    srt: SimRt,
    settings: NodeSettings,
    topology: SharedTopology,
) -> NodeHandle {
    handle
        .create_node()
        .name(name(id))
        .ip(IpAddr::V4(ip(id)))
        .cores(settings.shards)
        .init(move || {
            let rt = srt.clone();
            let upstream = topo(&topology).upstream[id];
            let s = settings.clone();
            async move {
                let mut set = vec![
                    ("repl-timeout", s.repl_timeout_s.to_string()),
                    ("repl-diskless-sync", if s.diskless { "yes" } else { "no" }.into()),
                ];
                if let Some(up) = upstream {
                    set.push(("replicaof", format!("{}:{PORT}", ip(up))));
                }
                crate::server_node::serve(rt, &name(id), s.shards, set).await
            }
        })
        .build()
}

pub fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Connects to `node`, retrying while it is down (at most `tries` times, 50 ms apart).
pub async fn connect(node: usize, tries: usize) -> Option<Client> {
    for _ in 0..tries {
        if let Ok(Ok(c)) = madsim::time::timeout(Duration::from_secs(2), Client::connect(addr(node))).await {
            return Some(c);
        }
        madsim::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// One request with a deadline: a paused or partitioned node must not hang the checker.
pub async fn call(c: &mut Client, args: &[Bytes], limit: Duration) -> Result<Reply, String> {
    match madsim::time::timeout(limit, c.call(args)).await {
        Err(_) => Err(format!("no reply within {limit:?}")),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(r)) => Ok(r),
    }
}

/// `INFO replication` of one node, as text.
pub async fn info(c: &mut Client) -> Result<String, String> {
    match call(c, &[b("INFO"), b("replication")], Duration::from_secs(5)).await? {
        Reply::Bulk(Some(t)) => Ok(String::from_utf8_lossy(&t).into_owned()),
        other => Err(format!("INFO replication replied {other:?}")),
    }
}

/// Every key of db 0 and its (string) value, once writes have stopped.
pub async fn dataset(c: &mut Client) -> Result<crate::checkers::convergence::Dataset, String> {
    let limit = Duration::from_secs(10);
    let Reply::Array(Some(keys)) = call(c, &[b("KEYS"), b("*")], limit).await? else {
        return Err("KEYS * did not reply an array".into());
    };
    let keys: Vec<Bytes> = keys
        .into_iter()
        .map(|k| match k {
            Reply::Bulk(Some(k)) => Ok(k),
            other => Err(format!("KEYS * listed {other:?}")),
        })
        .collect::<Result<_, _>>()?;
    let mut out = crate::checkers::convergence::Dataset::new();
    if keys.is_empty() {
        return Ok(out);
    }
    let Reply::Array(Some(values)) = call(c, &[vec![b("MGET")], keys.clone()].concat(), limit).await? else {
        return Err("MGET of every key did not reply an array".into());
    };
    for (k, v) in keys.into_iter().zip(values) {
        match v {
            Reply::Bulk(Some(v)) => {
                out.insert(k, v);
            }
            other => return Err(format!("{k:?} is listed by KEYS but MGET replied {other:?}")),
        }
    }
    Ok(out)
}
