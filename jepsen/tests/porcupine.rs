//! Every verdict in shared/data/porcupine/expected.tsv, reproduced.
#![allow(clippy::disallowed_methods)] // tests read the shared data files directly

use mayfly_jepsen::checker::linearizable::{check, Verdict};
use mayfly_jepsen::checker::models::{CasRegister, KvModel};
use mayfly_jepsen::history::porcupine::{parse_etcd_log, parse_kv_log};
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/porcupine")
}

fn expected() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(data_dir().join("expected.tsv")).expect("expected.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect()
}

fn verdict_of(file: &str, model: &str, partitioned: bool) -> Verdict {
    let text = std::fs::read_to_string(data_dir().join(file)).expect(file);
    match model {
        "etcd-cas-register" => check(&CasRegister, &parse_etcd_log(&text).unwrap()).verdict,
        "kv-put-get-append" => check(&KvModel { partitioned }, &parse_kv_log(&text).unwrap()).verdict,
        other => panic!("unknown model {other}"),
    }
}

#[test]
fn every_expected_verdict_matches() {
    let rows = expected();
    assert_eq!(rows.len(), 109, "102 etcd + 6 kv histories + etcd_095 (empty)");
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for (file, model, want) in &rows {
        let got = verdict_of(file, model, true);
        let ok = match want.as_str() {
            "linearizable" => got == Verdict::Linearizable,
            "not-linearizable" => got == Verdict::NotLinearizable,
            // etcd_095.log is empty: trivially linearizable.
            w if w.starts_with("none") => got == Verdict::Linearizable,
            w => panic!("unknown expectation {w}"),
        };
        if !ok {
            mismatches.push(format!("{file}: expected {want}, got {got:?}"));
        }
        checked += 1;
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    assert_eq!(checked, 109);
}

#[test]
fn kv_verdicts_do_not_depend_on_partitioning() {
    for (file, model, want) in expected() {
        // Without partitioning, the 10- and 50-client histories are one search over all keys at
        // once: seconds in release, too slow for a debug-mode test. examples/bench_checkers.rs
        // checks the 10-client pair unpartitioned.
        if model != "kv-put-get-append" || !file.contains("c01") {
            continue;
        }
        let want = if want == "linearizable" { Verdict::Linearizable } else { Verdict::NotLinearizable };
        assert_eq!(verdict_of(&file, &model, false), want, "{file} unpartitioned");
    }
}
