//! Every verdict in shared/data/elle/expected.tsv, reproduced.
#![allow(clippy::disallowed_methods)] // tests read the shared data files directly

use mayfly_jepsen::checker::elle::{
    check_events, edge, Anomaly, AnomalyKind, ElleOptions, ElleReport, IsolationLevel, Validity,
};
use mayfly_jepsen::history::edn::parse_list_append;
use std::path::PathBuf;

fn check_file(name: &str, levels: &[IsolationLevel]) -> ElleReport {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/elle").join(name);
    let text = std::fs::read_to_string(&path).expect("elle data");
    let events = parse_list_append(&text).expect("parses");
    check_events(&events, &ElleOptions::for_levels(levels))
}

#[test]
fn expected_tsv_lists_the_three_histories() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/elle/expected.tsv");
    let text = std::fs::read_to_string(path).unwrap();
    let files: Vec<&str> = text.lines().skip(1).filter_map(|l| l.split('\t').next()).collect();
    assert_eq!(files, ["si-without-g-single.edn", "huge-scc.edn", "paper-example.edn"]);
}

/// "invalid: anomaly-types exactly [G2-item]; violates repeatable-read only (so it is NOT an SI
/// violation)", checked as snapshot-isolation + repeatable-read.
#[test]
fn si_without_g_single() {
    use IsolationLevel::*;
    let r = check_file("si-without-g-single.edn", &[SnapshotIsolation, RepeatableRead]);
    assert_eq!(r.anomaly_types(), ["G2-item"]);
    assert_eq!(r.verdicts, vec![(SnapshotIsolation, Validity::Valid), (RepeatableRead, Validity::Invalid)]);
}

/// "invalid: G-single (T2 -wr-> T3 -ww-> T4 -rw-> T2); no processes/times, so no realtime edges",
/// checked as serializable.
#[test]
fn paper_example() {
    let r = check_file("paper-example.edn", &[IsolationLevel::Serializable]);
    assert_eq!(r.anomaly_types(), ["G-single"]);
    assert_eq!(r.verdicts, vec![(IsolationLevel::Serializable, Validity::Invalid)]);
    // The cycle named in expected.tsv (T1 is the file's first transaction, so T2..T4 are ids 1..3).
    let single = r
        .anomalies
        .iter()
        .find_map(|a| match a {
            Anomaly::Cycle { kind: AnomalyKind::GSingle, steps, .. } => Some(steps.clone()),
            _ => None,
        })
        .unwrap();
    let mut edges: Vec<(usize, usize, u8)> = single.iter().map(|s| (s.from, s.to, s.kind)).collect();
    edges.sort();
    assert_eq!(edges, vec![(1, 2, edge::WR), (2, 3, edge::WW), (3, 1, edge::RW)]);
    assert!(r
        .anomalies
        .iter()
        .all(|a| !matches!(a, Anomaly::Cycle { steps, .. } if steps.iter().any(|s| s.kind == edge::REALTIME))));
}

/// "invalid: G2-item-realtime, plus cycle-search-timeout; not strong-snapshot-isolation", checked
/// with Elle's default (strict-serializable).
#[test]
fn huge_scc() {
    let r = check_file("huge-scc.edn", &[IsolationLevel::StrictSerializable]);
    assert!(r.anomaly_types().contains(&"G2-item-realtime"), "{:?}", r.anomaly_types());
    assert_eq!(r.verdicts, vec![(IsolationLevel::StrictSerializable, Validity::Invalid)]);
}
