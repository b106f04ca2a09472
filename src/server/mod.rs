//! The server: listeners, connections, per-client state, and commands that act on the
//! connection or the whole server rather than on keys.

mod autosave;
mod client;
mod cluster_topology;
mod cmd_client;
mod cmd_cluster;
mod cmd_command;
mod cmd_config;
mod cmd_conn;
mod cmd_diag;
mod cmd_info;
mod cmd_server;
pub mod commands;
mod config_file;
mod connection;
mod digest;
pub mod dispatch;
mod http;
pub mod meta;
pub mod monitor;
pub mod multi;
pub mod pubsub;
mod squash;
mod state;

pub use client::{ClientHandle, ClientRegistry, ClientState, ReplyMode};
pub(crate) use connection::Connection;
pub use state::ServerState;

use crate::config::Config;
use crate::engine::{drive_shard, Router, Shard, ShardSet};
use crate::runtime::{Listener, Rt};
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// A running server's address and a way to stop it (used by tests and the simulator).
pub struct Started {
    pub addr: SocketAddr,
    pub state: Arc<ServerState>,
}

/// Binds the listener, starts one thread per shard and serves until shutdown is requested
/// (SIGTERM/SIGINT, SHUTDOWN, or `state.shutdown`). `on_bound` learns the bound address.
pub async fn run<R: Rt>(rt: R, mut config: Config, on_bound: impl FnOnce(&Started)) -> std::io::Result<()> {
    if config.store.get_int("maxmemory") == 0 {
        if let Some(limit) = rt.memory_limit() {
            // In a container with a memory limit and no maxmemory: keep a safe share of the
            // limit for data, so the cache evicts (or refuses writes) before the OOM killer acts.
            let share = limit / 10 * 8;
            if config.store.set("maxmemory", &share.to_string(), false).is_ok() {
                tracing::warn!(
                    cgroup_limit = limit,
                    maxmemory = share,
                    "maxmemory not set: using 80% of the container's memory limit"
                );
            }
        }
    }
    let threads = config.threads(rt.available_parallelism());
    let num_shards = config.shards(threads).max(1);
    let use_tags = config.store.get_bool("lock-on-hashtags") || !config.store.get_str("cluster-mode").is_empty();
    let router = Router { num_shards, use_tags };
    let (shards, mailboxes) = ShardSet::new(router, config.dbnum());
    let shards = Arc::new(shards);

    let addr: SocketAddr = format!("{}:{}", config.bind(), config.port())
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("bad bind address: {e}")))?;
    let listener = rt.bind(addr).await?;
    let bound = listener.local_addr()?;
    let state = Arc::new(ServerState::new(&rt, config, bound, num_shards));
    let (dir, dbfilename, skip_corrupt, limits) = {
        let c = state.config.read().unwrap();
        let limits = crate::storage::rdb::Limits::from_config(&crate::engine::ShardConfig::from_store(&c));
        (c.get_str("dir").to_string(), c.get_str("dbfilename").to_string(), c.get_bool("skip-corrupt-snapshot"), limits)
    };
    let snapshot = crate::storage::load::find_newest(&rt, &dir, &dbfilename).await;
    if snapshot.is_some() {
        state.persistence.loading.store(true, std::sync::atomic::Ordering::Release);
    }

    // Each shard thread gets its mailbox and a queue of connections to serve.
    let mut conn_queues = Vec::with_capacity(num_shards);
    for (id, mailbox) in mailboxes.into_iter().enumerate() {
        let (ctx, crx) = mpsc::unbounded_channel::<Accepted<R>>();
        conn_queues.push(ctx);
        let (rt2, shards2, state2) = (rt.clone(), shards.clone(), state.clone());
        let seed = rt.rng_u64();
        rt.spawn_shard(id, Box::new(move || Box::pin(shard_main(rt2, id, seed, shards2, state2, mailbox, crx))));
    }

    let replicaof = state.config.read().unwrap().get_str("replicaof").to_string();
    match crate::replication::role::parse_replicaof(&replicaof) {
        Ok(Some((host, port))) => crate::replication::role::follow(&rt, &shards, &state.repl, &host, port).await,
        Ok(None) => {}
        Err(e) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)),
    }
    tracing::info!(
        version = crate::VERSION,
        redis_version = crate::REDIS_VERSION,
        threads,
        shards = num_shards,
        port = bound.port(),
        "mayfly started, ready to accept connections on {bound}"
    );
    on_bound(&Started { addr: bound, state: state.clone() });

    // `--admin_port`: a second listener serving the same protocols (RESP and HTTP /metrics).
    let admin_port = state.config.read().unwrap().get_int("admin-port");
    let admin = if admin_port != 0 {
        let admin_addr = SocketAddr::new(addr.ip(), admin_port as u16);
        let l = rt.bind(admin_addr).await?;
        tracing::info!("admin port listening on {}", l.local_addr()?);
        Some(l)
    } else {
        None
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    // `--tls` covers both ports unless `--no_tls_on_admin_port` (Dragonfly's rule).
    let (tls_main, tls_admin) = {
        let c = state.config.read().unwrap();
        let tls = c.get_bool("tls");
        (tls, tls && !c.get_bool("no-tls-on-admin-port"))
    };
    let accept = async {
        let main = accept_loop(&rt, &listener, tls_main, &state, &conn_queues, &next);
        match &admin {
            Some(a) => {
                let admin = accept_loop(&rt, a, tls_admin, &state, &conn_queues, &next);
                tokio::join!(main, admin);
            }
            None => main.await,
        }
    };
    // The snapshot loads while the listener answers -LOADING; a bad file stops the server.
    let load = async {
        if let Some(path) = &snapshot {
            if let Err(e) = load_snapshot(&rt, &shards, &state, path, limits, skip_corrupt).await {
                return e;
            }
        }
        std::future::pending().await
    };
    let signal = rt.shutdown_signal();
    let mut save_on_exit = false;
    tokio::select! {
        biased;
        _ = signal => {
            tracing::info!("received a stop signal, shutting down");
            save_on_exit = !state.persistence.is_loading();
        }
        _ = state.shutdown.notified() => tracing::info!("SHUTDOWN requested"),
        e = load => return Err(e),
        _ = accept => {}
    }
    // Stop accepting, let connections finish the replies they are working on, then leave.
    drop(listener);
    drop(admin);
    if save_on_exit && !dbfilename.is_empty() {
        tracing::info!("saving the final snapshot before exit");
        let p = state.persistence.clone();
        let _ = crate::storage::snapshot::run_save(&rt, &shards, &p, &dir, &dbfilename, false).await;
    }
    state.begin_shutdown();
    for _ in 0..200 {
        if state.clients.is_empty() {
            break;
        }
        rt.sleep(Duration::from_millis(10)).await;
    }
    tracing::info!("mayfly is now ready to exit, bye bye...");
    Ok(())
}

