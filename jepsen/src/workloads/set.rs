//! Set: SADD of unique elements to a few keys, occasional SMEMBERS, and one final SMEMBERS per
//! key once every fault has healed; Jepsen's set checker then says what was lost (acknowledged
//! but absent: data loss), unexpected, or recovered (indeterminate but present).

use super::recovered::{self, SnapshotView};
use super::{field_int, field_str, CheckResult, Completion, Validity, Workload};
use crate::harness::rng::Rng;
use crate::harness::Op;
use crate::json::Json;
use crate::resp::{args, Client};
use mayfly_jepsen::checker::set::{check_set, SetAdd};
use mayfly_jepsen::history::EventType;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The set workload.
pub struct SetWorkload;

const KEYS: u64 = 4;

fn read_members(client: &mut Client, input: &Json, key: &str) -> Completion {
    Completion::from_outcome(input, client.call(&args(&["SMEMBERS", key])), |r| {
        let mut out = Vec::new();
        for m in r.array()? {
            let s = m.bulk_str()?.ok_or("nil member")?;
            out.push(Json::Int(s.parse().map_err(|_| format!("not an integer: {s:?}"))?));
        }
        Ok(Json::Arr(out))
    })
}

impl Workload for SetWorkload {
    fn name(&self) -> &'static str {
        "set"
    }

    fn needs(&self) -> &'static str {
        "SADD, SMEMBERS (sets)"
    }

    fn probes(&self) -> Vec<Vec<String>> {
        vec![
            args(&["SADD", "jepsen:probe:set", "1"]),
            args(&["SMEMBERS", "jepsen:probe:set"]),
            args(&["DEL", "jepsen:probe:set"]),
        ]
    }

    fn generate(&self, rng: &mut Rng, seq: u64, _acked: u64) -> (String, Json) {
        let key = Json::str(format!("js:{}", rng.below(KEYS)));
        if rng.chance(95) {
            ("add".into(), Json::obj([("key", key), ("arg", Json::Int(seq as i64))]))
        } else {
            ("read".into(), Json::obj([("key", key)]))
        }
    }

    fn apply(&self, client: &mut Client, f: &str, input: &Json) -> Completion {
        let Ok(key) = field_str(input, "key") else {
            return Completion::fail(input, "malformed op");
        };
        match f {
            "add" => {
                let v = field_int(input, "arg").unwrap_or(0).to_string();
                Completion::from_outcome(input, client.call(&args(&["SADD", key, &v])), |r| r.int().map(Json::Int))
            }
            "read" | "final-read" => read_members(client, input, key),
            _ => Completion::fail(input, format!("unknown f {f}")),
        }
    }

    fn final_ops(&self, _history: &[Op]) -> Vec<(String, Json)> {
        (0..KEYS).map(|k| ("final-read".to_string(), Json::obj([("key", Json::str(format!("js:{k}")))]))).collect()
    }

    fn is_read(&self, f: &str) -> bool {
        f == "read"
    }

    fn snapshot_view(&self, ops: &[Op], state: &BTreeMap<String, Json>) -> Option<SnapshotView> {
        Some(recovered::set(ops, state))
    }

    fn check(&self, ops: &[Op], _budget: Duration) -> CheckResult {
        let mut adds: BTreeMap<String, Vec<SetAdd<i64>>> = BTreeMap::new();
        let mut finals: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for op in ops {
            let Ok(key) = field_str(&op.input, "key") else { continue };
            match op.f.as_str() {
                "add" => adds
                    .entry(key.to_string())
                    .or_default()
                    .push(SetAdd { element: field_int(&op.input, "arg").unwrap_or(-1), outcome: op.outcome }),
                "final-read" if op.outcome == EventType::Ok => {
                    let vals = op.output.get("result").and_then(Json::as_arr).unwrap_or(&[]);
                    finals.insert(key.to_string(), vals.iter().filter_map(Json::as_i64).collect());
                }
                _ => {}
            }
        }
        if !ops.iter().any(|o| o.f == "final-read") {
            // A process lifetime that ended in a crash (durability none): its adds are gone by
            // design and there is nothing to compare them with.
            let summary = format!("set: no final read in this history ({} adds); nothing to judge", ops.len());
            return CheckResult {
                validity: Validity::Valid,
                anomalies: vec![],
                summary: summary.clone(),
                report: summary,
                html: None,
            };
        }
        let mut validity = Validity::Valid;
        let mut anomalies = Vec::new();
        let mut text = String::new();
        for (key, a) in &adds {
            let Some(fin) = finals.get(key) else {
                validity = validity.and(Validity::Unknown);
                let _ = writeln!(text, "{key}: no final read completed; cannot judge");
                continue;
            };
            let r = check_set(a, fin);
            let _ = writeln!(
                text,
                "{key}: {} acknowledged present, {} lost, {} unexpected, {} recovered, {} indeterminate and absent",
                r.ok.len(),
                r.lost.len(),
                r.unexpected.len(),
                r.recovered.len(),
                r.not_recovered.len()
            );
            let sample = |s: &std::collections::BTreeSet<i64>| {
                s.iter().take(10).map(ToString::to_string).collect::<Vec<_>>().join(" ")
            };
            if !r.lost.is_empty() {
                let _ = writeln!(text, "  lost (e.g.): {}", sample(&r.lost));
                if !anomalies.iter().any(|x| x == "data-loss") {
                    anomalies.push("data-loss".to_string());
                }
            }
            if !r.unexpected.is_empty() {
                let _ = writeln!(text, "  unexpected (e.g.): {}", sample(&r.unexpected));
                anomalies.push("unexpected".to_string());
            }
            if !r.valid {
                validity = Validity::Invalid;
            }
        }
        let summary = format!("set: {}", text.trim_end().replace('\n', "\n     "));
        CheckResult { validity, anomalies, summary, report: text, html: None }
    }
}
