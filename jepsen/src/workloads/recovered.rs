//! How a workload's history and a recovered state become the snapshot-prefix checker's input:
//! writes with unique values per key, and the value each key was found with. Multi-key writes
//! become one key per group so that a cut must take them whole (a group found with mixed values
//! is torn).

use super::{field_int, field_str};
use crate::harness::Op;
use crate::json::Json;
use mayfly_jepsen::checker::snapshot_prefix::{Write, WriteOp};
use mayfly_jepsen::history::EventType;
use std::collections::BTreeMap;

/// The checker's view of one recovery.
#[derive(Debug, Default)]
pub struct SnapshotView {
    /// Every write of the lifetime that ended in the kill.
    pub writes: Vec<Write<String, String>>,
    /// What each (possibly synthetic) key was recovered with.
    pub recovered: BTreeMap<String, String>,
    /// Groups found with values no single write produced together.
    pub torn: Vec<String>,
}

/// A write whose effect is known from its reply: `applied` false (SET NX refused, DEL of nothing)
/// changes nothing, which is the same as a write that failed.
pub fn write(op: &Op, key: String, w: WriteOp<String>, applied: bool) -> Write<String, String> {
    let outcome = if op.outcome == EventType::Ok && !applied { EventType::Fail } else { op.outcome };
    Write { key, op: w, call: op.call, ret: op.ret, outcome }
}

/// Register: SET / SET NX / SET XX / DEL of `jr:*` string keys.
pub fn register(ops: &[Op], state: &BTreeMap<String, Json>) -> SnapshotView {
    let mut v = SnapshotView::default();
    for op in ops {
        let Ok(key) = field_str(&op.input, "key") else { continue };
        let result = op.output.get("result");
        let (w, applied) = match op.f.as_str() {
            "set" | "setnx" | "setxx" => {
                let Ok(arg) = field_str(&op.input, "arg") else { continue };
                (WriteOp::Set(arg.to_string()), result.and_then(Json::as_bool) != Some(false))
            }
            "del" => (WriteOp::Del, result.and_then(Json::as_i64) != Some(0)),
            _ => continue,
        };
        v.writes.push(write(op, key.to_string(), w, applied));
    }
    for (k, val) in state {
        if let (true, Some(s)) = (k.starts_with("jr:"), val.as_str()) {
            v.recovered.insert(k.clone(), s.to_string());
        }
    }
    v
}

/// Set: each SADD of a unique element is a SET of the key `<set>#<element>`; a member found is
/// that key recovered, an element absent is that key absent (and nothing ever deletes one).
pub fn set(ops: &[Op], state: &BTreeMap<String, Json>) -> SnapshotView {
    let mut v = SnapshotView::default();
    for op in ops.iter().filter(|o| o.f == "add") {
        let (Ok(key), Ok(e)) = (field_str(&op.input, "key"), field_int(&op.input, "arg")) else { continue };
        v.writes.push(write(op, format!("{key}#{e}"), WriteOp::Set("1".into()), true));
    }
    for (k, val) in state.iter().filter(|(k, _)| k.starts_with("js:")) {
        for m in val.as_arr().unwrap_or(&[]) {
            if let Some(m) = m.as_str() {
                v.recovered.insert(format!("{k}#{m}"), "1".into());
            }
        }
    }
    v
}

/// MSET groups: one MSET writes the group key `jm:<n>` with its value; a group is recovered with
/// a value only if all its members hold that same value, absent if none exists, torn otherwise.
pub fn mset_groups(ops: &[Op], state: &BTreeMap<String, Json>, members: &[&str]) -> SnapshotView {
    let mut v = SnapshotView::default();
    for op in ops.iter().filter(|o| o.f == "mset") {
        let (Ok(key), Ok(arg)) = (field_str(&op.input, "key"), field_int(&op.input, "arg")) else { continue };
        v.writes.push(write(op, key.to_string(), WriteOp::Set(arg.to_string()), true));
    }
    let mut groups: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    for (k, val) in state.iter().filter(|(k, _)| k.starts_with("jm:")) {
        let Some((group, member)) = k.rsplit_once(':') else { continue };
        let Some(i) = members.iter().position(|m| *m == member) else { continue };
        let slots = groups.entry(group.to_string()).or_insert_with(|| vec![None; members.len()]);
        slots[i] = val.as_str().map(str::to_string);
    }
    for (group, slots) in groups {
        match slots.first().cloned().flatten() {
            Some(first) if slots.iter().all(|s| s.as_deref() == Some(first.as_str())) => {
                v.recovered.insert(group, first);
            }
            _ => v.torn.push(format!("{group} = {slots:?}")),
        }
    }
    v
}
