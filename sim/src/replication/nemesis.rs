//! Faults for the replication scenario, one at a time, each healed before the next: two-way and
//! one-way partitions between a replica and the node it follows, a replica cut off from
//! everyone, network delay, process pauses, replica crashes (it restarts empty: nodes keep no
//! snapshot on disk), and — only in modes that check convergence rather than acknowledged
//! writes — primary crashes and a promotion with the other nodes re-pointed.

use super::cluster::{self, b, topo, SharedTopology};
use super::Mode;
use crate::checkers::catch_up::NodeRepl;
use crate::client::Reply;
use crate::digest::Digest;
use crate::workloads::replicated::ReplShared;
use madsim::net::NetSim;
use madsim::rand::{thread_rng, GlobalRng, Rng};
use madsim::runtime::Handle;
use madsim::task::NodeId;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the promotion left for the final checks.
#[derive(Clone, Debug)]
pub struct Promotion {
    pub node: usize,
    /// The replication id the promoted node followed (the old primary's).
    pub old_replid: String,
}

pub struct Nemesis {
    pub handle: Handle,
    pub ids: Vec<NodeId>,
    pub topology: SharedTopology,
    pub shared: Arc<ReplShared>,
    pub digest: Digest,
    pub mode: Mode,
    /// When (since the start) to promote, in promotion mode.
    pub promote_at: Option<Duration>,
    pub default_latency: Range<Duration>,
}

fn hold(rng: &mut GlobalRng) -> Duration {
    match rng.gen_range(0..10) {
        0..=5 => Duration::from_millis(rng.gen_range(100..2000)),
        6..=8 => Duration::from_millis(rng.gen_range(2000..8000)),
        _ => Duration::from_millis(rng.gen_range(8000..25_000)), // past repl-timeout
    }
}

impl Nemesis {
    fn note(&self, what: String) {
        let at = madsim::time::TimeHandle::current().elapsed();
        self.digest.fold(|| format!("{at:?} nemesis: {what}"));
    }

    /// Injects faults until `stop`; returns the promotion it made, if any. Everything is healed
    /// when it returns.
    pub async fn run(&self, stop: &AtomicBool) -> Result<Option<Promotion>, String> {
        let mut rng = thread_rng();
        let start = crate::rt::sim_now();
        let mut promoted = None;
        loop {
            let gap = Duration::from_millis(rng.gen_range(200..2500));
            let until = crate::rt::sim_now() + gap;
            while crate::rt::sim_now() < until {
                if stop.load(Ordering::Acquire) {
                    self.heal_all();
                    return Ok(promoted);
                }
                madsim::time::sleep(Duration::from_millis(50)).await;
            }
            if let (Some(at), None) = (self.promote_at, &promoted) {
                if crate::rt::sim_now() - start >= at {
                    promoted = Some(self.promote(&mut rng).await?);
                    continue;
                }
            }
            self.one_fault(&mut rng).await;
        }
    }

    async fn one_fault(&self, rng: &mut GlobalRng) {
        let t = topo(&self.topology);
        let replicas = t.replicas();
        let r = replicas[rng.gen_range(0..replicas.len())];
        let up = t.upstream[r].expect("a replica has an upstream");
        let net = NetSim::current();
        let d = hold(rng);
        let (rid, uid) = (self.ids[r], self.ids[up]);
        let kinds = if self.mode == Mode::PrimaryCrash { 8 } else { 7 };
        match rng.gen_range(0..kinds) {
            0 | 1 => {
                self.note(format!("partition node{r} <-> node{up} for {d:?}"));
                net.clog_link(rid, uid);
                net.clog_link(uid, rid);
                madsim::time::sleep(d).await;
                net.unclog_link(rid, uid);
                net.unclog_link(uid, rid);
            }
            2 => {
                let (from, to) = if rng.gen_bool(0.5) { (up, r) } else { (r, up) };
                self.note(format!("one-way partition node{from} -> node{to} for {d:?}"));
                net.clog_link(self.ids[from], self.ids[to]);
                madsim::time::sleep(d).await;
                net.unclog_link(self.ids[from], self.ids[to]);
            }
            3 => {
                self.note(format!("isolate node{r} for {d:?}"));
                net.clog_node(rid);
                madsim::time::sleep(d).await;
                net.unclog_node(rid);
            }
            4 => {
                let ms = rng.gen_range(20..300);
                self.note(format!("network delay up to {ms}ms for {d:?}"));
                net.update_config(|c| c.send_latency = Duration::from_millis(1)..Duration::from_millis(ms));
                madsim::time::sleep(d).await;
                let normal = self.default_latency.clone();
                net.update_config(|c| c.send_latency = normal);
            }
            5 => {
                let n = if rng.gen_bool(0.3) { t.primary } else { r };
                let p = Duration::from_millis(rng.gen_range(5..1500));
                self.note(format!("pause node{n} for {p:?}"));
                self.handle.pause(self.ids[n]);
                madsim::time::sleep(p).await;
                self.handle.resume(self.ids[n]);
            }
            6 => {
                let down = Duration::from_millis(rng.gen_range(0..3000));
                self.note(format!("crash node{r} (a replica), down for {down:?}"));
                self.handle.kill(rid);
                madsim::time::sleep(down).await;
                // It restarts empty: reads from before say nothing about reads after.
                self.shared.replica_counters.new_epoch(r, self.mode == Mode::Stable);
                self.handle.restart(rid);
            }
            _ => {
                let down = Duration::from_millis(rng.gen_range(0..3000));
                let p = t.primary;
                self.note(format!("crash node{p} (the primary), down for {down:?}"));
                self.handle.kill(self.ids[p]);
                madsim::time::sleep(down).await;
                // The primary comes back empty with a new history: replicas follow it there.
                for n in t.replicas() {
                    self.shared.replica_counters.new_epoch(n, false);
                }
                self.handle.restart(self.ids[p]);
            }
        }
    }

