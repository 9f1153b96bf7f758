//! Clients that are slow, idle, too many, too big, or not speaking HTTP at all.

mod common;

use std::time::Duration;

use common::{Conn, TestProxy, Upstream, config, raw, read_to_close};
use hyper::StatusCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn slow_request_head_gets_408_and_close() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let started = Instant::now();
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let response = read_to_close(&mut stream, Duration::from_secs(60)).await;
    let waited = started.elapsed();
    assert!(response.starts_with("HTTP/1.1 408"), "{response:?}");
    assert!(response.contains("connection: close"), "{response}");
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_secs(12),
        "{waited:?}"
    );
    proxy.stop().await;
}

#[tokio::test(start_paused = true)]
async fn second_request_head_gets_its_own_time_after_idling() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream
        .write_all(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // Idle for 50 s (below the 60 s keep-alive timeout), then a slow head: 408 after 10 s.
    tokio::time::sleep(Duration::from_secs(50)).await;
    stream
        .write_all(b"GET /second HTTP/1.1\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    let response = read_to_close(&mut stream, Duration::from_secs(60)).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response:?}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_secs(12),
        "{waited:?}"
    );
    proxy.stop().await;
}

#[tokio::test(start_paused = true)]
async fn idle_keep_alive_connection_is_closed_quietly() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let started = Instant::now();
    let rest = read_to_close(&mut stream, Duration::from_secs(120)).await;
    assert_eq!(rest, "", "closed without an answer");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(60) && waited < Duration::from_secs(62),
        "{waited:?}"
    );
    proxy.stop().await;
}

#[tokio::test(start_paused = true)]
async fn connection_that_never_speaks_is_closed_quietly() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let started = Instant::now();
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    let rest = read_to_close(&mut stream, Duration::from_secs(120)).await;
    assert_eq!(rest, "");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_secs(12),
        "{waited:?}"
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_do_not_stall_others() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let addr = proxy.addr;
    let mut loris = Vec::new();
    for _ in 0..20 {
        loris.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            for byte in b"GET / HTTP/1.1\r\nHost: slow\r\nX-Padding: "
                .iter()
                .cycle()
            {
                if stream.write_all(&[*byte]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..50 {
        let started = std::time::Instant::now();
        let (status, _) = common::get(addr, "/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
    }
    for task in loris {
        task.abort();
    }
    proxy.stop().await;
}

#[tokio::test]
async fn oversized_head_is_431() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nCookie: {}\r\n\r\n",
        "c".repeat(40 * 1024)
    );
    let response = raw(proxy.addr, big.as_bytes(), Duration::from_secs(5)).await;
    assert!(response.starts_with("HTTP/1.1 431"), "{response:?}");

    let mut many = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
    for i in 0..150 {
        many.push_str(&format!("X-H{i}: {i}\r\n"));
    }
    many.push_str("\r\n");
    let response = raw(proxy.addr, many.as_bytes(), Duration::from_secs(5)).await;
    assert!(response.starts_with("HTTP/1.1 431"), "{response:?}");
    // The proxy is fine afterwards.
    assert_eq!(common::get(proxy.addr, "/").await.0, StatusCode::OK);
    proxy.stop().await;
}

#[tokio::test]
async fn malformed_requests_are_400() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    for garbage in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
        b"GET / HTTP/9.7\r\nHost: x\r\n\r\n",
        b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let response = raw(proxy.addr, garbage, Duration::from_secs(5)).await;
        assert!(
            response.starts_with("HTTP/1.1 400"),
            "{:?} -> {response:?}",
            String::from_utf8_lossy(garbage)
        );
    }
    assert_eq!(common::get(proxy.addr, "/").await.0, StatusCode::OK);
    proxy.stop().await;
}

#[tokio::test]
async fn half_closed_client_still_gets_its_answer() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream
        .write_all(b"GET /half HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    stream.shutdown().await.expect("shutdown");
    let response = read_to_close(&mut stream, Duration::from_secs(5)).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response:?}");
    assert!(response.contains("path=/half"), "{response}");

    // Half a head and then the end: closed at once, without a word.
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream
        .write_all(b"GET /half HTTP/1.1\r\nHo")
        .await
        .expect("write");
    stream.shutdown().await.expect("shutdown");
    let started = std::time::Instant::now();
    let response = read_to_close(&mut stream, Duration::from_secs(5)).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(!response.contains("200"), "{response:?}");
    proxy.stop().await;
}

#[tokio::test(start_paused = true)]
async fn connections_over_the_limit_wait_then_get_503() {
    let a = Upstream::start("a").await;
    let mut config = config(&[&a]);
    config.limits.max_connections = 2;
    config.limits.connection_wait = Duration::from_secs(1);
    let proxy = TestProxy::start(config).await;
    let mut first = Conn::open(proxy.addr).await;
    let mut second = Conn::open(proxy.addr).await;
    assert_eq!(first.get("/").await.0, StatusCode::OK);
    assert_eq!(second.get("/").await.0, StatusCode::OK);

    // A third connection waits for a slot, gets none in time, and is told so.
    let started = Instant::now();
    let response = raw(
        proxy.addr,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(10),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 503"), "{response:?}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(2),
        "{waited:?}"
    );

    // A fourth one gets the slot that frees up while it waits.
    let addr = proxy.addr;
    let fourth = tokio::spawn(async move { common::get(addr, "/").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(first);
    let (status, _) = fourth.await.expect("fourth");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second.get("/").await.0, StatusCode::OK);
    proxy.stop().await;
}

#[tokio::test]
async fn connect_method_is_405() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let response = raw(
        proxy.addr,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nConnection: close\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 405"), "{response:?}");
    assert_eq!(a.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
    proxy.stop().await;
}

#[tokio::test(start_paused = true)]
async fn client_that_stops_reading_is_cut_after_the_send_timeout() {
    let a = Upstream::start("a").await;
    let mut config = config(&[&a]);
    config.limits.send_timeout = Duration::from_secs(5);
    let proxy = TestProxy::start(config).await;
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream
        .write_all(b"GET /big/1000000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    // Read nothing: the proxy fills the socket buffers, waits 5 s, and gives up.
    let deadline = Instant::now() + Duration::from_secs(30);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(proxy.proxy.servers()[0].active, 1);
    while proxy.proxy.servers()[0].active != 0 {
        assert!(Instant::now() < deadline, "the stuck response was not cut");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(
        matches!(read, Ok(Ok(_)) | Ok(Err(_))),
        "the connection ends"
    );
    assert!(rest.len() < 1_000_000_000);
    proxy.stop().await;
}
