//! Checks of node states read outside the history: states recovered from a snapshot
//! (snapshot-prefix) and every node's data once replication has caught up (convergence). Both
//! `jepsen run` and `jepsen check` (from run.json) use them.

use super::epochs::Crash;
use super::state::NodeStates;
use super::Op;
use crate::json::Json;
use crate::nemesis::snapshot::Recovery;
use crate::workloads::{CheckResult, Validity, Workload};
use mayfly_jepsen::checker::convergence::check_convergence;
use mayfly_jepsen::checker::snapshot_prefix::{check_snapshot_prefix, PrefixViolation};
use std::fmt::Write as _;

fn result(validity: Validity, anomalies: Vec<String>, text: String) -> CheckResult {
    let summary = text.trim_end().replace('\n', "\n  ");
    CheckResult { validity, anomalies, summary, report: text, html: None }
}

fn add(anomalies: &mut Vec<String>, name: &str) {
    if !anomalies.iter().any(|a| a == name) {
        anomalies.push(name.to_string());
    }
}

/// Each recovered state must be a consistent cut of the writes of the lifetime the kill ended,
/// containing every write acknowledged before BGSAVE was invoked.
pub fn check_recoveries(
    workload: &dyn Workload,
    ops: &[Op],
    recoveries: &[Recovery],
    crashes: &[Crash],
) -> CheckResult {
    let mut validity = Validity::Valid;
    let mut anomalies = Vec::new();
    let mut text = String::new();
    for (i, r) in recoveries.iter().enumerate() {
        // The lifetime began at the last restart before this kill (every earlier one was flushed).
        let born = crashes.iter().map(|c| c.restart).filter(|&t| t < r.kill_ns).max().unwrap_or(0);
        let lifetime: Vec<Op> = ops.iter().filter(|o| o.call >= born && o.call < r.kill_ns).cloned().collect();
        let Some(view) = workload.snapshot_view(&lifetime, &r.state) else {
            let _ = writeln!(text, "snapshot {i}: workload {} has no snapshot-prefix view", workload.name());
            validity = validity.and(Validity::Unknown);
            continue;
        };
        let report = check_snapshot_prefix(&view.writes, &view.recovered, Some(r.save_ns));
        let acked_before = view
            .writes
            .iter()
            .filter(|w| w.outcome == mayfly_jepsen::history::EventType::Ok && w.ret.is_some_and(|t| t < r.save_ns))
            .count();
        let _ = writeln!(
            text,
            "snapshot {i} ({}, BGSAVE at {} ms, kill at {} ms): {} writes, {} acknowledged before BGSAVE, {} recovered \
             keys, minimal cut {} writes: {}",
            r.node,
            r.save_ns / 1_000_000,
            r.kill_ns / 1_000_000,
            view.writes.len(),
            acked_before,
            view.recovered.len(),
            report.cut.len(),
            if report.valid && view.torn.is_empty() { "a consistent cut" } else { "NOT a consistent cut" }
        );
        for t in view.torn.iter().take(10) {
            let _ = writeln!(text, "  torn group: {t}");
        }
        if !view.torn.is_empty() {
            add(&mut anomalies, "torn-snapshot");
            validity = Validity::Invalid;
        }
        for v in report.violations.iter().take(10) {
            let line = match v {
                PrefixViolation::UnknownValue { key, value } => format!("{key} = {value:?}: no write made this value"),
                PrefixViolation::Overwritten { key, recovered, later } => format!(
                    "{key}: found the value of {:?} (invoked {} ms) but the cut needs the later {:?} (invoked {} ms)",
                    view.writes[*recovered].op,
                    view.writes[*recovered].call / 1_000_000,
                    view.writes[*later].op,
                    view.writes[*later].call / 1_000_000
                ),
                PrefixViolation::Missing { key, required } => format!(
                    "{key}: absent, but the cut needs {:?} (invoked {} ms, acknowledged {:?} ms)",
                    view.writes[*required].op,
                    view.writes[*required].call / 1_000_000,
                    view.writes[*required].ret.map(|t| t / 1_000_000)
                ),
            };
            let _ = writeln!(text, "  {line}");
        }
        if !report.valid {
            add(&mut anomalies, "snapshot-not-a-cut");
            validity = Validity::Invalid;
        }
    }
    result(validity, anomalies, text)
}

/// Every node must hold the same data once replication has caught up.
pub fn check_converged(states: &NodeStates) -> CheckResult {
    let report = check_convergence(states);
    let mut text = format!(
        "convergence: {} nodes, {}",
        states.len(),
        states.iter().map(|(n, s)| format!("{n} {} keys", s.len())).collect::<Vec<_>>().join(", ")
    );
    if report.converged {
        text.push_str(": identical\n");
        return result(Validity::Valid, vec![], text);
    }
    let _ = writeln!(text, ": {} keys differ", report.divergent.len());
    for d in report.divergent.iter().take(10) {
        let vals: Vec<String> = d
            .values
            .iter()
            .map(|(n, v)| format!("{n}={}", v.as_ref().map_or("absent".into(), Json::to_line)))
            .collect();
        let _ = writeln!(text, "  {}: {}", d.key, vals.join(" "));
    }
    result(Validity::Invalid, vec!["divergent".into()], text)
}

/// Folds an extra check into the history's verdict.
pub fn merge(into: &mut CheckResult, extra: CheckResult) {
    into.validity = into.validity.and(extra.validity);
    for a in extra.anomalies {
        add(&mut into.anomalies, &a);
    }
    into.summary.push('\n');
    into.summary.push_str(&extra.summary);
    into.report.push_str("\n\n");
    into.report.push_str(&extra.report);
}

/// The node states stored in run.json, and back.
pub fn states_to_json(states: &NodeStates) -> Json {
    Json::Arr(
        states
            .iter()
            .map(|(n, s)| Json::obj([("node", Json::str(n)), ("state", super::state::dump_to_json(s))]))
            .collect(),
    )
}

/// The inverse of `states_to_json`.
pub fn states_from_json(j: &Json) -> Result<NodeStates, String> {
    j.as_arr()
        .ok_or("final_states must be an array")?
        .iter()
        .map(|e| {
            let node = e.get("node").and_then(Json::as_str).ok_or("final state without node")?.to_string();
            Ok((node, super::state::dump_from_json(e.get("state").ok_or("final state without state")?)?))
        })
        .collect()
}

/// The checks `jepsen check` re-applies from run.json: recovered snapshots and final states.
pub fn from_run_json(
    workload: &dyn Workload,
    ops: &[Op],
    run_json: &Json,
    crashes: &[Crash],
    res: &mut CheckResult,
) -> Result<(), String> {
    if let Some(r) = run_json.get("recoveries").and_then(Json::as_arr) {
        let recoveries = r.iter().map(Recovery::from_json).collect::<Result<Vec<_>, _>>()?;
        merge(res, check_recoveries(workload, ops, &recoveries, crashes));
    }
    if let Some(states) = run_json.get("final_states") {
        merge(res, check_converged(&states_from_json(states)?));
    }
    Ok(())
}
