//! Requests and clients that try to fool or pin the proxy: bad Host fields, bodies sent or
//! taken too slowly, forged X-Forwarded-For, too many connections from one address.

mod common;

use std::time::Duration;

use common::{TestProxy, Upstream, config, raw};

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
