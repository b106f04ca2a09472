//! One seed, one world: madsim runtime seeded with the seed, one server node running the real
//! `mayfly::server::run` on the madsim `Rt`, and 3–6 client nodes running a workload. Everything
//! the seed decides (shard count, clock skew, perturbation, key groups, every command and sleep)
//! is drawn from madsim's seeded RNG, so a seed replays exactly.

use crate::digest::Digest;
use crate::disk::{DiskFaults, SimDisk};
use crate::rt::{Knobs, SimRt};
use crate::server_node::{self, PORT};
use crate::workloads::snapshots::{self, SnapShared};
use crate::workloads::strings::{self, Shared};
use crate::workloads::transactions::{self, TxShared};
use bytes::Bytes;
use madsim::rand::{thread_rng, Rng};
use madsim::runtime::{Handle, Runtime};
use mayfly::engine::Router;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// Total operations per seed, shared among the clients.
const OPS_PER_SEED: usize = 320;
/// Transactions per transaction client.
const TX_OPS_PER_CLIENT: usize = 40;
/// Virtual time after which a seed that has not finished counts as stuck.
const LIVENESS_LIMIT: Duration = Duration::from_secs(900);
/// Where the server keeps its snapshot on the simulated disk.
const SNAPSHOT_DIR: &str = "/data";

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Switch on the `mset-no-locks` canary.
    pub canary: bool,
    /// Switch on the `multi-no-locks` canary (EXEC runs its commands without locks).
    pub canary_multi: bool,
    /// Switch on the `snapshot-no-before-change` canary (no serialize-before-mutate).
    pub canary_snapshot: bool,
    /// Switch on the `snapshot-no-dir-fsync` canary (saves skip the directory fsync).
    pub canary_dir_fsync: bool,
    /// Keep every folded event for printing.
    pub trace: bool,
    /// Include commands still being built (INCR, EXPIRE, TTL, ...).
    pub extended: bool,
    /// Run the replication scenario (primary + 2 replicas) instead of the single node.
    pub replication: bool,
    /// Force the replication scenario's mode (else each seed draws one).
    pub repl_mode: Option<crate::replication::Mode>,
    /// Switch on the `repl-split-tx` canary (transactions reach replicas as loose commands).
    pub canary_repl: bool,
    /// Switch on the `evict-volatile-any` canary (volatile-* evicts keys without a TTL).
    pub canary_evict: bool,
}

pub struct Outcome {
    pub digest: u64,
    /// What the seed chose, for the report.
    pub summary: String,
    pub failure: Option<String>,
    pub trace: Vec<String>,
}

/// Runs one seed to completion.
pub fn run(seed: u64, opts: &Options) -> Outcome {
    let digest = Digest::new(opts.trace);
    let summary = Arc::new(Mutex::new(String::new()));
    let (d, o, s) = (digest.clone(), opts.clone(), summary.clone());
    let result = std::panic::catch_unwind(AssertUnwindSafe(move || {
        let rt = Runtime::with_seed_and_config(seed, madsim::Config::default());
        if o.replication {
            rt.block_on(crate::replication::simulate(o, d, s))
        } else {
            rt.block_on(simulate(o, d, s))
        }
    }));
    let summary = summary.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let failure = match result {
        Ok(failure) => failure,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Some(format!("panic: {msg}"))
        }
    };
    Outcome { digest: digest.value(), summary, failure, trace: digest.take_trace() }
}

/// Picks `size` keys named `{prefix}{n}` covering as many distinct shards as possible.
pub fn spanning_group(router: &Router, prefix: &str, size: usize) -> Vec<Bytes> {
    let want_shards = size.min(router.num_shards);
    let mut keys = Vec::new();
    let mut shards = BTreeSet::new();
    for n in 0.. {
        let k = format!("{prefix}{n}");
        let s = router.shard_of(k.as_bytes());
        if shards.len() < want_shards && !shards.insert(s) {
            continue;
        }
        keys.push(Bytes::from(k));
        if keys.len() == size {
            break;
        }
    }
    keys
}

