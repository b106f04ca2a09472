//! Minimal hand-made histories, one per anomaly class, each detected under its right name, and
//! the levels that must (and must not) reject it.

use mayfly_jepsen::checker::elle::{check_events, Anomaly, ElleOptions, ElleReport, IsolationLevel, Validity};
use mayfly_jepsen::history::edn::parse_list_append;
use IsolationLevel::*;

/// Builds a history from `(process, type, value)` completions, each preceded by its invocation,
/// one transaction after another (so each completes before the next is invoked).
fn sequential(txns: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (ty, value)) in txns.iter().enumerate() {
        out.push_str(&format!("{{:type :invoke, :f :txn, :process {i}, :value {value}}}\n"));
        out.push_str(&format!("{{:type {ty}, :f :txn, :process {i}, :value {value}}}\n"));
    }
    out
}

fn check(history: &str, levels: &[IsolationLevel]) -> ElleReport {
    check_events(&parse_list_append(history).unwrap(), &ElleOptions::for_levels(levels))
}

fn validity(r: &ElleReport, level: IsolationLevel) -> Validity {
    r.validity(level)
}

#[test]
fn g0_write_cycle() {
    let h = sequential(&[
        (":ok", "[[:append 1 1] [:append 2 1]]"),
        (":ok", "[[:append 1 2] [:append 2 2]]"),
        (":ok", "[[:r 1 [1 2]] [:r 2 [2 1]]]"),
    ]);
    let r = check(&h, &[Serializable]);
    assert_eq!(r.anomaly_types(), ["G0"]);
    assert_eq!(validity(&r, ReadCommitted), Validity::Invalid);
}

#[test]
fn g1a_aborted_read() {
    let h = sequential(&[(":fail", "[[:append 1 1]]"), (":ok", "[[:r 1 [1]]]")]);
    let r = check(&h, &[ReadCommitted]);
    assert_eq!(r.anomaly_types(), ["G1a"]);
    assert!(matches!(r.anomalies[0], Anomaly::AbortedRead { reader: 1, writer: 0, key: 1, element: 1 }));
    assert_eq!(r.verdicts, [(ReadCommitted, Validity::Invalid)]);
}

#[test]
fn g1b_intermediate_read() {
    let h = sequential(&[(":ok", "[[:append 1 1] [:append 1 2]]"), (":ok", "[[:r 1 [1]]]")]);
    let r = check(&h, &[ReadCommitted]);
    assert!(r.anomaly_types().contains(&"G1b"), "{:?}", r.anomaly_types());
    assert_eq!(validity(&r, ReadCommitted), Validity::Invalid);
}

#[test]
fn g1c_circular_information_flow() {
    let h = sequential(&[(":ok", "[[:append 1 1] [:r 2 [1]]]"), (":ok", "[[:append 2 1] [:r 1 [1]]]")]);
    let r = check(&h, &[ReadCommitted]);
    assert_eq!(r.anomaly_types(), ["G1c"]);
    assert_eq!(validity(&r, ReadCommitted), Validity::Invalid);
}

#[test]
fn g_single_read_skew() {
    // T2 sees T1's append to key 1 but not its append to key 2.
    let h = sequential(&[(":ok", "[[:append 1 1] [:append 2 1]]"), (":ok", "[[:r 1 [1]] [:r 2 []]]")]);
    let r = check(&h, &[ReadCommitted, SnapshotIsolation, Serializable]);
    assert_eq!(r.anomaly_types(), ["G-single"], "{:#?}", r.anomalies);
    assert_eq!(
        r.verdicts,
        [(ReadCommitted, Validity::Valid), (SnapshotIsolation, Validity::Invalid), (Serializable, Validity::Invalid)]
    );
}

#[test]
fn g2_item_write_skew() {
    let h = sequential(&[(":ok", "[[:r 1 []] [:append 2 1]]"), (":ok", "[[:r 2 []] [:append 1 1]]")]);
    let r = check(&h, &[SnapshotIsolation, RepeatableRead, Serializable]);
    assert_eq!(r.anomaly_types(), ["G2-item"]);
    assert_eq!(
        r.verdicts,
        [(SnapshotIsolation, Validity::Valid), (RepeatableRead, Validity::Invalid), (Serializable, Validity::Invalid)]
    );
}

#[test]
fn lost_update() {
    let h = sequential(&[
        (":ok", "[[:append 1 0]]"),
        (":ok", "[[:r 1 [0]] [:append 1 1]]"),
        (":ok", "[[:r 1 [0]] [:append 1 2]]"),
    ]);
    let r = check(&h, &[SnapshotIsolation]);
    assert!(r.anomaly_types().contains(&"lost-update"), "{:?}", r.anomaly_types());
    assert!(r.anomalies.iter().any(|a| matches!(a, Anomaly::LostUpdate { key: 1, txns, .. } if txns == &[1, 2])));
    assert_eq!(r.verdicts, [(SnapshotIsolation, Validity::Invalid)]);
    assert_eq!(validity(&r, ReadCommitted), Validity::Valid);
}

#[test]
fn one_transaction_writing_twice_over_its_read_is_fine() {
    let h = sequential(&[(":ok", "[[:r 1 []] [:append 1 1] [:append 1 2]]"), (":ok", "[[:r 1 [1 2]]]")]);
    let r = check(&h, &IsolationLevel::ALL);
    assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
    assert!(r.is_valid());
}

#[test]
fn internal_inconsistency() {
    let h = sequential(&[(":ok", "[[:append 1 1] [:r 1 []]]")]);
    let r = check(&h, &[ReadCommitted, SnapshotIsolation]);
    assert_eq!(r.anomaly_types(), ["internal"]);
    assert_eq!(r.verdicts, [(ReadCommitted, Validity::Valid), (SnapshotIsolation, Validity::Invalid)]);
}

