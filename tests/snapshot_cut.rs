//! A BGSAVE is one point-in-time cut: one client's sequential writes during the save (overwrites,
//! deletes, new keys, multi-shard MSETs, in several dbs) show up in the file as an exact prefix
//! of the sequence, whatever shard each key lives on.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;
use common::*;
use mayfly::storage::rdb::{Decoder, Limits, Record};
use mayfly::types::Value;
use redis::cmd;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const KEYS: usize = 250_000;

type State = BTreeMap<(usize, String), String>;

/// The i-th write after BGSAVE, as (db, command) and its effect on the model.
fn op(i: usize) -> (usize, Vec<String>) {
    let db = if i % 5 == 4 { 3 } else { 0 };
    let args = match i % 4 {
        0 => vec!["SET".into(), format!("k{i}"), format!("new{i}")],
        1 => vec!["DEL".into(), format!("k{i}")],
        2 => vec!["SET".into(), format!("fresh{i}"), format!("v{i}")],
        _ => vec!["MSET".into(), format!("m{i}a"), format!("{i}"), format!("m{i}b"), format!("{i}")],
    };
    (db, args)
}

fn apply(state: &mut State, i: usize) {
    let (db, a) = op(i);
    match a[0].as_str() {
        "SET" => {
            state.insert((db, a[1].clone()), a[2].clone());
        }
        "DEL" => {
            state.remove(&(db, a[1].clone()));
        }
        _ => {
            state.insert((db, a[1].clone()), a[2].clone());
            state.insert((db, a[3].clone()), a[4].clone());
        }
    }
}

fn initial() -> State {
    let mut s = State::new();
    for i in 0..KEYS {
        s.insert((if i % 5 == 4 { 3 } else { 0 }, format!("k{i}")), format!("old{i}-{}", "x".repeat(i % 300)));
    }
    s
}

fn read_file(path: &std::path::Path) -> State {
    let data = std::fs::read(path).unwrap();
    let mut d = Decoder::new(&data, Limits::default()).unwrap();
    let (mut db, mut out) = (0, State::new());
    loop {
        match d.next_record().unwrap() {
            Record::SelectDb(n) => db = n,
            Record::Entry { key, value: Some(Value::Str(v)), .. } => {
                let v = String::from_utf8(v.to_bytes().to_vec()).unwrap();
                assert!(out.insert((db, String::from_utf8(key.to_vec()).unwrap()), v).is_none(), "a key twice");
            }
            Record::Eof => return out,
            _ => {}
        }
    }
}

#[test]
fn writes_during_bgsave_appear_as_an_exact_prefix() {
    let dir = std::env::temp_dir().join(format!("mayfly-snapshot-cut-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let d = format!("--dir={}", dir.display());
    let s = Server::start(&[&d, "--dbfilename=dump.rdb", "--proactor_threads=4"]);
    let mut c = s.client();
    let state = initial();
    for db in [0usize, 3] {
        let _: () = cmd("SELECT").arg(db).query(&mut c).unwrap();
        let mut p = redis::pipe();
        for ((_, k), v) in state.iter().filter(|((d, _), _)| *d == db) {
            p.cmd("SET").arg(k).arg(v).ignore();
        }
        let _: () = p.query(&mut c).unwrap();
    }
    assert_eq!(cmd("BGSAVE").query::<String>(&mut c).unwrap(), "Background saving started");
    // Sequential writes until the save is over (each completes before the next is sent).
    let mut issued = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut db = usize::MAX;
    loop {
        let (want, args) = op(issued);
        if want != db {
            let _: () = cmd("SELECT").arg(want).query(&mut c).unwrap();
            db = want;
        }
        let mut command = cmd(&args[0]);
        args[1..].iter().for_each(|a| {
            command.arg(a);
        });
        let _: redis::Value = command.query(&mut c).unwrap();
        issued += 1;
        if issued % 10 == 0 {
            let info: String = cmd("INFO").arg("persistence").query(&mut c).unwrap();
            if info.contains("rdb_bgsave_in_progress:0") {
                break;
            }
            assert!(Instant::now() < deadline, "BGSAVE did not finish");
        }
    }
    let saved = read_file(&dir.join("dump.rdb"));
    // Find the prefix the file holds: the state after exactly `cut` of the writes.
    let mut candidate = initial();
    let mut found = None;
    for cut in 0..=issued {
        if candidate == saved {
            found = Some(cut);
            break;
        }
        if cut < issued {
            apply(&mut candidate, cut);
        }
    }
    let cut = found.unwrap_or_else(|| panic!("the file matches no prefix of the {issued} writes"));
    assert!(issued - cut >= 20, "too few writes ({}) ran while the save did to test anything", issued - cut);
    println!("the cut fell after {cut} of {issued} writes");
    let _ = std::fs::remove_dir_all(&dir);
}
