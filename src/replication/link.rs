//! The replica's side of the handshake with its primary, as Redis's replica does it:
//! PING, AUTH (with masterauth), REPLCONF listening-port, REPLCONF capa eof capa psync2, then
//! PSYNC with the history we have. Each step waits at most `repl-timeout` for its reply.

use crate::runtime::{timeout, Rt};
use bytes::BytesMut;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The longest reply line accepted during the handshake.
const MAX_LINE: usize = 64 * 1024;

/// A socket to the primary with what has been read but not consumed yet.
pub struct LinkIo<S> {
    pub stream: S,
    pub buf: BytesMut,
}

/// How the primary answered PSYNC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PsyncReply {
    /// A full sync follows: adopt this id and offset once the RDB is loaded.
    FullResync { replid: String, offset: u64 },
    /// The stream continues where we stopped; the primary's id may have changed (a failover).
    Continue { new_replid: Option<String> },
}

/// What the handshake needs to know about us.
pub struct Hello<'a> {
    pub listening_port: u16,
    /// `replica-announce-ip`: the address the primary lists us under instead of our socket's.
    pub announce_ip: Option<&'a str>,
    pub user: Option<&'a str>,
    pub password: Option<&'a str>,
    /// Our history: (replid, offset of the next byte wanted), or None for `PSYNC ? -1`.
    pub history: Option<(String, u64)>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> LinkIo<S> {
    pub fn new(stream: S) -> LinkIo<S> {
        LinkIo { stream, buf: BytesMut::with_capacity(16 * 1024) }
    }

    /// Sends one command as a RESP array.
    pub async fn send(&mut self, args: &[&str]) -> Result<(), String> {
        let argv: Vec<bytes::Bytes> = args.iter().map(|a| bytes::Bytes::copy_from_slice(a.as_bytes())).collect();
        let mut out = Vec::with_capacity(64);
        super::backlog::encode_command(&mut out, &argv);
        self.stream.write_all(&out).await.map_err(|e| format!("write to primary failed: {e}"))?;
        self.stream.flush().await.map_err(|e| format!("write to primary failed: {e}"))
    }

    /// Reads more bytes into `buf`; an error when the primary closed the link.
    pub async fn fill(&mut self) -> Result<usize, String> {
        self.buf.reserve(16 * 1024);
        match self.stream.read_buf(&mut self.buf).await {
            Ok(0) => Err("the primary closed the connection".into()),
            Ok(n) => Ok(n),
            Err(e) => Err(format!("read from primary failed: {e}")),
        }
    }

    /// Reads one reply line (without CRLF), skipping the empty keepalive lines a primary may
    /// send while it prepares an answer.
    pub async fn read_line<R: Rt>(&mut self, rt: &R, limit: Duration) -> Result<String, String> {
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(nl + 1);
                let line = line.strip_suffix(b"\n").unwrap_or(&line);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.is_empty() {
                    continue;
                }
                return Ok(String::from_utf8_lossy(line).into_owned());
            }
            if self.buf.len() > MAX_LINE {
                return Err("the primary sent an overlong reply line".into());
            }
            match timeout(rt, limit, self.fill()).await {
                None => return Err("timeout waiting for the primary's reply".into()),
                Some(r) => {
                    r?;
                }
            }
        }
    }

    /// Sends a command and returns its reply line.
    async fn ask<R: Rt>(&mut self, rt: &R, limit: Duration, args: &[&str]) -> Result<String, String> {
        self.send(args).await?;
        self.read_line(rt, limit).await
    }

    /// Runs the handshake up to and including PSYNC.
    pub async fn handshake<R: Rt>(&mut self, rt: &R, limit: Duration, hello: &Hello<'_>) -> Result<PsyncReply, String> {
        let pong = self.ask(rt, limit, &["PING"]).await?;
        // Like Redis: an authentication error here is fine, AUTH comes next.
        if pong.starts_with('-')
            && !pong.starts_with("-NOAUTH")
            && !pong.starts_with("-NOPERM")
            && !pong.starts_with("-ERR operation not permitted")
        {
            return Err(format!("error reply to PING from primary: '{pong}'"));
        }
        if let Some(pass) = hello.password {
            let reply = match hello.user {
                Some(user) => self.ask(rt, limit, &["AUTH", user, pass]).await?,
                None => self.ask(rt, limit, &["AUTH", pass]).await?,
            };
            if reply.starts_with('-') {
                return Err(format!("unable to AUTH to primary: {reply}"));
            }
        }
        let port = hello.listening_port.to_string();
        let reply = self.ask(rt, limit, &["REPLCONF", "listening-port", &port]).await?;
        if reply.starts_with('-') {
            tracing::info!("(non critical) primary does not understand REPLCONF listening-port: {reply}");
        }
        if let Some(ip) = hello.announce_ip {
            let reply = self.ask(rt, limit, &["REPLCONF", "ip-address", ip]).await?;
            if reply.starts_with('-') {
                tracing::info!("(non critical) primary does not understand REPLCONF ip-address: {reply}");
            }
        }
        let reply = self.ask(rt, limit, &["REPLCONF", "capa", "eof", "capa", "psync2"]).await?;
        if reply.starts_with('-') {
            tracing::info!("(non critical) primary does not understand REPLCONF capa: {reply}");
        }
        let (id, from) = match &hello.history {
            Some((id, from)) => (id.clone(), from.to_string()),
            None => ("?".to_string(), "-1".to_string()),
        };
        let reply = self.ask(rt, limit, &["PSYNC", &id, &from]).await?;
        parse_psync_reply(&reply)
    }
}

/// Reads the primary's answer to PSYNC.
pub fn parse_psync_reply(line: &str) -> Result<PsyncReply, String> {
    let mut words = line.split(' ');
    match words.next() {
        Some("+FULLRESYNC") => {
            let replid = words.next().filter(|id| id.len() == 40).ok_or("bad replication id in +FULLRESYNC")?;
            let offset = words.next().and_then(|o| o.parse::<u64>().ok()).ok_or("bad offset in +FULLRESYNC")?;
            Ok(PsyncReply::FullResync { replid: replid.to_string(), offset })
        }
        Some("+CONTINUE") => match words.next() {
            Some(id) if id.len() == 40 => Ok(PsyncReply::Continue { new_replid: Some(id.to_string()) }),
            Some("") | None => Ok(PsyncReply::Continue { new_replid: None }),
            Some(other) => Err(format!("bad replication id in +CONTINUE: '{other}'")),
        },
        _ => Err(format!("unexpected reply to PSYNC from primary: '{line}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psync_replies() {
        let id = "a".repeat(40);
        assert_eq!(
            parse_psync_reply(&format!("+FULLRESYNC {id} 1234")),
            Ok(PsyncReply::FullResync { replid: id.clone(), offset: 1234 })
        );
        assert_eq!(parse_psync_reply("+CONTINUE"), Ok(PsyncReply::Continue { new_replid: None }));
        assert_eq!(
            parse_psync_reply(&format!("+CONTINUE {id}")),
            Ok(PsyncReply::Continue { new_replid: Some(id.clone()) })
        );
        assert!(parse_psync_reply("+FULLRESYNC short 1").is_err());
        assert!(parse_psync_reply(&format!("+FULLRESYNC {id} x")).is_err());
        assert!(parse_psync_reply("-NOMASTERLINK Can't SYNC while not connected with my master").is_err());
    }
}
