//! `Proxy::metrics`: what a Prometheus exporter reads after real traffic.

mod common;

use std::time::Duration;

use baton_proxy::balance::Algorithm;
use baton_proxy::{HealthCheck, ProxyConfig, ServerConfig, ServerMetrics};
use common::tls::{self, Pki};
use common::{Conn, H2, TestProxy, Upload, Upstream, get};
use http_body_util::BodyExt as _;
use hyper::{Request, StatusCode};

#[tokio::test]
async fn answers_are_counted_by_class_with_their_response_times() {
    let app = Upstream::start("app").await;
    let proxy = TestProxy::start(ProxyConfig::new(vec![app.server()])).await;
    let mut conn = Conn::open(proxy.addr).await;
    for (path, status) in [
        ("/", StatusCode::OK),
        ("/status/204", StatusCode::NO_CONTENT),
        ("/status/301", StatusCode::MOVED_PERMANENTLY),
        ("/status/404", StatusCode::NOT_FOUND),
        ("/status/500", StatusCode::INTERNAL_SERVER_ERROR),
        ("/slow/30", StatusCode::OK),
    ] {
        assert_eq!(conn.get(path).await.0, status, "{path}");
    }
    // A second connection, closed before the snapshot.
    assert_eq!(get(proxy.addr, "/").await.0, StatusCode::OK);

    // The proxy notices the second close a moment after the client made it.
    let mut metrics = proxy.proxy.metrics();
    for _ in 0..100 {
        if metrics.connections_active == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        metrics = proxy.proxy.metrics();
    }
    assert_eq!(metrics.connections_total, 2);
    assert_eq!(metrics.connections_active, 1, "the first is still open");
    let server = &metrics.servers[0];
    assert_eq!(server.address, app.addr);
    assert!(server.up);
    assert_eq!(server.active, 0);
    assert_eq!(server.responses, [0, 4, 1, 1, 1]);
    let histogram = &server.response_time;
    assert_eq!(histogram.count, 7);
    assert_eq!(histogram.cumulative.last(), Some(&7));
    assert_eq!(histogram.cumulative.len(), histogram.bounds.len() + 1);
    assert!(histogram.cumulative.windows(2).all(|w| w[0] <= w[1]));
    assert!(
        histogram.sum >= 0.030,
        "the slow answer took 30 ms: {}",
        histogram.sum
    );
    let at_or_below_25ms = histogram.cumulative[3];
    assert!(at_or_below_25ms < 7, "the 30 ms answer is above 25 ms");
    assert_eq!((server.check_failures, server.ejections), (0, 0));
    proxy.stop().await;
}

#[tokio::test]
async fn ejections_are_counted() {
    let live = Upstream::start("live").await;
    let (dead, _reserved) = common::dead_address();
    let mut config = ProxyConfig::new(vec![ServerConfig::new(dead), live.server()]);
    config.algorithm = Algorithm::RoundRobin;
    let proxy = TestProxy::start(config).await;
    let mut conn = Conn::open(proxy.addr).await;
    // Round robin sends every other request to the dead server first: three failed
    // connects in a row (each retried on the live one) eject it, once.
    for _ in 0..10 {
        assert_eq!(conn.get("/").await.0, StatusCode::OK);
    }
    let metrics = proxy.proxy.metrics();
    let dead = &metrics.servers[0];
    assert!(!dead.up);
    assert_eq!(dead.ejections, 1, "{dead:?}");
    assert_eq!(dead.responses, [0; 5], "a dead server answers nothing");
    assert_eq!(dead.response_time.count, 0);
    assert_eq!(metrics.servers[1].responses[1], 10);
    assert_eq!(metrics.servers[1].ejections, 0);
    proxy.stop().await;
}

#[tokio::test]
async fn failed_checks_are_counted() {
    let live = Upstream::start("live").await;
    let (dead, _reserved) = common::dead_address();
    let mut config = ProxyConfig::new(vec![ServerConfig::new(dead), live.server()]);
    let mut check = HealthCheck::tcp();
    check.interval = Duration::from_millis(20);
    config.health_check = Some(check);
    let proxy = TestProxy::start(config).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let metrics = proxy.proxy.metrics();
    let dead = &metrics.servers[0];
    assert!(!dead.up);
    assert!(dead.check_failures >= 3, "{dead:?}");
    assert_eq!(metrics.servers[1].check_failures, 0);
    proxy.stop().await;
}

/// Uploads `up` bytes and downloads `down` over `h2`, then reads the server's counters.
async fn h2_exchange(h2: &mut H2, proxy: &TestProxy, up: u64, down: u64) -> ServerMetrics {
    let request = Request::post("https://a.example/count")
        .body(Upload { left: up }.map_err(|never| match never {}).boxed())
        .expect("request");
    let body = common::body_text(h2.send_streaming(request).await.into_body()).await;
    assert_eq!(body, format!("received={up}"));
    let (response, body) = h2.get(&format!("https://a.example/big/{down}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body.len() as u64, down);
    proxy.proxy.metrics().servers.remove(0)
}

/// Requests that hyper serves (HTTP/2 from clients, over TLS or not, and HTTP/1.0) count
/// their bytes to and from the server as the HTTP/1.1 path does: at least the bodies, and
/// the heads on top.
#[tokio::test]
async fn bytes_are_counted_for_requests_hyper_serves() {
    let (up, down) = (300_000, 200_000);
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(common::config(&[&a])).await;
    let mut h2c = H2::open(proxy.addr).await;
    let server = h2_exchange(&mut h2c, &proxy, up, down).await;
    assert!(server.bytes_out > up, "h2c: {server:?}");
    assert!(server.bytes_in > down, "h2c: {server:?}");
    // HTTP/1.0 leaves the HTTP/1.1 path for hyper.
    let before = server.bytes_in;
    let answer = common::raw(
        proxy.addr,
        b"GET /big/100000 HTTP/1.0\r\nHost: a.example\r\n\r\n",
        std::time::Duration::from_secs(5),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer:.40}");
    let server = proxy.proxy.metrics().servers.remove(0);
    assert!(server.bytes_in >= before + 100_000, "HTTP/1.0: {server:?}");
    proxy.stop().await;

    let mut pki = Pki::new();
    pki.issue(&["a.example"]);
    let proxy = TestProxy::start_tls(common::config(&[&a]), pki.tls_config()).await;
    let client = pki.client(&[tls::H2], true);
    let stream = tls::connect(&client, proxy.addr, "a.example").await;
    let mut h2 = H2::over(stream).await;
    let server = h2_exchange(&mut h2, &proxy, up, down).await;
    assert!(server.bytes_out > up, "h2 over TLS: {server:?}");
    assert!(server.bytes_in > down, "h2 over TLS: {server:?}");
    proxy.stop().await;
}
