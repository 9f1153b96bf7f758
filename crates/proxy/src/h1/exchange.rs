//! One request on the HTTP/1.1 path, done by the client connection's own task: choose a
//! server, take a pooled connection to it (or open one), send the head and body, read the
//! answer and stream it back, then put the server's connection back in the pool. No other
//! task, channel or header map is involved, which is where this path's speed comes from.
//!
//! A request whose body is all in the buffer (most are) can be sent again: to a fresh
//! connection when a pooled one turns out closed, and to another server after a failed
//! connect (any method) or a failure before the answer (idempotent methods). Those rules
//! are the forwarding policy's ([`forward_policy`](crate::forward_policy)), which hyper's
//! path follows too.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf as _, BytesMut};
use http::Method;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::chunked::{Chunked, TrailerLimits};
use super::deadline::Deadline;
use super::relay::{self, Body, CopyError};
use super::request::{BodyFraming, RequestHead};
use super::response::{self, Framing, ResponseHead};
use super::spare::Spare;
use crate::counted::Counted;
use crate::forward_policy::{self, Failure, ForwardPolicy, Verdict, out_of_local_resources};
use crate::log_limit::{self, warn_limited};
use crate::own_answer::OwnAnswer;
use crate::request_body::{DISCARD_BYTES, DISCARD_SILENCE, DISCARD_TIME};
use crate::server_verdict;
use crate::serving::ServeCall;
use crate::stop::Stop;
use crate::stream::ClientStream;
use crate::upstream::{Server, ServerSet};

/// What the connection does after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    KeepAlive,
    Close,
}

/// A request read from a client, its head already taken out of the client's buffer.
pub(super) struct Request<'a> {
    pub(super) head: &'a RequestHead,
    /// The client's head as received, which `head`'s ranges point into.
    pub(super) received: &'a [u8],
    pub(super) peer: SocketAddr,
}

/// Why an attempt on one server ended without an answer to pass on, with what the log says.
enum AttemptError {
    /// No connection could be made.
    Connect(io::Error),
    /// Nothing (or nothing valid) came back.
    NoResponse {
        reason: String,
        /// The connection came from the pool and nothing came back at all: most likely the
        /// server had closed it just before.
        stale: bool,
    },
    /// No answer within the upstream timeout.
    Timeout,
    /// The client went away or broke its body's framing; the request cannot go on.
    Client(CopyError),
}

impl AttemptError {
    /// The failure as the forwarding policy knows it.
    fn failure(&self) -> Failure {
        match self {
            AttemptError::Connect(error) if out_of_local_resources(error) => {
                Failure::LocalResources
            }
            AttemptError::Connect(_) => Failure::Connect,
            AttemptError::NoResponse { stale, .. } => Failure::NoResponse { stale: *stale },
            AttemptError::Timeout => Failure::Timeout,
            AttemptError::Client(CopyError::Framing(_)) => Failure::ClientMalformed,
            AttemptError::Client(CopyError::Stalled(_)) => Failure::ClientStalled,
            AttemptError::Client(_) => Failure::ClientGone,
        }
    }
}

