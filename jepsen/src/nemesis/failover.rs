//! The failover nemesis: the primary is lost (kill -9, or cut off from clients and replicas), the
//! replica with the highest replication offset is promoted with REPLICAOF NO ONE (as Sentinel
//! would choose), the other replicas and the clients are re-pointed to it; when the fault ends the
//! old primary comes back as a replica of the new one. Writes the old primary acknowledged but had
//! not yet shipped are lost: asynchronous replication promises no more, unless WAIT confirmed them.
//! To make that window real on loopback (where replicas are otherwise a fraction of a millisecond
//! behind), the replication links stall for `LAG` before the primary is lost, as a congested
//! network would: clients keep writing and being acknowledged meanwhile.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // real-process test tooling

use super::execute::Exec;
use super::Fault;
use crate::harness::state::repl_offset;
use crate::proxy::Mode;
use std::time::Duration;

/// How long the replicas fall behind before the primary is lost.
const LAG: Duration = Duration::from_millis(500);

/// The first half: lose the primary, promote, re-point.
pub(super) fn begin(exec: &mut Exec, fault: Fault) {
    let old = exec.target;
    let replicas = exec.cluster.replicas();
    if replicas.is_empty() {
        exec.record(exec.now_ms(), old, "skip", Err("failover needs --replicas 1 or more".into()));
        return;
    }
    exec.act(old, "lag-replication", |c| {
        c.set_links(Mode::Blackhole);
        Ok(format!("replication links stalled for {} ms", LAG.as_millis()))
    });
    std::thread::sleep(LAG);
    if fault == Fault::FailoverKill {
        exec.act(old, "kill-primary", |c| c.nodes[old].lock().expect("node lock").kill9().map(|_| String::new()));
    } else {
        exec.act(old, "partition-primary", |c| {
            c.set_network(old, Mode::Blackhole);
            Ok("clients and replication links blackholed".into())
        });
    }
    // The most advanced replica that answers.
    let offsets: Vec<(usize, Result<i64, String>)> =
        replicas.iter().map(|&r| (r, repl_offset(&mut exec.cluster.control(r)))).collect();
    let best = offsets.iter().filter_map(|(r, o)| o.as_ref().ok().map(|o| (*o, *r))).max();
    let seen: Vec<String> = offsets
        .iter()
        .map(|(r, o)| format!("{}={}", exec.cluster.name(*r), o.as_ref().map_or_else(|e| e.clone(), i64::to_string)))
        .collect();
    let Some((_, new)) = best else {
        exec.record(exec.now_ms(), old, "promote", Err(format!("no replica answered: {}", seen.join(", "))));
        return;
    };
    let promoted = exec.act(new, "promote", |c| {
        c.promote(new)?;
        c.set_primary(new);
        Ok(format!("REPLICAOF NO ONE; clients now write here; offsets {}", seen.join(", ")))
    });
    if !promoted {
        return;
    }
    for r in replicas.into_iter().filter(|&r| r != new) {
        exec.act(r, "repoint", |c| c.follow_primary(r));
    }
}

/// The second half: the old primary rejoins as a replica of the new one.
pub(super) fn end(exec: &mut Exec, fault: Fault) {
    let old = exec.target;
    if exec.cluster.primary() == old {
        // The promotion failed: bring the primary back as it was.
        if fault == Fault::FailoverKill {
            exec.act(old, "restart", |c| c.restart(old));
        } else {
            exec.act(old, "heal", |c| {
                c.set_network(old, Mode::Normal);
                Ok(String::new())
            });
        }
        return;
    }
    if fault == Fault::FailoverKill {
        exec.act(old, "restart-as-replica", |c| c.restart(old));
    } else {
        // REPLICAOF first, over the control path: requests stalled in the proxy then reach a
        // replica (and are refused), not a primary with a history of its own.
        exec.act(old, "rejoin", |c| c.follow_primary(old));
        exec.act(old, "heal", |c| {
            c.proxies[old].set_mode(Mode::Normal);
            Ok(String::new())
        });
    }
}
