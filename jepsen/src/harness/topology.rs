//! Starting a run's nodes (a primary and `--replicas N` replicas, each replicating through its own
//! link proxy), and waiting for replication to catch up before states are compared.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // real-process test tooling: threads, clocks

use super::node::{free_port, Node};
use super::state::{dump, info, must, repl_offset, NodeStates};
use crate::nemesis::Cluster;
use std::path::Path;
use std::time::{Duration, Instant};

/// Starts `1 + replicas` nodes from the server template (n1 is the primary) and waits for PING.
pub fn start_nodes(template: &[String], replicas: u64, dir: &Path) -> Result<Vec<Node>, String> {
    let mut nodes = Vec::new();
    for i in 1..=1 + replicas {
        let name = format!("n{i}");
        let mut node =
            Node::new(&name, template.to_vec(), free_port()?, dir.join(&name), dir.join(format!("{name}.log")));
        node.start()?;
        nodes.push(node);
    }
    for n in &mut nodes {
        n.wait_ready(Duration::from_secs(20))?;
    }
    Ok(nodes)
}

/// Points every replica at the primary and waits until each link is up.
pub fn link_replicas(cluster: &Cluster, timeout: Duration) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    for r in cluster.replicas() {
        done.push(format!("{}: {}", cluster.name(r), cluster.follow_primary(r)?));
    }
    let began = Instant::now();
    for r in cluster.replicas() {
        loop {
            let f = info(&mut cluster.control(r), "replication")?;
            if f.get("master_link_status").map(String::as_str) == Some("up") {
                break;
            }
            if began.elapsed() > timeout {
                return Err(format!("{}: replication link not up after {timeout:?}: {f:?}", cluster.name(r)));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(done)
}

/// Waits (up to `timeout`) until every replica has processed the primary's whole stream: WAIT for
/// all of them, then equal offsets. Returns what it saw, for run.json.
pub fn wait_caught_up(cluster: &Cluster, timeout: Duration) -> Result<String, String> {
    let primary = cluster.primary();
    let replicas = cluster.replicas();
    let n = replicas.len().to_string();
    let ms = timeout.as_millis().to_string();
    let acked = must(&mut cluster.control(primary), &["WAIT", &n, &ms])?.int()?;
    let began = Instant::now();
    loop {
        let p = repl_offset(&mut cluster.control(primary))?;
        let offsets: Vec<(usize, Result<i64, String>)> =
            replicas.iter().map(|&r| (r, repl_offset(&mut cluster.control(r)))).collect();
        let seen: Vec<String> = offsets
            .iter()
            .map(|(r, o)| format!("{}={}", cluster.name(*r), o.as_ref().map_or_else(|e| e.clone(), i64::to_string)))
            .collect();
        let line =
            format!("WAIT {n} -> {acked}; primary {} offset {p}; replicas {}", cluster.name(primary), seen.join(" "));
        if offsets.iter().all(|(_, o)| o.as_ref() == Ok(&p)) {
            return Ok(line);
        }
        if began.elapsed() > timeout {
            return Err(format!("replicas not caught up after {timeout:?}: {line}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every node's data, primary first.
pub fn dump_all(cluster: &Cluster) -> Result<NodeStates, String> {
    let mut order = vec![cluster.primary()];
    order.extend(cluster.replicas());
    order.into_iter().map(|i| Ok((cluster.name(i), dump(&mut cluster.control(i))?))).collect()
}
