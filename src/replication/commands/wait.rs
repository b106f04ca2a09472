//! WAIT numreplicas timeout: blocks the client until enough replicas acknowledged its writes.

use crate::protocol::Reply;
use crate::replication::Replication;
use crate::runtime::Rt;
use crate::server::{ClientState, ServerState};
use bytes::Bytes;
use std::time::Duration;

/// How many replicas have acknowledged `offset`.
fn acked(repl: &Replication, offset: u64) -> usize {
    repl.followers.lock().unwrap().iter().filter(|f| f.state == "online" && f.ack_offset >= offset).count()
}

/// WAIT numreplicas timeout: waits until that many replicas acknowledged this client's last
/// write (`ClientState::woff`; 0 when it wrote nothing), or the timeout (ms, 0 = forever)
/// passes; answers how many did. Inside EXEC it answers at once, as Redis does.
pub async fn wait<R: Rt>(rt: &R, state: &ServerState, client: &ClientState, args: &[Bytes]) -> Reply {
    let repl = &state.repl;
    if repl.is_replica() {
        return Reply::error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
    }
    let Some(want) = crate::util::parse_i64_strict(&args[1]) else {
        return Reply::error("ERR value is not an integer or out of range");
    };
    let Some(timeout) = crate::util::parse_i64_strict(&args[2]) else {
        return Reply::error("ERR timeout is not an integer or out of range");
    };
    if timeout < 0 {
        return Reply::error("ERR timeout is negative");
    }
    let target = client.woff;
    let now = acked(repl, target);
    if now as i64 >= want || client.in_exec {
        return Reply::Int(now as i64);
    }
    // Ask every replica for its offset now rather than at its next periodic ACK.
    if !repl.followers.lock().unwrap().is_empty() {
        repl.journal.append_control(&[
            Bytes::from_static(b"REPLCONF"),
            Bytes::from_static(b"GETACK"),
            Bytes::from_static(b"*"),
        ]);
    }
    let deadline = (timeout > 0).then(|| rt.now() + Duration::from_millis(timeout as u64));
    loop {
        let notified = repl.acked.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let n = acked(repl, target);
        if n as i64 >= want {
            return Reply::Int(n as i64);
        }
        match deadline {
            Some(d) => {
                let left = d.saturating_sub(rt.now());
                if left.is_zero() || crate::runtime::timeout(rt, left, notified).await.is_none() {
                    return Reply::Int(acked(repl, target) as i64);
                }
            }
            None => notified.await,
        }
    }
}
