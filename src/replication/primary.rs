//! The primary side: full and partial resynchronization, and feeding each replica the stream
//! from the backlog (the commands themselves are in `replication::commands`).
//!
//! A replica connection starts as an ordinary client. PSYNC marks it (`ReplicaHello::sync`); the
//! connection then hands its socket to `serve_replica`, which never returns to command mode.
//! Each replica is fed from the shared backlog at its own pace: the primary never waits for
//! one. A replica that falls further behind than `client-output-buffer-limit replica` allows
//! (or out of the backlog) is disconnected and must resynchronize, as in Redis.

use super::{Follower, Replication};
use crate::engine::ShardSet;
use crate::protocol::{parse_request, Limits};
use crate::runtime::{DiskFile, OpenMode, Rt};
use crate::server::{ClientHandle, ServerState};
use bytes::{Bytes, BytesMut};
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What a connection told us with REPLCONF before asking to sync.
#[derive(Clone, Debug, Default)]
pub struct ReplicaHello {
    pub listening_port: u16,
    pub ip_address: Option<String>,
    /// `capa eof`: it reads the diskless `$EOF:<mark>` payload form.
    pub capa_eof: bool,
    /// `capa psync2`: it understands `+CONTINUE <replid>`.
    pub capa_psync2: bool,
    /// SYNC or PSYNC's arguments, once asked: the connection becomes a replica link.
    pub sync: Option<Vec<Bytes>>,
}

/// Bytes sent to a replica per write while it streams.
const SEND_CHUNK: usize = 64 * 1024;
/// How often a primary PINGs its replicas through the stream (repl-ping-replica-period).
const PING_PERIOD: Duration = Duration::from_secs(10);

/// The `replica` class of `client-output-buffer-limit`: (hard, soft, soft seconds).
fn replica_limits(state: &ServerState) -> (u64, u64, u64) {
    let text = state.config.read().unwrap().get_str("client-output-buffer-limit").to_string();
    let words: Vec<&str> = text.split_whitespace().collect();
    for w in words.chunks(4) {
        if w.len() == 4 && matches!(w[0].to_ascii_lowercase().as_str(), "slave" | "replica") {
            let mem = |t: &str| crate::config::parse_memory(t).and_then(|v| u64::try_from(v).ok()).unwrap_or(0);
            return (mem(w[1]), mem(w[2]), w[3].parse().unwrap_or(0));
        }
    }
    (256 << 20, 64 << 20, 60)
}

/// Whether a PSYNC request can continue from our backlog; the offset to continue from if so.
fn try_partial(repl: &Replication, args: &[Bytes]) -> Option<u64> {
    if args.len() < 3 || !args[0].eq_ignore_ascii_case(b"psync") {
        return None;
    }
    let replid = std::str::from_utf8(&args[1]).ok()?;
    let from = u64::try_from(crate::util::parse_i64_strict(&args[2])?).ok()?;
    let bl = repl.journal.backlog.lock().unwrap();
    bl.can_continue(replid, from).then_some(from)
}

