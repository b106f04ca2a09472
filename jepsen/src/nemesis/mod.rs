//! Nemeses: a seeded schedule of faults, planned up front (so `replay` can run it again exactly)
//! and executed by one thread that logs every action as it really happened.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // real-process test tooling: threads and clocks

pub mod cluster;
mod execute;
mod failover;
pub mod snapshot;

pub use cluster::Cluster;
pub use execute::{execute, revive_if_crashed};

use crate::harness::rng::Rng;
use crate::json::Json;
use crate::proxy::{Dir, Mode};

/// One kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// kill -9 the node, restart it on the same data directory when the fault ends.
    Kill,
    /// SIGSTOP, then SIGCONT.
    Pause,
    /// The proxy stalls both directions.
    Blackhole,
    /// The proxy delays every chunk (100 ms + up to 100 ms jitter).
    Delay,
    /// The proxy severs every connection while the fault lasts.
    Reset,
    /// Requests stall, replies flow.
    OneWayRequests,
    /// Requests flow (and execute), replies stall.
    OneWayReplies,
    /// On the primary: BGSAVE while writes go on, then (when the fault ends) kill -9, restart on
    /// the same directory, read the state it loaded, FLUSHALL, and let clients back in.
    Snapshot,
    /// kill -9 the primary, promote the most advanced replica, re-point the rest and the clients;
    /// the old primary rejoins as a replica when the fault ends.
    FailoverKill,
    /// The same with the primary cut off (clients and replication links blackholed) instead.
    FailoverPartition,
}

impl Fault {
    /// Every fault, in a fixed order.
    pub const ALL: [Fault; 10] = [
        Fault::Kill,
        Fault::Pause,
        Fault::Blackhole,
        Fault::Delay,
        Fault::Reset,
        Fault::OneWayRequests,
        Fault::OneWayReplies,
        Fault::Snapshot,
        Fault::FailoverKill,
        Fault::FailoverPartition,
    ];

    /// The name used on the command line and in run.json.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Kill => "kill",
            Fault::Pause => "pause",
            Fault::Blackhole => "blackhole",
            Fault::Delay => "delay",
            Fault::Reset => "reset",
            Fault::OneWayRequests => "one-way-requests",
            Fault::OneWayReplies => "one-way-replies",
            Fault::Snapshot => "snapshot",
            Fault::FailoverKill => "failover-kill",
            Fault::FailoverPartition => "failover-partition",
        }
    }

    fn by_name(name: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The proxy mode this fault sets, if it is a network fault.
    pub fn proxy_mode(self) -> Option<Mode> {
        match self {
            Fault::Blackhole => Some(Mode::Blackhole),
            Fault::Delay => Some(Mode::Delay { ms: 100, jitter_ms: 100 }),
            Fault::Reset => Some(Mode::Reset),
            Fault::OneWayRequests => Some(Mode::OneWay(Dir::ToServer)),
            Fault::OneWayReplies => Some(Mode::OneWay(Dir::ToClient)),
            _ => None,
        }
    }
}

/// Parses `--nemesis`: a comma-separated list of fault names, or the groups `partition`
/// (blackhole, delay, reset, both one-way directions), `one-way`, `failover` (both kinds), `all`
/// (kill, pause and the network faults: snapshot and failover change what is checked, so they
/// are asked for by name) and `none`.
pub fn parse_faults(spec: &str) -> Result<Vec<Fault>, String> {
    let mut out: Vec<Fault> = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let add: Vec<Fault> = match part {
            "none" => vec![],
            "all" => Fault::ALL[..7].to_vec(),
            "failover" => vec![Fault::FailoverKill, Fault::FailoverPartition],
            "partition" => {
                vec![Fault::Blackhole, Fault::Delay, Fault::Reset, Fault::OneWayRequests, Fault::OneWayReplies]
            }
            "one-way" => vec![Fault::OneWayRequests, Fault::OneWayReplies],
            name => vec![Fault::by_name(name).ok_or_else(|| {
                let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "unknown nemesis {name:?} (known: {}, partition, one-way, failover, all, none)",
                    names.join(", ")
                )
            })?],
        };
        for f in add {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    Ok(out)
}

