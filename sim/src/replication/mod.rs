//! The replication scenario (`--replication`): one seed, one replicated cluster. A primary and
//! two replicas (in some seeds the second follows the first: a chain), each with its own shard
//! count; writers on the primary, readers on the replicas, a nemesis injecting faults; then,
//! with every fault healed, the liveness and convergence checks. Modes (drawn per seed unless
//! `--mode` says):
//! - `stable`: the primary never crashes, so no acknowledged write may be lost;
//! - `crash`: the primary crashes too and restarts empty (no failover, no snapshot on disk),
//!   so only convergence and read atomicity are checked;
//! - `promote`: midway a replica is promoted with REPLICAOF NO ONE and the others re-pointed.

pub mod cluster;
mod nemesis;

use crate::checkers::catch_up::{self, NodeRepl};
use crate::checkers::{acked_writes, convergence, timeline};
use crate::digest::Digest;
use crate::disk::{DiskFaults, SimDisk};
use crate::rt::{Knobs, SimRt};
use crate::scenario::{spanning_group, Options};
use crate::workloads::replicated::ReplShared;
use crate::workloads::{repl_reader, repl_writer};
use bytes::Bytes;
use cluster::{NodeSettings, Topology, NODES};
use madsim::rand::{thread_rng, Rng};
use madsim::runtime::Handle;
use mayfly::engine::Router;
use nemesis::{Nemesis, Promotion};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// After the last fault heals, every replica must reach the primary's offset within this.
const CATCH_UP_BOUND: Duration = Duration::from_secs(60);
/// A seed still running after this much virtual time is stuck.
const SEED_LIMIT: Duration = Duration::from_secs(900);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Stable,
    PrimaryCrash,
    Promotion,
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode, String> {
        match s {
            "stable" => Ok(Mode::Stable),
            "crash" => Ok(Mode::PrimaryCrash),
            "promote" => Ok(Mode::Promotion),
            _ => Err(format!("unknown mode `{s}` (stable, crash, promote)")),
        }
    }

    pub fn flag(self) -> &'static str {
        match self {
            Mode::Stable => "stable",
            Mode::PrimaryCrash => "crash",
            Mode::Promotion => "promote",
        }
    }
}

