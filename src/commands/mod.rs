//! Commands: one table (arity, flags, key positions, ACL categories, how each runs) and one file
//! per family. A command's arguments are parsed once, then applied synchronously to the shard
//! that owns its keys (or coordinated across shards); the reply is a value, never bytes.

mod bitmaps;
pub mod errors;
mod hashes;
mod hyperloglog;
mod keys;
pub mod lists;
mod multikey;
mod persist;
mod sets;
mod sort;
mod strings;
pub mod table;
pub mod zblocking;
mod zsets;

pub use table::{lookup, spec, CommandSpec, KeySpec, Run};

use crate::engine::{ShardCell, ShardSet};
use crate::protocol::Reply;
use crate::runtime::Rt;
use crate::server::{ClientState, ServerState};
use bytes::Bytes;

/// What a command may reach while it runs on behalf of one client.
pub struct Ctx<'a, R: Rt> {
    pub rt: &'a R,
    pub shards: &'a ShardSet,
    /// The shard owned by the connection's own thread: its keys are served inline.
    pub home: &'a ShardCell,
    pub server: &'a ServerState,
    pub client: &'a mut ClientState,
}

/// Whether `spec` may block the client (BLPOP..., BZPOPMIN...): the connection then watches
/// its socket while it waits, and MULTI must not let it block.
pub fn is_blocking(spec: &CommandSpec) -> bool {
    lists::is_blocking(spec) || zblocking::is_blocking(spec)
}

/// Runs a single-shard command's function on its shard: a `denyoom` command first makes room
/// (eviction by the policy) and is refused with Redis's OOM error when the shard stays over its
/// share of `maxmemory`; `no_touch` (CLIENT NO-TOUCH) keeps access times as they were.
/// A write that changed something is recorded for replicas (`engine::propagate`).
pub fn run_on_shard(
    f: table::ShardFn,
    flags: ShardFlags,
    sh: &mut crate::engine::Shard,
    db: usize,
    args: &[Bytes],
) -> Reply {
    if flags.denyoom && sh.config.maxmemory != 0 && !sh.make_room() {
        sh.flush_propagation();
        return Reply::error(errors::OOM);
    }
    sh.no_touch = flags.no_touch;
    sh.rewritten = false;
    let dirty = sh.stats.dirty;
    let r = f(sh, db, args);
    sh.no_touch = false;
    sh.command_done(flags.write.then_some(flags.name), dirty, db, args, &r);
    r
}

/// What `run_on_shard` needs to know of a command, looked up once per request.
#[derive(Clone, Copy, Debug)]
pub struct ShardFlags {
    /// The command table's name (what replication rewrites are keyed on).
    pub name: &'static str,
    pub denyoom: bool,
    pub write: bool,
    /// The client asked not to touch access times (CLIENT NO-TOUCH).
    pub no_touch: bool,
}

impl ShardFlags {
    pub fn of(spec: &CommandSpec, client_no_touch: bool) -> ShardFlags {
        ShardFlags {
            name: spec.name,
            denyoom: spec.is_denyoom(),
            write: spec.is_write(),
            no_touch: client_no_touch && spec.name != "touch",
        }
    }
}

/// Whether a `denyoom` command on `keys` (every shard when it names none) must be refused now:
/// a shard it writes to is over its share of `maxmemory` (the figures shards publish after
/// every job). Single-shard commands decide on the shard itself (`run_on_shard`).
pub fn oom_refused<R: Rt>(ctx: &Ctx<'_, R>, spec: &CommandSpec, args: &[Bytes]) -> bool {
    let (maxmemory, gauge) = {
        let h = ctx.home.borrow();
        (h.config.maxmemory, h.mem.clone())
    };
    if maxmemory == 0 || !spec.is_denyoom() {
        return false;
    }
    let mut keys = spec.keys.positions(args.len()).peekable();
    if keys.peek().is_none() {
        return (0..ctx.shards.num_shards()).any(|s| gauge.over(s, maxmemory));
    }
    keys.any(|i| gauge.over(ctx.shards.shard_of(&args[i]), maxmemory))
}

