//! Diagnostics: SLOWLOG, LATENCY, MEMORY and DEBUG.

use super::cmd_client::help_reply;
use super::digest;
use crate::commands::{errors, Ctx};
use crate::engine::Shard;
use crate::metrics::latency_histogram::LatencyHistogram;
use crate::metrics::slowlog::{merge, SlowEntry};
use crate::protocol::Reply;
use crate::runtime::Rt;
use crate::types::{StrValue, Value};
use crate::util::{parse_f64_strict, parse_i64_strict};
use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::time::Duration;

const SLOWLOG_HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Print this help.",
];

pub async fn slowlog<R: Rt>(ctx: &mut Ctx<'_, R>, sub: &str, args: &[Bytes]) -> Reply {
    let max_len = ctx.server.slowlog_max_len.load(Ordering::Relaxed).max(0) as usize;
    match sub {
        "help" => help_reply(SLOWLOG_HELP),
        "reset" => {
            for id in 0..ctx.shards.num_shards() {
                ctx.shards.hop(ctx.rt, id, |sh| sh.slowlog.clear()).await;
            }
            Reply::Ok
        }
        "len" => {
            let mut n = 0;
            for id in 0..ctx.shards.num_shards() {
                n += ctx.shards.hop(ctx.rt, id, |sh| sh.slowlog.len()).await.unwrap_or(0);
            }
            Reply::Int(n.min(max_len) as i64)
        }
        "get" => {
            let count = match args.get(2) {
                None => 10,
                Some(a) => match parse_i64_strict(a) {
                    Some(-1) => usize::MAX,
                    Some(n) if n >= 0 => n as usize,
                    _ => return Reply::error("ERR count should be greater than or equal to -1"),
                },
            };
            let want = count.min(max_len);
            let mut parts = Vec::new();
            for id in 0..ctx.shards.num_shards() {
                parts.push(ctx.shards.hop(ctx.rt, id, move |sh| sh.slowlog.newest(want)).await.unwrap_or_default());
            }
            Reply::Array(merge(parts, want).into_iter().map(entry_reply).collect())
        }
        _ => Reply::error(errors::unknown_subcommand("slowlog", sub.as_bytes())),
    }
}

fn entry_reply(e: SlowEntry) -> Reply {
    Reply::Array(vec![
        Reply::Int(e.id as i64),
        Reply::Int(e.time as i64),
        Reply::Int(e.duration_us as i64),
        Reply::Array(e.args.into_iter().map(Reply::bulk).collect()),
        Reply::bulk(Bytes::from(e.addr)),
        Reply::bulk(e.name),
    ])
}

const LATENCY_HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Print this help.",
];

/// LATENCY. Mayfly records no latency events (as Redis with `latency-monitor-threshold 0`, its
/// default), so the event views are empty; HISTOGRAM reads the per-command latency histograms.
pub async fn latency<R: Rt>(ctx: &mut Ctx<'_, R>, sub: &str, args: &[Bytes]) -> Reply {
    match sub {
        "help" => help_reply(LATENCY_HELP),
        "latest" | "history" => Reply::Array(vec![]),
        "reset" => Reply::Int(0),
        "graph" => Reply::error(format!("ERR No samples available for event '{}'", String::from_utf8_lossy(&args[2]))),
        "doctor" => Reply::Verbatim(
            "txt",
            Bytes::from_static(
                b"Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep tonight.\n",
            ),
        ),
        "histogram" => {
            let mut totals: std::collections::BTreeMap<&'static str, LatencyHistogram> = Default::default();
            for id in 0..ctx.shards.num_shards() {
                let part = ctx
                    .shards
                    .hop(ctx.rt, id, |sh| sh.stats.latency.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>())
                    .await
                    .unwrap_or_default();
                for (k, h) in part {
                    totals.entry(k).or_default().merge(&h);
                }
            }
            let wanted: Vec<String> =
                args[2..].iter().map(|a| String::from_utf8_lossy(a).to_ascii_lowercase()).collect();
            let entries = totals
                .into_iter()
                .filter(|(name, h)| h.total() > 0 && (wanted.is_empty() || wanted.iter().any(|w| w == name)))
                .map(|(name, h)| {
                    let buckets = h
                        .cumulative_usec_buckets()
                        .into_iter()
                        .map(|(us, n)| (Reply::Int(us as i64), Reply::Int(n as i64)))
                        .collect();
                    (
                        Reply::bulk_str(name),
                        Reply::Map(vec![
                            (Reply::bulk_str("calls"), Reply::Int(h.total() as i64)),
                            (Reply::bulk_str("histogram_usec"), Reply::Map(buckets)),
                        ]),
                    )
                })
                .collect();
            Reply::Map(entries)
        }
        _ => Reply::error(errors::unknown_subcommand("latency", sub.as_bytes())),
    }
}

const MEMORY_HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Print this help.",
];

