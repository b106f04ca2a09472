//! `SimDisk`: an in-memory, per-node filesystem with a seeded fault model.
//!
//! Fault model (every probability is a knob in [`DiskFaults`]; all are 0 in [`DiskFaults::none`]):
//! - **Volatile writes.** `write_at` and `set_len` change what reads see at once, but nothing is
//!   durable until `sync_data` on that file. A power failure ([`SimDisk::power_fail`]) rolls every
//!   file back to its last synced contents, then replays each unsynced write block by block
//!   ([`BLOCK`] bytes): each block independently survives with probability `unsynced_block_survives`.
//!   This models torn writes (part of a write survives) and reordered writes (a later write may
//!   survive while an earlier one is lost).
//! - **Volatile directory entries.** Creations, renames and removals change the namespace at once
//!   but become durable only after `sync_dir` on the parent directory. A power failure restores the
//!   last synced namespace; files no longer named are gone.
//! - **EIO**: `write_at`, `sync_data` and `read_at` fail with `EIO` with probability `eio`
//!   (a failed write changes nothing; a failed sync leaves the data unsynced).
//! - **ENOSPC**: a write fails with `ENOSPC` when the disk's total size would exceed `capacity`,
//!   and also with probability `enospc`.
//! - **Bit flips**: a read flips one random bit in the returned buffer with probability `bit_flip`
//!   (what a checksum must catch).
//!
//! Handles opened before a power failure are dead afterwards (every call returns `EIO`).

// Outside `--cfg madsim` only the unit tests use the disk.
#![cfg_attr(not(madsim), allow(dead_code))]

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Granularity of torn writes.
pub const BLOCK: usize = 512;

#[derive(Clone, Copy, Debug)]
pub struct DiskFaults {
    pub eio: f64,
    pub enospc: f64,
    pub bit_flip: f64,
    pub unsynced_block_survives: f64,
    /// Total bytes the disk holds.
    pub capacity: u64,
}

impl DiskFaults {
    /// A perfect disk (unsynced data is still lost on power failure).
    pub fn none() -> Self {
        DiskFaults { eio: 0.0, enospc: 0.0, bit_flip: 0.0, unsynced_block_survives: 0.0, capacity: u64::MAX }
    }

    /// A hostile disk for scenarios that exercise persistence.
    pub fn chaos() -> Self {
        DiskFaults { eio: 0.01, enospc: 0.005, bit_flip: 0.001, unsynced_block_survives: 0.5, capacity: 64 << 20 }
    }
}

#[derive(Default)]
struct Inode {
    /// What reads see.
    data: Vec<u8>,
    /// What survives a power failure.
    durable: Vec<u8>,
    /// Unsynced writes since the last sync, in order (`None` bytes = a `set_len`).
    pending: Vec<(u64, Option<Vec<u8>>)>,
}

struct State {
    inodes: BTreeMap<u64, Inode>,
    names: BTreeMap<PathBuf, u64>,
    durable_names: BTreeMap<PathBuf, u64>,
    next_ino: u64,
    epoch: u64,
    faults: DiskFaults,
    rng: u64,
}

