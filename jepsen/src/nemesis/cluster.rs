//! The nodes a run drives and the network between them: one client proxy in front of each node,
//! and for each replica a link proxy its replication connection goes through, so the nemesis can
//! cut clients and replication links alike. Tracks which node is the primary (failover moves it).
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // real-process test tooling: threads, clocks

use crate::harness::node::Node;
use crate::harness::state::must;
use crate::proxy::{Mode, Proxy};
use crate::resp::Client;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The shared state the nemesis acts on.
pub struct Cluster {
    /// The server processes (index 0 starts as the primary).
    pub nodes: Vec<Mutex<Node>>,
    /// One client-facing proxy in front of each node (same index).
    pub proxies: Vec<Proxy>,
    /// Per node: the proxy its replication link to the primary goes through (None: a primary).
    links: Mutex<Vec<Option<Proxy>>>,
    /// Index of the node clients write to.
    primary: AtomicUsize,
    /// Bumped whenever the primary changes, so clients know to reconnect.
    generation: AtomicU64,
    /// Whether the run has replicas at all.
    replicated: bool,
    /// Seed for new link proxies.
    seed: u64,
    /// How long a restarted node may take to answer PING.
    pub restart_timeout: Duration,
}

impl Cluster {
    /// A cluster of running nodes, each behind a fresh proxy; node 0 is the primary.
    pub fn new(nodes: Vec<Node>, seed: u64, restart_timeout: Duration) -> Result<Cluster, String> {
        let proxies = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| Proxy::start(n.addr(), seed.wrapping_add(i as u64)))
            .collect::<Result<Vec<_>, _>>()?;
        let links = Mutex::new(nodes.iter().map(|_| None).collect());
        let replicated = nodes.len() > 1;
        let nodes = nodes.into_iter().map(Mutex::new).collect();
        Ok(Cluster {
            nodes,
            proxies,
            links,
            primary: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            replicated,
            seed,
            restart_timeout,
        })
    }

    /// The primary's index.
    pub fn primary(&self) -> usize {
        self.primary.load(Ordering::SeqCst)
    }

    /// Changes in primary so far (clients compare it with what they connected to).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Makes `node` the primary clients use.
    pub fn set_primary(&self, node: usize) {
        self.primary.store(node, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether the run has replicas.
    pub fn replicated(&self) -> bool {
        self.replicated
    }

    /// The address clients use to reach `node` (through its proxy).
    pub fn client_addr(&self, node: usize) -> SocketAddr {
        self.proxies[node].addr()
    }

    /// The nodes other than the primary.
    pub fn replicas(&self) -> Vec<usize> {
        let p = self.primary();
        (0..self.nodes.len()).filter(|&i| i != p).collect()
    }

    /// The node's name.
    pub fn name(&self, node: usize) -> String {
        self.nodes[node].lock().expect("node lock").name.clone()
    }

    /// A direct connection to the node (not through any proxy): the nemesis's own control path.
    pub fn control(&self, node: usize) -> Client {
        let addr = self.nodes[node].lock().expect("node lock").addr();
        Client::new(addr, Duration::from_secs(5))
    }

    /// Sets the network mode around `node`: its client proxy and the replication links it takes
    /// part in (its own link if it is a replica; every replica's link if it is the primary).
    pub fn set_network(&self, node: usize, mode: Mode) {
        self.proxies[node].set_mode(mode);
        let links = self.links.lock().expect("links lock");
        for (i, link) in links.iter().enumerate() {
            if let Some(l) = link {
                if i == node || node == self.primary() {
                    l.set_mode(mode);
                }
            }
        }
    }

    /// Sets the mode of every replication link, leaving clients alone.
    pub fn set_links(&self, mode: Mode) {
        for l in self.links.lock().expect("links lock").iter().flatten() {
            l.set_mode(mode);
        }
    }

    /// Heals every proxy and link.
    pub fn heal_all(&self) {
        for p in &self.proxies {
            p.set_mode(Mode::Normal);
        }
        for l in self.links.lock().expect("links lock").iter().flatten() {
            l.set_mode(Mode::Normal);
        }
    }

    /// Points `node` at the current primary through a new link proxy (REPLICAOF over the control
    /// path); the old link proxy, if any, is closed. Returns the link's address.
    pub fn follow_primary(&self, node: usize) -> Result<String, String> {
        let primary = self.primary();
        let upstream = self.nodes[primary].lock().expect("node lock").addr();
        let link = Proxy::start(upstream, self.seed.wrapping_add(1000 + self.generation() * 16 + node as u64))?;
        let port = link.port.to_string();
        must(&mut self.control(node), &["REPLICAOF", "127.0.0.1", &port])?;
        let old = self.links.lock().expect("links lock")[node].replace(link);
        drop(old);
        Ok(format!("REPLICAOF 127.0.0.1 {port} (link proxy to {})", self.name(primary)))
    }

    /// Makes `node` a primary (REPLICAOF NO ONE) and drops its link.
    pub fn promote(&self, node: usize) -> Result<(), String> {
        must(&mut self.control(node), &["REPLICAOF", "NO", "ONE"])?;
        let old = self.links.lock().expect("links lock")[node].take();
        drop(old);
        Ok(())
    }

    /// Starts a node that is down, waits for PING, and (in a replicated run, for a node that is not
    /// the primary) points it at the primary again: a restarted replica comes up as a primary.
    pub fn restart(&self, node: usize) -> Result<String, String> {
        let took = {
            let mut n = self.nodes[node].lock().expect("node lock");
            n.start()?;
            n.wait_ready(self.restart_timeout)?
        };
        let mut detail = format!("answered PING after {} ms", took.as_millis());
        if self.replicated && node != self.primary() {
            detail.push_str("; ");
            detail.push_str(&self.follow_primary(node)?);
        }
        Ok(detail)
    }
}
