//! SimDisk's crash semantics checked against turmoil's file-system model (`unstable-fs`),
//! written independently by other people: the snapshot protocol's file operations (create a
//! temp file, write, fsync, rename over the snapshot, fsync the directory) run on both, the power
//! fails after each step, and what survives must be the same. Torn writes and random faults are
//! off on both sides: this compares what each model makes durable, step by step.

use crate::disk::{DiskFaults, SimDisk};
use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const DIR: &str = "/db";
const SNAPSHOT: &str = "/db/dump.rdb";
const TEMP: &str = "/db/.dump.rdb.tmp-1";

/// One file-system call of a save.
#[derive(Clone, Copy, Debug)]
enum Op {
    CreateTemp,
    /// Writes one of the new file's two halves.
    WriteTemp(usize),
    SyncTemp,
    RenameOverSnapshot,
    SyncDir,
    RemoveTemp,
}

const NEW: [&[u8]; 2] = [b"REDIS0010 new snapshot, ", b"second half"];
const OLD: &[u8] = b"REDIS0010 the previous snapshot";

/// What survives a crash: every name in the directory with its contents.
type Survivors = BTreeMap<String, Vec<u8>>;

fn name(p: &Path) -> String {
    p.file_name().and_then(|f| f.to_str()).expect("utf-8 names").to_string()
}

fn offset(half: usize) -> u64 {
    NEW[..half].iter().map(|h| h.len() as u64).sum()
}

fn on_simdisk(ops: &[Op]) -> Survivors {
    let d = SimDisk::new(7, DiskFaults::none());
    let (dir, snapshot, temp) = (Path::new(DIR), Path::new(SNAPSHOT), Path::new(TEMP));
    let f = d.open(snapshot, true, true, true).unwrap();
    f.write_at(OLD, 0).unwrap();
    f.sync_data().unwrap();
    d.sync_dir(dir).unwrap();
    for op in ops {
        match *op {
            Op::CreateTemp => drop(d.open(temp, true, true, true).unwrap()),
            Op::WriteTemp(h) => d.open(temp, true, false, false).unwrap().write_at(NEW[h], offset(h)).unwrap(),
            Op::SyncTemp => d.open(temp, true, false, false).unwrap().sync_data().unwrap(),
            Op::RenameOverSnapshot => d.rename(temp, snapshot).unwrap(),
            Op::SyncDir => d.sync_dir(dir).unwrap(),
            Op::RemoveTemp => d.remove(temp).unwrap(),
        }
    }
    d.power_fail();
    d.list_dir(dir).into_iter().map(|p| (name(&p), d.contents(&p).unwrap())).collect()
}

fn on_turmoil(ops: &[Op]) -> Survivors {
    use turmoil::fs::shim::std::fs::{create_dir, read, read_dir, remove_file, rename, sync_dir, OpenOptions};
    let ops = ops.to_vec();
    let crashed = Arc::new(Mutex::new(false));
    let seen: Arc<Mutex<Option<Survivors>>> = Arc::default();
    let mut sim = turmoil::Builder::new().build();
    let (host_crashed, host_seen) = (crashed.clone(), seen.clone());
    sim.host("db", move || {
        let (ops, crashed, seen) = (ops.clone(), host_crashed.clone(), host_seen.clone());
        async move {
            let open = |p: &str, create: bool| OpenOptions::new().read(true).write(true).create(create).open(p);
            if *crashed.lock().unwrap() {
                // After the restart: read what survived.
                let mut out = Survivors::new();
                for e in read_dir(DIR)? {
                    let p: PathBuf = e?.path();
                    out.insert(name(&p), read(&p)?);
                }
                *seen.lock().unwrap() = Some(out);
            } else {
                create_dir(DIR)?;
                sync_dir("/")?;
                let f = open(SNAPSHOT, true)?;
                f.write_all_at(OLD, 0)?;
                f.sync_all()?;
                sync_dir(DIR)?;
                for op in &ops {
                    match *op {
                        Op::CreateTemp => drop(open(TEMP, true)?),
                        Op::WriteTemp(h) => open(TEMP, false)?.write_all_at(NEW[h], offset(h))?,
                        Op::SyncTemp => open(TEMP, false)?.sync_data()?,
                        Op::RenameOverSnapshot => rename(TEMP, SNAPSHOT)?,
                        Op::SyncDir => sync_dir(DIR)?,
                        Op::RemoveTemp => remove_file(TEMP)?,
                    }
                }
                // Stay up until the power fails.
                std::future::pending::<()>().await;
            }
            Ok(())
        }
    });
    sim.step().unwrap();
    sim.crash("db");
    *crashed.lock().unwrap() = true;
    sim.bounce("db");
    while seen.lock().unwrap().is_none() {
        sim.step().unwrap();
    }
    let out = seen.lock().unwrap().take().unwrap();
    out
}

/// Every prefix of `ops` (the power fails after each step), on both models.
fn crash_after_each_step(ops: &[Op]) -> Vec<Survivors> {
    (0..=ops.len())
        .map(|k| {
            let (sim, tur) = (on_simdisk(&ops[..k]), on_turmoil(&ops[..k]));
            assert_eq!(sim, tur, "SimDisk and turmoil disagree after {:?}", &ops[..k]);
            sim
        })
        .collect()
}

fn only_snapshot(contents: &[u8]) -> Survivors {
    Survivors::from([("dump.rdb".to_string(), contents.to_vec())])
}

#[test]
fn the_save_protocol_survives_the_same_way_on_both_models() {
    use Op::*;
    let save = [CreateTemp, WriteTemp(0), WriteTemp(1), SyncTemp, RenameOverSnapshot, SyncDir];
    let after = crash_after_each_step(&save);
    // Before the directory fsync the previous snapshot is what a restart finds; after it, the
    // whole new one. No temp file ever survives.
    let new = [NEW[0], NEW[1]].concat();
    for (k, survivors) in after.iter().enumerate() {
        let expected = if k == save.len() { only_snapshot(&new) } else { only_snapshot(OLD) };
        assert_eq!(survivors, &expected, "crash after {:?}", &save[..k]);
    }
}

#[test]
fn skipping_the_directory_fsync_loses_the_new_snapshot_on_both_models() {
    use Op::*;
    let after = crash_after_each_step(&[CreateTemp, WriteTemp(0), WriteTemp(1), SyncTemp, RenameOverSnapshot]);
    assert_eq!(after.last().unwrap(), &only_snapshot(OLD), "a rename is not durable without the directory fsync");
}

#[test]
fn durable_names_and_unsynced_data_agree_on_both_models() {
    use Op::*;
    // The temp file's name made durable before its data: it survives empty, or with only the
    // synced half. A removal not yet synced is undone by the crash.
    crash_after_each_step(&[CreateTemp, SyncDir, WriteTemp(0), SyncTemp, WriteTemp(1), RemoveTemp]);
    let after = crash_after_each_step(&[CreateTemp, SyncDir, WriteTemp(0), SyncTemp, WriteTemp(1)]);
    let temp = |s: &Survivors| s.get(".dump.rdb.tmp-1").cloned();
    assert_eq!(temp(&after[2]), Some(Vec::new()), "a durable name with no synced data is empty");
    assert_eq!(temp(&after[5]), Some(NEW[0].to_vec()), "only the synced half survives");
}
