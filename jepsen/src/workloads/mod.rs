//! Workloads: what clients do, and how a history of it is checked.
//!
//! Each workload generates operations from a seeded RNG, applies them through the classifying
//! RESP client, and turns a stored history back into the checker library's types.

pub mod append;
pub mod counter;
pub mod mset;
pub mod recovered;
pub mod register;
pub mod set;

use crate::harness::rng::Rng;
use crate::harness::Op;
use crate::json::Json;
use crate::resp::{Client, Outcome, Resp};
use mayfly_jepsen::checker::linearizable::{self, LinearizabilityResult, Options};
use mayfly_jepsen::checker::report;
use mayfly_jepsen::checker::Model;
use mayfly_jepsen::history::{EventType, Operation};
use std::collections::BTreeMap;
use std::time::Duration;

/// A verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    Valid,
    Invalid,
    /// A checker ran out of budget, or the history cannot be judged (e.g. no final read).
    Unknown,
}

impl Validity {
    /// Upper-case name for the console.
    pub fn name(self) -> &'static str {
        match self {
            Validity::Valid => "VALID",
            Validity::Invalid => "INVALID",
            Validity::Unknown => "UNKNOWN",
        }
    }

    /// The worse of two verdicts (Invalid beats Unknown beats Valid).
    pub fn and(self, other: Validity) -> Validity {
        use Validity::*;
        match (self, other) {
            (Invalid, _) | (_, Invalid) => Invalid,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => Valid,
        }
    }
}

/// What a check found.
#[derive(Clone, Debug)]
pub struct CheckResult {
    /// The verdict.
    pub validity: Validity,
    /// Named findings (not-linearizable, data-loss, lost, G-single, ...).
    pub anomalies: Vec<String>,
    /// A paragraph for the console.
    pub summary: String,
    /// The full text report (results.txt).
    pub report: String,
    /// An HTML timeline, when a linearizability check failed.
    pub html: Option<String>,
}

impl CheckResult {
    /// The history could not be read as this workload's.
    pub fn malformed(why: String) -> CheckResult {
        CheckResult {
            validity: Validity::Unknown,
            anomalies: vec!["malformed-history".into()],
            summary: format!("malformed history: {why}"),
            report: why,
            html: None,
        }
    }
}

/// What an operation's completion looks like.
pub struct Completion {
    /// Ok, Fail or Info.
    pub kind: EventType,
    /// For `Ok`: the input plus a `result` field.
    pub value: Json,
    /// For Fail and Info: why.
    pub error: Option<String>,
}

impl Completion {
    /// Ok with `result` added to the input object.
    pub fn ok(input: &Json, result: Json) -> Completion {
        let mut pairs = match input {
            Json::Obj(p) => p.clone(),
            other => vec![("arg".to_string(), other.clone())],
        };
        pairs.push(("result".to_string(), result));
        Completion { kind: EventType::Ok, value: Json::Obj(pairs), error: None }
    }

    /// Definitely did not happen.
    pub fn fail(input: &Json, why: impl Into<String>) -> Completion {
        Completion { kind: EventType::Fail, value: input.clone(), error: Some(why.into()) }
    }

    /// May or may not have happened.
    pub fn info(input: &Json, why: impl Into<String>) -> Completion {
        Completion { kind: EventType::Info, value: input.clone(), error: Some(why.into()) }
    }

    /// Classifies a single command's outcome, with `parse` turning a non-error reply into the
    /// result. An error reply means the command was rejected (Redis executes nothing for a
    /// command it answers with an error); a reply `parse` cannot make sense of is indeterminate.
    pub fn from_outcome(input: &Json, out: Outcome, parse: impl FnOnce(&Resp) -> Result<Json, String>) -> Completion {
        match out {
            Outcome::Reply(Resp::Error(e)) => Completion::fail(input, e),
            Outcome::Reply(r) => match parse(&r) {
                Ok(v) => Completion::ok(input, v),
                Err(e) => Completion::info(input, format!("unexpected reply: {e}")),
            },
            Outcome::Fail(e) => Completion::fail(input, e),
            Outcome::Info(e) => Completion::info(input, e),
        }
    }
}

