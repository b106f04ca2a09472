//! Pub/sub on one shard thread: the registry of the subscriptions of the connections living on
//! this thread, and each subscriber's outbox. A publish reaches every thread as a closure in its
//! mailbox (`Shard::fan_out`), which counts and queues the message for local subscribers only, so
//! no lock is shared between threads. The outbox is bounded by bytes: past the pubsub class of
//! `client-output-buffer-limit` the client is closed, as Redis does.

use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Which family a message or subscription belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// SUBSCRIBE / PUBLISH.
    Channel,
    /// SSUBSCRIBE / SPUBLISH: a separate namespace.
    Shard,
}

/// One message published to one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publication {
    pub family: Family,
    pub channel: Bytes,
    pub payload: Bytes,
}

/// What a subscriber receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// `message` (or `smessage` for shard channels).
    Message(Family, Bytes, Bytes),
    /// `pmessage`: pattern, channel, payload.
    PMessage(Bytes, Bytes, Bytes),
}

impl Delivery {
    /// Bytes it holds, as the output buffer limit counts them (with a little framing overhead).
    pub fn size(&self) -> usize {
        match self {
            Delivery::Message(_, c, p) => c.len() + p.len() + 40,
            Delivery::PMessage(pat, c, p) => pat.len() + c.len() + p.len() + 50,
        }
    }
}

/// The pubsub class of `client-output-buffer-limit`; 0 disables a limit.
#[derive(Debug, Default)]
pub struct OutputLimits {
    pub hard: AtomicU64,
    pub soft: AtomicU64,
    pub soft_secs: AtomicU64,
}

impl OutputLimits {
    /// Parses Redis's `class hard soft secs [class hard soft secs ...]` and keeps the pubsub one.
    /// Errors name what Redis would reject.
    pub fn parse_pubsub(text: &str) -> Result<Option<(u64, u64, u64)>, String> {
        Self::parse_class(text, "pubsub")
    }

    /// The limits `text` gives the client class `wanted` (`normal`, `replica`, `pubsub`).
    pub fn parse_class(text: &str, wanted: &str) -> Result<Option<(u64, u64, u64)>, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.len() % 4 != 0 {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut out = None;
        for w in words.chunks(4) {
            let class = w[0].to_ascii_lowercase();
            if !matches!(class.as_str(), "normal" | "slave" | "replica" | "pubsub") {
                return Err("Invalid client class specified in buffer limit configuration.".into());
            }
            let mem = |t: &str| crate::config::parse_memory(t).and_then(|v| u64::try_from(v).ok());
            let (hard, soft) = (mem(w[1]), mem(w[2]));
            let secs = w[3].parse::<i64>().ok().filter(|s| *s >= 0);
            let (Some(hard), Some(soft), Some(secs)) = (hard, soft, secs) else {
                return Err("Error in hard, soft or soft_seconds setting in buffer limit configuration.".into());
            };
            let class = if class == "slave" { "replica".to_string() } else { class };
            if class == wanted {
                out = Some((hard, soft, secs as u64));
            }
        }
        Ok(out)
    }

    pub fn set(&self, hard: u64, soft: u64, secs: u64) {
        self.hard.store(hard, Ordering::Relaxed);
        self.soft.store(soft, Ordering::Relaxed);
        self.soft_secs.store(secs, Ordering::Relaxed);
    }
}

/// A subscriber's queue of messages not yet written. Filled by its thread's shard, drained by
/// its connection.
pub struct Outbox {
    queue: Mutex<VecDeque<Delivery>>,
    bytes: AtomicUsize,
    /// Wall ms since when the soft limit has been exceeded (0: not exceeded).
    soft_since: AtomicU64,
    overflowed: AtomicBool,
    limits: Arc<OutputLimits>,
    pub ready: Notify,
    /// Called once when the limit is passed: closes the client.
    on_overflow: Box<dyn Fn() + Send + Sync>,
}

