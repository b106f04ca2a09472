//! Linearizability checking: Wing & Gong's backtracking search with Lowe's memoization.
//!
//! The history becomes a doubly linked list of call and return entries in time order. The search
//! walks it from the front: at a call it tries to linearize that operation now (the model must
//! accept it), lifting the call and its return out of the list; at a return whose operation is not
//! yet linearized it backtracks, because that operation had to take effect before it returned.
//! Lowe's insight is that two search nodes with the same *set* of linearized operations and the
//! same model state have identical futures, so a cache of (bitset, state) pairs prunes the
//! factorial blow-up down to what real histories need.
//!
//! Histories are split per key first (linearizability is compositional), operations that never
//! returned stay open to the end (they may take effect late or never), and a step/time budget turns
//! a search that would run too long into [`Verdict::Unknown`] rather than a hang.

use super::FxHashSet;
use crate::history::Operation;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// A sequential specification that the linearizability checker tests a history against.
///
/// The simulator reuses this trait for its own models, so it is deliberately small.
pub trait Model {
    /// The model's state; compared and hashed by the memoization cache, so keep it small.
    type State: Clone + Eq + Hash + Debug;
    /// An operation's request.
    type Input: Debug;
    /// An operation's reply.
    type Output: Debug;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// Applies one operation: `Some(next_state)` if `output` is a legal reply to `input` in
    /// `state`, `None` if not. `output` is `None` when the reply is unknown; that must be legal.
    fn step(&self, state: &Self::State, input: &Self::Input, output: Option<&Self::Output>) -> Option<Self::State>;

    /// The partition an operation belongs to (usually its key); `None` puts everything together.
    fn partition_key(&self, _input: &Self::Input) -> Option<String> {
        None
    }

    /// One line describing an operation, for reports.
    fn describe_operation(&self, input: &Self::Input, output: Option<&Self::Output>) -> String {
        match output {
            Some(o) => format!("{input:?} -> {o:?}"),
            None => format!("{input:?} -> ?"),
        }
    }

    /// A short description of a state, for reports.
    fn describe_state(&self, state: &Self::State) -> String {
        format!("{state:?}")
    }
}

/// The answer of a search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A legal linearization exists.
    Linearizable,
    /// No linearization exists.
    NotLinearizable,
    /// The budget ran out before the search finished.
    Unknown,
}

/// Limits on the search. The defaults allow a minute, which no real history of ours approaches.
#[derive(Clone, Debug)]
pub struct Options {
    /// Stop after this many search steps in total (across partitions).
    pub max_steps: Option<u64>,
    /// Stop after this much wall-clock time in total.
    pub timeout: Option<Duration>,
    /// Stop at the first partition proven not linearizable (remaining ones are not searched).
    pub stop_on_first_failure: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { max_steps: None, timeout: Some(Duration::from_secs(60)), stop_on_first_failure: false }
    }
}

/// What the search found in one partition. Indices refer to the checked history slice.
#[derive(Clone, Debug)]
pub struct PartitionResult {
    /// The partition key (`None` when the model does not partition).
    pub key: Option<String>,
    /// The partition's operations, in history order.
    pub ops: Vec<usize>,
    /// The partition's verdict.
    pub verdict: Verdict,
    /// Search steps spent here.
    pub steps: u64,
    /// The longest sequence of operations the search managed to linearize, in order. When the
    /// partition is linearizable this is a full linearization of its completed operations.
    pub longest_prefix: Vec<usize>,
    /// The model state after `longest_prefix`, described by the model.
    pub state_after_prefix: String,
    /// When not linearizable: the operations that could have come next after the longest prefix,
    /// none of which the model accepted there (the last one is the operation whose return forced
    /// the backtrack).
    pub stuck: Vec<usize>,
}

/// The verdict over a whole history.
#[derive(Clone, Debug)]
pub struct LinearizabilityResult {
    /// Not linearizable if any partition is not; else unknown if any ran out of budget.
    pub verdict: Verdict,
    /// One entry per partition, ordered by key; partitions skipped after an early stop are absent.
    pub partitions: Vec<PartitionResult>,
    /// Search steps spent in total.
    pub steps: u64,
}

