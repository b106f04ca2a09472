//! The production backend: one OS thread per shard, each running a current-thread tokio runtime
//! with a `LocalSet`, so shard state never needs to be `Send`.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use super::tls::{Tls, HANDSHAKE_TIMEOUT};
use super::tls_stream::TokioStream;
use super::{DiskFile, Listener, OpenMode, Rt, ShardMaker};
use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone)]
pub struct TokioRt {
    inner: Arc<Inner>,
}

struct Inner {
    started: Instant,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// TLS contexts from `--tls` / `--tls_replication`, loaded at startup.
    tls: Option<Tls>,
}

impl Default for TokioRt {
    fn default() -> Self {
        Self::new()
    }
}

impl TokioRt {
    pub fn new() -> Self {
        Self::with_tls(None)
    }

    /// A runtime whose sockets can speak TLS as `tls` says.
    pub fn with_tls(tls: Option<Tls>) -> Self {
        TokioRt { inner: Arc::new(Inner { started: Instant::now(), threads: Mutex::new(Vec::new()), tls }) }
    }

    /// Runs `fut` as the main task on the calling thread (with its own current-thread runtime).
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("failed to build the main tokio runtime");
        tokio::task::LocalSet::new().block_on(&rt, fut)
    }

    /// Waits for every shard thread to finish.
    pub fn join_shards(&self) {
        let handles = std::mem::take(&mut *self.inner.threads.lock().unwrap());
        for h in handles {
            let _ = h.join();
        }
    }
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(os_seed());
}

/// A per-thread seed from the OS (std's hasher keys come from the OS random source).
fn os_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    h.finish() | 1
}

