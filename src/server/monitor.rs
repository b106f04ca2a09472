//! MONITOR: every command any connection runs, on any shard thread, goes to every monitoring
//! client as Redis writes it: `+<secs>.<micros> [<db> <addr>] "name" "arg" ...`.
//!
//! A connection formats its line after the command ran (as Redis 7.0 does, so the db is the one
//! left selected) and pushes it to each monitor's feed right away, so every connection's
//! commands reach every monitor in that connection's order. When nobody monitors, the command
//! path pays one atomic load (`Monitors::any`). A feed is bounded by the `normal` class of
//! `client-output-buffer-limit` (monitors are normal clients in Redis): a monitor that cannot
//! keep up is closed instead of holding every thread's output.

use super::client::ClientHandle;
use crate::commands::CommandSpec;
use crate::engine::pubsub::OutputLimits;
use bytes::{BufMut, Bytes, BytesMut};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// With Redis's default `normal 0 0 0` (no limit) a monitor is still cut off here: one slow
/// reader must not grow the server's memory without bound.
const UNLIMITED_FALLBACK: u64 = 64 * 1024 * 1024;

/// The monitoring clients of the whole server.
#[derive(Default)]
pub struct Monitors {
    count: AtomicUsize,
    feeds: Mutex<Vec<Arc<MonitorFeed>>>,
}

impl Monitors {
    /// The only cost a command pays when nobody monitors.
    #[inline]
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    pub fn add(&self, feed: Arc<MonitorFeed>) {
        let mut feeds = self.feeds.lock().unwrap();
        feeds.push(feed);
        self.count.store(feeds.len(), Ordering::Relaxed);
    }

    pub fn remove(&self, client: u64) {
        let mut feeds = self.feeds.lock().unwrap();
        feeds.retain(|f| f.client.id != client);
        self.count.store(feeds.len(), Ordering::Relaxed);
    }

    /// Sends one command's line to every monitor.
    pub fn publish(&self, line: Bytes, now_ms: u64) {
        let feeds: Vec<Arc<MonitorFeed>> = self.feeds.lock().unwrap().clone();
        for f in feeds {
            f.push(line.clone(), now_ms);
        }
    }
}

/// One monitor's queue of lines not yet written.
pub struct MonitorFeed {
    client: Arc<ClientHandle>,
    queue: Mutex<VecDeque<Bytes>>,
    bytes: AtomicUsize,
    /// Wall ms since when the soft limit has been exceeded (0: it is not).
    soft_since: AtomicU64,
    overflowed: AtomicBool,
    limits: Arc<OutputLimits>,
    pub ready: Notify,
}

impl MonitorFeed {
    pub fn new(client: Arc<ClientHandle>, limits: Arc<OutputLimits>) -> MonitorFeed {
        MonitorFeed {
            client,
            queue: Mutex::new(VecDeque::new()),
            bytes: AtomicUsize::new(0),
            soft_since: AtomicU64::new(0),
            overflowed: AtomicBool::new(false),
            limits,
            ready: Notify::new(),
        }
    }

    fn push(&self, line: Bytes, now_ms: u64) {
        if self.overflowed.load(Ordering::Acquire) {
            return;
        }
        let total = (self.bytes.fetch_add(line.len(), Ordering::Relaxed) + line.len()) as u64;
        if self.over_limit(total, now_ms) {
            self.overflowed.store(true, Ordering::Release);
            self.queue.lock().unwrap().clear();
            self.bytes.store(0, Ordering::Relaxed);
            tracing::warn!(
                client = self.client.id,
                addr = %self.client.addr,
                "closing a MONITOR client that overcame its output buffer limit"
            );
            self.client.kill();
            return;
        }
        self.queue.lock().unwrap().push_back(line);
        self.ready.notify_one();
    }

    fn over_limit(&self, total: u64, now_ms: u64) -> bool {
        let (mut hard, soft) = (self.limits.hard.load(Ordering::Relaxed), self.limits.soft.load(Ordering::Relaxed));
        if hard == 0 && soft == 0 {
            hard = UNLIMITED_FALLBACK;
        }
        if hard > 0 && total > hard {
            return true;
        }
        if soft > 0 && total > soft {
            let since = self.soft_since.load(Ordering::Relaxed);
            if since == 0 {
                self.soft_since.store(now_ms.max(1), Ordering::Relaxed);
                return false;
            }
            return now_ms.saturating_sub(since) >= self.limits.soft_secs.load(Ordering::Relaxed) * 1000;
        }
        self.soft_since.store(0, Ordering::Relaxed);
        false
    }

    /// Moves every queued line into `out`.
    pub fn drain_into(&self, out: &mut BytesMut) {
        let lines: Vec<Bytes> = self.queue.lock().unwrap().drain(..).collect();
        let n: usize = lines.iter().map(Bytes::len).sum();
        let left = self.bytes.fetch_sub(n.min(self.bytes.load(Ordering::Relaxed)), Ordering::Relaxed);
        if (left.saturating_sub(n) as u64) <= self.limits.soft.load(Ordering::Relaxed) {
            self.soft_since.store(0, Ordering::Relaxed);
        }
        for l in lines {
            out.put_slice(&l);
        }
    }
}

