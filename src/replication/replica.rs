//! The replica's link to its primary. One task, on shard 0's thread (applying commands needs a
//! home shard), follows the role: idle while primary; while replica, it connects, handshakes,
//! full-syncs or continues, applies the stream, acknowledges its offset every second, and on
//! any failure drops the link and tries again a second later with a partial resync. A change of
//! role (REPLICAOF) ends the current attempt at once.

use super::apply::{apply_ready, StreamSplitter};
use super::link::{Hello, LinkIo, PsyncReply};
use super::{full_sync, Role};
use crate::engine::{ShardCell, ShardSet};
use crate::protocol::Limits;
use crate::runtime::{timeout, Rt};
use crate::server::{ClientHandle, ClientRegistry, Connection, ServerState};
use std::cell::Cell;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

const RETRY_AFTER: Duration = Duration::from_secs(1);
const ACK_EVERY: Duration = Duration::from_secs(1);

/// Starts the task that follows the role (call once, on shard 0's thread).
pub fn start<R: Rt>(rt: R, shards: Arc<ShardSet>, state: Arc<ServerState>, home: ShardCell) {
    let task_rt = rt.clone();
    rt.spawn_local("replica-link", supervise(task_rt, shards, state, home));
}

/// Lets a role change wait for the command being applied: dropping the link task inside one
/// would leave a multi-shard write half done on this node, or applied but not counted.
#[derive(Default)]
struct Leaving {
    requested: Cell<bool>,
    applying: Cell<bool>,
    /// Signalled when the link stopped between two commands after `requested`.
    idle: Notify,
}

async fn supervise<R: Rt>(rt: R, shards: Arc<ShardSet>, state: Arc<ServerState>, home: ShardCell) {
    loop {
        let changed = state.repl.role_changed.notified();
        let stop = state.stop_notify.notified();
        if state.is_stopping() {
            return;
        }
        match state.repl.role() {
            Role::Primary => {
                tokio::select! {
                    biased;
                    _ = stop => return,
                    _ = changed => {}
                }
            }
            Role::Replica { host, port } => {
                let mine = Role::Replica { host: host.clone(), port };
                state.repl.link_active.store(true, Ordering::Release);
                let leaving = Rc::new(Leaving::default());
                let mut link = Link::new(&rt, &shards, &state, &home, &host, port, leaving.clone());
                {
                    let run = link.run();
                    tokio::pin!(run, stop);
                    let mut changed = Box::pin(changed);
                    loop {
                        tokio::select! {
                            biased;
                            _ = &mut stop => return,
                            _ = leaving.idle.notified(), if leaving.requested.get() => break,
                            _ = &mut changed => {
                                changed = Box::pin(state.repl.role_changed.notified());
                                // A notice for the role we already follow changes nothing.
                                if state.repl.role() == mine {
                                    continue;
                                }
                                tracing::info!("replication: role changed, leaving the link to {host}:{port}");
                                if leaving.applying.get() {
                                    // Finish the command in flight first.
                                    leaving.requested.set(true);
                                    continue;
                                }
                                break;
                            }
                            _ = &mut run => break,
                        }
                    }
                }
                link.mark_down();
                state.repl.link_active.store(false, Ordering::Release);
                state.repl.link_left.notify_waiters();
            }
        }
    }
}

/// One primary to follow, across reconnections.
struct Link<'a, R: Rt> {
    rt: &'a R,
    shards: &'a Arc<ShardSet>,
    state: &'a Arc<ServerState>,
    home: &'a ShardCell,
    host: String,
    port: u16,
    /// The master client: kept across reconnections that continue (PSYNC +CONTINUE), so the
    /// stream keeps its SELECTed db and CLIENT LIST the same id, as Redis's cached master
    /// does; a full resync replaces it (a new id, as Redis creates a new master client).
    master: Option<Connection<R>>,
    split: StreamSplitter,
    leaving: Rc<Leaving>,
}

impl<'a, R: Rt> Link<'a, R> {
    fn new(
        rt: &'a R,
        shards: &'a Arc<ShardSet>,
        state: &'a Arc<ServerState>,
        home: &'a ShardCell,
        host: &str,
        port: u16,
        leaving: Rc<Leaving>,
    ) -> Self {
        let split = StreamSplitter::default();
        Link { rt, shards, state, home, host: host.to_string(), port, master: None, split, leaving }
    }

    fn set_state(&self, word: &'static str) {
        let mut link = self.state.repl.link.lock().unwrap();
        if link.state != word {
            tracing::info!("replication: link to {}:{} is now '{word}'", self.host, self.port);
        }
        link.state = word;
    }

    fn mark_down(&self) {
        let mut link = self.state.repl.link.lock().unwrap();
        if link.up || link.down_since_ms == 0 {
            link.down_since_ms = self.rt.wall_ms();
        }
        link.up = false;
        link.sync_in_progress = false;
        link.state = "connect";
    }

