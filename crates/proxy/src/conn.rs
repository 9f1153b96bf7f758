//! One client connection: HTTP/1.1 through hyper, plus the timeouts hyper does not give in the
//! shape a proxy needs.
//!
//! hyper's own header-read timeout closes the connection without an answer and also runs while
//! the connection waits for the next request, so it can serve neither as a 408 for slow heads
//! nor as a separate keep-alive timeout. Instead the connection's phase is tracked here: idle
//! (waiting for a request), reading (part of a head arrived) or busy (a request is being
//! served), and one timer is armed per phase:
//!
//! | phase   | timer                    | when it fires                         |
//! |---------|--------------------------|---------------------------------------|
//! | idle    | `idle_timeout`           | close quietly                          |
//! | reading | `header_read_timeout`    | answer 408 and close                   |
//! | busy    | none here (the upstream timeout answers 504) | -                 |
//!
//! A fresh connection is idle with `header_read_timeout` from its accept.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};

use crate::server::{Listener, Stop};

/// The phase of a connection, with a change counter so that a whole request that started and
/// ended between two looks is still noticed: the low two bits are the phase, the rest counts.
#[derive(Debug, Default)]
pub(crate) struct Activity(AtomicU64);

const IDLE: u64 = 0;
const READING: u64 = 1;
const BUSY: u64 = 2;
const PHASE: u64 = 0b11;

impl Activity {
    /// Bytes arrived from the client: an idle connection starts reading a request head.
    fn bytes_read(&self) {
        if self.0.load(Relaxed) & PHASE == IDLE {
            self.enter(IDLE, READING);
        }
    }

    /// hyper parsed a request head and called the service.
    pub(crate) fn request_started(&self) {
        self.enter(PHASE, BUSY);
    }

    /// The response (its body included) is done.
    pub(crate) fn response_done(&self) {
        self.enter(PHASE, IDLE);
    }

    /// Moves to `to` if the phase is `from` (or any phase, with `PHASE`).
    fn enter(&self, from: u64, to: u64) {
        let _ = self.0.fetch_update(Relaxed, Relaxed, |state| {
            (from == PHASE || state & PHASE == from).then(|| ((state >> 2) + 1) << 2 | to)
        });
    }

