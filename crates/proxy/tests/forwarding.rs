//! Forwarding over real sockets: balancing, keep-alive on both sides, header rewriting,
//! streaming bodies, and what the proxy answers itself when servers are missing.

mod common;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use baton_proxy::{ProxyConfig, ServerConfig};
use common::{Conn, TestProxy, Upload, Upstream, config, echoed, get, raw, server_of};
use http_body_util::BodyExt as _;
use hyper::{Request, StatusCode};

#[tokio::test]
async fn requests_are_spread_over_every_server() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let proxy = TestProxy::start(config(&[&a, &b])).await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut conn = Conn::open(proxy.addr).await;
    for i in 0..100 {
        let (status, body) = conn.get(&format!("/item/{i}?q=1")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains(&format!("path=/item/{i}?q=1")), "{body}");
        *seen.entry(server_of(&body).to_owned()).or_default() += 1;
    }
    assert_eq!(seen.len(), 2, "both servers answer: {seen:?}");
    assert!(seen.values().all(|&n| n >= 20), "{seen:?}");
    proxy.stop().await;
}

#[tokio::test]
async fn keep_alive_reuses_connections_on_both_sides() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let proxy = TestProxy::start(config(&[&a, &b])).await;
    let mut conn = Conn::open(proxy.addr).await;
    for _ in 0..200 {
        let (status, _) = conn.get("/").await;
        assert_eq!(status, StatusCode::OK);
    }
    assert!(!conn.is_closed(), "the client connection stays open");
    let requests = a.requests.load(Ordering::SeqCst) + b.requests.load(Ordering::SeqCst);
    let accepted = a.accepted.load(Ordering::SeqCst) + b.accepted.load(Ordering::SeqCst);
    assert_eq!(requests, 200);
    // Sequential requests need one pooled connection per server.
    assert!(
        accepted <= 2,
        "{accepted} upstream connections for 200 requests"
    );
    proxy.stop().await;
}

/// Many clients at once, as in the benchmarks: each server's pool keeps a connection for
/// every request that can be in flight to it, and none is opened again while requests flow.
#[tokio::test]
async fn concurrent_clients_reach_a_steady_pool() {
    const CLIENTS: usize = 20;
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let proxy = TestProxy::start(config(&[&a, &b])).await;
    let accepted = || a.accepted.load(Ordering::SeqCst) + b.accepted.load(Ordering::SeqCst);
    let load = common::Load::start(proxy.addr, CLIENTS, "/").await;
    common::eventually(Duration::from_secs(10), "warm-up requests", || {
        load.ok() >= 500
    })
    .await;
    let warm_ok = load.ok();
    common::eventually(Duration::from_secs(20), "steady-state requests", || {
        load.ok() >= warm_ok + 3_000
    })
    .await;
    let (failures, _) = load.stop().await;
    assert!(failures.is_empty(), "{failures:?}");
    // Each server never has more than CLIENTS requests in flight, so never needs more
    // connections; a pool that closed some and opened them again would.
    assert!(
        accepted() <= 2 * CLIENTS,
        "{} server connections for {CLIENTS} clients",
        accepted()
    );
    proxy.stop().await;
}

