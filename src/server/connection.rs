//! One client connection: read what has arrived, execute every complete request in order, then
//! write all their replies with one flush (pipelining). Malformed input gets Redis's protocol
//! error and the connection closes; nothing a client claims is allocated before it arrives.

use super::client::{ClientHandle, ClientState, ReplyMode};
use super::squash::{Squash, MAX_SQUASH};
use super::ServerState;
use crate::commands::table::ShardFn;
use crate::commands::{self, errors, CommandSpec, Ctx, Run};
use crate::engine::Mode;
use crate::engine::{ShardCell, ShardSet};
use crate::protocol::{parse_request, Limits, Reply};
use crate::runtime::Rt;
use bytes::{Bytes, BytesMut};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const READ_CHUNK: usize = 16 * 1024;
/// Replies are written out early once this much is pending, so a huge pipeline cannot grow the
/// output buffer without bound.
const WRITE_HIGH_WATER: usize = 64 * 1024;

pub struct Connection<R: Rt> {
    rt: R,
    shards: Arc<ShardSet>,
    state: Arc<ServerState>,
    home: ShardCell,
    client: ClientState,
}

impl<R: Rt> Connection<R> {
    pub fn new(rt: R, shards: Arc<ShardSet>, state: Arc<ServerState>, home: ShardCell, peer: SocketAddr) -> Self {
        let id = state.next_client_id.fetch_add(1, Ordering::Relaxed);
        let now = rt.wall_ms();
        let thread = home.borrow().id;
        let handle = Arc::new(ClientHandle::new(id, peer, state.addr, now));
        let client = ClientState {
            id,
            db: 0,
            resp: Default::default(),
            authenticated: state.requirepass().is_none(),
            name: None,
            addr: peer,
            laddr: state.addr,
            closing: false,
            thread,
            created_ms: now,
            last_cmd: "NULL",
            reply_mode: ReplyMode::On,
            lib_name: None,
            lib_ver: None,
            no_evict: false,
            no_touch: false,
            handle,
        };
        Connection { rt, shards, state, home, client }
    }

