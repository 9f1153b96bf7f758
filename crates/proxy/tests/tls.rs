//! TLS termination over real sockets: forwarding, certificate choice by SNI, and clients that
//! fail or never finish the handshake.

mod common;

use std::time::Duration;

use common::tls::{self, Pki};
use common::{Conn, TestProxy, Upstream, config, echoed, server_of};
use hyper::{StatusCode, Version};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A CA with three certificates: the default one, `a.example`, and `b.example` with its
/// subdomains.
fn pki() -> Pki {
    let mut pki = Pki::new();
    pki.issue(&["default.example"]);
    pki.issue(&["a.example"]);
    pki.issue(&["b.example", "*.b.example"]);
    pki
}

const DEFAULT: usize = 0;
const A: usize = 1;
const B: usize = 2;

#[tokio::test]
async fn get_over_tls_reaches_the_server_with_forwarded_proto_https() {
    let a = Upstream::start("a").await;
    let pki = pki();
    let proxy = TestProxy::start_tls(config(&[&a]), pki.tls_config()).await;
    let stream = tls::connect(&pki.client(&[tls::HTTP11], true), proxy.addr, "a.example").await;
    assert_eq!(tls::alpn(&stream).as_deref(), Some(tls::HTTP11));
    let mut conn = Conn::over(stream).await;
    let request = hyper::Request::get("/secure?x=1")
        .header("host", "a.example")
        .header("x-forwarded-proto", "http")
        .body(common::text(String::new()))
        .expect("request");
    let response = conn.send_streaming(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), Version::HTTP_11);
    let body = common::body_text(response.into_body()).await;
    assert_eq!(server_of(&body), "a");
    assert!(body.contains("path=/secure?x=1"), "{body}");
    assert_eq!(echoed(&body, "host"), ["a.example"]);
    assert_eq!(echoed(&body, "x-forwarded-proto"), ["https"], "{body}");
    assert_eq!(echoed(&body, "x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(echoed(&body, "via"), ["1.1 baton"]);
    // Keep-alive over TLS.
    let (status, body) = conn.get("/again").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("path=/again"), "{body}");
    proxy.stop().await;
}

#[tokio::test]
async fn sni_chooses_the_certificate_and_no_match_gets_the_default() {
    let a = Upstream::start("a").await;
    let pki = pki();
    let proxy = TestProxy::start_tls(config(&[&a]), pki.tls_config()).await;
    let with_sni = pki.client(&[tls::HTTP11], true);
    let cases = [
        ("a.example", A),
        ("b.example", B),
        ("shop.b.example", B),
        ("A.EXAMPLE", A),
        ("unknown.example", DEFAULT),
        ("default.example", DEFAULT),
    ];
    for (name, expected) in cases {
        let stream = tls::connect(&with_sni, proxy.addr, name).await;
        let cert = tls::peer_certificate(&stream);
        assert!(
            cert == pki.certs[expected],
            "{name}: not certificate {expected}"
        );
        let fits = tls::valid_for(&cert, name);
        assert_eq!(
            fits,
            expected != DEFAULT || name == "default.example",
            "{name}"
        );
    }
    // The SAN check itself tells the certificates apart.
    assert!(tls::valid_for(&pki.certs[A], "a.example"));
    assert!(!tls::valid_for(&pki.certs[A], "b.example"));
    assert!(tls::valid_for(&pki.certs[B], "x.b.example"));

    let without_sni = pki.client(&[tls::HTTP11], false);
    let stream = tls::connect(&without_sni, proxy.addr, "a.example").await;
    let cert = tls::peer_certificate(&stream);
    assert!(
        cert == pki.certs[DEFAULT],
        "no SNI: the default certificate"
    );
    assert!(tls::valid_for(&cert, "default.example"));
    assert!(!tls::valid_for(&cert, "a.example"));
    // And the connection serves requests.
    let (status, body) = Conn::over(stream).await.get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(server_of(&body), "a");
    proxy.stop().await;
}

