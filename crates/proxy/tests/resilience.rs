//! Servers failing: connect retries, passive ejection (refused connects, 502/503/504
//! answers, timeouts), a server killed under load, slow servers, and draining on shutdown.

mod common;

use std::time::Duration;

use baton_proxy::{ProxyConfig, ServerConfig};
use bytes::Bytes;
use common::{Conn, Load, TestProxy, Trickle, Upload, Upstream, config, get, server_of};
use http_body_util::BodyExt as _;
use hyper::{Request, StatusCode};

#[tokio::test]
async fn failed_connect_is_retried_on_another_server() {
    let live = Upstream::start("live").await;
    let (dead, _reserved) = common::dead_address();
    let mut config = ProxyConfig::new(vec![ServerConfig::new(dead), live.server()]);
    // Never eject, so that every request may hit the dead server first.
    config.ejection.consecutive_failures = 0;
    let proxy = TestProxy::start(config).await;
    let mut conn = Conn::open(proxy.addr).await;
    for _ in 0..50 {
        let (status, body) = conn.get("/").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(server_of(&body), "live");
    }
    // A failed connect sent nothing, so even a POST with a body is retried.
    for _ in 0..20 {
        let request = Request::post("/count")
            .header("host", "x")
            .body(Upload { left: 100_000 }.map_err(|n| match n {}).boxed())
            .expect("request");
        let (status, body) = conn.send(request).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "received=100000");
    }
    assert!(proxy.proxy.servers()[0].consecutive_failures > 0);
    // Each failed connect counts on the dead server and is retried; the live one took all
    // 70 requests, and the 20 uploads went to it through the byte counters.
    let metrics = proxy.proxy.metrics();
    let (refused, took) = (&metrics.servers[0], &metrics.servers[1]);
    assert!(refused.connect_errors > 0, "{refused:?}");
    assert_eq!(refused.retries, refused.connect_errors, "{refused:?}");
    assert_eq!(refused.requests, refused.connect_errors, "{refused:?}");
    assert_eq!((refused.bytes_in, refused.bytes_out), (0, 0));
    assert!(took.requests >= 70, "{took:?}");
    assert!(took.max_active >= 1, "{took:?}");
    assert!(took.bytes_out >= 20 * 100_000, "{took:?}");
    assert!(took.bytes_in > 0, "{took:?}");
    proxy.stop().await;
}

#[tokio::test]
async fn consecutive_connect_failures_eject_the_server() {
    let live = Upstream::start("live").await;
    let (dead, _reserved) = common::dead_address();
    let proxy = TestProxy::start(ProxyConfig::new(vec![
        ServerConfig::new(dead),
        live.server(),
    ]))
    .await;
    let mut conn = Conn::open(proxy.addr).await;
    for _ in 0..30 {
        assert_eq!(conn.get("/").await.0, StatusCode::OK);
    }
    let status = proxy.proxy.servers();
    assert!(!status[0].up, "dead server ejected: {status:?}");
    assert!(status[1].up);
    // While ejected the dead server is not tried: its failure count stays put.
    let failures = status[0].consecutive_failures;
    for _ in 0..30 {
        assert_eq!(conn.get("/").await.0, StatusCode::OK);
    }
    assert_eq!(proxy.proxy.servers()[0].consecutive_failures, failures);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_server_under_load_fails_no_get() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let proxy = TestProxy::start(config(&[&a, &b])).await;
    let load = Load::start(proxy.addr, 8, "/slow/1").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before_kill = load.ok();
    b.kill();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let total = load.ok();
    let (failures, servers) = load.stop().await;
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    // The last answers all come from the survivor.
    let served_late_by_b: usize = servers
        .iter()
        .map(|s| s.iter().rev().take(5).filter(|s| *s == "b").count())
        .sum();
    assert_eq!(served_late_by_b, 0);
    assert!(
        before_kill > 20 && total > before_kill + 20,
        "{before_kill} then {total}"
    );
    proxy.stop().await;
}