#[test]
fn incompatible_order() {
    let h = sequential(&[
        (":ok", "[[:append 1 1]]"),
        (":ok", "[[:append 1 2]]"),
        (":ok", "[[:r 1 [1 2]]]"),
        (":ok", "[[:r 1 [2]]]"),
    ]);
    let r = check(&h, &[ReadCommitted]);
    assert!(r.anomaly_types().contains(&"incompatible-order"), "{:?}", r.anomaly_types());
    assert_eq!(r.verdicts, [(ReadCommitted, Validity::Invalid)]);
}

#[test]
fn duplicate_elements() {
    let h = sequential(&[(":ok", "[[:append 1 1]]"), (":ok", "[[:r 1 [1 1]]]")]);
    let r = check(&h, &[ReadCommitted]);
    assert!(r.anomaly_types().contains(&"duplicate-elements"), "{:?}", r.anomaly_types());
    assert_eq!(r.verdicts, [(ReadCommitted, Validity::Invalid)]);
}

#[test]
fn g_single_realtime_stale_read() {
    // T1's append completed before T2 began, yet T2 does not see it.
    let h = sequential(&[(":ok", "[[:append 1 1]]"), (":ok", "[[:r 1 []]]")]);
    let r = check(&h, &[Serializable, StrictSerializable]);
    assert_eq!(r.anomaly_types(), ["G-single-realtime"]);
    assert_eq!(r.verdicts, [(Serializable, Validity::Valid), (StrictSerializable, Validity::Invalid)]);
    assert_eq!(validity(&r, StrongSnapshotIsolation), Validity::Invalid);
}

#[test]
fn g0_realtime() {
    // T2 began after T1 completed, yet its append is ordered before T1's.
    let h = sequential(&[(":ok", "[[:append 1 1]]"), (":ok", "[[:append 1 2]]"), (":ok", "[[:r 1 [2 1]]]")]);
    let r = check(&h, &[StrictSerializable]);
    assert_eq!(r.anomaly_types(), ["G0-realtime"]);
    assert_eq!(validity(&r, Serializable), Validity::Valid);
}

#[test]
fn g2_item_realtime() {
    // T1 -rw-> T2 (T1 misses T2's append to key 1), T2 -rw-> T3 (T2 misses T3's append to key 2),
    // and T3 completed before T1 was invoked. T2 overlaps everything.
    let h = "{:type :invoke, :f :txn, :process 2, :value [[:append 1 1] [:r 2 nil]]}\n\
             {:type :invoke, :f :txn, :process 3, :value [[:append 2 1]]}\n\
             {:type :ok, :f :txn, :process 3, :value [[:append 2 1]]}\n\
             {:type :invoke, :f :txn, :process 1, :value [[:r 1 nil]]}\n\
             {:type :ok, :f :txn, :process 1, :value [[:r 1 []]]}\n\
             {:type :ok, :f :txn, :process 2, :value [[:append 1 1] [:r 2 []]]}\n";
    let r = check(h, &[SnapshotIsolation, StrongSnapshotIsolation, Serializable, StrictSerializable]);
    assert_eq!(r.anomaly_types(), ["G2-item-realtime"]);
    assert_eq!(
        r.verdicts,
        [
            (SnapshotIsolation, Validity::Valid),
            (StrongSnapshotIsolation, Validity::Valid),
            (Serializable, Validity::Valid),
            (StrictSerializable, Validity::Invalid)
        ]
    );
}

#[test]
fn sequential_write_skew_is_g2_item_and_a_stale_read() {
    let h = sequential(&[(":ok", "[[:r 1 []] [:append 2 1]]"), (":ok", "[[:r 2 []] [:append 1 1]]")]);
    let r = check(&h, &[StrictSerializable]);
    // The second transaction began after the first ended and still missed its append.
    assert_eq!(r.anomaly_types(), ["G-single-realtime", "G2-item"]);
}

#[test]
fn g1c_process() {
    // Elle's wr-process test: t0 -wr-> t1 -process-> t2 -wr-> t0.
    let h = "{:process 1, :type :invoke, :f :txn, :value [[:r 1 nil] [:append 2 1]], :index 0}\n\
             {:process 1, :type :ok, :f :txn, :value [[:r 1 [1]] [:append 2 1]], :index 1}\n\
             {:process 2, :type :invoke, :f :txn, :value [[:r 2 nil]], :index 2}\n\
             {:process 2, :type :ok, :f :txn, :value [[:r 2 [1]]], :index 3}\n\
             {:process 2, :type :invoke, :f :txn, :value [[:append 1 1]], :index 4}\n\
             {:process 2, :type :ok, :f :txn, :value [[:append 1 1]], :index 5}\n";
    let mut opts = ElleOptions::for_levels(&[Serializable, StrictSerializable]);
    opts.realtime = false;
    let r = check_events(&parse_list_append(h).unwrap(), &opts);
    assert_eq!(r.anomaly_types(), ["G1c-process"]);
    assert_eq!(r.verdicts, [(Serializable, Validity::Valid), (StrictSerializable, Validity::Invalid)]);
}

#[test]
fn clean_history_is_valid_everywhere() {
    let h = sequential(&[
        (":ok", "[[:append 1 1] [:append 2 1]]"),
        (":ok", "[[:r 1 [1]] [:r 2 [1]] [:append 1 2]]"),
        (":info", "[[:append 2 2]]"),
        (":ok", "[[:r 1 [1 2]]]"),
    ]);
    let r = check(&h, &IsolationLevel::ALL);
    assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
    assert!(r.is_valid());
}
