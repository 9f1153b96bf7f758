//! HTTP/1.1 client connections, served by this crate's own code rather than hyper's: the
//! request is read, rewritten and forwarded, and the answer streamed back, all by the
//! connection's task, over pooled connections to the servers (see [`exchange`]).
//!
//! Two things made it worth writing. Speed: with hyper, each request crossed four tasks and
//! channels (client connection, service, pooled server connection, body) and was parsed into
//! header maps twice; here it is one task, one parse per side and byte slices. Memory: hyper
//! keeps a read and a write buffer (8 KiB each) for the life of a connection, while an idle
//! connection here holds no buffer at all, as nginx's and HAProxy's do not.
//!
//! Anything out of the ordinary is left to hyper (see [`request::Parsed::Other`]): the
//! connection, with the bytes read so far put back in front, goes to
//! [`conn::serve`](crate::conn::serve) for the rest of its life. That keeps one
//! implementation of the rare and tricky parts (HTTP/1.0, upgrades, `Expect`, and the 400
//! and 431 answers to bad heads) and a short path for the rest.

mod chunked;
mod deadline;
mod exchange;
mod fields;
#[cfg(feature = "fuzzing")]
pub(crate) mod fuzzing;
mod relay;
mod request;
mod response;
mod rewind;
mod spare;
mod stop_signal;

use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::admission::Slot;
use crate::conn::Protocol;
use crate::own_answer::{self, OwnAnswer};
use crate::serving::ServeCall;
use crate::stop::Stop;
use crate::stream::ClientStream;
use deadline::Deadline;
use exchange::{Next, Request};
use request::{Forwarding, Parsed};
pub(crate) use rewind::Rewind;
use spare::Spare;
use stop_signal::StopSignal;

/// Waiting until a client sends something without a buffer to read it into, so that an
/// idle keep-alive connection holds none.
pub(crate) trait WaitReadable {
    /// True when being readable means the client sent something (or closed); false when
    /// [`WaitReadable::poll_readable`] is always ready and the read itself waits.
    const READY_MEANS_DATA: bool;

    fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// True when bytes from the client wait in the socket now, whatever the reactor has
    /// seen so far. Asked once, when a drain would close an idle connection.
    fn has_bytes(&self) -> bool;
}

impl WaitReadable for TcpStream {
    const READY_MEANS_DATA: bool = true;

    fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_read_ready(cx)
    }

    fn has_bytes(&self) -> bool {
        // A reload wakes every idle connection at once, and the reactor may not have seen
        // a request that arrived just before: the kernel is asked, through a duplicate of
        // the descriptor (it shares the non-blocking mode, so an empty socket answers
        // WouldBlock). Out of descriptors, the duplicate fails and the connection closes
        // as before.
        use std::os::fd::AsFd as _;
        self.as_fd()
            .try_clone_to_owned()
            .map(std::net::TcpStream::from)
            .is_ok_and(|socket| socket.peek(&mut [0u8; 1]).is_ok_and(|n| n > 0))
    }
}

/// rustls may hold decrypted bytes already, which socket readiness would not show: a TLS
/// connection reads at once (and its buffers are rustls's anyway).
impl WaitReadable for tokio_rustls::server::TlsStream<TcpStream> {
    const READY_MEANS_DATA: bool = false;

