//! INFO: gathers a snapshot from every shard and the server state, then `metrics` formats it.

use crate::commands::Ctx;
use crate::engine::{CommandStat, Shard, ShardSet};
use crate::metrics::info::{render, select_sections, DbCounts, InfoSnapshot};
use crate::metrics::latency_histogram::{parse_percentiles, LatencyHistogram};
use crate::protocol::Reply;
use crate::runtime::Rt;
use crate::server::ServerState;
use bytes::Bytes;
use std::sync::atomic::Ordering;

struct ShardPart {
    dbs: Vec<DbCounts>,
    memory: u64,
    expired: u64,
    evicted: u64,
    hits: u64,
    misses: u64,
    processed: u64,
    net_in: u64,
    net_out: u64,
    commands: Vec<(&'static str, CommandStat)>,
    latency: Vec<(&'static str, LatencyHistogram)>,
    blocked: usize,
    unsaved: u64,
}

fn shard_part(sh: &mut Shard, want_commands: bool, want_latency: bool) -> ShardPart {
    let memory = sh.used_memory() as u64;
    let dbs = sh.dbs.iter().map(|db| DbCounts { keys: db.len() as u64, expires: db.expires_count() as u64 }).collect();
    let st = &sh.stats;
    ShardPart {
        unsaved: st.dirty.saturating_sub(st.dirty_at_save),
        dbs,
        memory,
        expired: st.expired_keys,
        evicted: st.evicted_keys,
        hits: st.keyspace_hits,
        misses: st.keyspace_misses,
        processed: st.commands_processed,
        blocked: sh.blocking.blocked_clients,
        net_in: st.net_input_bytes,
        net_out: st.net_output_bytes,
        commands: if want_commands { st.commands.iter().map(|(k, v)| (*k, *v)).collect() } else { Vec::new() },
        latency: if want_latency { st.latency.iter().map(|(k, v)| (*k, v.clone())).collect() } else { Vec::new() },
    }
}

pub async fn info<R: Rt>(ctx: &mut Ctx<'_, R>, args: &[Bytes]) -> Reply {
    let names: Vec<String> = args[1..].iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    let sections = select_sections(&refs);
    let want = Wanted {
        commands: sections.contains(&"commandstats") || sections.contains(&"stats"),
        latency: sections.contains(&"latencystats"),
    };
    let snap = gather(ctx.rt, ctx.shards, ctx.server, want).await;
    Reply::Verbatim("txt", Bytes::from(render(&sections, &snap)))
}

/// Which per-command figures a caller needs (copying them costs a little per command).
#[derive(Clone, Copy, Debug, Default)]
pub struct Wanted {
    pub commands: bool,
    pub latency: bool,
}

/// Gathers INFO's numbers: one short visit per shard (key counts, a bounded memory sample and the
/// shard's counters), so no shard is held for long. Also feeds `/metrics`.
pub async fn gather<R: Rt>(rt: &R, shards: &ShardSet, server: &ServerState, want: Wanted) -> InfoSnapshot {
    let now_ms = rt.wall_ms();
    let repl = crate::replication::info::ReplSnapshot::take(&server.repl, now_ms);
    let repl_in = server.repl.net_input_bytes.load(Ordering::Relaxed);
    let repl_out = server.repl.net_output_bytes.load(Ordering::Relaxed);
    let mut s = {
        let cfg = server.config.read().unwrap();
        InfoSnapshot {
            redis_version: crate::REDIS_VERSION,
            mayfly_version: crate::VERSION,
            run_id: server.run_id.clone(),
            tcp_port: server.addr.port(),
            now_ms,
            uptime_secs: rt.now().saturating_sub(server.start_mono).as_secs(),
            hz: cfg.get_int("hz"),
            process_id: rt.process_id(),
            executable: rt.executable(),
            config_file: cfg.flagfile.clone().unwrap_or_default(),
            threads: shards.num_shards(),
            shards: server.num_shards,
            connected_clients: server.clients.len(),
            maxclients: cfg.get_int("maxclients"),
            maxmemory: cfg.get_int("maxmemory"),
            maxmemory_policy: cfg.get_str("maxmemory-policy").to_string(),
            last_save_secs: server.persistence.last_save_secs.load(Ordering::Relaxed),
            rdb: crate::metrics::info::RdbInfo::from(&server.persistence, now_ms),
            total_connections_received: server.stats.connections_received.load(Ordering::Relaxed),
            rejected_connections: server.stats.rejected_connections.load(Ordering::Relaxed),
            tls_handshake_failures: server.stats.tls_handshake_failures.load(Ordering::Relaxed),
            repl_backlog_size: cfg.get_int("repl-backlog-size"),
            sync_full: server.repl.sync_full.load(Ordering::Relaxed),
            // The shards' client traffic is added below: Redis's totals include replication's.
            net_input_bytes: repl_in,
            net_output_bytes: repl_out,
            net_repl_input_bytes: repl_in,
            net_repl_output_bytes: repl_out,
            sync_partial_ok: server.repl.sync_partial_ok.load(Ordering::Relaxed),
            sync_partial_err: server.repl.sync_partial_err.load(Ordering::Relaxed),
            dbs: vec![DbCounts::default(); shards.dbnum],
            cluster_enabled: !cfg.get_str("cluster-mode").is_empty(),
            latency_percentiles: parse_percentiles(cfg.get_str("latency-tracking-info-percentiles"))
                .map(|(p, _)| p)
                .unwrap_or_default(),
            cpu: rt.cpu_times(),
            repl_backlog_histlen: repl.backlog_histlen,
            replication: crate::replication::info::render_snapshot(
                &repl,
                &crate::replication::info::InfoSettings {
                    read_only: cfg.get_bool("replica-read-only"),
                    backlog_size: cfg.get_int("repl-backlog-size"),
                    replica_priority: cfg.get_int("replica-priority"),
                },
            ),
            replica_read_only: cfg.get_bool("replica-read-only"),
            repl,
            ..Default::default()
        }
    };
    let mut commands: std::collections::BTreeMap<&'static str, CommandStat> = Default::default();
    let mut latency: std::collections::BTreeMap<&'static str, LatencyHistogram> = Default::default();
    for id in 0..shards.num_shards() {
        let Some(p) = shards.hop(rt, id, move |sh| shard_part(sh, want.commands, want.latency)).await else { continue };
        for (i, d) in p.dbs.iter().enumerate() {
            s.dbs[i].keys += d.keys;
            s.dbs[i].expires += d.expires;
        }
        s.used_memory_dataset += p.memory;
        s.rdb.changes_since_last_save += p.unsaved;
        s.expired_keys += p.expired;
        s.evicted_keys += p.evicted;
        s.keyspace_hits += p.hits;
        s.keyspace_misses += p.misses;
        s.total_commands_processed += p.processed;
        s.blocked_clients += p.blocked;
        s.net_input_bytes += p.net_in;
        s.net_output_bytes += p.net_out;
        for (name, c) in p.commands {
            let t = commands.entry(name).or_default();
            t.calls += c.calls;
            t.usec += c.usec;
            t.failed_calls += c.failed_calls;
            t.rejected_calls += c.rejected_calls;
        }
        for (name, h) in p.latency {
            latency.entry(name).or_default().merge(&h);
        }
    }
    // used_memory is what the allocator holds, as in Redis; without allocator statistics (the
    // simulator, the library alone) the data accounting plus a baseline like an empty Redis's.
    let ms = rt.memory_stats();
    s.used_memory = if ms.allocated != 0 { ms.allocated } else { s.used_memory_dataset + 900 * 1024 };
    s.used_memory_rss = if ms.rss != 0 { ms.rss } else { s.used_memory };
    s.mem_allocator = if ms.allocator.is_empty() { "libc" } else { ms.allocator };
    s.used_memory_peak = server.stats.memory_peak.fetch_max(s.used_memory, Ordering::Relaxed).max(s.used_memory);
    s.commands = commands.into_iter().collect();
    s.latency = latency.into_iter().collect();
    s.allocator_active = ms.active;
    s.total_system_memory = ms.system_total;
    s.errors = server.stats.errors.lock().unwrap().iter().map(|(k, v)| (k.clone(), *v)).collect();
    {
        // Operations per second between INFO calls at least a second apart (Redis samples every
        // 100ms instead); closer calls repeat the last rate.
        let mut last = server.stats.ops_sample.lock().unwrap();
        let (then, before, _) = *last;
        let elapsed = now_ms.saturating_sub(if then == 0 { server.start_ms } else { then });
        if elapsed >= 1000 {
            let rate = (s.total_commands_processed.saturating_sub(before) * 1000).checked_div(elapsed).unwrap_or(0);
            *last = (now_ms, s.total_commands_processed, rate);
        }
        s.ops_per_sec = last.2;
    }
    s
}
