//! Writing a snapshot: every shard serializes its keys in bounded slices (a hop per slice, so a
//! shard is never held longer than one slice), the coordinator appends them to a temp file
//! through the `Rt` file API, fsyncs it, renames it over the target and fsyncs the directory.
//!
//! Consistency: each slice is a point-in-time view of its keys, but the save as a whole is not
//! one cut — a write between two slices may or may not be included (every key present for the
//! whole save is written exactly once). Serialize-before-mutate (design §4) is still to do.

use super::rdb::encode::put_entry;
use super::rdb::Encoder;
use super::{expand_filename, Persistence};
use crate::engine::ShardSet;
use crate::runtime::{DiskFile, OpenMode, Rt};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

/// Keys serialized per hop.
const SLICE_KEYS: usize = 128;
/// Bytes buffered before a write.
const WRITE_CHUNK: usize = 1 << 20;

fn gone() -> io::Error {
    io::Error::other("the server is shutting down")
}

/// Where snapshots go: `dir` and `dbfilename` (None when dbfilename is empty).
pub fn target(dir: &str, dbfilename: &str, now_ms: u64) -> Option<PathBuf> {
    (!dbfilename.is_empty()).then(|| Path::new(dir).join(expand_filename(dbfilename, now_ms)))
}

/// Writes the whole dataset to `path`, crash-safely. Returns the bytes written.
pub async fn save_to<R: Rt>(rt: &R, shards: &ShardSet, path: &Path) -> io::Result<u64> {
    let now = rt.wall_ms();
    let n = shards.num_shards();
    let dbnum = shards.dbnum;
    // Sizes per db (hints for RESIZEDB), the list node size, and each shard's change counter.
    let mut sizes = vec![(0usize, 0usize); dbnum];
    let mut dirty = Vec::with_capacity(n);
    let mut fill = -2;
    for s in 0..n {
        let (per_db, d, f) = shards
            .hop(rt, s, |sh| {
                let per_db: Vec<(usize, usize)> = sh.dbs.iter().map(|d| (d.len(), d.expires_count())).collect();
                (per_db, sh.stats.dirty, sh.config.list_max_listpack_size)
            })
            .await
            .ok_or_else(gone)?;
        for (i, (k, e)) in per_db.into_iter().enumerate() {
            sizes[i].0 += k;
            sizes[i].1 += e;
        }
        dirty.push(d);
        fill = f;
    }
    let aux = [
        ("redis-ver", crate::REDIS_VERSION.to_string()),
        ("redis-bits", "64".to_string()),
        ("ctime", (now / 1000).to_string()),
        ("used-mem", "0".to_string()),
        ("aof-base", "0".to_string()),
    ];
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{:x}",
        path.file_name().and_then(|f| f.to_str()).unwrap_or("dump.rdb"),
        rt.rng_u64()
    ));
    let file = rt.open(&tmp, OpenMode::CREATE_NEW).await?;
    let result = async {
        let mut enc = Encoder::new(fill, &aux);
        let mut offset = 0u64;
        for (db, &(keys, expires)) in sizes.iter().enumerate() {
            if keys == 0 {
                continue;
            }
            enc.select_db(db, keys, expires);
            for s in 0..n {
                let mut cursor = Some(0u64);
                while let Some(pos) = cursor {
                    let (bytes, next) = shards
                        .hop(rt, s, move |sh| {
                            let mut out = Vec::new();
                            let now = sh.now_ms.max(now);
                            let next = sh.dbs[db].table.scan(pos, SLICE_KEYS, |e| {
                                if e.expire_at() == 0 || e.expire_at() > now {
                                    put_entry(&mut out, e.key(), &e.value, e.expire_at(), fill);
                                }
                            });
                            (out, next)
                        })
                        .await
                        .ok_or_else(gone)?;
                    enc.raw(&bytes);
                    if enc.pending() >= WRITE_CHUNK {
                        let chunk = enc.take();
                        file.write_at(&chunk, offset).await?;
                        offset += chunk.len() as u64;
                    }
                    cursor = next;
                }
            }
        }
        let pending = enc.take();
        file.write_at(&pending, offset).await?;
        offset += pending.len() as u64;
        let last = enc.finish();
        file.write_at(&last, offset).await?;
        offset += last.len() as u64;
        file.sync_data().await?;
        Ok::<u64, io::Error>(offset)
    }
    .await;
    drop(file);
    let written = match result {
        Ok(w) => w,
        Err(e) => {
            let _ = rt.remove(&tmp).await;
            return Err(e);
        }
    };
    if let Err(e) = rt.rename(&tmp, path).await {
        let _ = rt.remove(&tmp).await;
        return Err(e);
    }
    rt.sync_dir(dir).await?;
    // Changes up to the cut are saved now.
    for (s, d) in dirty.into_iter().enumerate() {
        shards.hop(rt, s, move |sh| sh.stats.dirty_at_save = d).await;
    }
    Ok(written)
}

/// Runs one save with the bookkeeping INFO and LASTSAVE report. `background` marks BGSAVE.
pub async fn run_save<R: Rt>(
    rt: &R,
    shards: &ShardSet,
    p: &Persistence,
    dir: &str,
    dbfilename: &str,
    background: bool,
) -> io::Result<()> {
    let start = rt.wall_ms();
    let Some(path) = target(dir, dbfilename, start) else {
        return Err(io::Error::other("no dbfilename configured"));
    };
    p.current_started_ms.store(start, Ordering::Relaxed);
    let out = save_to(rt, shards, &path).await;
    let end = rt.wall_ms();
    match &out {
        Ok(bytes) => {
            tracing::info!("DB saved on disk: {} ({bytes} bytes)", path.display());
            p.last_save_secs.store(end / 1000, Ordering::Relaxed);
            p.saves.fetch_add(1, Ordering::Relaxed);
            p.last_ok.store(true, Ordering::Relaxed);
        }
        Err(e) => {
            tracing::warn!("saving {} failed: {e}", path.display());
            p.last_ok.store(false, Ordering::Relaxed);
        }
    }
    if background {
        p.last_bgsave_secs.store(((end - start) / 1000) as i64, Ordering::Relaxed);
    }
    out.map(|_| ())
}
