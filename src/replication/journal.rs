//! The journal: where every change a primary makes becomes part of the one replication stream.
//!
//! Shards append while they still hold the keys they changed (inside their job, or before a
//! multi-shard transaction releases its locks), so the stream's order agrees with the order of
//! every pair of conflicting writes. Appending costs one atomic load while no replica was ever
//! attached; after that, one uncontended-in-the-common-case mutex per write.

use super::backlog::Backlog;
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::Notify;

/// One command for the stream, as a replica must apply it.
pub type Record = (u16, Vec<Bytes>);

pub struct Journal {
    /// Whether writes are recorded: this node is a primary and has (had) a replica.
    on: AtomicBool,
    pub backlog: Mutex<Backlog>,
    /// How many appends were made on behalf of clients (not the primary's own PINGs and
    /// GETACKs): a connection compares it before and after a command to learn whether the
    /// command wrote (WAIT waits for the client's last write, as Redis's `c->woff`).
    client_writes: AtomicU64,
    /// Woken after every append, so replica feeders send promptly.
    pub appended: Notify,
    /// Simulator canary `repl-split-tx`: transactions are written as loose commands.
    #[cfg(feature = "canary")]
    pub split_transactions: AtomicBool,
}

impl Journal {
    pub fn new(replid: String, backlog_size: usize) -> Journal {
        Journal {
            on: AtomicBool::new(false),
            backlog: Mutex::new(Backlog::new(replid, backlog_size)),
            client_writes: AtomicU64::new(0),
            appended: Notify::new(),
            #[cfg(feature = "canary")]
            split_transactions: AtomicBool::new(false),
        }
    }

    /// Whether shards must record their writes now.
    #[inline]
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Acquire)
    }

    /// Starts (or stops) recording writes: on when a primary gets its first replica, off while
    /// this node is itself a replica (it proxies its primary's stream instead).
    pub fn set_on(&self, on: bool) {
        self.on.store(on, Ordering::Release);
    }

    pub fn append(&self, db: u16, argv: &[Bytes]) {
        self.backlog.lock().unwrap().append_command(db, argv);
        self.client_wrote();
    }

    pub fn append_transaction(&self, cmds: &[Record]) {
        if cmds.is_empty() {
            return;
        }
        self.backlog.lock().unwrap().append_transaction(cmds);
        self.client_wrote();
    }

    /// A client's command that needs no SELECT before it (PUBLISH).
    pub fn append_nodb(&self, argv: &[Bytes]) {
        self.backlog.lock().unwrap().append_nodb(argv);
        self.client_wrote();
    }

    /// The primary's own traffic (stream PINGs, REPLCONF GETACK): part of the stream, but no
    /// client's write.
    pub fn append_control(&self, argv: &[Bytes]) {
        self.backlog.lock().unwrap().append_nodb(argv);
        self.appended.notify_waiters();
    }

    fn client_wrote(&self) {
        self.client_writes.fetch_add(1, Ordering::Release);
        self.appended.notify_waiters();
    }

    /// See `client_writes`.
    pub fn client_writes(&self) -> u64 {
        self.client_writes.load(Ordering::Acquire)
    }

    /// A replica passes its primary's stream on to its own replicas byte for byte.
    pub fn append_raw(&self, bytes: &[u8]) {
        self.backlog.lock().unwrap().append_raw(bytes);
        self.client_wrote();
    }

    pub fn offset(&self) -> u64 {
        self.backlog.lock().unwrap().offset
    }
}