pub async fn simulate(opts: Options, digest: Digest, summary_out: Arc<Mutex<String>>) -> Option<String> {
    let mut rng = thread_rng();
    let mode = opts.repl_mode.unwrap_or_else(|| match rng.gen_range(0..10) {
        0..=5 => Mode::Stable,
        6..=7 => Mode::PrimaryCrash,
        _ => Mode::Promotion,
    });
    let chain = rng.gen_bool(0.3);
    let shards: Vec<usize> = (0..NODES).map(|_| rng.gen_range(1..=4usize)).collect();
    let repl_timeout_s = rng.gen_range(3..=15u64);
    let diskless = rng.gen_bool(0.7);
    let perturb_prob = [0.0, 0.1, 0.3][rng.gen_range(0..3)];
    let writers = rng.gen_range(2..=3usize);
    let readers = rng.gen_range(2..=4usize);
    let run_for = Duration::from_millis(rng.gen_range(6_000..20_000));
    let summary = format!(
        "mode={} chain={chain} shards={shards:?} repl-timeout={repl_timeout_s}s diskless={diskless} perturb={perturb_prob} writers={writers} readers={readers} run={run_for:?}",
        mode.flag()
    );
    digest.fold(|| summary.clone());
    *summary_out.lock().unwrap_or_else(|e| e.into_inner()) = summary;

    let mut faults = BTreeSet::new();
    if opts.canary_repl {
        faults.insert("repl-split-tx");
    }
    let topology =
        Arc::new(Mutex::new(Topology { primary: 0, upstream: [None, Some(0), Some(if chain { 1 } else { 0 })] }));
    // Groups span the primary's shards; replicas route them their own way.
    let router = Router { num_shards: shards[0], use_tags: false };
    let groups: Vec<Vec<Bytes>> =
        (0..3).map(|g| spanning_group(&router, &format!("g{g}:"), rng.gen_range(2..=4))).collect();
    let handle = Handle::current();
    // madsim's default latency, restored after a delay fault.
    let default_latency = Duration::from_millis(1)..Duration::from_millis(10);
    let mut ids = Vec::new();
    for (n, &s) in shards.iter().enumerate() {
        let knobs = Knobs {
            cores: s,
            clock_skew_ms: rng.gen_range(-500..=500),
            perturb_prob,
            perturb_max_us: 2000,
            buggify_prob: 0.0,
            faults: faults.clone(),
            self_checks: false,
        };
        let srt = SimRt::new(knobs, digest.clone(), SimDisk::new(rng.gen(), DiskFaults::none()));
        let settings = NodeSettings { shards: s, repl_timeout_s, diskless };
        ids.push(cluster::start_node(&handle, n, srt, settings, topology.clone()).id());
    }

    let shared = Arc::new(ReplShared {
        topology: topology.clone(),
        groups,
        counters: vec![Bytes::from("n0"), Bytes::from("n1")],
        strict: mode == Mode::Stable,
        incr_checks: Default::default(),
        replica_counters: Default::default(),
        acked: Default::default(),
        incr_acked: Default::default(),
        digest: digest.clone(),
        writers_done: AtomicBool::new(false),
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Result<(), String>>();
    for id in 0..writers {
        let (sh, tx) = (shared.clone(), tx.clone());
        handle
            .create_node()
            .name(format!("writer-{id}"))
            .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 1, id as u8 + 1)))
            .init(move || {
                let (sh, tx) = (sh.clone(), tx.clone());
                async move {
                    let _ = tx.send(repl_writer::client(id, sh, run_for).await);
                }
            })
            .build();
    }
    let (rtx, mut rrx) = tokio::sync::mpsc::unbounded_channel::<Result<(), String>>();
    for id in 0..readers {
        let (sh, tx) = (shared.clone(), rtx.clone());
        let node = 1 + id % 2;
        handle
            .create_node()
            .name(format!("reader-{id}"))
            .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 2, id as u8 + 1)))
            .init(move || {
                let (sh, tx) = (sh.clone(), tx.clone());
                async move {
                    let _ = tx.send(repl_reader::client(id, node, sh).await);
                }
            })
            .build();
    }
    drop((tx, rtx));

    let promote_at = (mode == Mode::Promotion).then(|| run_for.mul_f64(rng.gen_range(0.2..0.6)));
    let nemesis = Nemesis {
        handle: handle.clone(),
        ids: ids.clone(),
        topology: topology.clone(),
        shared: shared.clone(),
        digest: digest.clone(),
        mode,
        promote_at,
        default_latency,
    };
    // The nemesis and the final checks talk to the servers, so they run on a node of their own.
    let control = handle.create_node().name("control").ip(IpAddr::V4(Ipv4Addr::new(10, 0, 3, 1))).build();
    let done = control.spawn(async move {
        let stop = AtomicBool::new(false);
        // Clients run while the nemesis works; the first failure ends the seed.
        let clients = async {
            let mut outcome = Ok(());
            for _ in 0..writers {
                match rx.recv().await {
                    Some(Ok(())) => {}
                    Some(Err(e)) => outcome = outcome.and(Err(e)),
                    None => outcome = outcome.and(Err("a writer vanished".to_string())),
                }
            }
            shared.writers_done.store(true, Ordering::Release);
            for _ in 0..readers {
                match rrx.recv().await {
                    Some(Ok(())) => {}
                    Some(Err(e)) => outcome = outcome.and(Err(e)),
                    None => outcome = outcome.and(Err("a reader vanished".to_string())),
                }
            }
            stop.store(true, Ordering::Release);
            outcome
        };
        let (clients, faults) = tokio::join!(clients, nemesis.run(&stop));
        if let Err(e) = clients {
            return Some(e);
        }
        let promotion = match faults {
            Ok(p) => p,
            Err(e) => return Some(e),
        };
        finish(mode, &topology, &shared, promotion).await.err()
    });
    match madsim::time::timeout(SEED_LIMIT, done).await {
        Ok(Ok(failure)) => failure,
        Ok(Err(e)) => Some(format!("the control task failed: {e}")),
        Err(_) => Some(format!("liveness: the seed did not finish within {SEED_LIMIT:?} of virtual time")),
    }
}

/// Every fault has healed and the writes have stopped: liveness, then convergence, then what
/// the mode guarantees on top.
async fn finish(
    mode: Mode,
    topology: &cluster::SharedTopology,
    shared: &ReplShared,
    promotion: Option<Promotion>,
) -> Result<(), String> {
    let t = cluster::topo(topology);
    let mut conns = Vec::new();
    for n in 0..NODES {
        let c = cluster::connect(n, 200).await.ok_or_else(|| format!("liveness: {} unreachable", cluster::name(n)))?;
        conns.push(c);
    }
    let healed = crate::rt::sim_now();
    loop {
        let p = NodeRepl::parse(&cluster::info(&mut conns[t.primary]).await?)?;
        let mut lagging = Vec::new();
        for n in t.replicas() {
            let r = NodeRepl::parse(&cluster::info(&mut conns[n]).await?)?;
            if !r.caught_up(&p) {
                lagging.push((cluster::name(n), r));
            }
        }
        if lagging.is_empty() {
            break;
        }
        if crate::rt::sim_now() - healed > CATCH_UP_BOUND {
            return Err(catch_up::stuck(CATCH_UP_BOUND, &p, &lagging));
        }
        madsim::time::sleep(Duration::from_millis(100)).await;
    }
    shared.digest.fold(|| format!("caught up {:?} after healing", crate::rt::sim_now() - healed));
    let primary = cluster::dataset(&mut conns[t.primary]).await?;
    let pname = cluster::name(t.primary);
    for n in t.replicas() {
        let data = cluster::dataset(&mut conns[n]).await?;
        convergence::check(&pname, &primary, &cluster::name(n), &data)?;
    }
    if mode == Mode::Stable {
        acked_writes::check(&pname, &shared.expected(), &primary)?;
    }
    if let Some(p) = promotion {
        let now = NodeRepl::parse(&cluster::info(&mut conns[p.node]).await?)?;
        timeline::check_promoted(&p.old_replid, &now)?;
    }
    Ok(())
}
