//! A tiny RESP2 client over the simulated network: one request at a time, replies parsed by hand.

use bytes::Bytes;
#[cfg(madsim)]
use bytes::{Buf, BytesMut};
use std::fmt;
use std::io;
#[cfg(madsim)]
use std::net::SocketAddr;
#[cfg(madsim)]
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A RESP2 reply.
#[derive(Clone, PartialEq, Eq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    /// `None` is the nil bulk string.
    Bulk(Option<Bytes>),
    /// `None` is the nil array.
    Array(Option<Vec<Reply>>),
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Simple("OK".into())
    }
    pub fn nil() -> Reply {
        Reply::Bulk(None)
    }
    pub fn bulk(b: &Bytes) -> Reply {
        Reply::Bulk(Some(b.clone()))
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Simple(s) => write!(f, "+{s}"),
            Reply::Error(s) => write!(f, "-{s}"),
            Reply::Int(i) => write!(f, ":{i}"),
            Reply::Bulk(None) => write!(f, "nil"),
            Reply::Bulk(Some(b)) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            Reply::Array(None) => write!(f, "*nil"),
            Reply::Array(Some(v)) => f.debug_list().entries(v).finish(),
        }
    }
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Finds the end of a line starting at `at`; returns the line and the index after its CRLF.
fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let pos = buf[at..].windows(2).position(|w| w == b"\r\n")?;
    Some((&buf[at..at + pos], at + pos + 2))
}

fn int(b: &[u8]) -> io::Result<i64> {
    std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()).ok_or_else(|| bad("bad integer"))
}

/// Parses one reply from `buf[at..]`: `Ok(None)` if incomplete, else the reply and its end.
pub fn parse(buf: &[u8], at: usize) -> io::Result<Option<(Reply, usize)>> {
    if at >= buf.len() {
        return Ok(None);
    }
    let Some((l, next)) = line(buf, at + 1) else { return Ok(None) };
    let text = || String::from_utf8_lossy(l).into_owned();
    Ok(Some(match buf[at] {
        b'+' => (Reply::Simple(text()), next),
        b'-' => (Reply::Error(text()), next),
        b':' => (Reply::Int(int(l)?), next),
        b'$' => {
            let n = int(l)?;
            if n < 0 {
                return Ok(Some((Reply::Bulk(None), next)));
            }
            let end = next + n as usize;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            (Reply::Bulk(Some(Bytes::copy_from_slice(&buf[next..end]))), end + 2)
        }
        b'*' => {
            let n = int(l)?;
            if n < 0 {
                return Ok(Some((Reply::Array(None), next)));
            }
            let mut items = Vec::with_capacity(n as usize);
            let mut pos = next;
            for _ in 0..n {
                let Some((r, p)) = parse(buf, pos)? else { return Ok(None) };
                items.push(r);
                pos = p;
            }
            (Reply::Array(Some(items)), pos)
        }
        _ => return Err(bad("unknown reply type")),
    }))
}

pub fn encode(args: &[Bytes], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(madsim)]
pub struct Client {
    stream: madsim::net::TcpStream,
    rbuf: BytesMut,
}

#[cfg(madsim)]
impl Client {
    pub async fn connect(addr: SocketAddr) -> io::Result<Client> {
        let stream = madsim::net::TcpStream::connect(addr).await?;
        Ok(Client { stream, rbuf: BytesMut::with_capacity(4096) })
    }

    /// Sends one command and waits for its reply.
    pub async fn call(&mut self, args: &[Bytes]) -> io::Result<Reply> {
        let mut out = Vec::new();
        encode(args, &mut out);
        self.stream.write_all(&out).await?;
        self.stream.flush().await?;
        self.next_reply().await
    }

    /// Waits for the next reply or pushed message (a subscriber's).
    pub async fn next_reply(&mut self) -> io::Result<Reply> {
        loop {
            if let Some((reply, end)) = parse(&self.rbuf, 0)? {
                self.rbuf.advance(end);
                return Ok(reply);
            }
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_and_partial_replies() {
        let buf = b"*3\r\n$3\r\nfoo\r\n$-1\r\n:7\r\n+OK\r\n";
        let (r, end) = parse(buf, 0).unwrap().unwrap();
        assert_eq!(r, Reply::Array(Some(vec![Reply::bulk(&Bytes::from("foo")), Reply::nil(), Reply::Int(7)])));
        assert_eq!(parse(buf, end).unwrap().unwrap().0, Reply::ok());
        for cut in 0..end {
            assert!(parse(&buf[..cut], 0).unwrap().is_none(), "cut at {cut}");
        }
    }
}
