//! Cluster emulation (`--cluster_mode=emulated`): this node presents itself as a one-node Redis
//! Cluster owning every slot, so cluster-aware clients discover it and route to it. CLUSTER
//! INFO/NODES/SLOTS/SHARDS/MYID/KEYSLOT/COUNTKEYSINSLOT/GETKEYSINSLOT/HELP, READONLY/READWRITE,
//! and the CROSSSLOT check for commands whose keys hash to different slots. Without cluster
//! mode every CLUSTER subcommand, READONLY and READWRITE answer as a Redis built with cluster
//! support disabled does.
//!
//! The node id is derived, not random: a hash of the announced address, the announced port and
//! `dir`. The same deployment (same address, port and data directory) gets the same id after a
//! restart without a nodes.conf to persist, and two nodes differing in any of them differ.

use super::cluster_topology as topology;
use super::cmd_client::help_reply;
use super::ServerState;
use crate::commands::{errors, CommandSpec, Ctx};
use crate::config::ConfigStore;
use crate::engine::slot::{key_slot, SLOTS};
use crate::protocol::Reply;
use crate::runtime::Rt;
use crate::util::parse_i64_strict;
use bytes::Bytes;
use std::net::SocketAddr;

pub const DISABLED: &str = "ERR This instance has cluster support disabled";
pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
const INVALID_SLOT: &str = "ERR Invalid slot";
const INVALID_SLOT_OR_COUNT: &str = "ERR Invalid slot or number of keys";

/// How this node presents itself to cluster clients.
#[derive(Clone, Debug, Default)]
pub struct ClusterIdentity {
    pub enabled: bool,
    /// 40 lower-case hex characters.
    pub id: String,
    pub ip: String,
    pub port: u16,
}

impl ClusterIdentity {
    pub fn from_config(store: &ConfigStore, bound: SocketAddr) -> ClusterIdentity {
        let enabled = !store.get_str("cluster-mode").is_empty();
        let announced = store.get_str("cluster-announce-ip");
        let ip = if !announced.is_empty() {
            announced.to_string()
        } else if bound.ip().is_unspecified() {
            // Listening on every interface: loopback is the one address sure to reach us.
            "127.0.0.1".to_string()
        } else {
            bound.ip().to_string()
        };
        let port = match store.get_int("announce-port") {
            0 => bound.port(),
            p => p as u16,
        };
        let id = node_id(&ip, port, store.get_str("dir"));
        ClusterIdentity { enabled, id, ip, port }
    }
}

