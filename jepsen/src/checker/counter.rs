//! Counter bounds checker: each read of a counter must lie between what certainly happened before
//! it and what possibly happened by the time it returned.
//!
//! For a read invoked at `t0` and returning at `t1`: increments acknowledged before `t0` must be
//! included; increments not known to have failed and invoked before `t1` may be. Negative deltas
//! (DECRBY) widen the lower bound the same way positive ones widen the upper. This is Jepsen's
//! counter checker, generalised to signed deltas, in O((n + m) log n).

use crate::history::EventType;

/// An attempted increment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Increment {
    /// The amount added (negative for a decrement).
    pub delta: i64,
    /// When it was invoked.
    pub call: u64,
    /// When it completed, if it did.
    pub ret: Option<u64>,
    /// `Ok`, `Fail` (never applied) or `Info` (unknown).
    pub outcome: EventType,
}

/// A read of the counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterRead {
    /// When it was invoked.
    pub call: u64,
    /// When it returned.
    pub ret: u64,
    /// The value read.
    pub value: i64,
}

/// A read outside its bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterError {
    /// Index of the read in the input.
    pub read: usize,
    /// The value read.
    pub value: i64,
    /// The smallest value it could legally have been.
    pub lower: i64,
    /// The largest.
    pub upper: i64,
}

/// The checker's findings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterReport {
    /// True iff every read was within bounds.
    pub valid: bool,
    /// The reads that were not.
    pub errors: Vec<CounterError>,
}

/// Checks reads of a counter that started at `initial`.
pub fn check_counter(initial: i64, increments: &[Increment], reads: &[CounterRead]) -> CounterReport {
    // Definitely applied: acknowledged, sorted by completion. Possibly applied: not failed,
    // sorted by invocation (a superset of the definite ones, since call <= ret).
    let mut definite: Vec<(u64, i64)> = increments
        .iter()
        .filter(|i| i.outcome == EventType::Ok)
        .map(|i| (i.ret.unwrap_or(i.call).max(i.call), i.delta))
        .collect();
    definite.sort_unstable();
    let mut possible: Vec<(u64, i64)> =
        increments.iter().filter(|i| i.outcome != EventType::Fail).map(|i| (i.call, i.delta)).collect();
    possible.sort_unstable();
    // Prefix sums of (sum, positive part, negative part).
    let prefix = |v: &[(u64, i64)]| {
        let mut out = vec![(0i128, 0i128, 0i128)];
        for &(_, d) in v {
            let (s, p, n) = *out.last().expect("non-empty");
            let d = i128::from(d);
            out.push((s + d, p + d.max(0), n + d.min(0)));
        }
        out
    };
    let def_sums = prefix(&definite);
    let pos_sums = prefix(&possible);
    let mut errors = Vec::new();
    for (idx, r) in reads.iter().enumerate() {
        let d = definite.partition_point(|&(t, _)| t < r.call);
        let p = possible.partition_point(|&(t, _)| t < r.ret);
        let (def_sum, def_pos, def_neg) = def_sums[d];
        let (_, all_pos, all_neg) = pos_sums[p];
        let base = i128::from(initial) + def_sum;
        let lower = base + (all_neg - def_neg);
        let upper = base + (all_pos - def_pos);
        let v = i128::from(r.value);
        if v < lower || v > upper {
            let clamp = |x: i128| x.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
            errors.push(CounterError { read: idx, value: r.value, lower: clamp(lower), upper: clamp(upper) });
        }
    }
    CounterReport { valid: errors.is_empty(), errors }
}
