//! Counter: INCRBY with small positive deltas and GET on two keys, checked twice: every read
//! within the bounds of the increments (Jepsen's counter checker), and the whole history
//! linearizable (INCRBY's reply pins the value, so this is much stronger).

use super::{check_linearizable, field_int, field_str, to_operations, CheckResult, Completion, Validity, Workload};
use crate::harness::rng::Rng;
use crate::harness::Op;
use crate::json::Json;
use crate::resp::{args, Client};
use mayfly_jepsen::checker::counter::{check_counter, CounterRead, Increment};
use mayfly_jepsen::checker::models::{CounterCmd, CounterModel, CounterReply, Keyed};
use mayfly_jepsen::history::EventType;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The counter workload.
pub struct Counter;

const KEYS: u64 = 2;

fn parse_int_bulk(s: &str) -> Result<i64, String> {
    s.parse().map_err(|_| format!("not an integer: {s:?}"))
}

impl Workload for Counter {
    fn name(&self) -> &'static str {
        "counter"
    }

    fn needs(&self) -> &'static str {
        "INCRBY, GET"
    }

    fn probes(&self) -> Vec<Vec<String>> {
        vec![args(&["INCRBY", "jepsen:probe", "1"]), args(&["GET", "jepsen:probe"]), args(&["DEL", "jepsen:probe"])]
    }

    fn generate(&self, rng: &mut Rng, _seq: u64, _acked: u64) -> (String, Json) {
        let key = Json::str(format!("jc:{}", rng.below(KEYS)));
        if rng.chance(60) {
            ("incr".into(), Json::obj([("key", key), ("arg", Json::Int(rng.range(1, 5) as i64))]))
        } else {
            ("read".into(), Json::obj([("key", key)]))
        }
    }

    fn apply(&self, client: &mut Client, f: &str, input: &Json) -> Completion {
        let (Ok(key), delta) = (field_str(input, "key"), field_int(input, "arg").unwrap_or(0)) else {
            return Completion::fail(input, "malformed op");
        };
        match f {
            "incr" => {
                let out = client.call(&args(&["INCRBY", key, &delta.to_string()]));
                Completion::from_outcome(input, out, |r| r.int().map(Json::Int))
            }
            "read" => {
                let out = client.call(&args(&["GET", key]));
                Completion::from_outcome(input, out, |r| match r.bulk_str()? {
                    None => Ok(Json::Null),
                    Some(s) => parse_int_bulk(&s).map(Json::Int),
                })
            }
            _ => Completion::fail(input, format!("unknown f {f}")),
        }
    }

    fn is_read(&self, f: &str) -> bool {
        f == "read"
    }

    fn check(&self, ops: &[Op], budget: Duration) -> CheckResult {
        let history = match to_operations(ops, |op| {
            let key = field_str(&op.input, "key")?;
            let result = op.output.get("result");
            Ok(match op.f.as_str() {
                "incr" => (
                    Keyed::new(key, CounterCmd::IncrBy(field_int(&op.input, "arg")?)),
                    result.and_then(Json::as_i64).map(CounterReply::IncrBy),
                ),
                "read" => (Keyed::new(key, CounterCmd::Get), result.map(|r| CounterReply::Get(r.as_i64()))),
                f => return Err(format!("unknown counter f {f}")),
            })
        }) {
            Ok(h) => h,
            Err(e) => return CheckResult::malformed(e),
        };
        let (mut res, _) = check_linearizable(&CounterModel, &history, budget, |op| {
            matches!(op.output, Some(CounterReply::Get(None)))
                || matches!((&op.input.cmd, &op.output), (CounterCmd::IncrBy(d), Some(CounterReply::IncrBy(v))) if v == d)
        });

        // Bounds, per key.
        let mut per_key: BTreeMap<String, (Vec<Increment>, Vec<CounterRead>)> = BTreeMap::new();
        for op in ops {
            let Ok(key) = field_str(&op.input, "key") else { continue };
            let entry = per_key.entry(key.to_string()).or_default();
            match op.f.as_str() {
                "incr" => entry.0.push(Increment {
                    delta: field_int(&op.input, "arg").unwrap_or(0),
                    call: op.call,
                    ret: op.ret,
                    outcome: op.outcome,
                }),
                "read" if op.outcome == EventType::Ok => {
                    let value = op.output.get("result").and_then(Json::as_i64).unwrap_or(0);
                    entry.1.push(CounterRead { call: op.call, ret: op.ret.unwrap_or(op.call), value });
                }
                _ => {}
            }
        }
        let mut bounds = String::new();
        let mut below = false;
        let mut bad = 0;
        for (key, (incs, reads)) in &per_key {
            let r = check_counter(0, incs, reads);
            let _ = writeln!(bounds, "counter bounds {key}: {} reads, {} out of bounds", reads.len(), r.errors.len());
            for e in r.errors.iter().take(5) {
                let _ = writeln!(bounds, "  read #{} = {} not in [{}, {}]", e.read, e.value, e.lower, e.upper);
                below |= e.value < e.lower;
            }
            bad += r.errors.len();
        }
        if bad > 0 {
            res.validity = res.validity.and(Validity::Invalid);
            res.anomalies.push("counter-out-of-bounds".into());
            if below && !res.anomalies.iter().any(|a| a == "data-loss") {
                res.anomalies.push("data-loss".into());
            }
        }
        res.summary = format!("{}\n{}", res.summary, bounds.trim_end());
        res.report = format!("{bounds}\n{}", res.report);
        res
    }
}
