//! The nodes cluster emulation presents: this node, and the other end of its replication —
//! its replicas when it is a primary (listed once they told their port), or its primary when it
//! is a replica (which then owns the slots). Another node's id is derived from its announced
//! address (`node_id(ip, port, "")`): stable and the same on every node that lists it, though
//! not the id that node reports for itself.

use super::cmd_cluster::{node_id, ClusterIdentity};
use crate::engine::slot::SLOTS;
use crate::protocol::Reply;
use crate::replication::info::ReplSnapshot;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    pub ip: String,
    pub port: u16,
    /// `None` for the master; the master's id for a replica.
    pub master: Option<String>,
    pub myself: bool,
    pub offset: u64,
    pub connected: bool,
}

impl Node {
    fn address(&self) -> String {
        format!("{}:{}@{}", self.ip, self.port, self.port as u32 + 10000)
    }
}

/// Master first, then its replicas.
pub fn nodes(me: &ClusterIdentity, repl: &ReplSnapshot) -> Vec<Node> {
    let myself = |master: Option<String>| Node {
        id: me.id.clone(),
        ip: me.ip.clone(),
        port: me.port,
        master,
        myself: true,
        offset: repl.offset,
        connected: true,
    };
    match &repl.primary {
        Some((host, port, link)) => {
            let primary_id = node_id(host, *port, "");
            let primary = Node {
                id: primary_id.clone(),
                ip: host.clone(),
                port: *port,
                master: None,
                myself: false,
                offset: repl.offset,
                connected: link.up,
            };
            vec![primary, myself(Some(primary_id))]
        }
        None => {
            let mut out = vec![myself(None)];
            for f in repl.followers.iter().filter(|f| f.port != 0) {
                out.push(Node {
                    id: node_id(&f.ip, f.port, ""),
                    ip: f.ip.clone(),
                    port: f.port,
                    master: Some(me.id.clone()),
                    myself: false,
                    offset: f.ack_offset,
                    connected: f.state == "online",
                });
            }
            out
        }
    }
}

/// CLUSTER NODES text.
pub fn nodes_text(nodes: &[Node], now_ms: u64) -> String {
    let mut out = String::new();
    for n in nodes {
        let role = if n.master.is_some() { "slave" } else { "master" };
        let flags = if n.myself { format!("myself,{role}") } else { role.to_string() };
        let master = n.master.as_deref().unwrap_or("-");
        let pong = if n.myself { 0 } else { now_ms };
        let link = if n.connected { "connected" } else { "disconnected" };
        out.push_str(&format!("{} {} {flags} {master} 0 {pong} 1 {link}", n.id, n.address()));
        if n.master.is_none() {
            out.push_str(&format!(" 0-{}", SLOTS - 1));
        }
        out.push('\n');
    }
    out
}

/// CLUSTER SLOTS: one range, the master then its replicas.
pub fn slots_reply(nodes: &[Node]) -> Reply {
    let mut range = vec![Reply::Int(0), Reply::Int(SLOTS as i64 - 1)];
    for n in nodes {
        range.push(Reply::Array(vec![
            Reply::bulk_str(&n.ip),
            Reply::Int(n.port as i64),
            Reply::bulk_str(&n.id),
            Reply::Map(vec![]),
        ]));
    }
    Reply::Array(vec![Reply::Array(range)])
}

/// CLUSTER SHARDS: one shard holding every slot.
pub fn shards_reply(nodes: &[Node]) -> Reply {
    let list = nodes
        .iter()
        .map(|n| {
            Reply::Map(vec![
                (Reply::bulk_str("id"), Reply::bulk_str(&n.id)),
                (Reply::bulk_str("port"), Reply::Int(n.port as i64)),
                (Reply::bulk_str("ip"), Reply::bulk_str(&n.ip)),
                (Reply::bulk_str("endpoint"), Reply::bulk_str(&n.ip)),
                (Reply::bulk_str("role"), Reply::bulk_str(if n.master.is_some() { "replica" } else { "master" })),
                (Reply::bulk_str("replication-offset"), Reply::Int(n.offset as i64)),
                (Reply::bulk_str("health"), Reply::bulk_str(if n.connected { "online" } else { "fail" })),
            ])
        })
        .collect();
    Reply::Array(vec![Reply::Map(vec![
        (Reply::bulk_str("slots"), Reply::Array(vec![Reply::Int(0), Reply::Int(SLOTS as i64 - 1)])),
        (Reply::bulk_str("nodes"), Reply::Array(list)),
    ])])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replication::{Follower, LinkStatus};

    fn me() -> ClusterIdentity {
        ClusterIdentity { enabled: true, id: "a".repeat(40), ip: "10.0.0.1".into(), port: 7000 }
    }

    #[test]
    fn a_primary_lists_its_replicas() {
        let f = |port, state| Follower { id: 1, ip: "10.0.0.2".into(), port, state, ack_offset: 9, last_ack_ms: 0 };
        let repl = ReplSnapshot {
            offset: 10,
            followers: vec![f(7001, "online"), f(0, "online"), f(7002, "wait_bgsave")],
            ..Default::default()
        };
        let n = nodes(&me(), &repl);
        assert_eq!(n.len(), 3, "a replica that never gave its port is not listed");
        let text = nodes_text(&n, 5000);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("{} 10.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-16383", "a".repeat(40)));
        let rid = node_id("10.0.0.2", 7001, "");
        assert_eq!(lines[1], format!("{rid} 10.0.0.2:7001@17001 slave {} 0 5000 1 connected", "a".repeat(40)));
        assert!(lines[2].ends_with(" disconnected"));
        let Reply::Array(ranges) = slots_reply(&n) else { panic!() };
        let Reply::Array(r) = &ranges[0] else { panic!() };
        assert_eq!(r.len(), 2 + 3);
    }

    #[test]
    fn a_replica_lists_its_primary_as_the_slot_owner() {
        let link = LinkStatus { up: true, ..Default::default() };
        let repl = ReplSnapshot { primary: Some(("10.0.0.9".into(), 6379, link)), ..Default::default() };
        let n = nodes(&me(), &repl);
        let pid = node_id("10.0.0.9", 6379, "");
        assert_eq!(n[0].id, pid);
        assert!(n[0].master.is_none() && !n[0].myself);
        assert_eq!(n[1].master.as_deref(), Some(pid.as_str()));
        let text = nodes_text(&n, 1);
        assert!(text.lines().nth(1).unwrap().contains(" myself,slave "), "{text}");
        assert!(text.lines().next().unwrap().ends_with(" connected 0-16383"));
    }
}