/// Serves one request; the answer is on its way to the client when this returns. What
/// happens after a failure is the forwarding policy's call ([`ForwardPolicy`]).
pub(super) async fn run<S>(
    call: &ServeCall,
    set: &ServerSet,
    client: &mut ClientStream<S>,
    buf: &mut BytesMut,
    deadline: &mut Deadline,
    request: Request<'_>,
) -> Next
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let head = request.head;
    let path = std::str::from_utf8(&request.received[head.path.clone()]).unwrap_or("/");
    let hashed = head
        .hash_value
        .clone()
        .map(|range| &request.received[range]);
    let key = set
        .algorithm()
        .hash_on()
        .and_then(|on| on.key(request.peer.ip(), path, |_| hashed));
    // A request's trailer section is held to the limits of its head.
    let limits = &call.shared.config.limits;
    let trailer_limits = TrailerLimits {
        max_size: limits.max_header_size,
        max_fields: limits.max_headers,
    };
    let body = head.body.map(|framing| match framing {
        BodyFraming::Length(length) => Body::Length(length),
        BodyFraming::Chunked => Body::Chunked(Chunked::new(trailer_limits)),
    });
    // The body's length when all of it is in the buffer already; it stays there until an
    // answer came, so that the request can be sent again.
    let buffered = match &body {
        None => Some(0),
        Some(body) => body.whole_in(buf),
    };
    let is_head = head.method == Method::HEAD;
    let servers = &call.shared.servers;
    let mut policy = ForwardPolicy::new(&head.method, set.retries);
    let mut ubuf = BytesMut::new();
    // After a pooled connection turned out closed: the server to try again on a fresh one.
    let mut fresh_on: Option<usize> = None;

    loop {
        let (index, fresh) = match fresh_on.take() {
            Some(index) => (index, true),
            None => match set.pick(policy.tried(), key.as_ref()) {
                Ok(index) => {
                    policy.picked(index);
                    (index, false)
                }
                Err(unavailable) => {
                    let answer = policy.no_server(unavailable);
                    server_verdict::log_no_server(answer, &head.method, path);
                    return own_answer(call, client, buf, buffered, head, answer).await;
                }
            },
        };
        let server = set.server(index);
        let _active = set.begin(index);
        let timeout = set.upstream_timeout;
        let pool = set.pool_settings();
        // One reading of the clock for the pool and, on a pooled connection, the request's
        // start: each reading is a vDSO call and its arithmetic, several per request before.
        let now = Instant::now();
        let pooled = if fresh {
            None
        } else {
            server.pool.take_at(pool.idle_timeout, now)
        };
        let reused = pooled.is_some();
        let streams_body = body.is_some() && buffered.is_none();
        let mut connected = false;
        // What the server did not take of a streamed body, when it stopped taking it.
        let mut unsent = None;
        let attempt = async {
            let mut upstream = match pooled {
                Some(upstream) => upstream,
                None => crate::upstream::connect(server.address, pool.connect_timeout)
                    .await
                    .map_err(AttemptError::Connect)?,
            };
            connected = true;
            let mut counted = Counted::new(&mut upstream, &*server.metrics);
            let sent_at = if reused { now } else { Instant::now() };
            // The client has `client_body_timeout` for each piece of its body, the server
            // `timeout` to take each one.
            let stalls = relay::Stalls {
                read: call.shared.config.limits.client_body_timeout,
                write: Some(timeout),
            };
            let sent = send(
                client,
                buf,
                &mut counted,
                head,
                body.as_ref(),
                buffered,
                stalls,
                sent_at,
                deadline,
                &mut unsent,
            )
            .await;
            let body_complete = match sent {
                Ok(()) => true,
                Err(error) if error.is_read_side() => return Err(AttemptError::Client(error)),
                // The server stopped taking the request: waiting for its answer as well
                // would only double the client's wait.
                Err(CopyError::WriteStalled(_)) => return Err(AttemptError::Timeout),
                // The server may have answered early (413, say) and closed: look for it.
                Err(_) => false,
            };
            let response = read_head(client, &mut counted, &mut ubuf, is_head, deadline, timeout)
                .await
                .map_err(|error| match error {
                    // Nothing at all came back on a pooled connection: the server had closed
                    // it. A server that began answering saw the request.
                    AttemptError::NoResponse { reason, stale } => AttemptError::NoResponse {
                        reason,
                        stale: stale && reused && body_complete,
                    },
                    other => other,
                })?;
            Ok((upstream, response, sent_at, body_complete))
        };
        let error = match attempt.await {
            Ok((upstream, mut response, sent_at, body_complete)) => {
                let answered = Instant::now();
                server
                    .metrics
                    .responded(response.status, answered - sent_at);
                let blame = policy.answered(response.status);
                server_verdict::record(servers, set, index, blame);
                if let Some(length) = buffered {
                    buf.advance(length);
                }
                // The server's connection did not take the whole request: it cannot take
                // another. The client's can, once the rest of its body is read.
                response.reusable &= body_complete;
                let close =
                    head.close || response.framing == Framing::UntilClose || is_draining(call);
                let next = pass_on(
                    client,
                    upstream,
                    ubuf,
                    response,
                    server,
                    pool.max_idle,
                    close,
                    timeout,
                    answered,
                )
                .await;
                if let Some(rest) = unsent
                    && !discard_rest(client, buf, rest, next == Next::Close).await
                {
                    return Next::Close;
                }
                return next;
            }
            Err(error) => error,
        };
        if streams_body && connected {
            policy.body_gone();
        }
        ubuf.clear();
        let verdict = policy.failed(error.failure());
        server_verdict::record_failure(servers, set, index, verdict);
        log_failure(&error, verdict, server, timeout, request.peer, head, path);
        match verdict.next {
            forward_policy::Next::TryAnother => {}
            forward_policy::Next::TryFresh => {
                // Its other pooled connections are likely closed too.
                server.pool.clear();
                fresh_on = Some(index);
            }
            forward_policy::Next::Close => return Next::Close,
            forward_policy::Next::Answer(answer) => {
                // The rest of a body the server stopped taking is read and dropped after the
                // answer, as after a server's early one: it need not close the connection.
                let read_on = unsent.is_some() && !answer.closes();
                let buffered = if read_on { Some(0) } else { buffered };
                let next = own_answer(call, client, buf, buffered, head, answer).await;
                if let Some(rest) = unsent
                    && !discard_rest(client, buf, rest, next == Next::Close).await
                {
                    return Next::Close;
                }
                return next;
            }
        }
    }
}

