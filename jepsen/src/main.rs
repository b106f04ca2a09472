//! `jepsen`: a real-process fault-injection harness for Redis-compatible servers.
//!
//! ```text
//! jepsen run --workload register --nemesis kill,pause --time 60 --seed 42 -- SERVER-COMMAND...
//! jepsen check [--workload W] FILE      re-check a stored history (history.jsonl or its directory)
//! jepsen replay RUN.json [-- SERVER-COMMAND...]
//! ```
//!
//! The server command may contain `{PORT}` and `{DIR}`. Exit codes: 0 valid, 1 invalid,
//! 2 unknown, 3 skipped (the server lacks a command the workload needs), 64 usage or harness error.
//!
//! The modules below are the binary's, not the checker library's: the library stays free of I/O.
//! Modules that touch files, processes, sockets or clocks allow the workspace determinism lints
//! locally, each with its reason.

mod harness;
mod json;
mod nemesis;
mod proxy;
mod resp;
mod workloads;

use harness::run::{self, RunOptions};
use std::path::PathBuf;
use std::time::Duration;

const USAGE: &str = "usage:
  jepsen run --workload W [--nemesis LIST] [--time S] [--seed N] [--concurrency N] [--rate OPS]
             [--op-timeout-ms MS] [--check-budget S] [--durability full|none] [--store DIR]
             [--replicas N] [--read-from primary|replicas] [--wait yes|no] [--preload N]
             -- SERVER-COMMAND...
  jepsen check [--workload W] [--check-budget S] [--durability full|none] FILE
             (FILE: history.jsonl, or a run directory; run.json beside it supplies the rest)
  jepsen replay [--store DIR] RUN.json [-- SERVER-COMMAND...]

workloads: register, counter, set, append, mset
nemeses:   kill, pause, blackhole, delay, reset, one-way-requests, one-way-replies,
           partition (all network faults), one-way, all (the seven above), none;
           snapshot (BGSAVE, kill -9, restart, check the recovered state),
           failover-kill, failover-partition, failover (both; need --replicas)
SERVER-COMMAND may use {PORT} and {DIR}, e.g.
  -- redis-server --port {PORT} --bind 127.0.0.1 --save '' --appendonly no --dir {DIR}
--durability none: the server keeps nothing across kill -9 (a cache without persistence); each
  process lifetime is checked on its own from an empty store, instead of reporting data loss
--replicas N: a primary and N replicas (REPLICAOF through a proxy per link, so partitions cut
  replication too); the nodes' data must be identical once replication caught up (convergence)
--preload N: write N filler keys (100-byte values) first, so snapshots and full syncs take a while
--wait yes: after each write, WAIT 1; a write WAIT did not confirm counts as indeterminate
exit codes: 0 valid, 1 invalid, 2 unknown, 3 skipped, 64 usage or harness error";

fn default_store() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("store")
}

/// `--flag value` pairs, positional arguments, and the server command after `--`.
type Parsed = (Vec<(String, String)>, Vec<String>, Vec<String>);

/// Splits `args` at `--`, and parses `--flag value` pairs before it.
fn parse_flags(args: &[String]) -> Result<Parsed, String> {
    let (before, server) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], args[i + 1..].to_vec()),
        None => (args, Vec::new()),
    };
    let mut flags = Vec::new();
    let mut positional = Vec::new();
    let mut it = before.iter();
    while let Some(a) = it.next() {
        if let Some(name) = a.strip_prefix("--") {
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => (name.to_string(), it.next().ok_or(format!("--{name} needs a value"))?.clone()),
            };
            flags.push((name, value));
        } else {
            positional.push(a.clone());
        }
    }
    Ok((flags, positional, server))
}

fn num(name: &str, v: &str) -> Result<u64, String> {
    v.parse().map_err(|_| format!("--{name}: not a number: {v}"))
}

fn durability(v: &str) -> Result<bool, String> {
    match v {
        "full" => Ok(true),
        "none" => Ok(false),
        _ => Err(format!("--durability: full or none, not {v:?}")),
    }
}

fn yes_no(name: &str, v: &str) -> Result<bool, String> {
    match v {
        "yes" | "true" | "1" => Ok(true),
        "no" | "false" | "0" => Ok(false),
        _ => Err(format!("--{name}: yes or no, not {v:?}")),
    }
}

