//! RDB interoperability with the real Redis 7.0: a file redis-server wrote (tests/fixtures,
//! made by redis7_every_type.gen.sh) decodes to exactly what was stored, and a file Mayfly
//! encodes passes redis-check-rdb and loads into redis-server with identical contents. The
//! second half is skipped, with a note, when redis-server/redis-check-rdb are not installed.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;
use common::redis_peer::installed;

use bytes::Bytes;
use mayfly::storage::rdb::{Decoder, Encoder, Limits, Record};
use mayfly::types::{HashValue, ListValue, SetValue, StrValue, Value, ZSet};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A value's contents independent of encoding: type, then its elements (sorted unless a list).
type Canon = (String, Vec<Vec<u8>>);

fn canon(v: &Value) -> Canon {
    let mut items: Vec<Vec<u8>> = match v {
        Value::Str(s) => vec![s.to_bytes().to_vec()],
        Value::List(l) => return ("list".into(), l.iter().map(|b| b.to_vec()).collect()),
        Value::Set(s) => s.members().iter().map(|b| b.to_vec()).collect(),
        Value::Hash(h) => h.entries().iter().map(|(f, v)| [f, &b"="[..], v].concat()).collect(),
        Value::ZSet(z) => z.range(0, z.len()).iter().map(|(m, s)| [&m[..], b"=", &s.to_le_bytes()].concat()).collect(),
    };
    items.sort();
    (v.type_name().into(), items)
}

/// Every key of a file: (db, key) -> (contents, deadline, encoding).
fn read_file(data: &[u8]) -> BTreeMap<(usize, Vec<u8>), (Canon, u64, &'static str)> {
    let mut d = Decoder::new(data, Limits::default()).unwrap();
    let mut db = 0;
    let mut out = BTreeMap::new();
    loop {
        match d.next_record().unwrap() {
            Record::SelectDb(n) => db = n,
            Record::Entry { key, value: Some(v), expire_at } => {
                out.insert((db, key.to_vec()), (canon(&v), expire_at, v.encoding()));
            }
            Record::Eof => return out,
            _ => {}
        }
    }
}

