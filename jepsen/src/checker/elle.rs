//! Elle-style checking of list-append transaction histories.
//!
//! Appending unique elements to lists makes the order of versions *observable*: a read of
//! `[1 2 3]` says 1 was appended before 2 before 3. From the longest read of each key we get the
//! version order, then dependency edges between transactions: ww (appended the next element),
//! wr (read the list ending in my element) and rw (read a version my element later extended),
//! optionally with process-order and real-time edges. A cycle in that graph is an anomaly, and the
//! kinds of edges on it say which one (Adya's G0, G1c, G-single, G2-item, with `-process` and
//! `-realtime` variants). Anomalies that are not cycles are found directly: aborted reads (G1a),
//! intermediate reads (G1b), lost updates, internal inconsistency, incompatible orders and
//! duplicated elements. Each isolation level forbids a subset, as Elle defines them.
//!
//! Cycle search: Tarjan's SCCs first (a cycle lives inside one), then for each anomaly class a
//! search restricted to that SCC that returns the shortest cycle through a pivot edge (BFS).
//! "Exactly one rw edge" is answered exactly with reachability bitsets over the condensation of the
//! non-rw subgraph; "two or more rw edges" is a BFS over (node, rw-count) states under a step budget
//! which, when spent, reports `cycle-search-timeout` instead of hanging.

use super::{FxHashMap, FxHashSet};
use crate::history::{pair_txns, EventType, MicroOp, Txn, TxnEvent};
use std::collections::BTreeMap;
use std::fmt;

/// An isolation level whose verdict the checker reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IsolationLevel {
    /// Adya PL-2: no G0, G1 (a, b, c).
    ReadCommitted,
    /// Adya PL-2.99: also no G2-item (hence no G-single or lost update on items).
    RepeatableRead,
    /// Also no G-single, lost update or internal inconsistency; G2-item (write skew) is allowed.
    SnapshotIsolation,
    /// Snapshot isolation that also respects real time (and process order).
    StrongSnapshotIsolation,
    /// Conflict serializability: no dependency cycle at all.
    Serializable,
    /// Serializable, and consistent with real-time (and process) order.
    StrictSerializable,
}

impl IsolationLevel {
    /// All levels, weakest first.
    pub const ALL: [IsolationLevel; 6] = [
        IsolationLevel::ReadCommitted,
        IsolationLevel::RepeatableRead,
        IsolationLevel::SnapshotIsolation,
        IsolationLevel::StrongSnapshotIsolation,
        IsolationLevel::Serializable,
        IsolationLevel::StrictSerializable,
    ];

    /// Elle's name for the level.
    pub fn name(self) -> &'static str {
        match self {
            IsolationLevel::ReadCommitted => "read-committed",
            IsolationLevel::RepeatableRead => "repeatable-read",
            IsolationLevel::SnapshotIsolation => "snapshot-isolation",
            IsolationLevel::StrongSnapshotIsolation => "strong-snapshot-isolation",
            IsolationLevel::Serializable => "serializable",
            IsolationLevel::StrictSerializable => "strict-serializable",
        }
    }

    /// Whether checking this level needs real-time and process edges.
    pub fn needs_realtime(self) -> bool {
        matches!(self, IsolationLevel::StrongSnapshotIsolation | IsolationLevel::StrictSerializable)
    }
}

/// The kinds of anomaly the checker names (Elle's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnomalyKind {
    /// Write cycle: ww edges only.
    G0,
    /// G0 closed by process order.
    G0Process,
    /// G0 closed by real-time order.
    G0Realtime,
    /// Aborted read: a committed transaction read a failed transaction's write.
    G1a,
    /// Intermediate read: a committed transaction read a version some transaction later overwrote
    /// itself.
    G1b,
    /// Circular information flow: ww and wr edges, at least one wr.
    G1c,
    /// G1c closed by process order.
    G1cProcess,
    /// G1c closed by real-time order.
    G1cRealtime,
    /// Read skew: a cycle with exactly one rw edge.
    GSingle,
    /// G-single closed by process order.
    GSingleProcess,
    /// G-single closed by real-time order.
    GSingleRealtime,
    /// Write skew on items: a cycle with two or more rw edges.
    G2Item,
    /// G2-item closed by process order.
    G2ItemProcess,
    /// G2-item closed by real-time order.
    G2ItemRealtime,
    /// Two committed transactions read the same version of a key and both appended to it.
    LostUpdate,
    /// A transaction's reads disagree with its own earlier reads and writes.
    Internal,
    /// Two reads of a key that cannot both be prefixes of one version order.
    IncompatibleOrder,
    /// A read list containing an element twice.
    DuplicateElements,
    /// A cycle search ran out of budget: the class it looked for may or may not be present.
    CycleSearchTimeout,
}

