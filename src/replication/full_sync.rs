//! A full sync on the replica: receive the primary's RDB, replace the whole dataset with it.
//! A payload that does not decode leaves an empty dataset (never half of one) and an error for
//! the link, which drops the connection and tries again later.

use super::link::LinkIo;
use super::rdb_receive::{Progress, RdbReceiver};
use crate::engine::ShardSet;
use crate::runtime::{timeout, Rt};
use crate::server::ServerState;
use crate::storage::load::{load_bytes, Loaded};
use crate::storage::rdb::{Decoder, Limits, Record};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// Reads the RDB payload; returns it with the stream bytes that followed it.
pub async fn receive<R: Rt, S: AsyncRead + AsyncWrite + Unpin>(
    rt: &R,
    io: &mut LinkIo<S>,
    state: &ServerState,
    limit: Duration,
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let mut rx = RdbReceiver::new();
    loop {
        let data = io.buf.split();
        if let Progress::Done { rest } = rx.feed(&data)? {
            let payload = rx.into_payload();
            return Ok((payload, rest));
        }
        {
            let mut link = state.repl.link.lock().unwrap();
            link.sync_total = rx.expected();
            link.sync_read = rx.received() as u64;
        }
        match timeout(rt, limit, io.fill()).await {
            None => return Err("timeout receiving the RDB payload from the primary".into()),
            Some(r) => {
                r?;
                state.repl.link.lock().unwrap().last_io_ms = rt.wall_ms();
            }
        }
    }
}

/// The database the primary's stream has SELECTed as of the snapshot (the `repl-stream-db`
/// aux field Redis writes for replicas); 0 when absent.
pub fn stream_db(payload: &[u8]) -> usize {
    let Ok(mut d) = Decoder::new(payload, Limits::default()) else { return 0 };
    while let Ok(Record::Aux(k, v)) = d.next_record() {
        if k.as_ref() == b"repl-stream-db" {
            return std::str::from_utf8(&v).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
        }
    }
    0
}

/// Empties every database and loads `payload`, answering -LOADING meanwhile.
pub async fn load<R: Rt>(rt: &R, shards: &ShardSet, state: &ServerState, payload: &[u8]) -> Result<Loaded, String> {
    let limits = {
        let c = state.config.read().unwrap();
        Limits::from_config(&crate::engine::ShardConfig::from_store(&c))
    };
    state.persistence.loading.store(true, Ordering::Release);
    // Cleared however this ends, also when REPLICAOF abandons the load half way.
    let _loading = LoadingFlag(state);
    // A command that passed the -LOADING check just before may still be reading: the barrier
    // waits for it and holds back everything queued, so nothing sees half a dataset.
    let _cut = shards.barrier(rt).await;
    for s in 0..shards.num_shards() {
        shards
            .hop(rt, s, |sh| {
                for db in 0..sh.dbs.len() {
                    sh.touch_watched_db(db, None);
                    sh.dbs[db].clear();
                }
            })
            .await;
    }
    let out = load_bytes(rt, shards, payload, limits).await;
    out.map_err(|e| format!("failed to load the RDB received from the primary: {e}"))
}

struct LoadingFlag<'a>(&'a ServerState);

impl Drop for LoadingFlag<'_> {
    fn drop(&mut self) {
        self.0.persistence.loading.store(false, Ordering::Release);
    }
}
