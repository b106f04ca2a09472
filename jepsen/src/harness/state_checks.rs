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
        // The lifetime began at the last restart before BGSAVE (every earlier one was flushed).
        // Not "before the kill": the log has millisecond times, so this kill's own restart can
        // carry the same millisecond as the kill.
        let born = crashes.iter().map(|c| c.restart).filter(|&t| t < r.save_ns).max().unwrap_or(0);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads;
    use mayfly_jepsen::history::EventType;
    use std::collections::BTreeMap;

    const MS: u64 = 1_000_000;

    fn op(f: &str, input: Json, outcome: EventType, call_ms: u64, ret_ms: Option<u64>, result: Json) -> Op {
        let mut output = input.clone();
        if let Json::Obj(p) = &mut output {
            p.push(("result".into(), result));
        }
        Op {
            process: 0,
            f: f.into(),
            outcome,
            input,
            output,
            call: call_ms * MS,
            ret: ret_ms.map(|t| t * MS),
            invoke_index: 0,
            complete_index: None,
        }
    }

    fn add(key: &str, e: i64, outcome: EventType, call: u64, ret: Option<u64>) -> Op {
        op("add", Json::obj([("key", Json::str(key)), ("arg", Json::Int(e))]), outcome, call, ret, Json::Int(1))
    }

    fn state(pairs: &[(&str, Json)]) -> BTreeMap<String, Json> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    fn members(ms: &[&str]) -> Json {
        Json::Arr(ms.iter().map(|m| Json::str(*m)).collect())
    }

    fn check(w: &str, ops: &[Op], st: BTreeMap<String, Json>, crashes: &[Crash]) -> CheckResult {
        let rec = Recovery { node: "n1".into(), save_ns: 100 * MS, kill_ns: 300 * MS, state: st };
        check_recoveries(workloads::by_name(w).unwrap().as_ref(), ops, &[rec], crashes)
    }

    #[test]
    fn set_recovery_must_hold_every_add_acknowledged_before_bgsave() {
        let ops = vec![
            add("js:0", 1, EventType::Ok, 10, Some(20)),   // before BGSAVE: required
            add("js:0", 2, EventType::Ok, 150, Some(160)), // after: may be lost
            add("js:0", 3, EventType::Info, 50, None),     // unknown
            add("js:0", 4, EventType::Fail, 60, Some(61)), // never happened
        ];
        assert_eq!(check("set", &ops, state(&[("js:0", members(&["1"]))]), &[]).validity, Validity::Valid);
        assert_eq!(check("set", &ops, state(&[("js:0", members(&["1", "2", "3"]))]), &[]).validity, Validity::Valid);
        let lost = check("set", &ops, state(&[("js:0", members(&["2"]))]), &[]);
        assert_eq!(lost.validity, Validity::Invalid);
        assert_eq!(lost.anomalies, vec!["snapshot-not-a-cut".to_string()]);
        assert!(lost.report.contains("js:0#1: absent"), "{}", lost.report);
        let invented = check("set", &ops, state(&[("js:0", members(&["1", "4"]))]), &[]);
        assert_eq!(invented.validity, Validity::Invalid, "{}", invented.report);
        // Writes of an earlier lifetime (before the last restart) are not judged.
        let crashes = [Crash { kill: 30 * MS, restart: 40 * MS }];
        assert_eq!(check("set", &ops, state(&[("js:0", members(&["2"]))]), &crashes).validity, Validity::Valid);
        // This kill's own restart, logged in the same millisecond as the kill, does not hide
        // the lifetime's writes.
        let own = [Crash { kill: 299 * MS, restart: 299 * MS }];
        assert_eq!(check("set", &ops, state(&[("js:0", members(&["1"]))]), &own).validity, Validity::Valid);
        assert_eq!(check("set", &ops, state(&[("js:0", members(&["2"]))]), &own).validity, Validity::Invalid);
    }

    #[test]
    fn register_recovery_must_be_a_real_time_cut() {
        let set = |k: &str, v: &str, call, ret| {
            op(
                "set",
                Json::obj([("key", Json::str(k)), ("arg", Json::str(v))]),
                EventType::Ok,
                call,
                Some(ret),
                Json::Bool(true),
            )
        };
        let ops = vec![set("jr:x", "1", 10, 20), set("jr:x", "2", 150, 160), set("jr:y", "3", 170, 180)];
        let ok = check("register", &ops, state(&[("jr:x", Json::str("2"))]), &[]);
        assert_eq!(ok.validity, Validity::Valid, "{}", ok.report);
        // y=3 was invoked after x=2 returned: a cut holding y=3 holds x=2.
        let torn = check("register", &ops, state(&[("jr:x", Json::str("1")), ("jr:y", Json::str("3"))]), &[]);
        assert_eq!(torn.validity, Validity::Invalid, "{}", torn.report);
    }

    #[test]
    fn mset_groups_are_all_or_nothing() {
        let mset = |v: i64| {
            op(
                "mset",
                Json::obj([("key", Json::str("jm:0")), ("arg", Json::Int(v))]),
                EventType::Ok,
                10,
                Some(20),
                Json::Bool(true),
            )
        };
        let ops = vec![mset(5), mset(6)];
        let whole = state(&[
            ("jm:0:a", Json::str("5")),
            ("jm:0:b", Json::str("5")),
            ("jm:0:c", Json::str("5")),
            ("jm:0:d", Json::str("5")),
        ]);
        assert_eq!(check("mset", &ops, whole.clone(), &[]).validity, Validity::Valid);
        let mut torn = whole;
        torn.insert("jm:0:c".into(), Json::str("6"));
        let r = check("mset", &ops, torn, &[]);
        assert_eq!(r.validity, Validity::Invalid);
        assert!(r.anomalies.contains(&"torn-snapshot".to_string()), "{:?}", r.anomalies);
    }

    #[test]
    fn convergence_names_the_divergent_keys() {
        let a = state(&[("k", Json::str("1"))]);
        let b = state(&[("k", Json::str("2"))]);
        assert_eq!(
            check_converged(&vec![("n1".into(), a.clone()), ("n2".into(), a.clone())]).validity,
            Validity::Valid
        );
        let r = check_converged(&vec![("n1".into(), a), ("n2".into(), b)]);
        assert_eq!(r.validity, Validity::Invalid);
        assert_eq!(r.anomalies, vec!["divergent".to_string()]);
        assert!(r.report.contains("k: n1=\"1\" n2=\"2\""), "{}", r.report);
        let back = states_from_json(&states_to_json(&vec![("n1".into(), state(&[("s", members(&["a"]))]))])).unwrap();
        assert_eq!(back[0].1["s"], members(&["a"]));
    }
}