impl AnomalyKind {
    /// Elle's name for the anomaly.
    pub fn name(self) -> &'static str {
        use AnomalyKind::*;
        match self {
            G0 => "G0",
            G0Process => "G0-process",
            G0Realtime => "G0-realtime",
            G1a => "G1a",
            G1b => "G1b",
            G1c => "G1c",
            G1cProcess => "G1c-process",
            G1cRealtime => "G1c-realtime",
            GSingle => "G-single",
            GSingleProcess => "G-single-process",
            GSingleRealtime => "G-single-realtime",
            G2Item => "G2-item",
            G2ItemProcess => "G2-item-process",
            G2ItemRealtime => "G2-item-realtime",
            LostUpdate => "lost-update",
            Internal => "internal",
            IncompatibleOrder => "incompatible-order",
            DuplicateElements => "duplicate-elements",
            CycleSearchTimeout => "cycle-search-timeout",
        }
    }

    /// Whether `level` forbids this anomaly. This follows Elle's consistency-model graph: an
    /// anomaly is forbidden by a level if it, or an anomaly it implies, is proscribed by that level
    /// or a weaker one it implies. (Our G-single is on items, so it implies G2-item and is forbidden
    /// by repeatable read; incompatible order implies an aborted read.)
    pub fn forbidden_by(self, level: IsolationLevel) -> bool {
        use AnomalyKind::*;
        use IsolationLevel::*;
        match self {
            G0 | G1a | G1b | G1c | IncompatibleOrder | DuplicateElements => true,
            GSingle | LostUpdate => level != ReadCommitted,
            G2Item => matches!(level, RepeatableRead | Serializable | StrictSerializable),
            Internal => {
                matches!(level, SnapshotIsolation | StrongSnapshotIsolation | Serializable | StrictSerializable)
            }
            G0Process | G0Realtime | G1cProcess | G1cRealtime | GSingleProcess | GSingleRealtime => {
                matches!(level, StrongSnapshotIsolation | StrictSerializable)
            }
            G2ItemProcess | G2ItemRealtime => level == StrictSerializable,
            CycleSearchTimeout => false,
        }
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Kinds of dependency edge, as bits of a mask.
pub mod edge {
    /// Write-write: `b` appended the element after `a`'s.
    pub const WW: u8 = 1;
    /// Write-read: `b` read a version ending in `a`'s element.
    pub const WR: u8 = 2;
    /// Read-write (anti-dependency): `a` read a version that `b`'s element extended.
    pub const RW: u8 = 4;
    /// Process order: `b` is the next transaction of `a`'s process.
    pub const PROCESS: u8 = 8;
    /// Real time: `a` completed before `b` was invoked.
    pub const REALTIME: u8 = 16;
    /// Process and real-time edges.
    pub const EXTRA: u8 = PROCESS | REALTIME;

    /// The name of a single edge kind.
    pub fn name(kind: u8) -> &'static str {
        match kind {
            WW => "ww",
            WR => "wr",
            RW => "rw",
            PROCESS => "process",
            REALTIME => "realtime",
            _ => "?",
        }
    }
}

/// One edge of a reported cycle, with the data that justifies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Source transaction (index into [`ElleReport::txns`]).
    pub from: usize,
    /// Target transaction.
    pub to: usize,
    /// A single bit from [`edge`].
    pub kind: u8,
    /// The key involved (data edges only).
    pub key: Option<i64>,
    /// For ww: `from`'s element; for wr: the element read; for rw: the last element read
    /// (`None` for an empty read).
    pub value: Option<i64>,
    /// For ww and rw: `to`'s element that came next.
    pub next_value: Option<i64>,
}

/// Something the checker found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Anomaly {
    /// A dependency cycle; `txns` starts and ends with the same transaction.
    Cycle {
        /// Its class.
        kind: AnomalyKind,
        /// The transactions around the cycle.
        txns: Vec<usize>,
        /// One step per edge.
        steps: Vec<Step>,
    },
    /// G1a: `reader` observed `element`, appended by the failed transaction `writer`.
    AbortedRead {
        /// The committed reader.
        reader: usize,
        /// The failed writer.
        writer: usize,
        /// The key.
        key: i64,
        /// The aborted element.
        element: i64,
    },
    /// G1b: `reader` observed a version ending in `element`, which `writer` itself later extended.
    IntermediateRead {
        /// The reader.
        reader: usize,
        /// The writer, whose final append to `key` came after `element`.
        writer: usize,
        /// The key.
        key: i64,
        /// The intermediate element.
        element: i64,
    },
    /// Lost update: all of `txns` read `value` of `key` and then appended to it.
    LostUpdate {
        /// The key.
        key: i64,
        /// The version they all read.
        value: Vec<i64>,
        /// The committed transactions involved.
        txns: Vec<usize>,
    },
    /// Internal inconsistency inside one transaction.
    Internal {
        /// The transaction.
        txn: usize,
        /// The key.
        key: i64,
        /// What the read should have been (or, if `suffix_only`, should have ended with).
        expected: Vec<i64>,
        /// Whether only the suffix was known.
        suffix_only: bool,
        /// What was read.
        read: Vec<i64>,
    },
    /// Two reads of one key where neither is a prefix of the other.
    IncompatibleOrder {
        /// The key.
        key: i64,
        /// The two reads.
        values: [Vec<i64>; 2],
    },
    /// A read with an element twice.
    DuplicateElements {
        /// The reader.
        txn: usize,
        /// The key.
        key: i64,
        /// The read.
        value: Vec<i64>,
    },
    /// The search for `searching` in an SCC of `scc_size` transactions ran out of budget.
    CycleSearchTimeout {
        /// The class being searched for.
        searching: AnomalyKind,
        /// The size of the strongly connected component.
        scc_size: usize,
    },
}

