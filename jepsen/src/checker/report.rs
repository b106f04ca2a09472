//! Human-readable failure reports.
//!
//! A verdict alone does not help anyone fix a bug; these say *why*: for a non-linearizable history,
//! the longest prefix that could be linearized and the operations that could not go next; for a
//! transactional anomaly, the cycle with each edge explained; and a self-contained HTML timeline
//! (no scripts, no external assets) to look at concurrent operations side by side.

use super::elle::{edge, Anomaly, ElleReport, Step};
use super::linearizable::{LinearizabilityResult, Model, Verdict};
use crate::history::{MicroOp, Operation, Txn};
use std::collections::BTreeMap;
use std::fmt::Write as _;

fn time_str(t: Option<u64>) -> String {
    t.map_or_else(|| "never".to_string(), |t| t.to_string())
}

/// Text report of a linearizability check.
pub fn linearizability_text<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    result: &LinearizabilityResult,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "linearizability: {:?} ({} operations, {} partitions, {} search steps)",
        result.verdict,
        history.len(),
        result.partitions.len(),
        result.steps
    );
    for p in &result.partitions {
        if p.verdict == Verdict::Linearizable {
            continue;
        }
        let key = p.key.as_deref().unwrap_or("(whole history)");
        let _ = writeln!(out, "\npartition {key}: {:?} ({} operations)", p.verdict, p.ops.len());
        let _ = writeln!(out, "  longest linearizable prefix ({} operations):", p.longest_prefix.len());
        for (n, &i) in p.longest_prefix.iter().enumerate() {
            let op = &history[i];
            let _ = writeln!(
                out,
                "    {:>4}. #{i} process {} [{}, {}] {}",
                n + 1,
                op.process,
                op.call,
                time_str(op.ret),
                model.describe_operation(&op.input, op.output.as_ref())
            );
        }
        let _ = writeln!(out, "  state after the prefix: {}", p.state_after_prefix);
        if !p.stuck.is_empty() {
            let _ = writeln!(out, "  none of these could be placed next:");
            for &i in &p.stuck {
                let op = &history[i];
                let _ = writeln!(
                    out,
                    "    #{i} process {} [{}, {}] {}",
                    op.process,
                    op.call,
                    time_str(op.ret),
                    model.describe_operation(&op.input, op.output.as_ref())
                );
            }
        }
    }
    out
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A self-contained HTML page with one timeline per partition that is not linearizable (or every
/// partition, if all are): one row per process, one bar per operation from call to return.
/// Green bars are in the longest linearizable prefix (numbered in linearization order), red bars
/// are the operations that could not be placed next, open-ended bars never returned.
pub fn linearizability_html<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    result: &LinearizabilityResult,
) -> String {
    let mut out = String::new();
    out.push_str(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Linearizability report</title>\n<style>\n\
         body{font-family:sans-serif;margin:1em}\
         .tl{position:relative;border-top:1px solid #ccc;margin-bottom:2em}\
         .row{position:relative;height:26px;border-bottom:1px solid #eee}\
         .lbl{position:absolute;left:0;width:90px;font-size:12px;line-height:26px;color:#555}\
         .op{position:absolute;top:3px;height:20px;font-size:11px;line-height:20px;overflow:hidden;\
         white-space:nowrap;border-radius:3px;padding:0 2px;box-sizing:border-box;\
         background:#ddd;border:1px solid #999}\
         .lin{background:#b7e1b0;border-color:#4a8f3f}.stuck{background:#f4b4b4;border-color:#b33}\
         .open{border-right:3px dashed #333}\n</style></head><body>\n",
    );
    let _ = writeln!(
        out,
        "<h1>Linearizability: {:?}</h1><p>{} operations, {} partitions, {} search steps.</p>",
        result.verdict,
        history.len(),
        result.partitions.len(),
        result.steps
    );
    let any_failed = result.partitions.iter().any(|p| p.verdict != Verdict::Linearizable);
    for p in &result.partitions {
        if any_failed && p.verdict == Verdict::Linearizable {
            continue;
        }
        let key = p.key.as_deref().unwrap_or("(whole history)");
        let _ = writeln!(
            out,
            "<h2>Partition {}: {:?}</h2><p>State after the longest linearizable prefix ({} operations): \
             <code>{}</code></p>",
            escape(key),
            p.verdict,
            p.longest_prefix.len(),
            escape(&p.state_after_prefix)
        );
        let order: BTreeMap<usize, usize> = p.longest_prefix.iter().enumerate().map(|(n, &i)| (i, n + 1)).collect();
        let t_min = p.ops.iter().map(|&i| history[i].call).min().unwrap_or(0);
        let t_max = p
            .ops
            .iter()
            .map(|&i| history[i].ret.unwrap_or(history[i].call).max(history[i].call))
            .max()
            .unwrap_or(t_min)
            .max(t_min + 1);
        let span = (t_max - t_min) as f64 * 1.05;
        let mut rows: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for &i in &p.ops {
            rows.entry(history[i].process).or_default().push(i);
        }
        out.push_str("<div class=\"tl\">\n");
        for (process, ops) in rows {
            let _ = write!(out, "<div class=\"row\"><span class=\"lbl\">process {process}</span>");
            for i in ops {
                let op = &history[i];
                let start = (op.call - t_min) as f64 / span;
                let end = match op.ret {
                    Some(r) => (r.max(op.call) - t_min) as f64 / span,
                    None => 1.0,
                };
                let mut class = String::from("op");
                if order.contains_key(&i) {
                    class.push_str(" lin");
                }
                if p.stuck.contains(&i) {
                    class.push_str(" stuck");
                }
                if op.ret.is_none() {
                    class.push_str(" open");
                }
                let desc = model.describe_operation(&op.input, op.output.as_ref());
                let label = match order.get(&i) {
                    Some(n) => format!("{n}: {desc}"),
                    None => desc.clone(),
                };
                // Bars sit in the area right of the 90px label column.
                let _ = write!(
                    out,
                    "<div class=\"{class}\" style=\"left:calc(90px + (100% - 90px) * {start:.5});\
                     width:max(4px, calc((100% - 90px) * {:.5}))\" title=\"#{i} [{}, {}] {}\">{}</div>",
                    (end - start).max(0.0),
                    op.call,
                    time_str(op.ret),
                    escape(&desc),
                    escape(&label)
                );
            }
            out.push_str("</div>\n");
        }
        out.push_str("</div>\n");
    }
    out.push_str("</body></html>\n");
    out
}

fn format_ops(ops: &[MicroOp]) -> String {
    let parts: Vec<String> = ops
        .iter()
        .map(|op| match op {
            MicroOp::Append { key, value } => format!("[:append {key} {value}]"),
            MicroOp::Read { key, value: None } => format!("[:r {key} nil]"),
            MicroOp::Read { key, value: Some(v) } => {
                let elems: Vec<String> = v.iter().map(i64::to_string).collect();
                format!("[:r {key} [{}]]", elems.join(" "))
            }
        })
        .collect();
    format!("[{}]", parts.join(" "))
}

fn describe_txn(t: &Txn) -> String {
    let process = t.process.map_or_else(|| "-".to_string(), |p| p.to_string());
    let index = t.index.map_or_else(String::new, |i| format!(", index {i}"));
    format!("{:?} by process {process}{index}: {}", t.outcome, format_ops(&t.ops))
}

fn explain_step(s: &Step, name: &dyn Fn(usize) -> String) -> String {
    let (a, b) = (name(s.from), name(s.to));
    let key = s.key.map_or_else(String::new, |k| k.to_string());
    let val = |v: Option<i64>| v.map_or_else(|| "nothing".to_string(), |v| v.to_string());
    match s.kind {
        edge::WW => format!(
            "{a} < {b} (ww): {b} appended {} to key {key} after {a} appended {}",
            val(s.next_value),
            val(s.value)
        ),
        edge::WR => format!("{a} < {b} (wr): {b} read {a}'s append of {} to key {key}", val(s.value)),
        edge::RW => format!(
            "{a} < {b} (rw): {a} read key {key} up to {}, and missed {b}'s later append of {}",
            val(s.value),
            val(s.next_value)
        ),
        edge::PROCESS => format!("{a} < {b} (process): the same process ran {a} and then {b}"),
        edge::REALTIME => format!("{a} < {b} (realtime): {a} completed before {b} was invoked"),
        _ => format!("{a} < {b}"),
    }
}

/// Text report of an Elle check: verdicts, then each anomaly, cycles with every edge explained.
pub fn elle_text(report: &ElleReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "transactions: {}", report.txns.len());
    for (level, v) in &report.verdicts {
        let _ = writeln!(out, "{}: {:?}", level.name(), v);
    }
    let _ = writeln!(out, "anomaly types: {:?}", report.anomaly_types());
    let txn = |i: usize| describe_txn(&report.txns[i]);
    for a in &report.anomalies {
        let _ = writeln!(out, "\n{}:", a.kind());
        match a {
            Anomaly::Cycle { txns, steps, .. } => {
                let distinct: Vec<usize> = txns[..txns.len().saturating_sub(1)].to_vec();
                let name = |i: usize| format!("T{}", distinct.iter().position(|&x| x == i).map_or(0, |p| p + 1));
                let _ = writeln!(out, "  Let:");
                for (n, &t) in distinct.iter().enumerate() {
                    let _ = writeln!(out, "    T{} = {}", n + 1, txn(t));
                }
                let _ = writeln!(out, "  Then:");
                for s in steps {
                    let _ = writeln!(out, "    - {}", explain_step(s, &name));
                }
                let _ = writeln!(out, "  which is a cycle.");
            }
            Anomaly::AbortedRead { reader, writer, key, element } => {
                let _ = writeln!(
                    out,
                    "  {}\n  read {element} of key {key}, appended by the failed\n  {}",
                    txn(*reader),
                    txn(*writer)
                );
            }
            Anomaly::IntermediateRead { reader, writer, key, element } => {
                let _ = writeln!(
                    out,
                    "  {}\n  read key {key} ending in {element}, an intermediate state of\n  {}",
                    txn(*reader),
                    txn(*writer)
                );
            }
            Anomaly::LostUpdate { key, value, txns } => {
                let _ = writeln!(out, "  all of these read key {key} = {value:?} and appended to it:");
                for &t in txns {
                    let _ = writeln!(out, "    {}", txn(t));
                }
            }
            Anomaly::Internal { txn: t, key, expected, suffix_only, read } => {
                let what = if *suffix_only { "to end with" } else { "to be" };
                let _ = writeln!(out, "  {}\n  read key {key} = {read:?}, expected {what} {expected:?}", txn(*t));
            }
            Anomaly::IncompatibleOrder { key, values } => {
                let _ = writeln!(out, "  key {key}: {:?} and {:?} are not prefixes of one order", values[0], values[1]);
            }
            Anomaly::DuplicateElements { txn: t, key, value } => {
                let _ = writeln!(out, "  {}\n  read key {key} = {value:?}", txn(*t));
            }
            Anomaly::CycleSearchTimeout { searching, scc_size } => {
                let _ = writeln!(
                    out,
                    "  the search for {searching} in a component of {scc_size} transactions ran out of budget"
                );
            }
        }
    }
    out
}