/// MONITOR: from now on this client receives every command's line.
pub fn start<R: crate::runtime::Rt>(ctx: &mut crate::commands::Ctx<'_, R>) -> crate::protocol::Reply {
    // A client that expects one reply per command (inside EXEC) cannot become a monitor.
    if ctx.client.in_exec {
        return crate::protocol::Reply::error("ERR MONITOR isn't allowed for DENY BLOCKING client");
    }
    if ctx.client.monitor.is_none() {
        let feed = Arc::new(MonitorFeed::new(ctx.client.handle.clone(), ctx.server.normal_limits.clone()));
        ctx.client.handle.monitor.store(true, Ordering::Relaxed);
        ctx.client.monitor = Some(feed.clone());
        ctx.server.monitors.add(feed);
    }
    crate::protocol::Reply::Ok
}

/// Leaves monitor mode (RESET, disconnect).
pub fn stop(server: &super::ServerState, client: &mut super::client::ClientState) {
    if client.monitor.take().is_some() {
        client.handle.monitor.store(false, Ordering::Relaxed);
        server.monitors.remove(client.id);
    }
}

/// Resolves when the feed has lines; never without a feed.
pub async fn lines_ready(feed: Option<&MonitorFeed>) {
    match feed {
        Some(f) => f.ready.notified().await,
        None => std::future::pending().await,
    }
}

/// Whether Redis shows this command to monitors: administrative commands (by the subcommand's
/// flags for containers) are considered too dangerous to show.
pub fn shown(spec: &CommandSpec, args: &[Bytes]) -> bool {
    if super::meta::is_container(spec.name) {
        return match args.get(1).and_then(|a| super::meta::find_sub(spec.name, a)) {
            Some(sub) => !sub.flags.contains(&"admin"),
            None => spec.name == "command" && args.len() == 1,
        };
    }
    !spec.has_flag("admin") && !spec.has_flag("skip-monitor")
}

/// One monitor line, with AUTH/HELLO/MIGRATE secrets shown as `(redacted)`.
pub fn line(now_us: u64, db: usize, addr: &SocketAddr, spec: &CommandSpec, args: &[Bytes]) -> Bytes {
    let args = crate::metrics::slowlog::redact(spec.name, args);
    let mut out = Vec::with_capacity(48 + args.iter().map(|a| a.len() + 3).sum::<usize>());
    out.extend_from_slice(format!("+{}.{:06} [{} {}] ", now_us / 1_000_000, now_us % 1_000_000, db, addr).as_bytes());
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        repr(&mut out, a);
    }
    out.extend_from_slice(b"\r\n");
    Bytes::from(out)
}

/// Quotes bytes as Redis's `sdscatrepr`: C escapes for quotes, backslashes and control
/// characters, `\xNN` for anything else outside printable ASCII.
pub fn repr(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', c]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(s: &[u8]) -> String {
        let mut v = Vec::new();
        repr(&mut v, s);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn escapes_like_sdscatrepr() {
        assert_eq!(quoted(b"foo"), "\"foo\"");
        assert_eq!(quoted(b"a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quoted(b"\r\n\t\x07\x08"), "\"\\r\\n\\t\\a\\b\"");
        assert_eq!(quoted(b"\x00\xff~ "), "\"\\x00\\xff~ \"");
    }

    #[test]
    fn formats_a_line_and_redacts() {
        let spec = crate::commands::lookup(b"auth").unwrap();
        let addr: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let args = vec![Bytes::from("AUTH"), Bytes::from("secret")];
        let l = line(1_700_000_000_000_042, 3, &addr, spec, &args);
        assert_eq!(&l[..], b"+1700000000.000042 [3 127.0.0.1:5000] \"AUTH\" \"(redacted)\"\r\n");
    }

    #[test]
    fn admin_commands_are_hidden() {
        let get = crate::commands::lookup(b"get").unwrap();
        assert!(shown(get, &[Bytes::from("get"), Bytes::from("k")]));
        let debug = crate::commands::lookup(b"debug").unwrap();
        assert!(!shown(debug, &[Bytes::from("debug"), Bytes::from("sleep"), Bytes::from("0")]));
        let config = crate::commands::lookup(b"config").unwrap();
        assert!(!shown(config, &[Bytes::from("config"), Bytes::from("get"), Bytes::from("x")]));
        let client = crate::commands::lookup(b"client").unwrap();
        assert!(shown(client, &[Bytes::from("client"), Bytes::from("setname"), Bytes::from("x")]));
    }

    #[test]
    fn a_slow_monitor_is_cut_off_at_the_hard_limit() {
        let limits = Arc::new(OutputLimits::default());
        limits.set(100, 0, 0);
        let h = Arc::new(ClientHandle::new(7, "127.0.0.1:1".parse().unwrap(), "127.0.0.1:2".parse().unwrap(), 0));
        let feed = MonitorFeed::new(h.clone(), limits);
        feed.push(Bytes::from(vec![b'x'; 60]), 1);
        assert!(!h.killed.load(Ordering::Acquire));
        let mut out = BytesMut::new();
        feed.drain_into(&mut out);
        assert_eq!(out.len(), 60);
        feed.push(Bytes::from(vec![b'x'; 60]), 2);
        feed.push(Bytes::from(vec![b'x'; 60]), 3);
        assert!(h.killed.load(Ordering::Acquire));
        let mut out = BytesMut::new();
        feed.drain_into(&mut out);
        assert!(out.is_empty(), "an overflowed feed drops what it held");
    }
}