/// One planned fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    /// Milliseconds after the start of the run.
    pub at_ms: u64,
    /// What.
    pub fault: Fault,
    /// On which node (index into the run's nodes; snapshot and failover act on whichever node is
    /// the primary when they begin).
    pub node: usize,
    /// How long before it is healed.
    pub duration_ms: u64,
}

impl Planned {
    /// As a run.json entry.
    pub fn to_json(&self) -> Json {
        Json::obj([
            ("at_ms", Json::Int(self.at_ms as i64)),
            ("fault", Json::str(self.fault.name())),
            ("node", Json::Int(self.node as i64)),
            ("duration_ms", Json::Int(self.duration_ms as i64)),
        ])
    }

    /// From a run.json entry.
    pub fn from_json(j: &Json) -> Result<Planned, String> {
        let int =
            |k: &str| j.get(k).and_then(Json::as_i64).map(|n| n as u64).ok_or(format!("schedule entry without {k}"));
        let name = j.get("fault").and_then(Json::as_str).ok_or("schedule entry without fault")?;
        Ok(Planned {
            at_ms: int("at_ms")?,
            fault: Fault::by_name(name).ok_or(format!("unknown fault {name}"))?,
            node: int("node")? as usize,
            duration_ms: int("duration_ms")?,
        })
    }
}

/// Plans faults for a run of `time_ms`: after a 2 s warm-up, alternate a fault lasting 1–4 s with a
/// quiet spell of 2–5 s, ending at least 2 s before the run does, so the last operations see a
/// healed system.
pub fn plan(faults: &[Fault], nodes: usize, time_ms: u64, seed: u64) -> Vec<Planned> {
    let mut rng = Rng::new(seed, 0x4E3E);
    let mut out = Vec::new();
    if faults.is_empty() || nodes == 0 {
        return out;
    }
    let mut t = 2000;
    loop {
        let duration_ms = rng.range(1000, 4000);
        if t + duration_ms + 2000 > time_ms {
            break;
        }
        let fault = faults[rng.below(faults.len() as u64) as usize];
        let node = rng.below(nodes as u64) as usize;
        out.push(Planned { at_ms: t, fault, node, duration_ms });
        t += duration_ms + rng.range(2000, 5000);
    }
    out
}

/// What the nemesis did, with real times.
#[derive(Clone, Debug)]
pub struct LogEntry {
    /// Milliseconds after the start of the run.
    pub at_ms: u64,
    /// The node's name.
    pub node: String,
    /// kill, restart, pause, resume, partition:<fault>, heal, bgsave, recovered, flushall,
    /// kill-primary, promote, repoint, rejoin.
    pub action: String,
    /// Error text, or details such as how long a restart took.
    pub detail: String,
    /// Whether the action succeeded.
    pub ok: bool,
}

impl LogEntry {
    /// As a run.json entry.
    pub fn to_json(&self) -> Json {
        Json::obj([
            ("at_ms", Json::Int(self.at_ms as i64)),
            ("node", Json::str(&self.node)),
            ("action", Json::str(&self.action)),
            ("ok", Json::Bool(self.ok)),
            ("detail", Json::str(&self.detail)),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_seeded_and_round_trip() {
        let faults = parse_faults("kill,pause,partition").unwrap();
        assert_eq!(faults.len(), 7);
        let a = plan(&faults, 1, 60_000, 42);
        assert_eq!(a, plan(&faults, 1, 60_000, 42));
        assert_ne!(a, plan(&faults, 1, 60_000, 43));
        assert!(a.len() >= 5);
        assert!(a.iter().all(|p| p.at_ms + p.duration_ms + 2000 <= 60_000));
        assert!(a.windows(2).all(|w| w[0].at_ms + w[0].duration_ms < w[1].at_ms));
        let back: Vec<Planned> = a.iter().map(|p| Planned::from_json(&p.to_json()).unwrap()).collect();
        assert_eq!(a, back);
        assert!(parse_faults("kill,bogus").is_err());
        assert!(parse_faults("none").unwrap().is_empty());
        // `all` keeps its old meaning (and its old plans); the new nemeses are asked for by name.
        assert_eq!(parse_faults("all").unwrap(), Fault::ALL[..7].to_vec());
        assert_eq!(parse_faults("failover").unwrap(), vec![Fault::FailoverKill, Fault::FailoverPartition]);
        assert_eq!(parse_faults("snapshot").unwrap(), vec![Fault::Snapshot]);
    }
}
