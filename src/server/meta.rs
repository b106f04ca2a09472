//! Metadata the command table does not carry: the subcommands of container commands (CLIENT,
//! COMMAND, CONFIG, FUNCTION) with their own arity, flags and ACL categories. COMMAND INFO/DOCS,
//! subcommand arity checks and CLIENT LIST's `cmd=` field read it.

use crate::commands::CommandSpec;
use bytes::Bytes;

pub struct SubSpec {
    /// `parent|sub`, lower case, as Redis names it.
    pub full: &'static str,
    pub arity: i32,
    pub flags: &'static [&'static str],
    pub acl: &'static [&'static str],
    pub summary: &'static str,
    pub since: &'static str,
}

impl SubSpec {
    pub fn sub_name(&self) -> &'static str {
        self.full.split_once('|').map_or(self.full, |(_, s)| s)
    }

    pub fn parent(&self) -> &'static str {
        self.full.split_once('|').map_or(self.full, |(p, _)| p)
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        if self.arity >= 0 {
            argc == self.arity as usize
        } else {
            argc >= (-self.arity) as usize
        }
    }
}

const fn sub(
    full: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    acl: &'static [&'static str],
    summary: &'static str,
    since: &'static str,
) -> SubSpec {
    SubSpec { full, arity, flags, acl, summary, since }
}

const CONN: &[&str] = &["@slow", "@connection"];
const CONN_ADMIN: &[&str] = &["@admin", "@slow", "@dangerous", "@connection"];
const ADMIN: &[&str] = &["@admin", "@slow", "@dangerous"];
const NLS: &[&str] = &["noscript", "loading", "stale"];
const A_NLS: &[&str] = &["admin", "noscript", "loading", "stale"];
const LS: &[&str] = &["loading", "stale"];
const PS_FLAGS: &[&str] = &["pubsub", "loading", "stale"];
const PS_ACL: &[&str] = &["@pubsub", "@slow"];
const A_LS: &[&str] = &["admin", "loading", "stale"];

pub static SUBCOMMANDS: &[SubSpec] = &[
    sub("client|id", 2, NLS, CONN, "Returns the unique client ID of the connection.", "5.0.0"),
    sub("client|setname", 3, NLS, CONN, "Sets the connection name.", "2.6.9"),
    sub("client|getname", 2, NLS, CONN, "Returns the name of the connection.", "2.6.9"),
    sub("client|list", -2, A_NLS, CONN_ADMIN, "Lists open connections.", "2.4.0"),
    sub("client|info", 2, NLS, CONN, "Returns information about the connection.", "6.2.0"),
    sub("client|kill", -3, A_NLS, CONN_ADMIN, "Terminates open connections.", "2.4.0"),
    sub("client|setinfo", 4, NLS, CONN, "Sets information specific to the client or connection.", "7.2.0"),
    sub("client|no-evict", 3, A_NLS, CONN_ADMIN, "Sets the client eviction mode of the connection.", "7.0.0"),
    sub(
        "client|no-touch",
        3,
        NLS,
        CONN,
        "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
        "7.2.0",
    ),
    sub("client|reply", 3, NLS, CONN, "Instructs the server whether to reply to commands.", "3.2.0"),
    sub("client|help", 2, LS, CONN, "Returns helpful text about the different subcommands.", "5.0.0"),
    sub("command|count", 2, LS, CONN, "Returns a count of commands.", "2.8.13"),
    sub("command|info", -2, LS, CONN, "Returns information about one, multiple or all commands.", "2.8.13"),
    sub("command|docs", -2, LS, CONN, "Returns documentary information about one, multiple or all commands.", "7.0.0"),
    sub("command|list", -2, LS, CONN, "Returns a list of command names.", "7.0.0"),
    sub("command|getkeys", -3, LS, CONN, "Extracts the key names from an arbitrary command.", "2.8.13"),
    sub(
        "command|getkeysandflags",
        -3,
        LS,
        CONN,
        "Extracts the key names and access flags for an arbitrary command.",
        "7.0.0",
    ),
    sub("command|help", 2, LS, CONN, "Returns helpful text about the different subcommands.", "5.0.0"),
    sub("config|get", -3, A_NLS, ADMIN, "Returns the effective values of configuration parameters.", "2.0.0"),
    sub("config|set", -4, A_NLS, ADMIN, "Sets configuration parameters in-flight.", "2.0.0"),
    sub("config|resetstat", 2, A_NLS, ADMIN, "Resets the server's statistics.", "2.0.0"),
    sub("config|rewrite", 2, A_NLS, ADMIN, "Persists the effective configuration to file.", "2.8.0"),
    sub("config|help", 2, LS, &["@slow"], "Returns helpful text about the different subcommands.", "5.0.0"),
    sub("pubsub|channels", -2, PS_FLAGS, PS_ACL, "Returns the active channels.", "2.8.0"),
    sub("pubsub|numpat", 2, PS_FLAGS, PS_ACL, "Returns a count of unique pattern subscriptions.", "2.8.0"),
    sub("pubsub|numsub", -2, PS_FLAGS, PS_ACL, "Returns a count of subscribers to channels.", "2.8.0"),
    sub("pubsub|shardchannels", -2, PS_FLAGS, PS_ACL, "Returns the active shard channels.", "7.0.0"),
    sub("pubsub|shardnumsub", -2, PS_FLAGS, PS_ACL, "Returns the count of subscribers of shard channels.", "7.0.0"),
    sub("pubsub|help", 2, LS, &["@slow"], "Returns helpful text about the different subcommands.", "6.2.0"),
    sub("cluster|countkeysinslot", 3, &["stale"], &["@slow"], "Returns the number of keys in a hash slot.", "3.0.0"),
    sub("cluster|getkeysinslot", 4, &["stale"], &["@slow"], "Returns the key names in a hash slot.", "3.0.0"),
    sub("cluster|help", 2, LS, &["@slow"], "Returns helpful text about the different subcommands.", "5.0.0"),
    sub("cluster|info", 2, &["stale"], &["@slow"], "Returns information about the state of a node.", "3.0.0"),
    sub("cluster|keyslot", 3, &["stale"], &["@slow"], "Returns the hash slot for a key.", "3.0.0"),
    sub("cluster|myid", 2, &["stale"], &["@slow"], "Returns the ID of a node.", "3.0.0"),
    sub("cluster|nodes", 2, &["stale"], &["@slow"], "Returns the cluster configuration for a node.", "3.0.0"),
    sub("cluster|shards", 2, LS, &["@slow"], "Returns the mapping of cluster slots to shards.", "7.0.0"),
    sub("cluster|slots", 2, LS, &["@slow"], "Returns the mapping of cluster slots to nodes.", "3.0.0"),
    sub("slowlog|get", -2, A_LS, ADMIN, "Returns the slow log's entries.", "2.2.12"),
    sub("slowlog|len", 2, A_LS, ADMIN, "Returns the number of entries in the slow log.", "2.2.12"),
    sub("slowlog|reset", 2, A_LS, ADMIN, "Clears all entries from the slow log.", "2.2.12"),
    sub("slowlog|help", 2, LS, &["@slow"], "Show helpful text about the different subcommands", "6.2.0"),
    sub("latency|latest", 2, A_NLS, ADMIN, "Returns the latest latency samples for all events.", "2.8.13"),
    sub("latency|history", 3, A_NLS, ADMIN, "Returns timestamp-latency samples for an event.", "2.8.13"),
    sub("latency|reset", -2, A_NLS, ADMIN, "Resets the latency data for one or more events.", "2.8.13"),
    sub("latency|graph", 3, A_NLS, ADMIN, "Returns a latency graph for an event.", "2.8.13"),
    sub("latency|doctor", 2, A_NLS, ADMIN, "Returns a human-readable latency analysis report.", "2.8.13"),
    sub(
        "latency|histogram",
        -2,
        A_NLS,
        ADMIN,
        "Returns the cumulative distribution of latencies of a subset or all commands.",
        "7.0.0",
    ),
    sub("latency|help", 2, LS, &["@slow"], "Returns helpful text about the different subcommands.", "2.8.13"),
    sub("memory|doctor", 2, &[], &["@slow"], "Outputs a memory problems report.", "4.0.0"),
    sub("memory|usage", -3, &["readonly"], &["@read", "@slow"], "Estimates the memory usage of a key.", "4.0.0"),
    sub("memory|stats", 2, &[], &["@slow"], "Returns details about memory usage.", "4.0.0"),
    sub("memory|malloc-stats", 2, &[], &["@slow"], "Returns the allocator statistics.", "4.0.0"),
    sub("memory|purge", 2, &[], &["@slow"], "Asks the allocator to release memory.", "4.0.0"),
    sub("memory|help", 2, LS, &["@slow"], "Returns helpful text about the different subcommands.", "4.0.0"),
    sub(
        "function|flush",
        -2,
        &["noscript", "write"],
        &["@write", "@slow", "@scripting"],
        "Deletes all library and functions.",
        "7.0.0",
    ),
    sub(
        "function|help",
        2,
        LS,
        &["@slow", "@scripting"],
        "Returns helpful text about the different subcommands.",
        "7.0.0",
    ),
];

