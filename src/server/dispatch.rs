//! Connection and server commands: they act on the client's own state or on every shard, so
//! they run here rather than inside one shard.

use crate::commands::{errors, CommandSpec, Ctx};
use crate::protocol::Reply;
use crate::runtime::Rt;
use crate::util::parse_i64_strict;
use bytes::Bytes;

pub async fn run_conn_command<R: Rt>(ctx: &mut Ctx<'_, R>, spec: &'static CommandSpec, args: &[Bytes]) -> Reply {
    match spec.name {
        "ping" => match args.len() {
            1 => Reply::simple("PONG"),
            2 => Reply::Bulk(args[1].clone()),
            _ => Reply::error(errors::wrong_args("ping")),
        },
        "echo" => Reply::Bulk(args[1].clone()),
        "select" => match parse_i64_strict(&args[1]) {
            None => Reply::error(errors::NOT_INTEGER),
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
        "dbsize" => {
            let db = ctx.client.db;
            let mut total = 0;
            for s in 0..ctx.shards.num_shards() {
                total += ctx.shards.hop(ctx.rt, s, move |sh| sh.dbs[db].len() as i64).await.unwrap_or(0);
            }
            Reply::Int(total)
        }
        "flushall" | "flushdb" => {
            if args.len() > 2
                || (args.len() == 2 && !matches!(args[1].to_ascii_uppercase().as_slice(), b"ASYNC" | b"SYNC"))
            {
                return Reply::error(errors::SYNTAX);
            }
            let only = (spec.name == "flushdb").then_some(ctx.client.db);
            for s in 0..ctx.shards.num_shards() {
                ctx.shards
                    .hop(ctx.rt, s, move |sh| match only {
                        Some(db) => sh.dbs[db].clear(),
                        None => sh.dbs.iter_mut().for_each(|d| d.clear()),
                    })
                    .await;
            }
            Reply::Ok
        }
        other => Reply::error(format!("ERR command '{other}' has no handler")),
    }
}
