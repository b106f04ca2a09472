//! REPLICAOF / SLAVEOF and ROLE, with Redis 7.0's replies.

use super::{role, Role};
use crate::commands::{spec, CommandSpec, Ctx, KeySpec, Run};
use crate::protocol::Reply;
use crate::runtime::Rt;
use bytes::Bytes;

const ADMIN: &[&str] = &["@admin", "@slow", "@dangerous"];

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "server",
        "replicaof",
        3,
        &["admin", "noscript", "stale", "no-async-loading"],
        KeySpec::NONE,
        ADMIN,
        "Configures a server as replica of another, or promotes it to a master.",
        "5.0.0",
        Run::Conn,
    ),
    spec(
        "server",
        "slaveof",
        3,
        &["admin", "noscript", "stale", "no-async-loading"],
        KeySpec::NONE,
        ADMIN,
        "Sets a Redis server as a replica of another, or promotes it to being a master.",
        "1.0.0",
        Run::Conn,
    ),
    spec(
        "server",
        "role",
        1,
        &["noscript", "loading", "stale", "fast"],
        KeySpec::NONE,
        &["@admin", "@fast", "@dangerous"],
        "Returns the replication role.",
        "2.8.12",
        Run::Conn,
    ),
];

pub async fn run<R: Rt>(ctx: &mut Ctx<'_, R>, name: &str, args: &[Bytes]) -> Reply {
    match name {
        "role" => role_reply(ctx),
        _ => replicaof(ctx, args).await,
    }
}

async fn replicaof<R: Rt>(ctx: &mut Ctx<'_, R>, args: &[Bytes]) -> Reply {
    if ctx.server.cluster.enabled {
        return Reply::error("ERR REPLICAOF not allowed in cluster mode.");
    }
    let repl = &ctx.server.repl;
    if args[1].eq_ignore_ascii_case(b"no") && args[2].eq_ignore_ascii_case(b"one") {
        if repl.is_replica() {
            role::promote(ctx.rt, ctx.shards, repl).await;
            tracing::info!("MASTER MODE enabled (user request from 'id={} addr={}')", ctx.client.id, ctx.client.addr);
        }
        return Reply::Ok;
    }
    let port = match crate::util::parse_i64_strict(&args[2]) {
        Some(p) if (0..=65535).contains(&p) => p as u16,
        _ => return Reply::error("ERR Invalid master port"),
    };
    let host = String::from_utf8_lossy(&args[1]).into_owned();
    if let Role::Replica { host: h, port: p } = repl.role() {
        if h.eq_ignore_ascii_case(&host) && p == port {
            tracing::info!("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
            return Reply::simple("OK Already connected to specified master");
        }
    }
    role::follow(ctx.rt, ctx.shards, repl, &host, port).await;
    tracing::info!(
        "REPLICAOF {host}:{port} enabled (user request from 'id={} addr={}')",
        ctx.client.id,
        ctx.client.addr
    );
    Reply::Ok
}

fn role_reply<R: Rt>(ctx: &Ctx<'_, R>) -> Reply {
    let repl = &ctx.server.repl;
    let offset = repl.journal.offset() as i64;
    match repl.role() {
        Role::Primary => {
            let followers = repl.followers.lock().unwrap();
            let list = followers
                .iter()
                .filter(|f| f.state == "online")
                .map(|f| {
                    Reply::Array(vec![
                        Reply::bulk_str(&f.ip),
                        Reply::bulk_str(&f.port.to_string()),
                        Reply::bulk_str(&f.ack_offset.to_string()),
                    ])
                })
                .collect();
            Reply::Array(vec![Reply::bulk_str("master"), Reply::Int(offset), Reply::Array(list)])
        }
        Role::Replica { host, port } => {
            let link = repl.link.lock().unwrap().clone();
            let state = if link.state.is_empty() { "connect" } else { link.state };
            Reply::Array(vec![
                Reply::bulk_str("slave"),
                Reply::bulk_str(&host),
                Reply::Int(port as i64),
                Reply::bulk_str(state),
                Reply::Int(if link.up { offset } else { -1 }),
            ])
        }
    }
}