/// The subcommands of container command `parent`.
pub fn subcommands_of(parent: &str) -> impl Iterator<Item = &'static SubSpec> + '_ {
    SUBCOMMANDS.iter().filter(move |s| s.parent() == parent)
}

pub fn is_container(name: &str) -> bool {
    static PARENTS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    PARENTS
        .get_or_init(|| {
            let mut v: Vec<&'static str> = SUBCOMMANDS.iter().map(|s| s.parent()).collect();
            v.sort_unstable();
            v.dedup();
            v
        })
        .binary_search(&name)
        .is_ok()
}

/// Finds `parent|sub`, ignoring the case of `sub`.
pub fn find_sub(parent: &str, sub: &[u8]) -> Option<&'static SubSpec> {
    subcommands_of(parent).find(|s| s.sub_name().as_bytes().eq_ignore_ascii_case(sub))
}

/// The name Redis shows for a request: `client|list` for a known subcommand, else the command.
pub fn full_name(spec: &'static CommandSpec, args: &[Bytes]) -> &'static str {
    // Only connection/server commands have subcommands: data commands skip the search.
    match args.get(1) {
        Some(s) if matches!(spec.run, crate::commands::Run::Conn) && is_container(spec.name) => {
            find_sub(spec.name, s).map_or(spec.name, |s| s.full)
        }
        _ => spec.name,
    }
}

/// Redis 7 spells flags with underscores in COMMAND INFO (`no_auth`, `allow_busy`).
pub fn flag_reply_name(flag: &str) -> String {
    flag.replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommands_resolve() {
        assert_eq!(find_sub("client", b"LIST").unwrap().full, "client|list");
        assert!(find_sub("client", b"nope").is_none());
        assert!(is_container("config"));
        assert!(!is_container("get"));
        for s in SUBCOMMANDS {
            assert!(crate::commands::lookup(s.parent().as_bytes()).is_some(), "{}", s.full);
            assert!(s.arity.unsigned_abs() >= 2, "{}", s.full);
        }
    }
}
