//! One request on hyper's path: rewrite its headers, choose a server, send it there over a
//! connection from the server's pool (`upstream_client`), again when the forwarding policy
//! says so, and stream the answer back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body::Body as _;
use hyper::body::Incoming;

use crate::activity::InFlight;
use crate::forward_policy::{Failure, ForwardPolicy, Next, out_of_local_resources};
use crate::headers;
use crate::log_limit::{self, warn_limited};
use crate::own_answer::OwnAnswer;
use crate::request_body::{self, BodySlot, Progress};
use crate::response_body::{Done, ResponseBody};
use crate::server_verdict;
use crate::serving::ServeCall;
use crate::upstream_client::{self, SendError, ServerBody, Target};

/// Serves one client request; never fails: trouble becomes 502, 503 or 504.
pub(crate) async fn handle(
    call: &Arc<ServeCall>,
    mut request: Request<Incoming>,
    peer: SocketAddr,
    in_flight: InFlight,
) -> Response<ResponseBody> {
    let shared = &call.shared;
    let counters = &shared.connections;
    if request.method() == Method::CONNECT {
        return OwnAnswer::NotATunnel.response(counters, in_flight);
    }
    if let Some(problem) = headers::host_problem(
        request.version(),
        request.uri().authority(),
        request.headers(),
    ) {
        tracing::debug!(%peer, problem, "bad Host: 400");
        // Closed after the answer: whatever follows on the connection is suspect too.
        return OwnAnswer::BadHost.response(counters, in_flight);
    }
    // RFC 9112 6.1, 6.3: hyper took the body by its final chunked, but the server would get
    // it unlabelled (Transfer-Encoding is hop-by-hop) or, chunked twice, framed otherwise.
    match headers::transfer_codings(request.headers(), true) {
        headers::Codings::Plain => {}
        headers::Codings::Other(codings) => {
            tracing::debug!(%peer, ?codings, "request body with a transfer coding: 501");
            return OwnAnswer::UnknownCoding.response(counters, in_flight);
        }
        headers::Codings::Unframed => {
            tracing::debug!(%peer, "request body framed by no final chunked: 400");
            return OwnAnswer::UnframedBody.response(counters, in_flight);
        }
    }
    let websocket =
        headers::is_websocket_upgrade(request.method(), request.version(), request.headers());
    let client_upgrade = websocket.then(|| hyper::upgrade::on(&mut request));
    let (mut parts, body) = request.into_parts();
    let received = parts.version;

    if received == Version::HTTP_2 {
        headers::from_http2(&mut parts.headers, parts.uri.authority());
    } else if !parts.headers.contains_key(header::HOST) {
        // An absolute-form request line carries the host in the URI only.
        if let Some(host) = parts
            .uri
            .authority()
            .and_then(|authority| HeaderValue::from_str(authority.as_str()).ok())
        {
            parts.headers.insert(header::HOST, host);
        }
    }
    headers::remove_hop_by_hop(&mut parts.headers, websocket);
    let sender = headers::Sender {
        address: peer.ip(),
        tls: call.transport.is_tls(),
        trusted: shared.config.trusts(peer.ip()),
    };
    headers::add_forwarded(&mut parts.headers, sender, received);
    let path_and_query = match parts.uri.path_and_query() {
        Some(pq) if pq.as_str().starts_with('/') => pq.clone(),
        _ => PathAndQuery::from_static("/"),
    };
    // The set this request started with serves it to the end, whatever a reload does.
    let set = shared.servers.current();
    let key = set.algorithm().hash_on().and_then(|on| {
        on.key(peer.ip(), parts.uri.path(), |name| {
            parts.headers.get(name).map(HeaderValue::as_bytes)
        })
    });
    let mut policy = ForwardPolicy::new(&parts.method, set.retries);

    let mut body = BodySlot::new(body);
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
                    server_verdict::log_no_server(answer, &parts.method, path_and_query.as_str());
                    return answer.response(counters, in_flight);
                }
            },
        };
        let server = Arc::clone(set.server(index));
        let active = set.begin(index);

        let progress = Arc::new(Progress::new());
        let body_timeout = shared.config.limits.client_body_timeout;
        let mut upstream_request = Request::new(body.attempt(Arc::clone(&progress), body_timeout));
        *upstream_request.method_mut() = parts.method.clone();
        *upstream_request.uri_mut() = Uri::from(path_and_query.clone());
        *upstream_request.headers_mut() = parts.headers.clone();

        let timeout = set.upstream_timeout;
        let sent_at = tokio::time::Instant::now();
        let target = Target {
            server: &server,
            pool: set.pool_settings(),
            fresh,
        };
        let sending = upstream_client::send(target, upstream_request);
        let sent = within(timeout, &progress, sending).await;
        let (failure, error) = match sent {
            Some(Ok(response)) => {
                server
                    .metrics
                    .responded(response.status(), sent_at.elapsed());
                let blame = policy.answered(response.status());
                server_verdict::record(&shared.servers, &set, index, blame);
                return respond(
                    call,
                    response,
                    received,
                    client_upgrade,
                    active,
                    timeout,
                    body,
                    in_flight,
                );
            }
            // Not the server's fault, and no other server would get the body either.
            Some(Err(_)) if progress.client_stalled() => (Failure::ClientStalled, None),
            // The server may be stuck taking the body: its connection went with the attempt,
            // and the rest of the body is read and dropped after the 504 (see below).
            None => (Failure::Timeout, None),
            Some(Err(error)) => {
                let failure = match &error {
                    SendError::Connect(io) if out_of_local_resources(io) => Failure::LocalResources,
                    SendError::Connect(_) => Failure::Connect,
                    SendError::NoResponse { stale, .. } => Failure::NoResponse { stale: *stale },
                    // The client broke its body's framing (trailers included): 400, as on
                    // the HTTP/1.1 path.
                    SendError::Client(error) if request_body::is_malformed(error) => {
                        Failure::ClientMalformed
                    }
                    // The client's body failed otherwise than by stalling: it went away.
                    // The request is over; the policy hears of it as a request that got no
                    // answer, as this path always told it.
                    SendError::Client(_) => Failure::NoResponse { stale: false },
                };
                (failure, Some(error))
            }
        };
        drop(active);
        // Sending again needs the body still here.
        if !body.untouched() {
            policy.body_gone();
        }
        let verdict = policy.failed(failure);
        server_verdict::record_failure(&shared.servers, &set, index, verdict);
        match (failure, &error) {
            (Failure::ClientStalled, _) => tracing::debug!(%peer, "request body too slow: 408"),
            (Failure::NoResponse { .. }, error) if verdict.next == Next::TryFresh => {
                tracing::debug!(server = %server.address, ?error, "pooled connection was closed; trying a fresh one");
            }
            (Failure::Timeout, _) => {
                warn_limited!(log_limit::GATEWAY_TIMEOUT, server = %server.address, "no response in {timeout:?}: 504");
            }
            (Failure::LocalResources, error) => {
                warn_limited!(log_limit::LOCAL_RESOURCES, server = %server.address, ?error, "out of sockets or memory: 502");
            }
            (_, error) if verdict.retries() => {
                tracing::debug!(server = %server.address, ?error, "request failed; trying another server");
            }
            (_, error) => {
                warn_limited!(log_limit::BAD_GATEWAY, server = %server.address, ?error, "{} {}: 502", parts.method, path_and_query);
            }
        }
        match verdict.next {
            Next::TryAnother => {}
            Next::TryFresh => {
                // Its other pooled connections are likely closed too.
                server.pool.clear();
                fresh_on = Some(index);
            }
            // The rest of a body the server stopped taking is read and dropped after the
            // answer, as after a server's early one, so that hyper need not close on it.
            Next::Answer(answer) => {
                let response = answer.response(counters, in_flight);
                return response.map(|answer| answer.discarding(body));
            }
            // Not reported on this path (a client gone shows as a failed request); should it
            // come, the 502 this path always gave.
            Next::Close => return OwnAnswer::BadGateway.response(counters, in_flight),
        }
    }
}

