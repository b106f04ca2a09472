//! CLIENT subcommands, CLIENT LIST/INFO lines in Redis 7's format, and CLIENT KILL filters.

use super::cmd_conn::set_name;
use super::{ClientHandle, ReplyMode};
use crate::commands::{errors, Ctx};
use crate::protocol::Reply;
use crate::runtime::Rt;
use crate::util::parse_i64_strict;
use bytes::Bytes;
use std::fmt::Write;
use std::sync::atomic::Ordering;

const HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "HELP",
    "    Print this help.",
];

pub fn help_reply(lines: &[&'static str]) -> Reply {
    Reply::Array(lines.iter().map(|l| Reply::simple(*l)).collect())
}

fn on_off(arg: &[u8]) -> Option<bool> {
    if arg.eq_ignore_ascii_case(b"on") {
        Some(true)
    } else if arg.eq_ignore_ascii_case(b"off") {
        Some(false)
    } else {
        None
    }
}

pub async fn run<R: Rt>(ctx: &mut Ctx<'_, R>, sub: &str, args: &[Bytes]) -> Reply {
    match sub {
        "id" => Reply::Int(ctx.client.id as i64),
        "setname" => match set_name(ctx, &args[2]) {
            Ok(()) => Reply::Ok,
            Err(e) => Reply::error(e),
        },
        "getname" => Reply::opt_bulk(ctx.client.name.clone()),
        "info" => {
            let mut line = client_line(&ctx.client.handle, ctx.rt.wall_ms());
            line.push('\n');
            Reply::Verbatim("txt", Bytes::from(line))
        }
        "list" => list(ctx, args),
        "kill" => kill(ctx, args),
        "setinfo" => {
            let attr = args[2].to_ascii_lowercase();
            let v = &args[3];
            if attr != b"lib-name" && attr != b"lib-ver" {
                return Reply::error(format!("ERR Unrecognized option '{}'", String::from_utf8_lossy(&args[2])));
            }
            if !super::cmd_conn::valid_name(v) {
                return Reply::error(format!(
                    "ERR {} cannot contain spaces, newlines or special characters.",
                    String::from_utf8_lossy(&args[2])
                ));
            }
            let v = (!v.is_empty()).then(|| v.clone());
            let mut lib = ctx.client.handle.lib.lock().unwrap();
            if attr == b"lib-name" {
                ctx.client.lib_name = v.clone();
                lib.0 = v;
            } else {
                ctx.client.lib_ver = v.clone();
                lib.1 = v;
            }
            Reply::Ok
        }
        "no-evict" | "no-touch" => {
            let Some(on) = on_off(&args[2]) else { return Reply::error(errors::SYNTAX) };
            if sub == "no-evict" {
                ctx.client.no_evict = on;
                ctx.client.handle.no_evict.store(on, Ordering::Relaxed);
            } else {
                ctx.client.no_touch = on;
                ctx.client.handle.no_touch.store(on, Ordering::Relaxed);
            }
            Reply::Ok
        }
        "reply" => {
            let mode = args[2].to_ascii_lowercase();
            match mode.as_slice() {
                b"on" => ctx.client.reply_mode = ReplyMode::On,
                b"off" => ctx.client.reply_mode = ReplyMode::Off,
                b"skip" => {
                    if ctx.client.reply_mode != ReplyMode::Off {
                        ctx.client.reply_mode = ReplyMode::Skip;
                    }
                }
                _ => return Reply::error(errors::SYNTAX),
            }
            // Only ON is answered; the connection drops the reply otherwise.
            Reply::Ok
        }
        "help" => help_reply(HELP),
        _ => Reply::error(errors::unknown_subcommand("client", sub.as_bytes())),
    }
}

fn unknown_type(t: &[u8]) -> Reply {
    Reply::error(format!("ERR Unknown client type '{}'", String::from_utf8_lossy(t)))
}

/// The client types Redis knows (`ClientHandle::kind` tells a client's own).
fn client_type(t: &[u8]) -> Option<&'static str> {
    let t = t.to_ascii_lowercase();
    Some(match t.as_slice() {
        b"normal" => "normal",
        b"master" => "master",
        b"replica" | b"slave" => "replica",
        b"pubsub" => "pubsub",
        _ => return None,
    })
}

