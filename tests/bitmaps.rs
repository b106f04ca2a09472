//! Bitmap commands through the real binary with four shards, so BITOP takes its cross-shard
//! (locked transaction) path.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::Server;
use redis::{Connection, Value};

fn q(c: &mut Connection, parts: &[&[u8]]) -> Result<Value, String> {
    let mut cmd = redis::cmd(std::str::from_utf8(parts[0]).unwrap());
    for p in &parts[1..] {
        cmd.arg(*p);
    }
    cmd.query::<Value>(c).map_err(|e| e.to_string())
}

fn qs(c: &mut Connection, parts: &[&str]) -> Result<Value, String> {
    let parts: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
    q(c, &parts)
}

fn bulk(b: &[u8]) -> Value {
    Value::BulkString(b.to_vec())
}

/// The shard owning `key` with four shards: its CRC16 (XMODEM) slot, modulo 4.
fn shard(key: &str) -> u16 {
    let mut crc: u16 = 0;
    for &b in key.as_bytes() {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    (crc & 16383) % 4
}

fn start() -> Server {
    Server::start(&["--proactor_threads", "4"])
}

#[test]
fn single_key_commands_over_tcp() {
    let s = start();
    let mut c = s.client();
    assert_eq!(qs(&mut c, &["SETBIT", "bm", "7", "1"]).unwrap(), Value::Int(0));
    assert_eq!(qs(&mut c, &["SETBIT", "bm", "7", "1"]).unwrap(), Value::Int(1));
    assert_eq!(qs(&mut c, &["GETBIT", "bm", "7"]).unwrap(), Value::Int(1));
    assert_eq!(qs(&mut c, &["GET", "bm"]).unwrap(), bulk(b"\x01"));
    assert!(qs(&mut c, &["SETBIT", "bm", "4294967296", "1"])
        .unwrap_err()
        .contains("bit offset is not an integer or out of range"));
    assert!(qs(&mut c, &["SETBIT", "bm", "0", "2"]).unwrap_err().contains("bit is not an integer or out of range"));
    assert_eq!(qs(&mut c, &["SET", "foo", "foobar"]).unwrap(), Value::Okay);
    assert_eq!(qs(&mut c, &["BITCOUNT", "foo"]).unwrap(), Value::Int(26));
    assert_eq!(qs(&mut c, &["BITCOUNT", "foo", "1", "1"]).unwrap(), Value::Int(6));
    assert_eq!(qs(&mut c, &["BITCOUNT", "foo", "5", "30", "BIT"]).unwrap(), Value::Int(17));
    assert!(qs(&mut c, &["BITCOUNT", "foo", "0"]).unwrap_err().contains("syntax error"));
    assert_eq!(q(&mut c, &[b"SET", b"p", b"\xff\xf0\x00"]).unwrap(), Value::Okay);
    assert_eq!(qs(&mut c, &["BITPOS", "p", "0"]).unwrap(), Value::Int(12));
    assert_eq!(qs(&mut c, &["BITPOS", "p", "1", "2"]).unwrap(), Value::Int(-1));
    assert_eq!(qs(&mut c, &["BITPOS", "nokey", "0"]).unwrap(), Value::Int(0));
    assert!(qs(&mut c, &["BITPOS", "p", "3"]).unwrap_err().contains("The bit argument must be 1 or 0."));
    assert_eq!(
        qs(&mut c, &["BITFIELD", "bf", "SET", "u8", "#0", "255", "INCRBY", "u8", "#0", "100", "GET", "u8", "#0"])
            .unwrap(),
        Value::Array(vec![Value::Int(0), Value::Int(99), Value::Int(99)])
    );
    assert_eq!(
        qs(&mut c, &["BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "200"]).unwrap(),
        Value::Array(vec![Value::Nil])
    );
    assert_eq!(qs(&mut c, &["BITFIELD_RO", "bf", "GET", "i8", "0"]).unwrap(), Value::Array(vec![Value::Int(99)]));
    assert!(qs(&mut c, &["BITFIELD_RO", "bf", "SET", "u8", "0", "1"])
        .unwrap_err()
        .contains("BITFIELD_RO only supports the GET subcommand"));
    assert!(qs(&mut c, &["BITFIELD", "bf", "GET", "u64", "0"]).unwrap_err().contains("Invalid bitfield type"));
    assert_eq!(qs(&mut c, &["LPUSH", "list", "x"]).unwrap(), Value::Int(1));
    for cmd in
        [&["SETBIT", "list", "0", "1"][..], &["GETBIT", "list", "0"], &["BITCOUNT", "list"], &["BITPOS", "list", "1"]]
    {
        assert!(qs(&mut c, cmd).unwrap_err().contains("WRONGTYPE"), "{cmd:?}");
    }
    // The table's entries, as COMMAND INFO shows them.
    let info = qs(&mut c, &["COMMAND", "INFO", "bitop"]).unwrap();
    let Value::Array(outer) = info else { panic!("{info:?}") };
    let Value::Array(entry) = &outer[0] else { panic!("{outer:?}") };
    assert_eq!(entry[1], Value::Int(-4));
    assert_eq!(entry[3], Value::Int(2));
    assert_eq!(entry[4], Value::Int(-1));
}

#[test]
fn bitop_across_shards() {
    let s = start();
    let mut c = s.client();
    let srcs: Vec<String> = (0..8).map(|i| format!("src{i}")).collect();
    let spread: std::collections::BTreeSet<u16> = srcs.iter().map(|k| shard(k)).collect();
    assert!(spread.len() > 1, "the sources should span shards");
    let mut vals: Vec<Vec<u8>> = Vec::new();
    for (i, k) in srcs.iter().enumerate() {
        let v: Vec<u8> = (0..=i).map(|j| (i * 37 + j * 11) as u8).collect();
        assert_eq!(q(&mut c, &[b"SET", k.as_bytes(), &v]).unwrap(), Value::Okay);
        vals.push(v);
    }
    let combine = |f: fn(u8, u8) -> u8| {
        let mut out = vec![0u8; vals.len()];
        out[..vals[0].len()].copy_from_slice(&vals[0]);
        for v in &vals[1..] {
            for (j, o) in out.iter_mut().enumerate() {
                *o = f(*o, v.get(j).copied().unwrap_or(0));
            }
        }
        out
    };
    for (op, f) in [("AND", (|a, b| a & b) as fn(u8, u8) -> u8), ("OR", |a, b| a | b), ("XOR", |a, b| a ^ b)] {
        for d in 0..4 {
            let dst = format!("dest-{op}-{d}");
            let mut cmd: Vec<&[u8]> = vec![b"BITOP", op.as_bytes(), dst.as_bytes()];
            cmd.extend(srcs.iter().map(|k| k.as_bytes()));
            cmd.push(b"missing-source");
            assert_eq!(q(&mut c, &cmd).unwrap(), Value::Int(8), "{op}");
            assert_eq!(qs(&mut c, &["GET", &dst]).unwrap(), bulk(&combine(f)), "{op}");
        }
    }
    assert_eq!(qs(&mut c, &["BITOP", "NOT", "notdst", "src7"]).unwrap(), Value::Int(8));
    let not: Vec<u8> = vals[7].iter().map(|b| !b).collect();
    assert_eq!(qs(&mut c, &["GET", "notdst"]).unwrap(), bulk(&not));
    assert!(qs(&mut c, &["BITOP", "NOT", "notdst", "src1", "src2"])
        .unwrap_err()
        .contains("BITOP NOT must be called with a single source key."));
    // An empty result deletes the destination, wherever it lives.
    assert_eq!(qs(&mut c, &["SET", "gone", "x", "EX", "100"]).unwrap(), Value::Okay);
    assert_eq!(qs(&mut c, &["BITOP", "OR", "gone", "nope1", "nope2", "nope3"]).unwrap(), Value::Int(0));
    assert_eq!(qs(&mut c, &["EXISTS", "gone"]).unwrap(), Value::Int(0));
    // A source of another type fails the whole command and writes nothing.
    assert_eq!(qs(&mut c, &["SADD", "aset", "m"]).unwrap(), Value::Int(1));
    assert!(qs(&mut c, &["BITOP", "AND", "wt", "src1", "aset", "src2"]).unwrap_err().contains("WRONGTYPE"));
    assert_eq!(qs(&mut c, &["EXISTS", "wt"]).unwrap(), Value::Int(0));
    // Inside MULTI/EXEC too.
    assert_eq!(qs(&mut c, &["MULTI"]).unwrap(), Value::Okay);
    qs(&mut c, &["BITOP", "OR", "txdst", "src3", "src5", "src6"]).unwrap();
    qs(&mut c, &["BITCOUNT", "txdst"]).unwrap();
    let Value::Array(r) = qs(&mut c, &["EXEC"]).unwrap() else { panic!() };
    assert_eq!(r[0], Value::Int(7));
    let or: u32 = (0..7)
        .map(|j| [3, 5, 6].iter().map(|&i| vals[i].get(j).copied().unwrap_or(0)).fold(0, |a, b| a | b).count_ones())
        .sum();
    assert_eq!(r[1], Value::Int(or as i64));
}

#[test]
fn cross_shard_bitop_sees_whole_msets() {
    // Writers keep `a` and `b` complementary through MSET; a BITOP that read them at different
    // moments would see an AND that is not all zeros.
    let s = start();
    let mut c = s.client();
    let a = "left";
    let b = ["right", "other", "side", "b", "bb", "bbb"].into_iter().find(|k| shard(k) != shard(a)).unwrap();
    assert_eq!(q(&mut c, &[b"MSET", a.as_bytes(), b"\x00\x00", b.as_bytes(), b"\xff\xff"]).unwrap(), Value::Okay);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let mut wc = s.client();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n: u16 = w;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let x = n.to_be_bytes();
                    let y = (!n).to_be_bytes();
                    q(&mut wc, &[b"MSET", a.as_bytes(), &x, b.as_bytes(), &y]).unwrap();
                    n = n.wrapping_add(7);
                }
            })
        })
        .collect();
    for _ in 0..300 {
        assert_eq!(qs(&mut c, &["BITOP", "AND", "and-out", a, b]).unwrap(), Value::Int(2));
        assert_eq!(qs(&mut c, &["GET", "and-out"]).unwrap(), bulk(b"\x00\x00"));
        assert_eq!(qs(&mut c, &["BITOP", "XOR", "xor-out", b, a]).unwrap(), Value::Int(2));
        assert_eq!(qs(&mut c, &["BITCOUNT", "xor-out"]).unwrap(), Value::Int(16));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
}
