//! Active health checks: HTTP and TCP probes, rise and fall, the health watch, and checks
//! stopping with their server or their proxy.

mod common;

use std::sync::Arc;
use std::time::Duration;

use baton_proxy::{CheckState, HealthCheck, ProxyConfig, ServerConfig, ServersUp};
use common::{Conn, Load, TestProxy, Upstream, config, eventually, http_check, server_of};
use hyper::StatusCode;

const LIMIT: Duration = Duration::from_secs(5);

/// `(up, total)`: the struct cannot be built outside the crate.
fn counts(health: &ServersUp) -> (usize, usize) {
    (health.up, health.total)
}

#[tokio::test]
async fn http_check_takes_a_500_server_down_after_fall_and_back_after_rise() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    a.set_health(500);
    let mut config = config(&[&a, &b]);
    // Probes 100 ms apart: the state is read every 2 ms, long before the next probe.
    config.health_check = Some(http_check(100, 2, 3));
    let proxy = TestProxy::start(config).await;

    let started = tokio::time::Instant::now();
    // Down exactly when the third 500 in a row has been answered, not before or after.
    let failed = || a.behaviour.probes().iter().filter(|&&s| s == 500).count();
    loop {
        let check = proxy.proxy.servers()[0].check;
        let seen = failed();
        if check == CheckState::Down {
            assert_eq!(seen, 3, "down after {seen} failed probes");
            break;
        }
        assert_eq!(check, CheckState::Unchecked, "no probe passed");
        assert!(seen <= 3, "still not down after {seen} failed probes");
        assert!(started.elapsed() < LIMIT, "never down");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(!proxy.proxy.servers()[0].up);
    assert_eq!(proxy.proxy.servers()[1].check, CheckState::Up);
    let mut conn = Conn::open(proxy.addr).await;
    for _ in 0..20 {
        let (status, body) = conn.get("/").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            server_of(&body),
            "b",
            "a server down by its check is never picked"
        );
    }

    // Up again when the second 200 in a row has been answered.
    a.set_health(200);
    let started = tokio::time::Instant::now();
    let passed = || a.behaviour.probes().iter().filter(|&&s| s == 200).count();
    loop {
        let check = proxy.proxy.servers()[0].check;
        let seen = passed();
        if check == CheckState::Up {
            assert_eq!(seen, 2, "up after {seen} passed probes");
            break;
        }
        assert_eq!(check, CheckState::Down);
        assert!(seen <= 2, "still down after {seen} passed probes");
        assert!(started.elapsed() < LIMIT, "never up");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut seen_a = false;
    for _ in 0..40 {
        let (status, body) = conn.get("/").await;
        assert_eq!(status, StatusCode::OK);
        seen_a |= server_of(&body) == "a";
    }
    assert!(seen_a, "a takes requests again");
    proxy.stop().await;
}

#[tokio::test]
async fn tcp_check_takes_a_closed_port_down_before_any_request_tries_it() {
    let live = Upstream::start("live").await;
    let (dead, _reserved) = common::dead_address();
    let mut config = ProxyConfig::new(vec![ServerConfig::new(dead), live.server()]);
    let mut check = HealthCheck::tcp();
    check.interval = Duration::from_millis(20);
    check.fall = 2;
    config.health_check = Some(check);
    let proxy = TestProxy::start(config).await;
    eventually(LIMIT, "the closed port is down", || {
        proxy.proxy.servers()[0].check == CheckState::Down
    })
    .await;
    eventually(LIMIT, "the live server is checked up", || {
        proxy.proxy.servers()[1].check == CheckState::Up
    })
    .await;
    let mut conn = Conn::open(proxy.addr).await;
    for _ in 0..20 {
        let (status, body) = conn.get("/").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(server_of(&body), "live");
    }
    let dead_status = &proxy.proxy.servers()[0];
    assert_eq!(
        dead_status.consecutive_failures, 0,
        "no request ever went there"
    );
    assert!(!dead_status.up && !dead_status.ejected);
    proxy.stop().await;
}

