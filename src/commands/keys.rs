//! Keyspace commands (Redis's db.c and expire.c): DEL, EXISTS, TTLs, RENAME, SCAN, ...

use super::multikey::MultiKind;
use super::table::{CommandSpec, KeySpec, Run};
use super::Ctx;
use crate::engine::{Mode, Shard};
use crate::protocol::Reply;
use crate::runtime::Rt;
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "del",
        arity: -2,
        flags: &["write"],
        keys: KeySpec::ALL,
        acl: &["@keyspace", "@write", "@slow"],
        group: "generic",
        summary: "Deletes one or more keys.",
        since: "1.0.0",
        run: Run::Multi(MultiKind::CountKeys(CountOp::Del)),
    },
    CommandSpec {
        name: "exists",
        arity: -2,
        flags: &["readonly", "fast"],
        keys: KeySpec::ALL,
        acl: &["@keyspace", "@read", "@fast"],
        group: "generic",
        summary: "Determines whether one or more keys exist.",
        since: "1.0.0",
        run: Run::Multi(MultiKind::CountKeys(CountOp::Exists)),
    },
];

/// Multi-key commands that count the keys they acted on.
#[derive(Clone, Copy, Debug)]
pub enum CountOp {
    Del,
    Unlink,
    Exists,
    Touch,
}

impl CountOp {
    pub fn mode(self) -> Mode {
        match self {
            CountOp::Del | CountOp::Unlink => Mode::Write,
            CountOp::Exists | CountOp::Touch => Mode::Read,
        }
    }

    /// Applies the operation to `keys` (all on this shard); a key named twice counts twice.
    pub fn apply(self, sh: &mut Shard, db: usize, keys: &[Bytes]) -> i64 {
        let mut n = 0;
        for k in keys {
            let hit = match self {
                CountOp::Del | CountOp::Unlink => sh.lookup_write(db, k).is_some() && sh.dbs[db].remove(k).is_some(),
                CountOp::Exists | CountOp::Touch => sh.lookup_write(db, k).is_some(),
            };
            n += hit as i64;
        }
        n
    }
}

/// Cross-shard commands that move or compare values between keys.
pub async fn run_cross<R: Rt>(_ctx: &mut Ctx<'_, R>, _kind: MultiKind, _args: &[Bytes]) -> Reply {
    Reply::error("ERR not yet supported")
}
