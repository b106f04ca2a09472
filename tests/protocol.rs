//! The wire protocol against the real server: pipelining, inline commands, malformed input.
// Tests drive a real process from real threads: the simulator's determinism rules don't apply.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;
use common::*;
use std::io::{Read, Write};

#[test]
fn pipelined_requests_all_answered_in_order() {
    let s = Server::start(&["--proactor_threads", "2"]);
    let mut c = s.client();
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
    }
    for i in 0..500 {
        pipe.cmd("GET").arg(format!("key:{i}"));
    }
    let got: Vec<i64> = pipe.query(&mut c).unwrap();
    assert_eq!(got, (0..500).collect::<Vec<_>>());
}

#[test]
fn one_write_carries_many_replies() {
    let s = Server::start(&[]);
    let mut raw = s.raw();
    raw.write_all(b"PING\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n").unwrap();
    let mut buf = vec![0u8; 22];
    raw.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n+PONG\r\n$2\r\nhi\r\n");
}

#[test]
fn inline_commands_with_quotes() {
    let s = Server::start(&[]);
    let mut raw = s.raw();
    raw.write_all(b"SET greeting \"hello world\"\r\nGET greeting\r\n").unwrap();
    let mut buf = vec![0u8; 5 + 18];
    raw.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+OK\r\n$11\r\nhello world\r\n");
}

#[test]
fn protocol_errors_answer_then_close() {
    let s = Server::start(&[]);
    let cases: &[(&[u8], &str)] = &[
        (b"*1\r\n+PING\r\n", "-ERR Protocol error: expected '$', got '+'\r\n"),
        (b"*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$999999999999\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
        (b"SET \"unbalanced\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"),
    ];
    for (input, expected) in cases {
        let mut raw = s.raw();
        let out = raw_exchange(&mut raw, input);
        assert_eq!(String::from_utf8_lossy(&out), *expected);
    }
    // The server is unharmed.
    let mut c = s.client();
    assert_eq!(redis::cmd("PING").query::<String>(&mut c).unwrap(), "PONG");
}

#[test]
fn a_claimed_huge_bulk_is_not_allocated_up_front() {
    let s = Server::start(&["--proto-max-bulk-len", "1mb"]);
    let mut raw = s.raw();
    let out = raw_exchange(&mut raw, b"*2\r\n$3\r\nGET\r\n$2000000\r\nxx");
    assert_eq!(String::from_utf8_lossy(&out), "-ERR Protocol error: invalid bulk length\r\n");
    // Below the limit, the server waits for the bytes rather than reserving them.
    let mut raw = s.raw();
    raw.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$900000\r\n").unwrap();
    raw.write_all(&vec![b'v'; 900_000]).unwrap();
    raw.write_all(b"\r\n").unwrap();
    let mut buf = [0u8; 5];
    raw.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+OK\r\n");
}

#[test]
fn unknown_commands_and_arity_errors_match_redis() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let err = redis::cmd("NOSUCH").arg("a").arg("b").query::<String>(&mut c).unwrap_err();
    assert!(err.to_string().contains("unknown command 'NOSUCH', with args beginning with: 'a' 'b'"), "{err}");
    let err = redis::cmd("GET").query::<String>(&mut c).unwrap_err();
    assert!(err.to_string().contains("wrong number of arguments for 'get' command"), "{err}");
}
