//! Operator changes at run time: drain, maintenance and weights (HAProxy's `set server`),
//! with real sockets, and how they survive a reload.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use baton_proxy::{AdminState, HealthCheck, ProxyConfig, UnknownServer};
use common::{Conn, TestProxy, Upstream, config, server_of};
use hyper::StatusCode;

fn admin_of(proxy: &TestProxy, upstream: &Upstream) -> AdminState {
    proxy
        .proxy
        .servers()
        .into_iter()
        .find(|s| s.address == upstream.addr)
        .expect("configured")
        .admin
}

/// Servers that answered `n` GETs, by name.
async fn spread(proxy: &TestProxy, n: usize) -> HashMap<String, usize> {
    let mut conn = Conn::open(proxy.addr).await;
    let mut counts = HashMap::new();
    for _ in 0..n {
        let (status, body) = conn.get("/").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        *counts.entry(server_of(&body).to_owned()).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn drain_lets_in_flight_requests_finish_and_sends_no_new_ones() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let proxy = TestProxy::start(config(&[&a, &b])).await;
    // Only `a` may take the slow request.
    proxy
        .proxy
        .set_admin(b.addr, AdminState::Drain)
        .expect("known");
    let mut slow_conn = Conn::open(proxy.addr).await;
    let slow = tokio::spawn(async move { slow_conn.get("/slow/400").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(proxy.proxy.servers()[0].active, 1, "in flight to a");

    proxy
        .proxy
        .set_admin(a.addr, AdminState::Drain)
        .expect("known");
    proxy
        .proxy
        .set_admin(b.addr, AdminState::Ready)
        .expect("known");
    let status = proxy.proxy.servers();
    assert_eq!(status[0].admin, AdminState::Drain);
    assert!(!status[0].up, "a drained server is not up: {status:?}");
    let requests_to_a = a.requests.load(Ordering::SeqCst);
    assert_eq!(spread(&proxy, 30).await, HashMap::from([("b".into(), 30)]));

    let (status, body) = slow.await.expect("task");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(server_of(&body), "a", "the in-flight request finished on a");
    assert_eq!(
        a.requests.load(Ordering::SeqCst),
        requests_to_a,
        "no new request reached a"
    );

    // Everything drained: a 503 that says why.
    proxy
        .proxy
        .set_admin(b.addr, AdminState::Drain)
        .expect("known");
    let (status, body) = Conn::open(proxy.addr).await.get("/").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("drained or in maintenance"), "{body}");
    assert_eq!(proxy.proxy.health().borrow().up, 0);
    proxy.stop().await;
}

#[tokio::test]
async fn admin_state_and_weight_survive_a_reload() {
    let (a, b, c) = (
        Upstream::start("a").await,
        Upstream::start("b").await,
        Upstream::start("c").await,
    );
    let mut first = config(&[&a, &b]);
    first.algorithm = "roundrobin".parse().expect("algorithm");
    let proxy = TestProxy::start(first.clone()).await;
    proxy
        .proxy
        .set_admin(a.addr, AdminState::Drain)
        .expect("known");
    proxy.proxy.set_weight(b.addr, 3).expect("known");

    let mut second = config(&[&a, &b, &c]);
    second.algorithm = "roundrobin".parse().expect("algorithm");
    proxy.proxy.reload(Arc::new(second.clone()));
    assert_eq!(admin_of(&proxy, &a), AdminState::Drain);
    assert_eq!(
        admin_of(&proxy, &c),
        AdminState::Ready,
        "a new server is ready"
    );
    assert_eq!(
        spread(&proxy, 40).await,
        HashMap::from([("b".into(), 30), ("c".into(), 10)]),
        "b kept its run-time weight 3, a stays drained"
    );

    // The configuration gives b another weight: that one wins from now on.
    second.servers[1] = second.servers[1].with_weight(2);
    proxy.proxy.reload(Arc::new(second));
    assert_eq!(proxy.proxy.servers()[1].weight, 2);
    assert_eq!(
        spread(&proxy, 30).await,
        HashMap::from([("b".into(), 20), ("c".into(), 10)])
    );
    proxy.stop().await;
}

#[tokio::test]
async fn weight_changes_the_spread() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let mut config = config(&[&a, &b]);
    config.algorithm = "roundrobin".parse().expect("algorithm");
    let proxy = TestProxy::start(config).await;
    assert_eq!(
        spread(&proxy, 20).await,
        HashMap::from([("a".into(), 10), ("b".into(), 10)])
    );
    proxy.proxy.set_weight(b.addr, 3).expect("known");
    assert_eq!(proxy.proxy.servers()[1].weight, 3);
    assert_eq!(
        spread(&proxy, 40).await,
        HashMap::from([("a".into(), 10), ("b".into(), 30)])
    );
    proxy.proxy.set_weight(a.addr, 0).expect("known");
    assert!(!proxy.proxy.servers()[0].up, "weight 0 is out of rotation");
    assert_eq!(spread(&proxy, 10).await, HashMap::from([("b".into(), 10)]));
    proxy.stop().await;
}

#[tokio::test]
async fn maglev_keys_leave_a_drained_server_and_come_back() {
    let (a, b, c) = (
        Upstream::start("a").await,
        Upstream::start("b").await,
        Upstream::start("c").await,
    );
    let mut config = config(&[&a, &b, &c]);
    config.algorithm = "maglev source".parse().expect("algorithm");
    let proxy = TestProxy::start(config).await;
    let home = spread(&proxy, 5).await;
    assert_eq!(home.len(), 1, "one client address, one server: {home:?}");
    let home = home.into_keys().next().expect("one");
    let upstream = [&a, &b, &c]
        .into_iter()
        .find(|u| u.name == home)
        .expect("named");
    proxy
        .proxy
        .set_admin(upstream.addr, AdminState::Drain)
        .expect("known");
    let elsewhere = spread(&proxy, 5).await;
    assert_eq!(elsewhere.len(), 1, "{elsewhere:?}");
    assert!(!elsewhere.contains_key(&home));
    proxy
        .proxy
        .set_admin(upstream.addr, AdminState::Ready)
        .expect("known");
    assert_eq!(spread(&proxy, 5).await, HashMap::from([(home, 5)]));
    proxy.stop().await;
}

#[tokio::test]
async fn maintenance_pauses_health_checks_until_enabled_also_across_a_reload() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let mut config: ProxyConfig = config(&[&a, &b]);
    let mut check = HealthCheck::tcp();
    check.interval = Duration::from_millis(20);
    config.health_check = Some(check);
    let proxy = TestProxy::start(config.clone()).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(a.accepted.load(Ordering::SeqCst) > 0, "a is probed");

    proxy
        .proxy
        .set_admin(a.addr, AdminState::Maintenance)
        .expect("known");
    // A probe that was already on its way may still land.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let probes = a.accepted.load(Ordering::SeqCst);
    assert_eq!(spread(&proxy, 10).await, HashMap::from([("b".into(), 10)]));
    proxy.proxy.reload(Arc::new(config));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        a.accepted.load(Ordering::SeqCst),
        probes,
        "no probe in maintenance"
    );
    assert!(b.accepted.load(Ordering::SeqCst) > 5, "b is still probed");
    assert_eq!(admin_of(&proxy, &a), AdminState::Maintenance);

    proxy
        .proxy
        .set_admin(a.addr, AdminState::Ready)
        .expect("known");
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(a.accepted.load(Ordering::SeqCst) > probes, "probes resumed");
    let counts = spread(&proxy, 10).await;
    assert_eq!(counts.values().sum::<usize>(), 10);
    assert!(counts.contains_key("a"), "{counts:?}");
    proxy.stop().await;
}

#[tokio::test]
async fn unknown_servers_are_refused() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let (elsewhere, _reserved) = common::dead_address();
    assert_eq!(
        proxy.proxy.set_admin(elsewhere, AdminState::Drain),
        Err(UnknownServer(elsewhere))
    );
    assert_eq!(
        proxy.proxy.set_weight(elsewhere, 2),
        Err(UnknownServer(elsewhere))
    );
    assert_eq!(admin_of(&proxy, &a), AdminState::Ready);
    proxy.stop().await;
}