/// Bytes an entry costs beyond its key and value: its table slot.
const ENTRY_OVERHEAD: usize = std::mem::size_of::<crate::engine::Entry>() + 1;

pub async fn memory<R: Rt>(ctx: &mut Ctx<'_, R>, sub: &str, args: &[Bytes]) -> Reply {
    match sub {
        "help" => help_reply(MEMORY_HELP),
        "doctor" => {
            let snap = super::cmd_info::gather(ctx.rt, ctx.shards, ctx.server, Default::default()).await;
            Reply::Verbatim("txt", Bytes::from(crate::metrics::memory_doctor::report(&snap)))
        }
        "malloc-stats" => {
            Reply::Verbatim("txt", Bytes::from_static(b"Stats not supported for the current allocator\n"))
        }
        "purge" => Reply::Ok,
        "stats" => {
            let snap = super::cmd_info::gather(ctx.rt, ctx.shards, ctx.server, Default::default()).await;
            let keys: u64 = snap.dbs.iter().map(|d| d.keys).sum();
            Reply::Map(vec![
                (Reply::bulk_str("peak.allocated"), Reply::Int(snap.used_memory_peak.max(snap.used_memory) as i64)),
                (Reply::bulk_str("total.allocated"), Reply::Int(snap.used_memory as i64)),
                (Reply::bulk_str("keys.count"), Reply::Int(keys as i64)),
                (Reply::bulk_str("dataset.bytes"), Reply::Int(snap.used_memory_dataset as i64)),
            ])
        }
        "usage" => {
            match args.len() {
                3 => {}
                5 if args[3].eq_ignore_ascii_case(b"samples") => {
                    if parse_i64_strict(&args[4]).is_none_or(|n| n < 0) {
                        return Reply::error(errors::NOT_INTEGER);
                    }
                }
                _ => return Reply::error(errors::SYNTAX),
            }
            let key = args[2].clone();
            let db = ctx.client.db;
            let shard = ctx.shards.shard_of(&key);
            let size = ctx
                .shards
                .hop(ctx.rt, shard, move |sh| sh.peek(db, &key).map(|e| e.measure() + ENTRY_OVERHEAD))
                .await
                .flatten();
            size.map_or(Reply::Nil, |n| Reply::Int(n as i64))
        }
        _ => Reply::error(errors::unknown_subcommand("memory", sub.as_bytes())),
    }
}

pub const DEBUG_REFUSED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

const DEBUG_HELP: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "OBJECT <key>",
    "    Show low level info about the `key` and associated value.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "RELOAD",
    "    Save the RDB on disk and reload it back to memory (no persistence yet: a no-op).",
    "MEMORY-AUDIT",
    "    Recount every shard's memory accounting; per shard: used, limit (its share of",
    "    maxmemory, -1 = none), structure (table slots), keys, volatile, evicted, held",
    "    (keys transactions hold: never evicted until released).",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "HELP",
    "    Print this help.",
];

pub async fn debug<R: Rt>(ctx: &mut Ctx<'_, R>, args: &[Bytes]) -> Reply {
    let allowed = match ctx.server.config.read().unwrap().get_str("enable-debug-command") {
        "yes" => true,
        "local" => ctx.client.addr.ip().is_loopback(),
        _ => false,
    };
    if !allowed {
        return Reply::error(DEBUG_REFUSED);
    }
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let db = ctx.client.db;
    match (sub.as_str(), args.len()) {
        ("help", 2) => help_reply(DEBUG_HELP),
        ("reload", _) => Reply::Ok,
        ("sleep", 3) => {
            let secs = parse_f64_strict(&args[2]).unwrap_or(0.0);
            if secs > 0.0 && secs.is_finite() {
                ctx.rt.sleep(Duration::from_secs_f64(secs)).await;
            }
            Reply::Ok
        }
        ("set-active-expire", 3) => {
            let on = parse_i64_strict(&args[2]).unwrap_or(0) != 0;
            for id in 0..ctx.shards.num_shards() {
                ctx.shards.hop(ctx.rt, id, move |sh| sh.active_expire = on).await;
            }
            Reply::Ok
        }
        ("object", 3) => {
            let key = args[2].clone();
            let shard = ctx.shards.shard_of(&key);
            let out = ctx
                .shards
                .hop(ctx.rt, shard, move |sh| {
                    let id = sh.id;
                    sh.lookup_write(db, &key).map(|e| {
                        format!(
                            "Value at:0x{:012x} refcount:1 encoding:{} serializedlength:{} lru:0 lru_seconds_idle:0",
                            0x7f00_0000_0000u64 + ((id as u64) << 32) + (e.key().len() as u64 * 64),
                            e.value.encoding(),
                            serialized_len(&e.value)
                        )
                    })
                })
                .await
                .flatten();
            out.map_or(Reply::error(errors::NO_SUCH_KEY), Reply::simple)
        }
        ("memory-audit", 2) => memory_audit(ctx).await,
        ("digest-value", _) => {
            let mut out = Vec::with_capacity(args.len() - 2);
            for key in &args[2..] {
                let key = key.clone();
                let shard = ctx.shards.shard_of(&key);
                let d = ctx
                    .shards
                    .hop(ctx.rt, shard, move |sh| digest::key_value_digest(sh, db, &key))
                    .await
                    .unwrap_or([0; 20]);
                out.push(Reply::simple(digest::hex(&d)));
            }
            Reply::Array(out)
        }
        ("digest", 2) => {
            let mut parts = Vec::with_capacity(ctx.shards.num_shards());
            for id in 0..ctx.shards.num_shards() {
                parts.push(ctx.shards.hop(ctx.rt, id, |sh| digest::shard_digests(sh)).await.unwrap_or_default());
            }
            Reply::simple(digest::hex(&digest::dataset_digest(&parts)))
        }
        ("populate", 3..=5) => {
            let Some(count) = parse_i64_strict(&args[2]).filter(|n| *n >= 0) else {
                return Reply::error("ERR value is out of range, must be positive");
            };
            let prefix = args.get(3).cloned().unwrap_or(Bytes::from_static(b"key"));
            let size = match args.get(4) {
                None => None,
                Some(a) => match parse_i64_strict(a) {
                    Some(n) if n >= 0 => Some(n as usize),
                    _ => return Reply::error("ERR value is out of range, must be positive"),
                },
            };
            populate(ctx, db, count as u64, prefix, size).await;
            Reply::Ok
        }
        _ => Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(&args[1])
        )),
    }
}

