//! The command table: the single source of arity, flags, key positions and ACL categories.
//! COMMAND's replies are generated from it, and dispatch reads it.

use super::multikey::MultiKind;
use crate::engine::{Mode, Shard};
use crate::protocol::Reply;
use bytes::Bytes;
use std::sync::OnceLock;

/// Applies a command on the one shard that owns all of its keys: `(shard, db, args)`.
pub type ShardFn = fn(&mut Shard, usize, &[Bytes]) -> Reply;

#[derive(Clone, Copy)]
pub enum Run {
    /// Every key lives on one shard: the function runs there, atomically.
    Shard(ShardFn, Mode),
    /// Keys may live on several shards: a coordinator in `multikey` runs it.
    Multi(MultiKind),
    /// Acts on the connection or the whole server (handled by `server::dispatch`).
    Conn,
}

/// Redis's legacy key specification: keys at `first`, `first+step`, ..., `last` (negative
/// counts from the end). `first == 0` means no keys.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    pub first: i32,
    pub last: i32,
    pub step: i32,
}

impl KeySpec {
    pub const NONE: KeySpec = KeySpec { first: 0, last: 0, step: 0 };
    pub const ONE: KeySpec = KeySpec { first: 1, last: 1, step: 1 };
    pub const TWO: KeySpec = KeySpec { first: 1, last: 2, step: 1 };
    pub const ALL: KeySpec = KeySpec { first: 1, last: -1, step: 1 };

    /// Argument indexes holding keys, for a request of `argc` arguments.
    pub fn positions(&self, argc: usize) -> impl Iterator<Item = usize> + Clone {
        let (first, step) = (self.first.max(0) as usize, self.step.max(1) as usize);
        let last = if self.first == 0 {
            0
        } else if self.last < 0 {
            (argc as i64 + self.last as i64).max(0) as usize
        } else {
            (self.last as usize).min(argc.saturating_sub(1))
        };
        (first..=last).step_by(step).filter(move |&i| first != 0 && i < argc)
    }
}

pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis's arity: exact count if positive, minimum count if negative (name included).
    pub arity: i32,
    pub flags: &'static [&'static str],
    pub keys: KeySpec,
    pub acl: &'static [&'static str],
    /// COMMAND DOCS group: string, generic, connection, server, ...
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub run: Run,
    /// `flags` has "write": read on every request, so looked up once when the table is built.
    write: bool,
    /// `flags` has "denyoom" (precomputed for the same reason).
    denyoom: bool,
}

/// Whether `flag` is one of `flags`, usable while the table is built (const).
const fn listed(flags: &[&str], flag: &str) -> bool {
    let mut i = 0;
    while i < flags.len() {
        if bytes_equal(flags[i].as_bytes(), flag.as_bytes()) {
            return true;
        }
        i += 1;
    }
    false
}

const fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Builds a table row. Every family's rows come from here, so nothing derived from a row can
/// drift between families.
#[allow(clippy::too_many_arguments)]
pub const fn spec(
    group: &'static str,
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: KeySpec,
    acl: &'static [&'static str],
    summary: &'static str,
    since: &'static str,
    run: Run,
) -> CommandSpec {
    let write = listed(flags, "write");
    let denyoom = listed(flags, "denyoom");
    CommandSpec { name, arity, flags, keys, acl, group, summary, since, run, write, denyoom }
}

impl CommandSpec {
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        if a >= 0 {
            argc == a as usize
        } else {
            argc >= (-a) as usize
        }
    }

    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    pub fn is_write(&self) -> bool {
        self.write
    }

    /// Refused (after trying to evict) while over `maxmemory`.
    pub fn is_denyoom(&self) -> bool {
        self.denyoom
    }

    /// COMMAND INFO's entry for this command.
    pub fn info_reply(&self) -> Reply {
        let flags = self.flags.iter().map(|f| Reply::simple(*f)).collect();
        let acl = self.acl.iter().map(|c| Reply::simple(*c)).collect();
        Reply::Array(vec![
            Reply::bulk_str(self.name),
            Reply::Int(self.arity as i64),
            Reply::Set(flags),
            Reply::Int(self.keys.first as i64),
            Reply::Int(self.keys.last as i64),
            Reply::Int(self.keys.step as i64),
            Reply::Set(acl),
            Reply::Set(vec![]),
            Reply::Array(vec![]),
            Reply::Array(vec![]),
        ])
    }
}

