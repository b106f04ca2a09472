//! `jepsen run`: start the node behind its proxy, run the workload's clients and the nemesis for
//! the requested time, heal, run final reads, store the history and run.json, check, report.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // real-process test tooling: files, threads, clocks

use super::epochs::{self, Crash};
use super::{pair, state, state_checks, topology, worker, Event, Op, Recorder};
use crate::json::Json;
use crate::nemesis::snapshot::Recovery;
use crate::nemesis::{self, Cluster, Fault, LogEntry, Planned};
use crate::resp::{is_unknown_command, Client, Outcome, Resp};
use crate::workloads::{self, outcome_counts, CheckResult, Validity, Workload};
use mayfly_jepsen::history::EventType;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Everything that defines a run (all of it is written to run.json).
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub workload: String,
    pub nemesis: Vec<Fault>,
    pub time_s: u64,
    pub seed: u64,
    pub concurrency: u64,
    /// Operations per second, all clients together.
    pub rate: u64,
    pub op_timeout_ms: u64,
    /// Wall-clock budget of the checker, in seconds.
    pub check_budget_s: u64,
    /// What the server promises across kill -9: `true` (default) = acknowledged data survives;
    /// `false` = nothing survives, each process lifetime is checked on its own (see epochs.rs).
    pub durable: bool,
    /// Replicas of the primary (`--replicas`), each replicating through its own link proxy.
    pub replicas: u64,
    /// `--read-from replicas`: reads go to a replica (stale reads are then expected).
    pub read_from_replicas: bool,
    /// `--wait`: a write counts as acknowledged only once WAIT 1 confirmed a replica has it.
    pub wait: bool,
    /// `--preload N`: filler keys written before the run (snapshots then take a while).
    pub preload: u64,
    pub server: Vec<String>,
    pub store: PathBuf,
    /// A schedule to run instead of planning one from the seed (replay).
    pub schedule: Option<Vec<Planned>>,
}

impl RunOptions {
    /// The options as run.json stores them.
    pub fn to_json(&self) -> Json {
        Json::obj([
            ("workload", Json::str(&self.workload)),
            ("nemesis", Json::Arr(self.nemesis.iter().map(|f| Json::str(f.name())).collect())),
            ("time_s", Json::Int(self.time_s as i64)),
            ("seed", Json::Int(self.seed as i64)),
            ("concurrency", Json::Int(self.concurrency as i64)),
            ("rate", Json::Int(self.rate as i64)),
            ("op_timeout_ms", Json::Int(self.op_timeout_ms as i64)),
            ("check_budget_s", Json::Int(self.check_budget_s as i64)),
            ("durability", Json::str(if self.durable { "full" } else { "none" })),
            ("replicas", Json::Int(self.replicas as i64)),
            ("read_from", Json::str(if self.read_from_replicas { "replicas" } else { "primary" })),
            ("wait", Json::Bool(self.wait)),
            ("preload", Json::Int(self.preload as i64)),
            ("server", Json::Arr(self.server.iter().map(Json::str).collect())),
        ])
    }
}

/// Exit codes.
pub const EXIT_VALID: i32 = 0;
pub const EXIT_INVALID: i32 = 1;
pub const EXIT_UNKNOWN: i32 = 2;
pub const EXIT_SKIPPED: i32 = 3;

/// The exit code for a verdict.
pub fn exit_code(v: Validity) -> i32 {
    match v {
        Validity::Valid => EXIT_VALID,
        Validity::Invalid => EXIT_INVALID,
        Validity::Unknown => EXIT_UNKNOWN,
    }
}

/// `YYYYMMDDTHHMMSS` in UTC.
fn timestamp() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}", rem / 3600, rem / 60 % 60, rem % 60)
}

fn make_run_dir(store: &Path, workload: &str) -> Result<PathBuf, String> {
    let base = format!("{}-{workload}", timestamp());
    for n in 0..100 {
        let name = if n == 0 { base.clone() } else { format!("{base}-{n}") };
        let dir = store.join(name);
        if !dir.exists() {
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            return Ok(dir);
        }
    }
    Err("could not make a fresh run directory".into())
}