/// A workload.
pub trait Workload: Send + Sync {
    /// Its name on the command line.
    fn name(&self) -> &'static str;
    /// The server features it needs, for the skip message.
    fn needs(&self) -> &'static str;
    /// Commands that must not be answered "unknown command" (run once before the test).
    fn probes(&self) -> Vec<Vec<String>>;
    /// The next operation: its function and arguments. `seq` is unique across the run (used for
    /// unique values); `acked` counts the run's acknowledged operations so far, for rotating keys
    /// (not `seq`: while a node is down, failed operations would rotate the keys away from
    /// everything written before the crash, and a lost write could never be read).
    fn generate(&self, rng: &mut Rng, seq: u64, acked: u64) -> (String, Json);
    /// Runs an operation.
    fn apply(&self, client: &mut Client, f: &str, input: &Json) -> Completion;
    /// Operations to run once, after every fault has healed (e.g. final reads).
    fn final_ops(&self, _history: &[Op]) -> Vec<(String, Json)> {
        Vec::new()
    }
    /// Checks a history.
    fn check(&self, ops: &[Op], budget: Duration) -> CheckResult;
    /// Whether `f` only reads (`--read-from replicas` sends such operations to a replica).
    fn is_read(&self, _f: &str) -> bool {
        false
    }
    /// The snapshot-prefix checker's view of the writes `ops` and a recovered state, if this
    /// workload's values make one (unique values per key).
    fn snapshot_view(&self, _ops: &[Op], _state: &BTreeMap<String, Json>) -> Option<recovered::SnapshotView> {
        None
    }
}

/// All workloads, by name.
pub fn by_name(name: &str) -> Option<Box<dyn Workload>> {
    Some(match name {
        "register" => Box::new(register::Register),
        "counter" => Box::new(counter::Counter),
        "set" => Box::new(set::SetWorkload),
        "append" | "list-append" => Box::new(append::Append),
        "mset" | "mset-mget" => Box::new(mset::Mset),
        _ => return None,
    })
}

/// The names `by_name` knows.
pub const NAMES: &[&str] = &["register", "counter", "set", "append", "mset"];

/// A string field of an op's input or output.
pub fn field_str<'a>(j: &'a Json, k: &str) -> Result<&'a str, String> {
    j.get(k).and_then(Json::as_str).ok_or_else(|| format!("missing string field {k} in {}", j.to_line()))
}

/// An integer field.
pub fn field_int(j: &Json, k: &str) -> Result<i64, String> {
    j.get(k).and_then(Json::as_i64).ok_or_else(|| format!("missing integer field {k} in {}", j.to_line()))
}

/// Turns harness ops into checker operations: failed ops are dropped (they did not happen), `info`
/// ops stay open to the end with an unknown output. `convert` gives (input, output-if-ok).
pub fn to_operations<I, O>(
    ops: &[Op],
    mut convert: impl FnMut(&Op) -> Result<(I, Option<O>), String>,
) -> Result<Vec<Operation<I, O>>, String> {
    let mut out = Vec::new();
    for op in ops {
        if op.outcome == EventType::Fail {
            continue;
        }
        let (input, output) = convert(op)?;
        match (op.outcome, output, op.ret) {
            (EventType::Ok, Some(o), Some(ret)) => out.push(Operation::new(op.process, input, op.call, ret, o)),
            _ => out.push(Operation::crashed(op.process, input, op.call)),
        }
    }
    Ok(out)
}

/// Runs the linearizability checker and renders its verdict; `data_loss` says whether an
/// operation that could not be placed is a read that lost acknowledged data.
pub fn check_linearizable<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    budget: Duration,
    data_loss: impl Fn(&Operation<M::Input, M::Output>) -> bool,
) -> (CheckResult, LinearizabilityResult) {
    let options = Options { max_steps: None, timeout: Some(budget), stop_on_first_failure: false };
    let result = linearizable::check_with(model, history, &options);
    let text = report::linearizability_text(model, history, &result);
    let failed: Vec<_> =
        result.partitions.iter().filter(|p| p.verdict == linearizable::Verdict::NotLinearizable).collect();
    let mut anomalies = Vec::new();
    let validity = match result.verdict {
        linearizable::Verdict::Linearizable => Validity::Valid,
        linearizable::Verdict::Unknown => Validity::Unknown,
        linearizable::Verdict::NotLinearizable => {
            anomalies.push("not-linearizable".to_string());
            if failed.iter().any(|p| p.stuck.iter().any(|&i| data_loss(&history[i]))) {
                anomalies.push("data-loss".to_string());
            }
            Validity::Invalid
        }
    };
    let keys: Vec<String> = failed.iter().take(5).map(|p| p.key.clone().unwrap_or_default()).collect();
    let summary = format!(
        "linearizability: {:?} over {} operations in {} keys ({} search steps){}",
        result.verdict,
        history.len(),
        result.partitions.len(),
        result.steps,
        if failed.is_empty() {
            String::new()
        } else {
            format!("; {} keys not linearizable, e.g. {}", failed.len(), keys.join(", "))
        }
    );
    let html = (validity == Validity::Invalid).then(|| report::linearizability_html(model, history, &result));
    (CheckResult { validity, anomalies, summary, report: text, html }, result)
}

/// Counts of outcomes, for the summary.
pub fn outcome_counts(ops: &[Op]) -> (usize, usize, usize) {
    let n = |k| ops.iter().filter(|o| o.outcome == k).count();
    (n(EventType::Ok), n(EventType::Fail), n(EventType::Info))
}