impl State {
    fn rand(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && ((self.rand() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn used(&self) -> u64 {
        self.inodes.values().map(|i| i.data.len() as u64).sum()
    }
}

fn eio() -> io::Error {
    io::Error::from_raw_os_error(5)
}

fn enospc() -> io::Error {
    io::Error::from_raw_os_error(28)
}

/// One node's disk. Cheap to clone; clones share the disk.
#[derive(Clone)]
pub struct SimDisk {
    state: Arc<Mutex<State>>,
}

impl SimDisk {
    pub fn new(seed: u64, faults: DiskFaults) -> Self {
        let state = State {
            inodes: BTreeMap::new(),
            names: BTreeMap::new(),
            durable_names: BTreeMap::new(),
            next_ino: 1,
            epoch: 0,
            faults,
            rng: seed,
        };
        SimDisk { state: Arc::new(Mutex::new(state)) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn open(&self, path: &Path, write: bool, create: bool, truncate: bool) -> io::Result<SimFile> {
        let mut s = self.lock();
        let ino = match s.names.get(path) {
            Some(&ino) => ino,
            None if create => {
                let ino = s.next_ino;
                s.next_ino += 1;
                s.inodes.insert(ino, Inode::default());
                s.names.insert(path.to_path_buf(), ino);
                ino
            }
            None => return Err(io::Error::from(io::ErrorKind::NotFound)),
        };
        if truncate && write {
            let inode = s.inodes.get_mut(&ino).expect("named inode exists");
            inode.data.clear();
            inode.pending.push((0, None));
        }
        Ok(SimFile { disk: self.clone(), ino, epoch: s.epoch, write })
    }

    pub fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.lock();
        let ino = s.names.remove(from).ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        s.names.insert(to.to_path_buf(), ino);
        Ok(())
    }

    pub fn remove(&self, path: &Path) -> io::Result<()> {
        let mut s = self.lock();
        s.names.remove(path).map(|_| ()).ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    pub fn list_dir(&self, dir: &Path) -> Vec<PathBuf> {
        self.lock().names.keys().filter(|p| p.parent() == Some(dir)).cloned().collect()
    }

    /// What a reader sees at `path` now, with no fault injected (for checkers, not the server).
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        let s = self.lock();
        s.names.get(path).map(|ino| s.inodes[ino].data.clone())
    }

    /// Makes the entries of `dir` durable: they now survive a power failure.
    pub fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.lock();
        let s = &mut *s;
        s.durable_names.retain(|p, _| p.parent() != Some(dir));
        for (p, &ino) in s.names.iter().filter(|(p, _)| p.parent() == Some(dir)) {
            s.durable_names.insert(p.clone(), ino);
        }
        Ok(())
    }

    /// Loses power: unsynced data and directory entries are lost (some unsynced blocks survive,
    /// per the fault model), and every open handle dies.
    pub fn power_fail(&self) {
        let mut s = self.lock();
        s.epoch += 1;
        s.names = s.durable_names.clone();
        let live: Vec<u64> = s.names.values().copied().collect();
        s.inodes.retain(|ino, _| live.contains(ino));
        let p = s.faults.unsynced_block_survives;
        let inos: Vec<u64> = s.inodes.keys().copied().collect();
        for ino in inos {
            let pending = std::mem::take(&mut s.inodes.get_mut(&ino).expect("listed").pending);
            let mut out = s.inodes[&ino].durable.clone();
            for (off, w) in pending {
                let Some(bytes) = w else {
                    if s.chance(p) {
                        out.truncate(off as usize);
                    }
                    continue;
                };
                for (i, block) in bytes.chunks(BLOCK).enumerate() {
                    if s.chance(p) {
                        let at = off as usize + i * BLOCK;
                        if out.len() < at + block.len() {
                            out.resize(at + block.len(), 0);
                        }
                        out[at..at + block.len()].copy_from_slice(block);
                    }
                }
            }
            let inode = s.inodes.get_mut(&ino).expect("listed");
            inode.durable = out.clone();
            inode.data = out;
        }
    }
}

/// An open file on a [`SimDisk`].
pub struct SimFile {
    disk: SimDisk,
    ino: u64,
    epoch: u64,
    write: bool,
}

impl SimFile {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> io::Result<T>) -> io::Result<T> {
        let mut s = self.disk.lock();
        if s.epoch != self.epoch || !s.inodes.contains_key(&self.ino) {
            return Err(eio());
        }
        f(&mut s)
    }

    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let ino = self.ino;
        self.with(|s| {
            let (p_eio, p_flip) = (s.faults.eio, s.faults.bit_flip);
            if s.chance(p_eio) {
                return Err(eio());
            }
            let data = &s.inodes[&ino].data;
            let start = (offset as usize).min(data.len());
            let n = (data.len() - start).min(buf.len());
            buf[..n].copy_from_slice(&data[start..start + n]);
            if n > 0 && s.chance(p_flip) {
                let bit = s.rand() as usize % (n * 8);
                buf[bit / 8] ^= 1 << (bit % 8);
            }
            Ok(n)
        })
    }

    pub fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        if !self.write {
            return Err(io::Error::from_raw_os_error(9)); // EBADF
        }
        let ino = self.ino;
        self.with(|s| {
            let (p_eio, p_nospc, cap) = (s.faults.eio, s.faults.enospc, s.faults.capacity);
            if s.chance(p_eio) {
                return Err(eio());
            }
            let end = offset as usize + buf.len();
            let grow = end.saturating_sub(s.inodes[&ino].data.len()) as u64;
            if s.used().saturating_add(grow) > cap || s.chance(p_nospc) {
                return Err(enospc());
            }
            let inode = s.inodes.get_mut(&ino).expect("checked");
            if inode.data.len() < end {
                inode.data.resize(end, 0);
            }
            inode.data[offset as usize..end].copy_from_slice(buf);
            inode.pending.push((offset, Some(buf.to_vec())));
            Ok(())
        })
    }

    pub fn sync_data(&self) -> io::Result<()> {
        let ino = self.ino;
        self.with(|s| {
            let p = s.faults.eio;
            if s.chance(p) {
                return Err(eio());
            }
            let inode = s.inodes.get_mut(&ino).expect("checked");
            inode.durable = inode.data.clone();
            inode.pending.clear();
            Ok(())
        })
    }

    pub fn set_len(&self, len: u64) -> io::Result<()> {
        let ino = self.ino;
        self.with(|s| {
            let inode = s.inodes.get_mut(&ino).expect("checked");
            inode.data.resize(len as usize, 0);
            inode.pending.push((len, None));
            Ok(())
        })
    }

