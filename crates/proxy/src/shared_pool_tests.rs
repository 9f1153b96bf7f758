//! Scenarios across both forwarding paths, through the crate's own accept path: what one
//! pool of server connections means for a client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};

use crate::config::{ProxyConfig, ServerConfig};
use crate::serving::{ServeCall, Shared, Transport};
use crate::test_support::read_until;

/// The point of one pool: a connection an HTTP/1.1 request (this crate's exchange) left idle
/// carries the next request of an HTTP/2 client (hyper's path), and the server sees one
/// connection.
#[tokio::test]
async fn an_http2_request_reuses_the_connection_an_http1_request_left() {
    let backend = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let backend_address = backend.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = backend.accept().await.expect("accept");
            counted.fetch_add(1, SeqCst);
            tokio::spawn(async move {
                loop {
                    let head = read_until(&mut stream, b"\r\n\r\n").await;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",
                        if head.contains("via: 2 baton") {
                            "h2"
                        } else {
                            "h1"
                        }
                    );
                    stream.write_all(answer.as_bytes()).await.expect("write");
                }
            });
        }
    });
    let (proxy, call) = proxy_for(backend_address).await;

    let mut h1 = TcpStream::connect(proxy).await.expect("connect");
    h1.write_all(b"GET /one HTTP/1.1\r\nhost: example.com\r\n\r\n")
        .await
        .expect("write");
    let answer = read_until(&mut h1, b"\r\n\r\nh1").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let stream = TcpStream::connect(proxy).await.expect("connect");
    let (mut h2, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(connection);
    let request = Request::get("http://example.com/two")
        .body(http_body_util::Empty::<Bytes>::new())
        .expect("request");
    let response = h2.send_request(request).await.expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(&body[..], b"h2");

    let set = call.shared.servers.current();
    let pool = &set.server(0).pool;
    assert_eq!(
        pool.counts(),
        (1, 2),
        "the h2 request took the h1 request's connection"
    );
    assert_eq!(accepted.load(SeqCst), 1, "one connection to the server");
}

/// A proxy for one server on a listener of its own, served through the crate's own accept
/// path; returns its address and what its connections share.
async fn proxy_for(server: SocketAddr) -> (SocketAddr, Arc<crate::serving::ServeCall>) {
    let config = Arc::new(ProxyConfig::new(vec![ServerConfig::new(server)]));
    let shared = Arc::new(Shared {
        servers: crate::servers::Servers::new(&config),
        http: crate::conn::http_builder(&config.limits),
        http2: crate::conn::http2_builder(&config.limits),
        connections: crate::metrics::ConnectionCounters::default(),
        per_client: None,
        config,
    });
    let (stop, stopped) = tokio::sync::watch::channel(crate::stop::Stop::Run);
    let (done, _) = tokio::sync::mpsc::channel(1);
    let call = Arc::new(ServeCall {
        shared,
        stop: stopped,
        transport: Transport::Plain,
        _done: done,
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr");
    let slots = Arc::new(tokio::sync::Semaphore::new(16));
    let serving = Arc::clone(&call);
    tokio::spawn(async move {
        let _stop = stop;
        loop {
            let (stream, peer) = listener.accept().await.expect("accept");
            let permit = Arc::clone(&slots).acquire_owned().await.expect("slot");
            let slot = crate::admission::Slot::new(permit, None);
            tokio::spawn(crate::transport::accept(
                Arc::clone(&serving),
                stream,
                peer,
                slot,
            ));
        }
    });
    (address, call)
}