    fn poll_readable(&self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn has_bytes(&self) -> bool {
        false
    }
}

/// How an idle connection's wait ended.
enum Woke {
    /// The client sent something (or closed, or failed: the read will tell).
    Readable,
    TimedOut,
    /// The listener is stopping.
    Stopping,
}

/// Waits for the next request's first bytes, until `until` or the listener stops: drains
/// or stops when `drain_closes`, else only stops (a connection that has not had its first
/// request yet was accepted to be served, and its client is sending it). Written out by
/// hand rather than with `select!` and `timeout`: this is the state every idle connection
/// holds, and readiness polled this way needs no waiter of its own.
async fn wait_idle<S: WaitReadable>(
    client: &S,
    stop: &mut StopSignal,
    deadline: &mut Deadline,
    until: Instant,
    drain_closes: bool,
) -> Woke {
    let stops = move |stop: Stop| stop == Stop::Now || (drain_closes && stop != Stop::Run);
    if stops(stop.current()) {
        return Woke::Stopping;
    }
    deadline.set(until);
    std::future::poll_fn(|cx| {
        if client.poll_readable(cx).is_ready() {
            Poll::Ready(Woke::Readable)
        } else if stop.poll_until(cx, stops).is_ready() {
            Poll::Ready(Woke::Stopping)
        } else if deadline.poll_expired(cx).is_ready() {
            Poll::Ready(Woke::TimedOut)
        } else {
            Poll::Pending
        }
    })
    .await
}

/// How the wait for a request head ended.
enum HeadRead {
    Head(request::RequestHead),
    /// The client closed or went silent before a request began: close without a word.
    Gone,
    /// Part of a head came, and the rest not in time.
    TooSlow,
    /// Hyper is to serve this connection.
    Hyper,
}

/// Serves one client connection, its first request due by `first_request`.
/// `received`: what was read from the connection already (by the protocol sniffer).
pub(crate) async fn serve<S>(
    call: &Arc<ServeCall>,
    stream: S,
    peer: SocketAddr,
    permit: Slot,
    first_request: Instant,
    received: BytesMut,
) where
    S: AsyncRead + AsyncWrite + WaitReadable + Unpin + Send + Sync + 'static,
{
    let limits = &call.shared.config.limits;
    let mut client = ClientStream::new(stream, None, permit, limits.send_timeout);
    let mut buf = received;
    // One waiter on the listener's stop signal for the connection's life.
    let mut stop = StopSignal::new(call.stop.clone());
    // Every wait of the connection (idle, head, the server's answer) on one timer.
    let mut deadline = Deadline::new(first_request);
    // For the first request, the whole head is due by `first_request`; after that, a
    // connection may idle for `idle_timeout`, and then has `header_read_timeout` from the
    // first byte of a head to its end.
    let mut phase = Phase {
        idle: true,
        idle_until: first_request,
        head_due: Some(first_request),
    };
    loop {
        phase.idle = buf.is_empty();
        if phase.idle {
            // Once a plain connection is readable, a request has begun: a drain from then
            // on lets it finish. Over TLS the wait says nothing, so the read stays idle.
            phase.idle = !S::READY_MEANS_DATA;
            // Give the buffer back while waiting (to the thread's spares).
            Spare::Head.give(std::mem::take(&mut buf));
            let drain_closes = phase.head_due.is_none();
            let until = phase.idle_until;
            match wait_idle(
                client.get_ref(),
                &mut stop,
                &mut deadline,
                until,
                drain_closes,
            )
            .await
            {
                Woke::Readable => {}
                // A request began as the drain came: it is served, its answer says close.
                Woke::Stopping if client.get_ref().has_bytes() => {}
                Woke::Stopping => {
                    tracing::debug!(%peer, "listener draining: idle connection closed");
                    return Box::pin(lingering_close(&mut client)).await;
                }
                Woke::TimedOut => {
                    tracing::debug!(%peer, "idle client connection closed");
                    return Box::pin(lingering_close(&mut client)).await;
                }
            }
        }
        // Boxed, as the closing below: an idle connection carries only the state above.
        let serving = Box::pin(serve_request(
            call,
            &mut client,
            &mut buf,
            &mut stop,
            &mut deadline,
            phase,
            peer,
        ));
        let served = serving.await;
        match served {
            Served::KeepAlive => {}
            Served::Close => return Box::pin(lingering_close(&mut client)).await,
            Served::TooSlow => {
                tracing::debug!(%peer, "request head too slow: 408");
                let counters = &call.shared.connections;
                let answer = OwnAnswer::HeadTimeout;
                return Box::pin(own_answer::send_and_close(&mut client, answer, counters)).await;
            }
            Served::Stopped => return,
            Served::Hyper => {
                let (stream, permit) = client.into_parts();
                let stream = Rewind::new(stream, buf.freeze());
                let due = Instant::now() + limits.header_read_timeout;
                let http1 = Protocol::Http1;
                let hyper = crate::conn::serve(call, stream, peer, permit, http1, due);
                return Box::pin(hyper).await;
            }
        }
        phase.head_due = None;
        phase.idle_until = Instant::now() + limits.idle_timeout;
    }
}

/// Where a connection is between requests.
#[derive(Debug, Clone, Copy)]
struct Phase {
    /// Nothing of the next request has arrived yet: the listener's drain closes the
    /// connection rather than waiting for a request.
    idle: bool,
    /// The first byte of the next request is due by then.
    idle_until: Instant,
    /// The whole head is due by then; `None`: `header_read_timeout` after its first byte.
    head_due: Option<Instant>,
}

/// How serving one request ended.
enum Served {
    KeepAlive,
    Close,
    /// Part of a head came, and the rest not in time: 408.
    TooSlow,
    /// The listener stopped for good: drop the connection.
    Stopped,
    /// Hyper is to serve this connection from here on.
    Hyper,
}

/// Reads one request head and serves the request.
async fn serve_request<S>(
    call: &Arc<ServeCall>,
    client: &mut ClientStream<S>,
    buf: &mut BytesMut,
    stop: &mut StopSignal,
    deadline: &mut Deadline,
    phase: Phase,
    peer: SocketAddr,
) -> Served
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let limits = &call.shared.config.limits;
    // Made for each request rather than kept: an idle connection holds as little as can be.
    let forwarding = Forwarding {
        client: request::ClientText::new(peer.ip()),
        proto: if call.transport.is_tls() {
            "https"
        } else {
            "http"
        },
        trusted: call.shared.config.trusts(peer.ip()),
        max_fields: limits.max_headers,
    };
    let set = call.shared.servers.current();
    let hash_header = match set.algorithm().hash_on() {
        Some(crate::balance::HashOn::Header(name)) => Some(name.as_str()),
        _ => None,
    };
    let reading = HeadReading {
        forwarding: &forwarding,
        hash_header,
        max_size: limits.max_header_size,
        idle_until: phase.idle_until,
        due: phase.head_due,
        header_read_timeout: limits.header_read_timeout,
    };
    // An idle connection (over TLS it reads while idle) closes when the listener drains.
    let idle = phase.idle;
    // Each future is pinned where it is made, and the stop signal polled after it (as a
    // biased `select!` would, without moving the future into one).
    let read = {
        let reading = pin!(reading.read(client, buf, deadline));
        let stops = |stop| stop == Stop::Now || (idle && stop != Stop::Run);
        stop.unless(reading, stops).await
    };
    let head = match read {
        None | Some(HeadRead::Gone) => return Served::Close,
        Some(HeadRead::Head(head)) => head,
        Some(HeadRead::TooSlow) => return Served::TooSlow,
        Some(HeadRead::Hyper) => return Served::Hyper,
    };
    let received = buf.split_to(head.len);
    let request = Request {
        head: &head,
        received: &received,
        peer,
    };
    let exchange = pin!(exchange::run(call, &set, client, buf, deadline, request));
    match stop.unless(exchange, |stop| stop == Stop::Now).await {
        Some(Next::KeepAlive) => Served::KeepAlive,
        Some(Next::Close) => Served::Close,
        None => Served::Stopped,
    }
}

