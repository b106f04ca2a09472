//! The command table's entries for connection and server commands (run by `dispatch`).
//! Subcommands of containers (CLIENT, COMMAND, CONFIG, FUNCTION) are described in `meta`.

use crate::commands::{CommandSpec, KeySpec, Run};

const fn conn(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    acl: &'static [&'static str],
    group: &'static str,
    summary: &'static str,
    since: &'static str,
) -> CommandSpec {
    CommandSpec { name, arity, flags, keys: KeySpec::NONE, acl, group, summary, since, run: Run::Conn }
}

const FAST_CONN: &[&str] = &["@fast", "@connection"];
const NO_AUTH: &[&str] = &["noscript", "loading", "stale", "fast", "no-auth", "allow-busy"];
const FLUSH_ACL: &[&str] = &["@keyspace", "@write", "@slow", "@dangerous"];

pub static COMMANDS: &[CommandSpec] = &[
    conn("ping", -1, &["fast"], FAST_CONN, "connection", "Returns the server's liveliness response.", "1.0.0"),
    conn("echo", 2, &["fast"], FAST_CONN, "connection", "Returns the given string.", "1.0.0"),
    conn(
        "select",
        2,
        &["loading", "stale", "fast"],
        FAST_CONN,
        "connection",
        "Changes the selected database.",
        "1.0.0",
    ),
    conn("quit", -1, NO_AUTH, FAST_CONN, "connection", "Closes the connection.", "1.0.0"),
    conn("auth", -2, NO_AUTH, FAST_CONN, "connection", "Authenticates the connection.", "1.0.0"),
    conn("hello", -1, NO_AUTH, FAST_CONN, "connection", "Handshakes with the Redis server.", "6.0.0"),
    conn("reset", 1, NO_AUTH, FAST_CONN, "connection", "Resets the connection.", "6.2.0"),
    conn("client", -2, &[], &["@slow"], "connection", "A container for client connection commands.", "2.4.0"),
    conn(
        "command",
        -1,
        &["loading", "stale"],
        &["@slow", "@connection"],
        "server",
        "Returns detailed information about all commands.",
        "2.8.13",
    ),
    conn("config", -2, &[], &["@slow"], "server", "A container for server configuration commands.", "2.0.0"),
    conn(
        "info",
        -1,
        &["loading", "stale"],
        &["@slow", "@dangerous"],
        "server",
        "Returns information and statistics about the server.",
        "1.0.0",
    ),
    conn("time", 1, &["loading", "stale", "fast"], &["@fast"], "server", "Returns the server time.", "2.6.0"),
    conn(
        "lastsave",
        1,
        &["loading", "stale", "fast"],
        &["@admin", "@fast", "@dangerous"],
        "server",
        "Returns the Unix timestamp of the last successful save to disk.",
        "1.0.0",
    ),
    conn(
        "dbsize",
        1,
        &["readonly", "fast"],
        &["@keyspace", "@read", "@fast"],
        "server",
        "Returns the number of keys in the database.",
        "1.0.0",
    ),
    conn("flushall", -1, &["write"], FLUSH_ACL, "server", "Removes all keys from all databases.", "1.0.0"),
    conn("flushdb", -1, &["write"], FLUSH_ACL, "server", "Remove all keys from the current database.", "1.0.0"),
    conn(
        "swapdb",
        3,
        &["write", "fast"],
        &["@keyspace", "@write", "@fast", "@dangerous"],
        "server",
        "Swaps two Redis databases.",
        "4.0.0",
    ),
    conn(
        "shutdown",
        -1,
        &["admin", "noscript", "loading", "stale", "no-multi", "allow-busy"],
        &["@admin", "@slow", "@dangerous"],
        "server",
        "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        "1.0.0",
    ),
    conn("cluster", -2, &[], &["@slow"], "cluster", "A container for Redis Cluster commands.", "3.0.0"),
    conn(
        "readonly",
        1,
        &["loading", "stale", "fast"],
        FAST_CONN,
        "cluster",
        "Enables read-only queries for a connection to a Redis Cluster replica node.",
        "3.0.0",
    ),
    conn(
        "readwrite",
        1,
        &["loading", "stale", "fast"],
        FAST_CONN,
        "cluster",
        "Enables read-write queries for a connection to a Reids Cluster replica node.",
        "3.0.0",
    ),
    conn("slowlog", -2, &[], &["@slow"], "server", "A container for slow log commands.", "2.2.12"),
    conn("latency", -2, &[], &["@slow"], "server", "A container for latency diagnostics commands.", "2.8.13"),
    conn("memory", -2, &[], &["@slow"], "server", "A container for memory diagnostics commands.", "4.0.0"),
    conn(
        "debug",
        -2,
        &["admin", "noscript", "loading", "stale", "protected"],
        &["@admin", "@slow", "@dangerous"],
        "server",
        "A container for debugging commands.",
        "1.0.0",
    ),
    conn("function", -2, &[], &["@slow"], "scripting", "A container for function commands.", "7.0.0"),
];
