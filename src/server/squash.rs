//! Pipeline squashing: consecutive requests in one read that each belong to a single shard other
//! than the connection's own are sent as one message per shard instead of one round trip each.
//! Order is kept per shard (a shard runs its batch in request order); requests on different
//! shards were all in flight together, so running them side by side is a legal order.
//! Anything else in the pipeline (multi-shard, connection commands) waits for the batch first.

use crate::commands::table::ShardFn;
use crate::engine::{Mode, ShardCell, ShardSet};
use crate::protocol::Reply;
use crate::runtime::Rt;
use bytes::Bytes;
use std::collections::VecDeque;
use tokio::sync::oneshot;

/// The most requests held back before they are sent.
pub const MAX_SQUASH: usize = 256;

struct Cmd {
    f: ShardFn,
    mode: Mode,
    db: usize,
    args: Vec<Bytes>,
    key: Bytes,
    name: &'static str,
    /// `denyoom`, `write` and the client's NO-TOUCH (see `commands::run_on_shard`).
    flags: crate::commands::ShardFlags,
}

type Outcome = Result<Vec<Reply>, Vec<Cmd>>;

#[derive(Default)]
pub struct Squash {
    groups: Vec<(usize, Vec<Cmd>)>,
    /// For each held request, in arrival order: the index of its group.
    order: Vec<usize>,
}

impl Squash {
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        shard: usize,
        f: ShardFn,
        mode: Mode,
        db: usize,
        args: Vec<Bytes>,
        key: Bytes,
        spec: &'static crate::commands::CommandSpec,
        no_touch: bool,
    ) {
        let name = spec.name;
        let flags = crate::commands::ShardFlags::of(spec, no_touch);
        let g = match self.groups.iter().position(|(s, _)| *s == shard) {
            Some(g) => g,
            None => {
                self.groups.push((shard, Vec::new()));
                self.groups.len() - 1
            }
        };
        self.groups[g].1.push(Cmd { f, mode, db, args, key, name, flags });
        self.order.push(g);
    }

    /// Runs every held request and returns (command name, reply) in arrival order.
    pub async fn flush<R: Rt>(&mut self, rt: &R, shards: &ShardSet, home: &ShardCell) -> Vec<(&'static str, Reply)> {
        let mut pending = Vec::with_capacity(self.groups.len());
        for (shard, cmds) in self.groups.drain(..) {
            let (tx, rx) = oneshot::channel::<Outcome>();
            rt.perturb("hop-send").await;
            let names: Vec<&'static str> = cmds.iter().map(|c| c.name).collect();
            shards.post(
                shard,
                Box::new(move |sh| {
                    // With any lock held here, each request must queue on its own keys instead.
                    if !sh.locks.is_idle() {
                        let _ = tx.send(Err(cmds));
                        return;
                    }
                    let replies =
                        cmds.iter().map(|c| crate::commands::run_on_shard(c.f, c.flags, sh, c.db, &c.args)).collect();
                    // Keyspace events go out before the replies, so a client that acts on a
                    // reply cannot overtake them.
                    sh.publish_events();
                    let _ = tx.send(Ok(replies));
                }),
            );
            pending.push((shard, names, rx));
        }
        let mut results: Vec<VecDeque<(&'static str, Reply)>> = Vec::with_capacity(pending.len());
        for (shard, names, rx) in pending {
            let outcome = rx.await;
            rt.perturb("hop-recv").await;
            let replies: Vec<Reply> = match outcome {
                Ok(Ok(replies)) => replies,
                Ok(Err(cmds)) => {
                    let mut out = Vec::with_capacity(cmds.len());
                    for c in cmds {
                        let Cmd { f, mode, db, args, key, flags, .. } = c;
                        let r = shards
                            .run_keyed(rt, home, shard, db as u16, std::slice::from_ref(&key), mode, move |sh| {
                                crate::commands::run_on_shard(f, flags, sh, db, &args)
                            })
                            .await;
                        out.push(r.unwrap_or_else(|| Reply::error(crate::commands::errors::SHUTTING_DOWN)));
                    }
                    out
                }
                Err(_) => names.iter().map(|_| Reply::error(crate::commands::errors::SHUTTING_DOWN)).collect(),
            };
            results.push(names.into_iter().zip(replies).collect());
        }
        let out = self.order.iter().map(|&g| results[g].pop_front().expect("one reply per request")).collect();
        self.order.clear();
        out
    }
}
