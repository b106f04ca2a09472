//! The runtime seam: everything the engine, server, replication and snapshotting need from the
//! outside world — threads, tasks, time, randomness, sockets, files and fault injection — goes
//! through [`Rt`]. Production uses [`TokioRt`]; the simulator (crate `mayfly-sim`) supplies a
//! madsim backend with virtual time, a simulated network and a faulty disk. Code outside this
//! module must never call the OS directly (enforced by `clippy.toml`).

mod proc_stats;
mod tls;
mod tls_stream;
mod tls_verify;
mod tokio_rt;

pub use tls::{ClientAuth, Tls, TlsFiles, HANDSHAKE_TIMEOUT};
pub use tls_stream::TokioStream;
pub use tokio_rt::{TokioRt, JEMALLOC_IS_GLOBAL};

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// A future that runs on one thread and is never moved between threads.
pub type LocalTask = Pin<Box<dyn Future<Output = ()> + 'static>>;

/// Builds a shard's state and its tasks on the shard's own thread.
pub type ShardMaker = Box<dyn FnOnce() -> LocalTask + Send + 'static>;

/// How a file is opened through [`Rt::open`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenMode {
    pub write: bool,
    pub create: bool,
    pub truncate: bool,
}

impl OpenMode {
    pub const READ: OpenMode = OpenMode { write: false, create: false, truncate: false };
    pub const CREATE_NEW: OpenMode = OpenMode { write: true, create: true, truncate: true };
}

/// A file with positional I/O. Durability is explicit: nothing is on disk until `sync_data`.
pub trait DiskFile: 'static {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> impl Future<Output = io::Result<usize>>;
    fn write_at(&self, buf: &[u8], offset: u64) -> impl Future<Output = io::Result<()>>;
    fn sync_data(&self) -> impl Future<Output = io::Result<()>>;
    fn set_len(&self, len: u64) -> impl Future<Output = io::Result<()>>;
    fn size(&self) -> impl Future<Output = io::Result<u64>>;
}

