//! HTTP/2 from clients over real sockets: h2 over TLS (ALPN) and h2c with prior knowledge,
//! forwarded to HTTP/1.1 servers.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use common::tls::{self, Pki};
use common::{Conn, H2, TestBody, TestProxy, Trickle, Upload, Upstream, config, echoed, server_of};
use http_body_util::BodyExt as _;
use hyper::{Request, StatusCode, Version};
use tokio::time::Instant;

fn pki() -> Pki {
    let mut pki = Pki::new();
    pki.issue(&["a.example"]);
    pki
}

/// An h2 connection over TLS, ALPN having chosen h2.
async fn h2_over_tls(pki: &Pki, proxy: &TestProxy) -> H2 {
    let client = pki.client(&[tls::H2, tls::HTTP11], true);
    let stream = tls::connect(&client, proxy.addr, "a.example").await;
    assert_eq!(tls::alpn(&stream).as_deref(), Some(tls::H2));
    H2::over(stream).await
}

fn boxed<B>(body: B) -> TestBody
where
    B: hyper::body::Body<Data = Bytes, Error = std::convert::Infallible> + Send + Sync + 'static,
{
    body.map_err(|never| match never {}).boxed()
}

#[tokio::test]
async fn h2_over_tls_is_forwarded_as_http_1_1() {
    let a = Upstream::start("a").await;
    let pki = pki();
    let proxy = TestProxy::start_tls(config(&[&a]), pki.tls_config()).await;
    let mut h2 = h2_over_tls(&pki, &proxy).await;
    let request = Request::get("https://a.example/shop?item=1")
        .header("cookie", "a=1")
        .header("cookie", "b=2")
        .header("te", "trailers")
        .body(common::text(String::new()))
        .expect("request");
    let response = h2.send_streaming(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(response.headers()["x-server"], "a");
    assert_eq!(response.headers()["via"], "1.1 baton");
    let body = common::body_text(response.into_body()).await;
    assert!(body.contains("path=/shop?item=1"), "{body}");
    assert_eq!(echoed(&body, "host"), ["a.example"], "{body}");
    assert_eq!(echoed(&body, "x-forwarded-proto"), ["https"]);
    assert_eq!(echoed(&body, "via"), ["2 baton"]);
    assert_eq!(echoed(&body, "cookie"), ["a=1; b=2"]);
    assert!(echoed(&body, "te").is_empty(), "{body}");
    proxy.stop().await;
}

#[tokio::test]
async fn h2_post_body_streams_both_ways() {
    let a = Upstream::start("a").await;
    let pki = pki();
    let proxy = TestProxy::start_tls(config(&[&a]), pki.tls_config()).await;
    let mut h2 = h2_over_tls(&pki, &proxy).await;

    // Each piece comes back through the server before the next one is sent: nothing on the
    // way waits for the whole body.
    let (chunks, receiver) = tokio::sync::mpsc::channel::<Bytes>(1);
    let request = Request::post("https://a.example/echo")
        .body(boxed(Trickle { chunks: receiver }))
        .expect("request");
    let response = h2.send_streaming(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), Version::HTTP_2);
    let mut body = response.into_body();
    for i in 0..5 {
        let piece = Bytes::from(format!("piece {i};"));
        chunks.send(piece.clone()).await.expect("send");
        let mut echoed = Vec::new();
        while echoed.len() < piece.len() {
            let frame = body.frame().await.expect("a frame").expect("body");
            echoed.extend_from_slice(&frame.into_data().expect("data"));
        }
        assert_eq!(echoed, piece);
    }
    drop(chunks);
    let rest = body.collect().await.expect("end of body").to_bytes();
    assert!(rest.is_empty(), "the body ends with the upload: {rest:?}");

    // A large upload with flow control in play.
    let size = 3 * 1024 * 1024 + 17;
    let request = Request::post("https://a.example/count")
        .body(boxed(Upload { left: size }))
        .expect("request");
    let response = h2.send_streaming(request).await;
    let body = common::body_text(response.into_body()).await;
    assert_eq!(body, format!("received={size}"));
    proxy.stop().await;
}

