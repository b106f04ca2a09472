//! MULTI, EXEC, DISCARD, WATCH, UNWATCH. Commands are queued on the connection; EXEC locks every
//! key of every queued command (and every watched key) across shards in shard order, checks the
//! watched keys' versions under those locks, runs the commands in order through a view of the
//! shard set that knows the locks are held, then releases: strictly serializable with every
//! other command. WATCH records a per-shard version that `Shard::notify` (every write, expiry,
//! FLUSH*, SWAPDB) bumps.

use crate::commands::{errors, spec, CommandSpec, Ctx, KeySpec, Run};
use crate::engine::{Mode, ShardSet};
use crate::protocol::Reply;
use crate::runtime::Rt;
use crate::server::ClientState;
use bytes::Bytes;

pub const NESTED: &str = "ERR MULTI calls can not be nested";
pub const EXEC_WITHOUT: &str = "ERR EXEC without MULTI";
pub const DISCARD_WITHOUT: &str = "ERR DISCARD without MULTI";
pub const WATCH_IN_MULTI: &str = "ERR WATCH inside MULTI is not allowed";
pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";
pub const NOT_IN_MULTI: &str = "ERR Command not allowed inside a transaction";

/// A transaction being queued.
#[derive(Default)]
pub struct MultiState {
    pub queued: Vec<(&'static CommandSpec, Vec<Bytes>)>,
    /// A command was refused while queueing: EXEC will abort.
    pub failed: bool,
}

/// A key this client WATCHes, with the version seen at WATCH time.
#[derive(Clone, Debug)]
pub struct WatchedKey {
    pub db: usize,
    pub key: Bytes,
    pub version: u64,
}

/// Commands a transaction does not queue.
pub fn runs_in_multi(name: &str) -> bool {
    matches!(name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset")
}

const TX_FLAGS: &[&str] = &["noscript", "loading", "stale", "fast", "allow-busy"];
const EXEC_FLAGS: &[&str] = &["noscript", "loading", "stale", "skip-slowlog"];
const ACL_FAST: &[&str] = &["@fast", "@transaction"];
const ACL_SLOW: &[&str] = &["@slow", "@transaction"];

pub static COMMANDS: &[CommandSpec] = &[
    spec("transactions", "multi", 1, TX_FLAGS, KeySpec::NONE, ACL_FAST, "Starts a transaction.", "1.2.0", Run::Conn),
    spec(
        "transactions",
        "exec",
        1,
        EXEC_FLAGS,
        KeySpec::NONE,
        ACL_SLOW,
        "Executes all commands in a transaction.",
        "1.2.0",
        Run::Conn,
    ),
    spec(
        "transactions",
        "discard",
        1,
        TX_FLAGS,
        KeySpec::NONE,
        ACL_FAST,
        "Discards a transaction.",
        "1.2.0",
        Run::Conn,
    ),
    spec(
        "transactions",
        "watch",
        -2,
        TX_FLAGS,
        KeySpec::NONE,
        ACL_FAST,
        "Monitors changes to keys to determine the execution of a transaction.",
        "2.2.0",
        Run::Conn,
    ),
    spec(
        "transactions",
        "unwatch",
        1,
        TX_FLAGS,
        KeySpec::NONE,
        ACL_FAST,
        "Forgets about watched keys of a transaction.",
        "2.2.0",
        Run::Conn,
    ),
];

/// MULTI, DISCARD, WATCH, UNWATCH (EXEC runs in the connection, which can run commands).
pub async fn run<R: Rt>(ctx: &mut Ctx<'_, R>, name: &str, args: &[Bytes]) -> Reply {
    match name {
        "multi" => {
            if ctx.client.multi.is_some() {
                return Reply::error(NESTED);
            }
            ctx.client.multi = Some(MultiState::default());
            Reply::Ok
        }
        "discard" => match ctx.client.multi.take() {
            None => Reply::error(DISCARD_WITHOUT),
            Some(_) => {
                unwatch_all(ctx.shards, ctx.client);
                Reply::Ok
            }
        },
        "watch" => {
            if ctx.client.multi.is_some() {
                return Reply::error(WATCH_IN_MULTI);
            }
            let db = ctx.client.db;
            for key in &args[1..] {
                if ctx.client.watched.iter().any(|w| w.db == db && w.key == *key) {
                    continue;
                }
                let shard = ctx.shards.shard_of(key);
                let k = key.clone();
                let version = ctx
                    .shards
                    .run_keyed(ctx.rt, ctx.home, shard, db as u16, std::slice::from_ref(key), Mode::Read, move |sh| {
                        sh.watch(db, &k)
                    })
                    .await;
                let Some(version) = version else { return Reply::error(errors::SHUTTING_DOWN) };
                ctx.client.watched.push(WatchedKey { db, key: key.clone(), version });
            }
            Reply::Ok
        }
        "unwatch" => {
            unwatch_all(ctx.shards, ctx.client);
            Reply::Ok
        }
        _ => Reply::error(format!("ERR command '{name}' has no handler")),
    }
}

/// Drops every WATCH of the client (fire and forget: each shard forgets its part in order).
pub fn unwatch_all(shards: &ShardSet, client: &mut ClientState) {
    for w in std::mem::take(&mut client.watched) {
        let shard = shards.shard_of(&w.key);
        shards.post(shard, Box::new(move |sh| sh.unwatch(w.db, &w.key)));
    }
}

/// Every (db, key, mode) the queued commands touch, following SELECTs inside the transaction.
pub fn lock_set(
    queued: &[(&'static CommandSpec, Vec<Bytes>)],
    mut db: usize,
    dbnum: usize,
    watched: &[WatchedKey],
) -> Vec<(u16, Bytes, Mode)> {
    let mut keys = Vec::new();
    for (spec, args) in queued {
        if spec.name == "select" {
            if let Some(n) = crate::util::parse_i64_strict(&args[1]).filter(|n| *n >= 0 && (*n as usize) < dbnum) {
                db = n as usize;
            }
            continue;
        }
        let mode = if spec.is_write() { Mode::Write } else { Mode::Read };
        for i in spec.keys.positions(args.len()) {
            keys.push((db as u16, args[i].clone(), mode));
        }
    }
    keys.extend(watched.iter().map(|w| (w.db as u16, w.key.clone(), Mode::Read)));
    keys
}

/// Whether every watched key still has the version WATCH saw. Call with the keys locked.
pub async fn watches_hold<R: Rt>(rt: &R, shards: &ShardSet, watched: &[WatchedKey]) -> bool {
    for w in watched {
        let (db, key, version) = (w.db, w.key.clone(), w.version);
        let now = shards.hop(rt, shards.shard_of(&w.key), move |sh| sh.watch_version(db, &key) == version).await;
        if now != Some(true) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_set_follows_select() {
        let set = crate::commands::lookup(b"set").unwrap();
        let get = crate::commands::lookup(b"get").unwrap();
        let select = crate::commands::lookup(b"select").unwrap();
        let b = |v: &[&str]| v.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect::<Vec<_>>();
        let q = vec![(set, b(&["set", "a", "1"])), (select, b(&["select", "3"])), (get, b(&["get", "b"]))];
        let w = vec![WatchedKey { db: 0, key: Bytes::from("c"), version: 0 }];
        let keys = lock_set(&q, 0, 16, &w);
        assert_eq!(
            keys,
            vec![
                (0, Bytes::from("a"), Mode::Write),
                (3, Bytes::from("b"), Mode::Read),
                (0, Bytes::from("c"), Mode::Read)
            ]
        );
    }
}
