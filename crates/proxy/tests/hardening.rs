//! Requests and clients that try to fool or pin the proxy: bad Host fields, bodies sent or
//! taken too slowly, forged X-Forwarded-For, too many connections from one address.

mod common;

use std::time::Duration;

use baton_proxy::{ProxyConfig, ServerConfig};
use common::{TestProxy, Upstream, config, raw, read_to_close};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// RFC 9112 3.2: no Host, two Hosts, or a Host that is not the absolute-form target's
/// authority: 400, the connection closed, and nothing sent to a server.
#[tokio::test]
async fn a_bad_host_gets_400_and_close() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let limit = Duration::from_secs(10);
    for request in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a.example\r\nX-Pad: 1\r\nhost: a.example\r\n\r\n",
        b"GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n",
        b"GET http://a.example/ HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.0\r\nHost: a.example\r\nHost: b.example\r\n\r\n",
        // Keep-alive asked for, and a second request behind: neither is served.
        b"GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let response = raw(proxy.addr, request, limit).await;
        let shown = String::from_utf8_lossy(request);
        assert!(status_is(&response, 400), "{shown:?}: {response:?}");
        assert!(
            response.contains("connection: close"),
            "{shown:?}: {response}"
        );
        assert!(!response.contains(" 200 OK"), "{response}");
    }
    assert_eq!(a.requests.load(std::sync::atomic::Ordering::SeqCst), 0);

    // HTTP/1.0 may leave Host out; an absolute target with its own Host is fine.
    for request in [
        &b"GET / HTTP/1.0\r\n\r\n"[..],
        b"GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n",
    ] {
        let response = raw(proxy.addr, request, limit).await;
        assert!(status_is(&response, 200), "{response:?}");
    }
    proxy.stop().await;
}

/// True when `response` starts with an HTTP/1.x status line of `status` (hyper answers an
/// HTTP/1.0 request in HTTP/1.0).
fn status_is(response: &str, status: u16) -> bool {
    response.starts_with("HTTP/1.") && response.get(8..13) == Some(&format!(" {status} ")[..])
}

/// A client that sends part of its body and then nothing: 408 after the client body timeout,
/// and the connection closed, on the proxy's own HTTP/1.1 path and on hyper's (HTTP/1.0).
#[tokio::test]
async fn a_body_that_stops_coming_gets_408_and_close() {
    let a = Upstream::start("a").await;
    let mut config = config(&[&a]);
    config.limits.client_body_timeout = Duration::from_millis(500);
    let proxy = TestProxy::start(config).await;
    for (request, status_line) in [
        (
            &b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"[..],
            "HTTP/1.1 408",
        ),
        (
            b"POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
            "HTTP/1.1 408",
        ),
        (
            b"POST /count HTTP/1.0\r\nContent-Length: 100\r\n\r\nabc",
            "HTTP/1.0 408",
        ),
    ] {
        let started = Instant::now();
        let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
        stream.write_all(request).await.expect("write");
        // The stream stays open: only the timeout can end the request.
        let response = read_to_close(&mut stream, Duration::from_secs(20)).await;
        let waited = started.elapsed();
        assert!(response.starts_with(status_line), "{response:?}");
        assert!(response.contains("connection: close"), "{response}");
        assert!(
            waited >= Duration::from_millis(450) && waited < Duration::from_secs(10),
            "{waited:?}"
        );
    }
    proxy.stop().await;
}

