//! The real-process harness: nodes, the history recorder, the run loop and the stored results.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // real-process test tooling: clocks

pub mod epochs;
pub mod node;
pub mod rng;
pub mod run;
pub mod state;
pub mod state_checks;
pub mod topology;
pub mod worker;

use crate::json::Json;
use mayfly_jepsen::history::EventType;
use std::sync::Mutex;
use std::time::Instant;

/// One line of a stored history (Jepsen's shape: invocations and completions, in real-time order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Position in the history.
    pub index: u64,
    /// invoke / ok / fail / info.
    pub kind: EventType,
    /// The logical process; a process whose operation ended `info` is retired and its worker
    /// continues under a new number, so every process has at most one open operation.
    pub process: u64,
    /// Nanoseconds since the start of the run.
    pub time: u64,
    /// The operation's function (get, set, incr, txn, ...).
    pub f: String,
    /// The operation's arguments, and in an `ok` completion its result.
    pub value: Json,
    /// Why an operation failed or is indeterminate.
    pub error: Option<String>,
}

/// The name of an event type in a history file.
pub fn kind_name(k: EventType) -> &'static str {
    match k {
        EventType::Invoke => "invoke",
        EventType::Ok => "ok",
        EventType::Fail => "fail",
        EventType::Info => "info",
    }
}

impl Event {
    /// One JSON line.
    pub fn to_json(&self) -> Json {
        let mut pairs = vec![
            ("index".to_string(), Json::Int(self.index as i64)),
            ("type".to_string(), Json::str(kind_name(self.kind))),
            ("process".to_string(), Json::Int(self.process as i64)),
            ("time".to_string(), Json::Int(self.time as i64)),
            ("f".to_string(), Json::str(&self.f)),
            ("value".to_string(), self.value.clone()),
        ];
        if let Some(e) = &self.error {
            pairs.push(("error".to_string(), Json::str(e)));
        }
        Json::Obj(pairs)
    }

    /// Parses a history line.
    pub fn from_json(j: &Json) -> Result<Event, String> {
        let int = |k: &str| j.get(k).and_then(Json::as_i64).ok_or_else(|| format!("event without integer {k}"));
        let kind = match j.get("type").and_then(Json::as_str) {
            Some("invoke") => EventType::Invoke,
            Some("ok") => EventType::Ok,
            Some("fail") => EventType::Fail,
            Some("info") => EventType::Info,
            other => return Err(format!("bad event type {other:?}")),
        };
        Ok(Event {
            index: int("index")? as u64,
            kind,
            process: int("process")? as u64,
            time: int("time")? as u64,
            f: j.get("f").and_then(Json::as_str).ok_or("event without f")?.to_string(),
            value: j.get("value").cloned().unwrap_or(Json::Null),
            error: j.get("error").and_then(Json::as_str).map(str::to_string),
        })
    }
}

/// Parses a JSON-lines history.
pub fn parse_history(text: &str) -> Result<Vec<Event>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| Json::parse(l).and_then(|j| Event::from_json(&j)).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

/// An operation: an invocation paired with its completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// The process.
    pub process: u64,
    /// The function.
    pub f: String,
    /// Ok, Fail or Info (an invocation never completed is Info).
    pub outcome: EventType,
    /// The invocation's value.
    pub input: Json,
    /// The completion's value (equal to the input unless it is `ok`).
    pub output: Json,
    /// Invocation time (ns).
    pub call: u64,
    /// Completion time, unless Info.
    pub ret: Option<u64>,
    /// Index of the invocation event.
    pub invoke_index: u64,
    /// Index of the completion event, if any.
    pub complete_index: Option<u64>,
}

/// Pairs invocations with completions by process.
pub fn pair(events: &[Event]) -> Result<Vec<Op>, String> {
    let mut ops: Vec<Op> = Vec::new();
    let mut open: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
    for e in events {
        match e.kind {
            EventType::Invoke => {
                if open.contains_key(&e.process) {
                    return Err(format!("process {} invoked twice without completing (index {})", e.process, e.index));
                }
                open.insert(e.process, ops.len());
                ops.push(Op {
                    process: e.process,
                    f: e.f.clone(),
                    outcome: EventType::Info,
                    input: e.value.clone(),
                    output: e.value.clone(),
                    call: e.time,
                    ret: None,
                    invoke_index: e.index,
                    complete_index: None,
                });
            }
            kind => {
                let i = open
                    .remove(&e.process)
                    .ok_or_else(|| format!("completion without invocation at index {}", e.index))?;
                let op = &mut ops[i];
                op.outcome = kind;
                op.output = e.value.clone();
                op.ret = (kind != EventType::Info).then_some(e.time);
                op.complete_index = Some(e.index);
            }
        }
    }
    Ok(ops)
}

/// Collects events from concurrent workers; the index is assigned under the lock, so the order of
/// the history is a real-time order (an invocation is logged before its request is sent, a
/// completion after its reply arrived).
pub struct Recorder {
    start: Instant,
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    /// A recorder whose clock starts at `start`.
    pub fn new(start: Instant) -> Self {
        Recorder { start, events: Mutex::new(Vec::new()) }
    }

    /// Appends an event.
    pub fn log(&self, kind: EventType, process: u64, f: &str, value: Json, error: Option<String>) {
        let mut ev = self.events.lock().expect("recorder lock");
        let time = self.start.elapsed().as_nanos() as u64;
        let index = ev.len() as u64;
        ev.push(Event { index, kind, process, time, f: f.to_string(), value, error });
    }

    /// The history so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().expect("recorder lock").clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_pair() {
        let rec = Recorder::new(Instant::now());
        rec.log(EventType::Invoke, 0, "get", Json::obj([("key", Json::str("k"))]), None);
        rec.log(EventType::Invoke, 1, "set", Json::obj([("key", Json::str("k"))]), None);
        rec.log(EventType::Ok, 0, "get", Json::obj([("result", Json::Null)]), None);
        rec.log(EventType::Info, 1, "set", Json::Null, Some("timeout".into()));
        let evs = rec.events();
        let text: String = evs.iter().map(|e| e.to_json().to_line() + "\n").collect();
        assert_eq!(parse_history(&text).unwrap(), evs);
        let ops = pair(&evs).unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].outcome, EventType::Ok);
        assert!(ops[0].ret.is_some());
        assert_eq!(ops[1].outcome, EventType::Info);
        assert_eq!(ops[1].ret, None);
        assert!(pair(&evs[2..]).is_err());
    }
}
