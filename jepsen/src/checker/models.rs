//! Sequential specifications for the linearizability checker.
//!
//! Each model says, for one state and one operation (input and observed output), whether the
//! operation is legal there and what the state becomes. An unknown output (`None`: the client
//! crashed or timed out) is always legal; the transition then follows from the input alone, which
//! is what lets a crashed write "maybe" take effect. Keyed models partition by key, because
//! linearizability is compositional: a history is linearizable iff each key's sub-history is.

use super::linearizable::Model;
use std::collections::{BTreeMap, BTreeSet};

/// The etcd compare-and-set register from the Porcupine/Knossos test suite: one register, initial
/// value nil, with read, write and cas.
#[derive(Clone, Copy, Debug, Default)]
pub struct CasRegister;

/// An operation on [`CasRegister`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CasInput {
    /// Read the register.
    Read,
    /// Set the register.
    Write(i64),
    /// Set it to `to` iff it currently holds `from`.
    Cas {
        /// Expected current value.
        from: i64,
        /// New value.
        to: i64,
    },
}

/// The result of a [`CasInput`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CasOutput {
    /// The value read; `None` means the register was absent (nil).
    Read(Option<i64>),
    /// The write was acknowledged.
    Write,
    /// Whether the cas succeeded.
    Cas(bool),
}

impl Model for CasRegister {
    type State = Option<i64>;
    type Input = CasInput;
    type Output = CasOutput;

    fn init(&self) -> Option<i64> {
        None
    }

    fn step(&self, state: &Option<i64>, input: &CasInput, output: Option<&CasOutput>) -> Option<Option<i64>> {
        match (input, output) {
            (CasInput::Read, None) => Some(*state),
            (CasInput::Read, Some(CasOutput::Read(v))) => (v == state).then_some(*state),
            (CasInput::Write(v), None | Some(CasOutput::Write)) => Some(Some(*v)),
            (CasInput::Cas { from, to }, out) => {
                let matches = *state == Some(*from);
                match out {
                    None => Some(if matches { Some(*to) } else { *state }),
                    Some(CasOutput::Cas(true)) => matches.then_some(Some(*to)),
                    Some(CasOutput::Cas(false)) => (!matches).then_some(*state),
                    Some(_) => None,
                }
            }
            _ => None,
        }
    }

    fn describe_operation(&self, input: &CasInput, output: Option<&CasOutput>) -> String {
        let out = match output {
            None => "?".to_string(),
            Some(CasOutput::Read(None)) => "nil".to_string(),
            Some(CasOutput::Read(Some(v))) => v.to_string(),
            Some(CasOutput::Write) => "ok".to_string(),
            Some(CasOutput::Cas(ok)) => if *ok { "ok" } else { "fail" }.to_string(),
        };
        match input {
            CasInput::Read => format!("read -> {out}"),
            CasInput::Write(v) => format!("write({v}) -> {out}"),
            CasInput::Cas { from, to } => format!("cas({from}, {to}) -> {out}"),
        }
    }

    fn describe_state(&self, state: &Option<i64>) -> String {
        match state {
            None => "nil".to_string(),
            Some(v) => v.to_string(),
        }
    }
}

/// An operation on a keyed Redis model: the key plus the command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyed<C> {
    /// The Redis key.
    pub key: String,
    /// The command against it.
    pub cmd: C,
}

impl<C> Keyed<C> {
    /// Builds a keyed command.
    pub fn new(key: impl Into<String>, cmd: C) -> Self {
        Keyed { key: key.into(), cmd }
    }
}

/// SET's condition flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetCondition {
    /// Plain SET: always applies.
    Always,
    /// SET NX: only if the key is absent.
    Nx,
    /// SET XX: only if the key exists.
    Xx,
}

/// Redis string register commands: GET, SET [NX|XX], DEL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterCmd {
    /// `GET key`
    Get,
    /// `SET key value [NX|XX]`
    Set(String, SetCondition),
    /// `DEL key`
    Del,
}

/// Replies to [`RegisterCmd`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterReply {
    /// GET's bulk string, or nil.
    Get(Option<String>),
    /// SET: `true` for `+OK`, `false` for a nil reply (NX/XX condition not met).
    Set(bool),
    /// DEL: number of keys removed (0 or 1).
    Del(u64),
}

/// A Redis string key under GET / SET [NX|XX] / DEL (Redis 7 semantics).
#[derive(Clone, Copy, Debug, Default)]
pub struct RegisterModel;

impl Model for RegisterModel {
    type State = Option<String>;
    type Input = Keyed<RegisterCmd>;
    type Output = RegisterReply;

    fn init(&self) -> Option<String> {
        None
    }

