//! List-append transactions: MULTI, then RPUSH (append) and LRANGE 0 -1 (read) over a few keys
//! (spanning shards), then EXEC, all in one pipelined write; checked by the Elle-style checker
//! for strict serializability.

use super::{CheckResult, Completion, Validity, Workload};
use crate::harness::rng::Rng;
use crate::harness::Op;
use crate::json::Json;
use crate::resp::{args, Client, Outcome, Resp};
use mayfly_jepsen::checker::elle::{check_events, ElleOptions};
use mayfly_jepsen::checker::report;
use mayfly_jepsen::history::{EventType, MicroOp, TxnEvent};
use std::time::Duration;

/// The list-append workload.
pub struct Append;

const KEYS: u64 = 5;
const OPS_PER_WINDOW: u64 = 600;

fn redis_key(k: i64) -> String {
    format!("ja:{k}")
}

/// Reads `[["append", k, v] | ["r", k, list|null], ...]`.
fn parse_txn(j: &Json) -> Result<Vec<MicroOp>, String> {
    let mut out = Vec::new();
    for m in j.as_arr().ok_or("txn is not an array")? {
        let parts = m.as_arr().ok_or("micro-op is not an array")?;
        let (f, k, v) = match parts {
            [f, k, v] => (f.as_str(), k.as_i64().ok_or("key is not an integer")?, v),
            _ => return Err("micro-op needs 3 elements".into()),
        };
        out.push(match f {
            Some("append") => MicroOp::Append { key: k, value: v.as_i64().ok_or("append value is not an integer")? },
            Some("r") => MicroOp::Read {
                key: k,
                value: match v {
                    Json::Null => None,
                    Json::Arr(items) => {
                        Some(items.iter().map(|i| i.as_i64().ok_or("bad element")).collect::<Result<_, _>>()?)
                    }
                    _ => return Err("read value is not a list".into()),
                },
            },
            _ => return Err(format!("unknown micro-op {}", m.to_line())),
        });
    }
    Ok(out)
}