impl LinearizabilityResult {
    /// The first partition that is not linearizable, if any.
    pub fn first_failure(&self) -> Option<&PartitionResult> {
        self.partitions.iter().find(|p| p.verdict == Verdict::NotLinearizable)
    }
}

/// Checks a history against a model with the default budget.
pub fn check<M: Model>(model: &M, history: &[Operation<M::Input, M::Output>]) -> LinearizabilityResult {
    check_with(model, history, &Options::default())
}

/// Checks a history against a model.
pub fn check_with<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    options: &Options,
) -> LinearizabilityResult {
    let mut parts: BTreeMap<Option<String>, Vec<usize>> = BTreeMap::new();
    for (i, op) in history.iter().enumerate() {
        parts.entry(model.partition_key(&op.input)).or_default().push(i);
    }
    #[allow(clippy::disallowed_methods)] // an optional wall-clock budget; use max_steps for determinism
    let deadline = options.timeout.map(|t| Instant::now() + t);
    let mut results: Vec<Option<PartitionResult>> = vec![None; parts.len()];
    let mut steps = 0u64;
    let mut failed = false;
    let mut out_of_budget = false;
    // Iterative deepening across partitions: every unfinished partition gets a small step budget,
    // then eight times more, and so on. A partition that is hard but linearizable therefore cannot
    // starve an easy one that is not (Porcupine gets the same effect by checking partitions in
    // parallel and cancelling the rest at the first failure). Restarting wastes at most 1/7 of
    // the work.
    let mut round_budget: u64 = 1 << 14;
    loop {
        let mut unfinished = false;
        for (slot, (key, ops)) in results.iter_mut().zip(parts.iter()) {
            if slot.as_ref().is_some_and(|r| r.verdict != Verdict::Unknown) {
                continue;
            }
            let mut budget = Budget {
                deadline,
                max_steps: Some(match options.max_steps {
                    Some(max) => round_budget.min(max.saturating_sub(steps)),
                    None => round_budget,
                }),
                steps: 0,
                timed_out: false,
            };
            let mut result = Search::new(model, history, ops).run(&mut budget);
            steps += budget.steps;
            result.key = key.clone();
            if budget.timed_out || options.max_steps.is_some_and(|m| steps >= m) {
                out_of_budget = true;
            }
            match result.verdict {
                Verdict::NotLinearizable => failed = true,
                Verdict::Unknown => unfinished = true,
                Verdict::Linearizable => {}
            }
            *slot = Some(result);
            if out_of_budget || (failed && options.stop_on_first_failure) {
                break;
            }
        }
        if !unfinished || out_of_budget || failed {
            break;
        }
        round_budget = round_budget.saturating_mul(8);
    }
    let partitions: Vec<PartitionResult> = results.into_iter().flatten().collect();
    let verdict = if failed {
        Verdict::NotLinearizable
    } else if partitions.len() < parts.len() || partitions.iter().any(|p| p.verdict == Verdict::Unknown) {
        Verdict::Unknown
    } else {
        Verdict::Linearizable
    };
    LinearizabilityResult { verdict, partitions, steps }
}

struct Budget {
    deadline: Option<Instant>,
    max_steps: Option<u64>,
    steps: u64,
    timed_out: bool,
}

impl Budget {
    /// Counts one step; false when the budget is spent.
    fn tick(&mut self) -> bool {
        self.steps += 1;
        if let Some(max) = self.max_steps {
            if self.steps > max {
                return false;
            }
        }
        if self.steps % 1024 == 0 {
            if let Some(d) = self.deadline {
                #[allow(clippy::disallowed_methods)] // see check_with
                let now = Instant::now();
                if now >= d {
                    self.timed_out = true;
                    return false;
                }
            }
        }
        true
    }
}

/// A fixed-size bitset of linearized operations; the key of Lowe's cache.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
}

const NIL: usize = usize::MAX;
const HEAD: usize = 0;