    fn step(
        &self,
        state: &Option<String>,
        input: &Keyed<RegisterCmd>,
        output: Option<&RegisterReply>,
    ) -> Option<Option<String>> {
        match &input.cmd {
            RegisterCmd::Get => match output {
                None => Some(state.clone()),
                Some(RegisterReply::Get(v)) => (v == state).then(|| state.clone()),
                Some(_) => None,
            },
            RegisterCmd::Set(v, cond) => {
                let applies = match cond {
                    SetCondition::Always => true,
                    SetCondition::Nx => state.is_none(),
                    SetCondition::Xx => state.is_some(),
                };
                let next = if applies { Some(v.clone()) } else { state.clone() };
                match output {
                    None => Some(next),
                    Some(RegisterReply::Set(ok)) => (*ok == applies).then_some(next),
                    Some(_) => None,
                }
            }
            RegisterCmd::Del => {
                let removed = u64::from(state.is_some());
                match output {
                    None => Some(None),
                    Some(RegisterReply::Del(n)) => (*n == removed).then_some(None),
                    Some(_) => None,
                }
            }
        }
    }

    fn partition_key(&self, input: &Keyed<RegisterCmd>) -> Option<String> {
        Some(input.key.clone())
    }
}

/// Counter commands: INCRBY and GET.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CounterCmd {
    /// `INCRBY key delta` (INCR is delta 1, DECR is -1).
    IncrBy(i64),
    /// `GET key`
    Get,
}

/// Replies to [`CounterCmd`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CounterReply {
    /// INCRBY returns the new value.
    IncrBy(i64),
    /// GET returns the value, or nil if the key is absent.
    Get(Option<i64>),
}

/// A Redis integer key under INCRBY / GET. Absent keys count from 0, as in Redis.
#[derive(Clone, Copy, Debug, Default)]
pub struct CounterModel;

impl Model for CounterModel {
    type State = Option<i64>;
    type Input = Keyed<CounterCmd>;
    type Output = CounterReply;

    fn init(&self) -> Option<i64> {
        None
    }

    fn step(
        &self,
        state: &Option<i64>,
        input: &Keyed<CounterCmd>,
        output: Option<&CounterReply>,
    ) -> Option<Option<i64>> {
        match &input.cmd {
            CounterCmd::IncrBy(d) => {
                let next = state.unwrap_or(0).checked_add(*d)?;
                match output {
                    None => Some(Some(next)),
                    Some(CounterReply::IncrBy(v)) => (*v == next).then_some(Some(next)),
                    Some(_) => None,
                }
            }
            CounterCmd::Get => match output {
                None => Some(*state),
                Some(CounterReply::Get(v)) => (v == state).then_some(*state),
                Some(_) => None,
            },
        }
    }

    fn partition_key(&self, input: &Keyed<CounterCmd>) -> Option<String> {
        Some(input.key.clone())
    }
}

/// List commands: RPUSH and a full LRANGE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListCmd {
    /// `RPUSH key element`
    RPush(String),
    /// `LRANGE key 0 -1`
    Range,
}

/// Replies to [`ListCmd`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListReply {
    /// RPUSH returns the list's new length.
    RPush(u64),
    /// LRANGE returns the elements (empty for an absent key).
    Range(Vec<String>),
}

/// A Redis list key under RPUSH / LRANGE 0 -1.
#[derive(Clone, Copy, Debug, Default)]
pub struct ListModel;

impl Model for ListModel {
    type State = Vec<String>;
    type Input = Keyed<ListCmd>;
    type Output = ListReply;

    fn init(&self) -> Vec<String> {
        Vec::new()
    }

    fn step(&self, state: &Vec<String>, input: &Keyed<ListCmd>, output: Option<&ListReply>) -> Option<Vec<String>> {
        match &input.cmd {
            ListCmd::RPush(e) => {
                if let Some(out) = output {
                    if *out != ListReply::RPush(state.len() as u64 + 1) {
                        return None;
                    }
                }
                let mut next = state.clone();
                next.push(e.clone());
                Some(next)
            }
            ListCmd::Range => match output {
                None => Some(state.clone()),
                Some(ListReply::Range(v)) => (v == state).then(|| state.clone()),
                Some(_) => None,
            },
        }
    }

    fn partition_key(&self, input: &Keyed<ListCmd>) -> Option<String> {
        Some(input.key.clone())
    }
}

/// Set commands: SADD and SMEMBERS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetCmd {
    /// `SADD key member`
    Add(String),
    /// `SMEMBERS key`
    Members,
}

/// Replies to [`SetCmd`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetReply {
    /// SADD: whether the member was new (reply 1) or already present (0).
    Add(bool),
    /// SMEMBERS: the members, in any order.
    Members(Vec<String>),
}

/// A Redis set key under SADD / SMEMBERS.
#[derive(Clone, Copy, Debug, Default)]
pub struct SetModel;

impl Model for SetModel {
    type State = BTreeSet<String>;
    type Input = Keyed<SetCmd>;
    type Output = SetReply;

    fn init(&self) -> BTreeSet<String> {
        BTreeSet::new()
    }

    fn step(
        &self,
        state: &BTreeSet<String>,
        input: &Keyed<SetCmd>,
        output: Option<&SetReply>,
    ) -> Option<BTreeSet<String>> {
        match &input.cmd {
            SetCmd::Add(m) => {
                let added = !state.contains(m);
                if let Some(out) = output {
                    if *out != SetReply::Add(added) {
                        return None;
                    }
                }
                let mut next = state.clone();
                next.insert(m.clone());
                Some(next)
            }
            SetCmd::Members => match output {
                None => Some(state.clone()),
                Some(SetReply::Members(v)) => {
                    let seen: BTreeSet<String> = v.iter().cloned().collect();
                    (seen.len() == v.len() && seen == *state).then(|| state.clone())
                }
                Some(_) => None,
            },
        }
    }