/// A server that takes the request head and then reads nothing: the client streaming a body
/// gets 504 after the upstream timeout instead of being held for good, on both paths.
#[tokio::test]
async fn a_server_that_stops_reading_the_body_gets_504() {
    let deaf = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = deaf.local_addr().expect("addr");
    let held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = deaf.accept().await {
            held.push(stream);
        }
    });
    let mut config = ProxyConfig::new(vec![ServerConfig::new(address)]);
    config.limits.upstream_timeout = Duration::from_millis(500);
    let proxy = TestProxy::start(config).await;
    const SIZE: usize = 256 << 20;
    for version in ["1.1", "1.0"] {
        let started = Instant::now();
        let stream = TcpStream::connect(proxy.addr).await.expect("connect");
        let (mut reader, mut writer) = stream.into_split();
        let head =
            format!("POST /upload HTTP/{version}\r\nHost: x\r\nContent-Length: {SIZE}\r\n\r\n");
        let writing = tokio::spawn(async move {
            writer.write_all(head.as_bytes()).await.expect("head");
            let piece = vec![b'x'; 64 * 1024];
            let mut sent = 0;
            // Until the proxy gives up: it stops reading once the server does.
            while sent < SIZE && writer.write_all(&piece).await.is_ok() {
                sent += piece.len();
            }
            sent
        });
        let mut response = Vec::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(30), reader.read_to_end(&mut response)).await;
        let response = String::from_utf8_lossy(&response);
        let waited = started.elapsed();
        assert!(
            response.starts_with(&format!("HTTP/{version} 504")),
            "{response:?}"
        );
        assert!(waited < Duration::from_secs(20), "{waited:?}");
        let sent = tokio::time::timeout(Duration::from_secs(10), writing)
            .await
            .expect("the writer is not held")
            .expect("writer");
        assert!(
            sent < SIZE,
            "all {sent} bytes went through a server that reads nothing"
        );
    }
    proxy.stop().await;
    held.abort();
}

