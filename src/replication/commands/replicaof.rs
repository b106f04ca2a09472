//! REPLICAOF / SLAVEOF: follow a primary, or become one (NO ONE), with Redis 7.0's replies.

use crate::commands::Ctx;
use crate::protocol::Reply;
use crate::replication::{role, Role};
use crate::runtime::Rt;
use bytes::Bytes;

pub async fn replicaof<R: Rt>(ctx: &mut Ctx<'_, R>, args: &[Bytes]) -> Reply {
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