fn cmd_run(args: &[String]) -> Result<i32, String> {
    let (flags, positional, server) = parse_flags(args)?;
    if !positional.is_empty() {
        return Err(format!("unexpected argument {:?}", positional[0]));
    }
    let mut o = RunOptions {
        workload: String::new(),
        nemesis: Vec::new(),
        time_s: 60,
        seed: 0,
        concurrency: 5,
        rate: 200,
        op_timeout_ms: 1000,
        check_budget_s: 60,
        durable: true,
        replicas: 0,
        read_from_replicas: false,
        wait: false,
        preload: 0,
        server,
        store: default_store(),
        schedule: None,
    };
    for (k, v) in flags {
        match k.as_str() {
            "workload" => o.workload = v,
            "nemesis" => o.nemesis = nemesis::parse_faults(&v)?,
            "time" => o.time_s = num(&k, &v)?,
            "seed" => o.seed = num(&k, &v)?,
            "concurrency" => o.concurrency = num(&k, &v)?.max(1),
            "rate" => o.rate = num(&k, &v)?.max(1),
            "op-timeout-ms" => o.op_timeout_ms = num(&k, &v)?.max(1),
            "check-budget" => o.check_budget_s = num(&k, &v)?.max(1),
            "durability" => o.durable = durability(&v)?,
            "store" => o.store = PathBuf::from(v),
            "replicas" => o.replicas = num(&k, &v)?,
            "read-from" => {
                o.read_from_replicas = match v.as_str() {
                    "primary" => false,
                    "replicas" => true,
                    _ => return Err(format!("--read-from: primary or replicas, not {v:?}")),
                }
            }
            "wait" => o.wait = yes_no(&k, &v)?,
            "preload" => o.preload = num(&k, &v)?,
            _ => return Err(format!("unknown flag --{k}")),
        }
    }
    if o.workload.is_empty() {
        return Err("--workload is required".into());
    }
    run::run(&o)
}

#[allow(clippy::disallowed_methods)] // reads the stored history file
fn cmd_check(args: &[String]) -> Result<i32, String> {
    let (flags, positional, _) = parse_flags(args)?;
    let [file] = positional.as_slice() else {
        return Err("check takes one FILE".into());
    };
    let mut path = PathBuf::from(file);
    if path.is_dir() {
        path = path.join("history.jsonl");
    }
    let mut workload = None;
    let mut budget = 60;
    let mut durable = None;
    for (k, v) in flags {
        match k.as_str() {
            "workload" => workload = Some(v),
            "check-budget" => budget = num(&k, &v)?,
            "durability" => durable = Some(durability(&v)?),
            _ => return Err(format!("unknown flag --{k}")),
        }
    }
    // run.json next to the history supplies the workload, durability and crashes.
    let run_json =
        path.parent().map(|d| d.join("run.json")).filter(|p| p.exists()).map(|p| run::read_run_json(&p)).transpose()?;
    let opt = |k: &str| run_json.as_ref().and_then(|j| j.get("options")).and_then(|o| o.get(k)).cloned();
    let workload = match workload {
        Some(w) => w,
        None => opt("workload")
            .and_then(|w| w.as_str().map(str::to_string))
            .ok_or("no run.json next to the history names its workload: pass --workload")?,
    };
    let durable = durable.unwrap_or(opt("durability").and_then(|d| d.as_str().map(|d| d != "none")).unwrap_or(true));
    let op_timeout_ms = opt("op_timeout_ms").and_then(|t| t.as_i64()).unwrap_or(1000) as u64;
    let crashes = run_json.as_ref().and_then(|j| j.get("nemesis_log")).map(run::crashes_from_log).unwrap_or_default();
    let w = workloads::by_name(&workload).ok_or(format!("unknown workload {workload}"))?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let events = harness::parse_history(&text)?;
    let (ops, res) = run::check_history(
        w.as_ref(),
        &events,
        Duration::from_secs(budget),
        run::CrashInfo { crashes: &crashes, op_timeout_ns: op_timeout_ms * 1_000_000, durable },
    );
    let mut res = res;
    if let Some(j) = &run_json {
        harness::state_checks::from_run_json(w.as_ref(), &ops, j, &crashes, &mut res)?;
    }
    let crashed =
        run_json.as_ref().and_then(|j| j.get("nemesis_log")).and_then(json::Json::as_arr).map_or(0, |l| {
            l.iter().filter(|e| e.get("action").and_then(json::Json::as_str) == Some("crashed")).count()
        });
    if crashed > 0 {
        res.validity = workloads::Validity::Invalid;
        res.anomalies.push("server-crashed".into());
        res.summary.push_str(&format!("\nrun.json records {crashed} server crash(es) not caused by the nemesis"));
    }
    println!("{}", res.report.trim_end());
    println!();
    run::print_verdict(&workload, &ops, &res);
    Ok(run::exit_code(res.validity))
}

fn cmd_replay(args: &[String]) -> Result<i32, String> {
    let (flags, positional, server) = parse_flags(args)?;
    let [file] = positional.as_slice() else {
        return Err("replay takes one run.json".into());
    };
    let mut store = default_store();
    for (k, v) in flags {
        match k.as_str() {
            "store" => store = PathBuf::from(v),
            _ => return Err(format!("unknown flag --{k}")),
        }
    }
    let j = run::read_run_json(&PathBuf::from(file))?;
    let mut o = run::options_from_run_json(&j, store)?;
    if !server.is_empty() {
        o.server = server;
    }
    println!(
        "replaying {file}: the same options, seed and nemesis schedule ({} faults)",
        o.schedule.as_ref().map_or(0, Vec::len)
    );
    run::run(&o)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => cmd_run(&args[1..]),
        Some("check") => cmd_check(&args[1..]),
        Some("replay") => cmd_replay(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(0)
        }
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("jepsen: {e}");
            std::process::exit(64);
        }
    }
}
