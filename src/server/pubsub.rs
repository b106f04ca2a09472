//! SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE, SUNSUBSCRIBE, PUBLISH,
//! SPUBLISH and PUBSUB. A connection registers its subscriptions in its own thread's registry
//! (`engine::pubsub`); PUBLISH goes to the shard owning the channel, which sends it to every
//! thread in order, and answers with the sum of their reception counts. Messages reach the
//! connection through its outbox (see `Connection::serve`).

use crate::commands::{errors, spec, CommandSpec, Ctx, KeySpec, Run};
use crate::engine::pubsub::{Delivery, Family, Outbox, Publication, SubKind};
use crate::protocol::{Reply, RespVersion};
use crate::runtime::Rt;
use bytes::Bytes;
use std::collections::BTreeSet;
use std::sync::Arc;

/// What one connection is subscribed to, and its outbox once it has subscribed.
#[derive(Default)]
pub struct Subscriptions {
    pub channels: BTreeSet<Bytes>,
    pub patterns: BTreeSet<Bytes>,
    pub shard_channels: BTreeSet<Bytes>,
    pub outbox: Option<Arc<Outbox>>,
}

impl Subscriptions {
    /// Redis's clientSubscriptionsCount: channels and patterns.
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// In subscribed mode (Redis's CLIENT_PUBSUB flag).
    pub fn active(&self) -> bool {
        self.count() + self.shard_channels.len() > 0
    }

    fn set(&mut self, kind: SubKind) -> &mut BTreeSet<Bytes> {
        match kind {
            SubKind::Channel => &mut self.channels,
            SubKind::Pattern => &mut self.patterns,
            SubKind::ShardChannel => &mut self.shard_channels,
        }
    }

    fn count_for(&self, kind: SubKind) -> usize {
        match kind {
            SubKind::ShardChannel => self.shard_channels.len(),
            _ => self.count(),
        }
    }
}

/// Commands a RESP2 client may send while subscribed.
pub fn allowed_when_subscribed(name: &str) -> bool {
    matches!(
        name,
        "ping"
            | "subscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "quit"
            | "reset"
    )
}

pub fn subscribed_error(full_name: &str) -> String {
    format!(
        "ERR Can't execute '{full_name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
    )
}

/// A message as the client receives it: a push in RESP3, an array in RESP2.
pub fn delivery_reply(d: Delivery) -> Reply {
    match d {
        Delivery::Message(Family::Channel, c, p) => {
            Reply::Push(vec![Reply::bulk(Bytes::from_static(b"message")), Reply::Bulk(c), Reply::Bulk(p)])
        }
        Delivery::Message(Family::Shard, c, p) => {
            Reply::Push(vec![Reply::bulk(Bytes::from_static(b"smessage")), Reply::Bulk(c), Reply::Bulk(p)])
        }
        Delivery::PMessage(pat, c, p) => Reply::Push(vec![
            Reply::bulk(Bytes::from_static(b"pmessage")),
            Reply::Bulk(pat),
            Reply::Bulk(c),
            Reply::Bulk(p),
        ]),
    }
}

const SUB_FLAGS: &[&str] = &["pubsub", "noscript", "loading", "stale"];
const SLOW: &[&str] = &["@pubsub", "@slow"];
const PUB_FLAGS: &[&str] = &["pubsub", "loading", "stale", "fast", "may-replicate"];

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "pubsub",
        "subscribe",
        -2,
        SUB_FLAGS,
        KeySpec::NONE,
        SLOW,
        "Listens for messages published to channels.",
        "2.0.0",
        Run::Conn,
    ),
    spec(
        "pubsub",
        "unsubscribe",
        -1,
        SUB_FLAGS,
        KeySpec::NONE,
        SLOW,
        "Stops listening to messages posted to channels.",
        "2.0.0",
        Run::Conn,
    ),
    spec(
        "pubsub",
        "psubscribe",
        -2,
        SUB_FLAGS,
        KeySpec::NONE,
        SLOW,
        "Listens for messages published to channels that match one or more patterns.",
        "2.0.0",
        Run::Conn,
    ),
    spec(
        "pubsub",
        "punsubscribe",
        -1,
        SUB_FLAGS,
        KeySpec::NONE,
        SLOW,
        "Stops listening to messages published to channels that match one or more patterns.",
        "2.0.0",
        Run::Conn,
    ),
    spec(
        "pubsub",
        "ssubscribe",
        -2,
        SUB_FLAGS,
        KeySpec::NONE,
        SLOW,
        "Listens for messages published to shard channels.",
        "7.0.0",
        Run::Conn,
    ),
    spec(
        "pubsub",
        "sunsubscribe",
        -1,
        SUB_FLAGS,
        KeySpec::NONE,
        SLOW,
        "Stops listening to messages posted to shard channels.",
        "7.0.0",
        Run::Conn,
    ),
    spec(
        "pubsub",
        "publish",
        3,
        PUB_FLAGS,
        KeySpec::NONE,
        &["@pubsub", "@fast"],
        "Posts a message to a channel.",
        "2.0.0",
        Run::Conn,
    ),
    spec(
        "pubsub",
        "spublish",
        3,
        PUB_FLAGS,
        KeySpec::NONE,
        &["@pubsub", "@fast"],
        "Post a message to a shard channel",
        "7.0.0",
        Run::Conn,
    ),
    spec(
        "pubsub",
        "pubsub",
        -2,
        &[],
        KeySpec::NONE,
        &["@slow"],
        "A container for Pub/Sub commands.",
        "2.8.0",
        Run::Conn,
    ),
];

const HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Print this help.",
];

fn confirm(kind: &'static str, name: Option<Bytes>, count: usize) -> Reply {
    Reply::Push(vec![Reply::bulk(Bytes::from_static(kind.as_bytes())), Reply::opt_bulk(name), Reply::Int(count as i64)])
}

/// Hands back one reply and queues the others before it (a command that answers several times).
fn several(ctx: &mut Ctx<'_, impl Rt>, mut replies: Vec<Reply>) -> Reply {
    let last = replies.pop().expect("at least one reply");
    ctx.client.pre_replies.extend(replies);
    last
}

fn outbox<R: Rt>(ctx: &mut Ctx<'_, R>) -> Arc<Outbox> {
    if let Some(o) = &ctx.client.subs.outbox {
        return o.clone();
    }
    let handle = ctx.client.handle.clone();
    let id = ctx.client.id;
    let o = Arc::new(Outbox::new(
        ctx.server.pubsub_limits.clone(),
        Box::new(move || {
            tracing::warn!(client = id, "closing client for overcoming of output buffer limits (pubsub)");
            handle.kill();
        }),
    ));
    ctx.client.subs.outbox = Some(o.clone());
    o
}

fn subscribe<R: Rt>(ctx: &mut Ctx<'_, R>, kind: SubKind, reply_kind: &'static str, names: &[Bytes]) -> Reply {
    let out = outbox(ctx);
    let mut replies = Vec::with_capacity(names.len());
    for name in names {
        if ctx.client.subs.set(kind).insert(name.clone()) {
            ctx.home.borrow_mut().pubsub.subscribe(kind, name.clone(), ctx.client.id, &out);
        }
        replies.push(confirm(reply_kind, Some(name.clone()), ctx.client.subs.count_for(kind)));
    }
    several(ctx, replies)
}

fn unsubscribe<R: Rt>(ctx: &mut Ctx<'_, R>, kind: SubKind, reply_kind: &'static str, names: &[Bytes]) -> Reply {
    let names: Vec<Bytes> =
        if names.is_empty() { ctx.client.subs.set(kind).iter().cloned().collect() } else { names.to_vec() };
    if names.is_empty() {
        return confirm(reply_kind, None, ctx.client.subs.count_for(kind));
    }
    let mut replies = Vec::with_capacity(names.len());
    for name in names {
        if ctx.client.subs.set(kind).remove(&name) {
            ctx.home.borrow_mut().pubsub.unsubscribe(kind, &name, ctx.client.id);
        }
        replies.push(confirm(reply_kind, Some(name), ctx.client.subs.count_for(kind)));
    }
    several(ctx, replies)
}

/// Drops every subscription of a client that goes away or RESETs (no confirmations).
pub fn forget_all(home: &crate::engine::ShardCell, client: &mut crate::server::ClientState) {
    let subs = std::mem::take(&mut client.subs);
    let mut sh = home.borrow_mut();
    for (kind, set) in [
        (SubKind::Channel, subs.channels),
        (SubKind::Pattern, subs.patterns),
        (SubKind::ShardChannel, subs.shard_channels),
    ] {
        for name in set {
            sh.pubsub.unsubscribe(kind, &name, client.id);
        }
    }
}

/// Sends one message to every thread through the shard owning its channel; returns receptions.
pub async fn publish<R: Rt>(rt: &R, shards: &crate::engine::ShardSet, p: Publication) -> i64 {
    let owner = shards.shard_of(&p.channel);
    let Some(answers) = shards.hop(rt, owner, move |sh| sh.fan_out(p)).await else { return 0 };
    let mut n = 0;
    for rx in answers {
        n += rx.await.unwrap_or(0) as i64;
    }
    n
}

pub async fn run<R: Rt>(ctx: &mut Ctx<'_, R>, name: &str, args: &[Bytes]) -> Reply {
    match name {
        "subscribe" => subscribe(ctx, SubKind::Channel, "subscribe", &args[1..]),
        "psubscribe" => subscribe(ctx, SubKind::Pattern, "psubscribe", &args[1..]),
        "ssubscribe" => subscribe(ctx, SubKind::ShardChannel, "ssubscribe", &args[1..]),
        "unsubscribe" => unsubscribe(ctx, SubKind::Channel, "unsubscribe", &args[1..]),
        "punsubscribe" => unsubscribe(ctx, SubKind::Pattern, "punsubscribe", &args[1..]),
        "sunsubscribe" => unsubscribe(ctx, SubKind::ShardChannel, "sunsubscribe", &args[1..]),
        "publish" | "spublish" => {
            let family = if name == "publish" { Family::Channel } else { Family::Shard };
            let p = Publication { family, channel: args[1].clone(), payload: args[2].clone() };
            // Replicas' subscribers hear it too, as Redis forwards PUBLISH to its replicas.
            let journal = &ctx.server.repl.journal;
            if journal.is_on() {
                journal.append_nodb(args);
            }
            Reply::Int(publish(ctx.rt, ctx.shards, p).await)
        }
        _ => Reply::error(format!("ERR command '{name}' has no handler")),
    }
}