/// Whether a command sent inside MULTI must be refused for memory: Redis 7.0 refuses every one
/// (the queue itself grows without bound), not only `denyoom` ones, while memory is full —
/// here, while any shard is over its share of `maxmemory`. EXEC, DISCARD, QUIT and RESET are
/// spared (EXEC is judged by what it holds).
pub fn oom_refused_in_multi<R: Rt>(ctx: &Ctx<'_, R>, spec: &CommandSpec) -> bool {
    if matches!(spec.name, "exec" | "discard" | "quit" | "reset") {
        return false;
    }
    let (maxmemory, gauge) = {
        let h = ctx.home.borrow();
        (h.config.maxmemory, h.mem.clone())
    };
    (0..ctx.shards.num_shards()).any(|s| gauge.over(s, maxmemory))
}

/// Runs a command whose name, arity and permission were already checked.
/// `args` is handed back (still holding the request, for the slow log) so the connection can
/// reuse its allocation.
pub async fn execute<R: Rt>(ctx: &mut Ctx<'_, R>, spec: &'static CommandSpec, args: Vec<Bytes>) -> (Reply, Vec<Bytes>) {
    match spec.run {
        Run::Shard(f, mode) => {
            let db = ctx.client.db;
            let keys = spec.keys.positions(args.len());
            let shard = match keys.clone().next() {
                Some(first) => ctx.shards.shard_of(&args[first]),
                None => ctx.home.borrow().id,
            };
            debug_assert!(
                keys.clone().all(|i| ctx.shards.shard_of(&args[i]) == shard),
                "{} spans shards but has no cross-shard form",
                spec.name
            );
            let key_list: Vec<Bytes> = if ctx.home.borrow().locks.is_idle() && shard == ctx.home.borrow().id {
                Vec::new()
            } else {
                keys.map(|i| args[i].clone()).collect()
            };
            let mut flags = ShardFlags::of(spec, ctx.client.no_touch);
            // Inside EXEC nothing is refused or evicted command by command: EXEC as a whole was
            // checked (`Connection::exec`), as Redis runs a transaction's commands unchecked.
            flags.denyoom &= !ctx.client.in_exec;
            let out = ctx
                .shards
                .run_keyed(ctx.rt, ctx.home, shard, db as u16, &key_list, mode, move |sh| {
                    let r = run_on_shard(f, flags, sh, db, &args);
                    (r, args)
                })
                .await;
            match out {
                Some((reply, args)) => (reply, args),
                None => (Reply::error(errors::SHUTTING_DOWN), Vec::new()),
            }
        }
        Run::Multi(kind) => {
            if oom_refused(ctx, spec, &args) {
                return (Reply::error(errors::OOM), args);
            }
            // A write whose keys may span shards is recorded as one unit by its transaction
            // (or by its single-shard job), while it still holds the keys.
            let journal = &ctx.server.repl.journal;
            if spec.is_write() && (journal.is_on() || ctx.shards.capture().is_some()) {
                // Blocking commands record what they popped, wherever that happens.
                let default = (!is_blocking(spec)).then(|| (ctx.client.db as u16, args.clone()));
                let cap =
                    crate::engine::propagate::Capture::new(journal.clone(), default, ctx.shards.capture().cloned());
                let view = ctx.shards.capturing_view(cap.clone());
                let mut sub =
                    Ctx { rt: ctx.rt, shards: &view, home: ctx.home, server: ctx.server, client: &mut *ctx.client };
                let reply = multikey::run(&mut sub, kind, &args).await;
                cap.finish();
                return (reply, args);
            }
            let reply = multikey::run(ctx, kind, &args).await;
            (reply, args)
        }
        Run::Conn => {
            let reply = crate::server::dispatch::run_conn_command(ctx, spec, &args).await;
            (reply, args)
        }
    }
}