    fn snapshot(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// The client's socket as hyper sees it: reports reads to [`Activity`], fails writes that
/// the client leaves unread for the send timeout, and holds the connection's slot (its
/// semaphore permit) for as long as the socket lives, also after an upgrade to a WebSocket
/// tunnel.
#[derive(Debug)]
pub(crate) struct ClientStream {
    stream: TcpStream,
    activity: Arc<Activity>,
    _permit: OwnedSemaphorePermit,
    send_timeout: Duration,
    /// Armed while a write waits for the client to make room, and only then.
    stall: Option<Pin<Box<Sleep>>>,
    stalled: bool,
}

impl ClientStream {
    /// Passes a finished write through; on a pending one, arms the send timer (once per
    /// stall) and fails when it fires.
    fn check_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let Poll::Pending = poll else {
            self.stalled = false;
            return poll;
        };
        let deadline = Instant::now() + self.send_timeout;
        let stall = match (&mut self.stall, self.stalled) {
            (Some(stall), true) => stall,
            (Some(stall), false) => {
                stall.as_mut().reset(deadline);
                stall
            }
            (None, _) => self
                .stall
                .insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        self.stalled = true;
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("client read nothing for {:?}", self.send_timeout),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for ClientStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.stream).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            self.activity.bytes_read();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for ClientStream {
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
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Which timer is armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// Waiting for a request: idle, or the first request's head within its time.
    Idle,
    /// Part of a request head arrived.
    Head,
}

enum Outcome {
    /// hyper finished the connection (closed, errored, or upgraded).
    Closed(Result<(), hyper::Error>),
    /// A timer fired while the connection was in this phase.
    TimedOut(Timer),
}

/// Serves one accepted client connection until it closes, times out or is stopped.
pub(crate) async fn serve(
    listener: Arc<Listener>,
    stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
) {
    let activity = Arc::new(Activity::default());
    let io = TokioIo::new(ClientStream {
        stream,
        activity: Arc::clone(&activity),
        _permit: permit,
        send_timeout: listener.shared.config.limits.send_timeout,
        stall: None,
        stalled: false,
    });
    let service = {
        let listener = Arc::clone(&listener);
        let activity = Arc::clone(&activity);
        service_fn(move |request| {
            activity.request_started();
            let listener = Arc::clone(&listener);
            let activity = Arc::clone(&activity);
            async move {
                Ok::<_, Infallible>(
                    crate::forward::handle(&listener, request, peer, activity).await,
                )
            }
        })
    };
    let limits = &listener.shared.config.limits;
    let conn = listener
        .shared
        .http
        .serve_connection(io, service)
        .with_upgrades();
    let mut watched = Watched {
        conn,
        activity,
        seen: IDLE,
        fresh: true,
        armed: Some(Timer::Idle),
        timer: Box::pin(tokio::time::sleep(limits.header_read_timeout)),
        header_read_timeout: limits.header_read_timeout,
        idle_timeout: limits.idle_timeout,
    };
    let mut stop = listener.stop.clone();
    let mut draining = false;
    let outcome = loop {
        if !draining {
            let state = *stop.borrow_and_update();
            match state {
                Stop::Run => {}
                Stop::Drain => {
                    draining = true;
                    Pin::new(&mut watched.conn).graceful_shutdown();
                }
                Stop::Now => return,
            }
        }
        tokio::select! {
            outcome = &mut watched => break outcome,
            changed = stop.changed() => {
                if changed.is_err() {
                    // The listener is gone without a word: nobody waits for us.
                    return;
                }
                if *stop.borrow() == Stop::Now {
                    return;
                }
            }
        }
    };
    match outcome {
        Outcome::Closed(Ok(())) => {}
        Outcome::Closed(Err(error)) => {
            tracing::debug!(%peer, %error, "client connection ended with an error");
        }
        Outcome::TimedOut(Timer::Idle) => {
            tracing::debug!(%peer, "idle client connection closed");
        }
        Outcome::TimedOut(Timer::Head) => {
            tracing::debug!(%peer, "request head too slow: 408");
            if let Some(parts) = watched.conn.into_parts() {
                request_timeout(parts.io.into_inner()).await;
            }
        }
    }
}

/// The hyper connection and its timer.
struct Watched<C> {
    conn: C,
    activity: Arc<Activity>,
    /// The activity state last looked at.
    seen: u64,
    /// No request has started on this connection yet.
    fresh: bool,
    armed: Option<Timer>,
    timer: Pin<Box<Sleep>>,
    header_read_timeout: Duration,
    idle_timeout: Duration,
}

impl<C> Future for Watched<C>
where
    C: Future<Output = Result<(), hyper::Error>> + Unpin,
{
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let this = &mut *self;
        if let Poll::Ready(result) = Pin::new(&mut this.conn).poll(cx) {
            return Poll::Ready(Outcome::Closed(result));
        }
        // Everything that changes the phase happens inside the poll above (socket reads, the
        // service being called, the response body ending), so one look here sees it.
        let state = this.activity.snapshot();
        if state != this.seen {
            this.seen = state;
            let now = Instant::now();
            match state & PHASE {
                IDLE if this.fresh => {}
                IDLE => {
                    this.armed = Some(Timer::Idle);
                    this.timer.as_mut().reset(now + this.idle_timeout);
                }
                READING => {
                    // The first request's head counts from the accept.
                    if !this.fresh {
                        this.timer.as_mut().reset(now + this.header_read_timeout);
                    }
                    this.armed = Some(Timer::Head);
                }
                _ => {
                    this.fresh = false;
                    this.armed = None;
                }
            }
        }
        match this.armed {
            Some(timer) if this.timer.as_mut().poll(cx).is_ready() => {
                Poll::Ready(Outcome::TimedOut(timer))
            }
            _ => Poll::Pending,
        }
    }
}

const REQUEST_TIMEOUT: &[u8] = b"HTTP/1.1 408 Request Timeout\r\n\
content-type: text/plain; charset=utf-8\r\n\
content-length: 34\r\n\
connection: close\r\n\
\r\n\
request head not received in time\n";

/// Answers 408 on a connection whose head did not arrive in time, then closes it. The
/// client's unread bytes are drained for a moment first, so that the close is a FIN the
/// client can read the 408 before, not a reset.
async fn request_timeout(mut stream: ClientStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(REQUEST_TIMEOUT).await?;
        stream.shutdown().await?;
        let mut scratch = [0u8; 4096];
        let mut drained = 0;
        while drained < 64 * 1024 {
            match stream.read(&mut scratch).await? {
                0 => break,
                n => drained += n,
            }
        }
        Ok::<(), io::Error>(())
    })
    .await;
}

/// hyper's HTTP/1 server settings for client connections.
pub(crate) fn http_builder(limits: &crate::Limits) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .keep_alive(true)
        // A client that shuts its sending side after the request still gets the answer,
        // as with HAProxy and nginx.
        .half_close(true)
        .max_headers(limits.max_headers)
        .max_header_size(limits.max_header_size)
        // Replaced by the phase timers above.
        .header_read_timeout(None);
    builder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_counts_every_change() {
        let activity = Activity::default();
        let start = activity.snapshot();
        activity.bytes_read();
        activity.request_started();
        activity.response_done();
        let after = activity.snapshot();
        assert_eq!(after & PHASE, IDLE);
        assert_ne!(after, start, "a whole request between two looks is seen");
        // Reads during a request do not change the phase.
        activity.request_started();
        let busy = activity.snapshot();
        activity.bytes_read();
        assert_eq!(activity.snapshot(), busy);
    }

    #[test]
    fn canned_408_has_the_right_length() {
        let text = std::str::from_utf8(REQUEST_TIMEOUT).expect("ascii");
        let (head, body) = text.split_once("\r\n\r\n").expect("head");
        assert!(head.contains(&format!("content-length: {}", body.len())));
    }
}