/// Logs a failed attempt and what comes of it: warnings (rate-limited) for what the client
/// gets an error for, debug lines for what is retried or the client's own doing.
fn log_failure(
    error: &AttemptError,
    verdict: Verdict,
    server: &Server,
    timeout: Duration,
    peer: SocketAddr,
    head: &RequestHead,
    path: &str,
) {
    let server = server.address;
    let retried = verdict.retries();
    match error {
        AttemptError::Client(error) => {
            tracing::debug!(%peer, %error, "client failed during its request body");
        }
        AttemptError::Timeout => {
            warn_limited!(log_limit::GATEWAY_TIMEOUT, %server, "no response in {timeout:?}: 504");
        }
        AttemptError::NoResponse { reason, .. }
            if verdict.next == forward_policy::Next::TryFresh =>
        {
            tracing::debug!(%server, reason, "pooled connection was closed; trying a fresh one");
        }
        AttemptError::Connect(error) if out_of_local_resources(error) => {
            warn_limited!(log_limit::LOCAL_RESOURCES, %server, %error, "out of sockets or memory: 502");
        }
        AttemptError::Connect(error) if retried => {
            tracing::debug!(%server, %error, "connect failed; trying another server");
        }
        AttemptError::Connect(error) => {
            warn_limited!(log_limit::BAD_GATEWAY, %server, %error, "{} {path}: 502", head.method);
        }
        AttemptError::NoResponse { reason, .. } if retried => {
            tracing::debug!(%server, reason, "request failed; trying another server");
        }
        AttemptError::NoResponse { reason, .. } => {
            warn_limited!(log_limit::BAD_GATEWAY, %server, reason, "{} {path}: 502", head.method);
        }
    }
}