/// Every command, from every family.
pub fn all() -> impl Iterator<Item = &'static CommandSpec> {
    super::strings::COMMANDS
        .iter()
        .chain(super::keys::COMMANDS)
        .chain(super::hashes::COMMANDS)
        .chain(super::sets::COMMANDS)
        .chain(super::lists::COMMANDS)
        .chain(super::zsets::COMMANDS)
        .chain(super::sort::COMMANDS)
        .chain(super::zblocking::COMMANDS)
        .chain(super::bitmaps::COMMANDS)
        .chain(super::hyperloglog::COMMANDS)
        .chain(super::persist::COMMANDS)
        .chain(crate::server::commands::COMMANDS)
        .chain(crate::server::multi::COMMANDS)
        .chain(crate::server::pubsub::COMMANDS)
        .chain(crate::replication::commands::COMMANDS)
}

type Index = hashbrown::HashMap<&'static str, &'static CommandSpec, foldhash::fast::FixedState>;

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut m = Index::with_hasher(foldhash::fast::FixedState::with_seed(0));
        for c in all() {
            assert!(m.insert(c.name, c).is_none(), "command {} defined twice", c.name);
        }
        m
    })
}

/// Finds a command by name, ignoring ASCII case, without allocating for short names.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    let s = std::str::from_utf8(lower).ok()?;
    index().get(s).copied()
}

pub fn count() -> usize {
    index().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_positions() {
        assert_eq!(KeySpec::ONE.positions(2).collect::<Vec<_>>(), vec![1]);
        assert_eq!(KeySpec::ALL.positions(4).collect::<Vec<_>>(), vec![1, 2, 3]);
        let mset = KeySpec { first: 1, last: -1, step: 2 };
        assert_eq!(mset.positions(5).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(KeySpec::NONE.positions(3).count(), 0);
    }

    #[test]
    fn table_is_consistent() {
        for c in all() {
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(c.arity != 0, "{}", c.name);
            assert!(
                c.has_flag("write") || c.has_flag("readonly") || c.keys.first == 0,
                "{} needs write or readonly",
                c.name
            );
        }
        assert!(lookup(b"GeT").is_some());
    }

    #[test]
    fn precomputed_flags_agree_with_the_flag_list() {
        for c in all() {
            assert_eq!(c.is_write(), c.flags.contains(&"write"), "{}", c.name);
            assert_eq!(c.is_denyoom(), c.flags.contains(&"denyoom"), "{}", c.name);
        }
        assert!(lookup(b"set").unwrap().is_denyoom() && lookup(b"set").unwrap().is_write());
        assert!(!lookup(b"del").unwrap().is_denyoom() && lookup(b"del").unwrap().is_write());
        assert!(!lookup(b"get").unwrap().is_write());
        assert!(listed(&["fast", "write"], "write") && !listed(&["writes"], "write") && !listed(&[], "write"));
    }

    #[test]
    fn every_family_keeps_its_redis_group() {
        // Redis 7.0's COMMAND DOCS groups, one command from each family's rows.
        let expected = [
            ("get", "string"),
            ("del", "generic"),
            ("hset", "hash"),
            ("sadd", "set"),
            ("lpush", "list"),
            ("lmove", "list"),
            ("zadd", "sorted_set"),
            ("bzpopmin", "sorted_set"),
            ("setbit", "bitmap"),
            ("pfadd", "hyperloglog"),
            ("ping", "connection"),
            ("dbsize", "server"),
            ("multi", "transactions"),
            ("subscribe", "pubsub"),
            ("replicaof", "server"),
        ];
        for (name, group) in expected {
            assert_eq!(lookup(name.as_bytes()).unwrap().group, group, "{name}");
        }
        let groups = [
            "bitmap",
            "cluster",
            "connection",
            "generic",
            "geo",
            "hash",
            "hyperloglog",
            "list",
            "pubsub",
            "scripting",
            "sentinel",
            "server",
            "set",
            "sorted_set",
            "stream",
            "string",
            "transactions",
        ];
        for c in all() {
            assert!(groups.contains(&c.group), "{} has group {}", c.name, c.group);
        }
    }
}
