//! CONFIG GET/SET/RESETSTAT/REWRITE/HELP over the one parameter table.

use super::cmd_client::help_reply;
use crate::commands::{errors, Ctx};
use crate::config::{find, normalize, ConfigStore, ALIASES, PARAMS};
use crate::engine::ShardStats;
use crate::protocol::Reply;
use crate::runtime::Rt;
use crate::util::glob_match;
use bytes::Bytes;
use std::collections::BTreeMap;

const HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Print this help.",
];

pub async fn run<R: Rt>(ctx: &mut Ctx<'_, R>, sub: &str, args: &[Bytes]) -> Reply {
    match sub {
        "get" => {
            let store = ctx.server.config.read().unwrap();
            let found = config_get(&store, &args[2..]);
            Reply::Map(found.into_iter().map(|(k, v)| (Reply::bulk_str(k), Reply::bulk_str(&v))).collect())
        }
        "set" => {
            if args.len() % 2 != 0 {
                return Reply::error(errors::wrong_args("config|set"));
            }
            let current = ctx.server.config.read().unwrap().clone();
            match plan_set(&current, &args[2..]) {
                Ok(new) => {
                    let shard_config = crate::engine::ShardConfig::from_store(&new);
                    ctx.server.config_replace(new);
                    for s in 0..ctx.shards.num_shards() {
                        let c = shard_config.clone();
                        ctx.shards.hop(ctx.rt, s, move |sh| sh.set_config(c)).await;
                    }
                    Reply::Ok
                }
                Err(e) => Reply::error(e),
            }
        }
        "resetstat" => {
            for s in 0..ctx.shards.num_shards() {
                ctx.shards.hop(ctx.rt, s, |sh| sh.stats = ShardStats::default()).await;
            }
            ctx.server.stats.reset();
            Reply::Ok
        }
        "rewrite" => {
            let mut store = ctx.server.config.read().unwrap().clone();
            let Some(path) = store.flagfile.clone() else {
                return Reply::error("ERR The server is running without a config file");
            };
            // The role as it is now (Sentinel's SLAVEOF inside MULTI is followed by this
            // rewrite), not as the flags had it at startup.
            let role = crate::replication::role::replicaof_flag(&ctx.server.repl.role());
            if let Err(e) = store.set("replicaof", &role, true) {
                return Reply::error(format!("ERR Rewriting config file: {e}"));
            }
            match super::config_file::rewrite(ctx.rt, &path, &store).await {
                Ok(()) => {
                    tracing::info!("CONFIG REWRITE executed with success");
                    Reply::Ok
                }
                Err(e) => {
                    tracing::warn!("CONFIG REWRITE failed: {e}");
                    Reply::error(format!("ERR Rewriting config file: {e}"))
                }
            }
        }
        "help" => help_reply(HELP),
        _ => Reply::error(errors::unknown_subcommand("config", sub.as_bytes())),
    }
}

/// CONFIG GET: every parameter (or alias) any pattern matches, case-insensitively, once each.
pub fn config_get(store: &ConfigStore, patterns: &[Bytes]) -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    let names = PARAMS.iter().map(|p| p.name).chain(ALIASES.iter().map(|(a, _)| *a));
    for name in names {
        if patterns.iter().any(|p| glob_match(p, name.as_bytes(), true)) {
            if let Some(v) = store.get(name) {
                out.insert(name, v.to_string());
            }
        }
    }
    out
}

/// CONFIG SET name value [name value ...]: all or nothing. Returns the store to install, or
/// Redis 7's error for the first bad pair.
pub fn plan_set(current: &ConfigStore, pairs: &[Bytes]) -> Result<ConfigStore, String> {
    let mut new = current.clone();
    let mut seen: Vec<&'static str> = Vec::new();
    for pair in pairs.chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]).into_owned();
        let value = String::from_utf8_lossy(&pair[1]).into_owned();
        let Some(param) = find(&name.to_ascii_lowercase()) else {
            return Err(format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'"));
        };
        let failed = |why: &str| format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}");
        if !param.mutable {
            return Err(failed("can't set immutable config"));
        }
        if seen.contains(&param.name) {
            return Err(failed("duplicate parameter"));
        }
        seen.push(param.name);
        let value = match param.name {
            "notify-keyspace-events" => crate::engine::notify::NotifyFlags::parse(&value)
                .map(|f| f.to_text())
                .ok_or_else(|| failed("Invalid event class character. Use 'Ag$lshzxeKEtmdn'."))?,
            "latency-tracking-info-percentiles" => {
                crate::metrics::latency_histogram::parse_percentiles(&value).map_err(failed)?.1
            }
            "client-output-buffer-limit" => {
                super::pubsub::merge_output_limits(new.get_str(param.name), &value).map_err(|why| failed(&why))?
            }
            _ => value,
        };
        normalize(param, &value).map_err(|why| failed(&why))?;
        new.set(param.name, &value, false).map_err(|why| failed(&why))?;
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect()
    }

    #[test]
    fn get_globs() {
        let s = ConfigStore::defaults();
        let m = config_get(&s, &b(&["maxmemory*"]));
        assert_eq!(m.keys().copied().collect::<Vec<_>>(), vec!["maxmemory", "maxmemory-policy", "maxmemory-samples"]);
        let m = config_get(&s, &b(&["PORT", "port", "hz"]));
        assert_eq!(m.len(), 2);
        assert_eq!(m["hz"], "10");
        assert!(config_get(&s, &b(&["nosuch"])).is_empty());
        assert!(config_get(&s, &b(&["*"])).len() >= PARAMS.len());
    }

    #[test]
    fn set_is_atomic() {
        let s = ConfigStore::defaults();
        let n = plan_set(&s, &b(&["maxmemory", "1mb", "hz", "20"])).unwrap();
        assert_eq!(n.get_int("maxmemory"), 1 << 20);
        assert_eq!(n.get_int("hz"), 20);
        let e = plan_set(&s, &b(&["maxmemory", "1mb", "hz", "x"])).unwrap_err();
        assert_eq!(
            e,
            "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer"
        );
        let e = plan_set(&s, &b(&["nosuch", "1"])).unwrap_err();
        assert_eq!(e, "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'");
        let e = plan_set(&s, &b(&["port", "1"])).unwrap_err();
        assert!(e.ends_with("'port') - can't set immutable config"));
        let e = plan_set(&s, &b(&["hz", "1", "HZ", "2"])).unwrap_err();
        assert!(e.ends_with("duplicate parameter"));
    }
}