/// Serves a connection that sent SYNC or PSYNC until the replica goes away or `client` is
/// killed (CLIENT KILL TYPE replica). `pending` holds what the replica sent after its PSYNC
/// (usually nothing yet).
#[allow(clippy::too_many_arguments)]
pub async fn serve_replica<R: Rt, S: AsyncRead + AsyncWrite + Unpin>(
    rt: &R,
    shards: &ShardSet,
    state: &ServerState,
    stream: &mut S,
    pending: &mut BytesMut,
    client: &ClientHandle,
    hello: ReplicaHello,
) {
    let (client_id, peer) = (client.id, client.addr);
    let repl = &state.repl;
    let stream = &mut super::counted::Counted::writes(stream, &repl.net_output_bytes);
    let args = hello.sync.clone().unwrap_or_default();
    let ip = hello.ip_address.clone().unwrap_or_else(|| peer.ip().to_string());
    let name = format!("{ip}:{}", hello.listening_port);
    let (hard, soft, soft_secs) = replica_limits(state);
    {
        // Writes are recorded from now on, and kept while this replica may still need them.
        let mut bl = repl.journal.backlog.lock().unwrap();
        bl.activate();
        bl.retain_for_replicas = bl.retain_for_replicas.max(hard as usize);
    }
    repl.journal.set_on(!repl.is_replica());
    repl.followers.lock().unwrap().push(Follower {
        id: client_id,
        ip: ip.clone(),
        port: hello.listening_port,
        state: "wait_bgsave",
        ack_offset: 0,
        last_ack_ms: rt.wall_ms(),
    });
    let result = async {
        // `history`: the id the replica was told; if ours moves on, it must reconnect.
        let (sent, history, ack_first) = match try_partial(repl, &args) {
            Some(from) => {
                let replid = repl.journal.backlog.lock().unwrap().replid.clone();
                let line = if hello.capa_psync2 { format!("+CONTINUE {replid}\r\n") } else { "+CONTINUE\r\n".into() };
                stream.write_all(line.as_bytes()).await?;
                repl.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
                tracing::info!(replica = %name, "partial resynchronization accepted, continuing from offset {from}");
                (from - 1, replid, false)
            }
            None => {
                repl.sync_full.fetch_add(1, Ordering::Relaxed);
                if args[0].eq_ignore_ascii_case(b"psync") && args.get(1).is_some_and(|id| &id[..] != b"?") {
                    repl.sync_partial_err.fetch_add(1, Ordering::Relaxed);
                }
                if args[0].eq_ignore_ascii_case(b"psync") {
                    tracing::info!(replica = %name, "full resync requested (replid {} offset {})",
                        String::from_utf8_lossy(args.get(1).map(|b| &b[..]).unwrap_or(b"?")),
                        String::from_utf8_lossy(args.get(2).map(|b| &b[..]).unwrap_or(b"?")));
                }
                let (replid, offset, eof_marked) =
                    full_sync(rt, shards, state, stream, &hello, &args, client, &name).await?;
                // A replica cannot tell the EOF mark from bytes that follow it: the stream
                // starts once it acknowledges, i.e. has loaded the snapshot (as Redis does).
                (offset, replid, eof_marked)
            }
        };
        let feed = Feed { sent, history: &history, ack_first };
        stream_to(rt, state, stream, pending, client, feed, (hard, soft, soft_secs), &name).await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(replica = %name, "connection with replica lost: {e}");
    }
    repl.followers.lock().unwrap().retain(|f| f.id != client_id);
    if repl.followers.lock().unwrap().is_empty() {
        repl.journal.backlog.lock().unwrap().retain_for_replicas = 0;
    }
}

fn killed() -> io::Error {
    io::Error::other("killed by CLIENT KILL")
}

fn set_state(repl: &Replication, id: u64, s: &'static str) {
    if let Some(f) = repl.followers.lock().unwrap().iter_mut().find(|f| f.id == id) {
        f.state = s;
    }
}

