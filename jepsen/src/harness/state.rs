//! Reading a node's whole state and its replication figures over RESP: what a recovered or
//! replicated node holds is judged from these dumps (snapshot-prefix and convergence checks).

use crate::json::Json;
use crate::resp::{args, Client, Outcome, Resp};
use std::collections::BTreeMap;

/// Named nodes' states.
pub type NodeStates = Vec<(String, BTreeMap<String, Json>)>;

/// One command that must succeed (an error reply or a transport problem is an error here: the
/// harness, not the history, needs the answer).
pub fn must(client: &mut Client, cmd: &[&str]) -> Result<Resp, String> {
    match client.call(&args(cmd)) {
        Outcome::Reply(Resp::Error(e)) => Err(format!("{}: {e}", cmd.join(" "))),
        Outcome::Reply(r) => Ok(r),
        Outcome::Fail(e) | Outcome::Info(e) => Err(format!("{}: {e}", cmd.join(" "))),
    }
}

/// Every workload key (`j*`; preloaded filler is left out) and its value: strings as strings,
/// sets as sorted arrays, lists in order, other types as `"<type>"` (no workload writes them).
pub fn dump(client: &mut Client) -> Result<BTreeMap<String, Json>, String> {
    let keys = must(client, &["KEYS", "j*"])?;
    let mut out = BTreeMap::new();
    for k in keys.array()? {
        let key = k.bulk_str()?.ok_or("nil key from KEYS")?;
        let kind = match must(client, &["TYPE", &key])? {
            Resp::Simple(t) => t,
            other => return Err(format!("TYPE {key}: {other:?}")),
        };
        let strings = |r: &Resp| -> Result<Vec<String>, String> {
            r.array()?.iter().map(|m| m.bulk_str()?.ok_or_else(|| "nil element".to_string())).collect()
        };
        let value = match kind.as_str() {
            "none" => continue, // expired or deleted since KEYS
            "string" => match must(client, &["GET", &key])?.bulk_str()? {
                Some(v) => Json::Str(v),
                None => continue,
            },
            "set" => {
                let mut members = strings(&must(client, &["SMEMBERS", &key])?)?;
                members.sort();
                Json::Arr(members.into_iter().map(Json::Str).collect())
            }
            "list" => {
                Json::Arr(strings(&must(client, &["LRANGE", &key, "0", "-1"])?)?.into_iter().map(Json::Str).collect())
            }
            other => Json::str(format!("<{other}>")),
        };
        out.insert(key, value);
    }
    Ok(out)
}

/// The fields of one INFO section.
pub fn info(client: &mut Client, section: &str) -> Result<BTreeMap<String, String>, String> {
    let text = must(client, &["INFO", section])?.bulk_str()?.unwrap_or_default();
    Ok(text.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.to_string(), v.trim().to_string())).collect())
}

/// A numeric INFO field.
pub fn info_int(fields: &BTreeMap<String, String>, name: &str) -> Result<i64, String> {
    fields.get(name).and_then(|v| v.parse().ok()).ok_or_else(|| format!("INFO has no numeric {name}"))
}

/// How far a node's replication stream has got: a primary's `master_repl_offset`, a replica's
/// `slave_repl_offset` (what it has processed).
pub fn repl_offset(client: &mut Client) -> Result<i64, String> {
    let f = info(client, "replication")?;
    match f.get("role").map(String::as_str) {
        Some("slave") => info_int(&f, "slave_repl_offset"),
        _ => info_int(&f, "master_repl_offset"),
    }
}

/// A dump as JSON (run.json), and back.
pub fn dump_to_json(state: &BTreeMap<String, Json>) -> Json {
    Json::Obj(state.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// The inverse of `dump_to_json`.
pub fn dump_from_json(j: &Json) -> Result<BTreeMap<String, Json>, String> {
    match j {
        Json::Obj(pairs) => Ok(pairs.iter().cloned().collect()),
        other => Err(format!("a state must be an object, not {}", other.to_line())),
    }
}

/// Writes `count` filler keys (`filler:<i>`, 100-byte values) with pipelined MSETs, so that a
/// snapshot takes a while and the workload's keys lie far apart in it.
pub fn preload(client: &mut Client, count: u64) -> Result<(), String> {
    const PER_MSET: u64 = 100;
    const PER_PIPELINE: u64 = 10;
    let value = "x".repeat(100);
    let mut next = 0;
    while next < count {
        let mut cmds = Vec::new();
        while next < count && (cmds.len() as u64) < PER_PIPELINE {
            let mut cmd = vec!["MSET".to_string()];
            for i in next..(next + PER_MSET).min(count) {
                cmd.push(format!("filler:{i}"));
                cmd.push(value.clone());
            }
            next = (next + PER_MSET).min(count);
            cmds.push(cmd);
        }
        for out in client.pipeline(&cmds) {
            match out {
                Outcome::Reply(Resp::Simple(_)) => {}
                other => return Err(format!("preload MSET: {other:?}")),
            }
        }
    }
    Ok(())
}