/// A 160-bit id from the node's address and data directory: FNV-1a over the inputs, then five
/// rounds of a 64-bit finalizer, 32 bits of each kept. Fixed constants, so it never changes
/// between builds or runs.
pub fn node_id(ip: &str, port: u16, dir: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in ip.bytes().chain([0]).chain(port.to_be_bytes()).chain([0]).chain(dir.bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut out = String::with_capacity(40);
    for round in 0..5u64 {
        let mut x = h ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
        out.push_str(&format!("{:08x}", x as u32));
    }
    out
}

/// The CROSSSLOT check a real cluster makes before running a command: every key named by the
/// command's key specification must hash to one slot.
pub fn cross_slot(spec: &CommandSpec, args: &[Bytes]) -> bool {
    let mut keys = spec.keys.positions(args.len());
    let Some(first) = keys.next() else { return false };
    let slot = key_slot(&args[first]);
    keys.any(|i| key_slot(&args[i]) != slot)
}

/// READONLY / READWRITE.
pub fn read_mode(state: &ServerState) -> Reply {
    if state.cluster.enabled {
        Reply::Ok
    } else {
        Reply::error(DISABLED)
    }
}

const HELP: &[&str] = &[
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port@bus-port[,hostname]> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "HELP",
    "    Print this help.",
];

pub async fn run<R: Rt>(ctx: &mut Ctx<'_, R>, sub: &str, args: &[Bytes]) -> Reply {
    let me = &ctx.server.cluster;
    if !me.enabled {
        return Reply::error(DISABLED);
    }
    match sub {
        "help" => help_reply(HELP),
        "myid" => Reply::bulk_str(&me.id),
        "keyslot" => Reply::Int(key_slot(&args[2]) as i64),
        "info" => {
            let known = topology(ctx.server, ctx.rt.wall_ms()).len();
            Reply::Verbatim("txt", Bytes::from(info_text(known)))
        }
        "nodes" => {
            let now = ctx.rt.wall_ms();
            Reply::Verbatim("txt", Bytes::from(topology::nodes_text(&topology(ctx.server, now), now)))
        }
        "slots" => topology::slots_reply(&topology(ctx.server, ctx.rt.wall_ms())),
        "shards" => topology::shards_reply(&topology(ctx.server, ctx.rt.wall_ms())),
        "countkeysinslot" => {
            let Some(slot) = parse_i64_strict(&args[2]) else { return Reply::error(errors::NOT_INTEGER) };
            if !(0..SLOTS as i64).contains(&slot) {
                return Reply::error(INVALID_SLOT);
            }
            let keys = keys_in_slot(ctx, slot as u16, usize::MAX, false).await;
            Reply::Int(keys.0 as i64)
        }
        "getkeysinslot" => {
            let Some(slot) = parse_i64_strict(&args[2]) else { return Reply::error(errors::NOT_INTEGER) };
            let Some(count) = parse_i64_strict(&args[3]) else { return Reply::error(errors::NOT_INTEGER) };
            if !(0..SLOTS as i64).contains(&slot) || count < 0 {
                return Reply::error(INVALID_SLOT_OR_COUNT);
            }
            let (_, keys) = keys_in_slot(ctx, slot as u16, count as usize, true).await;
            Reply::Array(keys.into_iter().map(Reply::bulk).collect())
        }
        other => Reply::error(errors::unknown_subcommand("cluster", other.as_bytes())),
    }
}

/// This node and the other ends of its replication, as cluster clients should see them.
fn topology(server: &ServerState, now_ms: u64) -> Vec<topology::Node> {
    topology::nodes(&server.cluster, &crate::replication::info::ReplSnapshot::take(&server.repl, now_ms))
}

fn info_text(known_nodes: usize) -> String {
    let known_nodes = known_nodes.to_string();
    let mut s = String::with_capacity(400);
    for (k, v) in [
        ("cluster_state", "ok"),
        ("cluster_slots_assigned", "16384"),
        ("cluster_slots_ok", "16384"),
        ("cluster_slots_pfail", "0"),
        ("cluster_slots_fail", "0"),
        ("cluster_known_nodes", &known_nodes),
        ("cluster_size", "1"),
        ("cluster_current_epoch", "1"),
        ("cluster_my_epoch", "1"),
        ("cluster_stats_messages_sent", "0"),
        ("cluster_stats_messages_received", "0"),
        ("total_cluster_links_buffer_limit_exceeded", "0"),
    ] {
        s.push_str(k);
        s.push(':');
        s.push_str(v);
        s.push_str("\r\n");
    }
    s
}

/// Counts the keys of the client's database in `slot` and collects up to `max` of them. Routing
/// by hash tag (always on in cluster mode) puts a whole slot on one shard, so only that shard is
/// visited; it scans its keys (Mayfly keeps no per-slot index).
async fn keys_in_slot<R: Rt>(ctx: &mut Ctx<'_, R>, slot: u16, max: usize, collect: bool) -> (usize, Vec<Bytes>) {
    let db = ctx.client.db;
    let shard = slot as usize % ctx.shards.num_shards();
    ctx.shards
        .hop(ctx.rt, shard, move |sh| {
            let (mut n, mut keys) = (0usize, Vec::new());
            for e in sh.dbs[db].table.iter() {
                if key_slot(e.key()) == slot {
                    n += 1;
                    if collect && keys.len() < max {
                        keys.push(e.key_bytes());
                    }
                }
            }
            (n, keys)
        })
        .await
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_id_is_stable_and_distinct() {
        let a = node_id("10.0.0.1", 6379, "/data");
        assert_eq!(a.len(), 40);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(a, node_id("10.0.0.1", 6379, "/data"));
        assert_ne!(a, node_id("10.0.0.2", 6379, "/data"));
        assert_ne!(a, node_id("10.0.0.1", 6380, "/data"));
        assert_ne!(a, node_id("10.0.0.1", 6379, "/data2"));
    }

    #[test]
    fn crossslot_by_key_spec() {
        let mset = crate::commands::lookup(b"mset").unwrap();
        let args = |v: &[&str]| v.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect::<Vec<_>>();
        assert!(!cross_slot(mset, &args(&["mset", "{a}1", "x", "{a}2", "y"])));
        assert!(cross_slot(mset, &args(&["mset", "a", "x", "b", "y"])));
        let get = crate::commands::lookup(b"get").unwrap();
        assert!(!cross_slot(get, &args(&["get", "a"])));
    }
}