impl Outbox {
    pub fn new(limits: Arc<OutputLimits>, on_overflow: Box<dyn Fn() + Send + Sync>) -> Outbox {
        Outbox {
            queue: Mutex::new(VecDeque::new()),
            bytes: AtomicUsize::new(0),
            soft_since: AtomicU64::new(0),
            overflowed: AtomicBool::new(false),
            limits,
            ready: Notify::new(),
            on_overflow,
        }
    }

    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Acquire)
    }

    pub fn pending_bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Queues `d` unless the client already went over its limit.
    pub fn push(&self, d: Delivery, now_ms: u64) {
        if self.overflowed() {
            return;
        }
        let total = self.bytes.fetch_add(d.size(), Ordering::Relaxed) + d.size();
        let (hard, soft) = (self.limits.hard.load(Ordering::Relaxed), self.limits.soft.load(Ordering::Relaxed));
        let mut over = hard > 0 && total as u64 > hard;
        if soft > 0 && total as u64 > soft {
            let since = self.soft_since.load(Ordering::Relaxed);
            if since == 0 {
                self.soft_since.store(now_ms.max(1), Ordering::Relaxed);
            } else if now_ms.saturating_sub(since) >= self.limits.soft_secs.load(Ordering::Relaxed) * 1000 {
                over = true;
            }
        } else {
            self.soft_since.store(0, Ordering::Relaxed);
        }
        if over {
            self.overflowed.store(true, Ordering::Release);
            self.queue.lock().unwrap().clear();
            self.bytes.store(0, Ordering::Relaxed);
            (self.on_overflow)();
            self.ready.notify_one();
            return;
        }
        self.queue.lock().unwrap().push_back(d);
        self.ready.notify_one();
    }

    /// Takes everything queued.
    pub fn drain(&self) -> Vec<Delivery> {
        let out: Vec<Delivery> = self.queue.lock().unwrap().drain(..).collect();
        let n: usize = out.iter().map(Delivery::size).sum();
        let take = n.min(self.bytes.load(Ordering::Relaxed));
        let left = self.bytes.fetch_sub(take, Ordering::Relaxed).saturating_sub(take);
        // Back under the soft limit: its clock starts again next time, as in Redis.
        if left as u64 <= self.limits.soft.load(Ordering::Relaxed) {
            self.soft_since.store(0, Ordering::Relaxed);
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.queue.lock().unwrap().is_empty()
    }
}

#[derive(Clone)]
struct Sub {
    client: u64,
    out: Arc<Outbox>,
}

/// The subscriptions of this thread's connections.
#[derive(Default)]
pub struct Registry {
    channels: BTreeMap<Bytes, Vec<Sub>>,
    patterns: BTreeMap<Bytes, Vec<Sub>>,
    shard_channels: BTreeMap<Bytes, Vec<Sub>>,
}

/// Which kind of subscription a registry operation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubKind {
    Channel,
    Pattern,
    ShardChannel,
}

impl Registry {
    fn map(&mut self, kind: SubKind) -> &mut BTreeMap<Bytes, Vec<Sub>> {
        match kind {
            SubKind::Channel => &mut self.channels,
            SubKind::Pattern => &mut self.patterns,
            SubKind::ShardChannel => &mut self.shard_channels,
        }
    }

    fn map_ref(&self, kind: SubKind) -> &BTreeMap<Bytes, Vec<Sub>> {
        match kind {
            SubKind::Channel => &self.channels,
            SubKind::Pattern => &self.patterns,
            SubKind::ShardChannel => &self.shard_channels,
        }
    }

    pub fn subscribe(&mut self, kind: SubKind, name: Bytes, client: u64, out: &Arc<Outbox>) {
        let subs = self.map(kind).entry(name).or_default();
        if !subs.iter().any(|s| s.client == client) {
            subs.push(Sub { client, out: out.clone() });
        }
    }

    pub fn unsubscribe(&mut self, kind: SubKind, name: &[u8], client: u64) {
        let m = self.map(kind);
        if let Some(subs) = m.get_mut(name) {
            subs.retain(|s| s.client != client);
            if subs.is_empty() {
                m.remove(name);
            }
        }
    }