impl Workload for Append {
    fn name(&self) -> &'static str {
        "append"
    }

    fn needs(&self) -> &'static str {
        "MULTI/EXEC, RPUSH, LRANGE"
    }

    fn probes(&self) -> Vec<Vec<String>> {
        vec![
            args(&["MULTI"]),
            args(&["DISCARD"]),
            args(&["RPUSH", "jepsen:probe:list", "1"]),
            args(&["LRANGE", "jepsen:probe:list", "0", "-1"]),
            args(&["DEL", "jepsen:probe:list"]),
        ]
    }

    fn generate(&self, rng: &mut Rng, seq: u64, acked: u64) -> (String, Json) {
        let base = (acked / OPS_PER_WINDOW) * KEYS;
        let n = rng.range(1, 4);
        let mut txn = Vec::new();
        for i in 0..n {
            let k = Json::Int((base + rng.below(KEYS)) as i64);
            txn.push(if rng.chance(50) {
                Json::Arr(vec![Json::str("append"), k, Json::Int((seq * 4 + i) as i64)])
            } else {
                Json::Arr(vec![Json::str("r"), k, Json::Null])
            });
        }
        ("txn".into(), Json::obj([("txn", Json::Arr(txn))]))
    }

    fn apply(&self, client: &mut Client, _f: &str, input: &Json) -> Completion {
        let Ok(txn) = input.get("txn").ok_or("no txn".to_string()).and_then(parse_txn) else {
            return Completion::fail(input, "malformed op");
        };
        let mut cmds = vec![args(&["MULTI"])];
        for m in &txn {
            cmds.push(match m {
                MicroOp::Append { key, value } => args(&["RPUSH".to_string(), redis_key(*key), value.to_string()]),
                MicroOp::Read { key, .. } => args(&["LRANGE".to_string(), redis_key(*key), "0".into(), "-1".into()]),
            });
        }
        cmds.push(args(&["EXEC"]));
        let outs = client.pipeline(&cmds);
        let exec = outs.last().cloned().unwrap_or(Outcome::Fail("no reply".into()));
        match exec {
            Outcome::Fail(e) => Completion::fail(input, e),
            // The write of the pipeline failed part-way: EXEC, the last command, never arrived
            // whole, and a transaction without EXEC is discarded when its connection closes.
            Outcome::Info(e) if e.starts_with("write:") => Completion::fail(input, e),
            Outcome::Info(e) => Completion::info(input, e),
            Outcome::Reply(Resp::Error(e)) => Completion::fail(input, e),
            Outcome::Reply(Resp::Array(None)) => Completion::fail(input, "EXEC aborted"),
            Outcome::Reply(Resp::Array(Some(items))) if items.len() == txn.len() => {
                let mut done = Vec::new();
                for (m, r) in txn.iter().zip(&items) {
                    match (m, r) {
                        (MicroOp::Append { key, value }, Resp::Int(_)) => {
                            done.push(Json::Arr(vec![Json::str("append"), Json::Int(*key), Json::Int(*value)]))
                        }
                        (MicroOp::Read { key, .. }, Resp::Array(Some(elems))) => {
                            let mut list = Vec::new();
                            for e in elems {
                                match e.bulk_str().ok().flatten().and_then(|s| s.parse::<i64>().ok()) {
                                    Some(v) => list.push(Json::Int(v)),
                                    None => return Completion::info(input, format!("bad list element {e:?}")),
                                }
                            }
                            done.push(Json::Arr(vec![Json::str("r"), Json::Int(*key), Json::Arr(list)]))
                        }
                        // An error inside EXEC: Redis does not roll back the other commands.
                        (_, other) => return Completion::info(input, format!("inside EXEC: {other:?}")),
                    }
                }
                Completion::ok(input, Json::Arr(done))
            }
            Outcome::Reply(other) => Completion::info(input, format!("unexpected EXEC reply {other:?}")),
        }
    }

    fn check(&self, ops: &[Op], _budget: Duration) -> CheckResult {
        let mut events: Vec<(u64, TxnEvent)> = Vec::new();
        for op in ops {
            let parse = |j: &Json| j.get("txn").ok_or("no txn".to_string()).and_then(parse_txn);
            let invoke = match parse(&op.input) {
                Ok(t) => t,
                Err(e) => return CheckResult::malformed(e),
            };
            events.push((
                op.invoke_index,
                TxnEvent {
                    kind: EventType::Invoke,
                    process: Some(op.process),
                    time: Some(op.call),
                    index: Some(op.invoke_index),
                    ops: invoke.clone(),
                },
            ));
            if let Some(ci) = op.complete_index {
                let done = if op.outcome == EventType::Ok {
                    match op.output.get("result").ok_or("no result".to_string()).and_then(parse_txn) {
                        Ok(t) => t,
                        Err(e) => return CheckResult::malformed(e),
                    }
                } else {
                    invoke
                };
                events.push((
                    ci,
                    TxnEvent { kind: op.outcome, process: Some(op.process), time: op.ret, index: Some(ci), ops: done },
                ));
            }
        }
        events.sort_by_key(|(i, _)| *i);
        let events: Vec<TxnEvent> = events.into_iter().map(|(_, e)| e).collect();
        let rep = check_events(&events, &ElleOptions::default());
        let anomalies: Vec<String> = rep.anomaly_types().iter().map(|s| s.to_string()).collect();
        let validity = if rep.is_valid() {
            Validity::Valid
        } else if rep.verdicts.iter().any(|(_, v)| *v == mayfly_jepsen::checker::elle::Validity::Invalid) {
            Validity::Invalid
        } else {
            Validity::Unknown
        };
        let verdicts: Vec<String> = rep.verdicts.iter().map(|(l, v)| format!("{}: {v:?}", l.name())).collect();
        let summary = format!(
            "elle list-append: {} transactions; {}; anomalies: {}",
            rep.txns.len(),
            verdicts.join(", "),
            if anomalies.is_empty() { "none".to_string() } else { anomalies.join(", ") }
        );
        CheckResult { validity, anomalies, summary, report: report::elle_text(&rep), html: None }
    }
}
