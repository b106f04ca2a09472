//! Point-in-time snapshots without fork (design §4), as one stream of RDB bytes for files and
//! replica full syncs alike.
//!
//! # The API
//!
//! ```ignore
//! let (mut stream, offset) = storage::snapshot::start(&rt, &shards, || journal.offset()).await?;
//! while let Some(chunk) = stream.next_chunk().await? {
//!     sink.write_all(&chunk).await?;
//! }
//! ```
//!
//! - `start` takes the global cut barrier (`ShardSet::barrier`: every key of every shard,
//!   exclusively), starts a snapshot of every key table at that moment, runs `at_cut` exactly
//!   once while the barrier still holds every shard (so a replication offset read there is
//!   exactly the cut: the snapshot plus the journal after that offset is the dataset), and
//!   releases the barrier. Writes go on at once.
//! - `SnapshotStream::next_chunk` yields the complete RDB v10 file (header, aux fields, one
//!   SELECTDB + RESIZEDB section per non-empty db, EXPIRETIME_MS + entries, EOF, CRC64) in
//!   chunks of about `CHUNK` bytes, then `None`.
//! - `SnapshotStream::set_pace(duty)` (0 < duty <= 1) lets the background walk use about that
//!   share of each shard's time while clients are being served, resting after each round in
//!   proportion to how long the round took (so it backs off further when shards are busy); with
//!   no commands run since the last round it does not rest. Each round steps every shard still
//!   walking at once, so the shards walk in parallel. SAVE runs at full speed; BGSAVE at
//!   `BACKGROUND_DUTY`. Writes are never throttled: they serialize what they touch.
//! - Only one snapshot runs at a time: `start` waits for a running one to end (the stream holds
//!   `ShardSet::snapshot_slot`). Dropping a stream early (a write failed, the replica went away)
//!   ends the snapshot on every shard and frees its buffers.
//!
//! # How the cut is kept
//!
//! Each key table serializes a segment before anything in it changes (serialize-before-mutate,
//! `engine::table_snapshot`); the stream's hops walk the rest one step at a time on each shard,
//! so no write waits longer than one segment's serialization. Keys created after the cut are
//! never written, keys deleted after it are written with their cut-time value, and keys already
//! expired at the cut are left out. The sections are per database: the stream serves one db at
//! a time, round-robin over the shards; bytes serialized early for a later db wait in that
//! table's buffer until its section.

mod save;

pub use save::{run_save, save_to, start_bgsave, target};

use super::rdb::encode::put_entry;
use super::rdb::Encoder;
use crate::engine::table_snapshot::TableSnapshot;
use crate::engine::ShardSet;
use crate::runtime::Rt;
use std::io;

/// About how many bytes `next_chunk` hands out at once.
pub const CHUNK: usize = 256 << 10;
/// Entries a shard visits per hop of the background walk (a segment holds at most ~4096).
const STEP_ENTRIES: usize = 4096;
/// The share of time a background save's walk takes on each shard.
pub const BACKGROUND_DUTY: f64 = 0.25;

fn gone() -> io::Error {
    io::Error::other("the server is shutting down")
}

/// A running snapshot: the RDB bytes of the dataset as of its cut, in chunks.
pub struct SnapshotStream<'a, R: Rt> {
    rt: R,
    shards: &'a ShardSet,
    id: u64,
    /// None once the trailer was handed out.
    enc: Option<Encoder>,
    /// Per db: (keys, keys with a TTL) at the cut, over all shards (RESIZEDB hints), and which
    /// shards had keys there.
    sizes: Vec<(usize, usize, Vec<usize>)>,
    /// Each shard's change counter at the cut.
    dirty: Vec<u64>,
    /// The db whose section is being written, and the shards still to finish for it.
    db: usize,
    section: Option<Vec<usize>>,
    duty: f64,
    /// Whether the walked shards' threads ran commands between the last two rounds, and how
    /// many they had run by the last one.
    clients_active: bool,
    served: u64,
    /// When the walk last finished resting (pacing counts all work since then as busy).
    rested: std::time::Duration,
    _slot: tokio::sync::OwnedMutexGuard<()>,
}