/// Loads the snapshot at `path`; an unreadable one is an error unless `skip` says to start
/// empty instead.
async fn load_snapshot<R: Rt>(
    rt: &R,
    shards: &ShardSet,
    state: &ServerState,
    path: &std::path::Path,
    limits: crate::storage::rdb::Limits,
    skip: bool,
) -> Result<(), std::io::Error> {
    use std::sync::atomic::Ordering;
    let p = &state.persistence;
    let start = rt.now();
    let out = crate::storage::load::load_file(rt, shards, path, limits, &p.load_progress).await;
    match out {
        Ok(l) => {
            p.loaded_keys.store(l.keys, Ordering::Relaxed);
            p.expired_on_load.store(l.expired, Ordering::Relaxed);
            tracing::info!(
                "DB loaded from {}: {} keys ({} already expired) in {:.3} seconds",
                path.display(),
                l.keys,
                l.expired,
                rt.now().saturating_sub(start).as_secs_f64()
            );
        }
        Err(e) if skip => {
            tracing::error!("snapshot {} is unusable ({e}); starting empty (--skip_corrupt_snapshot)", path.display());
        }
        Err(e) => {
            tracing::error!("snapshot {} is unusable: {e}", path.display());
            return Err(std::io::Error::other(format!(
                "cannot load snapshot {}: {e} (fix or move the file, or start with --skip_corrupt_snapshot)",
                path.display()
            )));
        }
    }
    p.loading.store(false, Ordering::Release);
    Ok(())
}

