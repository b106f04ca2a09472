//! A blocking RESP2 client whose every answer says whether the command definitely happened.
//!
//! The classification is the point of this module: a checker is only as honest as the outcomes it
//! is fed. A command is `Fail` only when it provably never reached the server as a whole (the
//! connection or its PING handshake failed, or the write of the request failed part-way, so the
//! server cannot have parsed it) or when the server answered with an error. Anything that goes
//! wrong after the whole request was handed to the kernel (timeout, EOF, reset, a reply we cannot
//! parse) is `Info`: the command may or may not have taken effect, and the connection is dropped
//! so that a late reply can never be mistaken for the answer to a later command.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // real-process test tooling: real sockets and clocks

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A RESP2 reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
}

impl Resp {
    /// The bulk string as UTF-8 (`None` for nil); an error for any other reply.
    pub fn bulk_str(&self) -> Result<Option<String>, String> {
        match self {
            Resp::Bulk(None) => Ok(None),
            Resp::Bulk(Some(b)) => String::from_utf8(b.clone()).map(Some).map_err(|e| e.to_string()),
            other => Err(format!("expected a bulk string, got {other:?}")),
        }
    }

    /// The integer; an error for any other reply.
    pub fn int(&self) -> Result<i64, String> {
        match self {
            Resp::Int(n) => Ok(*n),
            other => Err(format!("expected an integer, got {other:?}")),
        }
    }

    /// The elements of a non-nil array; an error for any other reply.
    pub fn array(&self) -> Result<&[Resp], String> {
        match self {
            Resp::Array(Some(v)) => Ok(v),
            other => Err(format!("expected an array, got {other:?}")),
        }
    }
}

/// How one request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered (possibly with an error reply).
    Reply(Resp),
    /// Definitely not executed: the request was never completely sent.
    Fail(String),
    /// Unknown: the request was sent but no usable answer came back.
    Info(String),
}

/// Whether an error reply says the server does not know the command.
pub fn is_unknown_command(msg: &str) -> bool {
    msg.starts_with("ERR unknown command") || msg.starts_with("ERR unknown subcommand")
}

/// Encodes a command as a RESP array of bulk strings.
pub fn encode(args: &[String]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Largest bulk string or array we accept; anything bigger is a framing error, not data.
const MAX_LEN: i64 = 64 << 20;

/// Reads one reply, strictly: an unknown type byte, a missing CRLF or a bad length is an error.
pub fn read_reply(r: &mut impl BufRead) -> std::io::Result<Resp> {
    read_reply_depth(r, 0)
}

fn bad(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}

fn read_line(r: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = Vec::new();
    let n = r.take(1 << 20).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    if !line.ends_with(b"\r\n") {
        return Err(if line.ends_with(b"\n") {
            bad("line not terminated by CRLF".into())
        } else {
            std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed mid-line")
        });
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|e| bad(e.to_string()))
}

fn read_reply_depth(r: &mut impl BufRead, depth: usize) -> std::io::Result<Resp> {
    if depth > 32 {
        return Err(bad("reply nested too deeply".into()));
    }
    let line = read_line(r)?;
    let (kind, rest) = line.split_at(line.len().min(1));
    let int = |s: &str| s.parse::<i64>().map_err(|_| bad(format!("bad integer {s:?}")));
    match kind {
        "+" => Ok(Resp::Simple(rest.to_string())),
        "-" => Ok(Resp::Error(rest.to_string())),
        ":" => Ok(Resp::Int(int(rest)?)),
        "$" => {
            let n = int(rest)?;
            if n == -1 {
                return Ok(Resp::Bulk(None));
            }
            if !(0..=MAX_LEN).contains(&n) {
                return Err(bad(format!("bad bulk length {n}")));
            }
            let mut buf = vec![0u8; n as usize + 2];
            r.read_exact(&mut buf)?;
            if !buf.ends_with(b"\r\n") {
                return Err(bad("bulk string not terminated by CRLF".into()));
            }
            buf.truncate(n as usize);
            Ok(Resp::Bulk(Some(buf)))
        }
        "*" => {
            let n = int(rest)?;
            if n == -1 {
                return Ok(Resp::Array(None));
            }
            if !(0..=MAX_LEN).contains(&n) {
                return Err(bad(format!("bad array length {n}")));
            }
            let mut items = Vec::with_capacity((n as usize).min(1024));
            for _ in 0..n {
                items.push(read_reply_depth(r, depth + 1)?);
            }
            Ok(Resp::Array(Some(items)))
        }
        _ => Err(bad(format!("unknown reply type in {line:?}"))),
    }
}

/// A connection that reconnects lazily and classifies every request's outcome.
pub struct Client {
    addr: SocketAddr,
    timeout: Duration,
    conn: Option<BufReader<TcpStream>>,
}

impl Client {
    /// A client for `addr`; nothing is connected until the first request.
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        Client { addr, timeout, conn: None }
    }

    /// Drops the connection (the next request reconnects).
    pub fn disconnect(&mut self) {
        self.conn = None;
    }

    /// Connects and proves the path works with a PING, so that a dead server, a paused one or a
    /// partitioned proxy is found *before* any request is sent.
    fn connect(&mut self) -> Result<(), String> {
        let stream = TcpStream::connect_timeout(&self.addr, self.timeout).map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(self.timeout)).map_err(|e| e.to_string())?;
        stream.set_write_timeout(Some(self.timeout)).map_err(|e| e.to_string())?;
        let mut reader = BufReader::new(stream);
        reader.get_mut().write_all(&encode(&["PING".to_string()])).map_err(|e| format!("handshake: {e}"))?;
        match read_reply(&mut reader) {
            Ok(Resp::Simple(s)) if s == "PONG" => {
                self.conn = Some(reader);
                Ok(())
            }
            Ok(other) => Err(format!("handshake: unexpected reply {other:?}")),
            Err(e) => Err(format!("handshake: {e}")),
        }
    }

    /// Sends one command and waits for its reply.
    pub fn call(&mut self, args: &[String]) -> Outcome {
        let mut out = self.pipeline(std::slice::from_ref(&args.to_vec()));
        match out.pop() {
            Some(o) => o,
            None => Outcome::Fail("empty pipeline".into()),
        }
    }

    /// Sends several commands in one write and reads one reply per command. If the request never
    /// went out completely, every command fails; once it went out, a missing reply makes that
    /// command and every later one `Info` (the server may have executed them).
    pub fn pipeline(&mut self, cmds: &[Vec<String>]) -> Vec<Outcome> {
        if self.conn.is_none() {
            if let Err(e) = self.connect() {
                return cmds.iter().map(|_| Outcome::Fail(e.clone())).collect();
            }
        }
        let conn = self.conn.as_mut().expect("connected above");
        let mut bytes = Vec::new();
        for c in cmds {
            bytes.extend_from_slice(&encode(c));
        }
        if let Err(e) = conn.get_mut().write_all(&bytes) {
            // write_all failed, so the last bytes of the request never reached the kernel: the
            // server cannot have a complete copy of the final command. Earlier commands in a
            // pipeline might have gone out whole, so only a single command is a clean failure.
            self.conn = None;
            let msg = format!("write: {e}");
            return if cmds.len() == 1 {
                vec![Outcome::Fail(msg)]
            } else {
                cmds.iter().map(|_| Outcome::Info(msg.clone())).collect()
            };
        }
        let mut out = Vec::with_capacity(cmds.len());
        for _ in cmds {
            match read_reply(conn) {
                Ok(r) => out.push(Outcome::Reply(r)),
                Err(e) => {
                    let msg = match e.kind() {
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => "timeout".to_string(),
                        _ => format!("read: {e}"),
                    };
                    while out.len() < cmds.len() {
                        out.push(Outcome::Info(msg.clone()));
                    }
                    self.conn = None;
                    return out;
                }
            }
        }
        out
    }
}

