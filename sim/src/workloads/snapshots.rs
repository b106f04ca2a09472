//! The snapshot workload: a writer applies a logged sequence of SET, multi-shard MSET and DEL
//! to the `sk*` keys while a saver runs SAVE or BGSAVE rounds on the server's `SimDisk` (which
//! may fail writes and fsyncs). Filler keys `sf*` make tables of several segments, so the
//! walk and serialize-before-mutate both matter. After every round the saver checks the file
//! (`checkers::snapshot_cut`); some rounds cut the power at a random moment of the save, or
//! right after an OK, and check what survives: the previous good file or a complete new one,
//! never a damaged file, and never less than a SAVE that returned OK.

use crate::checkers::snapshot_cut::{self, State, Write};
use crate::client::{Client, Reply};
use crate::digest::Digest;
use crate::disk::SimDisk;
use bytes::Bytes;
use madsim::rand::{thread_rng, Rng};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct SnapShared {
    pub server: SocketAddr,
    pub disk: SimDisk,
    /// Where the server writes its snapshot.
    pub path: PathBuf,
    /// Key groups the writer sets together with MSET (each spans as many shards as it can).
    pub groups: Vec<Vec<Bytes>>,
    pub fillers: usize,
    pub rounds: usize,
    /// Probability that a round cuts the power.
    pub crash_prob: f64,
    pub digest: Digest,
    /// Every write the writer sent, in order (logged before it is sent).
    pub log: Mutex<Vec<Write>>,
    /// Writes whose reply has arrived.
    pub acked: AtomicUsize,
    pub ready: AtomicBool,
    pub stop: AtomicBool,
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

async fn connect(addr: SocketAddr) -> Result<Client, String> {
    for _ in 0..100 {
        if let Ok(c) = Client::connect(addr).await {
            return Ok(c);
        }
        madsim::time::sleep(Duration::from_millis(10)).await;
    }
    Err(format!("snapshot workload: could not connect to {addr}"))
}

/// Fillers and `sk*` keys as they are before the first logged write.
pub fn base(sh: &SnapShared) -> State {
    let mut s = State::new();
    for i in 0..sh.fillers {
        s.insert(Bytes::from(format!("sf{i}")), Bytes::from(format!("f{i}")));
    }
    for k in sh.groups.iter().flatten() {
        s.insert(k.clone(), b("init"));
    }
    s
}

/// Applies the logged writes until the saver is done.
pub async fn writer(sh: Arc<SnapShared>) -> Result<(), String> {
    let mut rng = thread_rng();
    let mut c = connect(sh.server).await?;
    while !sh.ready.load(Ordering::Acquire) {
        madsim::time::sleep(Duration::from_millis(5)).await;
    }
    let mut i = 0usize;
    while !sh.stop.load(Ordering::Acquire) {
        let group = &sh.groups[rng.gen_range(0..sh.groups.len())];
        let key = group[rng.gen_range(0..group.len())].clone();
        let value = Bytes::from(format!("w{i}"));
        let (write, args) = match rng.gen_range(0..10) {
            0..=3 => (Write::Set(vec![key.clone()], value.clone()), vec![b("SET"), key, value]),
            4..=7 => {
                let mut args = vec![b("MSET")];
                group.iter().for_each(|k| args.extend([k.clone(), value.clone()]));
                (Write::Set(group.clone(), value), args)
            }
            _ => (Write::Del(key.clone()), vec![b("DEL"), key]),
        };
        sh.log.lock().unwrap_or_else(|e| e.into_inner()).push(write);
        let reply = c.call(&args).await.map_err(|e| format!("snapshot writer: {e}"))?;
        if !matches!(reply, Reply::Simple(_) | Reply::Int(_)) {
            return Err(format!("snapshot writer: write {i} replied {reply:?}"));
        }
        i += 1;
        sh.acked.store(i, Ordering::Release);
        if rng.gen_bool(0.5) {
            madsim::time::sleep(Duration::from_micros(rng.gen_range(0..3000))).await;
        }
    }
    Ok(())
}

fn logged(sh: &SnapShared) -> Vec<Write> {
    sh.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// SAVE, or BGSAVE and wait for it; true when the save succeeded.
async fn save(c: &mut Client, background: bool) -> Result<bool, String> {
    let fail = |e: std::io::Error| format!("snapshot saver: {e}");
    if !background {
        return Ok(c.call(&[b("SAVE")]).await.map_err(fail)? == Reply::ok());
    }
    let r = c.call(&[b("BGSAVE")]).await.map_err(fail)?;
    if r != Reply::Simple("Background saving started".into()) {
        return Err(format!("snapshot saver: BGSAVE replied {r:?}"));
    }
    loop {
        madsim::time::sleep(Duration::from_millis(2)).await;
        let Reply::Bulk(Some(info)) = c.call(&[b("INFO"), b("persistence")]).await.map_err(fail)? else {
            return Err("snapshot saver: INFO did not reply a bulk string".into());
        };
        let info = String::from_utf8_lossy(&info).into_owned();
        if info.contains("rdb_bgsave_in_progress:0") {
            return Ok(info.contains("rdb_last_bgsave_status:ok"));
        }
    }
}

/// What the disk holds after a power failure now must be the last good file or a complete new
/// one within the cut window; returns it.
fn check_after_crash(
    sh: &SnapShared,
    base: &State,
    last_good: &Option<Vec<u8>>,
    lo: usize,
) -> Result<Option<Vec<u8>>, String> {
    sh.disk.power_fail();
    let durable = sh.disk.contents(&sh.path);
    match (&durable, last_good) {
        (None, Some(_)) => Err("snapshot: the last good snapshot vanished in a power failure".into()),
        (None, None) => Ok(None),
        (Some(d), Some(g)) if d == g => Ok(durable),
        (Some(d), _) => {
            let file = snapshot_cut::read_file(d, b"s")
                .map_err(|e| format!("snapshot: after a power failure the file is damaged: {e}"))?;
            let log = logged(sh);
            snapshot_cut::check_cut(&file, base, &log, lo, log.len())?;
            Ok(durable)
        }
    }
}

/// Fills the server, then runs the save rounds and checks each.
pub async fn saver(sh: Arc<SnapShared>) -> Result<(), String> {
    let result = rounds(&sh).await;
    sh.stop.store(true, Ordering::Release);
    sh.ready.store(true, Ordering::Release);
    result
}

async fn rounds(sh: &SnapShared) -> Result<(), String> {
    let mut rng = thread_rng();
    let mut c = connect(sh.server).await?;
    let base = base(sh);
    for batch in base.iter().collect::<Vec<_>>().chunks(1000) {
        let mut args = vec![b("MSET")];
        batch.iter().for_each(|(k, v)| args.extend([(*k).clone(), (*v).clone()]));
        c.call(&args).await.map_err(|e| format!("snapshot saver: {e}"))?;
    }
    sh.ready.store(true, Ordering::Release);
    let mut last_good: Option<Vec<u8>> = None;
    for round in 0..sh.rounds {
        madsim::time::sleep(Duration::from_millis(rng.gen_range(5..200))).await;
        let lo = sh.acked.load(Ordering::Acquire);
        let background = rng.gen_bool(0.3);
        let crash_after = rng.gen_bool(sh.crash_prob).then(|| Duration::from_micros(rng.gen_range(0..20_000)));
        let ok = match crash_after {
            None => save(&mut c, background).await?,
            Some(after) => {
                let mut saving = std::pin::pin!(save(&mut c, background));
                let finished = tokio::select! {
                    biased;
                    r = &mut saving => Some(r?),
                    _ = madsim::time::sleep(after) => None,
                };
                match finished {
                    Some(ok) => ok,
                    None => {
                        last_good = check_after_crash(sh, &base, &last_good, lo)?;
                        sh.digest.fold(|| format!("snapshot round {round}: power failure mid-save"));
                        // The server lived on (only the disk lost power), so its save may
                        // still finish, or fail on handles the power failure killed.
                        let _ = saving.await;
                        let now = sh.disk.contents(&sh.path);
                        if now != last_good {
                            let bytes = now.as_deref().unwrap_or_default();
                            let file = snapshot_cut::read_file(bytes, b"s")
                                .map_err(|e| format!("snapshot: round {round}, after a power failure: {e}"))?;
                            let log = logged(sh);
                            snapshot_cut::check_cut(&file, &base, &log, lo, log.len())?;
                            last_good = now;
                        }
                        continue;
                    }
                }
            }
        };
        let hi = logged(sh).len();
        let now = sh.disk.contents(&sh.path);
        sh.digest.fold(|| format!("snapshot round {round}: ok={ok} writes {lo}..={hi}"));
        if !ok {
            if now != last_good {
                return Err(format!("snapshot: a failed save (round {round}) changed the snapshot file"));
            }
            continue;
        }
        let bytes = now.ok_or_else(|| format!("snapshot: SAVE returned OK (round {round}) but no file exists"))?;
        let file = snapshot_cut::read_file(&bytes, b"s").map_err(|e| format!("snapshot: round {round}: {e}"))?;
        let cut = snapshot_cut::check_cut(&file, &base, &logged(sh), lo, hi)
            .map_err(|e| format!("{e} (round {round}, {})", if background { "BGSAVE" } else { "SAVE" }))?;
        sh.digest.fold(|| format!("snapshot round {round}: cut after write {cut}"));
        last_good = Some(bytes);
        if rng.gen_bool(sh.crash_prob) {
            sh.disk.power_fail();
            if sh.disk.contents(&sh.path) != last_good {
                return Err(format!("snapshot: a save that returned OK (round {round}) was lost in a power failure"));
            }
        }
    }
    Ok(())
}
