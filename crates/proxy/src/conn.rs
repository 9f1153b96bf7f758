//! One client connection: HTTP/1.1 or HTTP/2 through hyper, plus the timeouts hyper does not
//! give in the shape a proxy needs.
//!
//! hyper's own header-read timeout closes the connection without an answer and also runs while
//! the connection waits for the next request, so it can serve neither as a 408 for slow heads
//! nor as a separate keep-alive timeout; its HTTP/2 server has no idle timeout at all. Instead
//! the connection's phase is tracked here: idle (waiting for a request), reading (part of a
//! head arrived) or busy (requests are being served), and one timer is armed per phase:
//!
//! | phase   | timer                    | when it fires                         |
//! |---------|--------------------------|---------------------------------------|
//! | idle    | `idle_timeout`           | close quietly (HTTP/2: GOAWAY first)   |
//! | reading | `header_read_timeout`    | answer 408 and close                   |
//! | busy    | none here (the upstream timeout answers 504) | -                 |
//!
//! A fresh connection is idle with `header_read_timeout` from its start (see
//! `transport::accept`). HTTP/2 connections are never "reading": their bytes belong to
//! any of their streams, and hyper assembles each request head itself.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use crate::activity::{Activity, IDLE, PHASE, READING};
use crate::admission::Slot;
use crate::config::Limits;
use crate::own_answer::{self, OwnAnswer};
use crate::serving::ServeCall;
use crate::stop::Stop;
use crate::stream::ClientStream;

/// The HTTP version a client connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http1,
    Http2,
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

/// Serves one client connection, its first request due by `first_request`, until it closes,
/// times out or is stopped.
pub(crate) async fn serve<S>(
    call: &Arc<ServeCall>,
    stream: S,
    peer: SocketAddr,
    permit: Slot,
    protocol: Protocol,
    first_request: Instant,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = &call.shared.config.limits;
    let activity = Arc::new(Activity::default());
    let io = TokioIo::new(ClientStream::new(
        stream,
        (protocol == Protocol::Http1).then(|| Arc::clone(&activity)),
        permit,
        limits.send_timeout,
    ));
    let service = {
        let call = Arc::clone(call);
        let activity = Arc::clone(&activity);
        service_fn(move |request| {
            let in_flight = activity.request_started();
            let call = Arc::clone(&call);
            // Boxed: hyper keeps a box the size of the service's future for the whole life
            // of every connection, idle or not, and `forward::handle`'s state machine is
            // kilobytes. Boxed, an idle keep-alive connection holds a pointer instead.
            let response: RequestFuture = Box::pin(async move {
                let response = crate::forward::handle(&call, request, peer, in_flight).await;
                Ok::<_, Infallible>(response)
            });
            response
        })
    };
    let mut stop = call.stop.clone();
    // Each protocol's connection state boxed on its own, for the reason in
    // `transport::accept`: an HTTP/1.1 connection must not carry room for an HTTP/2 one.
    match protocol {
        Protocol::Http1 => {
            Box::pin(async move {
                let conn = call
                    .shared
                    .http
                    .serve_connection(io, service)
                    .with_upgrades();
                let mut watched = Watched::new(conn, activity, first_request, limits);
                let Some(outcome) =
                    drive(&mut watched, &mut stop, |conn| conn.graceful_shutdown()).await
                else {
                    return;
                };
                let Outcome::TimedOut(timer) = outcome else {
                    outcome.log(peer);
                    return;
                };
                let Some(parts) = watched.conn.into_parts() else {
                    return;
                };
                let mut stream = parts.io.into_inner();
                match timer {
                    Timer::Head => {
                        tracing::debug!(%peer, "request head too slow: 408");
                        let counters = &call.shared.connections;
                        let answer = OwnAnswer::HeadTimeout;
                        own_answer::send_and_close(&mut stream, answer, counters).await;
                    }
                    Timer::Idle => {
                        outcome.log(peer);
                        shut_down_idle(stream).await;
                    }
                }
            })
            .await
        }
        Protocol::Http2 => {
            Box::pin(async move {
                let conn = call.shared.http2.serve_connection(io, service);
                let mut watched = Watched::new(conn, activity, first_request, limits);
                let Some(outcome) =
                    drive(&mut watched, &mut stop, |conn| conn.graceful_shutdown()).await
                else {
                    return;
                };
                if !matches!(outcome, Outcome::TimedOut(Timer::Idle)) {
                    outcome.log(peer);
                    return;
                }
                // Idle: say GOAWAY (RFC 9113 6.8) so that the client does not start a request
                // on a connection about to close, and give it a moment to take note.
                tracing::debug!(%peer, "idle HTTP/2 connection: GOAWAY");
                Pin::new(&mut watched.conn).graceful_shutdown();
                watched.arm(Timer::Idle, limits.header_read_timeout);
                if let Some(outcome) =
                    drive(&mut watched, &mut stop, |conn| conn.graceful_shutdown()).await
                {
                    outcome.log(peer);
                }
            })
            .await
        }
    }
}