/// Sends the request head and its body: from the buffer when it is all there (left in
/// place, to be sent again if need be; the server has until `sent_at` plus its stall limit
/// to take it), otherwise streamed from the client. When the server stops taking a streamed
/// body, `unsent` gets what is left of it.
#[allow(clippy::too_many_arguments)]
async fn send<S, U>(
    client: &mut ClientStream<S>,
    buf: &mut BytesMut,
    upstream: &mut U,
    head: &RequestHead,
    body: Option<&Body>,
    buffered: Option<usize>,
    stalls: relay::Stalls,
    sent_at: Instant,
    deadline: &mut Deadline,
    unsent: &mut Option<Body>,
) -> Result<(), CopyError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    U: AsyncWrite + Unpin,
{
    match (body, buffered) {
        (Some(body), None) => {
            let mut rest = body.clone();
            let copied = relay::copy(client, upstream, buf, &mut rest, &head.upstream, stalls);
            let copied = copied.await;
            if copied.as_ref().is_err_and(|error| !error.is_read_side()) {
                *unsent = Some(rest);
            }
            copied
        }
        (_, buffered) => {
            let body = &buf[..buffered.unwrap_or(0)];
            let write = relay::write_two(upstream, &head.upstream, body);
            let written = match stalls.write {
                None => write.await,
                Some(limit) => deadline
                    .within(sent_at + limit, write)
                    .await
                    .ok_or(CopyError::WriteStalled(limit))?,
            };
            written.map_err(CopyError::Write)
        }
    }
}

/// Reads the server's final response head into `ubuf`, passing interim (1xx) answers on to
/// the client on the way.
async fn read_head<S, U>(
    client: &mut ClientStream<S>,
    upstream: &mut U,
    ubuf: &mut BytesMut,
    is_head: bool,
    deadline: &mut Deadline,
    timeout: Duration,
) -> Result<ResponseHead, AttemptError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + Unpin,
{
    let no_response = |reason: String| AttemptError::NoResponse {
        reason,
        stale: false,
    };
    let mut received = false;
    let due = Instant::now() + timeout;
    loop {
        if !ubuf.is_empty() {
            match response::parse(ubuf, is_head) {
                response::Parsed::Head(head) if head.is_interim() => {
                    ubuf.advance(head.len);
                    let mut interim = head.client;
                    interim.extend_from_slice(b"\r\n");
                    client
                        .write_all(&interim)
                        .await
                        .map_err(|error| AttemptError::Client(CopyError::Write(error)))?;
                    continue;
                }
                response::Parsed::Head(head) => {
                    ubuf.advance(head.len);
                    return Ok(head);
                }
                response::Parsed::Invalid(reason) => return Err(no_response(reason.to_owned())),
                response::Parsed::Partial => {}
            }
        }
        if ubuf.capacity() == 0 {
            *ubuf = Spare::Answer.take();
        }
        ubuf.reserve(relay::READ_SIZE);
        match deadline.within(due, upstream.read_buf(ubuf)).await {
            None => return Err(AttemptError::Timeout),
            Some(Ok(0)) if received => {
                return Err(no_response(
                    "the server closed in the middle of its answer".into(),
                ));
            }
            Some(Ok(0)) => {
                return Err(AttemptError::NoResponse {
                    reason: "the server closed without answering".into(),
                    stale: true,
                });
            }
            Some(Ok(_)) => received = true,
            Some(Err(error)) if !received => {
                return Err(AttemptError::NoResponse {
                    reason: error.to_string(),
                    stale: true,
                });
            }
            Some(Err(error)) => return Err(no_response(error.to_string())),
        }
    }
}

