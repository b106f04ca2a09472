//! Every replication command in one place: the replica's half of the handshake (REPLCONF,
//! SYNC/PSYNC), WAIT, REPLICAOF/SLAVEOF and ROLE. Their rows join the one command table
//! (`commands::table::all`); `server::dispatch` routes them to `run`.

mod replconf;
mod replicaof;
mod role;
mod wait;

use crate::commands::{spec, CommandSpec, Ctx, KeySpec, Run};
use crate::protocol::Reply;
use crate::runtime::Rt;
use bytes::Bytes;

const SYNC_FLAGS: &[&str] = &["admin", "noscript", "no-async-loading", "no-multi"];
const REPLICAOF_FLAGS: &[&str] = &["admin", "noscript", "stale", "no-async-loading"];
const ADMIN: &[&str] = &["@admin", "@slow", "@dangerous"];

pub static COMMANDS: &[CommandSpec] = &[
    spec("server", "psync", -3, SYNC_FLAGS, KeySpec::NONE, ADMIN, "An internal command used in replication.", "2.8.0", Run::Conn),
    spec("server", "sync", 1, SYNC_FLAGS, KeySpec::NONE, ADMIN, "An internal command used in replication.", "1.0.0", Run::Conn),
    spec("server", "replconf", -1, &["admin", "noscript", "loading", "stale", "allow-busy"], KeySpec::NONE, ADMIN, "An internal command for configuring the replication stream.", "3.0.0", Run::Conn),
    spec("generic", "wait", 3, &["noscript"], KeySpec::NONE, &["@slow", "@connection"], "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", "3.0.0", Run::Conn),
    spec("server", "replicaof", 3, REPLICAOF_FLAGS, KeySpec::NONE, ADMIN, "Configures a server as replica of another, or promotes it to a master.", "5.0.0", Run::Conn),
    spec("server", "slaveof", 3, REPLICAOF_FLAGS, KeySpec::NONE, ADMIN, "Sets a Redis server as a replica of another, or promotes it to being a master.", "1.0.0", Run::Conn),
    spec("server", "role", 1, &["noscript", "loading", "stale", "fast"], KeySpec::NONE, &["@admin", "@fast", "@dangerous"], "Returns the replication role.", "2.8.12", Run::Conn),
];

pub async fn run<R: Rt>(ctx: &mut Ctx<'_, R>, name: &str, args: &[Bytes]) -> Reply {
    match name {
        "replconf" => replconf::replconf(&mut ctx.client.repl, args),
        "sync" | "psync" => sync(ctx, args),
        "wait" => wait::wait(ctx.rt, ctx.server, ctx.client, args).await,
        "role" => role::role(ctx),
        _ => replicaof::replicaof(ctx, args).await,
    }
}

const NOMASTERLINK: &str = "NOMASTERLINK Can't SYNC while not connected with my master";

/// SYNC / PSYNC: marks the connection as a replica link; after this reply the connection hands
/// its socket to `primary::serve_replica`. A replica serves sub-replicas only while its own
/// link is up.
fn sync<R: Rt>(ctx: &mut Ctx<'_, R>, args: &[Bytes]) -> Reply {
    if ctx.server.repl.is_replica() && !ctx.server.repl.link.lock().unwrap().up {
        return Reply::error(NOMASTERLINK);
    }
    ctx.client.repl.sync = Some(args.to_vec());
    Reply::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_replication_command_is_served_from_this_table_alone() {
        for name in ["psync", "sync", "replconf", "wait", "replicaof", "slaveof", "role"] {
            let row = crate::commands::lookup(name.as_bytes()).unwrap();
            assert!(COMMANDS.iter().any(|c| std::ptr::eq(c, row)), "{name} is not a replication row");
        }
        assert!(crate::server::commands::COMMANDS.iter().all(|c| !COMMANDS.iter().any(|r| r.name == c.name)));
    }
}