/// Sends a snapshot taken at one cut and returns the offset the stream continues after: the
/// snapshot plus the stream after that offset is exactly the dataset.
#[allow(clippy::too_many_arguments)]
async fn full_sync<R: Rt, S: AsyncRead + AsyncWrite + Unpin>(
    rt: &R,
    shards: &ShardSet,
    state: &ServerState,
    stream: &mut S,
    hello: &ReplicaHello,
    args: &[Bytes],
    client: &ClientHandle,
    name: &str,
) -> io::Result<(String, u64, bool)> {
    let (client_id, repl) = (client.id, &state.repl);
    let (dir, diskless) = {
        let c = state.config.read().unwrap();
        (c.get_str("dir").to_string(), c.get_bool("repl-diskless-sync"))
    };
    // Another snapshot (BGSAVE, another replica) may be running: keep the replica's timeout
    // from firing with empty lines while we wait for ours to start.
    let (mut snap, (replid, offset)) = {
        let start = crate::storage::snapshot::start(rt, shards, || {
            let mut bl = repl.journal.backlog.lock().unwrap();
            bl.force_select();
            (bl.replid.clone(), bl.offset)
        });
        tokio::pin!(start);
        loop {
            tokio::select! {
                biased;
                r = &mut start => break r?,
                _ = client.killed() => return Err(killed()),
                _ = rt.sleep(Duration::from_secs(1)) => stream.write_all(b"\n").await?,
            }
        }
    };
    tracing::info!(replica = %name, "snapshot for a full sync cut at offset {offset}");
    if args[0].eq_ignore_ascii_case(b"psync") {
        stream.write_all(format!("+FULLRESYNC {replid} {offset}\r\n").as_bytes()).await?;
    }
    set_state(repl, client_id, "send_bulk");
    let eof_marked = diskless && hello.capa_eof;
    let size = if eof_marked {
        // Diskless: the snapshot goes straight to the socket, EOF-marked.
        let mark: String = (0..40).map(|_| format!("{:x}", rt.rng_u64() % 16)).collect();
        let send = async {
            stream.write_all(format!("$EOF:{mark}\r\n").as_bytes()).await?;
            let mut size = 0u64;
            while let Some(chunk) = snap.next_chunk().await? {
                stream.write_all(&chunk).await?;
                size += chunk.len() as u64;
            }
            stream.write_all(mark.as_bytes()).await?;
            Ok::<u64, io::Error>(size)
        };
        tokio::select! {
            biased;
            _ = client.killed() => return Err(killed()),
            r = send => r?,
        }
    } else {
        // Disk-backed: the length goes first, so the file is written whole, then sent.
        let path = std::path::Path::new(&dir).join(format!("temp-repl-{}-{client_id}.rdb", rt.rng_u64() % 1_000_000));
        let write_and_send = async {
            let file = rt.open(&path, OpenMode::CREATE_NEW).await?;
            let mut size = 0u64;
            while let Some(chunk) = snap.next_chunk().await? {
                file.write_at(&chunk, size).await?;
                size += chunk.len() as u64;
            }
            drop(file);
            send_file(stream, rt, &path, size).await?;
            Ok::<u64, io::Error>(size)
        };
        // A kill stops the copy here, so the temporary file is still removed.
        let sent = tokio::select! {
            biased;
            _ = client.killed() => Err(killed()),
            r = write_and_send => r,
        };
        let _ = rt.remove(&path).await;
        sent?
    };
    stream.flush().await?;
    tracing::info!(replica = %name, "snapshot of {size} bytes sent");
    Ok((replid, offset, eof_marked))
}

/// Sends a snapshot file in the `$<len>\r\n<bytes>` form.
async fn send_file<R: Rt, S: AsyncWrite + Unpin>(
    stream: &mut S,
    rt: &R,
    path: &std::path::Path,
    size: u64,
) -> io::Result<()> {
    stream.write_all(format!("${size}\r\n").as_bytes()).await?;
    let file = rt.open(path, OpenMode::READ).await?;
    let mut buf = vec![0u8; SEND_CHUNK];
    let mut at = 0u64;
    while at < size {
        let n = file.read_at(&mut buf, at).await?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "snapshot file shorter than written"));
        }
        stream.write_all(&buf[..n]).await?;
        at += n as u64;
    }
    Ok(())
}

/// Where a replica's stream starts.
struct Feed<'a> {
    /// The offset it has: the stream continues at `sent + 1`.
    sent: u64,
    /// The replication id it was told; if ours moves on, it must reconnect.
    history: &'a str,
    /// Nothing is sent before its first REPLCONF ACK (after a diskless, EOF-marked snapshot).
    ack_first: bool,
}

