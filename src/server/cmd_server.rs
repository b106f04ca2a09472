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
            let n = ctx.shards.num_shards();
            let (db, record) = (ctx.client.db, args.to_vec());
            // One cut across shards: no write lands between two shards' flushes, and the
            // record reaches replicas in the same place (inside EXEC the locks are held).
            let _barrier = match ctx.shards.is_held_view() {
                false => Some(ctx.shards.barrier(ctx.rt).await),
                true => None,
            };
            for s in 0..n {
                let record = record.clone();
                ctx.shards
                    .hop(ctx.rt, s, move |sh| {
                        match only {
                            Some(db) => {
                                sh.touch_watched_db(db, None);
                                sh.dbs[db].clear()
                            }
                            None => {
                                (0..sh.dbs.len()).for_each(|db| sh.touch_watched_db(db, None));
                                sh.dbs.iter_mut().for_each(|d| d.clear())
                            }
                        }
                        if s == n - 1 {
                            sh.propagate(db, record);
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
                let n = ctx.shards.num_shards();
                let (db, record) = (ctx.client.db, args.to_vec());
                let _barrier = match ctx.shards.is_held_view() {
                    false => Some(ctx.shards.barrier(ctx.rt).await),
                    true => None,
                };
                for s in 0..n {
                    let record = record.clone();
                    ctx.shards
                        .hop(ctx.rt, s, move |sh| {
                            sh.touch_watched_db(a, Some(b));
                            sh.touch_watched_db(b, Some(a));
                            sh.dbs.swap(a, b);
                            if s == n - 1 {
                                sh.propagate(db, record);
                            }
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
        "lastsave" => {
            Reply::Int(ctx.server.persistence.last_save_secs.load(std::sync::atomic::Ordering::Relaxed) as i64)
        }
        "save" => save(ctx).await,
        "bgsave" => bgsave(ctx, args),
        "shutdown" => shutdown(ctx, args).await,
        _ => Reply::error(format!("ERR command '{name}' has no handler")),
    }
}

fn snapshot_target<R: Rt>(ctx: &Ctx<'_, R>) -> (String, String) {
    let c = ctx.server.config.read().unwrap();
    (c.get_str("dir").to_string(), c.get_str("dbfilename").to_string())
}

async fn save<R: Rt>(ctx: &mut Ctx<'_, R>) -> Reply {
    use std::sync::atomic::Ordering;
    let p = ctx.server.persistence.clone();
    if p.in_progress.swap(true, Ordering::AcqRel) {
        return Reply::error("ERR Background save already in progress");
    }
    let (dir, name) = snapshot_target(ctx);
    let out = crate::storage::snapshot::run_save(ctx.rt, ctx.shards, &p, &dir, &name, false).await;
    p.in_progress.store(false, Ordering::Release);
    match out {
        Ok(()) => Reply::Ok,
        Err(_) => Reply::error("ERR"),
    }
}

/// BGSAVE [SCHEDULE]: the save runs as a task on this thread; after the cut, shards walk their
/// tables a segment per hop and writes go on (see `storage::snapshot`).
fn bgsave<R: Rt>(ctx: &mut Ctx<'_, R>, args: &[Bytes]) -> Reply {
    use std::sync::atomic::Ordering;
    let schedule = match args.len() {
        1 => false,
        2 if args[1].eq_ignore_ascii_case(b"schedule") => true,
        _ => return Reply::error(errors::SYNTAX),
    };
    let p = ctx.server.persistence.clone();
    let Some(shards) = ctx.home.borrow().peers.as_ref().and_then(|w| w.upgrade()) else {
        return Reply::error(errors::SHUTTING_DOWN);
    };
    let (dir, name) = snapshot_target(ctx);
    if !crate::storage::snapshot::start_bgsave(ctx.rt, shards, p.clone(), dir, name) {
        if schedule {
            p.scheduled.store(true, Ordering::Release);
            return Reply::Simple("Background saving scheduled".into());
        }
        return Reply::error("ERR Background save already in progress");
    }
    Reply::Simple("Background saving started".into())
}

async fn shutdown<R: Rt>(ctx: &mut Ctx<'_, R>, args: &[Bytes]) -> Reply {
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
    // SHUTDOWN saves when asked to, or (like SIGTERM) whenever a dbfilename is configured,
    // unless NOSAVE. A failed save keeps the server running, as in Redis.
    let (dir, name) = snapshot_target(ctx);
    if save || (!nosave && !name.is_empty() && !ctx.server.persistence.is_loading()) {
        let p = ctx.server.persistence.clone();
        if crate::storage::snapshot::run_save(ctx.rt, ctx.shards, &p, &dir, &name, false).await.is_err() {
            return Reply::error("ERR Errors trying to SHUTDOWN. Check logs.");
        }
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