impl Anomaly {
    /// Its class.
    pub fn kind(&self) -> AnomalyKind {
        match self {
            Anomaly::Cycle { kind, .. } => *kind,
            Anomaly::AbortedRead { .. } => AnomalyKind::G1a,
            Anomaly::IntermediateRead { .. } => AnomalyKind::G1b,
            Anomaly::LostUpdate { .. } => AnomalyKind::LostUpdate,
            Anomaly::Internal { .. } => AnomalyKind::Internal,
            Anomaly::IncompatibleOrder { .. } => AnomalyKind::IncompatibleOrder,
            Anomaly::DuplicateElements { .. } => AnomalyKind::DuplicateElements,
            Anomaly::CycleSearchTimeout { .. } => AnomalyKind::CycleSearchTimeout,
        }
    }
}

/// A level's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// No anomaly the level forbids was found, and every search finished.
    Valid,
    /// An anomaly the level forbids was found.
    Invalid,
    /// Nothing forbidden was found, but a search for a forbidden class timed out.
    Unknown,
}

/// What to check and how hard to look.
#[derive(Clone, Debug)]
pub struct ElleOptions {
    /// Levels to give verdicts for.
    pub levels: Vec<IsolationLevel>,
    /// Add real-time edges (a completed before b was invoked, by log order).
    pub realtime: bool,
    /// Add process-order edges.
    pub process: bool,
    /// Budget, in BFS state expansions, for each search of cycles with two or more rw edges.
    /// Counting steps rather than time keeps reports deterministic.
    pub max_search_steps: u64,
}

impl ElleOptions {
    /// Options for these levels; real-time and process edges are added iff a level needs them.
    pub fn for_levels(levels: &[IsolationLevel]) -> Self {
        ElleOptions {
            levels: levels.to_vec(),
            realtime: levels.iter().any(|l| l.needs_realtime()),
            process: levels.iter().any(|l| l.needs_realtime()),
            max_search_steps: 2_000_000,
        }
    }
}

impl Default for ElleOptions {
    /// Elle's default: strict serializability.
    fn default() -> Self {
        ElleOptions::for_levels(&[IsolationLevel::StrictSerializable])
    }
}

/// The checker's findings.
#[derive(Clone, Debug)]
pub struct ElleReport {
    /// The transactions, as paired from the history; anomalies index into this.
    pub txns: Vec<Txn>,
    /// Everything found.
    pub anomalies: Vec<Anomaly>,
    /// One verdict per requested level.
    pub verdicts: Vec<(IsolationLevel, Validity)>,
}

