//! MSET / MGET atomicity: groups of keys that hash to different shards, written together by MSET
//! (every key of the group gets the same unique value) and read together by MGET. A torn write or
//! a torn read shows a mix of values no single MSET produced, and the group's history is then not
//! linearizable under a model whose state is the whole group.

use super::recovered::{self, SnapshotView};
use super::{check_linearizable, field_int, field_str, to_operations, CheckResult, Completion, Workload};
use crate::harness::rng::Rng;
use crate::harness::Op;
use crate::json::Json;
use crate::resp::{args, Client};
use mayfly_jepsen::checker::models::Keyed;
use mayfly_jepsen::checker::Model;
use std::collections::BTreeMap;
use std::time::Duration;

/// The MSET/MGET workload.
pub struct Mset;

/// Keys per group (suffixes chosen so that the group spans hash slots, hence shards).
const MEMBERS: [&str; 4] = ["a", "b", "c", "d"];
const GROUPS: u64 = 3;
const OPS_PER_WINDOW: u64 = 2000;

/// An operation on a whole group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupCmd {
    /// MSET every member to this value.
    Mset(i64),
    /// MGET every member.
    Mget,
}

/// Replies to [`GroupCmd`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupReply {
    /// MSET answered OK.
    Mset,
    /// MGET's values, one per member (nil = absent).
    Mget(Vec<Option<i64>>),
}

/// The group as one register of several cells; MSET sets all cells at once.
#[derive(Clone, Copy, Debug, Default)]
pub struct GroupModel;

impl Model for GroupModel {
    type State = Vec<Option<i64>>;
    type Input = Keyed<GroupCmd>;
    type Output = GroupReply;

    fn init(&self) -> Vec<Option<i64>> {
        vec![None; MEMBERS.len()]
    }

    fn step(
        &self,
        state: &Vec<Option<i64>>,
        input: &Keyed<GroupCmd>,
        output: Option<&GroupReply>,
    ) -> Option<Vec<Option<i64>>> {
        match (&input.cmd, output) {
            (GroupCmd::Mset(v), None | Some(GroupReply::Mset)) => Some(vec![Some(*v); MEMBERS.len()]),
            (GroupCmd::Mget, None) => Some(state.clone()),
            (GroupCmd::Mget, Some(GroupReply::Mget(vals))) => (vals == state).then(|| state.clone()),
            _ => None,
        }
    }

    fn partition_key(&self, input: &Keyed<GroupCmd>) -> Option<String> {
        Some(input.key.clone())
    }
}

fn member_keys(group: &str) -> Vec<String> {
    MEMBERS.iter().map(|m| format!("{group}:{m}")).collect()
}

impl Workload for Mset {
    fn name(&self) -> &'static str {
        "mset"
    }

    fn needs(&self) -> &'static str {
        "MSET, MGET across shards"
    }

    fn probes(&self) -> Vec<Vec<String>> {
        vec![
            args(&["MSET", "jepsen:probe:a", "1", "jepsen:probe:b", "1"]),
            args(&["MGET", "jepsen:probe:a", "jepsen:probe:b"]),
        ]
    }

    fn generate(&self, rng: &mut Rng, seq: u64, acked: u64) -> (String, Json) {
        let group = Json::str(format!("jm:{}", (acked / OPS_PER_WINDOW) * GROUPS + rng.below(GROUPS)));
        if rng.chance(50) {
            ("mset".into(), Json::obj([("key", group), ("arg", Json::Int(seq as i64))]))
        } else {
            ("mget".into(), Json::obj([("key", group)]))
        }
    }

    fn apply(&self, client: &mut Client, f: &str, input: &Json) -> Completion {
        let Ok(group) = field_str(input, "key") else {
            return Completion::fail(input, "malformed op");
        };
        let keys = member_keys(group);
        match f {
            "mset" => {
                let v = field_int(input, "arg").unwrap_or(0).to_string();
                let mut cmd = vec!["MSET".to_string()];
                for k in &keys {
                    cmd.push(k.clone());
                    cmd.push(v.clone());
                }
                Completion::from_outcome(input, client.call(&cmd), |r| match r {
                    crate::resp::Resp::Simple(s) if s == "OK" => Ok(Json::Bool(true)),
                    other => Err(format!("{other:?}")),
                })
            }
            "mget" => {
                let mut cmd = vec!["MGET".to_string()];
                cmd.extend(keys);
                Completion::from_outcome(input, client.call(&cmd), |r| {
                    let items = r.array()?;
                    if items.len() != MEMBERS.len() {
                        return Err(format!("MGET returned {} values", items.len()));
                    }
                    let mut vals = Vec::new();
                    for i in items {
                        vals.push(match i.bulk_str()? {
                            None => Json::Null,
                            Some(s) => Json::Int(s.parse().map_err(|_| format!("not an integer: {s:?}"))?),
                        });
                    }
                    Ok(Json::Arr(vals))
                })
            }
            _ => Completion::fail(input, format!("unknown f {f}")),
        }
    }

    fn is_read(&self, f: &str) -> bool {
        f == "mget"
    }

    fn snapshot_view(&self, ops: &[Op], state: &BTreeMap<String, Json>) -> Option<SnapshotView> {
        Some(recovered::mset_groups(ops, state, &MEMBERS))
    }

    fn check(&self, ops: &[Op], budget: Duration) -> CheckResult {
        let history = match to_operations(ops, |op| {
            let key = field_str(&op.input, "key")?;
            let result = op.output.get("result");
            Ok(match op.f.as_str() {
                "mset" => {
                    (Keyed::new(key, GroupCmd::Mset(field_int(&op.input, "arg")?)), result.map(|_| GroupReply::Mset))
                }
                "mget" => (
                    Keyed::new(key, GroupCmd::Mget),
                    result.and_then(Json::as_arr).map(|vals| GroupReply::Mget(vals.iter().map(Json::as_i64).collect())),
                ),
                f => return Err(format!("unknown mset f {f}")),
            })
        }) {
            Ok(h) => h,
            Err(e) => return CheckResult::malformed(e),
        };
        let (mut res, _) = check_linearizable(
            &GroupModel,
            &history,
            budget,
            |op| matches!(&op.output, Some(GroupReply::Mget(v)) if v.iter().all(Option::is_none)),
        );
        // Name the atomicity violation when a read mixed values.
        let torn = history
            .iter()
            .any(|op| matches!(&op.output, Some(GroupReply::Mget(v)) if v.windows(2).any(|w| w[0] != w[1])));
        if torn {
            res.anomalies.push("torn-read (an MGET saw values of different MSETs)".into());
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mayfly_jepsen::checker::linearizable::{check, Verdict};
    use mayfly_jepsen::history::Operation;

    #[test]
    fn torn_reads_are_not_linearizable() {
        let k = |c| Keyed::new("g", c);
        let ok = vec![
            Operation::new(0, k(GroupCmd::Mset(1)), 0, 10, GroupReply::Mset),
            Operation::new(1, k(GroupCmd::Mget), 5, 15, GroupReply::Mget(vec![None; 4])),
            Operation::new(1, k(GroupCmd::Mget), 20, 25, GroupReply::Mget(vec![Some(1); 4])),
        ];
        assert_eq!(check(&GroupModel, &ok).verdict, Verdict::Linearizable);
        let mut torn = ok.clone();
        torn[1].output = Some(GroupReply::Mget(vec![Some(1), None, None, None]));
        assert_eq!(check(&GroupModel, &torn).verdict, Verdict::NotLinearizable);
    }
}
