//! The admin HTTP listener: `GET /metrics` (Prometheus), `GET /status.json` (what
//! `baton status --json` prints), `GET /history.json` (the last minutes of each instance's
//! state and each backend's request rate) and `GET /` (a status page that polls both).
//!
//! It runs on tasks of its own and only reads: the VRRP status the protocol task publishes
//! on a watch, and the proxies' atomics. Nothing here can hold the protocol task up. Every
//! connection is bounded (how many at once, how long for the head, how long in all), so
//! a misbehaving client costs at most its own connection.

mod encode;
mod history;
mod l4_metrics;
mod metrics;
mod page;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::published::{ProxyRegistry, VirtualServerRegistry, snapshot};
use crate::status::Status;
use history::History;
use metrics::FrontendMetrics;

/// Connections served at once; more are closed at once. Scrapers and a few browsers need
/// far fewer.
const MAX_CONNECTIONS: usize = 32;
/// A request head must arrive within this (also closes idle keep-alive connections).
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// No connection lives longer, whatever the client does (a client that never reads its
/// answer included).
const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

/// What the admin listener reads from.
#[derive(Debug, Clone)]
pub(crate) struct Sources {
    /// VRRP instances, as the protocol task last published them.
    pub(crate) status: watch::Receiver<Status>,
    /// The running frontends' proxies.
    pub(crate) proxies: ProxyRegistry,
    /// The L4 virtual servers, as last published.
    pub(crate) virtual_servers: VirtualServerRegistry,
}

/// Binds `address`. The daemon's job is failover and balancing: a port that cannot be had
/// is logged and the daemon runs without this listener.
pub(crate) async fn bind(address: SocketAddr) -> Option<TcpListener> {
    match TcpListener::bind(address).await {
        Ok(listener) => {
            let shown = listener.local_addr().unwrap_or(address);
            tracing::info!("admin listener on http://{shown}/ (metrics at /metrics)");
            Some(listener)
        }
        Err(error) => {
            tracing::error!(
                "admin listener {address}: {error}; running without metrics and status page"
            );
            None
        }
    }
}

/// Serves `listener` until the task is aborted; the same task samples the history.
pub(crate) fn spawn(listener: TcpListener, sources: Sources) -> JoinHandle<()> {
    let sources = Arc::new(sources);
    let history = Arc::new(Mutex::new(History::default()));
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(16 * 1024);
    tokio::spawn(async move {
        // The first tick is at once: the history starts with the daemon.
        let mut ticks = tokio::time::interval(history::INTERVAL);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut sampled_at = Instant::now();
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = ticks.tick() => {
                    let sample = sample(&sources);
                    let mut rings = history.lock().unwrap_or_else(|e| e.into_inner());
                    rings.record(sample, sampled_at.elapsed());
                    drop(rings);
                    sampled_at = Instant::now();
                    continue;
                }
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!("admin listener: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            // Over the limit: dropping the stream closes it.
            let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                continue;
            };
            let sources = Arc::clone(&sources);
            let history = Arc::clone(&history);
            let connection = http.serve_connection(
                TokioIo::new(stream),
                service_fn(move |request| {
                    let response = answer(&request, &sources, &history);
                    async move { Ok::<_, Infallible>(response) }
                }),
            );
            tokio::spawn(async move {
                let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
                drop(permit);
            });
        }
    })
}