impl ElleReport {
    /// The distinct anomaly classes found, sorted by name (Elle's `:anomaly-types`).
    pub fn anomaly_types(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.anomalies.iter().map(|a| a.kind().name()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The verdict for one level, computed even if it was not requested.
    pub fn validity(&self, level: IsolationLevel) -> Validity {
        let kinds: Vec<AnomalyKind> = self.anomalies.iter().map(Anomaly::kind).collect();
        if kinds.iter().any(|k| k.forbidden_by(level)) {
            return Validity::Invalid;
        }
        let timed_out = self.anomalies.iter().any(|a| match a {
            Anomaly::CycleSearchTimeout { searching, .. } => searching.forbidden_by(level),
            _ => false,
        });
        if timed_out {
            Validity::Unknown
        } else {
            Validity::Valid
        }
    }

    /// Whether every requested level is valid.
    pub fn is_valid(&self) -> bool {
        self.verdicts.iter().all(|(_, v)| *v == Validity::Valid)
    }
}

/// Checks a list-append history given as events (invocations and completions).
pub fn check_events(events: &[TxnEvent], options: &ElleOptions) -> ElleReport {
    check_txns(pair_txns(events), options)
}

/// Dependency graph: adjacency with edge masks, plus why each edge exists.
struct Graph {
    adj: Vec<Vec<(u32, u8)>>,
    why: FxHashMap<(u32, u32, u8), Step>,
}

impl Graph {
    fn add(&mut self, step: Step) {
        let (a, b) = (step.from as u32, step.to as u32);
        if a == b {
            return;
        }
        let kind = step.kind;
        match self.adj[a as usize].iter_mut().find(|(t, _)| *t == b) {
            Some((_, mask)) => *mask |= kind,
            None => self.adj[a as usize].push((b, kind)),
        }
        self.why.entry((a, b, kind)).or_insert(step);
    }
}

/// Checks paired transactions.
pub fn check_txns(txns: Vec<Txn>, options: &ElleOptions) -> ElleReport {
    let mut anomalies = Vec::new();
    let committed = |t: &Txn| t.outcome == EventType::Ok;

    // Who appended each element, and each transaction's final append per key.
    let mut writer: FxHashMap<(i64, i64), usize> = FxHashMap::default();
    let mut final_append: FxHashMap<(usize, i64), i64> = FxHashMap::default();
    for t in &txns {
        for op in &t.ops {
            if let MicroOp::Append { key, value } = op {
                writer.entry((*key, *value)).or_insert(t.id);
                final_append.insert((t.id, *key), *value);
            }
        }
    }

    // External reads (a key's first read, before the transaction appends to it), per committed
    // transaction; plus the per-transaction checks.
    let mut external: Vec<(usize, i64, &Vec<i64>)> = Vec::new();
    let mut lost_update: BTreeMap<(i64, Vec<i64>), Vec<usize>> = BTreeMap::new();
    let mut reads_by_key: BTreeMap<i64, Vec<&Vec<i64>>> = BTreeMap::new();
    for t in txns.iter().filter(|t| committed(t)) {
        check_internal(t, &mut anomalies);
        let mut touched: FxHashSet<i64> = FxHashSet::default();
        let mut ext_read_here: FxHashMap<i64, &Vec<i64>> = FxHashMap::default();
        for op in &t.ops {
            match op {
                MicroOp::Append { key, .. } => {
                    if touched.insert(*key) {
                        continue;
                    }
                    if let Some(v) = ext_read_here.remove(key) {
                        // Read, then appended: a read-modify-write of this version.
                        lost_update.entry((*key, v.clone())).or_default().push(t.id);
                    }
                }
                MicroOp::Read { key, value: Some(v) } => {
                    reads_by_key.entry(*key).or_default().push(v);
                    let mut seen = FxHashSet::default();
                    if !v.iter().all(|e| seen.insert(*e)) {
                        anomalies.push(Anomaly::DuplicateElements { txn: t.id, key: *key, value: v.clone() });
                    }
                    for e in v {
                        if let Some(&w) = writer.get(&(*key, *e)) {
                            if txns[w].outcome == EventType::Fail {
                                anomalies.push(Anomaly::AbortedRead {
                                    reader: t.id,
                                    writer: w,
                                    key: *key,
                                    element: *e,
                                });
                            }
                        }
                    }
                    if let Some(&last) = v.last() {
                        if let Some(&w) = writer.get(&(*key, last)) {
                            let fin = final_append.get(&(w, *key)).copied();
                            if w != t.id && txns[w].outcome != EventType::Fail && fin != Some(last) {
                                anomalies.push(Anomaly::IntermediateRead {
                                    reader: t.id,
                                    writer: w,
                                    key: *key,
                                    element: last,
                                });
                            }
                        }
                    }
                    if touched.insert(*key) {
                        external.push((t.id, *key, v));
                        ext_read_here.insert(*key, v);
                    }
                }
                MicroOp::Read { value: None, .. } => {}
            }
        }
    }
    for ((key, value), ts) in lost_update {
        if ts.len() > 1 {
            anomalies.push(Anomaly::LostUpdate { key, value, txns: ts });
        }
    }

    // Version orders: the longest read of each key; every other read must be a prefix of it.
    let mut order: FxHashMap<i64, &Vec<i64>> = FxHashMap::default();
    for (key, reads) in &reads_by_key {
        let longest = reads.iter().max_by_key(|r| r.len()).copied().expect("non-empty");
        let mut reported = false;
        for r in reads {
            if !reported && !longest.starts_with(r) {
                anomalies.push(Anomaly::IncompatibleOrder { key: *key, values: [(*r).clone(), longest.clone()] });
                reported = true;
            }
        }
        order.insert(*key, longest);
    }

    // The graph. Failed transactions never took effect, so they are not part of it.
    let in_graph = |id: usize| txns[id].outcome != EventType::Fail;
    let mut g = Graph { adj: vec![Vec::new(); txns.len()], why: FxHashMap::default() };
    for (key, ord) in &order {
        for pair in ord.windows(2) {
            if let (Some(&a), Some(&b)) = (writer.get(&(*key, pair[0])), writer.get(&(*key, pair[1]))) {
                if in_graph(a) && in_graph(b) {
                    g.add(Step {
                        from: a,
                        to: b,
                        kind: edge::WW,
                        key: Some(*key),
                        value: Some(pair[0]),
                        next_value: Some(pair[1]),
                    });
                }
            }
        }
    }
    for &(t, key, v) in &external {
        if let Some(&last) = v.last() {
            if let Some(&w) = writer.get(&(key, last)) {
                if in_graph(w) {
                    g.add(Step { from: w, to: t, kind: edge::WR, key: Some(key), value: Some(last), next_value: None });
                }
            }
        }
        let Some(ord) = order.get(&key) else { continue };
        if ord.len() > v.len() && ord.starts_with(v) {
            let next = ord[v.len()];
            if let Some(&w) = writer.get(&(key, next)) {
                if in_graph(w) {
                    g.add(Step {
                        from: t,
                        to: w,
                        kind: edge::RW,
                        key: Some(key),
                        value: v.last().copied(),
                        next_value: Some(next),
                    });
                }
            }
        }
    }
    // A committed append missing from the longest read of its key must have come after that
    // read's version (the list only grows), so it follows the version's last writer (ww, possibly
    // via unobserved versions in between), and anyone who read exactly that version missed it (rw).
    let mut unobserved: FxHashMap<i64, Vec<(usize, i64)>> = FxHashMap::default();
    for t in txns.iter().filter(|t| committed(t)) {
        let mut seen_keys: FxHashSet<i64> = FxHashSet::default();
        for op in &t.ops {
            if let MicroOp::Append { key, value } = op {
                if let Some(ord) = order.get(key) {
                    if !ord.contains(value) && seen_keys.insert(*key) {
                        unobserved.entry(*key).or_default().push((t.id, *value));
                    }
                }
            }
        }
    }
    for (key, late) in &unobserved {
        let ord = order[key];
        if let Some(&last) = ord.last() {
            if let Some(&w) = writer.get(&(*key, last)) {
                if in_graph(w) {
                    for &(t, e) in late {
                        g.add(Step {
                            from: w,
                            to: t,
                            kind: edge::WW,
                            key: Some(*key),
                            value: Some(last),
                            next_value: Some(e),
                        });
                    }
                }
            }
        }
    }
    for &(r, key, v) in &external {
        let (Some(late), Some(ord)) = (unobserved.get(&key), order.get(&key)) else { continue };
        if v.len() == ord.len() && ord.starts_with(v) {
            for &(t, e) in late {
                g.add(Step {
                    from: r,
                    to: t,
                    kind: edge::RW,
                    key: Some(key),
                    value: v.last().copied(),
                    next_value: Some(e),
                });
            }
        }
    }
    if options.process {
        let mut last_of: FxHashMap<u64, usize> = FxHashMap::default();
        let mut by_invoke: Vec<&Txn> = txns.iter().filter(|t| in_graph(t.id)).collect();
        by_invoke.sort_by_key(|t| t.invoke_pos);
        for t in by_invoke {
            let Some(p) = t.process else { continue };
            if let Some(prev) = last_of.insert(p, t.id) {
                g.add(Step { from: prev, to: t.id, kind: edge::PROCESS, key: None, value: None, next_value: None });
            }
        }
    }
    if options.realtime {
        add_realtime_edges(&txns, &mut g);
    }

    find_cycles(&txns, &g, options, &mut anomalies);

    let mut report = ElleReport { txns, anomalies, verdicts: Vec::new() };
    report.verdicts = options.levels.iter().map(|&l| (l, report.validity(l))).collect();
    report
}

/// Checks that a transaction's reads agree with its own earlier reads and appends.
fn check_internal(t: &Txn, anomalies: &mut Vec<Anomaly>) {
    // Per key: the full value if a read made it known, and the appends since.
    let mut known: FxHashMap<i64, (Option<Vec<i64>>, Vec<i64>)> = FxHashMap::default();
    for op in &t.ops {
        match op {
            MicroOp::Append { key, value } => {
                let (full, since) = known.entry(*key).or_default();
                match full {
                    Some(f) => f.push(*value),
                    None => since.push(*value),
                }
            }
            MicroOp::Read { key, value: Some(v) } => {
                let (full, since) = known.entry(*key).or_default();
                let bad = match full {
                    Some(f) => (f != v).then(|| (f.clone(), false)),
                    None if !since.is_empty() && !v.ends_with(since) => Some((since.clone(), true)),
                    None => None,
                };
                if let Some((expected, suffix_only)) = bad {
                    anomalies.push(Anomaly::Internal { txn: t.id, key: *key, expected, suffix_only, read: v.clone() });
                }
                *full = Some(v.clone());
                since.clear();
            }
            MicroOp::Read { value: None, .. } => {}
        }
    }
}

/// Real-time edges, transitively reduced: each transaction gets an edge from every committed
/// transaction on the "frontier" (completed, and not yet known to precede another completed one)
/// when it was invoked. Reachability equals the full real-time order at a fraction of the edges.
fn add_realtime_edges(txns: &[Txn], g: &mut Graph) {
    let mut events: Vec<(usize, u8, usize)> = Vec::new();
    for t in txns.iter().filter(|t| t.outcome != EventType::Fail) {
        events.push((t.invoke_pos, 0, t.id));
        if t.outcome == EventType::Ok {
            events.push((t.complete_pos.unwrap_or(t.invoke_pos), 1, t.id));
        }
    }
    events.sort_unstable();
    let mut frontier: Vec<usize> = Vec::new();
    let mut preds: FxHashMap<usize, Vec<usize>> = FxHashMap::default();
    for (_, is_complete, id) in events {
        if is_complete == 0 {
            for &p in &frontier {
                g.add(Step { from: p, to: id, kind: edge::REALTIME, key: None, value: None, next_value: None });
            }
            preds.insert(id, frontier.clone());
        } else {
            let before = preds.remove(&id).unwrap_or_default();
            frontier.retain(|x| !before.contains(x));
            frontier.push(id);
        }
    }
}

/// A strongly connected component as a local graph (nodes renumbered 0..n).
struct Local {
    nodes: Vec<usize>,
    adj: Vec<Vec<(u32, u8)>>,
}

/// Tarjan's algorithm over edges whose mask intersects `mask`. Returns (component of each node,
/// number of components); components are numbered in the order Tarjan completes them, so every
/// edge between components goes from a higher number to a lower one.
fn tarjan(adj: &[Vec<(u32, u8)>], mask: u8) -> (Vec<u32>, u32) {
    const UNSEEN: u32 = u32::MAX;
    let n = adj.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut comp = vec![UNSEEN; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut call: Vec<(u32, usize)> = Vec::new();
    let mut next_index = 0u32;
    let mut ncomp = 0u32;
    for root in 0..n as u32 {
        if index[root as usize] != UNSEEN {
            continue;
        }
        call.push((root, 0));
        index[root as usize] = next_index;
        low[root as usize] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        while let Some(&mut (v, ref mut ei)) = call.last_mut() {
            let vu = v as usize;
            if *ei < adj[vu].len() {
                let (w, m) = adj[vu][*ei];
                *ei += 1;
                if m & mask == 0 {
                    continue;
                }
                let wu = w as usize;
                if index[wu] == UNSEEN {
                    index[wu] = next_index;
                    low[wu] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[wu] = true;
                    call.push((w, 0));
                } else if on_stack[wu] {
                    low[vu] = low[vu].min(index[wu]);
                }
            } else {
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent as usize] = low[parent as usize].min(low[vu]);
                }
                if low[vu] == index[vu] {
                    while let Some(w) = stack.pop() {
                        on_stack[w as usize] = false;
                        comp[w as usize] = ncomp;
                        if w == v {
                            break;
                        }
                    }
                    ncomp += 1;
                }
            }
        }
    }
    (comp, ncomp)
}

/// Preferred kind when an edge has several allowed ones: data edges before order edges.
fn pick_kind(mask: u8) -> u8 {
    for k in [edge::WW, edge::WR, edge::PROCESS, edge::REALTIME, edge::RW] {
        if mask & k != 0 {
            return k;
        }
    }
    0
}

/// Shortest path `from` → `to` over edges in `allowed`, as (node, kind-used) hops.
fn bfs_path(local: &Local, from: u32, to: u32, allowed: u8) -> Option<Vec<(u32, u8)>> {
    let n = local.adj.len();
    let mut parent: Vec<(u32, u8)> = vec![(u32::MAX, 0); n];
    let mut queue = std::collections::VecDeque::new();
    parent[from as usize] = (from, 0);
    queue.push_back(from);
    while let Some(v) = queue.pop_front() {
        if v == to {
            let mut path = Vec::new();
            let mut x = to;
            while x != from {
                let (p, k) = parent[x as usize];
                path.push((x, k));
                x = p;
            }
            path.reverse();
            return Some(path);
        }
        for &(w, m) in &local.adj[v as usize] {
            if m & allowed != 0 && parent[w as usize].0 == u32::MAX {
                parent[w as usize] = (v, pick_kind(m & allowed));
                queue.push_back(w);
            }
        }
    }
    None
}

/// A found cycle in local numbering: the first node, then each hop (target, kind).
struct FoundCycle {
    start: u32,
    hops: Vec<(u32, u8)>,
}

/// Shortest cycle through some edge of kind `pivot` whose ends are in one SCC of `allowed`.
fn cycle_via_sub_scc(local: &Local, allowed: u8, pivot: u8) -> Option<FoundCycle> {
    let (comp, _) = tarjan(&local.adj, allowed);
    for (u, out) in local.adj.iter().enumerate() {
        for &(v, m) in out {
            if m & pivot != 0 && m & allowed != 0 && comp[u] == comp[v as usize] {
                let back = bfs_path(local, v, u as u32, allowed)?;
                let mut hops = vec![(v, pick_kind(m & pivot))];
                hops.extend(back);
                return Some(FoundCycle { start: u as u32, hops });
            }
        }
    }
    None
}

/// Most components for which reachability bitsets are built (a k×k bit matrix: 16 MiB here).
const MAX_REACH_COMPONENTS: usize = 11_585;

/// A cycle with exactly one rw edge: an rw edge `u → v` with `v` reaching `u` through `allowed`
/// (which excludes rw). Exact, via reachability bitsets over the condensation of `allowed`.
/// Falls back to a budgeted BFS per rw edge when the condensation is too large.
fn cycle_single_rw(local: &Local, allowed: u8, budget: &mut u64) -> Result<Option<FoundCycle>, ()> {
    let (comp, ncomp) = tarjan(&local.adj, allowed);
    let k = ncomp as usize;
    let rw_edges: Vec<(u32, u32)> = local
        .adj
        .iter()
        .enumerate()
        .flat_map(|(u, out)| out.iter().filter(|(_, m)| m & edge::RW != 0).map(move |&(v, _)| (u as u32, v)))
        .collect();
    if rw_edges.is_empty() {
        return Ok(None);
    }
    let found_edge = if k <= MAX_REACH_COMPONENTS {
        let words = k.div_ceil(64);
        let mut reach = vec![0u64; k * words];
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); k];
        for (v, &c) in comp.iter().enumerate() {
            members[c as usize].push(v as u32);
        }
        // Components complete in reverse topological order: successors are numbered lower.
        for c in 0..k {
            reach[c * words + c / 64] |= 1 << (c % 64);
            for &v in &members[c] {
                for &(w, m) in &local.adj[v as usize] {
                    let d = comp[w as usize] as usize;
                    if m & allowed != 0 && d != c {
                        let (lo, hi) = reach.split_at_mut(c * words);
                        let src = &lo[d * words..d * words + words];
                        for (dst, s) in hi[..words].iter_mut().zip(src) {
                            *dst |= s;
                        }
                    }
                }
            }
        }
        rw_edges.iter().copied().find(|&(u, v)| {
            let (cu, cv) = (comp[u as usize] as usize, comp[v as usize] as usize);
            reach[cv * words + cu / 64] & (1 << (cu % 64)) != 0
        })
    } else {
        let mut hit = None;
        for &(u, v) in &rw_edges {
            let cost = local.adj.len() as u64 * 2;
            if *budget < cost {
                return Err(());
            }
            *budget -= cost;
            if bfs_path(local, v, u, allowed).is_some() {
                hit = Some((u, v));
                break;
            }
        }
        hit
    };
    Ok(found_edge.map(|(u, v)| {
        let back = bfs_path(local, v, u, allowed).expect("reachable");
        let mut hops = vec![(v, edge::RW)];
        hops.extend(back);
        FoundCycle { start: u, hops }
    }))
}