    pub fn size(&self) -> io::Result<u64> {
        let ino = self.ino;
        self.with(|s| Ok(s.inodes[&ino].data.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(f: &SimFile) -> Vec<u8> {
        let mut buf = vec![0; f.size().unwrap() as usize];
        let n = f.read_at(&mut buf, 0).unwrap();
        buf.truncate(n);
        buf
    }

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn synced_data_and_entries_survive_power_failure() {
        let d = SimDisk::new(1, DiskFaults::none());
        let f = d.open(&p("/db/a"), true, true, true).unwrap();
        f.write_at(b"hello", 0).unwrap();
        f.sync_data().unwrap();
        d.sync_dir(&p("/db")).unwrap();
        d.power_fail();
        assert!(f.read_at(&mut [0; 4], 0).is_err(), "old handles die");
        let f = d.open(&p("/db/a"), false, false, false).unwrap();
        assert_eq!(read_all(&f), b"hello");
    }

    #[test]
    fn unsynced_data_is_lost() {
        let d = SimDisk::new(1, DiskFaults::none());
        let f = d.open(&p("/db/a"), true, true, true).unwrap();
        f.write_at(b"hello", 0).unwrap();
        f.sync_data().unwrap();
        d.sync_dir(&p("/db")).unwrap();
        f.write_at(b" world", 5).unwrap();
        assert_eq!(read_all(&f), b"hello world", "reads see unsynced writes");
        d.power_fail();
        let f = d.open(&p("/db/a"), false, false, false).unwrap();
        assert_eq!(read_all(&f), b"hello");
    }

    #[test]
    fn unsynced_directory_entries_are_lost() {
        let d = SimDisk::new(1, DiskFaults::none());
        let f = d.open(&p("/db/tmp"), true, true, true).unwrap();
        f.write_at(b"x", 0).unwrap();
        f.sync_data().unwrap();
        d.sync_dir(&p("/db")).unwrap();
        d.rename(&p("/db/tmp"), &p("/db/final")).unwrap();
        d.open(&p("/db/new"), true, true, true).unwrap();
        assert_eq!(d.list_dir(&p("/db")), vec![p("/db/final"), p("/db/new")]);
        d.power_fail();
        assert_eq!(d.list_dir(&p("/db")), vec![p("/db/tmp")], "rename and creation were not synced");
        d.rename(&p("/db/tmp"), &p("/db/final")).unwrap();
        d.sync_dir(&p("/db")).unwrap();
        d.power_fail();
        assert_eq!(d.list_dir(&p("/db")), vec![p("/db/final")]);
    }

    #[test]
    fn unsynced_writes_tear_at_block_granularity() {
        let faults = DiskFaults { unsynced_block_survives: 0.5, ..DiskFaults::none() };
        let mut torn = false;
        for seed in 0..20 {
            let d = SimDisk::new(seed, faults);
            let f = d.open(&p("/a"), true, true, true).unwrap();
            f.write_at(&vec![0u8; 8 * BLOCK], 0).unwrap();
            f.sync_data().unwrap();
            d.sync_dir(&p("/")).unwrap();
            f.write_at(&vec![1u8; 8 * BLOCK], 0).unwrap();
            d.power_fail();
            let data = read_all(&d.open(&p("/a"), false, false, false).unwrap());
            assert_eq!(data.len(), 8 * BLOCK);
            for block in data.chunks(BLOCK) {
                assert!(block.iter().all(|&b| b == block[0]), "a block is never split");
            }
            let ones = data.chunks(BLOCK).filter(|b| b[0] == 1).count();
            torn |= ones > 0 && ones < 8;
        }
        assert!(torn, "some seed tears the write");
    }

    #[test]
    fn eio_enospc_and_bit_flips() {
        let d = SimDisk::new(3, DiskFaults { capacity: 10, ..DiskFaults::none() });
        let f = d.open(&p("/a"), true, true, true).unwrap();
        f.write_at(b"0123456789", 0).unwrap();
        assert_eq!(f.write_at(b"x", 10).unwrap_err().raw_os_error(), Some(28));
        let d = SimDisk::new(3, DiskFaults { eio: 1.0, ..DiskFaults::none() });
        let f = d.open(&p("/a"), true, true, true).unwrap();
        assert_eq!(f.write_at(b"x", 0).unwrap_err().raw_os_error(), Some(5));
        assert_eq!(f.size().unwrap(), 0, "a failed write changes nothing");
        let d = SimDisk::new(3, DiskFaults { bit_flip: 1.0, ..DiskFaults::none() });
        let f = d.open(&p("/a"), true, true, true).unwrap();
        f.write_at(&[0; 16], 0).unwrap();
        let mut buf = [0u8; 16];
        f.read_at(&mut buf, 0).unwrap();
        assert_eq!(buf.iter().map(|b| b.count_ones()).sum::<u32>(), 1);
    }
}
