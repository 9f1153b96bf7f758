//! Live reload: server sets swapped under load, state kept for servers that stay, and
//! policies that change with the set.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use baton_proxy::balance::Algorithm;
use baton_proxy::{CheckState, ProxyConfig};
use common::{Conn, Load, TestProxy, Upstream, config, eventually, http_check, server_of};
use hyper::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_under_load_fail_no_request_and_new_requests_use_the_new_set() {
    let servers = [
        Upstream::start("a").await,
        Upstream::start("b").await,
        Upstream::start("c").await,
        Upstream::start("d").await,
        Upstream::start("e").await,
    ];
    let pick = |names: &str| -> Vec<&Upstream> {
        servers.iter().filter(|u| names.contains(u.name)).collect()
    };
    let proxy = TestProxy::start(config(&pick("ab"))).await;
    let addr = proxy.addr;
    let load = Load::start(addr, 8, "/slow/2").await;

    let sets = ["cd", "ac", "e", "bde", "ab"];
    let algorithms = ["roundrobin", "leastconn", "maglev", "random", "roundrobin"];
    for (names, algorithm) in sets.into_iter().zip(algorithms) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut next = config(&pick(names));
        next.algorithm = algorithm.parse::<Algorithm>().expect("algorithm");
        proxy.proxy.reload(Arc::new(next));
        let configured: Vec<_> = proxy.proxy.servers().iter().map(|s| s.address).collect();
        let expected: Vec<_> = pick(names).iter().map(|u| u.addr).collect();
        assert_eq!(configured, expected);

        // Every request that starts now goes to the new set.
        let mut conn = Conn::open(addr).await;
        for _ in 0..20 {
            let (status, body) = conn.get("/").await;
            assert_eq!(status, StatusCode::OK);
            assert!(
                names.contains(server_of(&body)),
                "{} after reloading to {names}",
                server_of(&body)
            );
        }
        // Once the requests that were on their way are done, servers left out get nothing.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let left_out: Vec<&Upstream> = servers.iter().filter(|u| !names.contains(u.name)).collect();
        let counts: Vec<usize> = left_out
            .iter()
            .map(|u| u.requests.load(Ordering::SeqCst))
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        for (server, count) in left_out.iter().zip(counts) {
            assert_eq!(
                server.requests.load(Ordering::SeqCst),
                count,
                "{} got requests after reloading to {names}",
                server.name
            );
        }
    }
    let answered = load.ok();
    let (failures, _) = load.stop().await;
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    assert!(answered > 200, "{answered}");
    proxy.stop().await;
}

#[tokio::test]
async fn a_request_in_flight_finishes_on_a_server_reloaded_away() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let proxy = TestProxy::start(config(&[&a])).await;
    let addr = proxy.addr;
    let in_flight = tokio::spawn(async move { common::get(addr, "/slow/300").await });
    eventually(Duration::from_secs(5), "the request reached a", || {
        a.requests.load(Ordering::SeqCst) == 1
    })
    .await;
    proxy.proxy.reload(Arc::new(config(&[&b])));
    assert_eq!(proxy.proxy.servers()[0].address, b.addr);
    let (status, body) = in_flight.await.expect("request");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(server_of(&body), "a");
    assert_eq!(server_of(&common::get(addr, "/").await.1), "b");
    proxy.stop().await;
}

#[tokio::test]
async fn servers_that_stay_keep_their_health_and_new_ones_start_unchecked() {
    let (a, b, c) = (
        Upstream::start("a").await,
        Upstream::start("b").await,
        Upstream::start("c").await,
    );
    a.set_health(500);
    let check = http_check(10, 2, 2);
    let mut first = config(&[&a, &b]);
    first.health_check = Some(check.clone());
    let proxy = TestProxy::start(first).await;
    eventually(Duration::from_secs(5), "a down, b up", || {
        let status = proxy.proxy.servers();
        status[0].check == CheckState::Down && status[1].check == CheckState::Up
    })
    .await;

    // Reordered, reweighted, and with a newcomer: a stays down, b stays up.
    let mut second = config(&[&c, &b, &a]);
    second.servers[1].weight = 3;
    second.health_check = Some(check);
    proxy.proxy.reload(Arc::new(second));
    let status = proxy.proxy.servers();
    assert_eq!(status[0].check, CheckState::Unchecked);
    assert!(
        status[0].up,
        "a newcomer takes requests before its first probe"
    );
    assert_eq!((status[1].check, status[1].weight), (CheckState::Up, 3));
    assert_eq!(status[2].check, CheckState::Down);
    eventually(Duration::from_secs(5), "c probed up", || {
        proxy.proxy.servers()[0].check == CheckState::Up
    })
    .await;

    // Without a health check nothing would ever bring a back: its check state is cleared.
    proxy.proxy.reload(Arc::new(config(&[&a, &b])));
    let status = proxy.proxy.servers();
    assert_eq!(status[0].check, CheckState::Unchecked);
    assert!(status[0].up);
    proxy.stop().await;
}

#[tokio::test]
async fn retries_and_ejection_change_with_a_reload() {
    let live = Upstream::start("live").await;
    let (dead, _reserved) = common::dead_address();
    let servers = vec![baton_proxy::ServerConfig::new(dead), live.server()];
    let mut no_retry = ProxyConfig::new(servers.clone());
    no_retry.retries = 0;
    no_retry.ejection.consecutive_failures = 0;
    no_retry.algorithm = Algorithm::RoundRobin;
    let proxy = TestProxy::start(no_retry).await;
    let mut conn = Conn::open(proxy.addr).await;
    let mut bad_gateways = 0;
    for _ in 0..10 {
        if conn.get("/").await.0 == StatusCode::BAD_GATEWAY {
            bad_gateways += 1;
        }
    }
    assert_eq!(
        bad_gateways, 5,
        "round robin sends every other request to the dead one"
    );

    let mut retry = ProxyConfig::new(servers);
    retry.retries = 1;
    retry.ejection.consecutive_failures = 0;
    retry.algorithm = Algorithm::RoundRobin;
    proxy.proxy.reload(Arc::new(retry));
    for _ in 0..10 {
        assert_eq!(conn.get("/").await.0, StatusCode::OK);
    }
    assert!(
        proxy.proxy.servers()[0].consecutive_failures >= 10,
        "failures carried over"
    );
    proxy.stop().await;
}