/// A bound TCP listener. Accepted connections come out as a `Handoff` that can cross to the
/// thread that will serve them, where [`Rt::adopt`] turns it into a stream.
pub trait Listener: 'static {
    type Handoff: Send + 'static;
    fn accept(&self) -> impl Future<Output = io::Result<(Self::Handoff, SocketAddr)>>;
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// The runtime seam. Cheap to clone; every clone talks to the same runtime.
pub trait Rt: Clone + Send + Sync + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + 'static;
    type Listener: Listener<Handoff = Self::Handoff>;
    type Handoff: Send + 'static;
    type File: DiskFile;

    /// Number of shard threads this runtime can host (cores in production).
    fn available_parallelism(&self) -> usize;

    /// Starts shard `id`: `make` runs on the shard's own thread and returns the task that drives
    /// the shard. In production each shard has one OS thread with a current-thread runtime; in
    /// simulation every shard shares the simulator's single thread.
    fn spawn_shard(&self, id: usize, make: ShardMaker);

    /// Spawns a task on the current thread (the current shard's thread).
    fn spawn_local(&self, name: &'static str, fut: impl Future<Output = ()> + 'static);

    /// Monotonic time since the runtime started.
    fn now(&self) -> Duration;

    /// Wall-clock milliseconds since the Unix epoch: the clock TTLs are measured against.
    fn wall_ms(&self) -> u64;

    /// Wall-clock microseconds since the Unix epoch (MONITOR's timestamps).
    fn wall_us(&self) -> u64 {
        self.wall_ms() * 1000
    }

    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + 'static;

    /// The only source of randomness. Seeds every hasher too.
    fn rng_u64(&self) -> u64;

    fn bind(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Listener>>;
    fn connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>>;
    /// Takes over an accepted connection on the thread that will serve it.
    fn adopt(&self, conn: Self::Handoff) -> io::Result<Self::Stream>;

    /// Runs the server side of the TLS handshake on an adopted connection (a listener serving
    /// `--tls`), within a time limit. A runtime without TLS (the simulator) refuses.
    fn accept_tls(&self, conn: Self::Stream) -> impl Future<Output = io::Result<Self::Stream>> {
        drop(conn);
        std::future::ready(Err(io::Error::new(io::ErrorKind::Unsupported, "this runtime has no TLS")))
    }

    /// Connects to `addr` and runs the client side of a TLS handshake (a replica's link with
    /// `--tls_replication`); `host` is the name the peer is told (SNI).
    fn connect_tls(&self, addr: SocketAddr, host: &str) -> impl Future<Output = io::Result<Self::Stream>> {
        let _ = (addr, host);
        std::future::ready(Err(io::Error::new(io::ErrorKind::Unsupported, "this runtime has no TLS")))
    }

    fn open(&self, path: &Path, mode: OpenMode) -> impl Future<Output = io::Result<Self::File>>;
    fn rename(&self, from: &Path, to: &Path) -> impl Future<Output = io::Result<()>>;
    fn remove(&self, path: &Path) -> impl Future<Output = io::Result<()>>;
    fn list_dir(&self, dir: &Path) -> impl Future<Output = io::Result<Vec<PathBuf>>>;
    /// Makes renames and creations inside `dir` durable.
    fn sync_dir(&self, dir: &Path) -> impl Future<Output = io::Result<()>>;

    /// Resolves when the process is asked to stop (SIGTERM/SIGINT in production).
    fn shutdown_signal(&self) -> impl Future<Output = ()> + 'static;

    /// True when the simulator wants a rare fault injected at `site`. Always false in production.
    fn buggify(&self, site: &'static str) -> bool;

    /// A seeded virtual delay at `site` (cross-shard hops, accept loops). Nothing in production.
    fn perturb(&self, site: &'static str) -> impl Future<Output = ()>;

    /// Records an event in the simulator's trace digest. Nothing in production.
    fn trace(&self, _event: &dyn std::fmt::Debug) {}

    /// Whether a named deliberate fault (a simulator canary) is switched on.
    fn fault_enabled(&self, _name: &'static str) -> bool {
        false
    }

    /// Whether to run expensive self-checks (a recount of the memory accounting after every
    /// shard job). The simulator turns them on; production never pays for them.
    fn self_checks(&self) -> bool {
        false
    }

    /// The process's memory as the allocator and the OS see it (zeros where unknown; the
    /// simulator has no process of its own, so INFO falls back to the data accounting).
    fn memory_stats(&self) -> MemoryStats {
        MemoryStats::default()
    }

    /// The process id and executable path INFO server prints (0 and "" in the simulator).
    fn process_id(&self) -> u32 {
        0
    }

    fn executable(&self) -> String {
        String::new()
    }

    /// CPU time the process has used so far (INFO cpu); zeros where unknown (the simulator).
    fn cpu_times(&self) -> CpuTimes {
        CpuTimes::default()
    }

    /// The memory limit of the container the process runs in (cgroup v2 `memory.max` or v1
    /// `memory.limit_in_bytes`), if any.
    fn memory_limit(&self) -> Option<u64> {
        None
    }
}

/// CPU time used: by the whole process, by its reaped children, and by its main thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub user: Duration,
    pub sys: Duration,
    pub children_user: Duration,
    pub children_sys: Duration,
    pub main_user: Duration,
    pub main_sys: Duration,
}

/// Process memory figures (bytes; 0 = unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Bytes the application holds in live allocations (the allocator's `allocated`).
    pub allocated: u64,
    /// Resident set size of the process.
    pub rss: u64,
    /// The allocator's name and version for INFO's `mem_allocator` ("" = the system's).
    pub allocator: &'static str,
    /// Bytes in pages the allocator has active (jemalloc's `active`).
    pub active: u64,
    /// The machine's memory (INFO `total_system_memory`).
    pub system_total: u64,
}

/// Waits for `fut` for at most `d`; `None` when the time ran out first.
pub async fn timeout<R: Rt, F: Future>(rt: &R, d: Duration, fut: F) -> Option<F::Output> {
    let sleep = rt.sleep(d);
    tokio::select! {
        biased;
        out = fut => Some(out),
        _ = sleep => None,
    }
}