/// An accepted connection on its way to a shard thread: the socket, its peer, and whether it
/// must complete a TLS handshake first.
type Accepted<R> = (<R as Rt>::Handoff, SocketAddr, bool);

/// Accepts connections for ever, handing them to the shard threads round-robin.
async fn accept_loop<R: Rt>(
    rt: &R,
    listener: &R::Listener,
    tls: bool,
    state: &ServerState,
    queues: &[mpsc::UnboundedSender<Accepted<R>>],
    next: &std::sync::atomic::AtomicUsize,
) {
    use std::sync::atomic::Ordering;
    loop {
        match listener.accept().await {
            Ok((conn, peer)) => {
                rt.perturb("accept").await;
                state.stats.connections_received.fetch_add(1, Ordering::Relaxed);
                let i = next.fetch_add(1, Ordering::Relaxed);
                let _ = queues[i % queues.len()].send((conn, peer, tls));
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                rt.sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn shard_main<R: Rt>(
    rt: R,
    id: usize,
    seed: u64,
    shards: Arc<ShardSet>,
    state: Arc<ServerState>,
    mailbox: mpsc::UnboundedReceiver<crate::engine::ShardMsg>,
    mut conns: mpsc::UnboundedReceiver<Accepted<R>>,
) {
    let mut shard = Shard::new(id, shards.dbnum, seed);
    shard.set_config(crate::engine::ShardConfig::from_store(&state.config.read().unwrap()));
    shard.peers = Some(Arc::downgrade(&shards));
    shard.mem = shards.mem.clone();
    // Other threads read the usage before this shard's first job ends (its empty tables count).
    shard.publish_usage();
    shard.journal = Some(state.repl.journal.clone());
    shard.self_checks = rt.self_checks();
    #[cfg(feature = "canary")]
    {
        shard.canary_evict_any = rt.fault_enabled("evict-volatile-any");
    }
    let cell = Rc::new(RefCell::new(shard));
    rt.spawn_local("shard-mailbox", drive_shard(rt.clone(), cell.clone(), mailbox));
    if id == 0 {
        rt.spawn_local("replication-cron", crate::replication::primary::cron(rt.clone(), state.clone()));
        crate::replication::replica::start(rt.clone(), shards.clone(), state.clone(), cell.clone());
        rt.spawn_local("autosave", autosave::run(rt.clone(), shards.clone(), state.clone()));
    }
    while let Some((handoff, peer, tls)) = conns.recv().await {
        match rt.adopt(handoff) {
            Ok(stream) if tls => {
                let (rt2, shards2, state2, cell2) = (rt.clone(), shards.clone(), state.clone(), cell.clone());
                rt.spawn_local("connection", async move {
                    // The handshake runs here, on the serving thread, never in the accept loop.
                    match rt2.accept_tls(stream).await {
                        Ok(stream) => {
                            connection::Connection::new(rt2, shards2, state2, cell2, peer).serve(stream).await;
                        }
                        Err(e) => {
                            state2.stats.tls_handshake_failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            tracing::debug!("TLS handshake with {peer} failed: {e}");
                        }
                    }
                });
            }
            Ok(stream) => {
                let c = connection::Connection::new(rt.clone(), shards.clone(), state.clone(), cell.clone(), peer);
                rt.spawn_local("connection", c.serve(stream));
            }
            Err(e) => tracing::warn!("could not take over a connection from {peer}: {e}"),
        }
    }
}