/// The answer to one request; never fails.
fn answer<B>(
    request: &Request<B>,
    sources: &Sources,
    history: &Mutex<History>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    let known = matches!(path, "/" | "/metrics" | "/status.json" | "/history.json");
    if !known {
        return plain(
            StatusCode::NOT_FOUND,
            "404 not found: try /, /metrics, /status.json or /history.json\n",
        );
    }
    // HEAD is GET without the body (hyper leaves it out), as RFC 9110 asks of every server.
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "405 method not allowed\n");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match path {
        "/metrics" => {
            // A copy, so that the watch is not held (and the protocol task not kept from
            // publishing) while the text is written.
            let mut status = sources.status.borrow().clone();
            status.virtual_servers = sources
                .virtual_servers
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let text = metrics::render(&status, &frontends(sources));
            body(text, encode::CONTENT_TYPE)
        }
        "/status.json" => match status_json(sources) {
            Ok(json) => body(json, "application/json"),
            Err(error) => plain(StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")),
        },
        "/history.json" => {
            let json = history.lock().unwrap_or_else(|e| e.into_inner()).json();
            match serde_json::to_string(&json) {
                Ok(json) => body(json, "application/json"),
                Err(error) => plain(StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")),
            }
        }
        _ => page::response(),
    }
}

/// Exactly what `baton status --json` prints: the control socket's snapshot, pretty.
fn status_json(sources: &Sources) -> serde_json::Result<String> {
    let status = snapshot(&sources.status, &sources.proxies, &sources.virtual_servers);
    serde_json::to_string_pretty(&status).map(|json| json + "\n")
}

/// Each instance's state and the requests each frontend's servers were sent, now.
fn sample(sources: &Sources) -> history::Sample {
    let instances = sources
        .status
        .borrow()
        .vrrp
        .iter()
        .map(|i| (i.name.clone(), i.state.clone()))
        .collect();
    let backends = frontends(sources)
        .into_iter()
        .map(|f| {
            let requests: u64 = f.metrics.servers.iter().map(|s| s.requests).sum();
            (f.frontend, f.backend, requests)
        })
        .collect();
    history::Sample {
        instances,
        backends,
    }
}

fn frontends(sources: &Sources) -> Vec<FrontendMetrics> {
    let views = sources
        .proxies
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    views
        .into_iter()
        .map(|view| FrontendMetrics {
            metrics: view.proxy.metrics(),
            frontend: view.frontend,
            backend: view.backend,
        })
        .collect()
}

fn body(text: impl Into<Bytes>, content_type: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(text.into()));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Every answer is a snapshot of now.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn plain(status: StatusCode, text: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = body(text, "text/plain; charset=utf-8");
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    fn sources() -> (watch::Sender<Status>, Sources) {
        let (tx, status) = watch::channel(Status::default());
        let sources = Sources {
            status,
            proxies: ProxyRegistry::default(),
            virtual_servers: Default::default(),
        };
        (tx, sources)
    }

    fn request(method: Method, path: &str) -> Request<()> {
        Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .expect("request")
    }

    #[test]
    fn routes_methods_and_content_types() {
        let (_tx, sources) = sources();
        let cases = [
            (
                Method::GET,
                "/metrics",
                StatusCode::OK,
                encode::CONTENT_TYPE,
            ),
            (
                Method::GET,
                "/status.json",
                StatusCode::OK,
                "application/json",
            ),
            (Method::GET, "/", StatusCode::OK, "text/html; charset=utf-8"),
            (
                Method::GET,
                "/history.json",
                StatusCode::OK,
                "application/json",
            ),
            (
                Method::GET,
                "/?refresh=1",
                StatusCode::OK,
                "text/html; charset=utf-8",
            ),
            (
                Method::HEAD,
                "/metrics",
                StatusCode::OK,
                encode::CONTENT_TYPE,
            ),
            (
                Method::GET,
                "/metrics/",
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
            ),
            (
                Method::GET,
                "/index.html",
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
            ),
            (
                Method::POST,
                "/metrics",
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
            ),
            (
                Method::DELETE,
                "/",
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
            ),
        ];
        for (method, path, status, content_type) in cases {
            let response = answer(&request(method.clone(), path), &sources, &Mutex::default());
            assert_eq!(response.status(), status, "{method} {path}");
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                content_type,
                "{method} {path}"
            );
        }
        let refused = answer(&request(Method::PUT, "/"), &sources, &Mutex::default());
        assert_eq!(refused.headers()[header::ALLOW], "GET, HEAD");
    }

    #[test]
    fn status_json_is_what_baton_status_prints() {
        let (tx, sources) = sources();
        let mut status = Status::default();
        status
            .vrrp
            .push(crate::status::InstanceStatus::example("VI_1", "BACKUP"));
        tx.send_replace(status.clone());
        let json = status_json(&sources).expect("json");
        assert_eq!(
            json,
            serde_json::to_string_pretty(&status).expect("json") + "\n"
        );
    }

    /// Over a real socket: garbage, a silent client and an oversized head each cost only
    /// their own connection, and the listener keeps answering.
    #[tokio::test]
    async fn survives_bad_clients() {
        let (_tx, sources) = sources();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let task = spawn(listener, sources);

        async fn exchange(address: SocketAddr, bytes: &[u8]) -> String {
            let mut stream = tokio::net::TcpStream::connect(address)
                .await
                .expect("connect");
            let _ = stream.write_all(bytes).await;
            let mut reply = Vec::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut reply)).await;
            String::from_utf8_lossy(&reply).into_owned()
        }
        let get = b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

        let _silent = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let garbage = exchange(address, &[0xff; 4096]).await;
        assert!(
            garbage.is_empty() || garbage.starts_with("HTTP/1.1 400"),
            "{garbage}"
        );
        let mut huge = b"GET / HTTP/1.1\r\nX: ".to_vec();
        huge.extend(std::iter::repeat_n(b'a', 100_000));
        let oversized = exchange(address, &huge).await;
        assert!(
            oversized.is_empty() || oversized.starts_with("HTTP/1.1 431"),
            "{oversized}"
        );
        let answer = exchange(address, get).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("# TYPE baton_vrrp_state gauge"), "{answer}");
        task.abort();
    }
}