/// Clients that send the start of the HTTP/2 preface, or of a TLS handshake, and stall cost
/// the proxy next to no CPU: the protocol sniffer and the handshake wait for more bytes
/// rather than looking again and again.
#[tokio::test]
async fn clients_stalled_in_the_preface_cost_no_cpu() {
    let a = Upstream::start("a").await;
    let plain = TestProxy::start(config(&[&a])).await;
    let mut pki = common::tls::Pki::new();
    pki.issue(&["x.test"]);
    let tls = TestProxy::start_tls(config(&[&a]), pki.tls_config()).await;
    let mut clients = Vec::new();
    for (proxy, start, count) in [
        (&plain, &b"PRI * HTTP/2"[..], 200),
        (&tls, b"\x16\x03\x01", 100),
    ] {
        for _ in 0..count {
            let mut client = TcpStream::connect(proxy.addr).await.expect("connect");
            client.write_all(start).await.expect("write");
            clients.push(client);
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = thread_cpu_time();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let used = thread_cpu_time() - before;
    // Nothing to do: 0 ms here. Waking every 5 ms per plain client, as the sniffer once did
    // (40,000 wake-ups), costs about 100 ms on a fast machine even without its peeks.
    assert!(
        used < Duration::from_millis(50),
        "{used:?} of CPU in 1 s for 300 stalled clients"
    );
    drop(clients);
    plain.stop().await;
    tls.stop().await;
}

/// The CPU time (user and system) of this thread, which runs the test's runtime and so the
/// proxy: other tests of this binary run on threads of their own.
fn thread_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("stat");
    // The fields after the command name, which is in parentheses and may hold spaces:
    // utime and stime are fields 14 and 15 of the line, in USER_HZ (100) ticks.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("comm")
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    Duration::from_millis(ticks * 10)
}

/// X-Forwarded-For and X-Forwarded-Proto from a client that is not a trusted proxy are
/// replaced (it could claim any address); a trusted proxy's are extended and kept. Both the
/// proxy's own HTTP/1.1 path and hyper's (HTTP/1.0) apply the same rule.
#[tokio::test]
async fn forwarded_headers_are_believed_only_from_trusted_proxies() {
    let a = Upstream::start("a").await;
    let limit = Duration::from_secs(10);
    let forged = "X-Forwarded-For: 203.0.113.66\r\nX-Forwarded-Proto: https\r\n";
    for (trusted, for_, proto) in [
        (Vec::new(), "127.0.0.1", "http"),
        (vec!["10.0.0.0/8"], "127.0.0.1", "http"),
        (
            vec!["10.0.0.0/8", "127.0.0.0/8"],
            "203.0.113.66, 127.0.0.1",
            "https",
        ),
    ] {
        let mut config = config(&[&a]);
        config.trusted_proxies = trusted.iter().map(|c| c.parse().expect("cidr")).collect();
        let proxy = TestProxy::start(config).await;
        for version in ["1.1", "1.0"] {
            let request =
                format!("GET / HTTP/{version}\r\nHost: x\r\nConnection: close\r\n{forged}\r\n");
            let response = raw(proxy.addr, request.as_bytes(), limit).await;
            assert!(status_is(&response, 200), "{response:?}");
            assert_eq!(
                common::echoed(&response, "x-forwarded-for"),
                [for_],
                "{trusted:?} HTTP/{version}"
            );
            assert_eq!(
                common::echoed(&response, "x-forwarded-proto"),
                [proto],
                "{trusted:?} HTTP/{version}"
            );
        }
        proxy.stop().await;
    }
}

/// `max_connections_per_client`: an address with that many connections open gets its next
/// one refused with 503 (nginx's `limit_conn` answer), counted; other addresses are not
/// affected, and closing a connection frees a place.
#[tokio::test]
async fn one_client_address_cannot_take_more_than_its_connections() {
    let a = Upstream::start("a").await;
    let mut config = config(&[&a]);
    config.limits.max_connections_per_client = 2;
    let proxy = TestProxy::start(config).await;
    let limit = Duration::from_secs(10);
    let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
        stream.write_all(request).await.expect("write");
        let mut buf = vec![0u8; 4096];
        let n = stream.read(&mut buf).await.expect("read");
        assert!(
            buf[..n].starts_with(b"HTTP/1.1 200"),
            "kept-alive connection served"
        );
        held.push(stream);
    }
    let refused = raw(proxy.addr, request, limit).await;
    assert!(status_is(&refused, 503), "{refused:?}");
    assert_eq!(proxy.proxy.metrics().connections_refused_per_client, 1);

    // Another address (all of 127/8 is loopback) has places of its own.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.2:0".parse().expect("addr"))
        .expect("bind");
    let mut other = socket.connect(proxy.addr).await.expect("connect");
    other
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let response = read_to_close(&mut other, limit).await;
    assert!(status_is(&response, 200), "{response:?}");

    // Once one closes, the address may connect again.
    drop(held.pop());
    let started = Instant::now();
    loop {
        let request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let response = raw(proxy.addr, request, limit).await;
        if status_is(&response, 200) {
            break;
        }
        assert!(started.elapsed() < limit, "still refused: {response:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(held);
    proxy.stop().await;
}

/// The client body timeout holds on HTTP/2 too: a stream whose body stops gets 408, and the
/// connection goes on serving other streams.
#[tokio::test]
async fn an_http2_body_that_stops_coming_gets_408() {
    use http_body_util::BodyExt as _;

    let a = Upstream::start("a").await;
    let mut config = config(&[&a]);
    config.limits.client_body_timeout = Duration::from_millis(500);
    let proxy = TestProxy::start(config).await;
    let mut h2 = common::H2::open(proxy.addr).await;
    let (feed, chunks) = tokio::sync::mpsc::channel(1);
    feed.send(bytes::Bytes::from_static(b"abc"))
        .await
        .expect("first piece");
    let request = hyper::Request::post("http://x/count")
        .body(common::Trickle { chunks }.map_err(|n| match n {}).boxed())
        .expect("request");
    let started = Instant::now();
    let response = h2.send_streaming(request).await;
    assert_eq!(response.status(), hyper::StatusCode::REQUEST_TIMEOUT);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(450) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    drop(feed);
    let (response, body) = h2.get("http://x/").await;
    assert_eq!(response.status(), hyper::StatusCode::OK, "{body}");
    proxy.stop().await;
}
