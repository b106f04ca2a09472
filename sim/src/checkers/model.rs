//! Invariant: every reply on a client's private keys is exactly what a sequential model predicts.
//!
//! Each client owns its keys, so its requests are the only writers and the model is a plain map.
//! Time is the one source of doubt: the model knows the server's wall clock when a request was
//! sent and when its reply arrived (a window), not the instant it ran. A deadline set by a
//! relative TTL is therefore an interval, and a key whose deadline may fall inside a request's
//! window may be alive or expired: the model tries both, accepts the reply if either predicts it,
//! and keeps the state that matched. When both match with different outcomes (e.g. `SET KEEPTTL`
//! on a key that may just have expired) the key becomes unknown until a blind write (plain `SET`,
//! `MSET`, `DEL`) pins it down again; replies about unknown keys are not checked.

use crate::client::Reply;
use bytes::Bytes;
use std::collections::BTreeMap;

/// The server's wall clock (ms) when the request was sent and when its reply arrived.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub sent: u64,
    pub recv: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub value: Bytes,
    /// Earliest and latest possible expiry deadline (ms, inclusive: alive while now <= deadline).
    pub deadline: Option<(u64, u64)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Slot {
    Known(Option<Entry>),
    Unknown,
}

/// What the model predicts for one possible prior state.
#[derive(Clone, Debug)]
enum Expect {
    Exact(Reply),
    IntRange(i64, i64),
    AnyError,
}

impl Expect {
    fn matches(&self, r: &Reply) -> bool {
        match self {
            Expect::Exact(e) => e == r,
            Expect::IntRange(lo, hi) => matches!(r, Reply::Int(i) if lo <= i && i <= hi),
            Expect::AnyError => matches!(r, Reply::Error(_)),
        }
    }
}

fn int(i: i64) -> Expect {
    Expect::Exact(Reply::Int(i))
}

fn upper(b: &Bytes) -> String {
    String::from_utf8_lossy(b).to_ascii_uppercase()
}

