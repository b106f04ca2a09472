//! PING, ECHO, SELECT, QUIT, AUTH, HELLO, RESET: the connection's own state.

use super::ReplyMode;
use crate::commands::{errors, Ctx};
use crate::protocol::{Reply, RespVersion};
use crate::runtime::Rt;
use crate::server::ServerState;
use crate::util::parse_i64_strict;
use bytes::Bytes;

pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
const AUTH_NO_PASSWORD: &str = "ERR AUTH <password> called without any password configured for the default user. \
     Are you sure your configuration is correct?";
const HELLO_NOAUTH: &str = "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
     HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol \
     version at the same time";
pub const BAD_NAME: &str = "ERR Client names cannot contain spaces, newlines or special characters.";

pub fn run<R: Rt>(ctx: &mut Ctx<'_, R>, name: &str, args: &[Bytes]) -> Reply {
    match name {
        // RESP2 subscribed mode answers PING as a message-like array.
        "ping" if ctx.client.subs.active() && ctx.client.resp == RespVersion::Resp2 && args.len() <= 2 => {
            Reply::Array(vec![
                Reply::bulk_str("pong"),
                args.get(1).map_or_else(|| Reply::bulk_str(""), |a| Reply::Bulk(a.clone())),
            ])
        }
        "ping" => match args.len() {
            1 => Reply::simple("PONG"),
            2 => Reply::Bulk(args[1].clone()),
            _ => Reply::error(errors::wrong_args("ping")),
        },
        "echo" => Reply::Bulk(args[1].clone()),
        "select" => match parse_i64_strict(&args[1]) {
            None => Reply::error(errors::NOT_INTEGER),
            // A cluster has only database 0.
            Some(n) if n != 0 && ctx.server.cluster.enabled => {
                Reply::error("ERR SELECT is not allowed in cluster mode")
            }
            Some(n) if n < 0 || n as usize >= ctx.shards.dbnum => Reply::error(errors::DB_RANGE),
            Some(n) => {
                ctx.client.db = n as usize;
                Reply::Ok
            }
        },
        "quit" => {
            ctx.client.closing = true;
            Reply::Ok
        }
        "auth" => auth(ctx, args),
        "hello" => hello(ctx, args),
        "reset" => {
            reset(ctx);
            Reply::simple("RESET")
        }
        _ => Reply::error(format!("ERR command '{name}' has no handler")),
    }
}

/// Checks credentials against the default user (the only user until ACLs exist).
pub fn check_auth(server: &ServerState, user: Option<&[u8]>, pass: &[u8]) -> Result<(), &'static str> {
    if let Some(u) = user {
        if u != b"default" {
            return Err(WRONGPASS);
        }
    }
    match server.requirepass() {
        // The default user is `nopass`: any password works when a user is named.
        None if user.is_some() => Ok(()),
        None => Err(AUTH_NO_PASSWORD),
        Some(p) if p.as_bytes() == pass => Ok(()),
        Some(_) => Err(WRONGPASS),
    }
}

fn auth<R: Rt>(ctx: &mut Ctx<'_, R>, args: &[Bytes]) -> Reply {
    let outcome = match args.len() {
        2 => check_auth(ctx.server, None, &args[1]),
        3 => check_auth(ctx.server, Some(&args[1]), &args[2]),
        _ => return Reply::error(errors::SYNTAX),
    };
    match outcome {
        Ok(()) => {
            ctx.client.authenticated = true;
            Reply::Ok
        }
        Err(e) => Reply::error(e),
    }
}

/// Redis accepts names of printable ASCII without spaces ('!'..='~').
pub fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

/// Sets (or, for an empty name, clears) the connection name.
pub fn set_name<R: Rt>(ctx: &mut Ctx<'_, R>, name: &Bytes) -> Result<(), &'static str> {
    if !valid_name(name) {
        return Err(BAD_NAME);
    }
    let v = (!name.is_empty()).then(|| name.clone());
    ctx.client.name = v.clone();
    *ctx.client.handle.name.lock().unwrap() = v;
    Ok(())
}

fn hello<R: Rt>(ctx: &mut Ctx<'_, R>, args: &[Bytes]) -> Reply {
    let mut proto = None;
    if args.len() >= 2 {
        match parse_i64_strict(&args[1]) {
            None => return Reply::error("ERR Protocol version is not an integer or out of range"),
            Some(2) => proto = Some(RespVersion::Resp2),
            Some(3) => proto = Some(RespVersion::Resp3),
            Some(_) => return Reply::error("NOPROTO unsupported protocol version"),
        }
    }
    let mut creds = None;
    let mut setname = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = args[i].to_ascii_uppercase();
        if opt == b"AUTH" && more >= 2 {
            creds = Some((&args[i + 1], &args[i + 2]));
            i += 3;
        } else if opt == b"SETNAME" && more >= 1 {
            setname = Some(&args[i + 1]);
            i += 2;
        } else {
            return Reply::error(format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(&args[i])));
        }
    }
    if let Some((user, pass)) = creds {
        if let Err(e) = check_auth(ctx.server, Some(user), pass) {
            return Reply::error(e);
        }
        ctx.client.authenticated = true;
    }
    if !ctx.client.authenticated {
        return Reply::error(HELLO_NOAUTH);
    }
    if let Some(name) = setname {
        if let Err(e) = set_name(ctx, name) {
            return Reply::error(e);
        }
    }
    if let Some(p) = proto {
        ctx.client.resp = p;
    }
    let proto_num = if ctx.client.resp == RespVersion::Resp3 { 3 } else { 2 };
    Reply::Map(vec![
        (Reply::bulk_str("server"), Reply::bulk_str("redis")),
        (Reply::bulk_str("version"), Reply::bulk_str(crate::REDIS_VERSION)),
        (Reply::bulk_str("proto"), Reply::Int(proto_num)),
        (Reply::bulk_str("id"), Reply::Int(ctx.client.id as i64)),
        (Reply::bulk_str("mode"), Reply::bulk_str("standalone")),
        (Reply::bulk_str("role"), Reply::bulk_str("master")),
        (Reply::bulk_str("modules"), Reply::Array(vec![])),
    ])
}

/// RESET: the connection as it was when it connected (but still connected).
fn reset<R: Rt>(ctx: &mut Ctx<'_, R>) {
    super::monitor::stop(ctx.server, ctx.client);
    ctx.client.multi = None;
    super::multi::unwatch_all(ctx.shards, ctx.client);
    super::pubsub::forget_all(ctx.home, ctx.client);
    let c = &mut *ctx.client;
    c.db = 0;
    c.resp = RespVersion::Resp2;
    c.name = None;
    *c.handle.name.lock().unwrap() = None;
    c.reply_mode = ReplyMode::On;
    c.no_evict = false;
    c.no_touch = false;
    c.handle.no_evict.store(false, std::sync::atomic::Ordering::Relaxed);
    c.handle.no_touch.store(false, std::sync::atomic::Ordering::Relaxed);
    c.authenticated = ctx.server.requirepass().is_none();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name(b"my-client_1"));
        assert!(valid_name(b""));
        assert!(!valid_name(b"a b"));
        assert!(!valid_name(b"a\nb"));
        assert!(!valid_name("é".as_bytes()));
    }
}