#[tokio::test]
async fn forwarded_headers_are_added_and_hop_by_hop_headers_removed() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let request = "GET /headers HTTP/1.1\r\n\
        Host: shop.example\r\n\
        Connection: keep-alive, X-Hop\r\n\
        X-Hop: drop me\r\n\
        Keep-Alive: timeout=5\r\n\
        Proxy-Authorization: Basic Zm9vOmJhcg==\r\n\
        Proxy-Connection: keep-alive\r\n\
        TE: trailers\r\n\
        Upgrade: h2c\r\n\
        X-Forwarded-For: 203.0.113.7\r\n\
        X-Forwarded-Proto: https\r\n\
        Via: 1.0 corporate-proxy\r\n\
        X-End-To-End: kept\r\n\
        \r\n";
    let mut conn = tokio::net::TcpStream::connect(proxy.addr)
        .await
        .expect("connect");
    tokio::io::AsyncWriteExt::write_all(&mut conn, request.as_bytes())
        .await
        .expect("write");
    let response = read_one(&mut conn).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let body = response.split_once("\r\n\r\n").expect("body").1;
    assert_eq!(echoed(body, "host"), ["shop.example"]);
    // No trusted proxies by default: the client's own X-Forwarded-For is replaced.
    assert_eq!(echoed(body, "x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(echoed(body, "x-forwarded-proto"), ["http"]);
    assert_eq!(echoed(body, "via"), ["1.0 corporate-proxy, 1.1 baton"]);
    assert_eq!(echoed(body, "x-end-to-end"), ["kept"]);
    for gone in [
        "x-hop",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "upgrade",
    ] {
        assert!(echoed(body, gone).is_empty(), "{gone} forwarded: {body}");
    }
    // The server may see its own connection header from the pool, never the client's.
    assert!(
        echoed(body, "connection")
            .iter()
            .all(|v| !v.contains("X-Hop"))
    );
    proxy.stop().await;
}

#[tokio::test]
async fn response_hop_by_hop_headers_are_removed_and_via_added() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let response = raw(
        proxy.addr,
        b"GET /hop HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await
    .to_ascii_lowercase();
    assert!(response.starts_with("http/1.1 200"), "{response}");
    assert!(response.contains("\r\nx-kept: yes\r\n"), "{response}");
    assert!(response.contains("\r\nvia: 1.1 baton\r\n"), "{response}");
    for gone in ["x-internal", "keep-alive", "proxy-authenticate"] {
        assert!(
            !response.contains(&format!("\r\n{gone}:")),
            "{gone}: {response}"
        );
    }
    proxy.stop().await;
}

#[tokio::test]
async fn http_1_0_client_is_served() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let response = raw(
        proxy.addr,
        b"GET /old HTTP/1.0\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(response.starts_with("HTTP/1.0 200"), "{response}");
    assert!(response.contains("server=a"), "{response}");
    assert!(response.contains("h:via=1.0 baton"), "{response}");
    proxy.stop().await;
}

#[tokio::test]
async fn large_bodies_stream_both_ways_in_constant_memory() {
    const SIZE: u64 = 50 * 1000 * 1000;
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let before = resident_bytes();

    let mut conn = Conn::open(proxy.addr).await;
    let request = Request::get(format!("/big/{SIZE}"))
        .header("host", "x")
        .body(http_body_util::Empty::new().map_err(|n| match n {}).boxed())
        .expect("request");
    let response = conn.send_streaming(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut received: u64 = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("frame").into_data() {
            received += data.len() as u64;
        }
    }
    assert_eq!(received, SIZE);

    let upload = Request::post("/count")
        .header("host", "x")
        .body(Upload { left: SIZE }.map_err(|n| match n {}).boxed())
        .expect("request");
    let (status, body) = conn.send(upload).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, format!("received={SIZE}"));

    let grown = resident_bytes().saturating_sub(before);
    eprintln!("resident memory grew by {grown} bytes");
    assert!(
        grown < 20 * 1000 * 1000,
        "resident memory grew by {grown} bytes while streaming 2 x {SIZE}"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn no_servers_configured_is_503() {
    let proxy = TestProxy::start(ProxyConfig::new(Vec::new())).await;
    let (status, body) = get(proxy.addr, "/").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("no servers configured"), "{body}");
    proxy.stop().await;
}

/// The proxy's own answers carry a Date field and are counted, on both HTTP/1 paths: this
/// crate's (HTTP/1.1) and hyper's (HTTP/1.0).
#[tokio::test]
async fn own_answers_are_dated_and_counted_on_both_paths() {
    let proxy = TestProxy::start(ProxyConfig::new(Vec::new())).await;
    for version in ["HTTP/1.1", "HTTP/1.0"] {
        let request = format!("GET / {version}\r\nHost: x\r\nConnection: close\r\n\r\n");
        let answer = raw(proxy.addr, request.as_bytes(), Duration::from_secs(5)).await;
        let (head, body) = answer.split_once("\r\n\r\n").expect("a head");
        assert!(head.contains(" 503 "), "{version}: {head}");
        let date = head
            .lines()
            .find_map(|line| line.strip_prefix("date: ").or(line.strip_prefix("Date: ")))
            .unwrap_or_else(|| panic!("{version}: no Date in {head}"));
        assert!(date.ends_with(" GMT"), "{version}: {date}");
        let dates = head.to_ascii_lowercase().matches("\r\ndate: ").count();
        assert_eq!(dates, 1, "{version}: {head}");
        assert_eq!(body, "503 service unavailable: no servers configured\n");
    }
    assert_eq!(proxy.proxy.metrics().own_responses, [0, 0, 0, 0, 2]);
    proxy.stop().await;
}

#[tokio::test]
async fn server_that_refuses_connections_is_502_then_ejected_503() {
    let (dead, _reserved) = common::dead_address();
    let proxy = TestProxy::start(ProxyConfig::new(vec![ServerConfig::new(dead)])).await;
    let mut conn = Conn::open(proxy.addr).await;
    for _ in 0..3 {
        let (status, body) = conn.get("/").await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert!(body.contains("bad gateway"), "{body}");
    }
    // Three connect failures in a row eject the only server.
    assert!(!proxy.proxy.servers()[0].up);
    let (status, body) = conn.get("/").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        "503 service unavailable: the only server is down (ejected after failures)\n"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn weight_zero_server_takes_nothing() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let proxy = TestProxy::start(ProxyConfig::new(vec![
        a.server(),
        b.server().with_weight(0),
    ]))
    .await;
    let mut conn = Conn::open(proxy.addr).await;
    for _ in 0..30 {
        let (_, body) = conn.get("/").await;
        assert_eq!(server_of(&body), "a");
    }
    proxy.stop().await;
}

/// Reads one response with a Content-Length from a raw connection.
async fn read_one(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt as _;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .expect("response in time")
            .expect("read");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .expect("content-length");
            if body.len() >= length {
                return text;
            }
        }
    }
}

