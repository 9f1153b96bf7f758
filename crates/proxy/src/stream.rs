//! The client's socket as hyper sees it, plain or TLS.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};

use crate::activity::Activity;
use crate::admission::Slot;
use crate::silence::Silence;

/// Reports reads to [`Activity`], fails writes that the client leaves unread for the send
/// timeout, and holds the connection's [`Slot`] (its places under the connection limits) for as long as the socket
/// lives, also after an upgrade to a WebSocket tunnel.
#[derive(Debug)]
pub(crate) struct ClientStream<S> {
    stream: S,
    /// Told of reads that may start a request head (and its 408 timer), for hyper's
    /// HTTP/1.1 connections: not on HTTP/2, where bytes may be pings or window updates of
    /// any stream, nor on this crate's own HTTP/1.1 path, which keeps its own timers.
    activity: Option<Arc<Activity>>,
    _permit: Slot,
    /// Armed while a write waits for the client to make room, and only then: fails the
    /// write after the send timeout.
    stall: Silence,
}

impl<S> ClientStream<S> {
    pub(crate) fn new(
        stream: S,
        activity: Option<Arc<Activity>>,
        permit: Slot,
        send_timeout: Duration,
    ) -> Self {
        ClientStream {
            stream,
            activity,
            _permit: permit,
            stall: Silence::new(send_timeout),
        }
    }

    pub(crate) fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The socket and the connection's slot, to go on serving it some other way.
    pub(crate) fn into_parts(self) -> (S, Slot) {
        (self.stream, self._permit)
    }

    /// Passes a finished write through; on a pending one, arms the send timer (once per
    /// stall) and fails when it fires.
    fn check_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let Poll::Pending = poll else {
            self.stall.ended();
            return poll;
        };
        if self.stall.goes_on(cx) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("client read nothing for {:?}", self.stall.limit),
            )));
        }
        Poll::Pending
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ClientStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.stream).poll_read(cx, buf))?;
        if let Some(activity) = &self.activity
            && buf.filled().len() > before
        {
            activity.bytes_read();
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ClientStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.check_write(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.check_write(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A TLS stream flushes its buffered records here: that too waits for the client.
        let poll = Pin::new(&mut self.stream).poll_flush(cx);
        self.check_write(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Sends `answer` (may be empty), closes the sending side (with close_notify over TLS) and
/// reads what the client still sends for a moment, all within `limit`: closing with unread
/// bytes would reset the connection, and the client could lose the answer.
pub(crate) async fn answer_and_close<S>(stream: &mut S, answer: &[u8], limit: Duration)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _ = tokio::time::timeout(limit, async {
        stream.write_all(answer).await?;
        stream.shutdown().await?;
        let mut scratch = [0u8; 4096];
        let mut discarded = 0;
        while discarded < 64 * 1024 {
            match stream.read(&mut scratch).await? {
                0 => break,
                n => discarded += n,
            }
        }
        Ok::<(), io::Error>(())
    })
    .await;
}
