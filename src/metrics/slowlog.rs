//! The slow log: commands that took at least `slowlog-log-slower-than` microseconds. Each shard
//! thread keeps the entries of the connections it serves (no shared lock on the command path);
//! SLOWLOG GET merges them newest first. Ids come from one server-wide counter, so they are
//! unique and increase with time as Redis's do.

use bytes::Bytes;
use std::collections::VecDeque;

/// Redis's SLOWLOG_ENTRY_MAX_ARGC and SLOWLOG_ENTRY_MAX_STRING.
pub const MAX_ARGC: usize = 32;
pub const MAX_STRING: usize = 128;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlowEntry {
    pub id: u64,
    /// Unix seconds when the command was logged.
    pub time: u64,
    pub duration_us: u64,
    pub args: Vec<Bytes>,
    pub addr: String,
    pub name: Bytes,
}

#[derive(Debug, Default)]
pub struct SlowLog {
    /// Newest at the front.
    entries: VecDeque<SlowEntry>,
}

impl SlowLog {
    pub fn push(&mut self, e: SlowEntry, max_len: usize) {
        self.entries.push_front(e);
        self.entries.truncate(max_len);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The newest `n` entries, newest first.
    pub fn newest(&self, n: usize) -> Vec<SlowEntry> {
        self.entries.iter().take(n).cloned().collect()
    }
}

/// The arguments as Redis logs them: at most 32 (the last saying how many more there were),
/// each at most 128 bytes (saying how many more bytes there were).
pub fn trim_args(args: &[Bytes]) -> Vec<Bytes> {
    let keep = if args.len() > MAX_ARGC { MAX_ARGC - 1 } else { args.len() };
    let mut out: Vec<Bytes> = args[..keep]
        .iter()
        .map(|a| {
            if a.len() > MAX_STRING {
                let mut v = a[..MAX_STRING].to_vec();
                v.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes());
                Bytes::from(v)
            } else {
                a.clone()
            }
        })
        .collect();
    if args.len() > MAX_ARGC {
        out.push(Bytes::from(format!("... ({} more arguments)", args.len() - keep)));
    }
    out
}

/// Secrets never reach the slow log: as Redis, AUTH's arguments, HELLO's AUTH credentials and
/// the values of sensitive CONFIG SET parameters show as `(redacted)`.
pub fn redact(cmd: &str, args: &[Bytes]) -> Vec<Bytes> {
    const HIDDEN: Bytes = Bytes::from_static(b"(redacted)");
    const SECRETS: &[&str] =
        &["masterauth", "masteruser", "requirepass", "tls-key-file-pass", "tls-client-key-file-pass"];
    let mut out = args.to_vec();
    match cmd {
        "auth" => out[1..].iter_mut().for_each(|a| *a = HIDDEN),
        "hello" => {
            if let Some(i) = out.iter().position(|a| a.eq_ignore_ascii_case(b"auth")) {
                out[i + 1..].iter_mut().take(2).for_each(|a| *a = HIDDEN);
            }
        }
        "config" if out.len() > 2 && out[1].eq_ignore_ascii_case(b"set") => {
            for i in (2..out.len()).step_by(2) {
                if SECRETS.iter().any(|s| s.as_bytes().eq_ignore_ascii_case(&out[i])) && i + 1 < out.len() {
                    out[i + 1] = HIDDEN;
                }
            }
        }
        "migrate" => {
            if let Some(i) =
                out.iter().position(|a| a.eq_ignore_ascii_case(b"auth") || a.eq_ignore_ascii_case(b"auth2"))
            {
                let n = if out[i].eq_ignore_ascii_case(b"auth") { 1 } else { 2 };
                out[i + 1..].iter_mut().take(n).for_each(|a| *a = HIDDEN);
            }
        }
        _ => {}
    }
    out
}

/// Merges per-shard logs (each newest first): the newest `n` overall.
pub fn merge(mut parts: Vec<Vec<SlowEntry>>, n: usize) -> Vec<SlowEntry> {
    let mut all: Vec<SlowEntry> = parts.drain(..).flatten().collect();
    all.sort_unstable_by_key(|e| std::cmp::Reverse(e.id));
    all.truncate(n);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64) -> SlowEntry {
        SlowEntry { id, time: 0, duration_us: 1, args: vec![], addr: String::new(), name: Bytes::new() }
    }

    #[test]
    fn keeps_the_newest() {
        let mut log = SlowLog::default();
        for i in 0..5 {
            log.push(entry(i), 3);
        }
        assert_eq!(log.len(), 3);
        assert_eq!(log.newest(10).iter().map(|e| e.id).collect::<Vec<_>>(), vec![4, 3, 2]);
        let merged = merge(vec![log.newest(10), vec![entry(7), entry(1)]], 4);
        assert_eq!(merged.iter().map(|e| e.id).collect::<Vec<_>>(), vec![7, 4, 3, 2]);
    }

    #[test]
    fn redacts_secrets() {
        let b = |v: &[&str]| v.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect::<Vec<_>>();
        assert_eq!(redact("auth", &b(&["auth", "u", "p"])), b(&["auth", "(redacted)", "(redacted)"]));
        assert_eq!(
            redact("config", &b(&["config", "set", "requirepass", "x", "maxmemory", "1"])),
            b(&["config", "set", "requirepass", "(redacted)", "maxmemory", "1"])
        );
        assert_eq!(redact("get", &b(&["get", "k"])), b(&["get", "k"]));
    }

    #[test]
    fn trims_like_redis() {
        let many: Vec<Bytes> = (0..40).map(|i| Bytes::from(i.to_string())).collect();
        let t = trim_args(&many);
        assert_eq!(t.len(), 32);
        assert_eq!(t[31], Bytes::from("... (9 more arguments)"));
        let long = vec![Bytes::from(vec![b'x'; 130])];
        let t = trim_args(&long);
        assert_eq!(t[0].len(), 128 + "... (2 more bytes)".len());
        assert!(t[0].ends_with(b"... (2 more bytes)"));
    }
}
