//! Replication in both roles, speaking Redis's protocol (PSYNC2), so Redis replicas can follow
//! Mayfly and Mayfly can follow Redis.
//!
//! - `backlog`: stream bytes, offsets and replication ids, as Redis counts them.
//! - `journal`: how writes on the shards become that stream (primary role).
//! - `primary`: serving SYNC/PSYNC, full syncs, feeding each replica.
//! - `commands`: REPLCONF, SYNC/PSYNC, WAIT, REPLICAOF/SLAVEOF, ROLE.
//! - `replica`: the link to a primary: handshake, full sync load, applying the stream.

mod apply;
pub mod backlog;
pub mod commands;
mod counted;
mod full_sync;
pub mod gate;
pub mod info;
pub mod journal;
mod link;
pub mod primary;
pub mod rdb_receive;
pub mod replica;
pub mod rewrite;
pub mod role;

use journal::Journal;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Which role this node plays now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    Primary,
    /// Replicating from host:port.
    Replica {
        host: String,
        port: u16,
    },
}

/// The replica side's view of its link to the primary (INFO replication, ROLE).
#[derive(Clone, Debug, Default)]
pub struct LinkStatus {
    /// "connect", "connecting", "sync", "connected" (ROLE's words for the link state).
    pub state: &'static str,
    pub up: bool,
    pub sync_in_progress: bool,
    /// Wall ms of the last byte from the primary (0 = never).
    pub last_io_ms: u64,
    /// Wall ms when the link went down (0 = it never went up).
    pub down_since_ms: u64,
    /// Full sync progress: bytes expected (-1 = EOF-marked stream) and read so far.
    pub sync_total: i64,
    pub sync_read: u64,
}

/// A replica attached to this node, as INFO's slaveN lines and ROLE show it (primary side).
#[derive(Clone, Debug)]
pub struct Follower {
    /// The client id of its connection.
    pub id: u64,
    pub ip: String,
    /// The port it listens on (REPLCONF listening-port), 0 if it never said.
    pub port: u16,
    /// "wait_bgsave", "send_bulk" or "online".
    pub state: &'static str,
    /// The offset it last acknowledged (REPLCONF ACK).
    pub ack_offset: u64,
    /// Wall ms of its last ACK.
    pub last_ack_ms: u64,
}

/// Shared by every thread (in `ServerState`).
pub struct Replication {
    pub journal: Arc<Journal>,
    pub role: Mutex<Role>,
    pub link: Mutex<LinkStatus>,
    /// Replicas attached to this node (primary side; also a replica's own sub-replicas).
    pub followers: Mutex<Vec<Follower>>,
    /// Notified whenever a follower acknowledges an offset (WAIT).
    pub acked: Notify,
    /// INFO stats: full syncs served, partial resyncs accepted and refused.
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
    /// INFO stats `total_net_repl_input_bytes`: read from our primary (handshake, RDB, stream).
    pub net_input_bytes: AtomicU64,
    /// INFO stats `total_net_repl_output_bytes`: written to our replicas (RDB, stream).
    pub net_output_bytes: AtomicU64,
    /// Notified when the role or the primary changes (REPLICAOF), so the link task restarts.
    pub role_changed: Notify,
    /// Whether this node follows a primary now: the per-command check reads only this.
    pub following: AtomicBool,
    /// Whether the link task is following a primary (it may still be applying a command).
    pub link_active: AtomicBool,
    /// Notified when the link task has let go of its primary.
    pub link_left: Notify,
}

impl Replication {
    pub fn new(replid: String, backlog_size: usize) -> Replication {
        Replication {
            journal: Arc::new(Journal::new(replid, backlog_size)),
            role: Mutex::new(Role::Primary),
            link: Mutex::new(LinkStatus::default()),
            followers: Mutex::new(Vec::new()),
            acked: Notify::new(),
            sync_full: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
            net_input_bytes: AtomicU64::new(0),
            net_output_bytes: AtomicU64::new(0),
            role_changed: Notify::new(),
            following: AtomicBool::new(false),
            link_active: AtomicBool::new(false),
            link_left: Notify::new(),
        }
    }

    pub fn role(&self) -> Role {
        self.role.lock().unwrap().clone()
    }

    pub fn is_replica(&self) -> bool {
        matches!(*self.role.lock().unwrap(), Role::Replica { .. })
    }
}