    async fn run(&mut self) {
        loop {
            if let Err(e) = self.session().await {
                tracing::warn!("replication: link to {}:{} failed: {e}", self.host, self.port);
            }
            if self.leaving.requested.get() {
                // Stopped at a safe point: the role change may drop this task now.
                self.leaving.idle.notify_one();
            }
            self.mark_down();
            if self.split.pending() > 0 {
                tracing::info!(
                    "replication: dropping {} bytes of an incomplete command; the primary resends it",
                    self.split.pending()
                );
            }
            self.split.clear();
            self.rt.sleep(RETRY_AFTER).await;
        }
    }

    fn repl_timeout(&self) -> Duration {
        let secs = self.state.config.read().unwrap().get_int("repl-timeout").max(1);
        Duration::from_secs(secs as u64)
    }

    fn resolve(&self) -> Result<SocketAddr, String> {
        let target = format!("{}:{}", self.host, self.port);
        if let Ok(a) = target.parse() {
            return Ok(a);
        }
        let host = if self.host.eq_ignore_ascii_case("localhost") { "127.0.0.1" } else { &self.host };
        (host, self.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {target}: {e}"))?
            .next()
            .ok_or_else(|| format!("{target} resolves to no address"))
    }

    /// What PSYNC offers: our id and the next offset, or nothing when we have no history.
    fn history(&self) -> Option<(String, u64)> {
        let bl = self.state.repl.journal.backlog.lock().unwrap();
        (bl.offset > 0).then(|| (bl.replid.clone(), bl.offset + 1))
    }

    async fn session(&mut self) -> Result<(), String> {
        let limit = self.repl_timeout();
        self.set_state("connecting");
        let addr = self.resolve()?;
        let tls = self.state.config.read().unwrap().get_bool("tls-replication");
        let connect = async {
            if tls {
                self.rt.connect_tls(addr, &self.host).await
            } else {
                self.rt.connect(addr).await
            }
        };
        let stream = match timeout(self.rt, limit, connect).await {
            None => return Err(format!("timeout connecting to {addr}")),
            Some(Err(e)) => return Err(format!("cannot connect to {addr}: {e}")),
            Some(Ok(s)) => s,
        };
        tracing::info!("replication: connected to primary {addr}{}, handshaking", if tls { " over TLS" } else { "" });
        let state: &ServerState = self.state;
        let mut io = LinkIo::new(super::counted::Counted::reads(stream, &state.repl.net_input_bytes));
        let (user, password, listening_port, announce_ip) = {
            let c = self.state.config.read().unwrap();
            let user = c.get_str("masteruser").to_string();
            let pass = c.get_str("masterauth").to_string();
            let port = match c.get_int("replica-announce-port") {
                0 => self.state.addr.port(),
                p => p as u16,
            };
            (user, pass, port, c.get_str("replica-announce-ip").to_string())
        };
        let history = self.history();
        let hello = Hello {
            listening_port,
            announce_ip: (!announce_ip.is_empty()).then_some(announce_ip.as_str()),
            user: (!user.is_empty()).then_some(user.as_str()),
            password: (!password.is_empty()).then_some(password.as_str()),
            history: history.clone(),
        };
        self.set_state("handshake");
        let reply = io.handshake(self.rt, limit, &hello).await?;
        if matches!(reply, PsyncReply::FullResync { .. }) {
            self.master = None;
        }
        let (rt, shards, state, home) = (self.rt, self.shards, self.state, self.home);
        let master = self.master.get_or_insert_with(|| {
            Connection::master_client(rt.clone(), shards.clone(), state.clone(), home.clone(), addr)
        });
        match reply {
            PsyncReply::FullResync { replid, offset } => {
                tracing::info!("replication: full resync from primary: {replid}:{offset}");
                {
                    let mut link = self.state.repl.link.lock().unwrap();
                    link.state = "sync";
                    link.sync_in_progress = true;
                    link.sync_total = -1;
                    link.sync_read = 0;
                    link.last_io_ms = self.rt.wall_ms();
                }
                let (payload, rest) = full_sync::receive(self.rt, &mut io, self.state, limit).await?;
                tracing::info!("replication: received {} bytes of RDB from the primary, loading", payload.len());
                let db = full_sync::stream_db(&payload);
                let start = self.rt.now();
                // A role change waits for the load too: dropped half way it would leave half
                // a dataset.
                self.leaving.applying.set(true);
                let loaded = full_sync::load(self.rt, self.shards, self.state, &payload).await;
                self.leaving.applying.set(false);
                match loaded {
                    Ok(l) => tracing::info!(
                        "replication: loaded {} keys in {:.3} seconds",
                        l.keys,
                        self.rt.now().saturating_sub(start).as_secs_f64()
                    ),
                    Err(e) => {
                        // The old history is gone with the data: never offer it to anyone.
                        let fresh = new_replid(self.rt);
                        self.state.repl.journal.backlog.lock().unwrap().reset_to(fresh, 0);
                        return Err(e);
                    }
                }
                {
                    let mut bl = self.state.repl.journal.backlog.lock().unwrap();
                    bl.reset_to(replid, offset);
                    bl.activate();
                }
                if self.leaving.requested.get() {
                    return Err("the role changed during a full sync: stopped once it was loaded".into());
                }
                master.run_from_master(vec!["SELECT".into(), db.to_string().into()]).await;
                self.split.clear();
                self.split.push(&rest);
            }
            PsyncReply::Continue { new_replid } => {
                let mut bl = self.state.repl.journal.backlog.lock().unwrap();
                match new_replid {
                    Some(id) if id != bl.replid => {
                        tracing::info!("replication: primary's replication id changed to {id}, continuing");
                        bl.shift_replid(id);
                    }
                    _ => {}
                }
                bl.activate();
                tracing::info!("replication: partial resync accepted, continuing from offset {}", bl.offset + 1);
            }
        }
        self.stream(&mut io).await
    }

    /// Applies the stream until the link fails.
    async fn stream<S>(&mut self, io: &mut LinkIo<S>) -> Result<(), String>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        {
            let mut link = self.state.repl.link.lock().unwrap();
            link.up = true;
            link.sync_in_progress = false;
            link.down_since_ms = 0;
            link.last_io_ms = self.rt.wall_ms();
            link.state = "connected";
        }
        tracing::info!("replication: link to {}:{} is up, streaming", self.host, self.port);
        let journal = self.state.repl.journal.clone();
        let master = self.master.as_mut().expect("created by the handshake");
        // While it streams, the master client is listed (CLIENT LIST flags=M) and can be killed
        // (CLIENT KILL TYPE master), which drops the link: it comes back with PSYNC.
        let handle = master.client_handle().clone();
        handle.killed.store(false, Ordering::Release);
        let _listed = Listed::new(&self.state.clients, handle.clone());
        let mut last_io = self.rt.now();
        let mut next_ack = self.rt.now();
        loop {
            let data = io.buf.split();
            self.split.push(&data);
            let limits = Limits { max_bulk_len: self.state.proto_max_bulk_len.load(Ordering::Relaxed) };
            let leaving = self.leaving.clone();
            leaving.applying.set(true);
            let applied = apply_ready(&mut self.split, master, &journal, &limits, &|| leaving.requested.get()).await;
            leaving.applying.set(false);
            if leaving.requested.get() {
                return Err("the role changed: stopped between two commands".into());
            }
            let applied = applied?;
            for off in applied.acks {
                send_ack(io, off).await?;
            }
            let now = self.rt.now();
            if now >= next_ack {
                send_ack(io, journal.offset()).await?;
                next_ack = now + ACK_EVERY;
            }
            let repl_timeout = {
                let secs = self.state.config.read().unwrap().get_int("repl-timeout").max(1);
                Duration::from_secs(secs as u64)
            };
            if now >= last_io + repl_timeout {
                return Err(format!(
                    "timeout: no data nor PING from the primary in {} seconds",
                    repl_timeout.as_secs()
                ));
            }
            if handle.killed.load(Ordering::Acquire) {
                return Err("the master client was killed (CLIENT KILL)".into());
            }
            let wait = (next_ack - now).min(last_io + repl_timeout - now);
            tokio::select! {
                biased;
                // Woken to look at `killed` above (a stale wake-up just loops).
                _ = handle.kill.notified() => {}
                read = timeout(self.rt, wait, io.fill()) => {
                    if let Some(read) = read {
                        read?;
                        last_io = self.rt.now();
                        self.state.repl.link.lock().unwrap().last_io_ms = self.rt.wall_ms();
                    }
                }
            }
        }
    }
}

/// Keeps a client in the registry (CLIENT LIST) for as long as it lives.
struct Listed<'a> {
    clients: &'a ClientRegistry,
    id: u64,
}

impl<'a> Listed<'a> {
    fn new(clients: &'a ClientRegistry, handle: Arc<ClientHandle>) -> Self {
        let id = handle.id;
        clients.add(handle);
        Listed { clients, id }
    }
}

impl Drop for Listed<'_> {
    fn drop(&mut self) {
        self.clients.remove(self.id);
    }
}

async fn send_ack<S>(io: &mut LinkIo<S>, offset: u64) -> Result<(), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    io.send(&["REPLCONF", "ACK", &offset.to_string()]).await
}

/// A fresh 40-hex-digit replication id.
pub fn new_replid<R: Rt>(rt: &R) -> String {
    (0..40).map(|_| format!("{:x}", rt.rng_u64() % 16)).collect()
}