/// Starts a snapshot at a global cut; `at_cut` runs once while every shard is held.
pub async fn start<'a, R: Rt, T>(
    rt: &R,
    shards: &'a ShardSet,
    at_cut: impl FnOnce() -> T + Send,
) -> io::Result<(SnapshotStream<'a, R>, T)> {
    let slot = shards.snapshot_slot.clone().lock_owned().await;
    let id = rt.rng_u64();
    // The simulator's canary: no serialize-before-mutate (its checker must notice).
    #[cfg(feature = "canary")]
    let canary = rt.fault_enabled("snapshot-no-before-change");
    #[cfg(not(feature = "canary"))]
    let canary = false;
    let barrier = shards.barrier(rt).await;
    let n = shards.num_shards();
    let mut sizes: Vec<(usize, usize, Vec<usize>)> = vec![(0, 0, Vec::new()); shards.dbnum];
    let mut dirty = Vec::with_capacity(n);
    let mut fill = -2;
    for s in 0..n {
        let (per_db, d, f) = shards
            .hop(rt, s, move |sh| {
                let cut = sh.now_ms;
                let fill = sh.config.list_max_listpack_size;
                let per_db: Vec<(usize, usize)> = sh
                    .dbs
                    .iter_mut()
                    .enumerate()
                    .map(|(i, d)| {
                        let counts = (d.len(), d.expires_count());
                        if counts.0 > 0 {
                            let encode = Box::new(move |out: &mut Vec<u8>, e: &crate::engine::Entry| {
                                put_entry(out, e.key(), &e.value, e.expire_at(), fill)
                            });
                            let mut snap = TableSnapshot::new(id, i, cut, encode);
                            snap.before_change = !canary;
                            d.table.start_snapshot(snap);
                        }
                        counts
                    })
                    .collect();
                (per_db, sh.stats.dirty, fill)
            })
            .await
            .ok_or_else(gone)?;
        for (db, (keys, expires)) in per_db.into_iter().enumerate() {
            if keys > 0 {
                sizes[db].0 += keys;
                sizes[db].1 += expires;
                sizes[db].2.push(s);
            }
        }
        dirty.push(d);
        fill = f;
    }
    let out = at_cut();
    drop(barrier);
    let aux = [
        ("redis-ver", crate::REDIS_VERSION.to_string()),
        ("redis-bits", "64".to_string()),
        ("ctime", (rt.wall_ms() / 1000).to_string()),
        ("used-mem", shards.mem.total_used().to_string()),
        ("aof-base", "0".to_string()),
    ];
    let stream = SnapshotStream {
        rt: rt.clone(),
        shards,
        id,
        enc: Some(Encoder::new(fill, &aux)),
        sizes,
        dirty,
        db: 0,
        section: None,
        duty: 1.0,
        clients_active: true,
        served: 0,
        rested: rt.now(),
        _slot: slot,
    };
    Ok((stream, out))
}

impl<R: Rt> SnapshotStream<'_, R> {
    /// Limits the background walk to about `duty` of each shard's time (1.0: no limit).
    pub fn set_pace(&mut self, duty: f64) {
        self.duty = duty.clamp(0.01, 1.0);
    }

    /// The next piece of the file, or None after the CRC64 trailer.
    pub async fn next_chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            let Some(enc) = self.enc.as_mut() else { return Ok(None) };
            if enc.pending() >= CHUNK {
                return Ok(Some(enc.take()));
            }
            if self.db >= self.sizes.len() {
                let mut enc = self.enc.take().expect("checked above");
                let mut last = enc.take();
                last.extend_from_slice(&enc.finish());
                return Ok(Some(last));
            }
            let (keys, expires, owners) = &self.sizes[self.db];
            let remaining = match &mut self.section {
                Some(r) => r,
                None if *keys == 0 => {
                    self.db += 1;
                    continue;
                }
                None => {
                    enc.select_db(self.db, *keys, *expires);
                    self.section.insert(owners.clone())
                }
            };
            if remaining.is_empty() {
                self.section = None;
                self.db += 1;
                continue;
            }
            // Every shard still walking this db takes one step at once, each on its own thread;
            // their records go out in shard order (any order of records is a valid file).
            self.rt.perturb("snapshot-step").await;
            let (id, db) = (self.id, self.db);
            if self.duty < 1.0 && self.clients_active {
                // Clients are being served: rest in proportion to the time busy since the last
                // rest (the steps' round trip, checksumming, handing out chunks). A server with
                // no clients is walked at full speed.
                let busy = self.rt.now().saturating_sub(self.rested);
                self.rt.sleep(busy.mul_f64((1.0 - self.duty) / self.duty)).await;
            }
            self.rested = self.rt.now();
            let steps = self.shards.hop_each(&self.rt, remaining, move |sh| step(sh, id, db)).await.ok_or_else(gone)?;
            let mut served = 0;
            for (bytes, _, commands) in &steps {
                enc.raw(bytes);
                served += commands;
            }
            // Commands run on the walked shards' threads since the previous round.
            self.clients_active = served != self.served;
            self.served = served;
            let mut done = steps.iter().map(|(_, complete, _)| *complete);
            remaining.retain(|_| !done.next().unwrap_or(false));
        }
    }

    /// Each shard's change counter at the cut (INFO's rdb_changes_since_last_save after a save).
    pub fn dirty_at_cut(&self) -> &[u64] {
        &self.dirty
    }
}

/// One hop of the walk on a shard: serializes about `STEP_ENTRIES` entries of `db` as of the
/// cut and hands out what its table buffered. True once that table is done (its state is gone).
/// Also the commands this shard's thread has run so far (how the walk tells clients are busy).
fn step(sh: &mut crate::engine::Shard, id: u64, db: usize) -> (Vec<u8>, bool, u64) {
    let commands = sh.stats.commands_processed;
    let found =
        sh.dbs.iter_mut().map(|d| &mut d.table).find(|t| t.snapshot().is_some_and(|s| s.id == id && s.db == db));
    let Some(table) = found else { return (Vec::new(), true, commands) };
    let complete = table.snapshot_step(STEP_ENTRIES);
    let bytes = table.snapshot_mut().map(|s| s.take_output()).unwrap_or_default();
    if complete {
        table.end_snapshot(id);
    }
    (bytes, complete, commands)
}

impl<R: Rt> Drop for SnapshotStream<'_, R> {
    fn drop(&mut self) {
        // Finished or abandoned: no table keeps serializing for this snapshot.
        let id = self.id;
        for s in 0..self.shards.num_shards() {
            self.shards.post(s, Box::new(move |sh| sh.dbs.iter_mut().for_each(|d| d.table.end_snapshot(id))));
        }
    }
}
