//! Invariant: a multi-key write is atomic across shards. Writers `MSET` a whole key group to one
//! token unique to that write (or `DEL` the group); readers `MGET` the group. Every `MGET` must
//! see one write: all values equal, or all nil. A torn read means some shard ran its part of one
//! write while another shard ran its part of a different one.

use crate::client::Reply;
use bytes::Bytes;

/// Checks one `MGET` reply over a key group.
pub fn check_group_read(keys: &[Bytes], reply: &Reply) -> Result<(), String> {
    let names = || keys.iter().map(|k| String::from_utf8_lossy(k).into_owned()).collect::<Vec<_>>().join(" ");
    let Reply::Array(Some(items)) = reply else {
        return Err(format!("atomicity: `MGET {}` replied {reply:?}, expected an array", names()));
    };
    if items.len() != keys.len() {
        return Err(format!("atomicity: `MGET {}` returned {} items", names(), items.len()));
    }
    if items.windows(2).any(|w| w[0] != w[1]) {
        return Err(format!("atomicity: torn multi-key write: `MGET {}` saw {reply:?}", names()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_reads_are_caught() {
        let keys = vec![Bytes::from("a"), Bytes::from("b")];
        let v = |s: &str| Reply::bulk(&Bytes::copy_from_slice(s.as_bytes()));
        assert!(check_group_read(&keys, &Reply::Array(Some(vec![v("t1"), v("t1")]))).is_ok());
        assert!(check_group_read(&keys, &Reply::Array(Some(vec![Reply::nil(), Reply::nil()]))).is_ok());
        assert!(check_group_read(&keys, &Reply::Array(Some(vec![v("t1"), v("t2")]))).is_err());
        assert!(check_group_read(&keys, &Reply::Array(Some(vec![v("t1"), Reply::nil()]))).is_err());
    }
}