/// Builds an argument vector from anything string-like.
pub fn args<S: ToString>(parts: &[S]) -> Vec<String> {
    parts.iter().map(ToString::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn parse(s: &str) -> std::io::Result<Resp> {
        read_reply(&mut Cursor::new(s.as_bytes().to_vec()))
    }

    #[test]
    fn parses_strictly() {
        assert_eq!(parse("+OK\r\n").unwrap(), Resp::Simple("OK".into()));
        assert_eq!(parse(":-3\r\n").unwrap(), Resp::Int(-3));
        assert_eq!(parse("$-1\r\n").unwrap(), Resp::Bulk(None));
        assert_eq!(parse("$3\r\na\r\n\r\n").unwrap(), Resp::Bulk(Some(b"a\r\n".to_vec())));
        assert_eq!(
            parse("*2\r\n$1\r\nx\r\n*-1\r\n").unwrap(),
            Resp::Array(Some(vec![Resp::Bulk(Some(b"x".to_vec())), Resp::Array(None)]))
        );
        assert!(parse("$3\r\nabcd\r\n").is_err());
        assert!(parse(":1\n").is_err());
        assert!(parse("?x\r\n").is_err());
        assert!(parse(":x\r\n").is_err());
        assert_eq!(parse("$5\r\nab").unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
        assert_eq!(parse("").unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn refused_is_fail() {
        // Bind and drop a listener to find a port that refuses connections.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut c = Client::new(SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_millis(200));
        assert!(matches!(c.call(&args(&["GET", "k"])), Outcome::Fail(_)));
    }

    #[test]
    fn eof_after_send_is_info_and_silence_is_info() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            // First connection: answer the PING, read the request, then close without answering.
            let (s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut w = s;
            let mut line = String::new();
            for _ in 0..3 {
                r.read_line(&mut line).unwrap();
            }
            w.write_all(b"+PONG\r\n").unwrap();
            for _ in 0..5 {
                r.read_line(&mut line).unwrap();
            }
            drop(w);
            drop(r);
            // Second: answer the PING, then say nothing.
            let (s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut w = s;
            for _ in 0..3 {
                r.read_line(&mut line).unwrap();
            }
            w.write_all(b"+PONG\r\n").unwrap();
            std::thread::sleep(Duration::from_millis(500));
        });
        let mut c = Client::new(addr, Duration::from_millis(200));
        assert!(matches!(c.call(&args(&["GET", "k"])), Outcome::Info(_)));
        match c.call(&args(&["GET", "k"])) {
            Outcome::Info(m) => assert_eq!(m, "timeout"),
            other => panic!("{other:?}"),
        }
        server.join().unwrap();
    }
}
