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
            multi: None,
            watched: Vec::new(),
            in_exec: false,
            subs: Default::default(),
            pre_replies: Vec::new(),
            repl: Default::default(),
            woff: 0,
            is_master: false,
            monitor: None,
        };
        Connection { rt, shards, state, home, client }
    }

    /// The client a replica applies its primary's stream through: the normal command path,
    /// authenticated, exempt from the read-only and stale-data refusals.
    pub(crate) fn master_client(
        rt: R,
        shards: Arc<ShardSet>,
        state: Arc<ServerState>,
        home: ShardCell,
        peer: SocketAddr,
    ) -> Self {
        let mut c = Connection::new(rt, Arc::new(shards.master_view()), state, home, peer);
        c.client.authenticated = true;
        c.client.is_master = true;
        c.client.handle.master.store(true, Ordering::Relaxed);
        c
    }

    /// What CLIENT LIST and CLIENT KILL see of this client.
    pub(crate) fn client_handle(&self) -> &Arc<ClientHandle> {
        &self.client.handle
    }

    /// Runs one command from the primary's stream; the reply is for logging only.
    pub(crate) async fn run_from_master(&mut self, args: Vec<Bytes>) -> Reply {
        self.execute(args).await.0
    }

    pub async fn serve(mut self, mut stream: R::Stream) {
        let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
        // A connection that opens with an HTTP request line is a metrics scrape, not a client.
        let mut primed = match super::http::sniff(&mut stream, &mut rbuf).await {
            super::http::Opening::Http => {
                super::http::serve(&self.rt, &self.shards, &self.state, &mut stream, &mut rbuf).await;
                return;
            }
            super::http::Opening::Resp => !rbuf.is_empty(),
            super::http::Opening::Closed => return,
        };
        self.home.borrow_mut().stats.net_input_bytes += rbuf.len() as u64;
        let handle = self.client.handle.clone();
        self.state.clients.add(handle.clone());
        let mut wbuf = BytesMut::with_capacity(READ_CHUNK);
        let mut args: Vec<Bytes> = Vec::with_capacity(8);
        let mut squash = Squash::default();
        'conn: loop {
            if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
                rbuf.reserve(READ_CHUNK);
            }
            if !std::mem::take(&mut primed) {
                let outbox = self.client.subs.outbox.clone();
                let monitor = self.client.monitor.clone();
                let read = tokio::select! {
                    biased;
                    _ = handle.kill.notified() => break 'conn,
                    _ = self.state.stop_notify.notified() => break 'conn,
                    // Requests first: their replies drain the outbox too, so neither side starves.
                    r = stream.read_buf(&mut rbuf) => Woke::Read(r),
                    // Published messages and MONITOR lines, written while requests keep being read.
                    _ = messages(outbox.as_deref()) => {
                        self.drain_outbox(&mut wbuf);
                        Woke::Push
                    }
                    _ = super::monitor::lines_ready(monitor.as_deref()) => {
                        if let Some(feed) = &monitor {
                            feed.drain_into(&mut wbuf);
                        }
                        Woke::Push
                    }
                };
                let read = match read {
                    Woke::Read(r) => r,
                    Woke::Push => {
                        let written = tokio::select! {
                            biased;
                            _ = handle.kill.notified() => false,
                            r = write_all(&self.home, &mut stream, &mut wbuf) => r.is_ok(),
                        };
                        if !written {
                            break 'conn;
                        }
                        continue 'conn;
                    }
                };
                match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => self.home.borrow_mut().stats.net_input_bytes += n as u64,
                }
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
                            squash.push(
                                shard,
                                f,
                                mode,
                                self.client.db,
                                std::mem::take(&mut args),
                                key,
                                spec,
                                self.client.no_touch,
                            );
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
                        if self.client.repl.sync.is_some() {
                            // SYNC/PSYNC: this connection is a replica's link from now on.
                            if write_all(&self.home, &mut stream, &mut wbuf).await.is_err() {
                                break 'conn;
                            }
                            let hello = std::mem::take(&mut self.client.repl);
                            handle.replica.store(true, Ordering::Relaxed);
                            crate::replication::primary::serve_replica(
                                &self.rt,
                                &self.shards,
                                &self.state,
                                &mut stream,
                                &mut rbuf,
                                &handle,
                                hello,
                            )
                            .await;
                            break 'conn;
                        }
                        for pre in std::mem::take(&mut self.client.pre_replies) {
                            pre.encode(self.client.resp, &mut wbuf);
                        }
                        if let Some(reply) = reply {
                            reply.encode(self.client.resp, &mut wbuf);
                        }
                        // Messages that arrived meanwhile (a publish to oneself) follow the
                        // command's reply, as Redis's "publish to self inside multi" expects.
                        self.drain_outbox(&mut wbuf);
                        if self.client.closing {
                            let _ = write_all(&self.home, &mut stream, &mut wbuf).await;
                            break 'conn;
                        }
                        if wbuf.len() >= WRITE_HIGH_WATER
                            && write_all(&self.home, &mut stream, &mut wbuf).await.is_err()
                        {
                            break 'conn;
                        }
                    }
                    Ok(false) => break,
                    Err(e) => {
                        self.flush_squash(&mut squash, &mut wbuf).await;
                        Reply::error(format!("ERR {}", e.0)).encode(self.client.resp, &mut wbuf);
                        let _ = write_all(&self.home, &mut stream, &mut wbuf).await;
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
            if write_all(&self.home, &mut stream, &mut wbuf).await.is_err() {
                break;
            }
            if self.state.is_stopping() {
                break;
            }
        }
        let _ = stream.shutdown().await;
        super::pubsub::forget_all(&self.home, &mut self.client);
        super::multi::unwatch_all(&self.shards, &mut self.client);
        super::monitor::stop(&self.state, &mut self.client);
        self.state.clients.remove(self.client.id);
    }

    /// Moves queued pub/sub messages into the output buffer.
    fn drain_outbox(&mut self, wbuf: &mut BytesMut) {
        if let Some(o) = &self.client.subs.outbox {
            if !o.is_empty() {
                super::pubsub::drain_into(o, self.client.resp, wbuf);
            }
        }
    }

    /// EXEC: locks every key the queued commands (and the watches) touch, checks the watches,
    /// runs the commands in order under those locks, then releases them.
    async fn exec(&mut self) -> Reply {
        let Some(multi) = self.client.multi.take() else { return Reply::error(super::multi::EXEC_WITHOUT) };
        if multi.failed {
            super::multi::unwatch_all(&self.shards, &mut self.client);
            return Reply::error(super::multi::EXECABORT);
        }
        {
            // Redis refuses an EXEC holding a denyoom command while memory is full, aborting it.
            let ctx = Ctx {
                rt: &self.rt,
                shards: &self.shards,
                home: &self.home,
                server: &self.state,
                client: &mut self.client,
            };
            if multi.queued.iter().any(|(spec, args)| commands::oom_refused(&ctx, spec, args)) {
                super::multi::unwatch_all(&self.shards, &mut self.client);
                return Reply::error(format!("EXECABORT Transaction discarded because of: {}", errors::OOM));
            }
        }
        let keys = super::multi::lock_set(&multi.queued, self.client.db, self.shards.dbnum, &self.client.watched);
        #[cfg(feature = "canary")]
        if self.rt.fault_enabled("multi-no-locks") {
            // Canary: each queued command runs on its own, so others can see half a transaction.
            let mut out = Vec::with_capacity(multi.queued.len());
            for (spec, args) in multi.queued {
                let mut ctx = Ctx {
                    rt: &self.rt,
                    shards: &self.shards,
                    home: &self.home,
                    server: &self.state,
                    client: &mut self.client,
                };
                out.push(commands::execute(&mut ctx, spec, args).await.0);
            }
            super::multi::unwatch_all(&self.shards, &mut self.client);
            return Reply::Array(out);
        }
        let tx = if keys.is_empty() { None } else { Some(self.shards.lock_in(&self.rt, &keys).await) };
        if !super::multi::watches_hold(&self.rt, &self.shards, &self.client.watched).await {
            drop(tx);
            super::multi::unwatch_all(&self.shards, &mut self.client);
            return Reply::NilArray;
        }
        // The transaction reaches replicas as one MULTI/EXEC, written before its locks go.
        let journal = &self.state.repl.journal;
        let capture = journal.is_on().then(|| crate::engine::propagate::Capture::new(journal.clone(), None, None));
        let view = self.shards.held_view(capture.clone());
        let mut out = Vec::with_capacity(multi.queued.len());
        self.client.in_exec = true;
        for (spec, args) in multi.queued {
            let name = crate::server::meta::full_name(spec, &args);
            let start = self.rt.now();
            let mut ctx =
                Ctx { rt: &self.rt, shards: &view, home: &self.home, server: &self.state, client: &mut self.client };
            let (reply, args) = commands::execute(&mut ctx, spec, args).await;
            let elapsed = self.rt.now().saturating_sub(start);
            self.home.borrow_mut().record_command(name, elapsed, reply.is_error());
            self.feed_monitors(spec, &args);
            out.push(reply);
        }
        self.client.in_exec = false;
        if let Some(c) = capture {
            c.finish();
        }
        drop(tx);
        super::multi::unwatch_all(&self.shards, &mut self.client);
        Reply::Array(out)
    }

    /// Marks the transaction being queued as failed (EXEC will answer EXECABORT).
    fn flag_multi(&mut self) {
        if let Some(m) = &mut self.client.multi {
            m.failed = true;
        }
    }

    /// A request that can join a squashed batch: a plain single-shard command whose key lives
    /// on another shard, from a client in the ordinary reply mode.
    fn squashable(&self, args: &[Bytes]) -> Option<(usize, &'static CommandSpec, ShardFn, Mode)> {
        if self.client.reply_mode != ReplyMode::On
            || !self.client.authenticated
            || self.shards.num_shards() == 1
            || self.client.multi.is_some()
            || self.client.subs.active()
            || self.state.monitors.any()
        {
            return None;
        }
        let spec = commands::lookup(&args[0])?;
        let Run::Shard(f, mode) = spec.run else { return None };
        if !spec.arity_ok(args.len()) || spec.keys.first != 1 || spec.keys.last != 1 {
            return None;
        }
        // Requests a replica or a loading server refuses take the checked path, which answers
        // READONLY/MASTERDOWN/LOADING; a squashed write would change a replica's data.
        if self.state.persistence.is_loading()
            || crate::replication::gate::refusal(&self.state, spec, &self.client).is_some()
        {
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
        let writes = self.state.repl.journal.client_writes();
        let replies = squash.flush(&self.rt, &self.shards, &self.home).await;
        self.note_write_offset(writes);
        let each = self.rt.now().saturating_sub(start) / replies.len() as u32;
        let mut home = self.home.borrow_mut();
        for (name, reply) in replies {
            home.record_command(name, each, reply.is_error());
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
        let writes = self.state.repl.journal.client_writes();
        let (reply, args) = self.execute(args).await;
        self.note_write_offset(writes);
        if let Reply::Error(e) = &reply {
            self.state.stats.count_error(e);
        }
        {
            // What CLIENT LIST shows of pub/sub and MULTI state.
            let (h, c) = (&self.client.handle, &self.client);
            h.subs[0].store(c.subs.channels.len(), Ordering::Relaxed);
            h.subs[1].store(c.subs.patterns.len(), Ordering::Relaxed);
            h.subs[2].store(c.subs.shard_channels.len(), Ordering::Relaxed);
            h.multi.store(c.multi.as_ref().map_or(-1, |m| m.queued.len() as i64), Ordering::Relaxed);
        }
        // Push messages (subscription confirmations) are out of band: CLIENT REPLY OFF/SKIP
        // never hides them, as in Redis.
        let is_push = match &reply {
            Reply::Push(_) => true,
            Reply::Array(items) => !items.is_empty() && items.iter().all(|r| matches!(r, Reply::Push(_))),
            _ => false,
        };
        let suppressed = self.client.reply_mode != ReplyMode::On && !is_push;
        if self.client.reply_mode == ReplyMode::Skipping {
            self.client.reply_mode = ReplyMode::On;
        }
        (if suppressed { None } else { Some(reply) }, args)
    }

    /// After a command (or a squashed batch): if a client write reached the replication stream
    /// meanwhile, WAIT now waits for the stream's end. The count is global, so another client's
    /// write landing meanwhile also counts: the offset can only be overestimated (WAIT then
    /// waits a little longer), never fall short of this client's own writes.
    fn note_write_offset(&mut self, client_writes_before: u64) {
        let journal = &self.state.repl.journal;
        if journal.client_writes() != client_writes_before {
            self.client.woff = journal.offset();
        }
    }

    /// Queues a command inside MULTI, after the checks Redis makes before queueing.
    fn queue(&mut self, spec: &'static CommandSpec, mut args: Vec<Bytes>) -> (Reply, Vec<Bytes>) {
        let refuse = |me: &mut Self, msg: String, mut args: Vec<Bytes>| {
            me.flag_multi();
            me.reject(spec.name);
            args.clear();
            (Reply::error(msg), args)
        };
        if spec.has_flag("no-multi") {
            return refuse(self, super::multi::NOT_IN_MULTI.to_string(), args);
        }
        if self.oom_refused_in_multi(spec) {
            return refuse(self, errors::OOM.to_string(), args);
        }
        if crate::server::meta::is_container(spec.name) && args.len() >= 2 {
            match crate::server::meta::find_sub(spec.name, &args[1]) {
                None => return refuse(self, errors::unknown_subcommand(spec.name, &args[1]), args),
                Some(sub) if !sub.arity_ok(args.len()) => return refuse(self, errors::wrong_args(sub.full), args),
                Some(_) => {}
            }
        }
        let queued = std::mem::take(&mut args);
        if let Some(m) = &mut self.client.multi {
            m.queued.push((spec, queued));
        }
        (Reply::simple("QUEUED"), args)
    }

    fn oom_refused_in_multi(&mut self, spec: &CommandSpec) -> bool {
        let ctx = commands::Ctx {
            rt: &self.rt,
            shards: &self.shards,
            home: &self.home,
            server: &self.state,
            client: &mut self.client,
        };
        commands::oom_refused_in_multi(&ctx, spec)
    }

    /// Counts a call refused before it ran (INFO commandstats `rejected_calls`).
    fn reject(&self, name: &'static str) {
        self.home.borrow_mut().stats.commands.entry(name).or_default().rejected_calls += 1;
    }

    async fn execute(&mut self, mut args: Vec<Bytes>) -> (Reply, Vec<Bytes>) {
        let Some(spec) = commands::lookup(&args[0]) else {
            self.flag_multi();
            let msg = errors::unknown_command(&args);
            args.clear();
            return (Reply::error(msg), args);
        };
        if !spec.arity_ok(args.len()) {
            self.flag_multi();
            self.reject(spec.name);
            args.clear();
            return (Reply::error(errors::wrong_args(spec.name)), args);
        }
        if self.state.persistence.is_loading() && !spec.has_flag("loading") {
            self.flag_multi();
            args.clear();
            return (Reply::error(crate::storage::LOADING), args);
        }
        if !self.client.authenticated && !spec.has_flag("no-auth") {
            self.flag_multi();
            self.reject(spec.name);
            args.clear();
            return (Reply::error(errors::NOAUTH), args);
        }
        if let Some(refusal) = crate::replication::gate::refusal(&self.state, spec, &self.client) {
            self.flag_multi();
            self.reject(spec.name);
            args.clear();
            return (Reply::error(refusal), args);
        }
        if self.state.cluster.enabled && super::cmd_cluster::cross_slot(spec, &args) {
            self.flag_multi();
            args.clear();
            return (Reply::error(super::cmd_cluster::CROSSSLOT), args);
        }
        if self.client.resp == crate::protocol::RespVersion::Resp2
            && self.client.subs.active()
            && !super::pubsub::allowed_when_subscribed(spec.name)
        {
            self.reject(spec.name);
            let msg = super::pubsub::subscribed_error(crate::server::meta::full_name(spec, &args));
            args.clear();
            return (Reply::error(msg), args);
        }
        if self.client.multi.is_some() && !super::multi::runs_in_multi(spec.name) {
            return self.queue(spec, args);
        }
        if self.client.multi.is_some() && self.oom_refused_in_multi(spec) {
            // A nested MULTI or a WATCH is refused for memory before its own error, as in Redis.
            self.flag_multi();
            self.reject(spec.name);
            args.clear();
            return (Reply::error(errors::OOM), args);
        }
        if spec.name == "exec" {
            self.client.last_cmd = "exec";
            let start = self.rt.now();
            let reply = self.exec().await;
            let elapsed = self.rt.now().saturating_sub(start);
            self.home.borrow_mut().record_command("exec", elapsed, reply.is_error());
            self.feed_monitors(spec, &args);
            args.clear();
            return (reply, args);
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
        self.home.borrow_mut().record_command(self.client.last_cmd, elapsed, out.0.is_error());
        let (reply, mut args) = out;
        self.slowlog(spec, &args, elapsed, now_ms);
        self.feed_monitors(spec, &args);
        args.clear();
        (reply, args)
    }

    /// Shows the command that just ran to every MONITOR client (one atomic load when none).
    fn feed_monitors(&self, spec: &CommandSpec, args: &[Bytes]) {
        let monitors = &self.state.monitors;
        if !monitors.any() || args.is_empty() || !super::monitor::shown(spec, args) {
            return;
        }
        let line = super::monitor::line(self.rt.wall_us(), self.client.db, &self.client.addr, spec, args);
        monitors.publish(line, self.rt.wall_ms());
    }

    /// Logs the request if it ran for at least `slowlog-log-slower-than` microseconds.
    fn slowlog(&self, spec: &CommandSpec, args: &[Bytes], took: std::time::Duration, now_ms: u64) {
        let threshold = self.state.slowlog_slower_than.load(Ordering::Relaxed);
        let max_len = self.state.slowlog_max_len.load(Ordering::Relaxed);
        let us = took.as_micros() as u64;
        if threshold < 0 || max_len <= 0 || us < threshold as u64 || args.is_empty() {
            return;
        }
        let entry = crate::metrics::slowlog::SlowEntry {
            id: self.state.slowlog_next_id.fetch_add(1, Ordering::Relaxed),
            time: now_ms / 1000,
            duration_us: us,
            args: crate::metrics::slowlog::trim_args(&crate::metrics::slowlog::redact(spec.name, args)),
            addr: self.client.addr.to_string(),
            name: self.client.name.clone().unwrap_or_default(),
        };
        self.home.borrow_mut().slowlog.push(entry, max_len as usize);
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

async fn write_all<S: tokio::io::AsyncWrite + Unpin>(
    home: &ShardCell,
    stream: &mut S,
    buf: &mut BytesMut,
) -> std::io::Result<()> {
    if buf.is_empty() {
        return Ok(());
    }
    home.borrow_mut().stats.net_output_bytes += buf.len() as u64;
    stream.write_all(buf).await?;
    stream.flush().await?;
    buf.clear();
    Ok(())
}

/// What woke an idle connection: its socket, or output to push (messages, MONITOR lines).
enum Woke {
    Read(std::io::Result<usize>),
    Push,
}

/// Resolves when the outbox has messages; never without one.
async fn messages(outbox: Option<&crate::engine::pubsub::Outbox>) {
    match outbox {
        Some(o) => o.ready.notified().await,
        None => std::future::pending().await,
    }
}
