//! Times the checkers on the largest shared histories (run in release mode):
//! `cargo run --release -p mayfly-jepsen --example bench_checkers`
//!
//! Optional argument: a path to the shared data directory (default `../../shared/data` relative to
//! this crate).

#![allow(clippy::disallowed_methods)] // a bench reads files and the clock

use mayfly_jepsen::checker::elle::{check_events, ElleOptions};
use mayfly_jepsen::checker::linearizable::{check, check_with, LinearizabilityResult, Options};
use mayfly_jepsen::checker::models::{CasRegister, KvModel};
use mayfly_jepsen::history::edn::parse_list_append;
use mayfly_jepsen::history::porcupine::{parse_etcd_log, parse_kv_log};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let data = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    let porcupine = data.join("porcupine");
    let mut files: Vec<(String, u64)> = Vec::new();
    for sub in ["jepsen", "kv"] {
        for e in std::fs::read_dir(porcupine.join(sub)).expect("porcupine data") {
            let e = e.unwrap();
            let len = e.metadata().unwrap().len();
            files.push((format!("{sub}/{}", e.file_name().to_string_lossy()), len));
        }
    }
    files.sort();
    let mut slowest = (String::new(), 0.0f64);
    let all = Instant::now();
    for (file, _) in &files {
        let text = std::fs::read_to_string(porcupine.join(file)).unwrap();
        let t = Instant::now();
        let (ops, r): (usize, LinearizabilityResult) = if file.starts_with("kv/") {
            let h = parse_kv_log(&text).unwrap();
            (h.len(), check(&KvModel::default(), &h))
        } else {
            let h = parse_etcd_log(&text).unwrap();
            (h.len(), check(&CasRegister, &h))
        };
        let secs = t.elapsed().as_secs_f64();
        if file.starts_with("kv/c50") || secs > 0.05 {
            println!("{file}: {ops} ops, {:?}, {} steps, {:.3} s", r.verdict, r.steps, secs);
        }
        if secs > slowest.1 {
            slowest = (file.clone(), secs);
        }
    }
    println!(
        "porcupine (partitioned per key): all {} histories in {:.3} s; slowest {} at {:.3} s",
        files.len(),
        all.elapsed().as_secs_f64(),
        slowest.0,
        slowest.1
    );
    for file in ["kv/c10-ok.txt", "kv/c10-bad.txt", "kv/c50-ok.txt", "kv/c50-bad.txt"] {
        let h = parse_kv_log(&std::fs::read_to_string(porcupine.join(file)).unwrap()).unwrap();
        let t = Instant::now();
        let opts = Options { timeout: Some(std::time::Duration::from_secs(10)), ..Options::default() };
        let r = check_with(&KvModel { partitioned: false }, &h, &opts);
        println!("{file} without partitioning: {:?}, {} steps, {:.3} s", r.verdict, r.steps, t.elapsed().as_secs_f64());
    }
    let text = std::fs::read_to_string(data.join("elle/huge-scc.edn")).unwrap();
    let t = Instant::now();
    let events = parse_list_append(&text).unwrap();
    let parsed = t.elapsed().as_secs_f64();
    let r = check_events(&events, &ElleOptions::default());
    println!(
        "elle/huge-scc.edn: {} events, parse {:.3} s, check (strict-serializable) total {:.3} s: {:?} {:?}",
        events.len(),
        parsed,
        t.elapsed().as_secs_f64(),
        r.anomaly_types(),
        r.verdicts
    );
}