    fn heal_all(&self) {
        let net = NetSim::current();
        for &a in &self.ids {
            net.unclog_node(a);
            for &b in &self.ids {
                net.unclog_link(a, b);
            }
        }
        let normal = self.default_latency.clone();
        net.update_config(|c| c.send_latency = normal);
        self.note("healed everything".into());
    }

    /// Promotes a direct replica of the primary once it is in sync, lets the old primary take
    /// writes a little longer (a split brain: those writes must vanish), then moves the writers
    /// and re-points every other node at the new primary.
    async fn promote(&self, rng: &mut GlobalRng) -> Result<Promotion, String> {
        let t = topo(&self.topology);
        let old = t.primary;
        let direct: Vec<usize> = t.replicas().into_iter().filter(|&n| t.upstream[n] == Some(old)).collect();
        let a = direct[rng.gen_range(0..direct.len())];
        let mut pc = cluster::connect(old, 100).await.ok_or("timeline: cannot reach the primary to promote")?;
        let mut ac = cluster::connect(a, 100).await.ok_or("timeline: cannot reach the replica to promote")?;
        // In sync: same id as the primary, link up (no fault is active now).
        let mut old_replid = None;
        for _ in 0..200 {
            let p = NodeRepl::parse(&cluster::info(&mut pc).await?)?;
            let r = NodeRepl::parse(&cluster::info(&mut ac).await?)?;
            if r.link_up && r.replid == p.replid {
                old_replid = Some(p.replid);
                break;
            }
            madsim::time::sleep(Duration::from_millis(100)).await;
        }
        let old_replid = old_replid
            .ok_or_else(|| format!("liveness: node{a} not in sync with node{old} 20 s into a quiet spell"))?;
        self.note(format!("promote node{a} (REPLICAOF NO ONE), old primary node{old} id {old_replid}"));
        let r = cluster::call(&mut ac, &[b("REPLICAOF"), b("NO"), b("ONE")], Duration::from_secs(5)).await?;
        if r != Reply::ok() {
            return Err(format!("timeline: REPLICAOF NO ONE replied {r:?}"));
        }
        // Split brain: the old primary still takes writes for a moment.
        madsim::time::sleep(Duration::from_millis(rng.gen_range(0..800))).await;
        let mut t = topo(&self.topology);
        t.primary = a;
        t.upstream[a] = None;
        let repoint: Vec<usize> = (0..cluster::NODES).filter(|&n| n == old || t.upstream[n] == Some(old)).collect();
        for &n in &repoint {
            t.upstream[n] = Some(a);
            // Following another timeline: a node may go back to the new primary's state.
            self.shared.replica_counters.new_epoch(n, false);
        }
        *self.topology.lock().unwrap_or_else(|e| e.into_inner()) = t;
        madsim::time::sleep(Duration::from_millis(rng.gen_range(0..300))).await;
        for n in repoint {
            self.note(format!("re-point node{n} at node{a}"));
            let mut c = cluster::connect(n, 100).await.ok_or_else(|| format!("timeline: cannot reach node{n}"))?;
            let args = [b("REPLICAOF"), b(&cluster::ip(a).to_string()), b(&cluster::PORT.to_string())];
            let r = cluster::call(&mut c, &args, Duration::from_secs(5)).await?;
            if r != Reply::ok() {
                return Err(format!("timeline: REPLICAOF on node{n} replied {r:?}"));
            }
        }
        Ok(Promotion { node: a, old_replid })
    }
}
