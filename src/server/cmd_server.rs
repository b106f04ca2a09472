//! Server-wide commands: DBSIZE, FLUSHDB/FLUSHALL, SWAPDB, TIME, LASTSAVE, SHUTDOWN, FUNCTION.

use super::cmd_client::help_reply;
use super::ReplyMode;
use crate::commands::{errors, Ctx};
use crate::protocol::Reply;
use crate::runtime::Rt;
use crate::util::parse_i64_strict;
use bytes::Bytes;

pub async fn run<R: Rt>(ctx: &mut Ctx<'_, R>, name: &str, args: &[Bytes]) -> Reply {
    match name {
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
            let only = (name == "flushdb").then_some(ctx.client.db);
            for s in 0..ctx.shards.num_shards() {
                ctx.shards
                    .hop(ctx.rt, s, move |sh| match only {
                        Some(db) => {
                            sh.touch_watched_db(db, None);
                            sh.dbs[db].clear()
                        }
                        None => {
                            (0..sh.dbs.len()).for_each(|db| sh.touch_watched_db(db, None));
                            sh.dbs.iter_mut().for_each(|d| d.clear())
                        }
                    })
                    .await;
            }
            Reply::Ok
        }
        "swapdb" => {
            let dbnum = ctx.shards.dbnum;
            let a = match parse_i64_strict(&args[1]) {
                None => return Reply::error("ERR invalid first DB index"),
                Some(n) => n,
            };
            let b = match parse_i64_strict(&args[2]) {
                None => return Reply::error("ERR invalid second DB index"),
                Some(n) => n,
            };
            if a < 0 || b < 0 || a as usize >= dbnum || b as usize >= dbnum {
                return Reply::error(errors::DB_RANGE);
            }
            let (a, b) = (a as usize, b as usize);
            if a != b {
                for s in 0..ctx.shards.num_shards() {
                    ctx.shards
                        .hop(ctx.rt, s, move |sh| {
                            sh.touch_watched_db(a, Some(b));
                            sh.touch_watched_db(b, Some(a));
                            sh.dbs.swap(a, b)
                        })
                        .await;
                }
            }
            Reply::Ok
        }
        "time" => {
            let ms = ctx.rt.wall_ms();
            // Sub-millisecond digits come from the monotonic clock, so successive calls advance.
            let us = ms * 1000 + (ctx.rt.now().subsec_micros() as u64 % 1000);
            Reply::Array(vec![
                Reply::bulk_str(&(us / 1_000_000).to_string()),
                Reply::bulk_str(&(us % 1_000_000).to_string()),
            ])
        }
        "lastsave" => Reply::Int((ctx.server.start_ms / 1000) as i64),
        "shutdown" => shutdown(ctx, args),
        _ => Reply::error(format!("ERR command '{name}' has no handler")),
    }
}

fn shutdown<R: Rt>(ctx: &mut Ctx<'_, R>, args: &[Bytes]) -> Reply {
    let (mut save, mut nosave, mut abort) = (false, false, false);
    for a in &args[1..] {
        match a.to_ascii_lowercase().as_slice() {
            b"save" => save = true,
            b"nosave" => nosave = true,
            b"now" | b"force" => {}
            b"abort" => abort = true,
            _ => return Reply::error(errors::SYNTAX),
        }
    }
    if (save && nosave) || (abort && args.len() > 2) {
        return Reply::error(errors::SYNTAX);
    }
    if abort {
        return Reply::error("ERR No shutdown in progress.");
    }
    if save {
        tracing::warn!("SHUTDOWN SAVE refused: snapshots are not supported yet");
        return Reply::error("ERR Errors trying to SHUTDOWN. Check logs.");
    }
    tracing::info!(client = ctx.client.id, "user requested shutdown...");
    ctx.server.shutdown.notify_one();
    // Like Redis, a successful SHUTDOWN sends no reply: the connection just closes.
    ctx.client.closing = true;
    ctx.client.reply_mode = ReplyMode::Skipping;
    Reply::Ok
}

const FUNCTION_HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "HELP",
    "    Print this help.",
];

/// FUNCTION: Mayfly has no functions, so FLUSH has nothing to remove.
pub fn function(sub: &str, args: &[Bytes]) -> Reply {
    match sub {
        "flush" => {
            if args.len() > 3
                || (args.len() == 3 && !matches!(args[2].to_ascii_uppercase().as_slice(), b"ASYNC" | b"SYNC"))
            {
                return Reply::error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
            }
            Reply::Ok
        }
        "help" => help_reply(FUNCTION_HELP),
        _ => Reply::error(errors::unknown_subcommand("function", sub.as_bytes())),
    }
}