/// Feeds the stream from `feed`'s offset on, and reads the replica's ACKs, until either side
/// fails or the replica falls too far behind.
#[allow(clippy::too_many_arguments)]
async fn stream_to<R: Rt, S: AsyncRead + AsyncWrite + Unpin>(
    rt: &R,
    state: &ServerState,
    stream: &mut S,
    pending: &mut BytesMut,
    client: &ClientHandle,
    feed: Feed<'_>,
    (hard, soft, soft_secs): (u64, u64, u64),
    name: &str,
) -> io::Result<()> {
    let (client_id, repl) = (client.id, &state.repl);
    let journal = &repl.journal;
    let Feed { mut sent, history, ack_first } = feed;
    let mut online = false;
    let mut soft_since: Option<u64> = None;
    let mut args = Vec::new();
    let limits = Limits::default();
    loop {
        if client.killed.load(Ordering::Acquire) {
            return Err(killed()); // nothing more for a killed link, even what is ready to go
        }
        let acked = read_acks(rt, repl, pending, &limits, &mut args, client)?;
        if !online && (acked || !ack_first) {
            online = true;
            set_state(repl, client_id, "online");
            tracing::info!(replica = %name, "synchronization succeeded; streaming from offset {sent}");
        }
        let appended = journal.appended.notified();
        tokio::pin!(appended);
        appended.as_mut().enable();
        let chunk = {
            let bl = journal.backlog.lock().unwrap();
            if bl.replid != history {
                // Our own history changed (we resynced from our primary, or were promoted): the
                // replica reconnects and learns the new id, continuing if it still can.
                return Err(io::Error::other("replication id changed; the replica must reconnect"));
            }
            let lag = bl.offset.saturating_sub(sent);
            if hard != 0 && lag > hard {
                return Err(io::Error::other(format!("output buffer limit reached ({lag} bytes behind)")));
            }
            if soft != 0 && lag > soft {
                let since = *soft_since.get_or_insert(rt.wall_ms());
                if rt.wall_ms().saturating_sub(since) >= soft_secs * 1000 {
                    return Err(io::Error::other(format!("soft output buffer limit reached for {soft_secs}s")));
                }
            } else {
                soft_since = None;
            }
            if !online {
                // Held until the first ACK; the limits above apply while the replica loads.
                Default::default()
            } else {
                match bl.read(sent + 1, SEND_CHUNK) {
                    Some(c) => c,
                    None => return Err(io::Error::other("fell out of the replication backlog")),
                }
            }
        };
        if !chunk.is_empty() {
            // While the write waits on a slow replica, keep checking how far behind it is.
            let write = stream.write_all(&chunk);
            tokio::pin!(write);
            loop {
                let more = journal.appended.notified();
                tokio::select! {
                    biased;
                    r = &mut write => { r?; break; }
                    _ = client.killed() => return Err(killed()),
                    _ = more => {
                        let lag = journal.offset().saturating_sub(sent);
                        if hard != 0 && lag > hard {
                            return Err(io::Error::other(format!("output buffer limit reached ({lag} bytes behind)")));
                        }
                    }
                }
            }
            sent += chunk.len() as u64;
            continue;
        }
        stream.flush().await?;
        tokio::select! {
            biased;
            _ = state.stop_notify.notified() => return Ok(()),
            _ = client.killed() => return Err(killed()),
            _ = appended => {}
            r = stream.read_buf(pending) => match r {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "replica closed the connection")),
                Ok(_) => {}
                Err(e) => return Err(e),
            },
        }
        if state.is_stopping() {
            tracing::info!(replica = %name, "server stopping: closing the replica link");
            return Ok(());
        }
    }
}

/// Handles what a replica sent: REPLCONF ACK <offset> (others are ignored, as Redis does for
/// a replica's commands). Returns whether an ACK was among it.
fn read_acks<R: Rt>(
    rt: &R,
    repl: &Replication,
    pending: &mut BytesMut,
    limits: &Limits,
    args: &mut Vec<Bytes>,
    client: &ClientHandle,
) -> io::Result<bool> {
    let mut acked = false;
    loop {
        match parse_request(pending, limits, args) {
            Ok(true) => {
                if args.len() >= 3 && args[0].eq_ignore_ascii_case(b"replconf") && args[1].eq_ignore_ascii_case(b"ack")
                {
                    if let Some(off) = crate::util::parse_i64_strict(&args[2]).and_then(|o| u64::try_from(o).ok()) {
                        // CLIENT LIST shows a streaming replica's last command as REPLCONF, as
                        // Redis does, and its idle time since its last ACK.
                        *client.last_cmd.lock().unwrap() = "replconf";
                        client.last_ms.store(rt.wall_ms(), Ordering::Relaxed);
                        if let Some(f) = repl.followers.lock().unwrap().iter_mut().find(|f| f.id == client.id) {
                            f.ack_offset = f.ack_offset.max(off);
                            f.last_ack_ms = rt.wall_ms();
                        }
                        repl.acked.notify_waiters();
                        acked = true;
                    }
                }
            }
            Ok(false) => return Ok(acked),
            Err(e) => return Err(io::Error::other(format!("protocol error from replica: {}", e.0))),
        }
    }
}

/// PINGs replicas through the stream every `PING_PERIOD`, so their timeouts see a live primary
/// even when nothing is written (Redis's replicationCron).
pub async fn cron<R: Rt>(rt: R, state: Arc<ServerState>) {
    loop {
        rt.sleep(PING_PERIOD).await;
        if state.is_stopping() {
            return;
        }
        let repl = &state.repl;
        if !repl.is_replica() && repl.journal.is_on() && !repl.followers.lock().unwrap().is_empty() {
            repl.journal.append_control(&[Bytes::from_static(b"PING")]);
        }
    }
}