/// PUBSUB CHANNELS / NUMSUB / NUMPAT / SHARDCHANNELS / SHARDNUMSUB / HELP: every thread's
/// registry, merged.
pub async fn pubsub_cmd<R: Rt>(ctx: &mut Ctx<'_, R>, sub: &str, args: &[Bytes]) -> Reply {
    let syntax = || {
        Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(&args[1])
        ))
    };
    match sub {
        "channels" | "shardchannels" => {
            if args.len() > 3 {
                return syntax();
            }
            let kind = if sub == "channels" { SubKind::Channel } else { SubKind::ShardChannel };
            let pattern = args.get(2).cloned();
            let mut all = BTreeSet::new();
            for s in 0..ctx.shards.num_shards() {
                let p = pattern.clone();
                if let Some(names) = ctx.shards.hop(ctx.rt, s, move |sh| sh.pubsub.names(kind, p.as_deref())).await {
                    all.extend(names);
                }
            }
            Reply::Array(all.into_iter().map(Reply::Bulk).collect())
        }
        "numsub" | "shardnumsub" => {
            let kind = if sub == "numsub" { SubKind::Channel } else { SubKind::ShardChannel };
            let names: Vec<Bytes> = args[2..].to_vec();
            let mut counts = vec![0i64; names.len()];
            for s in 0..ctx.shards.num_shards() {
                let n = names.clone();
                let got = ctx
                    .shards
                    .hop(ctx.rt, s, move |sh| n.iter().map(|c| sh.pubsub.count(kind, c) as i64).collect::<Vec<_>>())
                    .await
                    .unwrap_or_default();
                for (c, g) in counts.iter_mut().zip(got) {
                    *c += g;
                }
            }
            Reply::Array(names.into_iter().zip(counts).flat_map(|(n, c)| [Reply::Bulk(n), Reply::Int(c)]).collect())
        }
        "numpat" => {
            if args.len() != 2 {
                return syntax();
            }
            let mut all = BTreeSet::new();
            for s in 0..ctx.shards.num_shards() {
                if let Some(names) = ctx.shards.hop(ctx.rt, s, |sh| sh.pubsub.names(SubKind::Pattern, None)).await {
                    all.extend(names);
                }
            }
            Reply::Int(all.len() as i64)
        }
        "help" => super::cmd_client::help_reply(HELP),
        _ => Reply::error(errors::unknown_subcommand("pubsub", sub.as_bytes())),
    }
}

/// Writes what the outbox holds as messages in the client's protocol.
pub fn drain_into(out: &Outbox, resp: RespVersion, wbuf: &mut bytes::BytesMut) {
    for d in out.drain() {
        delivery_reply(d).encode(resp, wbuf);
    }
}

/// CONFIG SET client-output-buffer-limit: merges the classes given into the current value, as
/// Redis does, and returns the text to store.
pub fn merge_output_limits(current: &str, given: &str) -> Result<String, String> {
    crate::engine::pubsub::OutputLimits::parse_pubsub(given)?;
    let mut classes: Vec<(String, [String; 3])> = Vec::new();
    for text in [current, given] {
        for w in text.split_whitespace().collect::<Vec<_>>().chunks(4) {
            if w.len() < 4 {
                continue;
            }
            let class = match w[0].to_ascii_lowercase().as_str() {
                "replica" => "slave".to_string(),
                c => c.to_string(),
            };
            let mem = |t: &str| crate::config::parse_memory(t).unwrap_or(0).to_string();
            let vals = [mem(w[1]), mem(w[2]), w[3].to_string()];
            match classes.iter_mut().find(|(c, _)| *c == class) {
                Some(e) => e.1 = vals,
                None => classes.push((class, vals)),
            }
        }
    }
    Ok(classes.into_iter().map(|(c, v)| format!("{c} {} {} {}", v[0], v[1], v[2])).collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_limits_merge_by_class() {
        let cur = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";
        assert_eq!(
            merge_output_limits(cur, "pubsub 1mb 0 0").unwrap(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 0 0"
        );
        assert!(merge_output_limits(cur, "pubsub 1mb 0").is_err());
    }

    #[test]
    fn subscribed_mode_rules() {
        assert!(allowed_when_subscribed("ping") && allowed_when_subscribed("reset"));
        assert!(!allowed_when_subscribed("get"));
        assert_eq!(
            subscribed_error("get"),
            "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        );
    }
}
