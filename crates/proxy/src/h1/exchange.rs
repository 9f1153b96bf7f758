//! One request on the HTTP/1.1 path, done by the client connection's own task: choose a
//! server, take a pooled connection to it (or open one), send the head and body, read the
//! answer and stream it back, then put the server's connection back in the pool. No other
//! task, channel or header map is involved, which is where this path's speed comes from.
//!
//! A request whose body is all in the buffer (most are) can be sent again: to a fresh
//! connection when a pooled one turns out closed, and to another server after a failed
//! connect (any method) or a failure before the answer (idempotent methods), as
//! [`forward`](crate::forward) does for hyper's path.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf as _, BytesMut};
use http::{Method, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::chunked::Chunked;
use super::relay::{self, Body, CopyError};
use super::request::{BodyFraming, RequestHead};
use super::response::{self, Framing, ResponseHead};
use crate::counted::Counted;
use crate::forward::{self, BAD_GATEWAY, BODY_TIMEOUT, GATEWAY_TIMEOUT, NO_SERVERS};
use crate::log_limit::{self, warn_limited};
use crate::serving::Listener;
use crate::stop::Stop;
use crate::stream::ClientStream;
use crate::upstream::{Server, Unavailable, Upstreams};

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

/// Why an attempt on one server ended without an answer to pass on.
enum Failure {
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

/// Serves one request; the answer is on its way to the client when this returns.
pub(super) async fn run<S>(
    listener: &Listener,
    upstreams: &Upstreams,
    client: &mut ClientStream<S>,
    buf: &mut BytesMut,
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
    let key = upstreams
        .algorithm()
        .hash_on()
        .and_then(|on| on.key(request.peer.ip(), path, |_| hashed));
    let body = head.body.map(|framing| match framing {
        BodyFraming::Length(length) => Body::Length(length),
        BodyFraming::Chunked => Body::Chunked(Chunked::default()),
    });
    // The body's length when all of it is in the buffer already; it stays there until an
    // answer came, so that the request can be sent again.
    let buffered = match &body {
        None => Some(0),
        Some(body) => body.whole_in(buf),
    };
    let is_head = head.method == Method::HEAD;
    let idempotent = forward::is_idempotent(&head.method);
    let mut tried: Vec<usize> = Vec::new();
    let mut ubuf = BytesMut::new();
    // After a pooled connection turned out closed: the server to try again on a fresh one.
    let mut fresh_on: Option<usize> = None;
    // Part of the body was taken from the client: it cannot be sent again.
    let mut streamed = false;

    loop {
        let (index, fresh) = match fresh_on.take() {
            Some(index) => (index, true),
            None => match upstreams.pick(&tried, key.as_ref()) {
                Ok(index) => (index, false),
                Err(unavailable) => {
                    let (status, text) = match unavailable {
                        _ if !tried.is_empty() => {
                            warn_limited!(
                                log_limit::NO_SERVER,
                                "{} {path}: no other server to try: 502",
                                head.method
                            );
                            (StatusCode::BAD_GATEWAY, BAD_GATEWAY.to_owned())
                        }
                        Unavailable::NoServers => {
                            (StatusCode::SERVICE_UNAVAILABLE, NO_SERVERS.to_owned())
                        }
                        Unavailable::AllDown(down) => {
                            let text = down.message();
                            warn_limited!(log_limit::NO_SERVER, "{}", text.trim_end());
                            (StatusCode::SERVICE_UNAVAILABLE, text)
                        }
                    };
                    return own_answer(listener, client, buf, buffered, is_head, status, &text)
                        .await;
                }
            },
        };
        let server = upstreams.server(index);
        let _active = upstreams.begin(index);
        let timeout = upstreams.upstream_timeout;
        let pool = upstreams.pool_settings();
        let pooled = if fresh {
            None
        } else {
            server.pool.take(pool.idle_timeout)
        };
        let reused = pooled.is_some();
        let streams_body = body.is_some() && buffered.is_none();
        let mut connected = false;
        let attempt = async {
            let mut upstream = match pooled {
                Some(upstream) => upstream,
                None => connect(server.address, pool.connect_timeout)
                    .await
                    .map_err(Failure::Connect)?,
            };
            connected = true;
            let mut counted = Counted::new(&mut upstream, &*server.metrics);
            let sent_at = Instant::now();
            // The client has `client_body_timeout` for each piece of its body, the server
            // `timeout` to take each one.
            let stalls = relay::Stalls {
                read: listener.shared.config.limits.client_body_timeout,
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
            )
            .await;
            let body_complete = match sent {
                Ok(()) => true,
                Err(error) if error.is_read_side() => return Err(Failure::Client(error)),
                // The server stopped taking the request: waiting for its answer as well
                // would only double the client's wait.
                Err(CopyError::WriteStalled(_)) => return Err(Failure::Timeout),
                // The server may have answered early (413, say) and closed: look for it.
                Err(_) => false,
            };
            let response = read_head(client, &mut counted, &mut ubuf, is_head, timeout)
                .await
                .map_err(|failure| match failure {
                    // Nothing at all came back on a pooled connection: the server had closed
                    // it. A server that began answering saw the request.
                    Failure::NoResponse { reason, stale } => Failure::NoResponse {
                        reason,
                        stale: stale && reused && body_complete,
                    },
                    other => other,
                })?;
            Ok((upstream, response, sent_at, body_complete))
        };
        let failure = match attempt.await {
            Ok((upstream, response, sent_at, body_complete)) => {
                server.metrics.responded(response.status, sent_at.elapsed());
                if forward::is_server_trouble(response.status) {
                    listener.shared.backends.failed(upstreams, index);
                } else {
                    upstreams.succeeded(index);
                }
                if let Some(length) = buffered {
                    buf.advance(length);
                }
                let close = head.close
                    || !body_complete
                    || response.framing == Framing::UntilClose
                    || is_draining(listener);
                return pass_on(
                    client,
                    upstream,
                    ubuf,
                    response,
                    server,
                    pool.max_idle,
                    close,
                    timeout,
                )
                .await;
            }
            Err(failure) => failure,
        };
        streamed |= streams_body && connected;
        ubuf.clear();
        let resendable = !streamed;
        let (status, text) = match failure {
            Failure::Client(error) => {
                tracing::debug!(peer = %request.peer, %error, "client failed during its request body");
                let (status, text) = match error {
                    CopyError::Framing(_) => (
                        StatusCode::BAD_REQUEST,
                        "400 bad request: malformed chunked body\n",
                    ),
                    // nginx's `client_body_timeout`: the client is the slow one.
                    CopyError::Stalled(_) => (StatusCode::REQUEST_TIMEOUT, BODY_TIMEOUT),
                    _ => return Next::Close,
                };
                own_answer(listener, client, buf, None, is_head, status, text).await;
                return Next::Close;
            }
            Failure::Timeout => {
                server.metrics.timed_out();
                listener.shared.backends.failed(upstreams, index);
                warn_limited!(log_limit::GATEWAY_TIMEOUT, server = %server.address, "no response in {timeout:?}: 504");
                (StatusCode::GATEWAY_TIMEOUT, GATEWAY_TIMEOUT)
            }
            Failure::NoResponse {
                stale: true,
                reason,
            } if resendable => {
                tracing::debug!(server = %server.address, reason, "pooled connection was closed; trying a fresh one");
                // Nothing was lost: try the same server again on a new connection, once.
                server.pool.clear();
                server.metrics.retried();
                fresh_on = Some(index);
                continue;
            }
            Failure::Connect(error) if forward::out_of_local_resources(&error) => {
                // Not the server's fault, and another server would fare no better.
                warn_limited!(log_limit::LOCAL_RESOURCES, server = %server.address, %error, "out of sockets or memory: 502");
                (StatusCode::BAD_GATEWAY, BAD_GATEWAY)
            }
            Failure::Connect(error) => {
                server.metrics.connect_failed();
                listener.shared.backends.failed(upstreams, index);
                tried.push(index);
                if resendable && tried.len() <= upstreams.retries as usize {
                    server.metrics.retried();
                    tracing::debug!(server = %server.address, %error, "connect failed; trying another server");
                    continue;
                }
                warn_limited!(log_limit::BAD_GATEWAY, server = %server.address, %error, "{} {path}: 502", head.method);
                (StatusCode::BAD_GATEWAY, BAD_GATEWAY)
            }
            Failure::NoResponse { reason, .. } => {
                tried.push(index);
                if resendable && idempotent && tried.len() <= upstreams.retries as usize {
                    server.metrics.retried();
                    tracing::debug!(server = %server.address, reason, "request failed; trying another server");
                    continue;
                }
                warn_limited!(log_limit::BAD_GATEWAY, server = %server.address, reason, "{} {path}: 502", head.method);
                (StatusCode::BAD_GATEWAY, BAD_GATEWAY)
            }
        };
        return own_answer(listener, client, buf, buffered, is_head, status, text).await;
    }
}

/// Sends the request head and its body: from the buffer when it is all there (left in
/// place, to be sent again if need be), otherwise streamed from the client.
async fn send<S, U>(
    client: &mut ClientStream<S>,
    buf: &mut BytesMut,
    upstream: &mut U,
    head: &RequestHead,
    body: Option<&Body>,
    buffered: Option<usize>,
    stalls: relay::Stalls,
) -> Result<(), CopyError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    U: AsyncWrite + Unpin,
{
    match (body, buffered) {
        (Some(body), None) => {
            relay::copy(client, upstream, buf, body.clone(), &head.upstream, stalls).await
        }
        (_, buffered) => {
            let body = &buf[..buffered.unwrap_or(0)];
            relay::write_within(upstream, &head.upstream, body, stalls.write).await
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
    timeout: Duration,
) -> Result<ResponseHead, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + Unpin,
{
    let no_response = |reason: String| Failure::NoResponse {
        reason,
        stale: false,
    };
    let mut received = false;
    let deadline = Instant::now() + timeout;
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
                        .map_err(|error| Failure::Client(CopyError::Write(error)))?;
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
        ubuf.reserve(relay::READ_SIZE);
        match tokio::time::timeout_at(deadline, upstream.read_buf(ubuf)).await {
            Err(_) => return Err(Failure::Timeout),
            Ok(Ok(0)) if received => {
                return Err(no_response(
                    "the server closed in the middle of its answer".into(),
                ));
            }
            Ok(Ok(0)) => {
                return Err(Failure::NoResponse {
                    reason: "the server closed without answering".into(),
                    stale: true,
                });
            }
            Ok(Ok(_)) => received = true,
            Ok(Err(error)) if !received => {
                return Err(Failure::NoResponse {
                    reason: error.to_string(),
                    stale: true,
                });
            }
            Ok(Err(error)) => return Err(no_response(error.to_string())),
        }
    }
}

/// Streams the final answer to the client and pools the server's connection when it can
/// take another request.
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
) -> Next
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut head = response.client;
    if close {
        head.extend_from_slice(b"connection: close\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let body = match response.framing {
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
    let mut counted = Counted::new(&mut upstream, &*server.metrics);
    let copied = relay::copy(&mut counted, client, &mut ubuf, body, &head, stalls).await;
    match copied {
        Ok(()) => {
            if response.reusable && ubuf.is_empty() {
                server.pool.put(upstream, max_idle);
            }
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

/// Answers the client with a short plain-text message of the proxy's own. The request's
/// body, when all of it was read, is dropped from the buffer; when it was not, the
/// connection closes after the answer.
async fn own_answer<S>(
    listener: &Listener,
    client: &mut ClientStream<S>,
    buf: &mut BytesMut,
    buffered: Option<usize>,
    is_head: bool,
    status: StatusCode,
    text: &str,
) -> Next
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    listener.shared.connections.answered_by_proxy(status);
    let close = buffered.is_none() || is_draining(listener);
    if let Some(length) = buffered {
        buf.advance(length);
    }
    let mut answer = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n{}\r\n",
        text.len(),
        if close { "connection: close\r\n" } else { "" },
    );
    if !is_head {
        answer.push_str(text);
    }
    let written = client.write_all(answer.as_bytes()).await;
    if close || written.is_err() || client.flush().await.is_err() {
        Next::Close
    } else {
        Next::KeepAlive
    }
}

/// True once the listener is stopping: answers say `connection: close`.
fn is_draining(listener: &Listener) -> bool {
    *listener.stop.borrow() != Stop::Run
}

/// Opens a connection to a server.
async fn connect(address: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect(address))
        .await
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no connection in {timeout:?}"),
            )
        })??;
    stream.set_nodelay(true)?;
    Ok(stream)
}