/// How to read the next request head.
struct HeadReading<'a> {
    forwarding: &'a Forwarding,
    hash_header: Option<&'a str>,
    max_size: usize,
    /// The first byte is due by then.
    idle_until: Instant,
    /// The whole head is due by then; `None`: `header_read_timeout` after its first byte.
    due: Option<Instant>,
    header_read_timeout: std::time::Duration,
}

impl HeadReading<'_> {
    /// Reads until `buf` holds a whole request head.
    async fn read<S>(
        mut self,
        client: &mut ClientStream<S>,
        buf: &mut BytesMut,
        deadline: &mut Deadline,
    ) -> HeadRead
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        loop {
            if !buf.is_empty() {
                match request::parse(buf, self.forwarding, self.hash_header) {
                    // hyper answers 431 to a head that is too large.
                    Parsed::Head(head) if head.len > self.max_size => return HeadRead::Hyper,
                    Parsed::Head(head) => return HeadRead::Head(head),
                    Parsed::Other => return HeadRead::Hyper,
                    Parsed::Partial if buf.len() > self.max_size => return HeadRead::Hyper,
                    Parsed::Partial => {}
                }
            }
            let due = if buf.is_empty() {
                self.idle_until
            } else {
                *self
                    .due
                    .get_or_insert_with(|| Instant::now() + self.header_read_timeout)
            };
            if buf.capacity() == 0 {
                *buf = Spare::Head.take();
            }
            buf.reserve(spare::HEAD_SIZE);
            match deadline.within(due, client.read_buf(buf)).await {
                None if buf.is_empty() => return HeadRead::Gone,
                None => return HeadRead::TooSlow,
                Some(Ok(0)) if buf.is_empty() => return HeadRead::Gone,
                // Half a head and the client's end closed: hyper answers or closes as it does.
                Some(Ok(0)) => return HeadRead::Hyper,
                Some(Ok(_)) => {}
                Some(Err(_)) => return HeadRead::Gone,
            }
        }
    }
}

/// Closes a connection after its last answer: flushed, shut down (with close_notify over
/// TLS), and what the client still sends read for a moment so that the close is a FIN the
/// client reads the answer before, not a reset.
async fn lingering_close<S: AsyncRead + AsyncWrite + Unpin>(client: &mut ClientStream<S>) {
    crate::stream::answer_and_close(client, b"", std::time::Duration::from_secs(1)).await;
}
