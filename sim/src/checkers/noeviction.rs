//! Invariant: noeviction refuses writes once memory is full — with Redis's exact error, only
//! for `denyoom` commands (inside MULTI, Redis 7.0 refuses any command while full) — and loses
//! nothing: a key vanishes only by its own deadline, and reads and DEL keep working at the
//! limit.

use super::evict_model::{is_denyoom, Vanish, OOM};
use super::policies::PolicyLog;
use crate::client::Reply;
use bytes::Bytes;

fn show(args: &[Bytes]) -> String {
    args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" ")
}

/// Any refusal for memory must be Redis's exact error, and only a denyoom command gets it
/// unless it was being queued inside MULTI (`queued`), where any command may.
pub fn check_refusal(args: &[Bytes], reply: &Reply, queued: bool) -> Result<(), String> {
    let Reply::Error(e) = reply else { return Ok(()) };
    let about_memory = e.starts_with("OOM") || e.contains("maxmemory");
    if !about_memory {
        return Ok(());
    }
    if e != OOM {
        return Err(format!("noeviction: `{}` was refused with {e:?}, not Redis's {OOM:?}", show(args)));
    }
    let cmd = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
    if !queued && !is_denyoom(&cmd) {
        return Err(format!("noeviction: `{}` is not denyoom (reads and DEL keep working) but got {e:?}", show(args)));
    }
    Ok(())
}

/// A key that vanished while only noeviction was in force must have reached its deadline.
pub fn check_vanish(v: &Vanish, policies: &PolicyLog) -> Result<(), String> {
    let during = policies.during(v.from, v.to);
    if during.iter().any(|p| *p != "noeviction") {
        return Ok(());
    }
    if v.before.iter().any(|val| val.deadline.is_some_and(|(lo, _)| lo <= v.to)) {
        return Ok(()); // it may have expired
    }
    Err(format!(
        "noeviction: acknowledged key {:?} (holding {:?}) vanished between {}ms and {}ms",
        String::from_utf8_lossy(&v.key),
        v.before.iter().map(|b| (&b.data, b.deadline)).collect::<Vec<_>>(),
        v.from,
        v.to
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::evict_model::{Data, Val};

    fn args(s: &str) -> Vec<Bytes> {
        s.split(' ').map(|a| Bytes::copy_from_slice(a.as_bytes())).collect()
    }

    #[test]
    fn refusals_use_the_exact_error_and_spare_reads() {
        let oom = Reply::Error(OOM.into());
        assert!(check_refusal(&args("SET k v"), &oom, false).is_ok());
        assert!(check_refusal(&args("SET k v"), &Reply::Error("OOM out of memory".into()), false).is_err());
        assert!(check_refusal(&args("GET k"), &oom, false).is_err());
        assert!(check_refusal(&args("DEL k"), &oom, false).is_err());
        let not_int = Reply::Error("ERR value is not an integer or out of range".into());
        assert!(check_refusal(&args("INCR k"), &not_int, false).is_ok());
        // Queued inside MULTI, a read may be refused too, but only with the exact error.
        assert!(check_refusal(&args("GET k"), &oom, true).is_ok());
        assert!(check_refusal(&args("GET k"), &Reply::Error("OOM out of memory".into()), true).is_err());
    }

    #[test]
    fn nothing_vanishes_before_its_deadline() {
        let log = PolicyLog::new("noeviction");
        let v = |deadline| Vanish {
            key: Bytes::from("k"),
            before: vec![Val { data: Data::Str(Bytes::from("v")), deadline }],
            from: 100,
            to: 200,
        };
        assert!(check_vanish(&v(None), &log).unwrap_err().contains("vanished"));
        assert!(check_vanish(&v(Some((5000, 5002))), &log).is_err());
        assert!(check_vanish(&v(Some((150, 152))), &log).is_ok());
        assert!(check_vanish(&v(None), &PolicyLog::new("allkeys-random")).is_ok());
    }
}