/// A cycle with two or more rw edges over `allowed` (which includes rw): for each rw edge `u → v`,
/// a BFS over (node, rw edges so far, capped at 2) from `v` back to `u` with count 2.
fn cycle_multi_rw(local: &Local, allowed: u8, budget: &mut u64) -> Result<Option<FoundCycle>, ()> {
    let n = local.adj.len();
    let (comp, _) = tarjan(&local.adj, allowed);
    let mut parent: Vec<(u32, u8)> = vec![(u32::MAX, 0); n * 2];
    let mut touched: Vec<usize> = Vec::new();
    let mut queue = std::collections::VecDeque::new();
    for (u, out) in local.adj.iter().enumerate() {
        for &(v, m) in out {
            if m & edge::RW == 0 || comp[u] != comp[v as usize] {
                continue;
            }
            for s in touched.drain(..) {
                parent[s] = (u32::MAX, 0);
            }
            queue.clear();
            // State s = node * 2 + (rw count - 1).
            let start = v as usize * 2;
            parent[start] = (start as u32, 0);
            touched.push(start);
            queue.push_back(start);
            let goal = u * 2 + 1;
            while let Some(s) = queue.pop_front() {
                if *budget == 0 {
                    return Err(());
                }
                *budget -= 1;
                if s == goal {
                    let mut hops = Vec::new();
                    let mut x = goal;
                    while x != start {
                        let (p, k) = parent[x];
                        hops.push(((x / 2) as u32, k));
                        x = p as usize;
                    }
                    hops.push((v, edge::RW));
                    hops.reverse();
                    // The walk may revisit a node (e.g. go around a one-rw cycle twice). Split it
                    // into simple cycles and keep one that really has two rw edges, if any.
                    let found = split_simple(u as u32, hops)
                        .into_iter()
                        .find(|c| c.hops.iter().filter(|(_, k)| *k == edge::RW).count() >= 2);
                    if found.is_some() {
                        return Ok(found);
                    }
                    break;
                }
                let (x, c) = (s / 2, s % 2);
                for &(w, wm) in &local.adj[x] {
                    let wm = wm & allowed;
                    if wm == 0 {
                        continue;
                    }
                    // Take the edge as rw (count up) and/or as a non-rw kind.
                    let mut moves = [(usize::MAX, 0u8); 2];
                    if wm & edge::RW != 0 {
                        moves[0] = (w as usize * 2 + 1, edge::RW);
                    }
                    if wm & !edge::RW != 0 {
                        moves[1] = (w as usize * 2 + c, pick_kind(wm & !edge::RW));
                    }
                    for (t, k) in moves {
                        if t != usize::MAX && parent[t].0 == u32::MAX {
                            parent[t] = (s as u32, k);
                            touched.push(t);
                            queue.push_back(t);
                        }
                    }
                }
            }
        }
    }
    Ok(None)
}