struct Search<'a, M: Model> {
    model: &'a M,
    history: &'a [Operation<M::Input, M::Output>],
    /// Global index of each local operation.
    ops: &'a [usize],
    // The entry list: node 0 is the head sentinel, then one call and one return node per op.
    prev: Vec<usize>,
    next: Vec<usize>,
    /// For a call node, its return node.
    matching: Vec<usize>,
    /// Local operation of each node.
    op_of: Vec<usize>,
    is_call: Vec<bool>,
}

impl<'a, M: Model> Search<'a, M> {
    fn new(model: &'a M, history: &'a [Operation<M::Input, M::Output>], ops: &'a [usize]) -> Self {
        // (time, is_return, local op): calls sort before returns at equal times, so operations
        // that touch at one instant count as concurrent. Open operations return after everything.
        let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(ops.len() * 2);
        for (local, &g) in ops.iter().enumerate() {
            let op = &history[g];
            events.push((op.call, false, local));
            let ret = op.ret.map_or(u64::MAX, |r| r.max(op.call));
            events.push((ret, true, local));
        }
        events.sort();
        let n = events.len() + 1;
        let mut s = Search {
            model,
            history,
            ops,
            prev: vec![NIL; n],
            next: vec![NIL; n],
            matching: vec![NIL; n],
            op_of: vec![NIL; n],
            is_call: vec![false; n],
        };
        let mut call_node = vec![NIL; ops.len()];
        for (i, &(_, is_ret, local)) in events.iter().enumerate() {
            let node = i + 1;
            s.prev[node] = node - 1;
            s.next[node - 1] = node;
            s.op_of[node] = local;
            s.is_call[node] = !is_ret;
            if is_ret {
                s.matching[call_node[local]] = node;
            } else {
                call_node[local] = node;
            }
        }
        s
    }

    fn unlink(&mut self, x: usize) {
        let (p, n) = (self.prev[x], self.next[x]);
        self.next[p] = n;
        if n != NIL {
            self.prev[n] = p;
        }
    }

    fn relink(&mut self, x: usize) {
        let (p, n) = (self.prev[x], self.next[x]);
        self.next[p] = x;
        if n != NIL {
            self.prev[n] = x;
        }
    }

    fn lift(&mut self, call: usize) {
        self.unlink(call);
        self.unlink(self.matching[call]);
    }

    fn unlift(&mut self, call: usize) {
        self.relink(self.matching[call]);
        self.relink(call);
    }

    fn op(&self, local: usize) -> &Operation<M::Input, M::Output> {
        &self.history[self.ops[local]]
    }