fn num(b: &Bytes) -> u64 {
    std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[derive(Default)]
pub struct Model {
    keys: BTreeMap<Bytes, Slot>,
}

impl Model {
    pub fn slot(&self, key: &Bytes) -> Slot {
        self.keys.get(key).cloned().unwrap_or(Slot::Known(None))
    }

    /// The states `key` may have had while the request ran; `None` when unknown.
    fn candidates(&self, key: &Bytes, w: Window) -> Option<Vec<Option<Entry>>> {
        match self.slot(key) {
            Slot::Unknown => None,
            Slot::Known(None) => Some(vec![None]),
            Slot::Known(Some(e)) => match e.deadline {
                None => Some(vec![Some(e)]),
                Some((lo, hi)) => {
                    let mut v = Vec::new();
                    if w.sent <= hi {
                        v.push(Some(e.clone()));
                    }
                    if w.recv > lo {
                        v.push(None);
                    }
                    Some(v)
                }
            },
        }
    }

    /// Checks `reply` to `args` and advances the model. `Err` describes the violation.
    pub fn check(&mut self, args: &[Bytes], reply: &Reply, w: Window) -> Result<(), String> {
        let cmd = upper(&args[0]);
        match cmd.as_str() {
            "PING" => expect_exact(args, reply, &Reply::Simple("PONG".into())),
            "ECHO" => expect_exact(args, reply, &Reply::bulk(&args[1])),
            "MGET" => {
                let Reply::Array(Some(items)) = reply else { return Err(violation(args, reply, "an array")) };
                if items.len() != args.len() - 1 {
                    return Err(violation(args, reply, "one item per key"));
                }
                for (k, item) in args[1..].iter().zip(items) {
                    let Some(cands) = self.candidates(k, w) else { continue };
                    let ok = cands.iter().any(|c| match c {
                        Some(e) => *item == Reply::bulk(&e.value),
                        None => *item == Reply::nil(),
                    });
                    if !ok {
                        return Err(violation(args, reply, &format!("{k:?} in {:?}", self.slot(k))));
                    }
                }
                Ok(())
            }
            "MSET" => {
                expect_exact(args, reply, &Reply::ok())?;
                for pair in args[1..].chunks(2) {
                    self.keys
                        .insert(pair[0].clone(), Slot::Known(Some(Entry { value: pair[1].clone(), deadline: None })));
                }
                Ok(())
            }
            "DEL" | "EXISTS" => {
                let (mut lo, mut hi) = (0, 0);
                for k in &args[1..] {
                    match self.candidates(k, w) {
                        None => hi += 1,
                        Some(c) => {
                            lo += c.iter().all(|e| e.is_some()) as i64;
                            hi += c.iter().any(|e| e.is_some()) as i64;
                        }
                    }
                }
                if !Expect::IntRange(lo, hi).matches(reply) {
                    return Err(violation(args, reply, &format!("an integer in {lo}..={hi}")));
                }
                if cmd == "DEL" {
                    for k in &args[1..] {
                        self.keys.insert(k.clone(), Slot::Known(None));
                    }
                }
                Ok(())
            }
            "RENAME" => {
                let (from, to) = (&args[1], &args[2]);
                let Some(cands) = self.candidates(from, w) else {
                    if !matches!(reply, Reply::Error(_)) {
                        self.keys.insert(to.clone(), Slot::Unknown);
                        self.keys.insert(from.clone(), Slot::Known(None));
                    }
                    return Ok(());
                };
                let mut moved = Vec::new();
                for c in &cands {
                    match c {
                        None if matches!(reply, Reply::Error(_)) => return Ok(()),
                        Some(e) if *reply == Reply::ok() => moved.push(e.clone()),
                        _ => {}
                    }
                }
                let Some(e) = moved.pop() else { return Err(violation(args, reply, &format!("{cands:?}"))) };
                self.keys.insert(from.clone(), Slot::Known(None));
                self.keys.insert(to.clone(), Slot::Known(Some(e)));
                Ok(())
            }
            _ => self.check_single(&cmd, args, reply, w),
        }
    }

    /// Commands on one key: try each possible prior state.
    fn check_single(&mut self, cmd: &str, args: &[Bytes], reply: &Reply, w: Window) -> Result<(), String> {
        let key = &args[1];
        let Some(cands) = self.candidates(key, w) else {
            // Unknown: only a blind write pins the key down again.
            if cmd == "SET" && !has_any(args, &["NX", "XX", "KEEPTTL"]) {
                let (_, post) = step(cmd, args, &None, w);
                self.keys.insert(key.clone(), Slot::Known(post));
            }
            return Ok(());
        };
        let mut tried = Vec::new();
        let mut posts: Vec<Option<Entry>> = Vec::new();
        for pre in &cands {
            let (expect, post) = step(cmd, args, pre, w);
            if expect.matches(reply) {
                posts.push(post);
            } else {
                tried.push(expect);
            }
        }
        let Some(first) = posts.first().cloned() else {
            return Err(violation(args, reply, &format!("one of {tried:?}; key was {:?}", self.slot(key))));
        };
        let slot = if posts.iter().all(|p| *p == first) { Slot::Known(first) } else { Slot::Unknown };
        self.keys.insert(key.clone(), slot);
        Ok(())
    }
}

fn has_any(args: &[Bytes], opts: &[&str]) -> bool {
    args.iter().skip(3).any(|a| opts.contains(&upper(a).as_str()))
}

fn expect_exact(args: &[Bytes], reply: &Reply, want: &Reply) -> Result<(), String> {
    if reply == want {
        Ok(())
    } else {
        Err(violation(args, reply, &format!("{want:?}")))
    }
}

fn violation(args: &[Bytes], reply: &Reply, want: &str) -> String {
    let cmd: Vec<String> = args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    format!("model: `{}` replied {reply:?}, expected {want}", cmd.join(" "))
}

/// A relative TTL set during `w` lands somewhere in this interval.
fn relative(w: Window, ms: u64) -> Option<(u64, u64)> {
    Some((w.sent + ms, w.recv + ms))
}

/// One single-key command applied to one possible prior state: the reply and the next state.
fn step(cmd: &str, args: &[Bytes], pre: &Option<Entry>, w: Window) -> (Expect, Option<Entry>) {
    let old = || pre.as_ref().map_or(Reply::nil(), |e| Reply::bulk(&e.value));
    match cmd {
        "GET" => (Expect::Exact(old()), pre.clone()),
        "SET" => {
            let (mut nx, mut xx, mut get, mut keep, mut deadline) = (false, false, false, false, None);
            let mut i = 3;
            while i < args.len() {
                match upper(&args[i]).as_str() {
                    "NX" => nx = true,
                    "XX" => xx = true,
                    "GET" => get = true,
                    "KEEPTTL" => keep = true,
                    opt => {
                        let n = num(&args[i + 1]);
                        i += 1;
                        deadline = match opt {
                            "EX" => relative(w, n * 1000),
                            "PX" => relative(w, n),
                            "EXAT" => Some((n * 1000, n * 1000)),
                            _ => Some((n, n)), // PXAT
                        };
                    }
                }
                i += 1;
            }
            let apply = !(nx && pre.is_some() || xx && pre.is_none());
            let reply = if get {
                old()
            } else if apply {
                Reply::ok()
            } else {
                Reply::nil()
            };
            let post = if apply {
                let deadline = if keep { pre.as_ref().and_then(|e| e.deadline) } else { deadline };
                Some(Entry { value: args[2].clone(), deadline })
            } else {
                pre.clone()
            };
            (Expect::Exact(reply), post)
        }
        "INCR" => match pre {
            None => (int(1), Some(Entry { value: Bytes::from("1"), deadline: None })),
            Some(e) => match std::str::from_utf8(&e.value).ok().and_then(|s| s.parse::<i64>().ok()) {
                Some(n) if n < i64::MAX => {
                    (int(n + 1), Some(Entry { value: Bytes::from((n + 1).to_string()), deadline: e.deadline }))
                }
                _ => (Expect::AnyError, pre.clone()),
            },
        },
        "EXPIRE" => match pre {
            None => (int(0), None),
            Some(e) => (int(1), Some(Entry { deadline: relative(w, num(&args[2]) * 1000), ..e.clone() })),
        },
        "PERSIST" => match pre {
            Some(Entry { deadline: Some(_), value }) => (int(1), Some(Entry { value: value.clone(), deadline: None })),
            _ => (int(0), pre.clone()),
        },
        "TTL" | "PTTL" => {
            let expect = match pre {
                None => int(-2),
                Some(Entry { deadline: None, .. }) => int(-1),
                Some(Entry { deadline: Some((lo, hi)), .. }) => {
                    let least = lo.saturating_sub(w.recv) as i64;
                    let most = hi.saturating_sub(w.sent) as i64;
                    if cmd == "PTTL" {
                        Expect::IntRange(least, most)
                    } else {
                        // Redis rounds the remaining milliseconds to the nearest second.
                        Expect::IntRange((least + 500) / 1000 - 1, (most + 500) / 1000 + 1)
                    }
                }
            };
            (expect, pre.clone())
        }
        _ => (Expect::AnyError, pre.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<Bytes> {
        s.split(' ').map(|a| Bytes::copy_from_slice(a.as_bytes())).collect()
    }

    fn w(sent: u64, recv: u64) -> Window {
        Window { sent, recv }
    }

    #[test]
    fn ttl_window_accepts_both_outcomes_only_near_the_deadline() {
        let mut m = Model::default();
        m.check(&args("SET k v PX 100"), &Reply::ok(), w(1000, 1010)).unwrap();
        m.check(&args("GET k"), &Reply::bulk(&Bytes::from("v")), w(1050, 1060)).unwrap();
        assert!(m.check(&args("GET k"), &Reply::nil(), w(1050, 1060)).is_err());
        m.check(&args("GET k"), &Reply::nil(), w(1105, 1112)).unwrap();
        // Once seen expired, it stays expired.
        assert!(m.check(&args("GET k"), &Reply::bulk(&Bytes::from("v")), w(1200, 1201)).is_err());
    }

    #[test]
    fn set_nx_and_keepttl() {
        let mut m = Model::default();
        m.check(&args("SET k a NX"), &Reply::ok(), w(0, 1)).unwrap();
        assert!(m.check(&args("SET k b NX"), &Reply::ok(), w(2, 3)).is_err());
        m.check(&args("SET k b EX 1"), &Reply::ok(), w(4, 5)).unwrap();
        m.check(&args("SET k c KEEPTTL"), &Reply::ok(), w(1004, 1006)).unwrap();
        assert_eq!(m.slot(&Bytes::from("k")), Slot::Unknown);
        m.check(&args("GET k"), &Reply::nil(), w(1004, 1006)).unwrap();
        m.check(&args("DEL k"), &Reply::Int(0), w(1010, 1011)).unwrap();
        assert_eq!(m.slot(&Bytes::from("k")), Slot::Known(None));
    }
}
