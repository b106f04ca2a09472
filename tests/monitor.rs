//! MONITOR against the real binary: commands from connections on every shard thread, in each
//! connection's order, Redis's line format and redaction, and a slow monitor cut off.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::Server;
use redis::cmd;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::time::{Duration, Instant};

fn start_monitor(s: &Server) -> BufReader<std::net::TcpStream> {
    let mut m = s.raw();
    m.write_all(b"MONITOR\r\n").unwrap();
    let mut r = BufReader::new(m);
    let mut ok = String::new();
    r.read_line(&mut ok).unwrap();
    assert_eq!(ok, "+OK\r\n");
    r
}

/// The next line, skipping the CLIENT SETINFO redis-rs sends on connect.
fn next_line(r: &mut BufReader<std::net::TcpStream>) -> String {
    loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        assert!(l.ends_with("\r\n"), "{l:?}");
        if !l.contains("\"CLIENT\" \"SETINFO\"") {
            return l.trim_end().to_string();
        }
    }
}

/// `+1700000000.123456 [0 127.0.0.1:5000] "set" "k"` -> (addr, db, args part).
fn parse(line: &str) -> (String, String, String) {
    let rest = line.strip_prefix('+').expect(line);
    let (stamp, rest) = rest.split_once(' ').unwrap();
    let (secs, micros) = stamp.split_once('.').unwrap();
    assert!(secs.parse::<u64>().unwrap() > 1_600_000_000 && micros.len() == 6, "{line}");
    let inner = rest.strip_prefix('[').unwrap();
    let (who, args) = inner.split_once("] ").unwrap();
    let (db, addr) = who.split_once(' ').unwrap();
    (addr.to_string(), db.to_string(), args.to_string())
}

#[test]
fn monitor_sees_every_thread_in_connection_order() {
    let s = Server::start(&["--proactor_threads", "4"]);
    let mut mon = start_monitor(&s);
    const WRITERS: usize = 4;
    const EACH: usize = 150;
    let port = s.port;
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            std::thread::spawn(move || {
                let mut c =
                    redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
                // Keys spread over every shard; a pipeline exercises the batched path too.
                for n in 0..EACH {
                    if n % 10 == 0 {
                        let mut p = redis::pipe();
                        for j in 0..5 {
                            p.cmd("SET").arg(format!("w{w}:p{n}:{j}")).arg(format!("{n}.{j}")).ignore();
                        }
                        let _: () = p.query(&mut c).unwrap();
                    }
                    let _: () = cmd("SET").arg(format!("w{w}:{n}")).arg(n).query(&mut c).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let expected = WRITERS * (EACH + EACH / 10 * 5);
    // `w` is the writer and the rest its sequence: no line lost, none reordered.
    let mut per_conn: HashMap<String, Vec<String>> = HashMap::new();
    for _ in 0..expected {
        let (addr, db, args) = parse(&next_line(&mut mon));
        assert_eq!(db, "0");
        per_conn.entry(addr).or_default().push(args);
    }
    assert_eq!(per_conn.len(), WRITERS, "one address per writer");
    for lines in per_conn.values() {
        // Recover the writer's own sequence and check nothing was reordered.
        let w = lines[0].split('"').nth(3).unwrap().split(':').next().unwrap().to_string();
        let mut want = Vec::new();
        for n in 0..EACH {
            if n % 10 == 0 {
                for j in 0..5 {
                    want.push(format!("\"SET\" \"{w}:p{n}:{j}\" \"{n}.{j}\""));
                }
            }
            want.push(format!("\"SET\" \"{w}:{n}\" \"{n}\""));
        }
        assert_eq!(lines, &want);
    }
}

#[test]
fn monitor_format_redaction_and_transactions() {
    let s = Server::start(&["--proactor_threads", "2"]);
    let mut mon = start_monitor(&s);
    let mut c = s.client();
    let _: () = cmd("SET").arg("we\"ird\n").arg(b"\x00\xff\\").query(&mut c).unwrap();
    let _: Result<(), _> = cmd("AUTH").arg("not-real").query(&mut c);
    let _: Result<(), _> = cmd("AUTH").arg("user").arg("pass").query(&mut c);
    let _: Result<redis::Value, _> = cmd("HELLO").arg("2").arg("AUTH").arg("u").arg("p").query(&mut c);
    // Administrative commands are not shown.
    let _: redis::Value = cmd("CONFIG").arg("GET").arg("maxmemory").query(&mut c).unwrap();
    let _: () = cmd("SELECT").arg(3).query(&mut c).unwrap();
    let _: () = redis::pipe().atomic().cmd("SET").arg("t").arg("1").ignore().query(&mut c).unwrap();
    let _: () = cmd("SELECT").arg(0).query(&mut c).unwrap();
    let args: Vec<(String, String)> = (0..9)
        .map(|_| {
            let (_, db, a) = parse(&next_line(&mut mon));
            (db, a)
        })
        .collect();
    let a: Vec<&str> = args.iter().map(|(_, a)| a.as_str()).collect();
    assert_eq!(a[0], r#""SET" "we\"ird\n" "\x00\xff\\""#);
    assert_eq!(a[1], r#""AUTH" "(redacted)""#);
    assert_eq!(a[2], r#""AUTH" "(redacted)" "(redacted)""#);
    assert_eq!(a[3], r#""HELLO" "2" "AUTH" "(redacted)" "(redacted)""#);
    assert_eq!(a[4], r#""SELECT" "3""#);
    assert_eq!(args[4].0, "3", "the db after the command, as Redis 7.0");
    assert_eq!(a[5], r#""MULTI""#);
    assert_eq!(a[6], r#""SET" "t" "1""#);
    assert_eq!(a[7], r#""EXEC""#);
    assert_eq!(args[7].0, "3");
    assert_eq!(a[8], r#""SELECT" "0""#);

    // The monitor shows in CLIENT LIST with flag O; RESET leaves monitor mode.
    let list: String = cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    assert!(list.lines().any(|l| l.contains("flags=O ")), "{list}");
    mon.get_mut().write_all(b"RESET\r\n").unwrap();
    assert_eq!(next_line(&mut mon), "+RESET");
    let _: () = cmd("SET").arg("after").arg("reset").query(&mut c).unwrap();
    mon.get_mut().write_all(b"PING\r\n").unwrap();
    assert_eq!(next_line(&mut mon), "+PONG", "no monitor line after RESET");
}

#[test]
fn a_monitor_that_stops_reading_is_cut_off() {
    let s = Server::start(&["--proactor_threads", "2"]);
    let mut c = s.client();
    let _: () =
        cmd("CONFIG").arg("SET").arg("client-output-buffer-limit").arg("normal 256kb 0 0").query(&mut c).unwrap();
    let mon = start_monitor(&s);
    // 40 MB of monitor output, far more than socket buffers hold, while the monitor reads nothing.
    let value = "x".repeat(16 * 1024);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut cut_off = false;
    for i in 0..2500 {
        let _: () = cmd("SET").arg(format!("k{}", i % 50)).arg(&value).query(&mut c).unwrap();
        if i % 100 == 99 {
            let list: String = cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
            if !list.contains("flags=O") {
                cut_off = true;
                break;
            }
        }
        assert!(Instant::now() < deadline);
    }
    assert!(cut_off, "the monitor was never closed");
    // The monitor's socket ends after whatever was already in flight.
    let mut sock = mon.into_inner();
    sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut sink = Vec::new();
    assert!(sock.read_to_end(&mut sink).is_ok(), "the server closed the monitor");
    let ping: String = cmd("PING").query(&mut c).unwrap();
    assert_eq!(ping, "PONG");
}
