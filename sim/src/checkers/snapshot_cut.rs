//! Invariant: a snapshot file is the dataset at exactly one cut. One writer applies a logged
//! sequence of SET / multi-shard MSET / DEL to the `sk*` keys while snapshots run; the file must
//! hold the state after some prefix `p` of that sequence, with `p` between the writes
//! acknowledged before the save was asked for and those sent before it finished (a write torn
//! across shards, or a value from after the cut next to one from before it, matches no prefix).
//! Filler keys, written once before any save, must all be there unchanged.

use bytes::Bytes;
use mayfly::storage::rdb::{Decoder, Limits, Record};
use mayfly::types::Value;
use std::collections::BTreeMap;

/// One logged write: keys set to a value (SET, MSET) or deleted (DEL).
#[derive(Clone, Debug)]
pub enum Write {
    Set(Vec<Bytes>, Bytes),
    Del(Bytes),
}

pub type State = BTreeMap<Bytes, Bytes>;

pub fn apply(state: &mut State, w: &Write) {
    match w {
        Write::Set(keys, v) => keys.iter().for_each(|k| {
            state.insert(k.clone(), v.clone());
        }),
        Write::Del(k) => {
            state.remove(k);
        }
    }
}

/// The keys of db 0 starting with `prefix` (other workloads share the server) in an RDB file;
/// an error when the file does not decode completely (bad checksum, truncation) or one of those
/// keys is not a string.
pub fn read_file(bytes: &[u8], prefix: &[u8]) -> Result<State, String> {
    let mut d = Decoder::new(bytes, Limits::default()).map_err(|e| e.to_string())?;
    let (mut db, mut out) = (0, State::new());
    loop {
        match d.next_record().map_err(|e| e.to_string())? {
            Record::SelectDb(n) => db = n,
            Record::Entry { key, .. } if db != 0 || !key.starts_with(prefix) => {}
            Record::Entry { key, value: Some(Value::Str(v)), .. } => {
                let v = v.to_bytes();
                if out.insert(key.clone(), v).is_some() {
                    return Err(format!("key {key:?} written twice"));
                }
            }
            Record::Entry { key, .. } => return Err(format!("{key:?} is not a string")),
            Record::Eof => return Ok(out),
            _ => {}
        }
    }
}

/// Checks a decoded file against the log: `base` is the state before the first logged write
/// (fillers and `sk*` keys); the cut must lie within writes `lo..=hi`.
pub fn check_cut(file: &State, base: &State, log: &[Write], lo: usize, hi: usize) -> Result<usize, String> {
    let mut state = base.clone();
    for w in &log[..lo] {
        apply(&mut state, w);
    }
    for p in lo..=hi.min(log.len()) {
        if &state == file {
            return Ok(p);
        }
        if p < log.len() {
            apply(&mut state, &log[p]);
        }
    }
    let first_diff = |s: &State| {
        let mut keys: Vec<&Bytes> = s.keys().chain(file.keys()).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .find(|k| s.get(*k) != file.get(*k))
            .map(|k| format!("{k:?}: file {:?}, model {:?}", file.get(k), s.get(k)))
    };
    Err(format!(
        "snapshot: the file is the state after no prefix of writes {lo}..={hi} ({} keys in the file; at {hi}: {})",
        file.len(),
        first_diff(&state).unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn only_a_prefix_within_the_window_passes() {
        let base: State = [(b("a"), b("0")), (b("b"), b("0"))].into_iter().collect();
        let log = vec![Write::Set(vec![b("a")], b("1")), Write::Set(vec![b("a"), b("b")], b("2")), Write::Del(b("a"))];
        let at = |p: usize| {
            let mut s = base.clone();
            log[..p].iter().for_each(|w| apply(&mut s, w));
            s
        };
        assert_eq!(check_cut(&at(2), &base, &log, 0, 3), Ok(2));
        assert!(check_cut(&at(0), &base, &log, 1, 3).is_err(), "before the window");
        // b from after write 1, a from before it: torn.
        let torn: State = [(b("a"), b("1")), (b("b"), b("2"))].into_iter().collect();
        assert!(check_cut(&torn, &base, &log, 0, 3).is_err());
    }
}