/// DEBUG MEMORY-AUDIT: each shard's recount, in shard order (the simulator's eviction checks).
async fn memory_audit<R: Rt>(ctx: &mut Ctx<'_, R>) -> Reply {
    let mut out = Vec::with_capacity(ctx.shards.num_shards());
    for id in 0..ctx.shards.num_shards() {
        let Some(audit) = ctx.shards.hop(ctx.rt, id, |sh| sh.audit_memory()).await else {
            return Reply::error("ERR a shard is gone");
        };
        let a = match audit {
            Ok(a) => a,
            Err(e) => return Reply::error(format!("ERR memory audit of shard {id}: {e}")),
        };
        let n = |v: u64| Reply::Int(i64::try_from(v).unwrap_or(-1));
        out.push(Reply::Map(vec![
            (Reply::bulk_str("shard"), n(a.shard as u64)),
            (Reply::bulk_str("used"), n(a.used)),
            (Reply::bulk_str("limit"), n(a.limit)),
            (Reply::bulk_str("structure"), n(a.structure)),
            (Reply::bulk_str("keys"), n(a.keys)),
            (Reply::bulk_str("volatile"), n(a.volatile)),
            (Reply::bulk_str("evicted"), n(a.evicted)),
            (Reply::bulk_str("held"), n(a.held)),
        ]));
    }
    Reply::Array(out)
}

async fn populate<R: Rt>(ctx: &mut Ctx<'_, R>, db: usize, count: u64, prefix: Bytes, size: Option<usize>) {
    const BATCH: usize = 10_000;
    let n = ctx.shards.num_shards();
    let mut batches: Vec<Vec<(Bytes, Bytes)>> = vec![Vec::new(); n];
    for i in 0..count {
        let mut key = prefix.to_vec();
        key.extend_from_slice(format!(":{i}").as_bytes());
        let mut val = format!("value:{i}").into_bytes();
        if let Some(size) = size {
            val.resize(size, 0);
        }
        let shard = ctx.shards.shard_of(&key);
        batches[shard].push((Bytes::from(key), Bytes::from(val)));
        if batches[shard].len() >= BATCH {
            let b = std::mem::take(&mut batches[shard]);
            ctx.shards.hop(ctx.rt, shard, move |sh| insert_missing(sh, db, b)).await;
        }
    }
    for (shard, b) in batches.into_iter().enumerate() {
        if !b.is_empty() {
            ctx.shards.hop(ctx.rt, shard, move |sh| insert_missing(sh, db, b)).await;
        }
    }
}

/// DEBUG POPULATE leaves existing keys alone.
fn insert_missing(sh: &mut Shard, db: usize, batch: Vec<(Bytes, Bytes)>) {
    for (k, v) in batch {
        if sh.lookup_write(db, &k).is_none() {
            sh.dbs[db].set(k, Value::Str(StrValue::from_owned(v)), 0);
        }
    }
}

#[allow(unreachable_patterns)]
fn serialized_len(v: &Value) -> usize {
    match v {
        Value::Str(s) => match s.as_int() {
            Some(_) => s.len().min(5),
            None => s.len() + 1,
        },
        _ => v.heap_size(),
    }
}