fn list<R: Rt>(ctx: &mut Ctx<'_, R>, args: &[Bytes]) -> Reply {
    let mut ids: Option<Vec<u64>> = None;
    let mut kind = None;
    let mut i = 2;
    while i < args.len() {
        if args[i].eq_ignore_ascii_case(b"type") && i + 1 < args.len() {
            match client_type(&args[i + 1]) {
                None => return unknown_type(&args[i + 1]),
                Some(t) => kind = Some(t),
            }
            i += 2;
        } else if args[i].eq_ignore_ascii_case(b"id") && i + 1 < args.len() {
            let mut v = Vec::new();
            for a in &args[i + 1..] {
                match parse_i64_strict(a) {
                    Some(n) if n > 0 => v.push(n as u64),
                    _ => return Reply::error("ERR Invalid client ID"),
                }
            }
            ids = Some(v);
            i = args.len();
        } else {
            return Reply::error(errors::SYNTAX);
        }
    }
    let now = ctx.rt.wall_ms();
    let mut out = String::new();
    for h in ctx.server.clients.snapshot() {
        if ids.as_ref().is_some_and(|v| !v.contains(&h.id)) || kind.is_some_and(|k| k != h.kind()) {
            continue;
        }
        out.push_str(&client_line(&h, now));
        out.push('\n');
    }
    Reply::Verbatim("txt", Bytes::from(out))
}

fn show(b: &Option<Bytes>) -> String {
    b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default()
}

/// One CLIENT LIST line (without the newline), with Redis 7's fields in Redis's order. Buffer
/// and memory figures Mayfly does not track are reported as an idle Redis client would show them.
pub fn client_line(h: &ClientHandle, now_ms: u64) -> String {
    let name = show(&h.name.lock().unwrap());
    let (lib_name, lib_ver) = {
        let l = h.lib.lock().unwrap();
        (show(&l.0), show(&l.1))
    };
    let mut flags = String::new();
    let subs: Vec<usize> = h.subs.iter().map(|n| n.load(Ordering::Relaxed)).collect();
    let multi = h.multi.load(Ordering::Relaxed);
    if h.monitor.load(Ordering::Relaxed) {
        flags.push('O');
    }
    if h.master.load(Ordering::Relaxed) {
        flags.push('M');
    }
    if h.replica.load(Ordering::Relaxed) {
        flags.push('S');
    }
    if subs.iter().any(|n| *n > 0) {
        flags.push('P');
    }
    if multi >= 0 {
        flags.push('x');
    }
    if h.no_evict.load(Ordering::Relaxed) {
        flags.push('e');
    }
    if h.no_touch.load(Ordering::Relaxed) {
        flags.push('T');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let age = now_ms.saturating_sub(h.created_ms) / 1000;
    let idle = now_ms.saturating_sub(h.last_ms.load(Ordering::Relaxed)) / 1000;
    let mut s = String::with_capacity(320);
    let _ = write!(
        s,
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} \
         qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1800 events=r \
         cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
        h.id,
        h.addr,
        h.laddr,
        h.id + 7,
        name,
        age,
        idle,
        flags,
        h.db.load(Ordering::Relaxed),
        subs[0],
        subs[1],
        subs[2],
        multi,
        *h.last_cmd.lock().unwrap(),
        h.resp.load(Ordering::Relaxed),
        lib_name,
        lib_ver,
    );
    s
}

/// CLIENT KILL's filters (the new form). Every given filter must match.
#[derive(Debug, Default, PartialEq)]
pub struct KillFilter {
    pub id: Option<u64>,
    pub addr: Option<String>,
    pub laddr: Option<String>,
    pub user: Option<String>,
    /// `Some("normal")` etc., compared with `ClientHandle::kind`.
    pub ctype: Option<&'static str>,
    pub skipme: bool,
}

impl KillFilter {
    /// Parses `args` after `CLIENT KILL` (at least one pair). Errors are Redis's texts.
    pub fn parse(args: &[Bytes]) -> Result<KillFilter, String> {
        let mut f = KillFilter { skipme: true, ..Default::default() };
        if args.len() % 2 != 0 {
            return Err(errors::SYNTAX.into());
        }
        for pair in args.chunks(2) {
            let (opt, val) = (pair[0].to_ascii_lowercase(), &pair[1]);
            let text = String::from_utf8_lossy(val).into_owned();
            match opt.as_slice() {
                b"id" => match parse_i64_strict(val) {
                    Some(n) if n > 0 => f.id = Some(n as u64),
                    _ => return Err("ERR client-id should be greater than 0".into()),
                },
                b"type" => match client_type(val) {
                    Some(t) => f.ctype = Some(t),
                    None => return Err(format!("ERR Unknown client type '{text}'")),
                },
                b"user" => {
                    if text != "default" {
                        return Err(format!("ERR No such user '{text}'"));
                    }
                    f.user = Some(text);
                }
                b"addr" => f.addr = Some(text),
                b"laddr" => f.laddr = Some(text),
                b"skipme" => {
                    if val.eq_ignore_ascii_case(b"yes") {
                        f.skipme = true;
                    } else if val.eq_ignore_ascii_case(b"no") {
                        f.skipme = false;
                    } else {
                        return Err(errors::SYNTAX.into());
                    }
                }
                _ => return Err(errors::SYNTAX.into()),
            }
        }
        Ok(f)
    }