#[tokio::test]
async fn concurrent_streams_on_one_connection_spread_over_both_servers() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let pki = pki();
    let proxy = TestProxy::start_tls(config(&[&a, &b]), pki.tls_config()).await;
    let h2 = h2_over_tls(&pki, &proxy).await;

    // Ten responses whose bodies never end: all ten heads arrive, so all ten streams are
    // open on the one connection at once.
    let mut open = Vec::new();
    for _ in 0..10 {
        let mut sender = h2.sender.clone();
        open.push(tokio::spawn(async move {
            let request = Request::get("https://a.example/stall/1")
                .body(common::text(String::new()))
                .expect("request");
            sender.ready().await.expect("ready");
            sender.send_request(request).await.expect("response")
        }));
    }
    let mut responses = Vec::new();
    for task in open {
        responses.push(task.await.expect("task"));
    }
    let servers: HashSet<String> = responses
        .iter()
        .map(|r| {
            assert_eq!(r.version(), Version::HTTP_2);
            r.headers()["x-server"].to_str().expect("name").to_owned()
        })
        .collect();
    assert_eq!(servers, HashSet::from(["a".to_owned(), "b".to_owned()]));
    let active: u32 = proxy.proxy.servers().iter().map(|s| s.active).sum();
    assert_eq!(active, 10, "all ten in flight together");
    drop(responses);

    // Many short requests at once, all answered.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let mut sender = h2.sender.clone();
        tasks.spawn(async move {
            let request = Request::get(format!("https://a.example/n/{i}"))
                .body(common::text(String::new()))
                .expect("request");
            sender.ready().await.expect("ready");
            let response = sender.send_request(request).await.expect("response");
            assert_eq!(response.status(), StatusCode::OK);
            let body = common::body_text(response.into_body()).await;
            assert!(body.contains(&format!("path=/n/{i}\n")), "{body}");
            server_of(&body).to_owned()
        });
    }
    let mut seen = HashSet::new();
    while let Some(server) = tasks.join_next().await {
        seen.insert(server.expect("request task"));
    }
    assert_eq!(seen.len(), 2, "{seen:?}");

    // The client going away releases what it had open.
    drop(h2);
    let started = std::time::Instant::now();
    proxy.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn h2c_with_prior_knowledge_on_a_plain_listener() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let mut h2 = H2::open(proxy.addr).await;
    for i in 0..3 {
        let (response, body) = h2.get(&format!("http://shop.example/h2c/{i}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.version(), Version::HTTP_2);
        assert!(body.contains(&format!("path=/h2c/{i}")), "{body}");
        assert_eq!(echoed(&body, "host"), ["shop.example"]);
        assert_eq!(echoed(&body, "x-forwarded-proto"), ["http"]);
        assert_eq!(echoed(&body, "via"), ["2 baton"]);
    }
    // HTTP/1.1 on the same listener is as before.
    let (status, body) = Conn::open(proxy.addr).await.get("/h1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(echoed(&body, "via"), ["1.1 baton"]);
    proxy.stop().await;
}

#[tokio::test]
async fn shutdown_lets_open_streams_finish_then_closes_the_connection() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let addr = proxy.addr;
    let mut h2 = H2::open(addr).await;
    let (chunks, receiver) = tokio::sync::mpsc::channel::<Bytes>(1);
    let request = Request::post("http://a.example/echo")
        .body(boxed(Trickle { chunks: receiver }))
        .expect("request");
    let response = h2.send_streaming(request).await;
    let mut body = response.into_body();
    chunks.send(Bytes::from_static(b"one")).await.expect("send");
    let frame = body.frame().await.expect("frame").expect("body");
    assert_eq!(frame.into_data().expect("data"), "one");

    // Stop while the stream is open: no new connections, the stream goes on.
    let stopping = tokio::spawn(proxy.stop());
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        tokio::task::yield_now().await;
    }
    chunks.send(Bytes::from_static(b"two")).await.expect("send");
    drop(chunks);
    let rest = body.collect().await.expect("rest of the body").to_bytes();
    assert_eq!(rest, "two");
    // GOAWAY, then the connection closes and the proxy is done.
    tokio::time::timeout(Duration::from_secs(5), &mut h2.connection)
        .await
        .expect("connection closed")
        .expect("connection task");
    tokio::time::timeout(Duration::from_secs(5), stopping)
        .await
        .expect("proxy stopped")
        .expect("stop task");
}

#[tokio::test(start_paused = true)]
async fn idle_h2_connection_gets_goaway_after_the_idle_timeout() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let mut h2 = H2::open(proxy.addr).await;
    let (response, _) = h2.get("http://a.example/").await;
    assert_eq!(response.status(), StatusCode::OK);
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(120), &mut h2.connection)
        .await
        .expect("connection closed")
        .expect("connection task");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(60) && waited < Duration::from_secs(62),
        "{waited:?}"
    );
    proxy.stop().await;
}
