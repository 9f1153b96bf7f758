//! One request: rewrite its headers, choose a server, send it there (again elsewhere if that
//! failed before anything was sent), and stream the answer back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::uri::{PathAndQuery, Scheme};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;

use crate::activity::InFlight;
use crate::headers;
use crate::log_limit::{self, warn_limited};
use crate::request_body::{BodySlot, Progress};
use crate::response_body::{Done, ResponseBody};
use crate::serving::Listener;
use crate::upstream::Unavailable;

/// Serves one client request; never fails: trouble becomes 502, 503 or 504.
pub(crate) async fn handle(
    listener: &Arc<Listener>,
    mut request: Request<Incoming>,
    peer: SocketAddr,
    in_flight: InFlight,
) -> Response<ResponseBody> {
    let shared = &listener.shared;
    if request.method() == Method::CONNECT {
        return message(StatusCode::METHOD_NOT_ALLOWED, NOT_TUNNEL, in_flight);
    }
    if let Some(problem) = headers::host_problem(
        request.version(),
        request.uri().authority(),
        request.headers(),
    ) {
        tracing::debug!(%peer, problem, "bad Host: 400");
        // Closed after the answer: whatever follows on the connection is suspect too.
        return closing(message(StatusCode::BAD_REQUEST, BAD_HOST, in_flight));
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
        tls: listener.transport.is_tls(),
        trusted: shared.config.trusts(peer.ip()),
    };
    headers::add_forwarded(&mut parts.headers, sender, received);
    let path_and_query = match parts.uri.path_and_query() {
        Some(pq) if pq.as_str().starts_with('/') => pq.clone(),
        _ => PathAndQuery::from_static("/"),
    };
    // The set this request started with serves it to the end, whatever a reload does.
    let upstreams = shared.backends.current();
    let key = upstreams.algorithm().hash_on().and_then(|on| {
        on.key(peer.ip(), parts.uri.path(), |name| {
            parts.headers.get(name).map(HeaderValue::as_bytes)
        })
    });
    let idempotent = is_idempotent(&parts.method);

    let mut body = BodySlot::new(body);
    let mut tried: Vec<usize> = Vec::new();
    loop {
        let index = match upstreams.pick(&tried, key.as_ref()) {
            Ok(index) => index,
            Err(_) if !tried.is_empty() => {
                warn_limited!(
                    log_limit::NO_SERVER,
                    "{} {}: no other server to try: 502",
                    parts.method,
                    path_and_query
                );
                return message(StatusCode::BAD_GATEWAY, BAD_GATEWAY, in_flight);
            }
            Err(Unavailable::NoServers) => {
                return message(StatusCode::SERVICE_UNAVAILABLE, NO_SERVERS, in_flight);
            }
            Err(Unavailable::AllDown(down)) => {
                let text = down.message();
                warn_limited!(log_limit::NO_SERVER, "{}", text.trim_end());
                return message(StatusCode::SERVICE_UNAVAILABLE, text, in_flight);
            }
        };
        let server = Arc::clone(upstreams.server(index));
        let active = upstreams.begin(index);

        let mut uri = http::uri::Parts::default();
        uri.scheme = Some(Scheme::HTTP);
        uri.authority = Some(server.authority.clone());
        uri.path_and_query = Some(path_and_query.clone());
        let progress = Arc::new(Progress::new());
        let body_timeout = shared.config.limits.client_body_timeout;
        let mut upstream_request = Request::new(body.attempt(Arc::clone(&progress), body_timeout));
        *upstream_request.method_mut() = parts.method.clone();
        *upstream_request.uri_mut() = Uri::from_parts(uri).expect("scheme, authority and path");
        *upstream_request.version_mut() = Version::HTTP_11;
        *upstream_request.headers_mut() = parts.headers.clone();

        let timeout = upstreams.upstream_timeout;
        let sent_at = tokio::time::Instant::now();
        let sent = within(
            timeout,
            &progress,
            upstreams.client.request(upstream_request),
        )
        .await;
        let error = match sent {
            Some(Ok(response)) => {
                server
                    .metrics
                    .responded(response.status(), sent_at.elapsed());
                if is_server_trouble(response.status()) {
                    shared.backends.failed(&upstreams, index);
                } else {
                    upstreams.succeeded(index);
                }
                return respond(
                    listener,
                    response,
                    received,
                    client_upgrade,
                    active,
                    timeout,
                    in_flight,
                );
            }
            Some(Err(_)) if progress.client_stalled() => {
                // Not the server's fault, and no other server would get the body either.
                tracing::debug!(%peer, "request body too slow: 408");
                return closing(message(
                    StatusCode::REQUEST_TIMEOUT,
                    BODY_TIMEOUT,
                    in_flight,
                ));
            }
            Some(Err(error)) => error,
            None => {
                // The server may be stuck taking the body: let go of it, so that the
                // client's connection is not held by the server's.
                body.abandon();
                server.metrics.timed_out();
                shared.backends.failed(&upstreams, index);
                warn_limited!(log_limit::GATEWAY_TIMEOUT, server = %server.address, "no response in {timeout:?}: 504");
                return message(StatusCode::GATEWAY_TIMEOUT, GATEWAY_TIMEOUT, in_flight);
            }
        };
        drop(active);
        if out_of_local_resources(&error) {
            // Not the server's fault, and another server would fare no better.
            warn_limited!(log_limit::LOCAL_RESOURCES, server = %server.address, ?error, "out of sockets or memory: 502");
            return message(StatusCode::BAD_GATEWAY, BAD_GATEWAY, in_flight);
        }
        let connect = error.is_connect();
        if connect {
            server.metrics.connect_failed();
            shared.backends.failed(&upstreams, index);
        }
        tried.push(index);
        // Sending again is safe when the server cannot have seen the request (a failed
        // connect), or when the method is idempotent; either way the body must still be here.
        let retry = tried.len() <= upstreams.retries as usize
            && body.untouched()
            && (connect || idempotent);
        if retry {
            server.metrics.retried();
            tracing::debug!(server = %server.address, ?error, "request failed; trying another server");
            continue;
        }
        warn_limited!(log_limit::BAD_GATEWAY, server = %server.address, ?error, "{} {}: 502", parts.method, path_and_query);
        return message(StatusCode::BAD_GATEWAY, BAD_GATEWAY, in_flight);
    }
}

