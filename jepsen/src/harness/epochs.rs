//! `--durability none`: checking a server that promises nothing across a crash.
//!
//! A cache without persistence loses everything on kill -9, by design; what it still promises is
//! that each process lifetime (an *epoch*) is correct on its own, starting from an empty store,
//! and that nothing from an earlier lifetime comes back. So the history is cut at every restart
//! and each piece is checked from the initial state.
//!
//! Which epoch executed an operation: between a kill and the next restart no server process
//! exists, so an `ok` operation that returned before the restart began was executed by the old
//! process, and one that returned after it by the new one. An indeterminate operation belongs to
//! the epoch in which it was invoked; if it was invoked close to a kill (within two operation
//! timeouts, the longest its connect-and-PING handshake can take), it is placed in the next epoch
//! as well: being open, it may take effect in either or neither, so this only widens what is
//! accepted. Failed operations are dropped by the checkers anyway and stay with their invocation.

use super::Op;
use mayfly_jepsen::history::EventType;

/// A crash: when the SIGKILL was about to be sent, and when the replacement was about to start
/// (nanoseconds since the start of the run, the history's clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crash {
    pub kill: u64,
    pub restart: u64,
}

/// Splits `ops` into `crashes.len() + 1` epochs (crashes sorted by time).
pub fn split(ops: &[Op], crashes: &[Crash], op_timeout_ns: u64) -> Vec<Vec<Op>> {
    let mut epochs: Vec<Vec<Op>> = vec![Vec::new(); crashes.len() + 1];
    for op in ops {
        match (op.outcome, op.ret) {
            (EventType::Ok, Some(ret)) => {
                let e = crashes.iter().filter(|c| c.restart <= ret).count();
                epochs[e].push(op.clone());
            }
            _ => {
                let e = crashes.iter().filter(|c| c.kill <= op.call).count();
                epochs[e].push(op.clone());
                if op.outcome == EventType::Info {
                    if let Some(next) = crashes.get(e) {
                        if op.call + 2 * op_timeout_ns >= next.kill {
                            epochs[e + 1].push(op.clone());
                        }
                    }
                }
            }
        }
    }
    epochs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Json;

    fn op(outcome: EventType, call: u64, ret: Option<u64>) -> Op {
        Op {
            process: 0,
            f: "get".into(),
            outcome,
            input: Json::Null,
            output: Json::Null,
            call,
            ret,
            invoke_index: call,
            complete_index: ret,
        }
    }

    #[test]
    fn assigns_by_executing_process() {
        let crashes = [Crash { kill: 100, restart: 200 }];
        let ops = vec![
            op(EventType::Ok, 10, Some(20)),   // old
            op(EventType::Ok, 95, Some(105)),  // reply read just after the kill: old
            op(EventType::Ok, 150, Some(210)), // invoked while down, served by the new one
            op(EventType::Info, 10, None),     // long before the kill: old only
            op(EventType::Info, 90, None),     // near the kill: both
            op(EventType::Fail, 150, Some(151)),
        ];
        let e = split(&ops, &crashes, 20);
        let calls = |v: &Vec<Op>| v.iter().map(|o| o.call).collect::<Vec<_>>();
        assert_eq!(calls(&e[0]), vec![10, 95, 10, 90]);
        assert_eq!(calls(&e[1]), vec![150, 90, 150]);
    }
}
