//! Loading the newest snapshot at start, before clients are served. A file that is corrupt or
//! truncated is never loaded in part: whatever was inserted is cleared again and the caller
//! decides (refuse to start, or start empty when told to skip it).

use super::progress::LoadProgress;
use super::rdb::{Decoder, Limits, RdbError, Record};
use crate::engine::ShardSet;
use crate::runtime::{DiskFile, OpenMode, Rt};
use crate::types::Value;
use bytes::Bytes;
use std::io;
use std::path::{Path, PathBuf};

/// Entries sent to a shard per hop.
const BATCH: usize = 512;

/// The snapshot to load: with `{timestamp}` in `dbfilename`, the newest matching file in `dir`
/// (the timestamps sort chronologically); otherwise `dir/dbfilename` if it exists.
pub async fn find_newest<R: Rt>(rt: &R, dir: &str, dbfilename: &str) -> Option<PathBuf> {
    if dbfilename.is_empty() {
        return None;
    }
    let dir = Path::new(dir);
    match dbfilename.split_once("{timestamp}") {
        Some((prefix, suffix)) => {
            let files = rt.list_dir(dir).await.ok()?;
            files
                .into_iter()
                .filter(|p| {
                    p.file_name().and_then(|f| f.to_str()).is_some_and(|name| {
                        name.len() > prefix.len() + suffix.len() && name.starts_with(prefix) && name.ends_with(suffix)
                    })
                })
                .max()
        }
        None => {
            let path = dir.join(dbfilename);
            rt.open(&path, OpenMode::READ).await.ok().map(|_| path)
        }
    }
}

/// Reads a whole file through the `Rt` file API.
pub async fn read_all<R: Rt>(rt: &R, path: &Path) -> io::Result<Vec<u8>> {
    let f = rt.open(path, OpenMode::READ).await?;
    let size = f.size().await? as usize;
    let mut data = vec![0u8; size];
    let mut off = 0;
    while off < size {
        let n = f.read_at(&mut data[off..], off as u64).await?;
        if n == 0 {
            data.truncate(off);
            break;
        }
        off += n;
    }
    Ok(data)
}

/// What a load did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    pub keys: u64,
    /// Keys whose deadline had already passed (not loaded, as a Redis master does).
    pub expired: u64,
}

#[derive(Debug)]
pub enum LoadError {
    Io(io::Error),
    Rdb(RdbError),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io(e) => write!(f, "{e}"),
            LoadError::Rdb(e) => write!(f, "{e}"),
        }
    }
}

type Batch = Vec<(usize, Bytes, Value, u64)>;

async fn flush<R: Rt>(rt: &R, shards: &ShardSet, s: usize, batch: Batch) -> Result<(), LoadError> {
    let dups = shards
        .hop(rt, s, move |sh| {
            let mut dups = 0;
            for (db, key, value, exp) in batch {
                dups += sh.dbs[db].set_quietly(key, value, exp).is_some() as usize;
            }
            dups
        })
        .await
        .ok_or_else(|| LoadError::Io(io::Error::other("the server is shutting down")))?;
    if dups > 0 {
        return Err(LoadError::Rdb(RdbError::Corrupt("duplicate keys".into())));
    }
    Ok(())
}

async fn insert_all<R: Rt>(
    rt: &R,
    shards: &ShardSet,
    data: &[u8],
    limits: Limits,
    progress: Option<&LoadProgress>,
) -> Result<Loaded, LoadError> {
    let mut d = Decoder::new(data, limits).map_err(LoadError::Rdb)?;
    let n = shards.num_shards();
    let mut batches: Vec<Batch> = (0..n).map(|_| Vec::new()).collect();
    let now = rt.wall_ms();
    let mut out = Loaded::default();
    let mut db = 0;
    loop {
        match d.next_record().map_err(LoadError::Rdb)? {
            Record::SelectDb(i) => {
                if i >= shards.dbnum {
                    return Err(LoadError::Rdb(RdbError::Unsupported(format!(
                        "database {i}, but the server has {} databases (--dbnum)",
                        shards.dbnum
                    ))));
                }
                db = i;
            }
            Record::Entry { key, value, expire_at } => {
                let Some(value) = value else { continue };
                if expire_at != 0 && expire_at <= now {
                    out.expired += 1;
                    continue;
                }
                let s = shards.shard_of(&key);
                batches[s].push((db, key, value, expire_at));
                out.keys += 1;
                if batches[s].len() >= BATCH {
                    flush(rt, shards, s, std::mem::take(&mut batches[s])).await?;
                    if let Some(p) = progress {
                        p.advance(d.position() as u64);
                    }
                }
            }
            Record::Eof => break,
            Record::Aux(k, v) if &k[..] == b"used-mem" => {
                if let (Some(p), Some(n)) = (progress, crate::util::parse_i64_strict(&v)) {
                    p.set_rdb_used_mem(n.max(0) as u64);
                }
            }
            Record::Aux(..) | Record::ResizeDb(..) => {}
        }
    }
    for (s, b) in batches.into_iter().enumerate() {
        if !b.is_empty() {
            flush(rt, shards, s, b).await?;
        }
    }
    if let Some(p) = progress {
        p.advance(data.len() as u64);
    }
    Ok(out)
}

/// Loads `path` into the shards, reporting how far it got in `progress`. On any error nothing
/// stays loaded.
pub async fn load_file<R: Rt>(
    rt: &R,
    shards: &ShardSet,
    path: &Path,
    limits: Limits,
    progress: &LoadProgress,
) -> Result<Loaded, LoadError> {
    // The size is known once the file is read (the loading_* fields show 0 until then).
    let started = rt.wall_ms();
    progress.begin(started, 0);
    let data = read_all(rt, path).await.map_err(LoadError::Io)?;
    progress.begin(started, data.len() as u64);
    load_checked(rt, shards, &data, limits, Some(progress)).await
}

/// Loads a whole RDB held in memory (a replica's full sync). On any error nothing stays loaded.
pub async fn load_bytes<R: Rt>(rt: &R, shards: &ShardSet, data: &[u8], limits: Limits) -> Result<Loaded, LoadError> {
    load_checked(rt, shards, data, limits, None).await
}

async fn load_checked<R: Rt>(
    rt: &R,
    shards: &ShardSet,
    data: &[u8],
    limits: Limits,
    progress: Option<&LoadProgress>,
) -> Result<Loaded, LoadError> {
    let out = insert_all(rt, shards, data, limits, progress).await;
    if out.is_err() {
        for s in 0..shards.num_shards() {
            shards.hop(rt, s, |sh| sh.dbs.iter_mut().for_each(|d| d.clear())).await;
        }
    }
    out
}