/// Splits a closed walk into simple cycles.
fn split_simple(start: u32, hops: Vec<(u32, u8)>) -> Vec<FoundCycle> {
    let mut nodes = vec![start];
    let mut kinds: Vec<u8> = Vec::new();
    let mut pos: FxHashMap<u32, usize> = FxHashMap::default();
    pos.insert(start, 0);
    let mut out = Vec::new();
    for (n, k) in hops {
        kinds.push(k);
        if let Some(&i) = pos.get(&n) {
            let cycle_hops: Vec<(u32, u8)> =
                nodes[i + 1..].iter().copied().chain(std::iter::once(n)).zip(kinds[i..].iter().copied()).collect();
            for x in &nodes[i + 1..] {
                pos.remove(x);
            }
            nodes.truncate(i + 1);
            kinds.truncate(i);
            out.push(FoundCycle { start: n, hops: cycle_hops });
        } else {
            pos.insert(n, nodes.len());
            nodes.push(n);
        }
    }
    out
}

/// Names a cycle by the kinds of its edges.
fn classify(kinds: &[u8]) -> AnomalyKind {
    use AnomalyKind::*;
    let rw = kinds.iter().filter(|&&k| k == edge::RW).count();
    let wr = kinds.contains(&edge::WR);
    let rt = kinds.contains(&edge::REALTIME);
    let pr = kinds.contains(&edge::PROCESS);
    let base = match rw {
        0 if wr => 1,
        0 => 0,
        1 => 2,
        _ => 3,
    };
    let table = [
        [G0, G1c, GSingle, G2Item],
        [G0Process, G1cProcess, GSingleProcess, G2ItemProcess],
        [G0Realtime, G1cRealtime, GSingleRealtime, G2ItemRealtime],
    ];
    let variant = if rt {
        2
    } else if pr {
        1
    } else {
        0
    };
    table[variant][base]
}

