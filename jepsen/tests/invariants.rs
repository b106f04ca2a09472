//! Hand-made histories for the set, counter, convergence and snapshot-prefix checkers.

use mayfly_jepsen::checker::convergence::check_convergence;
use mayfly_jepsen::checker::counter::{check_counter, CounterRead, Increment};
use mayfly_jepsen::checker::set::{check_set, SetAdd};
use mayfly_jepsen::checker::snapshot_prefix::{check_snapshot_prefix, PrefixViolation, Write, WriteOp};
use mayfly_jepsen::history::EventType::{self, Fail, Info, Ok};
use std::collections::{BTreeMap, BTreeSet};

fn add(element: u32, outcome: EventType) -> SetAdd<u32> {
    SetAdd { element, outcome }
}

#[test]
fn set_lost_unexpected_recovered() {
    let adds = [add(1, Ok), add(2, Ok), add(3, Info), add(4, Info), add(5, Fail)];
    let good = check_set(&adds, &[1, 2, 3]);
    assert!(good.valid);
    assert_eq!(good.recovered, BTreeSet::from([3]));
    assert_eq!(good.not_recovered, BTreeSet::from([4]));

    let bad = check_set(&adds, &[1, 3, 5, 9]);
    assert!(!bad.valid);
    assert_eq!(bad.lost, BTreeSet::from([2]));
    assert_eq!(bad.unexpected, BTreeSet::from([5, 9]));
    assert_eq!(bad.ok, BTreeSet::from([1]));
}

fn inc(delta: i64, call: u64, ret: Option<u64>, outcome: EventType) -> Increment {
    Increment { delta, call, ret, outcome }
}

#[test]
fn counter_bounds() {
    let incs = [
        inc(1, 0, Some(1), Ok),  // definitely before every read below
        inc(5, 2, None, Info),   // maybe, from t=2 on
        inc(-2, 3, Some(9), Ok), // concurrent with the first read
        inc(100, 4, Some(5), Fail),
    ];
    let read = |call, ret, value| CounterRead { call, ret, value };
    // First read [4, 6]: base 1; possibly +5 and -2 → [-1, 6].
    let r = check_counter(0, &incs, &[read(4, 6, -1), read(4, 6, 6), read(4, 6, 4)]);
    assert!(r.valid, "{r:?}");
    let r = check_counter(0, &incs, &[read(4, 6, 7), read(10, 11, 1), read(10, 11, 101)]);
    assert!(!r.valid);
    assert_eq!(r.errors.iter().map(|e| (e.read, e.lower, e.upper)).collect::<Vec<_>>(), [(0, -1, 6), (2, -1, 4)]);
    // Before anything was invoked the counter must read its initial value.
    assert!(!check_counter(10, &incs, &[read(0, 0, 11)]).valid);
}

#[test]
fn convergence() {
    let a = BTreeMap::from([("k1", 1), ("k2", 2)]);
    let b = BTreeMap::from([("k1", 1), ("k2", 2)]);
    let c = BTreeMap::from([("k1", 1), ("k3", 3)]);
    let ok = check_convergence(&[("a".to_string(), a.clone()), ("b".to_string(), b)]);
    assert!(ok.converged);
    let bad = check_convergence(&[("a".to_string(), a), ("c".to_string(), c)]);
    assert!(!bad.converged);
    assert_eq!(bad.divergent.iter().map(|d| d.key).collect::<Vec<_>>(), ["k2", "k3"]);
    assert_eq!(bad.divergent[0].values, [("a".to_string(), Some(2)), ("c".to_string(), None)]);
}

fn set(key: &'static str, v: u32, call: u64, ret: u64) -> Write<&'static str, u32> {
    Write { key, op: WriteOp::Set(v), call, ret: Some(ret), outcome: Ok }
}

fn state(kv: &[(&'static str, u32)]) -> BTreeMap<&'static str, u32> {
    kv.iter().copied().collect()
}

#[test]
fn snapshot_prefix_sequential_history() {
    // a=1, then b=1, then a=2, then DEL b, one after another.
    let writes = [
        set("a", 1, 0, 1),
        set("b", 1, 2, 3),
        set("a", 2, 4, 5),
        Write { key: "b", op: WriteOp::Del, call: 6, ret: Some(7), outcome: Ok },
    ];
    for good in
        [state(&[]), state(&[("a", 1)]), state(&[("a", 1), ("b", 1)]), state(&[("a", 2), ("b", 1)]), state(&[("a", 2)])]
    {
        let r = check_snapshot_prefix(&writes, &good, None);
        assert!(r.valid, "{good:?}: {r:?}");
    }
    // a=2 without b=1, which was acknowledged before a=2 began (and b was not yet deleted).
    let r = check_snapshot_prefix(&writes, &state(&[("a", 2)]), None);
    assert_eq!(r.cut, [0, 1, 2, 3], "the only way is via DEL b");
    let no_del = &writes[..3];
    let r = check_snapshot_prefix(no_del, &state(&[("a", 2)]), None);
    assert_eq!(r.violations, [PrefixViolation::Missing { key: "b", required: 1 }]);
    // b=1 survived but a is back at 1 although a=2 happened before DEL b... fine only without DEL:
    // the state {a:1} after DEL b requires a=2 in the cut, which overwrote a=1.
    let r = check_snapshot_prefix(&writes, &state(&[("a", 1)]), Some(8));
    assert_eq!(r.violations, [PrefixViolation::Overwritten { key: "a", recovered: 0, later: 2 }]);
    // A value nobody wrote.
    let r = check_snapshot_prefix(&writes, &state(&[("a", 9)]), None);
    assert_eq!(r.violations, [PrefixViolation::UnknownValue { key: "a", value: 9 }]);
}

#[test]
fn snapshot_prefix_concurrent_and_crashed_writes() {
    // a=1 and a=2 overlap, so either may be last; b=1 crashed (never acknowledged).
    let writes = [
        set("a", 1, 0, 10),
        set("a", 2, 1, 9),
        Write { key: "b", op: WriteOp::Set(1), call: 2, ret: None, outcome: Info },
        Write { key: "c", op: WriteOp::Set(1), call: 3, ret: Some(4), outcome: Fail },
    ];
    assert!(check_snapshot_prefix(&writes, &state(&[("a", 1)]), None).valid);
    assert!(check_snapshot_prefix(&writes, &state(&[("a", 2), ("b", 1)]), None).valid);
    assert!(check_snapshot_prefix(&writes, &state(&[("b", 1)]), None).valid);
    let r = check_snapshot_prefix(&writes, &state(&[("c", 1)]), None);
    assert!(!r.valid, "a failed write must not be recovered");
    // With a durability point after both a-writes returned, one of them must be there.
    let r = check_snapshot_prefix(&writes, &state(&[]), Some(11));
    assert!(!r.valid);
}
