//! `Proxy::metrics`: what a Prometheus exporter reads after real traffic.

mod common;

use std::time::Duration;

use baton_proxy::balance::Algorithm;
use baton_proxy::{HealthCheck, ProxyConfig, ServerConfig};
use common::{Conn, TestProxy, Upstream, get};
use hyper::StatusCode;

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