#[tokio::test(start_paused = true)]
async fn slow_server_is_504() {
    let a = Upstream::start("a").await;
    let mut config = config(&[&a]);
    config.limits.upstream_timeout = Duration::from_secs(5);
    let proxy = TestProxy::start(config).await;
    let (status, body) = get(proxy.addr, "/slow/60000").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert!(body.contains("gateway timeout"), "{body}");
    // Not a connect failure: the server stays in rotation.
    assert!(proxy.proxy.servers()[0].up);
    let (status, _) = get(proxy.addr, "/slow/10").await;
    assert_eq!(status, StatusCode::OK);
    let counted = &proxy.proxy.metrics().servers[0];
    assert_eq!(
        (counted.timeouts, counted.connect_errors),
        (1, 0),
        "{counted:?}"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let addr = proxy.addr;
    let mut idle = Conn::open(addr).await;
    assert_eq!(idle.get("/").await.0, StatusCode::OK);
    let in_flight = tokio::spawn(async move { get(addr, "/slow/500").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    proxy.stop().await;
    let (status, body) = in_flight.await.expect("request");
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("slept=500"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // The idle keep-alive connection was closed, and nothing listens any more.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(idle.is_closed());
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn shutdown_cuts_what_outlasts_the_drain_timeout() {
    let a = Upstream::start("a").await;
    let mut config = config(&[&a]);
    config.limits.drain_timeout = Duration::from_secs(2);
    let proxy = TestProxy::start(config).await;
    let addr = proxy.addr;
    let stuck = tokio::spawn(async move {
        let mut conn = Conn::open(addr).await;
        let request = Request::get("/slow/3600000")
            .header("host", "x")
            .body(http_body_util::Empty::new().map_err(|n| match n {}).boxed())
            .expect("request");
        conn.send_streaming(request).await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = tokio::time::Instant::now();
    proxy.stop().await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    assert!(stuck.await.is_err(), "the stuck request was cut");
}

#[tokio::test(start_paused = true)]
async fn slow_upload_keeps_going_and_stalled_upload_is_408() {
    let a = Upstream::start("a").await;
    let mut config = config(&[&a]);
    config.limits.upstream_timeout = Duration::from_secs(5);
    config.limits.client_body_timeout = Duration::from_secs(5);
    let proxy = TestProxy::start(config).await;
    let mut conn = Conn::open(proxy.addr).await;

    // 10 pieces, 3 s apart: 30 s in all, never 5 s without progress.
    let (feed, chunks) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_secs(3)).await;
            let _ = feed.send(Bytes::from_static(b"0123456789")).await;
        }
    });
    let request = Request::post("/count")
        .header("host", "x")
        .body(Trickle { chunks }.map_err(|n| match n {}).boxed())
        .expect("request");
    let (status, body) = conn.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "received=100");

    // A body that stops halfway: 408 (the client's fault, as nginx's
    // `client_body_timeout`) five seconds after the last piece.
    let (feed, chunks) = tokio::sync::mpsc::channel(1);
    let stalled = tokio::spawn(async move {
        let _ = feed.send(Bytes::from_static(b"0123456789")).await;
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(feed);
    });
    let request = Request::post("/count")
        .header("host", "x")
        .body(Trickle { chunks }.map_err(|n| match n {}).boxed())
        .expect("request");
    let started = tokio::time::Instant::now();
    let (status, _) = Conn::open(proxy.addr).await.send(request).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_secs(7),
        "{waited:?}"
    );
    stalled.abort();
    proxy.stop().await;
}

#[tokio::test(start_paused = true)]
async fn server_silent_in_the_middle_of_a_body_is_cut() {
    let a = Upstream::start("a").await;
    let mut config = config(&[&a]);
    config.limits.upstream_timeout = Duration::from_secs(5);
    let proxy = TestProxy::start(config).await;
    let mut conn = Conn::open(proxy.addr).await;
    let request = Request::get("/stall/1000")
        .header("host", "x")
        .body(http_body_util::Empty::new().map_err(|n| match n {}).boxed())
        .expect("request");
    let response = conn.send_streaming(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let started = tokio::time::Instant::now();
    let mut body = response.into_body();
    let mut received = 0;
    let outcome = loop {
        match body.frame().await {
            Some(Ok(frame)) => received += frame.into_data().map_or(0, |d| d.len()),
            Some(Err(error)) => break Err(error),
            None => break Ok(()),
        }
    };
    assert_eq!(received, 1000);
    assert!(outcome.is_err(), "the body is cut, not ended cleanly");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_secs(7),
        "{waited:?}"
    );
    assert_eq!(proxy.proxy.servers()[0].active, 0);
    proxy.stop().await;
}

#[tokio::test]
async fn gateway_errors_from_a_server_eject_it_but_500_does_not() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let proxy = TestProxy::start(config(&[&a, &b])).await;
    let mut conn = Conn::open(proxy.addr).await;

    // 500 is the application's answer, not a sign that the server is broken.
    a.fail_with(500);
    for _ in 0..30 {
        conn.get("/").await;
    }
    let status = proxy.proxy.servers();
    assert!(status[0].up && !status[0].ejected, "{status:?}");

    for failing in [502, 503, 504] {
        a.fail_with(failing);
        let mut passed_on = 0;
        while !proxy.proxy.servers()[0].ejected {
            let (status, body) = conn.get("/").await;
            if status.as_u16() == failing {
                // The server's own answer still reaches the client.
                assert_eq!(server_of(&body), "a");
                passed_on += 1;
            }
            assert!(passed_on <= 3, "{failing}: not ejected after 3 in a row");
        }
        assert_eq!(passed_on, 3, "{failing}: ejected after the third");
        assert!(!proxy.proxy.servers()[0].up);
        for _ in 0..20 {
            let (status, body) = conn.get("/").await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(server_of(&body), "b");
        }
        // Healthy again: the ejection ends after its back-off and one good answer resets
        // the failure count.
        a.fail_with(0);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        while proxy.proxy.servers()[0].consecutive_failures != 0 {
            assert_eq!(conn.get("/").await.0, StatusCode::OK);
        }
    }
    proxy.stop().await;
}

#[tokio::test]
async fn an_upstream_timeout_counts_towards_ejection() {
    let a = Upstream::start("a").await;
    let mut config = config(&[&a]);
    config.limits.upstream_timeout = Duration::from_millis(50);
    config.ejection.consecutive_failures = 2;
    let proxy = TestProxy::start(config).await;
    for _ in 0..2 {
        let (status, _) = get(proxy.addr, "/slow/1000").await;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    }
    assert!(proxy.proxy.servers()[0].ejected);
    proxy.stop().await;
}
