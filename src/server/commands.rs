//! The command table's entries for connection and server commands (run by `dispatch`).
//! Subcommands of containers (CLIENT, COMMAND, CONFIG, FUNCTION) are described in `meta`.

use crate::commands::{spec, CommandSpec, KeySpec, Run};

const FAST_CONN: &[&str] = &["@fast", "@connection"];
const NO_AUTH: &[&str] = &["noscript", "loading", "stale", "fast", "no-auth", "allow-busy"];
const FLUSH_ACL: &[&str] = &["@keyspace", "@write", "@slow", "@dangerous"];

const REPL_FLAGS: &[&str] = &["admin", "noscript", "no-async-loading", "no-multi"];
const REPL_ACL: &[&str] = &["@admin", "@slow", "@dangerous"];

pub static COMMANDS: &[CommandSpec] = &[
    spec("server", "psync", -3, REPL_FLAGS, KeySpec::NONE, REPL_ACL, "An internal command used in replication.", "2.8.0", Run::Conn),
    spec("server", "sync", 1, REPL_FLAGS, KeySpec::NONE, REPL_ACL, "An internal command used in replication.", "1.0.0", Run::Conn),
    spec("server", "replconf", -1, &["admin", "noscript", "loading", "stale", "allow-busy"], KeySpec::NONE, REPL_ACL, "An internal command for configuring the replication stream.", "3.0.0", Run::Conn),
    spec("generic", "wait", 3, &["noscript"], KeySpec::NONE, &["@slow", "@connection"], "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", "3.0.0", Run::Conn),
    spec("connection", "ping", -1, &["fast"], KeySpec::NONE, FAST_CONN, "Returns the server's liveliness response.", "1.0.0", Run::Conn),
    spec("connection", "echo", 2, &["fast"], KeySpec::NONE, FAST_CONN, "Returns the given string.", "1.0.0", Run::Conn),
    spec("connection", "select", 2, &["loading", "stale", "fast"], KeySpec::NONE, FAST_CONN, "Changes the selected database.", "1.0.0", Run::Conn),
    spec("connection", "quit", -1, NO_AUTH, KeySpec::NONE, FAST_CONN, "Closes the connection.", "1.0.0", Run::Conn),
    spec("connection", "auth", -2, NO_AUTH, KeySpec::NONE, FAST_CONN, "Authenticates the connection.", "1.0.0", Run::Conn),
    spec("connection", "hello", -1, NO_AUTH, KeySpec::NONE, FAST_CONN, "Handshakes with the Redis server.", "6.0.0", Run::Conn),
    spec("connection", "reset", 1, NO_AUTH, KeySpec::NONE, FAST_CONN, "Resets the connection.", "6.2.0", Run::Conn),
    spec("connection", "client", -2, &[], KeySpec::NONE, &["@slow"], "A container for client connection commands.", "2.4.0", Run::Conn),
    spec("server", "command", -1, &["loading", "stale"], KeySpec::NONE, &["@slow", "@connection"], "Returns detailed information about all commands.", "2.8.13", Run::Conn),
    spec("server", "config", -2, &[], KeySpec::NONE, &["@slow"], "A container for server configuration commands.", "2.0.0", Run::Conn),
    spec("server", "info", -1, &["loading", "stale"], KeySpec::NONE, &["@slow", "@dangerous"], "Returns information and statistics about the server.", "1.0.0", Run::Conn),
    spec("server", "time", 1, &["loading", "stale", "fast"], KeySpec::NONE, &["@fast"], "Returns the server time.", "2.6.0", Run::Conn),
    spec("server", "lastsave", 1, &["loading", "stale", "fast"], KeySpec::NONE, &["@admin", "@fast", "@dangerous"], "Returns the Unix timestamp of the last successful save to disk.", "1.0.0", Run::Conn),
    spec("server", "save", 1, &["admin", "noscript", "no-async-loading", "no-multi"], KeySpec::NONE, &["@admin", "@slow", "@dangerous"], "Synchronously saves the database(s) to disk.", "1.0.0", Run::Conn),
    spec("server", "bgsave", -1, &["admin", "noscript", "no-async-loading"], KeySpec::NONE, &["@admin", "@slow", "@dangerous"], "Asynchronously saves the database(s) to disk.", "1.0.0", Run::Conn),
    spec("server", "dbsize", 1, &["readonly", "fast"], KeySpec::NONE, &["@keyspace", "@read", "@fast"], "Returns the number of keys in the database.", "1.0.0", Run::Conn),
    spec("server", "flushall", -1, &["write"], KeySpec::NONE, FLUSH_ACL, "Removes all keys from all databases.", "1.0.0", Run::Conn),
    spec("server", "flushdb", -1, &["write"], KeySpec::NONE, FLUSH_ACL, "Remove all keys from the current database.", "1.0.0", Run::Conn),
    spec("server", "swapdb", 3, &["write", "fast"], KeySpec::NONE, &["@keyspace", "@write", "@fast", "@dangerous"], "Swaps two Redis databases.", "4.0.0", Run::Conn),
    spec("server", "shutdown", -1, &["admin", "noscript", "loading", "stale", "no-multi", "allow-busy"], KeySpec::NONE, &["@admin", "@slow", "@dangerous"], "Synchronously saves the database(s) to disk and shuts down the Redis server.", "1.0.0", Run::Conn),
    spec("cluster", "cluster", -2, &[], KeySpec::NONE, &["@slow"], "A container for Redis Cluster commands.", "3.0.0", Run::Conn),
    spec("cluster", "readonly", 1, &["loading", "stale", "fast"], KeySpec::NONE, FAST_CONN, "Enables read-only queries for a connection to a Redis Cluster replica node.", "3.0.0", Run::Conn),
    spec("cluster", "readwrite", 1, &["loading", "stale", "fast"], KeySpec::NONE, FAST_CONN, "Enables read-write queries for a connection to a Reids Cluster replica node.", "3.0.0", Run::Conn),
    spec("server", "slowlog", -2, &[], KeySpec::NONE, &["@slow"], "A container for slow log commands.", "2.2.12", Run::Conn),
    spec("server", "latency", -2, &[], KeySpec::NONE, &["@slow"], "A container for latency diagnostics commands.", "2.8.13", Run::Conn),
    spec("server", "memory", -2, &[], KeySpec::NONE, &["@slow"], "A container for memory diagnostics commands.", "4.0.0", Run::Conn),
    spec("server", "debug", -2, &["admin", "noscript", "loading", "stale", "protected"], KeySpec::NONE, &["@admin", "@slow", "@dangerous"], "A container for debugging commands.", "1.0.0", Run::Conn),
    spec("server", "monitor", 1, &["admin", "noscript", "loading", "stale"], KeySpec::NONE, &["@admin", "@slow", "@dangerous"], "Listens for all requests received by the server in real-time.", "1.0.0", Run::Conn),
    spec("scripting", "function", -2, &[], KeySpec::NONE, &["@slow"], "A container for function commands.", "7.0.0", Run::Conn),
];
