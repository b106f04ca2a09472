//! The madsim backend of `mayfly::runtime::Rt`. Every shard of a node shares the simulator's one
//! thread; time, randomness and the network are madsim's, so one seed is one exact execution.

use crate::digest::Digest;
use crate::disk::{SimDisk, SimFile};
use madsim::rand::{thread_rng, RngCore};
use madsim::time::TimeHandle;
use mayfly::runtime::{DiskFile, Listener, OpenMode, Rt, ShardMaker};
use std::collections::BTreeSet;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What a scenario switches on for one node.
#[derive(Clone, Debug, Default)]
pub struct Knobs {
    /// Shard threads the node reports (its "cores").
    pub cores: usize,
    /// Added to the simulated wall clock (may be negative): nodes' clocks disagree.
    pub clock_skew_ms: i64,
    /// Probability that a `perturb` site sleeps (0..`perturb_max_us`).
    pub perturb_prob: f64,
    pub perturb_max_us: u64,
    /// Probability that a `buggify` site fires; 0 turns buggify off.
    pub buggify_prob: f64,
    /// Named deliberate faults (canaries) that are on.
    pub faults: BTreeSet<&'static str>,
    /// Recount the memory accounting after every shard job (`Rt::self_checks`).
    pub self_checks: bool,
}

#[derive(Clone)]
pub struct SimRt {
    inner: Arc<Inner>,
}

struct Inner {
    knobs: Knobs,
    digest: Digest,
    disk: SimDisk,
}

impl SimRt {
    pub fn new(knobs: Knobs, digest: Digest, disk: SimDisk) -> Self {
        SimRt { inner: Arc::new(Inner { knobs, digest, disk }) }
    }

    /// A uniform draw in [0, 1) from the simulation's seeded generator.
    fn unit(&self) -> f64 {
        (self.rng_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Virtual time since the simulation started (madsim's clock; never the real one).
pub fn sim_now() -> Duration {
    TimeHandle::current().elapsed()
}

/// Wall-clock milliseconds of the simulation plus `skew_ms`.
pub fn sim_wall_ms(skew_ms: i64) -> u64 {
    let t = TimeHandle::current().now_time();
    let ms = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    (ms + skew_ms).max(0) as u64
}

pub struct SimListener(madsim::net::TcpListener);

impl Listener for SimListener {
    type Handoff = madsim::net::TcpStream;

    async fn accept(&self) -> io::Result<(madsim::net::TcpStream, SocketAddr)> {
        self.0.accept().await
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

pub struct SimDiskFile(SimFile);

impl DiskFile for SimDiskFile {
    async fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.0.read_at(buf, offset)
    }
    async fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.0.write_at(buf, offset)
    }
    async fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    async fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    async fn size(&self) -> io::Result<u64> {
        self.0.size()
    }
}

impl Rt for SimRt {
    type Stream = madsim::net::TcpStream;
    type Listener = SimListener;
    type Handoff = madsim::net::TcpStream;
    type File = SimDiskFile;

    fn available_parallelism(&self) -> usize {
        self.inner.knobs.cores.max(1)
    }

    fn spawn_shard(&self, id: usize, make: ShardMaker) {
        self.trace(&("spawn_shard", id));
        madsim::task::spawn_local(async move { make().await });
    }

    fn spawn_local(&self, _name: &'static str, fut: impl Future<Output = ()> + 'static) {
        madsim::task::spawn_local(fut);
    }

    fn now(&self) -> Duration {
        TimeHandle::current().elapsed()
    }

    fn wall_ms(&self) -> u64 {
        sim_wall_ms(self.inner.knobs.clock_skew_ms)
    }

    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + 'static {
        madsim::time::sleep(d)
    }

    fn rng_u64(&self) -> u64 {
        thread_rng().next_u64()
    }

    async fn bind(&self, addr: SocketAddr) -> io::Result<SimListener> {
        Ok(SimListener(madsim::net::TcpListener::bind(addr).await?))
    }

    async fn connect(&self, addr: SocketAddr) -> io::Result<madsim::net::TcpStream> {
        madsim::net::TcpStream::connect(addr).await
    }

    fn adopt(&self, conn: madsim::net::TcpStream) -> io::Result<madsim::net::TcpStream> {
        Ok(conn)
    }

    async fn open(&self, path: &Path, mode: OpenMode) -> io::Result<SimDiskFile> {
        self.inner.disk.open(path, mode.write, mode.create, mode.truncate).map(SimDiskFile)
    }

    async fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.disk.rename(from, to)
    }

    async fn remove(&self, path: &Path) -> io::Result<()> {
        self.inner.disk.remove(path)
    }

    async fn list_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        Ok(self.inner.disk.list_dir(dir))
    }

    async fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.inner.disk.sync_dir(dir)
    }

    fn shutdown_signal(&self) -> impl Future<Output = ()> + 'static {
        std::future::pending()
    }

    fn buggify(&self, site: &'static str) -> bool {
        let p = self.inner.knobs.buggify_prob;
        let fire = p > 0.0 && self.unit() < p;
        if fire {
            self.trace(&("buggify", site));
        }
        fire
    }

    async fn perturb(&self, _site: &'static str) {
        let k = &self.inner.knobs;
        if k.perturb_prob > 0.0 && self.unit() < k.perturb_prob {
            let us = self.rng_u64() % k.perturb_max_us.max(1);
            madsim::time::sleep(Duration::from_micros(us)).await;
        }
    }

    fn trace(&self, event: &dyn std::fmt::Debug) {
        let at = TimeHandle::current().elapsed().as_micros();
        self.inner.digest.fold(|| format!("{at}us rt {event:?}"));
    }

    fn self_checks(&self) -> bool {
        self.inner.knobs.self_checks
    }

    fn fault_enabled(&self, name: &'static str) -> bool {
        self.inner.knobs.faults.contains(name)
    }
}
