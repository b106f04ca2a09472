//! Commands whose keys may live on several shards. Each runs as one transaction: it locks every
//! key (in shard order, so no deadlock), runs its steps shard by shard, then releases. When all
//! keys share a shard they take the same path as single-shard commands, with no locks.

use super::{errors, Ctx};
use crate::engine::{Mode, Shard};
use crate::protocol::Reply;
use crate::runtime::Rt;
use bytes::Bytes;

#[derive(Clone, Copy, Debug)]
pub enum MultiKind {
    Mget,
    Mset,
    Msetnx,
    /// DEL, UNLINK, EXISTS, TOUCH: a per-shard count summed.
    CountKeys(super::keys::CountOp),
    Rename {
        nx: bool,
    },
    Copy,
    Lcs,
    /// KEYS pattern: every shard visited.
    Keys,
    /// SCAN: the cursor names a shard and a position in its table.
    Scan,
    RandomKey,
    /// OBJECT subcommand [key]: reads the server's config, then the key's shard.
    Object,
    /// SMOVE, SINTER/SUNION/SDIFF (and STORE), SINTERCARD.
    Sets(super::sets::SetMulti),
    /// LMOVE, RPOPLPUSH, LMPOP and the blocking list commands (commands::lists).
    List(super::lists::ListCmd),
    /// Sorted-set commands over several keys (ZUNIONSTORE, ZMPOP, ...).
    Zset(super::zsets::ZMulti),
    /// BZPOPMIN, BZPOPMAX, BZMPOP (commands::zblocking).
    ZBlock(super::zblocking::ZBlockCmd),
    /// SORT and SORT_RO.
    Sort {
        read_only: bool,
    },
    /// BITOP: sources read, destination written (commands::bitmaps).
    Bitop,
    /// PFCOUNT over several keys, PFMERGE (commands::hyperloglog).
    Hll(super::hyperloglog::HllMulti),
}

/// Groups argument indexes by the shard owning the key at each index, in shard order.
pub(super) fn by_shard(
    ctx: &Ctx<'_, impl Rt>,
    args: &[Bytes],
    idx: impl Iterator<Item = usize>,
) -> Vec<(usize, Vec<usize>)> {
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for i in idx {
        let s = ctx.shards.shard_of(&args[i]);
        match groups.iter_mut().find(|(id, _)| *id == s) {
            Some((_, v)) => v.push(i),
            None => groups.push((s, vec![i])),
        }
    }
    groups.sort_by_key(|(s, _)| *s);
    groups
}

