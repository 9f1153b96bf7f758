//! A server connection that counts the bytes it moves into the server's metrics, so that
//! every read and write (head, body, interim answers, a tunnel's bytes) is counted in one
//! place instead of at each call. The HTTP/1.1 path borrows one for an exchange; a WebSocket
//! tunnel owns one (see `upstream_client`).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Where a [`Counted`] stream's bytes are added up (a server's metrics).
pub(crate) trait Tally {
    /// `n` bytes came from the server.
    fn received(&self, n: usize);
    /// `n` bytes went to the server.
    fn sent(&self, n: usize);
}

impl<T: Tally + ?Sized> Tally for &T {
    fn received(&self, n: usize) {
        (**self).received(n);
    }

    fn sent(&self, n: usize) {
        (**self).sent(n);
    }
}

impl<T: Tally + ?Sized> Tally for Arc<T> {
    fn received(&self, n: usize) {
        (**self).received(n);
    }

    fn sent(&self, n: usize) {
        (**self).sent(n);
    }
}

/// `stream` (owned, or `&mut` borrowed for one exchange) counting into `counters` (a
/// reference, or an `Arc` a pooled connection keeps).
#[derive(Debug)]
pub(crate) struct Counted<S, C> {
    stream: S,
    counters: C,
}

impl<S, C: Tally> Counted<S, C> {
    pub(crate) fn new(stream: S, counters: C) -> Self {
        Counted { stream, counters }
    }

    fn count_sent(&self, polled: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = polled {
            self.counters.sent(n);
        }
        polled
    }
}

impl<S: AsyncRead + Unpin, C: Tally + Unpin> AsyncRead for Counted<S, C> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            this.counters.received(buf.filled().len() - before);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin, C: Tally + Unpin> AsyncWrite for Counted<S, C> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.count_sent(polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.count_sent(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;
    use crate::metrics::ServerCounters;

    #[tokio::test]
    async fn counts_both_ways() {
        let (mut near, mut far) = tokio::io::duplex(64);
        let counters = ServerCounters::default();
        let mut counted = Counted::new(&mut near, &counters);
        counted
            .write_all(b"GET / HTTP/1.1\r\n\r\n")
            .await
            .expect("write");
        far.write_all(b"HTTP/1.1 200 OK\r\n").await.expect("write");
        let mut answer = [0u8; 17];
        counted.read_exact(&mut answer).await.expect("read");
        assert_eq!(counters.bytes_moved(), (17, 18));
    }
}