fn to_anomaly(local: &Local, g: &Graph, c: FoundCycle, realtime: Option<&[Txn]>) -> Anomaly {
    let mut txns = vec![local.nodes[c.start as usize]];
    let mut steps = Vec::new();
    let mut kinds = Vec::new();
    let mut prev = c.start;
    for (node, kind) in c.hops {
        let (a, b) = (local.nodes[prev as usize], local.nodes[node as usize]);
        let step = g.why.get(&(a as u32, b as u32, kind)).cloned().unwrap_or(Step {
            from: a,
            to: b,
            kind,
            key: None,
            value: None,
            next_value: None,
        });
        steps.push(step);
        kinds.push(kind);
        txns.push(b);
        prev = node;
    }
    let kind = classify(&kinds);
    if let Some(all) = realtime {
        shortcut_realtime(all, kind, &mut txns, &mut steps);
    }
    Anomaly::Cycle { kind, txns, steps }
}

/// Real-time edges are transitively reduced, so a BFS path can wander through a long chain of
/// them. Replace any stretch of the cycle by one direct real-time edge where the order holds and
/// the cycle keeps its class, which makes reports far shorter.
fn shortcut_realtime(all: &[Txn], kind: AnomalyKind, txns: &mut Vec<usize>, steps: &mut Vec<Step>) {
    let precedes = |a: usize, b: usize| {
        all[a].outcome == EventType::Ok && all[a].complete_pos.is_some_and(|c| c < all[b].invoke_pos)
    };
    let mut i = 0;
    while i + 1 < steps.len() {
        for j in (i + 2..=steps.len()).rev() {
            if (i == 0 && j == steps.len()) || !precedes(txns[i], txns[j]) {
                continue;
            }
            let kinds: Vec<u8> = steps[..i]
                .iter()
                .map(|s| s.kind)
                .chain(std::iter::once(edge::REALTIME))
                .chain(steps[j..].iter().map(|s| s.kind))
                .collect();
            if classify(&kinds) == kind {
                let rt =
                    Step { from: txns[i], to: txns[j], kind: edge::REALTIME, key: None, value: None, next_value: None };
                steps.splice(i..j, std::iter::once(rt));
                txns.drain(i + 1..j);
                break;
            }
        }
        i += 1;
    }
}