    pub fn matches(&self, id: u64, addr: &str, laddr: &str, kind: &str, me: u64) -> bool {
        if self.skipme && id == me {
            return false;
        }
        self.id.is_none_or(|x| x == id)
            && self.addr.as_deref().is_none_or(|a| a == addr)
            && self.laddr.as_deref().is_none_or(|a| a == laddr)
            && self.ctype.is_none_or(|t| t == kind)
    }
}

fn kill<R: Rt>(ctx: &mut Ctx<'_, R>, args: &[Bytes]) -> Reply {
    let me = ctx.client.id;
    let clients = ctx.server.clients.snapshot();
    if args.len() == 3 {
        // The old form: CLIENT KILL ip:port, which may name the caller itself.
        let target = String::from_utf8_lossy(&args[2]);
        let Some(h) = clients.iter().find(|h| h.addr.to_string() == target) else {
            return Reply::error("ERR No such client");
        };
        kill_one(ctx, h, me);
        return Reply::Ok;
    }
    let filter = match KillFilter::parse(&args[2..]) {
        Ok(f) => f,
        Err(e) => return Reply::error(e),
    };
    let mut n = 0;
    for h in &clients {
        if filter.matches(h.id, &h.addr.to_string(), &h.laddr.to_string(), h.kind(), me) {
            kill_one(ctx, h, me);
            n += 1;
        }
    }
    Reply::Int(n)
}

fn kill_one<R: Rt>(ctx: &mut Ctx<'_, R>, h: &ClientHandle, me: u64) {
    if h.id == me {
        // Redis closes the caller after its reply is written.
        ctx.client.closing = true;
    } else {
        h.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect()
    }

    #[test]
    fn kill_filters_parse() {
        let f = KillFilter::parse(&b(&["ID", "5", "skipme", "no"])).unwrap();
        assert_eq!(f.id, Some(5));
        assert!(!f.skipme);
        assert!(f.matches(5, "1.2.3.4:5", "x", "normal", 5));
        assert!(!f.matches(6, "1.2.3.4:5", "x", "normal", 5));
        let f = KillFilter::parse(&b(&["addr", "1.2.3.4:5"])).unwrap();
        assert!(f.skipme);
        assert!(f.matches(9, "1.2.3.4:5", "x", "master", 1));
        assert!(!f.matches(1, "1.2.3.4:5", "x", "normal", 1));
        assert_eq!(KillFilter::parse(&b(&["id", "0"])).unwrap_err(), "ERR client-id should be greater than 0");
        assert_eq!(KillFilter::parse(&b(&["bogus", "1"])).unwrap_err(), errors::SYNTAX);
        assert_eq!(KillFilter::parse(&b(&["skipme", "maybe"])).unwrap_err(), errors::SYNTAX);
        assert_eq!(KillFilter::parse(&b(&["type", "x"])).unwrap_err(), "ERR Unknown client type 'x'");
        assert_eq!(KillFilter::parse(&b(&["user", "bob"])).unwrap_err(), "ERR No such user 'bob'");
        let f = KillFilter::parse(&b(&["type", "pubsub"])).unwrap();
        assert!(!f.matches(3, "a", "b", "normal", 1));
        assert!(f.matches(3, "a", "b", "pubsub", 1));
        let f = KillFilter::parse(&b(&["type", "MASTER"])).unwrap();
        assert!(f.matches(3, "a", "b", "master", 1) && !f.matches(3, "a", "b", "normal", 1));
    }

    #[test]
    fn line_has_redis_fields() {
        let h = ClientHandle::new(4, "127.0.0.1:5000".parse().unwrap(), "127.0.0.1:6379".parse().unwrap(), 1000);
        let line = client_line(&h, 5000);
        let keys: Vec<&str> = line.split(' ').map(|kv| kv.split('=').next().unwrap()).collect();
        assert_eq!(
            keys.join(" "),
            "id addr laddr fd name age idle flags db sub psub ssub multi qbuf qbuf-free argv-mem multi-mem rbs rbp \
             obl oll omem tot-mem events cmd user redir resp lib-name lib-ver"
        );
        assert!(line.contains("age=4 idle=4 flags=N db=0"));
        h.master.store(true, Ordering::Relaxed);
        assert!(client_line(&h, 5000).contains(" flags=M "));
        assert_eq!(h.kind(), "master");
        let r = ClientHandle::new(5, "127.0.0.1:5001".parse().unwrap(), "127.0.0.1:6379".parse().unwrap(), 1000);
        r.replica.store(true, Ordering::Relaxed);
        assert!(client_line(&r, 5000).contains(" flags=S "));
        assert_eq!(r.kind(), "replica");
        let f = KillFilter::parse(&b(&["type", "slave"])).unwrap();
        assert!(f.matches(5, "a", "b", r.kind(), 1) && !f.matches(5, "a", "b", "normal", 1));
    }
}
