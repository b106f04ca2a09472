//! The snapshot nemesis: BGSAVE on the primary while clients write; when the fault ends, kill -9,
//! restart on the same directory (the server loads the snapshot), read back everything it holds,
//! then delete those keys (preloaded filler stays, so every snapshot is as large) before clients
//! are let in again. The state read back is judged by the snapshot-prefix checker (a consistent
//! cut containing every write acknowledged before BGSAVE was invoked); the reset lets the rest of
//! the history be checked per process lifetime from an empty store, like `--durability none`.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // real-process test tooling: threads, clocks

use super::execute::Exec;
use crate::harness::state::{self, info, info_int, must};
use crate::json::Json;
use crate::proxy::Mode;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A state read back after a restart from a snapshot.
#[derive(Clone, Debug)]
pub struct Recovery {
    /// The node.
    pub node: String,
    /// When BGSAVE was invoked (ns since the start of the run, the history's clock).
    pub save_ns: u64,
    /// When the node was killed (ns): writes invoked later cannot be in the snapshot.
    pub kill_ns: u64,
    /// Everything the restarted node held.
    pub state: BTreeMap<String, Json>,
}

impl Recovery {
    /// As a run.json entry.
    pub fn to_json(&self) -> Json {
        Json::obj([
            ("node", Json::str(&self.node)),
            ("save_ns", Json::Int(self.save_ns as i64)),
            ("kill_ns", Json::Int(self.kill_ns as i64)),
            ("state", state::dump_to_json(&self.state)),
        ])
    }

    /// From a run.json entry.
    pub fn from_json(j: &Json) -> Result<Recovery, String> {
        let int = |k: &str| j.get(k).and_then(Json::as_i64).map(|n| n as u64).ok_or(format!("recovery without {k}"));
        Ok(Recovery {
            node: j.get("node").and_then(Json::as_str).unwrap_or_default().to_string(),
            save_ns: int("save_ns")?,
            kill_ns: int("kill_ns")?,
            state: state::dump_from_json(j.get("state").ok_or("recovery without state")?)?,
        })
    }
}

/// How long a BGSAVE may take before the nemesis gives up on it.
const SAVE_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts BGSAVE and waits until it has finished (`rdb_saves` went up and nothing is in
/// progress), so that the kill at the end of the fault cannot interrupt it.
fn bgsave(exec: &Exec, node: usize, save_ns: &mut u64) -> Result<String, String> {
    let mut c = exec.cluster.control(node);
    let before = info_int(&info(&mut c, "persistence")?, "rdb_saves")?;
    *save_ns = exec.now_ns();
    let reply = must(&mut c, &["BGSAVE"])?;
    let began = Instant::now();
    loop {
        let f = info(&mut c, "persistence")?;
        if info_int(&f, "rdb_bgsave_in_progress")? == 0 && info_int(&f, "rdb_saves")? > before {
            return match f.get("rdb_last_bgsave_status").map(String::as_str) {
                Some("ok") => Ok(format!("{reply:?}; done after {} ms", began.elapsed().as_millis())),
                other => Err(format!("BGSAVE finished with status {other:?}")),
            };
        }
        if began.elapsed() > SAVE_TIMEOUT {
            return Err(format!("BGSAVE still running after {SAVE_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Deletes the recovered workload keys, so the next lifetime starts from an empty store.
fn forget(c: &super::Cluster, node: usize, keys: &[String]) -> Result<String, String> {
    let mut client = c.control(node);
    let mut deleted = 0;
    for chunk in keys.chunks(100) {
        let mut cmd = vec!["DEL"];
        cmd.extend(chunk.iter().map(String::as_str));
        deleted += must(&mut client, &cmd)?.int()?;
    }
    Ok(format!("DEL of {deleted} keys"))
}

/// The first half: BGSAVE, logged with the time it was invoked.
pub(super) fn begin(exec: &mut Exec) {
    let n = exec.target;
    let t0 = exec.now_ms();
    let mut save_ns = 0;
    let r = bgsave(exec, n, &mut save_ns);
    exec.save_ns = r.is_ok().then_some(save_ns);
    exec.record(t0, n, "bgsave", r);
}

/// The second half: cut clients off, kill -9, restart, read the recovered state, flush, heal.
pub(super) fn end(exec: &mut Exec) {
    let n = exec.target;
    let Some(save_ns) = exec.save_ns.take() else {
        exec.record(exec.now_ms(), n, "skip", Err("BGSAVE failed: no snapshot to recover".into()));
        return;
    };
    // Reset (not blackhole): clients fail at once, and nothing of theirs can reach the new process
    // before the flush.
    exec.act(n, "partition:reset", |c| {
        c.set_network(n, Mode::Reset);
        Ok(String::new())
    });
    let kill_ns = exec.now_ns();
    if !exec.act(n, "kill", |c| c.nodes[n].lock().expect("node lock").kill9().map(|_| String::new())) {
        return;
    }
    if exec.act(n, "restart", |c| c.restart(n)) {
        let t0 = exec.now_ms();
        match state::dump(&mut exec.cluster.control(n)) {
            Ok(state) => {
                let detail = format!("{} keys", state.len());
                let keys: Vec<String> = state.keys().cloned().collect();
                exec.out.recoveries.push(Recovery { node: exec.cluster.name(n), save_ns, kill_ns, state });
                exec.record(t0, n, "recovered", Ok(detail));
                exec.act(n, "reset-keys", |c| forget(c, n, &keys));
            }
            Err(e) => exec.record(t0, n, "recovered", Err(e)),
        }
    }
    // A client that chose its operation before the flush fails its connect while the proxy still
    // resets; give such stragglers a moment before letting clients back in.
    std::thread::sleep(Duration::from_millis(200));
    exec.act(n, "heal", |c| {
        c.set_network(n, Mode::Normal);
        Ok(String::new())
    });
}