    fn partition_key(&self, input: &Keyed<SetCmd>) -> Option<String> {
        Some(input.key.clone())
    }
}

/// Porcupine's key-value commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvCmd {
    /// Read the key's string.
    Get,
    /// Replace it.
    Put(String),
    /// Concatenate onto it.
    Append(String),
}

/// Replies to [`KvCmd`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvReply {
    /// The string read; absent keys read as "".
    Get(String),
    /// Put or append was acknowledged.
    Done,
}

/// Porcupine's key-value store with put/get/append over strings, initial value "".
///
/// The state is a map so the same model checks a history with or without per-key partitioning
/// (`partitioned: false` proves the verdict does not depend on it).
#[derive(Clone, Copy, Debug)]
pub struct KvModel {
    /// Whether to split the history per key.
    pub partitioned: bool,
}

impl Default for KvModel {
    fn default() -> Self {
        KvModel { partitioned: true }
    }
}

impl Model for KvModel {
    type State = BTreeMap<String, String>;
    type Input = Keyed<KvCmd>;
    type Output = KvReply;

    fn init(&self) -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    fn step(
        &self,
        state: &BTreeMap<String, String>,
        input: &Keyed<KvCmd>,
        output: Option<&KvReply>,
    ) -> Option<BTreeMap<String, String>> {
        let current = state.get(&input.key).map(String::as_str).unwrap_or("");
        match &input.cmd {
            KvCmd::Get => match output {
                None => Some(state.clone()),
                Some(KvReply::Get(v)) => (v == current).then(|| state.clone()),
                Some(_) => None,
            },
            KvCmd::Put(v) | KvCmd::Append(v) => {
                if matches!(output, Some(KvReply::Get(_))) {
                    return None;
                }
                let value = match &input.cmd {
                    KvCmd::Put(_) => v.clone(),
                    _ => format!("{current}{v}"),
                };
                let mut next = state.clone();
                next.insert(input.key.clone(), value);
                Some(next)
            }
        }
    }

    fn partition_key(&self, input: &Keyed<KvCmd>) -> Option<String> {
        self.partitioned.then(|| input.key.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_set_conditions_follow_redis() {
        let m = RegisterModel;
        let set = |v: &str, c| Keyed::new("k", RegisterCmd::Set(v.into(), c));
        let s0 = m.init();
        assert_eq!(m.step(&s0, &set("a", SetCondition::Xx), Some(&RegisterReply::Set(true))), None);
        let s1 = m.step(&s0, &set("a", SetCondition::Nx), Some(&RegisterReply::Set(true))).unwrap();
        assert_eq!(s1.as_deref(), Some("a"));
        assert_eq!(m.step(&s1, &set("b", SetCondition::Nx), Some(&RegisterReply::Set(false))), Some(Some("a".into())));
        let del = Keyed::new("k", RegisterCmd::Del);
        assert_eq!(m.step(&s1, &del, Some(&RegisterReply::Del(1))), Some(None));
        assert_eq!(m.step(&s0, &del, Some(&RegisterReply::Del(1))), None);
    }

    #[test]
    fn cas_register_unknown_outcomes_are_legal() {
        let m = CasRegister;
        let cas = CasInput::Cas { from: 1, to: 2 };
        assert_eq!(m.step(&Some(1), &cas, None), Some(Some(2)));
        assert_eq!(m.step(&Some(3), &cas, None), Some(Some(3)));
        assert_eq!(m.step(&Some(3), &cas, Some(&CasOutput::Cas(true))), None);
        assert_eq!(m.step(&None, &CasInput::Read, None), Some(None));
    }

    #[test]
    fn counter_list_set_models() {
        let c = CounterModel;
        let inc = Keyed::new("c", CounterCmd::IncrBy(5));
        assert_eq!(c.step(&None, &inc, Some(&CounterReply::IncrBy(5))), Some(Some(5)));
        assert_eq!(c.step(&None, &inc, Some(&CounterReply::IncrBy(6))), None);

        let l = ListModel;
        let push = Keyed::new("l", ListCmd::RPush("x".into()));
        assert_eq!(l.step(&vec![], &push, Some(&ListReply::RPush(1))), Some(vec!["x".to_string()]));
        assert_eq!(l.step(&vec![], &push, Some(&ListReply::RPush(2))), None);

        let s = SetModel;
        let add = Keyed::new("s", SetCmd::Add("m".into()));
        let one = s.step(&BTreeSet::new(), &add, Some(&SetReply::Add(true))).unwrap();
        assert_eq!(s.step(&one, &add, Some(&SetReply::Add(true))), None);
        let members = Keyed::new("s", SetCmd::Members);
        assert!(s.step(&one, &members, Some(&SetReply::Members(vec!["m".into()]))).is_some());
    }
}