fn find_cycles(txns: &[Txn], g: &Graph, options: &ElleOptions, anomalies: &mut Vec<Anomaly>) {
    let (comp, ncomp) = tarjan(&g.adj, 0xff);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); ncomp as usize];
    for (v, &c) in comp.iter().enumerate() {
        if txns[v].outcome != EventType::Fail {
            members[c as usize].push(v);
        }
    }
    let extra = if options.realtime || options.process { edge::EXTRA } else { 0 };
    for nodes in members.into_iter().filter(|m| m.len() > 1) {
        let mut local_id: FxHashMap<usize, u32> = FxHashMap::default();
        for (i, &v) in nodes.iter().enumerate() {
            local_id.insert(v, i as u32);
        }
        let adj = nodes
            .iter()
            .map(|&v| g.adj[v].iter().filter_map(|&(w, m)| local_id.get(&(w as usize)).map(|&lw| (lw, m))).collect())
            .collect();
        let local = Local { nodes, adj };
        let has_extra = extra != 0 && local.adj.iter().flatten().any(|(_, m)| m & extra != 0);
        let scc_size = local.nodes.len();
        let mut found: Vec<AnomalyKind> = Vec::new();
        let push = |c: Option<FoundCycle>, found: &mut Vec<AnomalyKind>, anomalies: &mut Vec<Anomaly>| {
            if let Some(c) = c {
                let a = to_anomaly(&local, g, c, options.realtime.then_some(txns));
                found.push(a.kind());
                anomalies.push(a);
            }
        };
        let mut budget = options.max_search_steps;
        let timeout = |searching: AnomalyKind, anomalies: &mut Vec<Anomaly>| {
            anomalies.push(Anomaly::CycleSearchTimeout { searching, scc_size });
        };

        // Pure data-dependency cycles, most severe first.
        push(cycle_via_sub_scc(&local, edge::WW, edge::WW), &mut found, anomalies);
        push(cycle_via_sub_scc(&local, edge::WW | edge::WR, edge::WR), &mut found, anomalies);
        match cycle_single_rw(&local, edge::WW | edge::WR, &mut budget) {
            Ok(c) => push(c, &mut found, anomalies),
            Err(()) => timeout(AnomalyKind::GSingle, anomalies),
        }
        let mut budget = options.max_search_steps;
        match cycle_multi_rw(&local, edge::WW | edge::WR | edge::RW, &mut budget) {
            Ok(c) => push(c, &mut found, anomalies),
            Err(()) => timeout(AnomalyKind::G2Item, anomalies),
        }
        if !has_extra {
            continue;
        }
        // The same classes closed by process or real-time order; a class already found without
        // them implies its variants, so only absent classes are searched (which also guarantees
        // that what is found uses an order edge).
        let has = |found: &[AnomalyKind], k: AnomalyKind| found.contains(&k);
        if !has(&found, AnomalyKind::G0) {
            push(cycle_via_sub_scc(&local, edge::WW | extra, extra), &mut found, anomalies);
        }
        if !has(&found, AnomalyKind::G1c) {
            push(cycle_via_sub_scc(&local, edge::WW | edge::WR | extra, edge::WR), &mut found, anomalies);
        }
        if !has(&found, AnomalyKind::GSingle) {
            let mut budget = options.max_search_steps;
            match cycle_single_rw(&local, edge::WW | edge::WR | extra, &mut budget) {
                Ok(c) => push(c, &mut found, anomalies),
                Err(()) => timeout(AnomalyKind::GSingleRealtime, anomalies),
            }
        }
        if !has(&found, AnomalyKind::G2Item) {
            let mut budget = options.max_search_steps;
            match cycle_multi_rw(&local, edge::WW | edge::WR | edge::RW | extra, &mut budget) {
                Ok(c) => push(c, &mut found, anomalies),
                Err(()) => timeout(AnomalyKind::G2ItemRealtime, anomalies),
            }
        }
    }
}