/// Reads until the peer closes; `None` if it did not within `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match tokio::time::timeout(limit, stream.read_to_end(&mut out)).await {
        Ok(_) => Some(out),
        Err(_) => None,
    }
}

#[tokio::test]
async fn plain_http_on_the_tls_port_is_closed_without_hurting_others() {
    let a = Upstream::start("a").await;
    let pki = pki();
    let proxy = TestProxy::start_tls(config(&[&a]), pki.tls_config()).await;
    let client = pki.client(&[tls::HTTP11], true);
    let mut good = Conn::over(tls::connect(&client, proxy.addr, "a.example").await).await;
    assert_eq!(good.get("/before").await.0, StatusCode::OK);

    let mut garbage = TcpStream::connect(proxy.addr).await.expect("connect");
    garbage
        .write_all(b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n")
        .await
        .expect("write");
    let answer = closed_within(&mut garbage, Duration::from_secs(5))
        .await
        .expect("the proxy closes the connection");
    assert!(
        !answer.starts_with(b"HTTP/"),
        "no HTTP answer in plain text: {:?}",
        String::from_utf8_lossy(&answer)
    );
    let mut noise = TcpStream::connect(proxy.addr).await.expect("connect");
    noise
        .write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 0x00])
        .await
        .expect("write");
    noise.write_all(&[0xab; 512]).await.expect("write");
    assert!(
        closed_within(&mut noise, Duration::from_secs(5))
            .await
            .is_some(),
        "a broken ClientHello is closed"
    );

    // The connection that was there all along, and a new one, still work.
    let (status, body) = good.get("/after").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("path=/after"), "{body}");
    let mut fresh = Conn::over(tls::connect(&client, proxy.addr, "a.example").await).await;
    assert_eq!(fresh.get("/fresh").await.0, StatusCode::OK);
    proxy.stop().await;
}

#[tokio::test]
async fn handshake_that_never_comes_times_out() {
    let a = Upstream::start("a").await;
    let pki = pki();
    let mut config = config(&[&a]);
    config.limits.header_read_timeout = Duration::from_millis(300);
    let proxy = TestProxy::start_tls(config, pki.tls_config()).await;
    let client = pki.client(&[tls::HTTP11], true);
    // A first request in time: from then on the idle timeout (60 s) applies to it.
    let mut good = Conn::over(tls::connect(&client, proxy.addr, "a.example").await).await;
    assert_eq!(good.get("/").await.0, StatusCode::OK);

    let started = std::time::Instant::now();
    let mut silent = TcpStream::connect(proxy.addr).await.expect("connect");
    let answer = closed_within(&mut silent, Duration::from_secs(10))
        .await
        .expect("the proxy closes a silent connection");
    assert!(answer.is_empty(), "{answer:?}");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300), "{waited:?}");

    assert_eq!(good.get("/").await.0, StatusCode::OK);
    proxy.stop().await;
}

#[tokio::test]
async fn tls_connections_drain_on_shutdown() {
    let a = Upstream::start("a").await;
    let pki = pki();
    let proxy = TestProxy::start_tls(config(&[&a]), pki.tls_config()).await;
    let addr = proxy.addr;
    let client = pki.client(&[tls::HTTP11], true);
    let mut idle = Conn::over(tls::connect(&client, addr, "a.example").await).await;
    assert_eq!(idle.get("/").await.0, StatusCode::OK);
    let mut busy = Conn::over(tls::connect(&client, addr, "a.example").await).await;
    let in_flight = tokio::spawn(async move { busy.get("/slow/300").await });
    // The request is in flight once the server counts it.
    while proxy.proxy.servers()[0].active == 0 {
        tokio::task::yield_now().await;
    }
    proxy.stop().await;
    let (status, body) = in_flight.await.expect("request");
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("slept=300"), "{body}");
    assert!(TcpStream::connect(addr).await.is_err(), "nothing listens");
}