    /// Queues `p` for every matching local subscriber; returns how many receptions that made
    /// (a client matching a channel and two patterns counts three times, as in Redis).
    pub fn deliver(&self, p: &Publication, now_ms: u64) -> usize {
        let mut n = 0;
        match p.family {
            Family::Shard => {
                for s in self.shard_channels.get(&p.channel).into_iter().flatten() {
                    s.out.push(Delivery::Message(Family::Shard, p.channel.clone(), p.payload.clone()), now_ms);
                    n += 1;
                }
            }
            Family::Channel => {
                for s in self.channels.get(&p.channel).into_iter().flatten() {
                    s.out.push(Delivery::Message(Family::Channel, p.channel.clone(), p.payload.clone()), now_ms);
                    n += 1;
                }
                for (pat, subs) in &self.patterns {
                    if crate::util::glob_match(pat, &p.channel, false) {
                        for s in subs {
                            s.out.push(Delivery::PMessage(pat.clone(), p.channel.clone(), p.payload.clone()), now_ms);
                            n += 1;
                        }
                    }
                }
            }
        }
        n
    }

    /// Names with at least one subscriber, optionally matching a glob.
    pub fn names(&self, kind: SubKind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.map_ref(kind)
            .keys()
            .filter(|n| pattern.is_none_or(|p| crate::util::glob_match(p, n, false)))
            .cloned()
            .collect()
    }

    pub fn count(&self, kind: SubKind, name: &[u8]) -> usize {
        self.map_ref(kind).get(name).map_or(0, Vec::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbox(hard: u64) -> Arc<Outbox> {
        let limits = Arc::new(OutputLimits::default());
        limits.set(hard, 0, 0);
        Arc::new(Outbox::new(limits, Box::new(|| {})))
    }

    fn publ(ch: &str, msg: &str) -> Publication {
        Publication {
            family: Family::Channel,
            channel: Bytes::from(ch.to_string()),
            payload: Bytes::from(msg.to_string()),
        }
    }

    #[test]
    fn channels_and_patterns_count_each_reception() {
        let mut r = Registry::default();
        let a = outbox(0);
        r.subscribe(SubKind::Channel, Bytes::from("news"), 1, &a);
        r.subscribe(SubKind::Pattern, Bytes::from("n*"), 1, &a);
        r.subscribe(SubKind::Pattern, Bytes::from("x*"), 1, &a);
        assert_eq!(r.deliver(&publ("news", "hi"), 0), 2);
        assert_eq!(a.drain().len(), 2);
        r.unsubscribe(SubKind::Channel, b"news", 1);
        assert_eq!(r.deliver(&publ("news", "hi"), 0), 1);
        assert_eq!(r.names(SubKind::Pattern, None).len(), 2);
        let shard = Publication { family: Family::Shard, ..publ("news", "x") };
        assert_eq!(r.deliver(&shard, 0), 0, "shard channels are their own namespace");
    }

    #[test]
    fn outbox_closes_at_the_hard_limit() {
        let a = outbox(200);
        a.push(Delivery::Message(Family::Channel, Bytes::from("c"), Bytes::from(vec![0u8; 100])), 0);
        assert!(!a.overflowed());
        a.push(Delivery::Message(Family::Channel, Bytes::from("c"), Bytes::from(vec![0u8; 100])), 0);
        assert!(a.overflowed());
        assert!(a.is_empty() && a.pending_bytes() == 0, "memory is released at once");
    }

    #[test]
    fn outbox_closes_after_the_soft_limit_lasts() {
        let limits = Arc::new(OutputLimits::default());
        limits.set(0, 100, 2);
        let a = Arc::new(Outbox::new(limits, Box::new(|| {})));
        let big = || Delivery::Message(Family::Channel, Bytes::from("c"), Bytes::from(vec![0u8; 80]));
        a.push(big(), 1_000);
        a.push(big(), 1_000);
        assert!(!a.overflowed(), "over the soft limit, but not for long yet");
        a.drain();
        a.push(big(), 2_500);
        a.push(big(), 2_600);
        assert!(!a.overflowed(), "the clock restarted when the queue fell below the limit");
        a.push(big(), 4_700);
        assert!(a.overflowed());
    }

    #[test]
    fn limits_parse_like_redis() {
        assert_eq!(OutputLimits::parse_pubsub("pubsub 1mb 512kb 10").unwrap(), Some((1 << 20, 512 << 10, 10)));
        assert_eq!(OutputLimits::parse_pubsub("normal 0 0 0").unwrap(), None);
        assert!(OutputLimits::parse_pubsub("pubsub 1 2").is_err());
        assert!(OutputLimits::parse_pubsub("bogus 1 2 3").is_err());
    }
}