/// Streams the final answer to the client and pools the server's connection when it can
/// take another request. `answered`: when the answer's head came.
#[allow(clippy::too_many_arguments)]
async fn pass_on<S>(
    client: &mut ClientStream<S>,
    mut upstream: TcpStream,
    mut ubuf: BytesMut,
    response: ResponseHead,
    server: &Arc<Server>,
    max_idle: usize,
    close: bool,
    timeout: Duration,
    answered: Instant,
) -> Next
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut head = response.client;
    if close {
        head.extend_from_slice(b"connection: close\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let mut body = match response.framing {
        Framing::Empty => Body::Length(0),
        Framing::Length(length) => Body::Length(length),
        Framing::Chunked => Body::Chunked(Chunked::default()),
        Framing::UntilClose => Body::UntilClose,
    };
    // The client's stream has its own send timeout.
    let stalls = relay::Stalls {
        read: timeout,
        write: None,
    };
    // A body that came with the head leaves the connection idle since then.
    let whole = body.whole_in(&ubuf).is_some();
    let mut counted = Counted::new(&mut upstream, &*server.metrics);
    let copied = relay::copy(&mut counted, client, &mut ubuf, &mut body, &head, stalls).await;
    match copied {
        Ok(()) => {
            if response.reusable && ubuf.is_empty() {
                let since = if whole { answered } else { Instant::now() };
                server.pool.put_at(upstream, max_idle, since);
            }
            Spare::Answer.give(ubuf);
            if client.flush().await.is_err() {
                return Next::Close;
            }
            if close { Next::Close } else { Next::KeepAlive }
        }
        Err(error) => {
            if error.is_read_side() {
                warn_limited!(log_limit::BODY_CUT, server = %server.address, %error, "response body cut short");
            } else {
                tracing::debug!(%error, "client went away during the response");
            }
            Next::Close
        }
    }
}

/// Sends one of the proxy's own answers to the request with `head`. The request's body,
/// when all of it was read, is dropped from the buffer; when it was not, or the answer
/// closes, or the client asked for it, the connection closes after the answer.
async fn own_answer<S>(
    call: &ServeCall,
    client: &mut ClientStream<S>,
    buf: &mut BytesMut,
    buffered: Option<usize>,
    head: &RequestHead,
    answer: OwnAnswer,
) -> Next
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let buffered = buffered.filter(|_| !answer.closes());
    let close = buffered.is_none() || head.close || is_draining(call);
    if let Some(length) = buffered {
        buf.advance(length);
    }
    let is_head = head.method == Method::HEAD;
    let bytes = answer.http1(&call.shared.connections, close, is_head);
    let written = client.write_all(&bytes).await;
    if close || written.is_err() || client.flush().await.is_err() {
        Next::Close
    } else {
        Next::KeepAlive
    }
}

/// After an answer that came before the whole request body went to the server (a 413 or
/// 401 from a server that then closed), reads the rest of the body from the client and drops
/// it, up to its end by its framing: the connection can then take the next request, and
/// when it closes instead, the client has read its answer rather than a reset (see
/// [`DISCARD_TIME`], which with [`DISCARD_SILENCE`] and [`DISCARD_BYTES`] bounds it).
/// HAProxy 2.6 closes at once (the client's writes fail); nginx 1.22
/// shuts its side and reads on. `closing`: the answer said `connection: close`; this side
/// is shut first, so that a client that reads as it sends sees the answer end at once.
/// True when the body's end came.
async fn discard_rest<S>(
    client: &mut ClientStream<S>,
    buf: &mut BytesMut,
    mut rest: Body,
    closing: bool,
) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if closing && client.shutdown().await.is_err() {
        return false;
    }
    let stalls = relay::Stalls {
        read: DISCARD_SILENCE,
        write: None,
    };
    let mut sink = tokio::io::sink();
    // At most DISCARD_BYTES more: past them the read ends, as if the client had closed.
    let mut limited = (&mut *client).take(DISCARD_BYTES);
    let discard = relay::copy(&mut limited, &mut sink, buf, &mut rest, b"", stalls);
    matches!(
        tokio::time::timeout(DISCARD_TIME, discard).await,
        Ok(Ok(()))
    )
}

/// True once the listener is stopping: answers say `connection: close`.
fn is_draining(call: &ServeCall) -> bool {
    *call.stop.borrow() != Stop::Run
}
