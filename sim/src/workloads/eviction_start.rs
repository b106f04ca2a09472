//! Starts the eviction world of one seed: a second server node (10.0.0.2) with a small
//! maxmemory, so eviction runs constantly, and one control node running the eviction workload
//! (`eviction::run`). It has its own server because its evictions would break the exact checks
//! of the other workloads. The seed draws the shard count, the policy (all 8), the samples and
//! the limit; the server recounts its memory accounting after every job (`Rt::self_checks`).

use super::eviction::{self, EvictShared, POLICIES};
use crate::checkers::policies::{LimitLog, PolicyLog};
use crate::digest::Digest;
use crate::disk::{DiskFaults, SimDisk};
use crate::rt::{Knobs, SimRt};
use crate::server_node::{self, PORT};
use madsim::rand::{GlobalRng, Rng};
use madsim::runtime::{Handle, NodeHandle};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// Operations per writer client.
const OPS_PER_WRITER: usize = 120;

/// What `spawn` started: the server node (for the nemesis to pause) and a line for the summary.
pub struct Started {
    pub server: NodeHandle,
    pub summary: String,
}

/// Spawns the server and the workload; the workload sends its verdict on `done`.
pub fn spawn(
    rng: &mut GlobalRng,
    skew: i64,
    faults: &BTreeSet<&'static str>,
    digest: &Digest,
    done: &UnboundedSender<Result<(), String>>,
) -> Started {
    let shards = rng.gen_range(1..=4usize);
    let policy = POLICIES[rng.gen_range(0..POLICIES.len())];
    let samples = rng.gen_range(1..=10u32);
    // A few hundred small keys per shard fit: the writers' keys alone need several times that.
    let maxmemory = shards as u64 * rng.gen_range(3..=12u64) * 1024;
    let writers = rng.gen_range(3..=4usize);
    let perturb_prob = [0.0, 0.1, 0.3][rng.gen_range(0..3)];
    let summary = format!(
        "evict: shards={shards} policy={policy} samples={samples} maxmemory={maxmemory} writers={writers} perturb={perturb_prob}"
    );
    let knobs = Knobs {
        cores: shards,
        clock_skew_ms: skew,
        perturb_prob,
        perturb_max_us: 2000,
        buggify_prob: 0.0,
        faults: faults.clone(),
        self_checks: true,
    };
    let srt = SimRt::new(knobs, digest.clone(), SimDisk::new(rng.gen(), DiskFaults::none()));
    let handle = Handle::current();
    let server = handle
        .create_node()
        .name("evict-server")
        .ip(IpAddr::V4(SERVER_IP))
        .cores(shards)
        .init(move || {
            let rt = srt.clone();
            async move {
                let settings = vec![
                    ("dir", "/data".into()),
                    ("maxmemory", maxmemory.to_string()),
                    ("maxmemory-policy", policy.into()),
                    ("maxmemory-samples", samples.to_string()),
                    // Evictions and expiries as keyevent notifications, for the subscriber.
                    ("notify-keyspace-events", "Eex".into()),
                    ("enable-debug-command", "yes".into()),
                ];
                server_node::serve(rt, "evict-server", shards, settings).await
            }
        })
        .build();
    let shared = Arc::new(EvictShared {
        server: SocketAddr::new(IpAddr::V4(SERVER_IP), PORT),
        skew,
        shards,
        maxmemory,
        writers,
        ops_per_writer: OPS_PER_WRITER,
        policies: PolicyLog::new(policy),
        limits: LimitLog::new(maxmemory),
        digest: digest.clone(),
        state: Default::default(),
    });
    let done = done.clone();
    handle
        .create_node()
        .name("evict-control")
        .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 6, 1)))
        .init(move || {
            let (sh, done) = (shared.clone(), done.clone());
            async move {
                let _ = done.send(eviction::run(sh).await);
            }
        })
        .build();
    Started { server, summary }
}
