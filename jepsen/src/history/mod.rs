//! History types shared by the checkers, and parsers that build them from text.
//!
//! Two shapes of history exist because the two families of checkers ask different questions:
//! single-object linearizability needs each operation's call and return time ([`Operation`]),
//! while transactional checking needs the micro-operations of each transaction and the order of
//! events in the log ([`TxnEvent`], paired into [`Txn`]).

pub mod edn;
pub mod porcupine;

use crate::checker::FxHashMap as HashMap;

/// One client operation, as the linearizability checker sees it.
///
/// Times are abstract and only compared with each other (nanoseconds, ticks or line numbers all
/// work). An operation whose `call` is after another's `ret` must be ordered after it.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation<I, O> {
    /// The client (process) that issued the operation; used for reports only.
    pub process: u64,
    /// What was asked.
    pub input: I,
    /// When the request was sent.
    pub call: u64,
    /// When the response arrived; `None` if it never did (crash, timeout with unknown outcome).
    /// Such an operation stays open to the end of the history: it may take effect at any point
    /// after its call, or not at all.
    pub ret: Option<u64>,
    /// What came back; `None` when the result is unknown, in which case any result is accepted.
    pub output: Option<O>,
}

impl<I, O> Operation<I, O> {
    /// A completed operation with a known result.
    pub fn new(process: u64, input: I, call: u64, ret: u64, output: O) -> Self {
        Operation { process, input, call, ret: Some(ret), output: Some(output) }
    }

    /// An operation that never returned: its effect may or may not have happened.
    pub fn crashed(process: u64, input: I, call: u64) -> Self {
        Operation { process, input, call, ret: None, output: None }
    }
}

/// How a Jepsen event (or a transaction) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// The request was sent.
    Invoke,
    /// It definitely happened.
    Ok,
    /// It definitely did not happen.
    Fail,
    /// Unknown: it may or may not have happened.
    Info,
}

/// A micro-operation of a list-append transaction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MicroOp {
    /// `[:append k v]`: append `value` to the list at `key`.
    Append {
        /// The list's key.
        key: i64,
        /// The element appended; unique per key across the history.
        value: i64,
    },
    /// `[:r k [..]]`: read the whole list at `key`; `None` when not (yet) known, e.g. in an invoke.
    Read {
        /// The list's key.
        key: i64,
        /// The list read, oldest element first.
        value: Option<Vec<i64>>,
    },
}

impl MicroOp {
    /// The key this micro-op touches.
    pub fn key(&self) -> i64 {
        match self {
            MicroOp::Append { key, .. } | MicroOp::Read { key, .. } => *key,
        }
    }
}

/// One line of a transactional history.
#[derive(Clone, Debug, PartialEq)]
pub struct TxnEvent {
    /// The event's type.
    pub kind: EventType,
    /// The process, if the history names one (some hand-written histories do not).
    pub process: Option<u64>,
    /// `:time`, if present (informational: the order of events is their order in the log).
    pub time: Option<u64>,
    /// `:index`, if present.
    pub index: Option<u64>,
    /// The micro-ops: requested ones in an invoke, observed ones in an `:ok` completion.
    pub ops: Vec<MicroOp>,
}

/// A transaction: an invocation paired with its completion.
#[derive(Clone, Debug, PartialEq)]
pub struct Txn {
    /// Position of this transaction in the vector returned by [`pair_txns`].
    pub id: usize,
    /// The process that ran it.
    pub process: Option<u64>,
    /// `Ok`, `Fail` or `Info` (never `Invoke`); a transaction never completed is `Info`.
    pub outcome: EventType,
    /// Position of the invocation event in the log.
    pub invoke_pos: usize,
    /// Position of the completion event in the log, if it completed.
    pub complete_pos: Option<usize>,
    /// `:index` of the completion (or invocation, if none), for reports.
    pub index: Option<u64>,
    /// The micro-ops: the completion's if it is `Ok`, otherwise the invocation's.
    pub ops: Vec<MicroOp>,
}

/// Pairs each invocation with the next completion of the same process (events without a process
/// pair with each other, which suits sequential hand-written histories). A completion with no
/// open invocation is a transaction of its own; an invocation never completed becomes `Info`.
pub fn pair_txns(events: &[TxnEvent]) -> Vec<Txn> {
    let mut txns: Vec<Txn> = Vec::new();
    let mut open: HashMap<Option<u64>, usize> = HashMap::default();
    for (pos, ev) in events.iter().enumerate() {
        match ev.kind {
            EventType::Invoke => {
                let id = txns.len();
                txns.push(Txn {
                    id,
                    process: ev.process,
                    outcome: EventType::Info,
                    invoke_pos: pos,
                    complete_pos: None,
                    index: ev.index,
                    ops: ev.ops.clone(),
                });
                open.insert(ev.process, id);
            }
            kind => {
                let id = match open.remove(&ev.process) {
                    Some(id) => id,
                    None => {
                        let id = txns.len();
                        txns.push(Txn {
                            id,
                            process: ev.process,
                            outcome: kind,
                            invoke_pos: pos,
                            complete_pos: None,
                            index: ev.index,
                            ops: ev.ops.clone(),
                        });
                        id
                    }
                };
                let t = &mut txns[id];
                t.outcome = kind;
                t.complete_pos = Some(pos);
                t.index = ev.index.or(t.index);
                if kind == EventType::Ok {
                    // A completed read of nil is a read of the empty (absent) list.
                    t.ops = ev
                        .ops
                        .iter()
                        .map(|op| match op {
                            MicroOp::Read { key, value: None } => MicroOp::Read { key: *key, value: Some(Vec::new()) },
                            other => other.clone(),
                        })
                        .collect();
                }
            }
        }
    }
    txns
}
