//! Runs a planned schedule: one thread injects each fault at its time and heals it when it ends,
//! logging every action with the time it began.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // real-process test tooling: threads, clocks

use super::snapshot::{self, Recovery};
use super::{failover, Cluster, Fault, LogEntry, Planned};
use crate::harness::node::Node;
use crate::proxy::Mode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What the nemesis did.
#[derive(Default)]
pub struct Outcome {
    /// Every action, in order.
    pub log: Vec<LogEntry>,
    /// States read back after snapshot restarts.
    pub recoveries: Vec<Recovery>,
}

/// The executor's state between the two halves of a fault.
pub(super) struct Exec<'a> {
    pub cluster: &'a Cluster,
    pub start: Instant,
    pub out: Outcome,
    /// The node a fault in progress acts on (snapshot and failover pick the primary).
    pub target: usize,
    /// For a snapshot in progress: when BGSAVE was invoked (ns), if it succeeded.
    pub save_ns: Option<u64>,
}

impl Exec<'_> {
    pub fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Logs an action that began at `at_ms`.
    pub fn record(&mut self, at_ms: u64, node: usize, action: &str, r: Result<String, String>) {
        let (ok, detail) = match r {
            Ok(d) => (true, d),
            Err(e) => (false, e),
        };
        let node = self.cluster.name(node);
        self.out.log.push(LogEntry { at_ms, node, action: action.to_string(), detail, ok });
    }

    /// Runs `f` and logs it with the time it began (a kill's entry is before the SIGKILL, a
    /// restart's before the new process was spawned: the epoch checker relies on this).
    pub fn act(&mut self, node: usize, action: &str, f: impl FnOnce(&Cluster) -> Result<String, String>) -> bool {
        let t0 = self.now_ms();
        let r = f(self.cluster);
        let ok = r.is_ok();
        self.record(t0, node, action, r);
        ok
    }

    fn with_node(&mut self, node: usize, action: &str, f: impl FnOnce(&mut Node) -> Result<(), String>) -> bool {
        self.act(node, action, |c| f(&mut c.nodes[node].lock().expect("node lock")).map(|_| String::new()))
    }

    /// "primary" or "replica" in a replicated run (a replica's kill loses nothing clients wrote).
    fn role(&self, node: usize) -> String {
        match (self.cluster.replicated(), node == self.cluster.primary()) {
            (false, _) => String::new(),
            (true, true) => "primary".into(),
            (true, false) => "replica".into(),
        }
    }

    fn begin(&mut self, p: &Planned) {
        self.target = match p.fault {
            Fault::Snapshot | Fault::FailoverKill | Fault::FailoverPartition => self.cluster.primary(),
            _ => p.node,
        };
        let n = self.target;
        match p.fault {
            Fault::Kill => {
                let role = self.role(n);
                self.act(n, "kill", |c| c.nodes[n].lock().expect("node lock").kill9().map(|_| role));
            }
            Fault::Pause => {
                self.with_node(n, "pause", Node::pause);
            }
            Fault::Snapshot => snapshot::begin(self),
            Fault::FailoverKill | Fault::FailoverPartition => failover::begin(self, p.fault),
            f => {
                let mode = f.proxy_mode().expect("network fault");
                self.act(n, &format!("partition:{}", f.name()), |c| {
                    c.set_network(n, mode);
                    Ok(String::new())
                });
            }
        }
    }

    fn end(&mut self, p: &Planned) {
        let n = self.target;
        match p.fault {
            Fault::Kill => {
                self.act(n, "restart", |c| c.restart(n));
            }
            Fault::Pause => {
                self.with_node(n, "resume", Node::resume);
            }
            Fault::Snapshot => snapshot::end(self),
            Fault::FailoverKill | Fault::FailoverPartition => failover::end(self, p.fault),
            _ => {
                self.act(n, "heal", |c| {
                    c.set_network(n, Mode::Normal);
                    Ok(String::new())
                });
            }
        }
    }
}

/// Runs `schedule` against `cluster`, relative to `start`, until it ends or `stop` is set; a fault
/// in progress when `stop` is set is healed at once.
pub fn execute(cluster: &Cluster, schedule: &[Planned], start: Instant, stop: &AtomicBool) -> Outcome {
    let mut exec = Exec { cluster, start, out: Outcome::default(), target: 0, save_ns: None };
    // Sleeps until `at_ms`; false if stopped first.
    let wait_until = |at_ms: u64| loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let now = start.elapsed().as_millis() as u64;
        if now >= at_ms {
            return true;
        }
        std::thread::sleep(Duration::from_millis((at_ms - now).min(20)));
    };
    for p in schedule {
        if p.node >= cluster.nodes.len() || !wait_until(p.at_ms) {
            break;
        }
        exec.revive(p.node);
        exec.begin(p);
        wait_until(p.at_ms + p.duration_ms);
        exec.revive(exec.target);
        exec.end(p);
    }
    exec.out
}

impl Exec<'_> {
    fn revive(&mut self, node: usize) {
        let start = self.start;
        let now_ms = move || start.elapsed().as_millis() as u64;
        let mut n = self.cluster.nodes[node].lock().expect("node lock");
        let revived = revive_if_crashed(&mut n, &mut self.out.log, &now_ms, self.cluster.restart_timeout);
        drop(n);
        if revived && self.cluster.replicated() && node != self.cluster.primary() {
            self.act(node, "rejoin", |c| c.follow_primary(node));
        }
    }
}

/// If the node exited by itself (a crash we did not inject, which is a finding), logs it and
/// restarts it on the same directory so the run can go on. Returns whether it had crashed.
pub fn revive_if_crashed(
    node: &mut Node,
    log: &mut Vec<LogEntry>,
    now_ms: &dyn Fn() -> u64,
    restart_timeout: Duration,
) -> bool {
    let Some(status) = node.unexpected_exit() else { return false };
    let name = node.name.clone();
    let detail = format!("the server exited by itself ({status}); restarting it");
    log.push(LogEntry { at_ms: now_ms(), node: name.clone(), action: "crashed".into(), detail, ok: false });
    let at_ms = now_ms();
    let r = node.start().and_then(|_| node.wait_ready(restart_timeout));
    let (ok, detail) = match r {
        Ok(d) => (true, format!("answered PING after {} ms", d.as_millis())),
        Err(e) => (false, e),
    };
    log.push(LogEntry { at_ms, node: name, action: "restart".into(), detail, ok });
    true
}