    pub async fn serve(mut self, mut stream: R::Stream) {
        let handle = self.client.handle.clone();
        self.state.clients.add(handle.clone());
        let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
        let mut wbuf = BytesMut::with_capacity(READ_CHUNK);
        let mut args: Vec<Bytes> = Vec::with_capacity(8);
        let mut squash = Squash::default();
        'conn: loop {
            if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
                rbuf.reserve(READ_CHUNK);
            }
            let read = tokio::select! {
                biased;
                _ = handle.kill.notified() => break 'conn,
                _ = self.state.stop_notify.notified() => break 'conn,
                r = stream.read_buf(&mut rbuf) => r,
            };
            match read {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if handle.killed.load(Ordering::Acquire) {
                break;
            }
            let limits = Limits { max_bulk_len: self.state.proto_max_bulk_len.load(Ordering::Relaxed) };
            loop {
                match parse_request(&mut rbuf, &limits, &mut args) {
                    Ok(true) if args.is_empty() => continue,
                    Ok(true) => {
                        if let Some((shard, spec, f, mode)) = self.squashable(&args) {
                            let key = args[spec.keys.first as usize].clone();
                            squash.push(shard, f, mode, self.client.db, std::mem::take(&mut args), key, spec.name);
                            if squash.len() >= MAX_SQUASH {
                                self.flush_squash(&mut squash, &mut wbuf).await;
                            }
                            continue;
                        }
                        self.flush_squash(&mut squash, &mut wbuf).await;
                        let taken = std::mem::take(&mut args);
                        let (reply, back) = if commands::lookup(&taken[0]).is_some_and(commands::is_blocking) {
                            // A blocked client may go away while it waits: watch the socket so
                            // its wait ends (and deregisters) instead of being served later.
                            let limit = self.state.client_query_buffer_limit.load(Ordering::Relaxed);
                            let state = self.state.clone();
                            tokio::select! {
                                biased;
                                out = self.handle(taken) => out,
                                _ = handle.kill.notified() => break 'conn,
                                _ = state.stop_notify.notified() => break 'conn,
                                _ = watch_closed(&mut stream, &mut rbuf, limit) => break 'conn,
                            }
                        } else {
                            self.handle(taken).await
                        };
                        args = back;
                        if let Some(reply) = reply {
                            reply.encode(self.client.resp, &mut wbuf);
                        }
                        if self.client.closing {
                            let _ = write_all(&mut stream, &mut wbuf).await;
                            break 'conn;
                        }
                        if wbuf.len() >= WRITE_HIGH_WATER && write_all(&mut stream, &mut wbuf).await.is_err() {
                            break 'conn;
                        }
                    }
                    Ok(false) => break,
                    Err(e) => {
                        self.flush_squash(&mut squash, &mut wbuf).await;
                        Reply::error(format!("ERR {}", e.0)).encode(self.client.resp, &mut wbuf);
                        let _ = write_all(&mut stream, &mut wbuf).await;
                        tracing::debug!(client = self.client.id, "closing client after a protocol error: {}", e.0);
                        break 'conn;
                    }
                }
            }
            self.flush_squash(&mut squash, &mut wbuf).await;
            if rbuf.len() as i64 > self.state.client_query_buffer_limit.load(Ordering::Relaxed) {
                tracing::warn!(client = self.client.id, "closing client that reached max query buffer length");
                break;
            }
            if write_all(&mut stream, &mut wbuf).await.is_err() {
                break;
            }
            if self.state.is_stopping() {
                break;
            }
        }
        let _ = stream.shutdown().await;
        self.state.clients.remove(self.client.id);
    }

    /// A request that can join a squashed batch: a plain single-shard command whose key lives
    /// on another shard, from a client in the ordinary reply mode.
    fn squashable(&self, args: &[Bytes]) -> Option<(usize, &'static CommandSpec, ShardFn, Mode)> {
        if self.client.reply_mode != ReplyMode::On || !self.client.authenticated || self.shards.num_shards() == 1 {
            return None;
        }
        let spec = commands::lookup(&args[0])?;
        let Run::Shard(f, mode) = spec.run else { return None };
        if !spec.arity_ok(args.len()) || spec.keys.first != 1 || spec.keys.last != 1 {
            return None;
        }
        let shard = self.shards.shard_of(&args[1]);
        (shard != self.client.thread).then_some((shard, spec, f, mode))
    }

    /// Sends the held requests and writes their replies in order.
    async fn flush_squash(&mut self, squash: &mut Squash, wbuf: &mut BytesMut) {
        if squash.is_empty() {
            return;
        }
        let start = self.rt.now();
        let replies = squash.flush(&self.rt, &self.shards, &self.home).await;
        let each = self.rt.now().saturating_sub(start) / replies.len() as u32;
        let mut home = self.home.borrow_mut();
        for (name, reply) in replies {
            home.stats.record_command(name, each, reply.is_error());
            self.client.last_cmd = name;
            reply.encode(self.client.resp, wbuf);
        }
    }

    /// Checks and runs one request; `None` when the client asked for no reply.
    async fn handle(&mut self, args: Vec<Bytes>) -> (Option<Reply>, Vec<Bytes>) {
        // As Redis: SKIP makes the next command's reply vanish; CLIENT REPLY OFF and SKIP are
        // themselves silent; CLIENT REPLY ON answers +OK even when replies were off.
        if self.client.reply_mode == ReplyMode::Skip {
            self.client.reply_mode = ReplyMode::Skipping;
        }
        let (reply, args) = self.execute(args).await;
        if let Reply::Error(e) = &reply {
            self.state.stats.count_error(e);
        }
        let suppressed = self.client.reply_mode != ReplyMode::On;
        if self.client.reply_mode == ReplyMode::Skipping {
            self.client.reply_mode = ReplyMode::On;
        }
        (if suppressed { None } else { Some(reply) }, args)
    }

    /// Counts a call refused before it ran (INFO commandstats `rejected_calls`).
    fn reject(&self, name: &'static str) {
        self.home.borrow_mut().stats.commands.entry(name).or_default().rejected_calls += 1;
    }

    async fn execute(&mut self, mut args: Vec<Bytes>) -> (Reply, Vec<Bytes>) {
        let Some(spec) = commands::lookup(&args[0]) else {
            let msg = errors::unknown_command(&args);
            args.clear();
            return (Reply::error(msg), args);
        };
        if !spec.arity_ok(args.len()) {
            self.reject(spec.name);
            args.clear();
            return (Reply::error(errors::wrong_args(spec.name)), args);
        }
        if !self.client.authenticated && !spec.has_flag("no-auth") {
            self.reject(spec.name);
            args.clear();
            return (Reply::error(errors::NOAUTH), args);
        }
        self.client.last_cmd = crate::server::meta::full_name(spec, &args);
        let now_ms = self.rt.wall_ms();
        {
            let h = &self.client.handle;
            *h.last_cmd.lock().unwrap() = self.client.last_cmd;
            h.last_ms.store(now_ms, Ordering::Relaxed);
        }
        let mut ctx =
            Ctx { rt: &self.rt, shards: &self.shards, home: &self.home, server: &self.state, client: &mut self.client };
        let start = self.rt.now();
        let out = commands::execute(&mut ctx, spec, args).await;
        {
            let h = &self.client.handle;
            h.db.store(self.client.db, Ordering::Relaxed);
            h.resp
                .store(if self.client.resp == crate::protocol::RespVersion::Resp3 { 3 } else { 2 }, Ordering::Relaxed);
        }
        let elapsed = self.rt.now().saturating_sub(start);
        self.home.borrow_mut().stats.record_command(self.client.last_cmd, elapsed, out.0.is_error());
        out
    }
}

/// Reads whatever a client sends while its command waits (kept for after it), and returns
/// once the connection is closed or broken.
async fn watch_closed<S: tokio::io::AsyncRead + Unpin>(stream: &mut S, buf: &mut BytesMut, limit: i64) {
    loop {
        if buf.len() as i64 > limit {
            std::future::pending::<()>().await;
        }
        buf.reserve(READ_CHUNK / 4);
        match stream.read_buf(buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

async fn write_all<S: tokio::io::AsyncWrite + Unpin>(stream: &mut S, buf: &mut BytesMut) -> std::io::Result<()> {
    if buf.is_empty() {
        return Ok(());
    }
    stream.write_all(buf).await?;
    stream.flush().await?;
    buf.clear();
    Ok(())
}