/// Streams a server's response to the client (whose request came in `version`), or sets up
/// a WebSocket tunnel for a 101. `request_body`: the client's, whose rest is read and
/// dropped after the answer when the server answered before taking all of it.
#[allow(clippy::too_many_arguments)]
fn respond(
    call: &Arc<ServeCall>,
    response: Response<ServerBody>,
    version: Version,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    active: crate::upstream::ActiveGuard,
    timeout: Duration,
    request_body: BodySlot,
    in_flight: InFlight,
) -> Response<ResponseBody> {
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) =
            client_upgrade.filter(|_| headers::is_websocket_accept(response.headers()))
        else {
            warn_limited!(
                log_limit::BAD_GATEWAY,
                "server switched protocols unasked: 502"
            );
            let counters = &call.shared.connections;
            return OwnAnswer::BadGateway.response(counters, in_flight);
        };
        let (mut parts, body) = response.into_parts();
        let server_upgrade = body
            .into_upgraded()
            .expect("a 101's body is its connection");
        crate::tunnel::spawn(Arc::clone(call), client_upgrade, server_upgrade, active);
        headers::remove_hop_by_hop(&mut parts.headers, true);
        headers::append_via(&mut parts.headers, parts.version);
        parts.version = Version::HTTP_11;
        return Response::from_parts(parts, ResponseBody::full("", Done::new(in_flight, None)));
    }
    let (mut parts, body) = response.into_parts();
    // RFC 9112 6.1: codings other than chunked are the client's to undo, so it must be told
    // of them. hyper frames the body again and names them with its own final chunked, which
    // only an HTTP/1.1 client can be sent (HTTP/2 has no transfer codings).
    let codings = match headers::transfer_codings(&parts.headers, false) {
        headers::Codings::Plain => None,
        headers::Codings::Other(codings) => Some(codings),
        headers::Codings::Unframed => {
            warn_limited!(log_limit::BAD_GATEWAY, "server applied chunked twice: 502");
            return OwnAnswer::BadGateway.response(&call.shared.connections, in_flight);
        }
    };
    if codings.is_some() && version != Version::HTTP_11 && !body.is_end_stream() {
        warn_limited!(
            log_limit::BAD_GATEWAY,
            ?version,
            "a transfer coding this client cannot be told of: 502"
        );
        return OwnAnswer::BadGateway.response(&call.shared.connections, in_flight);
    }
    headers::remove_hop_by_hop(&mut parts.headers, false);
    if let Some(codings) = codings {
        // RFC 9112 6.3: Transfer-Encoding overrides Content-Length, which must not reach
        // the client beside it.
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.insert(header::TRANSFER_ENCODING, codings);
    }
    headers::append_via(&mut parts.headers, parts.version);
    // hyper answers an HTTP/1.0 client in HTTP/1.0 whatever this says.
    parts.version = if version == Version::HTTP_2 {
        Version::HTTP_2
    } else {
        Version::HTTP_11
    };
    Response::from_parts(
        parts,
        ResponseBody::upstream(
            body,
            timeout,
            request_body,
            Done::new(in_flight, Some(active)),
        ),
    )
}

/// Waits for `response`, giving up once the request has made no progress for `timeout`:
/// a slow upload keeps the wait going for as long as its body keeps moving, and while the
/// server waits for the client's next piece the client body timeout is in charge instead
/// (it ends `response` with an error).
async fn within<F: Future>(
    timeout: Duration,
    progress: &Progress,
    response: F,
) -> Option<F::Output> {
    tokio::pin!(response);
    let mut deadline = progress.last() + timeout;
    loop {
        tokio::select! {
            output = &mut response => return Some(output),
            () = tokio::time::sleep_until(deadline) => {
                let now = tokio::time::Instant::now();
                deadline = progress.last() + timeout;
                if deadline <= now && progress.awaiting_client() {
                    deadline = now + timeout;
                } else if deadline <= now {
                    return None;
                }
            }
        }
    }
}