/// Resident memory of this process, from /proc.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

#[tokio::test]
async fn least_connections_sees_requests_in_flight() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let mut config = config(&[&a, &b]);
    config.algorithm = "leastconn".parse().expect("algorithm");
    let proxy = TestProxy::start(config).await;
    let addr = proxy.addr;
    let slow = tokio::spawn(async move { get(addr, "/slow/1000").await });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let busy = loop {
        let servers = proxy.proxy.servers();
        if let Some(busy) = servers.iter().position(|s| s.active == 1) {
            break busy;
        }
        assert!(tokio::time::Instant::now() < deadline, "{servers:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let idle_name = if busy == 0 { "b" } else { "a" };
    let mut conn = Conn::open(addr).await;
    for _ in 0..10 {
        let (_, body) = conn.get("/").await;
        assert_eq!(server_of(&body), idle_name);
    }
    let (status, body) = slow.await.expect("slow");
    assert_eq!(status, StatusCode::OK);
    assert_ne!(server_of(&body), idle_name);
    assert!(proxy.proxy.servers().iter().all(|s| s.active == 0));
    proxy.stop().await;
}

#[tokio::test]
async fn maglev_sends_a_key_to_the_same_server() {
    let (a, b, c) = (
        Upstream::start("a").await,
        Upstream::start("b").await,
        Upstream::start("c").await,
    );
    let mut config = config(&[&a, &b, &c]);
    config.algorithm = "maglev hdr(X-User)".parse().expect("algorithm");
    let proxy = TestProxy::start(config).await;
    let mut conn = Conn::open(proxy.addr).await;
    let mut owners = HashMap::new();
    for round in 0..3 {
        for user in ["alice", "bob", "carol", "dave", "erin", "frank"] {
            let request = Request::get("/")
                .header("host", "x")
                .header("x-user", user)
                .body(http_body_util::Empty::new().map_err(|n| match n {}).boxed())
                .expect("request");
            let (_, body) = conn.send(request).await;
            let server = server_of(&body).to_owned();
            if round == 0 {
                owners.insert(user, server);
            } else {
                assert_eq!(owners[user], server, "{user} moved");
            }
        }
    }
    proxy.stop().await;
}
