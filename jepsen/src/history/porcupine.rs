//! Parsers for Porcupine's test histories: Jepsen etcd logs and the key-value format.
//!
//! The parse rules decide verdicts (a crashed write left open can explain a later read), so they
//! follow the data's README to the letter. Times are event numbers: the n-th parsed event line
//! happens at time n, which preserves the log's real-time order.

use super::edn::{self, Edn, ParseError};
use super::Operation;
use crate::checker::models::{CasInput, CasOutput, Keyed, KvCmd, KvReply};
use crate::checker::FxHashMap as HashMap;

fn parse_int_or_nil(s: &str, line: usize) -> Result<Option<i64>, ParseError> {
    if s == "nil" {
        return Ok(None);
    }
    s.parse::<i64>()
        .map(Some)
        .map_err(|_| ParseError { line, message: format!("expected an integer or nil, found {s:?}") })
}

fn parse_pair(s: &str, line: usize) -> Result<(i64, i64), ParseError> {
    let v = edn::parse(s).map_err(|e| ParseError { line, ..e })?;
    match v.as_seq() {
        Some([Edn::Int(a), Edn::Int(b)]) => Ok((*a, *b)),
        _ => Err(ParseError { line, message: format!("expected [A B], found {s:?}") }),
    }
}

/// Parses a Jepsen etcd log (`INFO  jepsen.util - <proc>\t:<type>\t:<f>\t<value>` lines) into
/// operations on the [`CasRegister`](crate::checker::models::CasRegister) model.
///
/// - `:invoke` of `:read`, `:write N`, `:cas [A B]` opens an operation for the process; the next
///   completion line of that process closes it.
/// - `:ok :read nil|N`, `:ok :write N`, `:ok :cas`, `:fail :cas` complete with a known result.
/// - `:fail :read :timed-out` completes the read with an unknown result.
/// - Every other line is ignored, so `:info` (crashed) operations stay open to the end.
pub fn parse_etcd_log(text: &str) -> Result<Vec<Operation<CasInput, CasOutput>>, ParseError> {
    let mut ops: Vec<Operation<CasInput, CasOutput>> = Vec::new();
    let mut open: HashMap<u64, usize> = HashMap::default();
    let mut time = 0u64;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let Some((_, rest)) = raw.split_once("jepsen.util - ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split('\t').map(str::trim).collect();
        let [proc_s, kind, f, value] = fields[..] else {
            continue;
        };
        let Ok(process) = proc_s.parse::<u64>() else {
            continue;
        };
        match (kind, f) {
            (":invoke", ":read" | ":write" | ":cas") => {
                let input = match f {
                    ":read" => CasInput::Read,
                    ":write" => match parse_int_or_nil(value, line_no)? {
                        Some(v) => CasInput::Write(v),
                        None => return Err(ParseError { line: line_no, message: "write of nil".into() }),
                    },
                    _ => {
                        let (from, to) = parse_pair(value, line_no)?;
                        CasInput::Cas { from, to }
                    }
                };
                time += 1;
                open.insert(process, ops.len());
                ops.push(Operation::crashed(process, input, time));
            }
            (":ok" | ":fail", _) => {
                let Some(&idx) = open.get(&process) else {
                    continue;
                };
                let output = match (kind, f, &ops[idx].input) {
                    (":ok", ":read", CasInput::Read) => Some(CasOutput::Read(parse_int_or_nil(value, line_no)?)),
                    (":fail", ":read", CasInput::Read) if value == ":timed-out" => None,
                    (":ok", ":write", CasInput::Write(_)) => Some(CasOutput::Write),
                    (":ok", ":cas", CasInput::Cas { .. }) => Some(CasOutput::Cas(true)),
                    (":fail", ":cas", CasInput::Cas { .. }) => Some(CasOutput::Cas(false)),
                    _ => continue,
                };
                time += 1;
                open.remove(&process);
                ops[idx].ret = Some(time);
                ops[idx].output = output;
            }
            _ => {}
        }
    }
    Ok(ops)
}

/// Parses Porcupine's key-value format: one EDN map per line,
/// `{:process P, :type :invoke|:ok, :f :get|:put|:append, :key "K", :value "V"|nil}`,
/// into operations on the [`KvModel`](crate::checker::models::KvModel).
pub fn parse_kv_log(text: &str) -> Result<Vec<Operation<Keyed<KvCmd>, KvReply>>, ParseError> {
    let mut ops: Vec<Operation<Keyed<KvCmd>, KvReply>> = Vec::new();
    let mut open: HashMap<u64, usize> = HashMap::default();
    let mut time = 0u64;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let bad = |message: String| ParseError { line, message };
        let v = edn::parse(raw).map_err(|e| ParseError { line, ..e })?;
        let process = v.get("process").and_then(Edn::as_int).ok_or_else(|| bad("missing :process".into()))? as u64;
        let kind = v.get("type").and_then(Edn::as_keyword).unwrap_or("");
        let f = v.get("f").and_then(Edn::as_keyword).unwrap_or("");
        let value = v.get("value").and_then(Edn::as_str).map(str::to_string);
        time += 1;
        match kind {
            "invoke" => {
                let key = v.get("key").and_then(Edn::as_str).ok_or_else(|| bad("missing :key".into()))?;
                let cmd = match f {
                    "get" => KvCmd::Get,
                    "put" => KvCmd::Put(value.unwrap_or_default()),
                    "append" => KvCmd::Append(value.unwrap_or_default()),
                    other => return Err(bad(format!("unknown :f {other:?}"))),
                };
                open.insert(process, ops.len());
                ops.push(Operation::crashed(process, Keyed::new(key, cmd), time));
            }
            "ok" => {
                let idx = open.remove(&process).ok_or_else(|| bad("completion without invocation".into()))?;
                let output = match ops[idx].input.cmd {
                    KvCmd::Get => KvReply::Get(value.unwrap_or_default()),
                    _ => KvReply::Done,
                };
                ops[idx].ret = Some(time);
                ops[idx].output = Some(output);
            }
            // Anything else (fail/info) leaves the operation open, as a crash would.
            _ => {}
        }
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_rules() {
        let log = "noise\n\
            INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
            INFO  jepsen.util - 1\t:invoke\t:write\t3\n\
            INFO  jepsen.util - 2\t:invoke\t:cas\t[3 4]\n\
            INFO  jepsen.util - 0\t:fail\t:read\t:timed-out\n\
            INFO  jepsen.util - 1\t:info\t:write\t:timed-out\n\
            INFO  jepsen.util - 2\t:fail\t:cas\t[3 4]\n";
        let ops = parse_etcd_log(log).unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!((ops[0].ret, ops[0].output.clone()), (Some(4), None));
        assert_eq!((ops[1].ret, ops[1].output.clone()), (None, None));
        assert_eq!(ops[2].output, Some(CasOutput::Cas(false)));
        assert_eq!(ops[2].input, CasInput::Cas { from: 3, to: 4 });
    }

    #[test]
    fn kv_lines() {
        let log = "{:process 0, :type :invoke, :f :append, :key \"k\", :value \"x\"}\n\
                   {:process 1, :type :invoke, :f :get, :key \"k\", :value nil}\n\
                   {:process 0, :type :ok, :f :append, :key \"k\", :value \"x\"}\n\
                   {:process 1, :type :ok, :f :get, :key \"k\", :value \"x\"}\n";
        let ops = parse_kv_log(log).unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[1].output, Some(KvReply::Get("x".into())));
        assert_eq!((ops[1].call, ops[1].ret), (2, Some(4)));
    }
}
