//! The production stream: plain TCP, or TCP under TLS as the server side (an accepted client of
//! `--tls`) or the client side (a replica's link with `--tls_replication`). One enum rather than
//! a boxed trait object: the plain case costs a match per poll and nothing else.
#![allow(clippy::disallowed_types)] // this is the runtime: it owns the sockets

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub enum TokioStream {
    Plain(TcpStream),
    // Boxed: a TLS session is a few kilobytes, the plain variant a few words.
    Server(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    Client(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for TokioStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            TokioStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            TokioStream::Server(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            TokioStream::Client(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for TokioStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            TokioStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            TokioStream::Server(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            TokioStream::Client(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            TokioStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            TokioStream::Server(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            TokioStream::Client(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            TokioStream::Plain(s) => s.is_write_vectored(),
            TokioStream::Server(s) => s.is_write_vectored(),
            TokioStream::Client(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            TokioStream::Plain(s) => Pin::new(s).poll_flush(cx),
            TokioStream::Server(s) => Pin::new(s.as_mut()).poll_flush(cx),
            TokioStream::Client(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            TokioStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            TokioStream::Server(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            TokioStream::Client(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
