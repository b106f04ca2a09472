//! ROLE: this node's role as Redis 7.0 reports it.

use crate::commands::Ctx;
use crate::protocol::Reply;
use crate::replication::Role;
use crate::runtime::Rt;

pub fn role<R: Rt>(ctx: &Ctx<'_, R>) -> Reply {
    let repl = &ctx.server.repl;
    let offset = repl.journal.offset() as i64;
    match repl.role() {
        Role::Primary => {
            let followers = repl.followers.lock().unwrap();
            let list = followers
                .iter()
                .filter(|f| f.state == "online")
                .map(|f| {
                    Reply::Array(vec![
                        Reply::bulk_str(&f.ip),
                        Reply::bulk_str(&f.port.to_string()),
                        Reply::bulk_str(&f.ack_offset.to_string()),
                    ])
                })
                .collect();
            Reply::Array(vec![Reply::bulk_str("master"), Reply::Int(offset), Reply::Array(list)])
        }
        Role::Replica { host, port } => {
            let link = repl.link.lock().unwrap().clone();
            let state = if link.state.is_empty() { "connect" } else { link.state };
            Reply::Array(vec![
                Reply::bulk_str("slave"),
                Reply::bulk_str(&host),
                Reply::Int(port as i64),
                Reply::bulk_str(state),
                Reply::Int(if link.up { offset } else { -1 }),
            ])
        }
    }
}
