//! Invariants of MULTI/EXEC/WATCH across shards.
//!
//! - A transaction that writes one token to every key of a group (spanning shards) is atomic: a
//!   reader (`MULTI` + one `GET` per key + `EXEC`, or `MGET`) sees one token everywhere or nil
//!   everywhere (the same check as `atomicity`, applied to EXEC's reply).
//! - WATCH makes check-and-set safe: `WATCH n; GET n; MULTI; SET n v+1; EXEC` that succeeds wrote
//!   a value nobody else's successful EXEC wrote (a duplicate is a lost update).

use crate::client::Reply;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Checks the reply to `EXEC` of a transaction that only queued `GET`s of `keys`.
pub fn check_read(keys: &[Bytes], reply: &Reply) -> Result<(), String> {
    let Reply::Array(Some(_)) = reply else {
        return Err(format!("transactions: EXEC of {} GETs replied {reply:?}", keys.len()));
    };
    super::atomicity::check_group_read(keys, reply)
}

/// Checks the reply to `EXEC` of a transaction of `n` writes that must all succeed.
pub fn check_write(n: usize, reply: &Reply) -> Result<(), String> {
    match reply {
        Reply::Array(Some(items)) if items.len() == n && items.iter().all(|r| !matches!(r, Reply::Error(_))) => Ok(()),
        _ => Err(format!("transactions: EXEC of {n} writes replied {reply:?}")),
    }
}

/// Values written by successful check-and-set transactions, per key.
#[derive(Default)]
pub struct CasLog {
    written: Mutex<BTreeMap<(Bytes, i64), usize>>,
}

impl CasLog {
    /// Records that `client`'s EXEC set `key` to `value` after WATCH; a second success with the
    /// same value means an update was lost.
    pub fn record(&self, key: &Bytes, value: i64, client: usize) -> Result<(), String> {
        let mut w = self.written.lock().unwrap_or_else(|e| e.into_inner());
        match w.insert((key.clone(), value), client) {
            None => Ok(()),
            Some(other) => Err(format!(
                "transactions: lost update: clients {other} and {client} both set {} to {value} through WATCH/MULTI/EXEC",
                String::from_utf8_lossy(key)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_updates_and_torn_reads_are_caught() {
        let log = CasLog::default();
        let k = Bytes::from("n");
        assert!(log.record(&k, 1, 0).is_ok());
        assert!(log.record(&k, 2, 1).is_ok());
        assert!(log.record(&k, 2, 2).unwrap_err().contains("lost update"));
        let keys = vec![Bytes::from("a"), Bytes::from("b")];
        let v = |s: &str| Reply::bulk(&Bytes::copy_from_slice(s.as_bytes()));
        assert!(check_read(&keys, &Reply::Array(Some(vec![v("t"), v("t")]))).is_ok());
        assert!(check_read(&keys, &Reply::Array(Some(vec![v("t"), Reply::nil()]))).is_err());
        assert!(check_read(&keys, &Reply::Array(None)).is_err());
        assert!(check_write(2, &Reply::Array(Some(vec![Reply::ok(), Reply::ok()]))).is_ok());
        assert!(check_write(2, &Reply::Array(None)).is_err());
    }
}
