//! A stream that counts the replication bytes crossing it, for INFO's
//! `total_net_repl_input_bytes` (read from our primary) and `total_net_repl_output_bytes`
//! (written to our replicas).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub struct Counted<'a, S> {
    inner: S,
    /// Where bytes read are added, if they count.
    read: Option<&'a AtomicU64>,
    /// Where bytes written are added, if they count.
    written: Option<&'a AtomicU64>,
}

impl<'a, S> Counted<'a, S> {
    /// Counts what is read (a replica's link to its primary).
    pub fn reads(inner: S, into: &'a AtomicU64) -> Self {
        Counted { inner, read: Some(into), written: None }
    }

    /// Counts what is written (a primary's connection to one replica).
    pub fn writes(inner: S, into: &'a AtomicU64) -> Self {
        Counted { inner, read: None, written: Some(into) }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<'_, S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(total)) = (&polled, self.read) {
            total.fetch_add((buf.filled().len() - before) as u64, Ordering::Relaxed);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<'_, S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let (Poll::Ready(Ok(n)), Some(total)) = (&polled, self.written) {
            total.fetch_add(*n as u64, Ordering::Relaxed);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn counts_each_direction_it_is_asked_to() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let (a, mut b) = tokio::io::duplex(64);
            let (read, written) = (AtomicU64::new(0), AtomicU64::new(0));
            let mut reader = Counted::reads(a, &read);
            b.write_all(b"+FULLRESYNC x 0\r\n").await.unwrap();
            let mut got = [0u8; 17];
            reader.read_exact(&mut got).await.unwrap();
            reader.write_all(b"ack").await.unwrap();
            assert_eq!((read.load(Ordering::Relaxed), written.load(Ordering::Relaxed)), (17, 0));

            let mut writer = Counted::writes(reader.inner, &written);
            writer.write_all(b"*1\r\n$4\r\nPING\r\n").await.unwrap();
            let mut back = [0u8; 3 + 14];
            b.read_exact(&mut back).await.unwrap();
            writer.read_exact(&mut [0u8; 0]).await.unwrap();
            assert_eq!((read.load(Ordering::Relaxed), written.load(Ordering::Relaxed)), (17, 14));
        });
    }
}