pub async fn run<R: Rt>(ctx: &mut Ctx<'_, R>, kind: MultiKind, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    match kind {
        MultiKind::Mget => {
            let groups = by_shard(ctx, args, 1..args.len());
            let keys: Vec<(Bytes, Mode)> = args[1..].iter().map(|k| (k.clone(), Mode::Read)).collect();
            let mut out = vec![Reply::Nil; args.len() - 1];
            if groups.len() == 1 {
                let keys_only: Vec<Bytes> = args[1..].to_vec();
                let r = ctx
                    .shards
                    .run_keyed(ctx.rt, ctx.home, groups[0].0, db as u16, &args[1..], Mode::Read, move |sh| {
                        keys_only.iter().map(|k| super::strings::get_value(sh, db, k)).collect::<Vec<_>>()
                    })
                    .await;
                return r.map_or_else(|| Reply::error(errors::SHUTTING_DOWN), Reply::Array);
            }
            let tx = ctx.shards.lock(ctx.rt, db as u16, &keys).await;
            for (shard, idx) in groups {
                let ks: Vec<Bytes> = idx.iter().map(|&i| args[i].clone()).collect();
                let vals = tx
                    .run(shard, move |sh| ks.iter().map(|k| super::strings::get_value(sh, db, k)).collect::<Vec<_>>())
                    .await
                    .unwrap_or_default();
                for (i, v) in idx.into_iter().zip(vals) {
                    out[i - 1] = v;
                }
            }
            Reply::Array(out)
        }
        MultiKind::Mset | MultiKind::Msetnx if args.len() % 2 == 0 => {
            Reply::error(errors::wrong_args(if matches!(kind, MultiKind::Mset) { "mset" } else { "msetnx" }))
        }
        MultiKind::Mset => {
            let groups = by_shard(ctx, args, (1..args.len()).step_by(2));
            let pairs = |idx: &[usize]| -> Vec<(Bytes, Bytes)> {
                idx.iter().map(|&i| (args[i].clone(), args[i + 1].clone())).collect()
            };
            if groups.len() == 1 {
                let p = pairs(&groups[0].1);
                let keys: Vec<Bytes> = p.iter().map(|(k, _)| k.clone()).collect();
                let r = ctx
                    .shards
                    .run_keyed(ctx.rt, ctx.home, groups[0].0, db as u16, &keys, Mode::Write, move |sh| {
                        super::strings::set_pairs(sh, db, &p)
                    })
                    .await;
                return r.map_or_else(|| Reply::error(errors::SHUTTING_DOWN), |_| Reply::Ok);
            }
            #[cfg(feature = "canary")]
            if ctx.rt.fault_enabled("mset-no-locks") {
                // Canary: each shard's part runs on its own, unlocked, so a reader can see half.
                for (shard, idx) in groups {
                    let p = pairs(&idx);
                    ctx.shards.hop(ctx.rt, shard, move |sh| super::strings::set_pairs(sh, db, &p)).await;
                }
                return Reply::Ok;
            }
            let keys: Vec<(Bytes, Mode)> = (1..args.len()).step_by(2).map(|i| (args[i].clone(), Mode::Write)).collect();
            let tx = ctx.shards.lock(ctx.rt, db as u16, &keys).await;
            for (shard, idx) in groups {
                let p = pairs(&idx);
                tx.run(shard, move |sh| super::strings::set_pairs(sh, db, &p)).await;
            }
            Reply::Ok
        }
        MultiKind::CountKeys(op) => {
            let groups = by_shard(ctx, args, 1..args.len());
            let mode = op.mode();
            if groups.len() == 1 {
                let ks: Vec<Bytes> = args[1..].to_vec();
                let r = ctx
                    .shards
                    .run_keyed(ctx.rt, ctx.home, groups[0].0, db as u16, &args[1..], mode, move |sh| {
                        op.apply(sh, db, &ks)
                    })
                    .await;
                return r.map_or_else(|| Reply::error(errors::SHUTTING_DOWN), Reply::Int);
            }
            let keys: Vec<(Bytes, Mode)> = args[1..].iter().map(|k| (k.clone(), mode)).collect();
            let tx = ctx.shards.lock(ctx.rt, db as u16, &keys).await;
            let mut total = 0;
            for (shard, idx) in groups {
                let ks: Vec<Bytes> = idx.iter().map(|&i| args[i].clone()).collect();
                total += tx.run(shard, move |sh| op.apply(sh, db, &ks)).await.unwrap_or(0);
            }
            Reply::Int(total)
        }
        MultiKind::Msetnx
        | MultiKind::Rename { .. }
        | MultiKind::Copy
        | MultiKind::Lcs
        | MultiKind::Keys
        | MultiKind::Scan
        | MultiKind::RandomKey
        | MultiKind::Object => super::keys::run_cross(ctx, kind, args).await,
        MultiKind::Sets(op) => super::sets::run_multi(ctx, op, args).await,
        MultiKind::List(cmd) => super::lists::run_cross(ctx, cmd, args).await,
        MultiKind::Zset(op) => super::zsets::run_multi(ctx, op, args).await,
        MultiKind::ZBlock(cmd) => super::zblocking::run(ctx, cmd, args).await,
        MultiKind::Sort { read_only } => super::sort::run(ctx, read_only, args).await,
        MultiKind::Bitop => super::bitmaps::run_bitop(ctx, args).await,
        MultiKind::Hll(op) => super::hyperloglog::run_multi(ctx, op, args).await,
    }
}

/// Runs `f` on whichever shard owns `key`, for cross-shard coordinators' single-key steps.
#[allow(dead_code)]
pub async fn on_key<R: Rt, T: Send + 'static>(
    ctx: &Ctx<'_, R>,
    key: &Bytes,
    mode: Mode,
    f: impl FnOnce(&mut Shard) -> T + Send + 'static,
) -> Option<T> {
    let shard = ctx.shards.shard_of(key);
    ctx.shards.run_keyed(ctx.rt, ctx.home, shard, ctx.client.db as u16, std::slice::from_ref(key), mode, f).await
}
