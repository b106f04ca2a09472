//! The command table's entries for connection and server commands (run by `dispatch`).

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

pub static COMMANDS: &[CommandSpec] = &[
    conn(
        "ping",
        -1,
        &["fast"],
        &["@fast", "@connection"],
        "connection",
        "Returns the server's liveliness response.",
        "1.0.0",
    ),
    conn("echo", 2, &["fast"], &["@fast", "@connection"], "connection", "Returns the given string.", "1.0.0"),
    conn(
        "select",
        2,
        &["loading", "stale", "fast"],
        &["@fast", "@connection"],
        "connection",
        "Changes the selected database.",
        "1.0.0",
    ),
    conn(
        "quit",
        -1,
        &["noscript", "loading", "stale", "fast", "no-auth", "allow-busy"],
        &["@fast", "@connection"],
        "connection",
        "Closes the connection.",
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
    conn(
        "flushall",
        -1,
        &["write"],
        &["@keyspace", "@write", "@slow", "@dangerous"],
        "server",
        "Removes all keys from all databases.",
        "1.0.0",
    ),
    conn(
        "flushdb",
        -1,
        &["write"],
        &["@keyspace", "@write", "@slow", "@dangerous"],
        "server",
        "Remove all keys from the current database.",
        "1.0.0",
    ),
];