/// Runs a connection until it ends or times out, telling it to finish up when the listener
/// drains. `None`: the listener stopped for good, and the connection is to be dropped.
async fn drive<C>(
    watched: &mut Watched<C>,
    stop: &mut watch::Receiver<Stop>,
    graceful: impl Fn(Pin<&mut C>),
) -> Option<Outcome>
where
    C: Future<Output = Result<(), hyper::Error>> + Unpin,
{
    let mut draining = false;
    loop {
        if !draining {
            let state = *stop.borrow_and_update();
            match state {
                Stop::Run => {}
                Stop::Drain => {
                    draining = true;
                    graceful(Pin::new(&mut watched.conn));
                }
                Stop::Now => return None,
            }
        }
        tokio::select! {
            outcome = &mut *watched => return Some(outcome),
            changed = stop.changed() => {
                // An error: the listener is gone without a word, and nobody waits for us.
                if changed.is_err() || *stop.borrow() == Stop::Now {
                    return None;
                }
            }
        }
    }
}

impl Outcome {
    fn log(self, peer: SocketAddr) {
        match self {
            Outcome::Closed(Ok(())) => {}
            Outcome::Closed(Err(error)) => {
                tracing::debug!(%peer, %error, "client connection ended with an error");
            }
            Outcome::TimedOut(Timer::Idle) => {
                tracing::debug!(%peer, "idle client connection closed");
            }
            Outcome::TimedOut(Timer::Head) => {
                tracing::debug!(%peer, "request head too slow");
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

impl<C> Watched<C> {
    fn new(conn: C, activity: Arc<Activity>, first_request: Instant, limits: &Limits) -> Self {
        Watched {
            conn,
            activity,
            seen: IDLE,
            fresh: true,
            armed: Some(Timer::Idle),
            timer: Box::pin(tokio::time::sleep_until(first_request)),
            header_read_timeout: limits.header_read_timeout,
            idle_timeout: limits.idle_timeout,
        }
    }

    /// Arms `timer` to fire `after` from now, whatever the phase.
    fn arm(&mut self, timer: Timer, after: Duration) {
        self.armed = Some(timer);
        self.timer.as_mut().reset(Instant::now() + after);
    }
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
                    // The first request's head counts from the connection's start.
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

/// One request's answer, as the connection's service returns it.
type RequestFuture = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<http::Response<crate::response_body::ResponseBody>, Infallible>,
            > + Send,
    >,
>;

/// Most streams a client may have open at once on one HTTP/2 connection (nginx's default).
const MAX_CONCURRENT_STREAMS: u32 = 100;

/// Closes an idle connection, at once (nothing is expected from the client): over TLS with a
/// close_notify alert first, so that the client can tell the close from a truncation.
async fn shut_down_idle<S: AsyncWrite + Unpin>(mut stream: ClientStream<S>) {
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
}

/// hyper's HTTP/2 server settings for client connections.
pub(crate) fn http2_builder(limits: &Limits) -> http2::Builder<TokioExecutor> {
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        // Rapid reset (CVE-2023-44487): streams the client opens and resets before they
        // are served count here, and past this many at once the connection gets GOAWAY
        // (ENHANCE_YOUR_CALM). h2's default, made explicit so that an upgrade cannot lift it.
        .max_pending_accept_reset_streams(20)
        // The same for streams this side resets because the client got them wrong
        // (RUSTSEC-2024-0003). CONTINUATION floods are bounded by `max_header_list_size`
        // below: h2 allows only the frames that size needs, then says GOAWAY.
        .max_local_error_reset_streams(1024)
        // HPACK-decoded size, the counterpart of HTTP/1.1's head size; hyper answers 431.
        .max_header_list_size(u32::try_from(limits.max_header_size).unwrap_or(u32::MAX));
    builder
}

/// hyper's HTTP/1 server settings for client connections.
pub(crate) fn http_builder(limits: &Limits) -> http1::Builder {
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
