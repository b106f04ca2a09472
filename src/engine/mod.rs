//! The sharded engine: shards own the data, the shard set routes work to them and coordinates
//! transactions across them. No sockets, no RESP, no runtime calls beyond the `Rt` it is handed.

mod barrier;
mod blocking;
mod db;
mod driver;
mod entry;
mod keytable;
mod locks;
pub mod memory;
mod memory_audit;
pub mod notify;
pub mod propagate;
pub mod pubsub;
mod shard;
mod shard_config;
mod shardset;
pub mod slot;
pub mod table_snapshot;

pub use barrier::Barrier;
pub use blocking::{BlockOp, ServeFn, Waiter, WakeMsg};
pub use db::Db;
pub use driver::drive_shard;
pub use entry::Entry;
pub use keytable::KeyTable;
pub use locks::{LockKey, Mode};
pub use memory_audit::MemoryAudit;
pub use shard::{CommandStat, Job, Shard, ShardStats};
pub use shard_config::ShardConfig;
pub use shardset::{ShardCell, ShardMsg, ShardSet, Tx};
pub use slot::Router;