fn s(b: &str) -> Vec<u8> {
    b.as_bytes().to_vec()
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

#[test]
fn a_file_redis_7_wrote_decodes_identically() {
    let data = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/redis7_every_type.rdb")).unwrap();
    let keys = read_file(&data);
    assert_eq!(keys.len(), 20);
    let get = |db: usize, k: &str| keys.get(&(db, s(k))).unwrap_or_else(|| panic!("{k} missing"));
    let string = |db, k: &str, v: &[u8]| {
        assert_eq!(get(db, k).0, ("string".to_string(), vec![v.to_vec()]), "{k}");
    };
    string(0, "int:small", b"12");
    string(0, "int:neg", b"-12345");
    string(0, "int:big", b"1234567890123");
    string(0, "str:short", b"hello");
    string(0, "str:long", &b"abcdefgh".repeat(40));
    string(0, "str:ttl", b"withttl");
    assert_eq!(get(0, "str:ttl").1, 4102444800000);
    assert_eq!(get(0, "int:small").2, "int");
    assert_eq!(get(0, "list:small").0 .1, ["a", "b", "1", "2", "-3", "300000", "c"].map(s).to_vec());
    let big: Vec<Vec<u8>> = (1..=300).flat_map(|i| [s(&format!("item-{i}")), s(&i.to_string())]).collect();
    assert_eq!(get(0, "list:big").0 .1, big);
    let set = |k: &str, members: Vec<Vec<u8>>, enc: &str| {
        assert_eq!(get(0, k).0, ("set".to_string(), sorted(members)), "{k}");
        assert_eq!(get(0, k).2, enc, "{k}");
    };
    set("set:ints", ["1", "2", "3", "-7", "100000", "5000000000"].map(s).to_vec(), "intset");
    set("set:strs", ["a", "b", "c"].map(s).to_vec(), "listpack");
    set("set:bigints", (1..=200).map(|i: i32| s(&i.to_string())).collect(), "intset");
    set("set:mixed", ["a", "1", "2"].map(s).to_vec(), "listpack");
    let hash = |k: &str, pairs: Vec<(String, String)>, enc: &str| {
        let want = sorted(pairs.iter().map(|(f, v)| s(&format!("{f}={v}"))).collect());
        assert_eq!(get(0, k).0, ("hash".to_string(), want), "{k}");
        assert_eq!(get(0, k).2, enc, "{k}");
    };
    let p = |f: &str, v: &str| (f.to_string(), v.to_string());
    hash("hash:small", vec![p("f1", "v1"), p("f2", "2"), p("f3", "-500")], "listpack");
    hash("hash:big", (1..=200).map(|i| p(&format!("field{i}"), &format!("value{i}"))).collect(), "hashtable");
    hash("hash:longval", vec![p("f", &"x".repeat(100))], "hashtable");
    let zset = |k: &str, items: Vec<(&str, f64)>, enc: &str| {
        let want = sorted(items.iter().map(|(m, sc)| [m.as_bytes(), b"=", &sc.to_le_bytes()].concat()).collect());
        assert_eq!(get(0, k).0, ("zset".to_string(), want), "{k}");
        assert_eq!(get(0, k).2, enc, "{k}");
    };
    zset("zset:small", vec![("a", 1.0), ("b", 2.5), ("c", -3.0), ("d", 1e100)], "listpack");
    let names: Vec<String> = (1..=200).map(|i| format!("m{i}")).collect();
    zset("zset:big", names.iter().enumerate().map(|(i, m)| (&m[..], i as f64 + 1.25)).collect(), "skiplist");
    assert!(get(0, "zset:big").1 > 1_700_000_000_000);
    zset("zset:inf", vec![("pinf", f64::INFINITY), ("ninf", f64::NEG_INFINITY), ("zero", 0.0)], "listpack");
    string(3, "db3:key", b"db3value");
    assert_eq!(get(3, "db3:list").0 .1, vec![s("x")]);
}

/// One of every type and encoding Mayfly keeps.
pub fn every_type() -> Vec<(usize, &'static str, Value, u64)> {
    let lim = Limits::default();
    let mut v = Vec::new();
    let st = |b: &[u8]| Value::Str(StrValue::from_bytes(b));
    v.push((0, "str:int", st(b"12"), 0));
    v.push((0, "str:int64", st(b"-1234567890123"), 0));
    v.push((0, "str:short", st(b"hello"), 0));
    v.push((0, "str:long", st(&b"compress me ".repeat(50)), 0));
    v.push((0, "str:binary", st(&(0..=255u8).collect::<Vec<_>>()), 0));
    v.push((0, "str:empty", st(b""), 4102444800123));
    v.push((0, "list:small", Value::list(ListValue::from_items(["a", "1", "-70000", ""].map(Bytes::from), -2)), 0));
    let long: Vec<Bytes> = (0..3000).map(|i| Bytes::from(format!("element-{i}"))).collect();
    v.push((0, "list:big", Value::list(ListValue::from_items(long, -2)), 4102444800000));
    let mut ints = SetValue::create(b"1", 3, lim.set);
    for i in [1i64, -5, 70000, 5_000_000_000] {
        ints.add(i.to_string().as_bytes(), lim.set);
    }
    v.push((0, "set:ints", Value::set(ints), 0));
    let mut pack = SetValue::create(b"a", 3, lim.set);
    for m in ["a", "b", "7"] {
        pack.add(m.as_bytes(), lim.set);
    }
    v.push((0, "set:pack", Value::set(pack), 0));
    let mut table = SetValue::create(b"m", 1000, lim.set);
    for i in 0..1000 {
        table.add(format!("member{i}").as_bytes(), lim.set);
    }
    v.push((0, "set:table", Value::set(table), 0));
    let mut h = HashValue::new();
    for (f, x) in [("f", "v"), ("n", "12"), ("neg", "-4000000000")] {
        h.set(f.as_bytes(), x.as_bytes(), lim.hash);
    }
    v.push((0, "hash:pack", Value::Hash(h), 0));
    let mut h = HashValue::new();
    for i in 0..500 {
        h.set(format!("field{i}").as_bytes(), format!("value{i}").as_bytes(), lim.hash);
    }
    v.push((0, "hash:table", Value::Hash(h), 0));
    let mut z = ZSet::new();
    for (m, sc) in [("a", 1.0), ("b", 2.5), ("c", -3.0), ("big", 1e100), ("tiny", 0.1), ("inf", f64::INFINITY)] {
        z.insert(m.as_bytes(), sc, lim.zset);
    }
    v.push((0, "zset:pack", Value::zset(z), 0));
    let mut z = ZSet::new();
    for i in 0..400 {
        z.insert(format!("m{i}").as_bytes(), i as f64 / 3.0, lim.zset);
    }
    v.push((0, "zset:big", Value::zset(z), 0));
    v.push((5, "other:db", st(b"in db 5"), 0));
    v
}

fn encode(keys: &[(usize, &'static str, Value, u64)]) -> Vec<u8> {
    let aux = [("redis-ver", "7.0.15".to_string()), ("redis-bits", "64".to_string())];
    let mut e = Encoder::new(-2, &aux);
    let mut out = Vec::new();
    let mut dbs: Vec<usize> = keys.iter().map(|k| k.0).collect();
    dbs.dedup();
    for db in dbs {
        let in_db: Vec<_> = keys.iter().filter(|k| k.0 == db).collect();
        e.select_db(db, in_db.len(), in_db.iter().filter(|k| k.3 != 0).count());
        for (_, k, v, exp) in in_db {
            e.entry(k.as_bytes(), v, *exp);
        }
        out.extend(e.take());
    }
    out.extend(e.finish());
    out
}

/// What redis-server holds under `key`, in the same canonical form.
fn from_redis(c: &mut redis::Connection, key: &str) -> Canon {
    let t: String = redis::cmd("TYPE").arg(key).query(c).unwrap();
    let mut items: Vec<Vec<u8>> = match t.as_str() {
        "string" => vec![redis::cmd("GET").arg(key).query(c).unwrap()],
        "list" => return (t, redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(c).unwrap()),
        "set" => redis::cmd("SMEMBERS").arg(key).query(c).unwrap(),
        "hash" => {
            let pairs: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL").arg(key).query(c).unwrap();
            pairs.into_iter().map(|(f, v)| [f, b"=".to_vec(), v].concat()).collect()
        }
        "zset" => {
            let pairs: Vec<(Vec<u8>, String)> =
                redis::cmd("ZRANGE").arg(key).arg(0).arg(-1).arg("WITHSCORES").query(c).unwrap();
            let mut out: Vec<Vec<u8>> = pairs
                .into_iter()
                .map(|(m, sc)| [m, b"=".to_vec(), sc.parse::<f64>().unwrap().to_le_bytes().to_vec()].concat())
                .collect();
            out.sort();
            return (t, out);
        }
        other => panic!("unexpected type {other}"),
    };
    items.sort();
    (t, items)
}

#[test]
fn a_file_mayfly_wrote_passes_redis_check_rdb_and_loads_into_redis_server() {
    if !installed("redis-server") || !installed("redis-check-rdb") {
        println!("NOTE: redis-server/redis-check-rdb not installed; interop check skipped");
        return;
    }
    let keys = every_type();
    let data = encode(&keys);
    // Mayfly reads back what it wrote.
    let back = read_file(&data);
    for (db, k, v, exp) in &keys {
        let (c, e, _) = &back[&(*db, k.as_bytes().to_vec())];
        assert_eq!((c, e), (&canon(v), exp), "{k}");
    }
    let dir = std::env::temp_dir().join(format!("mayfly-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mayfly.rdb");
    std::fs::write(&file, &data).unwrap();
    let check = Command::new("redis-check-rdb").arg(&file).output().unwrap();
    let report = String::from_utf8_lossy(&check.stdout).into_owned() + &String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success() && report.contains("RDB looks OK"), "redis-check-rdb refused the file:\n{report}");

    let port = common::free_port();
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(&dir)
        .args(["--dbfilename", "mayfly.rdb"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut conn = loop {
        if let Ok(mut c) = client.get_connection() {
            if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                break c;
            }
        }
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut result = Ok(());
    for (db, k, v, exp) in &keys {
        redis::cmd("SELECT").arg(*db).query::<()>(&mut conn).unwrap();
        let got = from_redis(&mut conn, k);
        let pexp: i64 = redis::cmd("PEXPIRETIME").arg(*k).query(&mut conn).unwrap();
        let want_exp = if *exp == 0 { -1 } else { *exp as i64 };
        if got != canon(v) || pexp != want_exp {
            result = Err(format!("{k}: redis-server holds {got:?} (deadline {pexp})"));
            break;
        }
    }
    redis::cmd("SELECT").arg(0).query::<()>(&mut conn).unwrap();
    let n: usize = redis::cmd("DBSIZE").query(&mut conn).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result.unwrap();
    assert_eq!(n, keys.iter().filter(|k| k.0 == 0).count());
}