async fn simulate(opts: Options, digest: Digest, summary_out: Arc<Mutex<String>>) -> Option<String> {
    let mut rng = thread_rng();
    let shards = rng.gen_range(1..=4usize);
    let clients = rng.gen_range(3..=6usize);
    let skew = rng.gen_range(-2000..=2000i64);
    let perturb_prob = [0.0, 0.1, 0.3, 0.6][rng.gen_range(0..4)];
    let pauses = rng.gen_bool(0.3);
    let mut faults = BTreeSet::new();
    if opts.canary {
        faults.insert("mset-no-locks");
    }
    if opts.canary_multi {
        faults.insert("multi-no-locks");
    }
    if opts.canary_snapshot {
        faults.insert("snapshot-no-before-change");
    }
    if opts.canary_dir_fsync {
        faults.insert("snapshot-no-dir-fsync");
    }
    if opts.canary_evict {
        faults.insert("evict-volatile-any");
    }
    let tx_clients = rng.gen_range(2..=3usize);
    let evict_faults = faults.clone();
    let knobs = Knobs {
        cores: shards,
        clock_skew_ms: skew,
        perturb_prob,
        perturb_max_us: 2000,
        buggify_prob: 0.0,
        faults,
        self_checks: false,
    };
    let disk_faults = rng.gen_bool(0.5);
    let fillers = rng.gen_range(0..12_000usize);
    let summary = format!("shards={shards} clients={clients} tx_clients={tx_clients} skew={skew}ms perturb={perturb_prob} pauses={pauses} disk_faults={disk_faults} fillers={fillers}");
    digest.fold(|| summary.clone());
    *summary_out.lock().unwrap_or_else(|e| e.into_inner()) = summary;

    let router = Router { num_shards: shards, use_tags: false };
    let groups: Vec<Vec<Bytes>> =
        (0..3).map(|g| spanning_group(&router, &format!("g{g}:"), rng.gen_range(2..=4))).collect();
    let tx_groups: Vec<Vec<Bytes>> =
        (0..2).map(|g| spanning_group(&router, &format!("x{g}:"), rng.gen_range(2..=4))).collect();
    let snap_groups: Vec<Vec<Bytes>> =
        (0..3).map(|g| spanning_group(&router, &format!("sk{g}:"), rng.gen_range(1..=4))).collect();
    // Faulty disks fail writes and fsyncs now and then; torn unsynced blocks survive crashes.
    let faults =
        if disk_faults { DiskFaults { bit_flip: 0.0, eio: 0.02, ..DiskFaults::chaos() } } else { DiskFaults::none() };
    let disk = SimDisk::new(rng.gen(), faults);
    let srt = SimRt::new(knobs, digest.clone(), disk.clone());

    let handle = Handle::current();
    let server = handle
        .create_node()
        .name("server")
        .ip(IpAddr::V4(SERVER_IP))
        .cores(shards)
        .init(move || {
            let rt = srt.clone();
            async move { server_node::serve(rt, "server", shards, vec![("dir", SNAPSHOT_DIR.into())]).await }
        })
        .build();

    let shared = Arc::new(Shared {
        server: SocketAddr::new(IpAddr::V4(SERVER_IP), PORT),
        server_skew_ms: skew,
        groups,
        ops_per_client: OPS_PER_SEED / clients,
        extended: opts.extended,
        digest: digest.clone(),
        counters: vec![Bytes::from("n0"), Bytes::from("n1")],
        counter_state: Default::default(),
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Result<(), String>>();
    for id in 0..clients {
        let (sh, tx) = (shared.clone(), tx.clone());
        handle
            .create_node()
            .name(format!("client-{id}"))
            .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 1, id as u8 + 1)))
            .init(move || {
                let (sh, tx) = (sh.clone(), tx.clone());
                async move {
                    let _ = tx.send(strings::client(id, sh).await);
                }
            })
            .build();
    }
    let tx_shared = Arc::new(TxShared {
        server: SocketAddr::new(IpAddr::V4(SERVER_IP), PORT),
        server_skew_ms: skew,
        groups: tx_groups,
        cas_keys: vec![Bytes::from("cas0"), Bytes::from("cas1")],
        ops_per_client: TX_OPS_PER_CLIENT,
        digest: digest.clone(),
        cas: Default::default(),
    });
    for id in 0..tx_clients {
        let (sh, tx) = (tx_shared.clone(), tx.clone());
        handle
            .create_node()
            .name(format!("tx-client-{id}"))
            .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 2, id as u8 + 1)))
            .init(move || {
                let (sh, tx) = (sh.clone(), tx.clone());
                async move {
                    let _ = tx.send(transactions::client(id, sh).await);
                }
            })
            .build();
    }
    let snap = Arc::new(SnapShared {
        server: SocketAddr::new(IpAddr::V4(SERVER_IP), PORT),
        disk,
        path: std::path::Path::new(SNAPSHOT_DIR).join("dump.rdb"),
        groups: snap_groups,
        fillers,
        rounds: rng.gen_range(2..=5),
        crash_prob: if disk_faults { 0.3 } else { 0.1 },
        digest: digest.clone(),
        log: Default::default(),
        acked: Default::default(),
        ready: Default::default(),
        stop: Default::default(),
    });
    for (i, name) in ["snapshot-writer", "snapshot-saver"].into_iter().enumerate() {
        let (sh, tx) = (snap.clone(), tx.clone());
        handle
            .create_node()
            .name(name)
            .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 5, i as u8 + 1)))
            .init(move || {
                let (sh, tx) = (sh.clone(), tx.clone());
                async move {
                    let r = if i == 0 { snapshots::writer(sh).await } else { snapshots::saver(sh).await };
                    let _ = tx.send(r);
                }
            })
            .build();
    }
    let server_addr = SocketAddr::new(IpAddr::V4(SERVER_IP), PORT);
    let type_clients = crate::workloads::types_start::spawn(&mut rng, &router, server_addr, skew, &digest, &tx);
    let evict = crate::workloads::eviction_start::spawn(&mut rng, skew, &evict_faults, &digest, &tx);
    digest.fold(|| evict.summary.clone());
    {
        let mut s = summary_out.lock().unwrap_or_else(|e| e.into_inner());
        s.push(' ');
        s.push_str(&evict.summary);
    }
    drop(tx);
    let wait = async {
        for _ in 0..clients + tx_clients + 2 + type_clients + 1 {
            match rx.recv().await {
                Some(Ok(())) => {}
                Some(Err(e)) => return Some(e),
                None => return Some("a client vanished".into()),
            }
        }
        None
    };
    // The nemesis: now and then the whole server process stalls (a GC pause, a descheduled VM).
    let nemesis = async {
        let mut rng = thread_rng();
        loop {
            madsim::time::sleep(Duration::from_millis(rng.gen_range(200..3000))).await;
            if !pauses {
                continue;
            }
            let stall = Duration::from_millis(rng.gen_range(5..400));
            // Either server stalls: the main one, or the eviction workload's.
            let (name, id) =
                if rng.gen_bool(0.7) { ("server", server.id()) } else { ("evict-server", evict.server.id()) };
            digest.fold(|| format!("nemesis: pause {name} for {stall:?}"));
            handle.pause(id);
            madsim::time::sleep(stall).await;
            handle.resume(id);
        }
    };
    let wait = async {
        tokio::select! {
            biased;
            f = wait => f,
            _ = nemesis => None,
        }
    };
    match madsim::time::timeout(LIVENESS_LIMIT, wait).await {
        Ok(f) => f,
        Err(_) => Some(format!("liveness: clients did not finish within {LIVENESS_LIMIT:?} of virtual time")),
    }
}