/// Writes the history as JSON lines.
pub fn write_history(path: &Path, events: &[Event]) -> Result<(), String> {
    let mut text = String::new();
    for e in events {
        text.push_str(&e.to_json().to_line());
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The crashes (kill, then restart) recorded in run.json's nemesis log, in the history's clock.
pub fn crashes_from_log(log: &Json) -> Vec<Crash> {
    let mut out = Vec::new();
    let mut pending = None;
    for e in log.as_arr().unwrap_or(&[]) {
        let at_ns = e.get("at_ms").and_then(Json::as_i64).unwrap_or(0) as u64 * 1_000_000;
        match e.get("action").and_then(Json::as_str) {
            // A replica's kill loses nothing clients wrote (they write to the primary).
            Some("kill") if e.get("detail").and_then(Json::as_str) == Some("replica") => {}
            Some("kill") if e.get("ok").and_then(Json::as_bool) == Some(true) => pending = Some(at_ns),
            Some("restart") => {
                if let Some(kill) = pending.take() {
                    out.push(Crash { kill, restart: at_ns });
                }
            }
            _ => {}
        }
    }
    out
}

/// What the checker knows about crashes: when they happened, and what the server promises.
#[derive(Clone, Copy, Debug)]
pub struct CrashInfo<'a> {
    /// Kills and restarts, from the nemesis log.
    pub crashes: &'a [Crash],
    /// The client's operation timeout (bounds how late an operation can reach a server).
    pub op_timeout_ns: u64,
    /// Whether acknowledged writes must survive a crash.
    pub durable: bool,
}

/// Checks each process lifetime separately, from the initial state.
fn check_epochs(workload: &dyn Workload, ops: &[Op], budget: Duration, info: CrashInfo) -> CheckResult {
    let parts = epochs::split(ops, info.crashes, info.op_timeout_ns);
    let mut total = CheckResult {
        validity: Validity::Valid,
        anomalies: Vec::new(),
        summary: format!(
            "durability none: {} process lifetimes checked separately, each from an empty store",
            parts.len()
        ),
        report: String::new(),
        html: None,
    };
    for (i, part) in parts.iter().enumerate() {
        let r = workload.check(part, budget);
        total.validity = total.validity.and(r.validity);
        for a in r.anomalies {
            if !total.anomalies.contains(&a) {
                total.anomalies.push(a);
            }
        }
        total.summary.push_str(&format!("\n[epoch {i}: {} ops] {}: {}", part.len(), r.validity.name(), r.summary));
        total.report.push_str(&format!("=== epoch {i} ({} ops)\n{}\n", part.len(), r.report));
        if total.html.is_none() {
            total.html = r.html;
        }
    }
    total
}

/// Checks a history and renders the verdict block.
///
/// Durable: the whole history must be valid. When it is not and the run had crashes, each
/// process lifetime is also checked on its own: if every one is valid, the anomalies are
/// explained by writes lost across restarts, and the verdict says `data-loss` (whatever the
/// workload's checker called them: Elle, say, sees lost appends as incompatible orders and cycles).
/// Not durable: each lifetime is checked on its own, from the initial state.
pub fn check_history(
    workload: &dyn Workload,
    events: &[Event],
    budget: Duration,
    info: CrashInfo,
) -> (Vec<Op>, CheckResult) {
    let ops = match pair(events) {
        Ok(ops) => ops,
        Err(e) => return (Vec::new(), CheckResult::malformed(e)),
    };
    if info.crashes.is_empty() {
        let res = workload.check(&ops, budget);
        return (ops, res);
    }
    if !info.durable {
        let res = check_epochs(workload, &ops, budget, info);
        return (ops, res);
    }
    let mut res = workload.check(&ops, budget);
    if res.validity == Validity::Invalid {
        let per_life = check_epochs(workload, &ops, budget, info);
        if per_life.validity == Validity::Valid {
            if !res.anomalies.iter().any(|a| a == "data-loss") {
                res.anomalies.push("data-loss".into());
            }
            res.summary.push_str(&format!(
                "\ndata loss: each of the {} process lifetimes is valid on its own (checked from an empty store), \
                 so the anomalies are acknowledged writes lost across kill -9 and restart",
                info.crashes.len() + 1
            ));
        }
    }
    (ops, res)
}

/// Prints the verdict in a way nobody can miss.
pub fn print_verdict(workload: &str, ops: &[Op], res: &CheckResult) {
    let (ok, fail, info) = outcome_counts(ops);
    println!("workload {workload}: {} operations ({ok} ok, {fail} failed, {info} indeterminate)", ops.len());
    println!("{}", res.summary);
    let anomalies = if res.anomalies.is_empty() { String::new() } else { format!(" ({})", res.anomalies.join(", ")) };
    println!("VERDICT: {}{anomalies}", res.validity.name());
}

fn verdict_json(res: &CheckResult, ops: &[Op]) -> Json {
    let (ok, fail, info) = outcome_counts(ops);
    Json::obj([
        ("validity", Json::str(res.validity.name())),
        ("anomalies", Json::Arr(res.anomalies.iter().map(Json::str).collect())),
        ("summary", Json::str(&res.summary)),
        (
            "ops",
            Json::obj([
                ("ok", Json::Int(ok as i64)),
                ("fail", Json::Int(fail as i64)),
                ("info", Json::Int(info as i64)),
            ]),
        ),
    ])
}

/// Runs a test; returns the process exit code.
pub fn run(opts: &RunOptions) -> Result<i32, String> {
    let workload = workloads::by_name(&opts.workload)
        .ok_or_else(|| format!("unknown workload {:?} (known: {})", opts.workload, workloads::NAMES.join(", ")))?;
    if opts.server.is_empty() {
        return Err("no server command given (after --)".into());
    }
    let snapshots = opts.nemesis.contains(&Fault::Snapshot);
    if snapshots && workload.snapshot_view(&[], &Default::default()).is_none() {
        return Err(format!("--nemesis snapshot: workload {} has no snapshot-prefix check", workload.name()));
    }
    let failover = opts.nemesis.iter().any(|f| matches!(f, Fault::FailoverKill | Fault::FailoverPartition));
    if (failover || opts.read_from_replicas || opts.wait) && opts.replicas == 0 {
        return Err("failover, --read-from replicas and --wait need --replicas 1 or more".into());
    }
    // Snapshot restarts flush the recovered state once it is read, so the history is checked per
    // process lifetime from an empty store (the recovered state has its own check).
    let effective = RunOptions { durable: opts.durable && !snapshots, ..opts.clone() };
    let opts = &effective;
    let durable = opts.durable;
    let dir = make_run_dir(&opts.store, workload.name())?;
    println!(
        "jepsen: {} with nemesis [{}], {} s, seed {}, {} replicas; results in {}",
        workload.name(),
        opts.nemesis.iter().map(|f| f.name()).collect::<Vec<_>>().join(","),
        opts.time_s,
        opts.seed,
        opts.replicas,
        dir.display()
    );

    let nodes = topology::start_nodes(&opts.server, opts.replicas, &dir)?;
    let op_timeout = Duration::from_millis(opts.op_timeout_ms);
    let node_count = nodes.len();
    let schedule = match &opts.schedule {
        Some(s) => s.clone(),
        None => nemesis::plan(&opts.nemesis, node_count, opts.time_s * 1000, opts.seed),
    };
    let mut run_json = vec![
        ("version".to_string(), Json::Int(1)),
        ("started".to_string(), Json::str(timestamp())),
        ("options".to_string(), opts.to_json()),
        ("node_command".to_string(), Json::Arr(nodes[0].command_line().into_iter().map(Json::Str).collect())),
        ("schedule".to_string(), Json::Arr(schedule.iter().map(Planned::to_json).collect())),
    ];

    // Does the server have what this workload needs?
    let cluster_primary_addr = nodes[0].addr();
    let mut probe = Client::new(cluster_primary_addr, op_timeout);
    for cmd in workload.probes() {
        match probe.call(&cmd) {
            Outcome::Reply(Resp::Error(e)) if is_unknown_command(&e) => {
                let msg = format!(
                    "SKIPPED: workload {} needs {}; the server answered {:?} to {}",
                    workload.name(),
                    workload.needs(),
                    e,
                    cmd[0]
                );
                println!("{msg}");
                run_json.push((
                    "verdict".into(),
                    Json::obj([("validity", Json::str("SKIPPED")), ("summary", Json::str(&msg))]),
                ));
                std::fs::write(dir.join("run.json"), Json::Obj(run_json).to_pretty()).map_err(|e| e.to_string())?;
                return Ok(EXIT_SKIPPED);
            }
            Outcome::Reply(_) => {}
            other => return Err(format!("probe {} failed: {other:?}", cmd[0])),
        }
    }

    if opts.preload > 0 {
        let began = Instant::now();
        state::preload(&mut Client::new(cluster_primary_addr, Duration::from_secs(30)), opts.preload)?;
        println!("preloaded {} filler keys in {} ms", opts.preload, began.elapsed().as_millis());
    }
    let restart_timeout = Duration::from_secs(30);
    let cluster = Cluster::new(nodes, opts.seed, restart_timeout)?;
    if cluster.replicated() {
        let links = topology::link_replicas(&cluster, Duration::from_secs(30))?;
        run_json.push(("replication".into(), Json::Arr(links.into_iter().map(Json::Str).collect())));
    }
    let start = Instant::now();
    let recorder = Recorder::new(start);
    let seq = AtomicU64::new(0);
    let acked = AtomicU64::new(0);
    let stop_nemesis = AtomicBool::new(false);
    let stop_watchdog = AtomicBool::new(false);
    let (nemesis_out, watchdog_log) = std::thread::scope(|s| {
        let nem = s.spawn(|| nemesis::execute(&cluster, &schedule, start, &stop_nemesis));
        let dog = s.spawn(|| watchdog(&cluster, start, &stop_watchdog, restart_timeout));
        let ctx = worker::Shared {
            opts,
            workload: workload.as_ref(),
            cluster: &cluster,
            recorder: &recorder,
            seq: &seq,
            acked: &acked,
            start,
        };
        let workers: Vec<_> = (0..opts.concurrency).map(|w| s.spawn(move || worker::run(ctx, w))).collect();
        for w in workers {
            let _ = w.join();
        }
        stop_nemesis.store(true, Ordering::SeqCst);
        let nemesis_out = nem.join().unwrap_or_default();
        stop_watchdog.store(true, Ordering::SeqCst);
        (nemesis_out, dog.join().unwrap_or_default())
    });

    // Heal everything the schedule may have left broken, then take the final reads.
    let mut log = nemesis_out.log;
    log.extend(watchdog_log);
    log.sort_by_key(|l| l.at_ms);
    heal_everything(&cluster, start, &mut log);
    let history_so_far = pair(&recorder.events()).unwrap_or_default();
    let final_process = opts.concurrency * 1_000_000;
    let mut client = Client::new(cluster.client_addr(cluster.primary()), Duration::from_secs(5));
    for (i, (f, input)) in workload.final_ops(&history_so_far).into_iter().enumerate() {
        let mut process = final_process + i as u64 * 100;
        for _attempt in 0..20 {
            recorder.log(EventType::Invoke, process, &f, input.clone(), None);
            let c = workload.apply(&mut client, &f, &input);
            let kind = c.kind;
            recorder.log(kind, process, &f, c.value, c.error);
            if kind == EventType::Ok {
                break;
            }
            if kind == EventType::Info {
                process += 1;
                client.disconnect();
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    let elapsed_ms = start.elapsed().as_millis() as u64;
    // Replicas must catch up with the primary and then hold exactly its data.
    let mut final_states = None;
    if cluster.replicated() {
        let caught_up = topology::wait_caught_up(&cluster, Duration::from_secs(20));
        run_json.push(("caught_up".into(), Json::str(caught_up.clone().unwrap_or_else(|e| e))));
        match topology::dump_all(&cluster) {
            Ok(states) => final_states = Some((caught_up, states)),
            Err(e) => run_json.push(("final_states_error".into(), Json::str(e))),
        }
    }
    for n in &cluster.nodes {
        n.lock().expect("node lock").stop();
    }
    drop(cluster);

    let events = recorder.events();
    write_history(&dir.join("history.jsonl"), &events)?;
    // The server process exiting on its own is a finding whatever the history says.
    let crashed: Vec<&LogEntry> = log.iter().filter(|l| l.action == "crashed").collect();
    let log_json = Json::Arr(log.iter().map(LogEntry::to_json).collect());
    let crashes = crashes_from_log(&log_json);
    let (ops, res) = check_history(
        workload.as_ref(),
        &events,
        Duration::from_secs(opts.check_budget_s),
        CrashInfo { crashes: &crashes, op_timeout_ns: opts.op_timeout_ms * 1_000_000, durable },
    );
    let mut res = res;
    if snapshots {
        let recoveries = &nemesis_out.recoveries;
        run_json.push(("recoveries".into(), Json::Arr(recoveries.iter().map(Recovery::to_json).collect())));
        state_checks::merge(&mut res, state_checks::check_recoveries(workload.as_ref(), &ops, recoveries, &crashes));
    }
    if let Some((caught_up, states)) = final_states {
        run_json.push(("final_states".into(), state_checks::states_to_json(&states)));
        let mut conv = state_checks::check_converged(&states);
        if let Err(e) = caught_up {
            conv.validity = conv.validity.and(Validity::Unknown);
            conv.summary.push_str(&format!("\n  {e}"));
        }
        state_checks::merge(&mut res, conv);
    }
    if !crashed.is_empty() {
        res.validity = Validity::Invalid;
        res.anomalies.push("server-crashed".into());
        for c in &crashed {
            res.summary
                .push_str(&format!("\nserver crash noticed at {} ms: {} (see {}.log)", c.at_ms, c.detail, c.node));
        }
    }
    run_json.push(("elapsed_ms".into(), Json::Int(elapsed_ms as i64)));
    run_json.push(("nemesis_log".into(), log_json));
    run_json.push(("verdict".into(), verdict_json(&res, &ops)));
    std::fs::write(dir.join("run.json"), Json::Obj(run_json).to_pretty()).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("results.txt"), format!("{}\n\n{}", res.summary, res.report)).map_err(|e| e.to_string())?;
    if let Some(html) = &res.html {
        std::fs::write(dir.join("timeline.html"), html).map_err(|e| e.to_string())?;
    }
    let failed_actions = log.iter().filter(|l| !l.ok).count();
    println!(
        "nemesis: {} faults planned, {} actions taken{}",
        schedule.len(),
        log.len(),
        if failed_actions > 0 { format!(", {failed_actions} FAILED (see run.json)") } else { String::new() }
    );
    print_verdict(workload.name(), &ops, &res);
    println!("stored: {}", dir.display());
    Ok(exit_code(res.validity))
}

/// After the run: thaw, restart (replicas re-follow) and reconnect every node.
fn heal_everything(cluster: &Cluster, start: Instant, log: &mut Vec<LogEntry>) {
    for i in 0..cluster.nodes.len() {
        let at_ms = start.elapsed().as_millis() as u64;
        let mut entry = |action: &str, r: Result<String, String>| {
            let name = cluster.name(i);
            let (ok, detail) = match r {
                Ok(d) => (true, d),
                Err(e) => (false, e),
            };
            log.push(LogEntry { at_ms, node: name, action: action.into(), ok, detail });
        };
        let (paused, running, exit) = {
            let mut node = cluster.nodes[i].lock().expect("node lock");
            (node.is_paused(), node.is_running(), node.unexpected_exit())
        };
        if let Some(status) = exit {
            entry("crashed", Err(format!("the server exited by itself ({status})")));
        }
        if paused {
            entry("resume", cluster.nodes[i].lock().expect("node lock").resume().map(|_| String::new()));
        }
        if !running {
            entry("restart", cluster.restart(i));
        }
    }
    cluster.heal_all();
}

/// Notices a server that exits by itself (a crash we did not inject), logs it and restarts it
/// on the same directory so the run can go on.
fn watchdog(cluster: &Cluster, start: Instant, stop: &AtomicBool, restart_timeout: Duration) -> Vec<LogEntry> {
    let mut log = Vec::new();
    let now_ms = || start.elapsed().as_millis() as u64;
    while !stop.load(Ordering::SeqCst) {
        for (i, n) in cluster.nodes.iter().enumerate() {
            let revived =
                nemesis::revive_if_crashed(&mut n.lock().expect("node lock"), &mut log, &now_ms, restart_timeout);
            if revived && cluster.replicated() && i != cluster.primary() {
                let at_ms = now_ms();
                let (ok, detail) = match cluster.follow_primary(i) {
                    Ok(d) => (true, d),
                    Err(e) => (false, e),
                };
                log.push(LogEntry { at_ms, node: cluster.name(i), action: "rejoin".into(), ok, detail });
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    log
}

/// Reads run.json.
pub fn read_run_json(path: &Path) -> Result<Json, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Json::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Rebuilds the options of a stored run (with its schedule, for replay).
pub fn options_from_run_json(j: &Json, store: PathBuf) -> Result<RunOptions, String> {
    let o = j.get("options").ok_or("run.json has no options")?;
    let int = |k: &str| o.get(k).and_then(Json::as_i64).map(|n| n as u64).ok_or(format!("options.{k} missing"));
    let strs = |k: &str| -> Result<Vec<String>, String> {
        o.get(k)
            .and_then(Json::as_arr)
            .ok_or(format!("options.{k} missing"))?
            .iter()
            .map(|s| s.as_str().map(str::to_string).ok_or(format!("options.{k} holds a non-string")))
            .collect()
    };
    let nemesis = nemesis::parse_faults(&strs("nemesis")?.join(","))?;
    let schedule = j
        .get("schedule")
        .and_then(Json::as_arr)
        .ok_or("run.json has no schedule")?
        .iter()
        .map(Planned::from_json)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RunOptions {
        workload: o.get("workload").and_then(Json::as_str).ok_or("options.workload missing")?.to_string(),
        nemesis,
        time_s: int("time_s")?,
        seed: int("seed")?,
        concurrency: int("concurrency")?,
        rate: int("rate")?,
        op_timeout_ms: int("op_timeout_ms")?,
        check_budget_s: int("check_budget_s").unwrap_or(60),
        durable: o.get("durability").and_then(Json::as_str) != Some("none"),
        replicas: int("replicas").unwrap_or(0),
        read_from_replicas: o.get("read_from").and_then(Json::as_str) == Some("replicas"),
        wait: o.get("wait").and_then(Json::as_bool).unwrap_or(false),
        preload: int("preload").unwrap_or(0),
        server: strs("server")?,
        store,
        schedule: Some(schedule),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(index: u64, kind: EventType, process: u64, time: u64, f: &str, value: Json) -> Event {
        Event { index, kind, process, time, f: f.into(), value, error: None }
    }

    /// SET k 1 before a crash, then a GET after the restart that reads `after`.
    fn history(after: Json) -> Vec<Event> {
        let set = Json::obj([("key", Json::str("k")), ("arg", Json::str("1"))]);
        let get = Json::obj([("key", Json::str("k"))]);
        let with = |j: &Json, r: Json| {
            let mut j = j.clone();
            if let Json::Obj(p) = &mut j {
                p.push(("result".into(), r));
            }
            j
        };
        vec![
            ev(0, EventType::Invoke, 0, 10, "set", set.clone()),
            ev(1, EventType::Ok, 0, 20, "set", with(&set, Json::Bool(true))),
            ev(2, EventType::Invoke, 0, 300, "get", get.clone()),
            ev(3, EventType::Ok, 0, 310, "get", with(&get, after)),
        ]
    }

    #[test]
    fn durability_modes() {
        let w = workloads::by_name("register").unwrap();
        let crashes = [Crash { kill: 100, restart: 200 }];
        let budget = Duration::from_secs(5);
        // Durable: reading nil after the restart is data loss.
        let full = CrashInfo { crashes: &crashes, op_timeout_ns: 50, durable: true };
        let none = CrashInfo { durable: false, ..full };
        let (_, r) = check_history(w.as_ref(), &history(Json::Null), budget, full);
        assert_eq!(r.validity, Validity::Invalid);
        assert!(r.anomalies.contains(&"data-loss".to_string()), "{:?}", r.anomalies);
        // Not durable: nil is what a restart must give...
        let (_, r) = check_history(w.as_ref(), &history(Json::Null), budget, none);
        assert_eq!(r.validity, Validity::Valid, "{}", r.summary);
        // ... and a value from the previous lifetime must not come back.
        let (_, r) = check_history(w.as_ref(), &history(Json::str("1")), budget, none);
        // Without crashes, the durable check is the plain one.
        let plain = CrashInfo { crashes: &[], ..full };
        assert_eq!(check_history(w.as_ref(), &history(Json::Null), budget, plain).1.validity, Validity::Invalid);
        assert_eq!(r.validity, Validity::Invalid, "{}", r.summary);
    }

    #[test]
    fn crashes_come_from_the_nemesis_log() {
        let log = Json::Arr(vec![
            Json::obj([("at_ms", Json::Int(5)), ("action", Json::str("kill")), ("ok", Json::Bool(true))]),
            Json::obj([("at_ms", Json::Int(9)), ("action", Json::str("restart")), ("ok", Json::Bool(true))]),
            Json::obj([("at_ms", Json::Int(12)), ("action", Json::str("pause")), ("ok", Json::Bool(true))]),
        ]);
        assert_eq!(crashes_from_log(&log), vec![Crash { kill: 5_000_000, restart: 9_000_000 }]);
    }

    #[test]
    fn timestamp_shape() {
        let t = super::timestamp();
        assert_eq!(t.len(), 15);
        assert!(t.starts_with("20"));
        assert_eq!(&t[8..9], "T");
    }
}
