//! Register: GET / SET / SET NX / SET XX / DEL on a few string keys at a time, checked for
//! linearizability per key. Keys rotate every few hundred operations so that each key's history
//! stays small enough to search exhaustively.

use super::recovered::{self, SnapshotView};
use super::{check_linearizable, field_int, field_str, to_operations, CheckResult, Completion, Workload};
use crate::harness::rng::Rng;
use crate::harness::Op;
use crate::json::Json;
use crate::resp::{args, Client, Resp};
use mayfly_jepsen::checker::models::{Keyed, RegisterCmd, RegisterModel, RegisterReply, SetCondition};
use std::collections::BTreeMap;
use std::time::Duration;

/// The register workload.
pub struct Register;

/// Keys live at the same time.
const KEYS: u64 = 5;
/// Operations (run-wide) before the key window moves on.
const OPS_PER_WINDOW: u64 = 2000;

impl Workload for Register {
    fn name(&self) -> &'static str {
        "register"
    }

    fn needs(&self) -> &'static str {
        "GET, SET (NX/XX), DEL"
    }

    fn probes(&self) -> Vec<Vec<String>> {
        vec![args(&["SET", "jepsen:probe", "1", "NX"]), args(&["GET", "jepsen:probe"]), args(&["DEL", "jepsen:probe"])]
    }

    fn generate(&self, rng: &mut Rng, seq: u64, acked: u64) -> (String, Json) {
        let key = format!("jr:{}", (acked / OPS_PER_WINDOW) * KEYS + rng.below(KEYS));
        let f = match rng.below(100) {
            0..=39 => "get",
            40..=69 => "set",
            70..=79 => "setnx",
            80..=89 => "setxx",
            _ => "del",
        };
        let mut pairs = vec![("key", Json::str(key))];
        if f.starts_with("set") {
            pairs.push(("arg", Json::str(seq.to_string())));
        }
        (f.to_string(), Json::obj(pairs))
    }

    fn apply(&self, client: &mut Client, f: &str, input: &Json) -> Completion {
        let Ok(key) = field_str(input, "key") else {
            return Completion::fail(input, "malformed op");
        };
        let arg = field_str(input, "arg").unwrap_or_default();
        let cmd = match f {
            "get" => args(&["GET", key]),
            "set" => args(&["SET", key, arg]),
            "setnx" => args(&["SET", key, arg, "NX"]),
            "setxx" => args(&["SET", key, arg, "XX"]),
            "del" => args(&["DEL", key]),
            _ => return Completion::fail(input, format!("unknown f {f}")),
        };
        let out = client.call(&cmd);
        Completion::from_outcome(input, out, |r| match (f, r) {
            ("get", _) => r.bulk_str().map(|v| v.map_or(Json::Null, Json::Str)),
            ("set" | "setnx" | "setxx", Resp::Simple(s)) if s == "OK" => Ok(Json::Bool(true)),
            ("setnx" | "setxx", Resp::Bulk(None)) => Ok(Json::Bool(false)),
            ("del", Resp::Int(n)) if (0..=1).contains(n) => Ok(Json::Int(*n)),
            _ => Err(format!("{r:?}")),
        })
    }

    fn is_read(&self, f: &str) -> bool {
        f == "get"
    }

    fn snapshot_view(&self, ops: &[Op], state: &BTreeMap<String, Json>) -> Option<SnapshotView> {
        Some(recovered::register(ops, state))
    }

    fn check(&self, ops: &[Op], budget: Duration) -> CheckResult {
        let history = match to_operations(ops, convert) {
            Ok(h) => h,
            Err(e) => return CheckResult::malformed(e),
        };
        // A key found absent (GET nil, DEL 0, SET XX refused, SET NX accepted) where the model says it holds a value is what a
        // restart without persistence looks like: reported as data loss.
        let (res, _) = check_linearizable(&RegisterModel, &history, budget, |op| {
            matches!(
                (&op.input.cmd, &op.output),
                (_, Some(RegisterReply::Get(None) | RegisterReply::Del(0)))
                    | (RegisterCmd::Set(_, SetCondition::Xx), Some(RegisterReply::Set(false)))
                    | (RegisterCmd::Set(_, SetCondition::Nx), Some(RegisterReply::Set(true)))
            )
        });
        res
    }
}

fn convert(op: &Op) -> Result<(Keyed<RegisterCmd>, Option<RegisterReply>), String> {
    let key = field_str(&op.input, "key")?;
    let arg = || field_str(&op.input, "arg").map(str::to_string);
    let result = op.output.get("result");
    let (cmd, out) = match op.f.as_str() {
        "get" => (RegisterCmd::Get, result.map(|r| RegisterReply::Get(r.as_str().map(str::to_string)))),
        "set" | "setnx" | "setxx" => {
            let cond = match op.f.as_str() {
                "set" => SetCondition::Always,
                "setnx" => SetCondition::Nx,
                _ => SetCondition::Xx,
            };
            (RegisterCmd::Set(arg()?, cond), result.and_then(Json::as_bool).map(RegisterReply::Set))
        }
        "del" => (
            RegisterCmd::Del,
            result.map(|_| field_int(&op.output, "result")).transpose()?.map(|n| RegisterReply::Del(n as u64)),
        ),
        f => return Err(format!("unknown register f {f}")),
    };
    Ok((Keyed::new(key, cmd), out))
}