/// splitmix64: fast, good enough for hashing seeds and sampling; not for cryptography.
fn next_rand(state: &Cell<u64>) -> u64 {
    let s = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
    state.set(s);
    let mut z = s;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

async fn tcp_connect(addr: SocketAddr) -> io::Result<tokio::net::TcpStream> {
    let s = tokio::net::TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    Ok(s)
}

pub struct TokioListener(tokio::net::TcpListener);

impl Listener for TokioListener {
    type Handoff = std::net::TcpStream;

    async fn accept(&self) -> io::Result<(std::net::TcpStream, SocketAddr)> {
        let (s, peer) = self.0.accept().await?;
        // Detach from this thread's reactor: the serving thread registers it with its own.
        Ok((s.into_std()?, peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

pub struct TokioFile(Arc<std::fs::File>);

impl DiskFile for TokioFile {
    async fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        self.0.read_at(buf, offset)
    }
    async fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        // Off the shard thread: under writeback pressure a page-cache write can block for long,
        // and the thread's connections and mailbox would stall with it (seen during BGSAVE).
        let (f, buf) = (self.0.clone(), buf.to_vec());
        blocking(move || f.write_all_at(&buf, offset)).await
    }
    async fn sync_data(&self) -> io::Result<()> {
        let f = self.0.clone();
        blocking(move || f.sync_data()).await
    }
    async fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    async fn size(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
}

/// Runs slow filesystem calls off the shard thread.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(io::Error::other(e)),
    }
}

/// Set by the binary when jemalloc is its global allocator (its statistics then describe the
/// whole process; in tests linking the library alone they would not).
pub static JEMALLOC_IS_GLOBAL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Resident bytes from `/proc/self/statm` (0 where unavailable).
fn rss_bytes() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/self/statm") else { return 0 };
    let pages: u64 = text.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// The cgroup memory limit, v2 then v1 ("max" or an absurdly large v1 value mean none).
fn cgroup_limit() -> Option<u64> {
    let read = |p: &str| std::fs::read_to_string(p).ok().and_then(|t| t.trim().parse::<u64>().ok());
    read("/sys/fs/cgroup/memory.max")
        .or_else(|| read("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
        .filter(|&n| n > 0 && n < (1u64 << 60))
}

impl Rt for TokioRt {
    fn memory_stats(&self) -> super::MemoryStats {
        let mut s = super::MemoryStats {
            rss: rss_bytes(),
            system_total: super::proc_stats::total_system_memory(),
            ..Default::default()
        };
        if JEMALLOC_IS_GLOBAL.load(std::sync::atomic::Ordering::Relaxed) {
            // Statistics are refreshed when the epoch advances.
            let _ = tikv_jemalloc_ctl::epoch::advance();
            s.allocated = tikv_jemalloc_ctl::stats::allocated::read().unwrap_or(0) as u64;
            s.active = tikv_jemalloc_ctl::stats::active::read().unwrap_or(0) as u64;
            s.allocator = "jemalloc-5.3.0";
        }
        s
    }

    fn process_id(&self) -> u32 {
        std::process::id()
    }

    fn executable(&self) -> String {
        std::env::current_exe().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default()
    }

    fn cpu_times(&self) -> super::CpuTimes {
        super::proc_stats::cpu_times()
    }

    fn memory_limit(&self) -> Option<u64> {
        cgroup_limit()
    }

    type Stream = TokioStream;
    type Listener = TokioListener;
    type Handoff = std::net::TcpStream;
    type File = TokioFile;

    fn available_parallelism(&self) -> usize {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    }

    fn spawn_shard(&self, id: usize, make: ShardMaker) {
        let handle = std::thread::Builder::new()
            .name(format!("shard-{id}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("failed to build a shard runtime");
                tokio::task::LocalSet::new().block_on(&rt, make());
            })
            .expect("failed to spawn a shard thread");
        self.inner.threads.lock().unwrap().push(handle);
    }

    fn spawn_local(&self, _name: &'static str, fut: impl Future<Output = ()> + 'static) {
        tokio::task::spawn_local(fut);
    }

    fn now(&self) -> Duration {
        self.inner.started.elapsed()
    }

    fn wall_ms(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
    }

    fn wall_us(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
    }

    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + 'static {
        tokio::time::sleep(d)
    }

    fn rng_u64(&self) -> u64 {
        RNG.with(next_rand)
    }

    async fn bind(&self, addr: SocketAddr) -> io::Result<TokioListener> {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        socket.set_reuse_address(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        let std_listener: std::net::TcpListener = socket.into();
        Ok(TokioListener(tokio::net::TcpListener::from_std(std_listener)?))
    }

    async fn connect(&self, addr: SocketAddr) -> io::Result<TokioStream> {
        Ok(TokioStream::Plain(tcp_connect(addr).await?))
    }

    fn adopt(&self, conn: std::net::TcpStream) -> io::Result<TokioStream> {
        conn.set_nonblocking(true)?;
        conn.set_nodelay(true)?;
        Ok(TokioStream::Plain(tokio::net::TcpStream::from_std(conn)?))
    }

    async fn accept_tls(&self, conn: TokioStream) -> io::Result<TokioStream> {
        let Some(acceptor) = self.inner.tls.as_ref().and_then(|t| t.acceptor.clone()) else {
            return Err(io::Error::other("TLS serving is not configured (--tls)"));
        };
        let TokioStream::Plain(tcp) = conn else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "the connection already speaks TLS"));
        };
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
            Ok(Ok(s)) => Ok(TokioStream::Server(Box::new(s))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")),
        }
    }

    async fn connect_tls(&self, addr: SocketAddr, host: &str) -> io::Result<TokioStream> {
        let Some(connector) = self.inner.tls.as_ref().and_then(|t| t.connector.clone()) else {
            return Err(io::Error::other("TLS replication is not configured (--tls_replication)"));
        };
        // A host that is no valid DNS name (or none at all) is named by the address we dialled.
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .unwrap_or_else(|_| rustls::pki_types::ServerName::IpAddress(addr.ip().into()));
        let tcp = tcp_connect(addr).await?;
        Ok(TokioStream::Client(Box::new(connector.connect(name, tcp).await?)))
    }

    async fn open(&self, path: &Path, mode: OpenMode) -> io::Result<TokioFile> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(mode.write)
            .create(mode.create)
            .truncate(mode.truncate)
            .open(path)?;
        Ok(TokioFile(Arc::new(f)))
    }

    async fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    async fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    async fn list_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir)? {
            out.push(e?.path());
        }
        out.sort();
        Ok(out)
    }

    async fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let dir = dir.to_path_buf();
        blocking(move || std::fs::File::open(dir)?.sync_all()).await
    }

    #[allow(clippy::manual_async_fn)] // the future must not borrow `self`
    fn shutdown_signal(&self) -> impl Future<Output = ()> + 'static {
        async {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
                return std::future::pending().await;
            };
            tokio::select! {
                biased;
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
    }

    fn buggify(&self, _site: &'static str) -> bool {
        false
    }

    async fn perturb(&self, _site: &'static str) {}
}