#[tokio::test]
async fn all_servers_down_by_checks_is_a_503_that_says_so() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    a.set_health(503);
    b.set_health(404);
    let mut config = config(&[&a, &b]);
    config.health_check = Some(http_check(10, 1, 1));
    let proxy = TestProxy::start(config).await;
    let mut health = proxy.proxy.health();
    tokio::time::timeout(LIMIT, health.wait_for(|h| h.up == 0))
        .await
        .expect("both down within the limit")
        .expect("watch open");
    let (status, body) = Conn::open(proxy.addr).await.get("/").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        "503 service unavailable: all 2 servers are down (health checks)\n"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn health_watch_reports_check_transitions() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let mut config = config(&[&a, &b]);
    config.health_check = Some(http_check(10, 2, 2));
    let proxy = TestProxy::start(config).await;
    let mut health = proxy.proxy.health();
    assert_eq!(counts(&health.borrow_and_update()), (2, 2));

    a.set_health(500);
    tokio::time::timeout(LIMIT, health.changed())
        .await
        .expect("a transition within the limit")
        .expect("watch open");
    assert_eq!(counts(&health.borrow_and_update()), (1, 2));
    b.set_health(500);
    tokio::time::timeout(LIMIT, health.changed())
        .await
        .expect("a transition within the limit")
        .expect("watch open");
    assert_eq!(counts(&health.borrow_and_update()), (0, 2));
    a.set_health(200);
    b.set_health(200);
    tokio::time::timeout(LIMIT, health.wait_for(|h| h.up == 2))
        .await
        .expect("both back within the limit")
        .expect("watch open");

    // A reload is a transition too.
    let mut one = common::config(&[&a]);
    one.health_check = Some(http_check(10, 2, 2));
    proxy.proxy.reload(Arc::new(one));
    assert!(health.has_changed().expect("watch open"));
    assert_eq!(counts(&health.borrow_and_update()), (1, 1));
    proxy.stop().await;
}

#[tokio::test]
async fn health_watch_sees_an_ejection_end_without_any_request() {
    let live = Upstream::start("live").await;
    let (dead, _reserved) = common::dead_address();
    let mut config = ProxyConfig::new(vec![ServerConfig::new(dead), live.server()]);
    config.ejection.consecutive_failures = 1;
    config.ejection.backoff = Duration::from_millis(200);
    let proxy = TestProxy::start(config).await;
    let mut health = proxy.proxy.health();
    assert_eq!(counts(&health.borrow_and_update()), (2, 2));
    let mut conn = Conn::open(proxy.addr).await;
    while !proxy.proxy.servers()[0].ejected {
        assert_eq!(conn.get("/").await.0, StatusCode::OK);
    }
    assert!(health.has_changed().expect("watch open"));
    assert_eq!(counts(&health.borrow_and_update()), (1, 2));
    let started = tokio::time::Instant::now();
    tokio::time::timeout(LIMIT, health.changed())
        .await
        .expect("the ejection end is published")
        .expect("watch open");
    assert_eq!(counts(&health.borrow_and_update()), (2, 2));
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    proxy.stop().await;
}

#[tokio::test]
async fn checks_of_removed_servers_and_of_a_dropped_proxy_stop() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let check = http_check(10, 2, 3);
    let mut both = config(&[&a, &b]);
    both.health_check = Some(check.clone());
    let proxy = TestProxy::start(both).await;
    eventually(LIMIT, "both probed", || {
        a.probe_count() >= 3 && b.probe_count() >= 3
    })
    .await;

    let mut only_a = config(&[&a]);
    only_a.health_check = Some(check);
    proxy.proxy.reload(Arc::new(only_a));
    // A probe already on its way may still land.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (a_then, b_then) = (a.probe_count(), b.probe_count());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        b.probe_count(),
        b_then,
        "b's check stopped with its removal"
    );
    assert!(a.probe_count() > a_then + 5, "a is still checked");

    // Stopping ends `serve` and drops the test's clone: no clone is left.
    proxy.stop().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let a_then = a.probe_count();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        a.probe_count(),
        a_then,
        "checks stop with the last clone of the proxy"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_checked_server_under_load_fails_no_get() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let mut config = config(&[&a, &b]);
    let mut check = HealthCheck::tcp();
    check.interval = Duration::from_millis(50);
    check.fall = 2;
    config.health_check = Some(check);
    let proxy = TestProxy::start(config).await;
    let load = Load::start(proxy.addr, 16, "/slow/1").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before_kill = load.ok();
    b.kill();
    eventually(LIMIT, "the check takes b down", || {
        proxy.proxy.servers()[1].check == CheckState::Down
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let total = load.ok();
    let (failures, _) = load.stop().await;
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    assert!(
        before_kill > 20 && total > before_kill + 20,
        "{before_kill} then {total}"
    );
    assert_eq!(proxy.proxy.health().borrow().up, 1);
    proxy.stop().await;
}