/// Streams a server's response to the client (whose request came in `version`), or sets up
/// a WebSocket tunnel for a 101.
fn respond(
    listener: &Arc<Listener>,
    mut response: Response<Incoming>,
    version: Version,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    active: crate::upstream::ActiveGuard,
    timeout: Duration,
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
            return message(StatusCode::BAD_GATEWAY, BAD_GATEWAY, in_flight);
        };
        let server_upgrade = hyper::upgrade::on(&mut response);
        crate::tunnel::spawn(Arc::clone(listener), client_upgrade, server_upgrade, active);
        let (mut parts, _) = response.into_parts();
        headers::remove_hop_by_hop(&mut parts.headers, true);
        headers::append_via(&mut parts.headers, parts.version);
        parts.version = Version::HTTP_11;
        return Response::from_parts(parts, ResponseBody::full("", Done::new(in_flight, None)));
    }
    let (mut parts, body) = response.into_parts();
    headers::remove_hop_by_hop(&mut parts.headers, false);
    headers::append_via(&mut parts.headers, parts.version);
    // hyper answers an HTTP/1.0 client in HTTP/1.0 whatever this says.
    parts.version = if version == Version::HTTP_2 {
        Version::HTTP_2
    } else {
        Version::HTTP_11
    };
    Response::from_parts(
        parts,
        ResponseBody::upstream(body, timeout, Done::new(in_flight, Some(active))),
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

/// True when the error comes from this host running out of descriptors, ports or memory.
pub(crate) fn out_of_local_resources(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(error) = source {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            return matches!(
                io.raw_os_error(),
                Some(
                    libc::EMFILE
                        | libc::ENFILE
                        | libc::ENOBUFS
                        | libc::ENOMEM
                        | libc::EADDRNOTAVAIL
                )
            );
        }
        source = error.source();
    }
    false
}

/// The answers that count as a server failure for ejection, as nginx's `max_fails` with
/// `http_502 http_503 http_504` and HAProxy's `observe layer7` count them: the server, or
/// whatever it fronts, is broken or overloaded.
pub(crate) fn is_server_trouble(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
    )
}

/// RFC 9110 9.2.2: methods whose request may be sent twice.
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

const BAD_HOST: &str = "400 bad request: Host missing, repeated, or not the target's host\n";
const NOT_TUNNEL: &str = "405 method not allowed: this is a reverse proxy, not a tunnel\n";
pub(crate) const BAD_GATEWAY: &str = "502 bad gateway: the server did not answer\n";
pub(crate) const NO_SERVERS: &str = "503 service unavailable: no servers configured\n";
pub(crate) const BODY_TIMEOUT: &str = "408 request timeout: the request body stopped coming\n";
pub(crate) const GATEWAY_TIMEOUT: &str = "504 gateway timeout: the server did not answer in time\n";

/// `response` with `Connection: close`, which makes hyper close the client's HTTP/1
/// connection after it. hyper drops the field from HTTP/2 answers, which have no such field;
/// there the stream ends and the connection stays.
fn closing(mut response: Response<ResponseBody>) -> Response<ResponseBody> {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Marks a response as the proxy's own (not a server's), for the metrics.
#[derive(Debug, Clone, Copy)]
struct OwnAnswer;

/// Counts `response` among the proxy's own answers if [`message`] made it.
pub(crate) fn count_own_answer(listener: &Listener, response: &Response<ResponseBody>) {
    if response.extensions().get::<OwnAnswer>().is_some() {
        listener
            .shared
            .connections
            .answered_by_proxy(response.status());
    }
}

/// A short plain-text answer of the proxy's own.
fn message(
    status: StatusCode,
    text: impl Into<bytes::Bytes>,
    in_flight: InFlight,
) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(text, Done::new(in_flight, None)));
    *response.status_mut() = status;
    response.extensions_mut().insert(OwnAnswer);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapper(std::io::Error);

    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("connect failed")
        }
    }

    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn running_out_of_descriptors_is_not_the_servers_fault() {
        let local = Wrapper(std::io::Error::from_raw_os_error(libc::EMFILE));
        assert!(out_of_local_resources(&local));
        let refused = Wrapper(std::io::Error::from_raw_os_error(libc::ECONNREFUSED));
        assert!(!out_of_local_resources(&refused));
    }

    #[test]
    fn only_gateway_errors_are_server_trouble() {
        for status in [502, 503, 504] {
            assert!(is_server_trouble(
                StatusCode::from_u16(status).expect("status")
            ));
        }
        for status in [200, 404, 500, 501, 505] {
            assert!(!is_server_trouble(
                StatusCode::from_u16(status).expect("status")
            ));
        }
    }

    #[test]
    fn idempotent_methods() {
        for method in [Method::GET, Method::HEAD, Method::PUT, Method::DELETE] {
            assert!(is_idempotent(&method));
        }
        assert!(!is_idempotent(&Method::POST));
        assert!(!is_idempotent(&Method::PATCH));
    }
}
