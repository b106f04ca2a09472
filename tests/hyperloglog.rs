//! HyperLogLog commands through the real binary with four shards: stored bytes identical to
//! redis-server 7.0.15's (tests/fixtures), cross-shard PFCOUNT/PFMERGE, errors and corruption.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::Server;
use redis::{Commands, Connection, Value};

const FIXTURES: &str = include_str!("fixtures/hll-redis-7.0.15.tsv");

fn fx(name: &str) -> &'static str {
    FIXTURES
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix('\t')))
        .unwrap_or_else(|| panic!("fixture {name}"))
}

fn fx_bytes(name: &str) -> Vec<u8> {
    let hex = fx(name).strip_prefix("hex:").expect("hex fixture");
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

fn fx_int(name: &str) -> i64 {
    fx(name).parse().unwrap()
}

fn q(c: &mut Connection, parts: &[&[u8]]) -> Result<Value, String> {
    let mut cmd = redis::cmd(std::str::from_utf8(parts[0]).unwrap());
    for p in &parts[1..] {
        cmd.arg(*p);
    }
    cmd.query::<Value>(c).map_err(|e| e.to_string())
}

fn pfadd(c: &mut Connection, key: &str, items: &[String]) -> i64 {
    let mut cmd = redis::cmd("PFADD");
    cmd.arg(key);
    for i in items {
        cmd.arg(i);
    }
    cmd.query(c).unwrap()
}

fn elems(prefix: &str, n: usize, start: usize) -> Vec<String> {
    (start..start + n).map(|i| format!("{prefix}{i}")).collect()
}

fn raw(c: &mut Connection, key: &str) -> Vec<u8> {
    c.get(key).unwrap()
}

fn start() -> Server {
    Server::start(&["--proactor_threads", "4"])
}

#[test]
fn stored_bytes_match_redis() {
    let s = start();
    let mut c = s.client();
    assert_eq!(pfadd(&mut c, "empty", &[]), 1);
    assert_eq!(raw(&mut c, "empty"), fx_bytes("get empty"));
    assert_eq!(q(&mut c, &[b"PFCOUNT", b"empty"]).unwrap(), Value::Int(0));
    assert_eq!(raw(&mut c, "empty"), fx_bytes("get empty after count"));

    assert_eq!(pfadd(&mut c, "abc", &elems("", 0, 0)), 1);
    assert_eq!(pfadd(&mut c, "abc", &["a".into(), "b".into(), "c".into()]), 1);
    assert_eq!(raw(&mut c, "abc"), fx_bytes("get abc"));
    assert_eq!(q(&mut c, &[b"PFDEBUG", b"DECODE", b"abc"]).unwrap(), Value::BulkString(fx_bytes("decode abc")));
    assert_eq!(q(&mut c, &[b"PFCOUNT", b"abc"]).unwrap(), Value::Int(fx_int("pfcount abc")));
    assert_eq!(raw(&mut c, "abc"), fx_bytes("get abc after count"));
    assert_eq!(pfadd(&mut c, "abc", &["a".into(), "b".into(), "c".into()]), 0);
    assert_eq!(pfadd(&mut c, "abc", &["".into()]), 1);
    assert_eq!(raw(&mut c, "abc"), fx_bytes("get abc empty string"));

    for chunk in (0..5000).step_by(100) {
        pfadd(&mut c, "d5000", &elems("e", 100, chunk));
    }
    assert_eq!(q(&mut c, &[b"PFDEBUG", b"ENCODING", b"d5000"]).unwrap(), Value::SimpleString("dense".into()));
    assert_eq!(raw(&mut c, "d5000"), fx_bytes("get d5000"));
    assert_eq!(q(&mut c, &[b"PFCOUNT", b"d5000"]).unwrap(), Value::Int(fx_int("pfcount d5000")));
    assert_eq!(raw(&mut c, "d5000"), fx_bytes("get d5000 after count"));

    // Cross-shard merges (m1, m2, msp, mde land on different shards of four).
    pfadd(&mut c, "m1", &elems("e", 30, 0));
    pfadd(&mut c, "m2", &elems("e", 30, 20));
    assert_eq!(q(&mut c, &[b"PFMERGE", b"msp", b"m1", b"m2"]).unwrap(), Value::Okay);
    assert_eq!(raw(&mut c, "msp"), fx_bytes("get msp"));
    assert_eq!(q(&mut c, &[b"PFCOUNT", b"m1", b"m2"]).unwrap(), Value::Int(fx_int("pfcount m1 m2")));
    assert_eq!(
        q(&mut c, &[b"PFCOUNT", b"m1", b"m2", b"d5000", b"nosuch"]).unwrap(),
        Value::Int(fx_int("pfcount m1 m2 d5000"))
    );
    assert_eq!(q(&mut c, &[b"PFMERGE", b"mde", b"m1", b"d5000"]).unwrap(), Value::Okay);
    assert_eq!(raw(&mut c, "mde"), fx_bytes("get mde"));
    pfadd(&mut c, "mexist", &["zz".into()]);
    assert_eq!(q(&mut c, &[b"PFMERGE", b"mexist", b"m1"]).unwrap(), Value::Okay);
    assert_eq!(raw(&mut c, "mexist"), fx_bytes("get mexist"));
    assert_eq!(q(&mut c, &[b"PFMERGE", b"mnone"]).unwrap(), Value::Okay);
    assert_eq!(raw(&mut c, "mnone"), fx_bytes("get mnone"));

    // hll-sparse-max-bytes is a live CONFIG parameter.
    let _: () = redis::cmd("CONFIG").arg("SET").arg("hll-sparse-max-bytes").arg("60").query(&mut c).unwrap();
    pfadd(&mut c, "p60", &elems("e", 10, 0));
    assert_eq!(raw(&mut c, "p60"), fx_bytes("get p60 10"));
    pfadd(&mut c, "p60", &elems("e", 30, 10));
    assert_eq!(raw(&mut c, "p60"), fx_bytes("get p60 40"));
    let got: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("hll-sparse-max-bytes").query(&mut c).unwrap();
    assert_eq!(got, vec!["hll-sparse-max-bytes".to_string(), "60".to_string()]);
    let _: () = redis::cmd("CONFIG").arg("SET").arg("hll-sparse-max-bytes").arg("3000").query(&mut c).unwrap();

    // A crafted sparse value written with SET is read, counted and extended like Redis does.
    let mut sp = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80".to_vec();
    let mut idx = 0;
    for v in 1..=32u8 {
        for len in [1u8, 4] {
            sp.push(0x80 | ((v - 1) << 2) | (len - 1));
            idx += len as usize;
        }
    }
    let rest = 16384 - idx - 1;
    sp.extend_from_slice(&[0x40 | (rest >> 8) as u8, (rest & 0xff) as u8]);
    let _: () = c.set("craft-sparse", &sp).unwrap();
    assert_eq!(q(&mut c, &[b"PFCOUNT", b"craft-sparse"]).unwrap(), Value::Int(fx_int("pfcount craft-sparse")));
    assert_eq!(pfadd(&mut c, "craft-sparse", &elems("e", 40, 0)), 1);
    assert_eq!(raw(&mut c, "craft-sparse"), fx_bytes("get craft-sparse"));
}

#[test]
fn redis_test_suite_cases() {
    let s = start();
    let mut c = s.client();
    assert_eq!(pfadd(&mut c, "hll", &[]), 1);
    let n: i64 = c.exists("hll").unwrap();
    assert_eq!(n, 1);
    assert_eq!(pfadd(&mut c, "hll", &["a".into(), "b".into(), "c".into()]), 1);
    assert_eq!(pfadd(&mut c, "hll", &["a".into(), "b".into(), "c".into()]), 0);
    let _: () = c.del("hll").unwrap();
    pfadd(&mut c, "hll", &elems("", 5, 1));
    assert_eq!(q(&mut c, &[b"PFCOUNT", b"hll"]).unwrap(), Value::Int(5));
    pfadd(&mut c, "hll", &["6", "7", "8", "8", "9", "10"].map(String::from));
    assert_eq!(q(&mut c, &[b"PFCOUNT", b"hll"]).unwrap(), Value::Int(10));

    // Cache invalidation is visible in the header's last byte.
    let _: () = c.del("hll").unwrap();
    pfadd(&mut c, "hll", &["a", "b", "c"].map(String::from));
    q(&mut c, &[b"PFCOUNT", b"hll"]).unwrap();
    let last: Vec<u8> = c.getrange("hll", 15, 15).unwrap();
    assert_eq!(last, vec![0]);
    pfadd(&mut c, "hll", &["a", "b", "c"].map(String::from));
    let last: Vec<u8> = c.getrange("hll", 15, 15).unwrap();
    assert_eq!(last, vec![0]);
    pfadd(&mut c, "hll", &["1", "2", "3"].map(String::from));
    let last: Vec<u8> = c.getrange("hll", 15, 15).unwrap();
    assert_eq!(last, vec![0x80]);

    // Corruption.
    let wrongtype_hll = "Key is not a valid HyperLogLog string value.";
    let _: () = c.append("hll", "hello").unwrap();
    let e = q(&mut c, &[b"PFCOUNT", b"hll"]).unwrap_err();
    assert!(e.contains("INVALIDOBJ") && e.contains("Corrupted HLL object detected"), "{e}");
    for (off, bytes) in [(0, &b"0123"[..]), (4, b"x"), (4, b"\x00")] {
        let _: () = c.del("hll").unwrap();
        pfadd(&mut c, "hll", &["a", "b", "c"].map(String::from));
        let _: () = redis::cmd("SETRANGE").arg("hll").arg(off).arg(bytes).query(&mut c).unwrap();
        let e = q(&mut c, &[b"PFCOUNT", b"hll"]).unwrap_err();
        assert!(e.contains("WRONGTYPE") && e.contains(wrongtype_hll), "{e}");
    }

    // Type checking, including a non-HLL destination of PFMERGE.
    let _: () = c.set("foo", "bar").unwrap();
    let _: () = c.set("int", 12345).unwrap();
    for cmd in [
        &[&b"PFADD"[..], b"foo", b"1"][..],
        &[b"PFCOUNT", b"foo"],
        &[b"PFMERGE", b"bar", b"foo"],
        &[b"PFMERGE", b"foo", b"bar"],
    ] {
        let e = q(&mut c, cmd).unwrap_err();
        assert!(e.contains(wrongtype_hll), "{e}");
    }
    assert!(q(&mut c, &[b"PFCOUNT", b"int"]).unwrap_err().contains(wrongtype_hll));
    let n: i64 = c.exists("bar").unwrap();
    assert_eq!(n, 0);
    let _: () = c.lpush("list", "a").unwrap();
    let e = q(&mut c, &[b"PFADD", b"list", b"a"]).unwrap_err();
    assert!(e.contains("WRONGTYPE") && e.contains("Operation against a key holding the wrong kind of value"), "{e}");

    // PFMERGE across shards gives the union.
    let _: () = c.del("hll").unwrap();
    pfadd(&mut c, "hll1", &["a", "b", "c"].map(String::from));
    pfadd(&mut c, "hll2", &["b", "c", "d"].map(String::from));
    pfadd(&mut c, "hll3", &["c", "d", "e"].map(String::from));
    assert_eq!(q(&mut c, &[b"PFMERGE", b"hll", b"hll1", b"hll2", b"hll3"]).unwrap(), Value::Okay);
    assert_eq!(q(&mut c, &[b"PFCOUNT", b"hll"]).unwrap(), Value::Int(5));
    assert_eq!(q(&mut c, &[b"PFCOUNT", b"hll1", b"hll2", b"hll3"]).unwrap(), Value::Int(5));

    // PFDEBUG.
    match q(&mut c, &[b"PFDEBUG", b"GETREG", b"hll1"]).unwrap() {
        Value::Array(v) => assert_eq!(v.len(), 16384),
        other => panic!("{other:?}"),
    }
    assert!(q(&mut c, &[b"PFDEBUG", b"GETREG", b"nosuch"]).unwrap_err().contains("The specified key does not exist"));
    assert!(q(&mut c, &[b"PFDEBUG", b"NOPE", b"hll2"]).unwrap_err().contains("Unknown PFDEBUG subcommand 'NOPE'"));
    assert!(q(&mut c, &[b"PFDEBUG", b"GETREG"]).unwrap_err().contains("wrong number of arguments for 'pfdebug'"));
}

#[test]
fn sparse_and_dense_agree_and_promotion() {
    let s = start();
    let mut c = s.client();
    for x in 0..40 {
        let _: () = redis::cmd("DEL").arg("hll1").arg("hll2").query(&mut c).unwrap();
        let items = elems(&format!("r{x}-"), (x * 7) % 100, 0);
        pfadd(&mut c, "hll2", &[]);
        assert_eq!(q(&mut c, &[b"PFDEBUG", b"TODENSE", b"hll2"]).unwrap(), Value::Int(1));
        pfadd(&mut c, "hll1", &items);
        pfadd(&mut c, "hll2", &items);
        assert_eq!(q(&mut c, &[b"PFDEBUG", b"ENCODING", b"hll1"]).unwrap(), Value::SimpleString("sparse".into()));
        assert_eq!(q(&mut c, &[b"PFDEBUG", b"ENCODING", b"hll2"]).unwrap(), Value::SimpleString("dense".into()));
        assert_eq!(q(&mut c, &[b"PFCOUNT", b"hll1"]).unwrap(), q(&mut c, &[b"PFCOUNT", b"hll2"]).unwrap());
    }
    // Growth: sparse below 1000 elements, dense past 10000, error within 5%.
    let mut n = 0;
    while n < 12000 {
        pfadd(&mut c, "grow", &elems("g", 400, n));
        n += 400;
        let card: i64 = redis::cmd("PFCOUNT").arg("grow").query(&mut c).unwrap();
        assert!(((card - n as i64).abs() as f64) < card as f64 * 0.05, "{card} vs {n}");
        let enc = q(&mut c, &[b"PFDEBUG", b"ENCODING", b"grow"]).unwrap();
        if n < 1000 {
            assert_eq!(enc, Value::SimpleString("sparse".into()));
        } else if n > 10000 {
            assert_eq!(enc, Value::SimpleString("dense".into()));
        }
    }
    // The TTL survives PFADD and PFMERGE into the key.
    let _: () = c.expire("grow", 1000).unwrap();
    pfadd(&mut c, "grow", &elems("h", 100, 0));
    assert_eq!(q(&mut c, &[b"PFMERGE", b"grow", b"hll1"]).unwrap(), Value::Okay);
    let ttl: i64 = c.ttl("grow").unwrap();
    assert!(ttl > 900, "{ttl}");
}

#[test]
fn cross_shard_merge_inside_multi_and_fuzzed_values() {
    let s = start();
    let mut c = s.client();
    let keys: Vec<String> = (0..8).map(|i| format!("src{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        pfadd(&mut c, k, &elems("x", 200, i * 100));
    }
    let mut pipe = redis::pipe();
    pipe.atomic().cmd("PFMERGE").arg("dst").arg(&keys).cmd("PFCOUNT").arg("dst").cmd("PFCOUNT").arg(&keys);
    let (ok, a, b): (String, i64, i64) = pipe.query(&mut c).unwrap();
    assert_eq!(ok, "OK");
    assert_eq!(a, b);
    assert!((a - 900).abs() < 45, "{a}");

    // Random corruption never crashes the server (Redis's fuzzing test, smaller).
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..100 {
        let _: () = c.del("fz").unwrap();
        let n = (rand() % 3000) as usize;
        pfadd(&mut c, "fz", &elems("f", n, (rand() % 1000) as usize));
        for _ in 0..5 {
            let len: usize = c.strlen("fz").unwrap();
            let pos = (rand() as usize) % len;
            let byte = [(rand() & 0xff) as u8];
            let _: () = redis::cmd("SETRANGE").arg("fz").arg(pos).arg(&byte[..]).query(&mut c).unwrap();
            if rand() % 2 == 0 {
                break;
            }
        }
        let _ = q(&mut c, &[b"PFCOUNT", b"fz"]);
        let _ = q(&mut c, &[b"PFADD", b"fz", b"more"]);
        let _ = q(&mut c, &[b"PFMERGE", b"fz2", b"fz"]);
    }
    assert_eq!(q(&mut c, &[b"PING"]).unwrap(), Value::SimpleString("PONG".into()));
}
