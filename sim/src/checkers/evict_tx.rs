//! Invariant: eviction never lands inside a transaction. Redis evicts before a command (EXEC
//! included) runs, never between the commands EXEC runs, so `MULTI / SET k v / GET k / EXEC`
//! reads back `v` whatever the memory pressure. The pair is checked by the eviction model; a
//! vanish between the two is the violation.

use super::evict_model::{EvictModel, Window, OOM};
use crate::client::Reply;
use bytes::Bytes;

/// What EXEC replies when a command was refused while queueing.
pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

/// `queued`: the replies to SET and GET while queueing; `exec`: EXEC's reply.
pub fn check(
    model: &mut EvictModel,
    set: &[Bytes],
    get: &[Bytes],
    queued: [&Reply; 2],
    exec: &Reply,
    w: Window,
) -> Result<(), String> {
    let oom = Reply::Error(OOM.into());
    if queued.iter().any(|r| **r == oom) {
        // Refused while queueing (full under noeviction, say; Redis 7.0 refuses reads queued
        // while full too): the whole transaction is dropped.
        return match exec {
            Reply::Error(e) if e == EXECABORT => Ok(()),
            other => Err(format!("evict-tx: queueing was refused ({queued:?}), yet EXEC replied {other:?}")),
        };
    }
    let queued_ok = Reply::Simple("QUEUED".into());
    if queued.iter().any(|r| **r != queued_ok) {
        return Err(format!("evict-tx: queueing SET and GET replied {queued:?}"));
    }
    if *exec == Reply::Error(format!("EXECABORT Transaction discarded because of: {OOM}")) {
        return Ok(()); // full since queueing: the whole transaction refused, as Redis does
    }
    let Reply::Array(Some(replies)) = exec else { return Err(format!("evict-tx: EXEC replied {exec:?}")) };
    let [set_reply, get_reply] = &replies[..] else { return Err(format!("evict-tx: EXEC replied {exec:?}")) };
    model.check(set, set_reply, w)?;
    if let Some(v) = model.check(get, get_reply, w)? {
        return Err(format!(
            "evict-tx: key {:?} vanished between SET and GET of one MULTI/EXEC (EXEC replied {exec:?})",
            String::from_utf8_lossy(&v.key)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<Bytes> {
        s.split(' ').map(|a| Bytes::copy_from_slice(a.as_bytes())).collect()
    }

    #[test]
    fn a_transaction_reads_its_own_write() {
        let (set, get) = (args("SET k v"), args("GET k"));
        let q = Reply::Simple("QUEUED".into());
        let w = Window { sent: 0, recv: 5 };
        let mut m = EvictModel::default();
        let whole = Reply::Array(Some(vec![Reply::ok(), Reply::bulk(&Bytes::from("v"))]));
        check(&mut m, &set, &get, [&q, &q], &whole, w).unwrap();
        let split = Reply::Array(Some(vec![Reply::ok(), Reply::nil()]));
        assert!(check(&mut m, &set, &get, [&q, &q], &split, w).unwrap_err().contains("vanished between"));
        let oom = Reply::Error(OOM.into());
        check(&mut m, &set, &get, [&oom, &q], &Reply::Error(EXECABORT.into()), w).unwrap();
        assert!(check(&mut m, &set, &get, [&oom, &q], &whole, w).is_err());
        check(&mut m, &set, &get, [&q, &oom], &Reply::Error(EXECABORT.into()), w).unwrap();
        assert!(check(&mut m, &set, &get, [&q, &oom], &whole, w).is_err());
    }
}
