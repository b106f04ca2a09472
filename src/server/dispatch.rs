//! Connection and server commands: they act on the client's own state or on every shard, so
//! they run here rather than inside one shard. This file only routes; each family has its file.

use super::{
    cmd_client, cmd_cluster, cmd_command, cmd_config, cmd_conn, cmd_diag, cmd_info, cmd_server, meta, multi, pubsub,
};
use crate::commands::{errors, CommandSpec, Ctx};
use crate::protocol::Reply;
use crate::runtime::Rt;
use bytes::Bytes;

pub async fn run_conn_command<R: Rt>(ctx: &mut Ctx<'_, R>, spec: &'static CommandSpec, args: &[Bytes]) -> Reply {
    // Containers: the subcommand must exist and have its own arity.
    if meta::is_container(spec.name) && !(spec.name == "command" && args.len() == 1) {
        let Some(sub) = meta::find_sub(spec.name, &args[1]) else {
            return Reply::error(errors::unknown_subcommand(spec.name, &args[1]));
        };
        if !sub.arity_ok(args.len()) {
            return Reply::error(errors::wrong_args(sub.full));
        }
        return match spec.name {
            "client" => cmd_client::run(ctx, sub.sub_name(), args).await,
            "command" => cmd_command::run(sub.sub_name(), args),
            "cluster" => cmd_cluster::run(ctx, sub.sub_name(), args).await,
            "slowlog" => cmd_diag::slowlog(ctx, sub.sub_name(), args).await,
            "latency" => cmd_diag::latency(ctx, sub.sub_name(), args).await,
            "memory" => cmd_diag::memory(ctx, sub.sub_name(), args).await,
            "config" => cmd_config::run(ctx, sub.sub_name(), args).await,
            "function" => cmd_server::function(sub.sub_name(), args),
            "pubsub" => pubsub::pubsub_cmd(ctx, sub.sub_name(), args).await,
            other => Reply::error(format!("ERR command '{other}' has no handler")),
        };
    }
    match spec.name {
        "ping" | "echo" | "select" | "quit" | "auth" | "hello" | "reset" => cmd_conn::run(ctx, spec.name, args),
        "command" => cmd_command::all_info(),
        "info" => cmd_info::info(ctx, args).await,
        "multi" | "discard" | "watch" | "unwatch" => multi::run(ctx, spec.name, args).await,
        "exec" => Reply::error(multi::EXEC_WITHOUT),
        "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ssubscribe" | "sunsubscribe" | "publish"
        | "spublish" => pubsub::run(ctx, spec.name, args).await,
        "debug" => cmd_diag::debug(ctx, args).await,
        "monitor" => super::monitor::start(ctx),
        "readonly" | "readwrite" => cmd_cluster::read_mode(ctx.server),
        "psync" | "sync" | "replconf" | "wait" | "replicaof" | "slaveof" | "role" => {
            crate::replication::commands::run(ctx, spec.name, args).await
        }
        _ => cmd_server::run(ctx, spec.name, args).await,
    }
}