    fn run(mut self, budget: &mut Budget) -> PartitionResult {
        let n = self.ops.len();
        let completed_total = (0..n).filter(|&l| self.op(l).ret.is_some()).count();
        let mut completed_done = 0;
        let mut linearized = Bits::new(n);
        let mut cache: FxHashSet<(Bits, M::State)> = FxHashSet::default();
        let mut stack: Vec<(usize, M::State)> = Vec::new();
        let mut state = self.model.init();
        let mut best: Vec<usize> = Vec::new();
        let mut best_state = state.clone();
        let mut stuck: Vec<usize> = Vec::new();
        let mut stuck_recorded = false;
        let start_steps = budget.steps;
        let mut entry = self.next[HEAD];

        let verdict = loop {
            if completed_done == completed_total {
                // Every completed operation is placed; the open ones may take effect later or
                // never, so nothing left can contradict the model.
                best = stack.iter().map(|(e, _)| self.op_of[*e]).collect();
                best_state = state.clone();
                break Verdict::Linearizable;
            }
            if !budget.tick() {
                break Verdict::Unknown;
            }
            debug_assert_ne!(entry, NIL, "a completed operation's return is still listed");
            let local = self.op_of[entry];
            if self.is_call[entry] {
                let op = self.op(local);
                if let Some(next_state) = self.model.step(&state, &op.input, op.output.as_ref()) {
                    linearized.set(local);
                    if cache.insert((linearized.clone(), next_state.clone())) {
                        if op.ret.is_some() {
                            completed_done += 1;
                        }
                        stack.push((entry, std::mem::replace(&mut state, next_state)));
                        self.lift(entry);
                        if stack.len() > best.len() {
                            best = stack.iter().map(|(e, _)| self.op_of[*e]).collect();
                            best_state = state.clone();
                            stuck_recorded = false;
                        }
                        entry = self.next[HEAD];
                        continue;
                    }
                    linearized.clear(local);
                }
                entry = self.next[entry];
            } else {
                if !stuck_recorded && stack.len() == best.len() {
                    // Deepest point reached: every call listed before this return was a candidate
                    // to go next, and none could.
                    stuck_recorded = true;
                    stuck.clear();
                    let mut e = self.next[HEAD];
                    while e != entry {
                        if self.is_call[e] {
                            stuck.push(self.op_of[e]);
                        }
                        e = self.next[e];
                    }
                    stuck.retain(|&l| l != local);
                    stuck.push(local);
                }
                let Some((call, prev_state)) = stack.pop() else {
                    break Verdict::NotLinearizable;
                };
                let undone = self.op_of[call];
                linearized.clear(undone);
                if self.op(undone).ret.is_some() {
                    completed_done -= 1;
                }
                state = prev_state;
                self.unlift(call);
                entry = self.next[call];
            }
        };
        if verdict == Verdict::Linearizable {
            stuck.clear();
        }
        PartitionResult {
            key: None,
            ops: self.ops.to_vec(),
            verdict,
            steps: budget.steps - start_steps,
            longest_prefix: best.iter().map(|&l| self.ops[l]).collect(),
            state_after_prefix: self.model.describe_state(&best_state),
            stuck: stuck.iter().map(|&l| self.ops[l]).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::models::{CasInput, CasOutput, CasRegister};

    fn op(call: u64, ret: u64, input: CasInput, output: CasOutput) -> Operation<CasInput, CasOutput> {
        Operation::new(0, input, call, ret, output)
    }

    #[test]
    fn concurrent_write_and_read() {
        let h = vec![
            op(0, 10, CasInput::Write(1), CasOutput::Write),
            op(1, 5, CasInput::Read, CasOutput::Read(Some(1))),
            op(6, 8, CasInput::Read, CasOutput::Read(Some(1))),
        ];
        assert_eq!(check(&CasRegister, &h).verdict, Verdict::Linearizable);
    }

    #[test]
    fn stale_read_after_write_returned() {
        let h = vec![op(0, 1, CasInput::Write(1), CasOutput::Write), op(2, 3, CasInput::Read, CasOutput::Read(None))];
        let r = check(&CasRegister, &h);
        assert_eq!(r.verdict, Verdict::NotLinearizable);
        let p = r.first_failure().unwrap();
        assert_eq!(p.longest_prefix, vec![0]);
        assert_eq!(p.stuck, vec![1]);
    }

    #[test]
    fn crashed_write_may_or_may_not_happen() {
        let crashed = Operation::crashed(1, CasInput::Write(7), 0);
        let seen = vec![crashed.clone(), op(5, 6, CasInput::Read, CasOutput::Read(Some(7)))];
        assert_eq!(check(&CasRegister, &seen).verdict, Verdict::Linearizable);
        let unseen = vec![crashed, op(5, 6, CasInput::Read, CasOutput::Read(None))];
        assert_eq!(check(&CasRegister, &unseen).verdict, Verdict::Linearizable);
    }

    #[test]
    fn budget_gives_unknown() {
        let mut h = Vec::new();
        for i in 0..12 {
            h.push(op(0, 100, CasInput::Write(i), CasOutput::Write));
        }
        h.push(op(101, 102, CasInput::Read, CasOutput::Read(Some(99))));
        let opts = Options { max_steps: Some(50), ..Options::default() };
        assert_eq!(check_with(&CasRegister, &h, &opts).verdict, Verdict::Unknown);
        assert_eq!(check(&CasRegister, &h).verdict, Verdict::NotLinearizable);
    }
}
