//! Per-connection state, and the registry of connected clients that CLIENT LIST and KILL read.
//! The registry is touched on connect, disconnect and renames only — never per command.

use crate::protocol::RespVersion;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// What a connection knows about itself.
pub struct ClientState {
    pub id: u64,
    pub db: usize,
    pub resp: RespVersion,
    pub authenticated: bool,
    pub name: Option<Bytes>,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    /// Set by QUIT: close after this reply is written.
    pub closing: bool,
    /// The shard thread this connection lives on.
    pub thread: usize,
    pub created_ms: u64,
    pub last_cmd: &'static str,
    /// CLIENT REPLY OFF/SKIP.
    pub reply_mode: ReplyMode,
    pub lib_name: Option<Bytes>,
    pub lib_ver: Option<Bytes>,
    pub no_evict: bool,
    pub no_touch: bool,
    pub handle: Arc<ClientHandle>,
    /// MULTI: the commands queued so far.
    pub multi: Option<super::multi::MultiState>,
    /// WATCHed keys and the versions seen.
    pub watched: Vec<super::multi::WatchedKey>,
    /// Set while EXEC runs the queued commands (blocking commands must not block then).
    pub in_exec: bool,
    /// Pub/sub subscriptions and the outbox messages arrive in.
    pub subs: super::pubsub::Subscriptions,
    /// Replies a command sends before its own (SUBSCRIBE a b: one confirmation per channel).
    pub pre_replies: Vec<crate::protocol::Reply>,
    /// REPLCONF's settings, and SYNC/PSYNC once asked (the connection becomes a replica link).
    pub repl: crate::replication::primary::ReplicaHello,
    /// The stream offset right after this client's last write (Redis's `c->woff`): what WAIT
    /// waits for.
    pub woff: u64,
    /// The link to our primary applying its stream: never refused as read-only or stale.
    pub is_master: bool,
    /// Set by MONITOR: the lines of every command run, to be written to this client.
    pub monitor: Option<Arc<super::monitor::MonitorFeed>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    Skip,
    /// Skipping the current command's reply (set from `Skip`).
    Skipping,
}

/// The part of a client other threads may see: enough to list it and to kill it.
pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub name: Mutex<Option<Bytes>>,
    pub killed: AtomicBool,
    pub kill: Notify,
    pub created_ms: u64,
    pub db: std::sync::atomic::AtomicUsize,
    pub last_cmd: Mutex<&'static str>,
    pub lib: Mutex<(Option<Bytes>, Option<Bytes>)>,
    /// Wall-clock ms of the last command (CLIENT LIST `idle`).
    pub last_ms: AtomicU64,
    /// 2 or 3 (CLIENT LIST `resp`).
    pub resp: AtomicU8,
    /// CLIENT LIST flags that other threads print: no-evict (`e`), no-touch (`T`).
    pub no_evict: AtomicBool,
    pub no_touch: AtomicBool,
    /// CLIENT LIST `sub`, `psub`, `ssub`, and `multi` (-1 outside MULTI, else commands queued).
    pub subs: [std::sync::atomic::AtomicUsize; 3],
    pub multi: std::sync::atomic::AtomicI64,
    /// CLIENT LIST flag `O`: a MONITOR client.
    pub monitor: AtomicBool,
    /// CLIENT LIST flag `M`, type `master`: the link applying our primary's stream.
    pub master: AtomicBool,
    /// CLIENT LIST flag `S`, type `replica`: a replica's link to us, from its SYNC/PSYNC on.
    pub replica: AtomicBool,
}

impl ClientHandle {
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr, now_ms: u64) -> ClientHandle {
        ClientHandle {
            id,
            addr,
            laddr,
            name: Mutex::new(None),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
            created_ms: now_ms,
            db: Default::default(),
            last_cmd: Mutex::new("NULL"),
            lib: Mutex::new((None, None)),
            last_ms: AtomicU64::new(now_ms),
            resp: AtomicU8::new(2),
            no_evict: AtomicBool::new(false),
            no_touch: AtomicBool::new(false),
            subs: Default::default(),
            multi: std::sync::atomic::AtomicI64::new(-1),
            monitor: AtomicBool::new(false),
            master: AtomicBool::new(false),
            replica: AtomicBool::new(false),
        }
    }

    /// Redis's client type (CLIENT LIST/KILL TYPE): master, replica, pubsub or normal.
    pub fn kind(&self) -> &'static str {
        if self.master.load(Ordering::Relaxed) {
            "master"
        } else if self.replica.load(Ordering::Relaxed) {
            "replica"
        } else if self.subs.iter().any(|n| n.load(Ordering::Relaxed) > 0) {
            "pubsub"
        } else {
            "normal"
        }
    }

    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill.notify_one();
    }

    /// Resolves once this client is killed (CLIENT KILL, an output limit), also when the kill
    /// came before the wait began.
    pub async fn killed(&self) {
        if !self.killed.load(Ordering::Acquire) {
            self.kill.notified().await;
        }
    }
}

#[derive(Default)]
pub struct ClientRegistry {
    clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
}

impl ClientRegistry {
    pub fn add(&self, h: Arc<ClientHandle>) {
        self.clients.lock().unwrap().insert(h.id, h);
    }

    pub fn remove(&self, id: u64) {
        self.clients.lock().unwrap().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.clients.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn snapshot(&self) -> Vec<Arc<ClientHandle>> {
        self.clients.lock().unwrap().values().cloned().collect()
    }
}
