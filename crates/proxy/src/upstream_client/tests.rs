use std::convert::Infallible;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body::Body as _;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream};
use tokio::net::TcpListener;

use super::*;
use crate::request_body::{BodySlot, Progress};
use crate::test_support::read_until;

const LIMIT: Duration = Duration::from_secs(5);

fn settings() -> PoolSettings {
    PoolSettings {
        connect_timeout: LIMIT,
        idle_timeout: Duration::from_secs(60),
        max_idle: 8,
    }
}

/// A request body as hyper's server hands it out: `sent` (a client's request, head and as
/// much of its body as given) goes to a hyper server over a pipe, whose service passes the
/// body on. The pipe's client end comes back, for the rest of the body.
async fn body_of(sent: &[u8]) -> (Incoming, DuplexStream) {
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = Mutex::new(Some(tx));
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        if let Some(tx) = tx.lock().expect("lock").take() {
            let _ = tx.send(request.into_body());
        }
        // Never answers: the connection stays, reading the body as it is polled.
        std::future::pending::<Result<Response<http_body_util::Empty<Bytes>>, Infallible>>()
    });
    tokio::spawn(
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(server), service),
    );
    client.write_all(sent).await.expect("write");
    (rx.await.expect("body"), client)
}

/// `request`, its body ready to go to a server.
fn outgoing(request: Request<Incoming>) -> Request<RequestBody> {
    let (parts, body) = request.into_parts();
    let body = BodySlot::new(body).attempt(Arc::new(Progress::new()), LIMIT);
    Request::from_parts(parts, body)
}

async fn get(path: &str, extra: &[(&str, &str)]) -> Request<RequestBody> {
    let (body, _client) = body_of(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n").await;
    let mut request = Request::get(path).header("host", "example.com");
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    outgoing(request.body(body).expect("request"))
}

async fn send_to(
    server: &Arc<Server>,
    request: Request<RequestBody>,
) -> Result<Response<ServerBody>, SendError> {
    let pool = settings();
    let target = Target {
        server,
        pool: &pool,
        fresh: false,
    };
    tokio::time::timeout(LIMIT, send(target, request))
        .await
        .expect("in time")
}

/// A server played by the test: its address and the listener to accept on.
async fn scripted() -> (Arc<Server>, TcpListener) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = Server::new(listener.local_addr().expect("addr"));
    (server, listener)
}

/// Writes all of `bytes`, failing the test otherwise.
async fn write(stream: &mut (impl tokio::io::AsyncWrite + Unpin), bytes: &[u8]) {
    stream.write_all(bytes).await.expect("write");
}

async fn frame(body: &mut ServerBody) -> Option<Bytes> {
    let frame = tokio::time::timeout(LIMIT, body.frame())
        .await
        .expect("in time")?;
    Some(frame.expect("frame").into_data().expect("data"))
}

#[tokio::test]
async fn the_connection_goes_back_to_the_pool_only_after_a_clean_end() {
    let (server, listener) = scripted().await;
    let (go_on, wait) = tokio::sync::oneshot::channel::<()>();
    let script = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let head = read_until(&mut stream, b"\r\n\r\n").await;
        write(
            &mut stream,
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello",
        )
        .await;
        wait.await.expect("go on");
        write(&mut stream, b"world").await;
        // The same connection takes the next request.
        let second = read_until(&mut stream, b"\r\n\r\n").await;
        write(&mut stream, b"HTTP/1.1 204 No Content\r\n\r\n").await;
        (head, second)
    });

    let response = send_to(&server, get("/first?q=1", &[]).await)
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    assert_eq!(frame(&mut body).await.as_deref(), Some(&b"hello"[..]));
    assert_eq!(server.pool.len(), 0, "not before the body's end");
    go_on.send(()).expect("script");
    assert_eq!(frame(&mut body).await.as_deref(), Some(&b"world"[..]));
    assert!(body.is_end_stream());
    assert_eq!(server.pool.len(), 1, "back once the last byte came");

    let response = send_to(&server, get("/second", &[]).await)
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(server.pool.counts(), (1, 2), "reused once, kept twice");
    let (head, second) = script.await.expect("script");
    assert!(head.starts_with("GET /first?q=1 HTTP/1.1\r\n"), "{head}");
    assert!(head.contains("host: example.com\r\n"), "{head}");
    assert!(second.starts_with("GET /second HTTP/1.1\r\n"), "{second}");
}

#[tokio::test]
async fn a_body_dropped_or_cut_short_closes_its_connection() {
    let (server, listener) = scripted().await;
    let script = tokio::spawn(async move {
        // Dropped by the client half way.
        let (mut stream, _) = listener.accept().await.expect("accept");
        read_until(&mut stream, b"\r\n\r\n").await;
        write(
            &mut stream,
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello",
        )
        .await;
        let mut rest = Vec::new();
        let read = tokio::time::timeout(LIMIT, stream.read_to_end(&mut rest)).await;
        assert!(matches!(read, Ok(Ok(0))), "closed by the proxy: {read:?}");
        // Cut short by the server.
        let (mut stream, _) = listener.accept().await.expect("accept");
        read_until(&mut stream, b"\r\n\r\n").await;
        write(
            &mut stream,
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello",
        )
        .await;
    });

    let response = send_to(&server, get("/", &[]).await).await.expect("answer");
    let mut body = response.into_body();
    assert_eq!(frame(&mut body).await.as_deref(), Some(&b"hello"[..]));
    drop(body);

    let response = send_to(&server, get("/", &[]).await).await.expect("answer");
    let mut body = response.into_body();
    assert_eq!(frame(&mut body).await.as_deref(), Some(&b"hello"[..]));
    let cut = tokio::time::timeout(LIMIT, body.frame())
        .await
        .expect("in time");
    assert!(matches!(cut, Some(Err(_))), "{cut:?}");
    script.await.expect("script");
    assert_eq!(server.pool.len(), 0);
    assert_eq!(server.pool.counts(), (0, 0));
}

#[tokio::test]
async fn a_chunked_answer_is_decoded_while_the_request_body_still_goes_out() {
    let (server, listener) = scripted().await;
    let script = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let head = read_until(&mut stream, b"\r\n\r\n").await;
        let first = read_until(&mut stream, b"hello\r\n").await;
        // An interim answer, skipped, then the answer begins before the request has ended
        // (as an echo's does).
        write(&mut stream, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhe").await;
        write(&mut stream, b"llo\r\n").await;
        let last = read_until(&mut stream, b"0\r\n\r\n").await;
        write(&mut stream, b"6\r\n world\r\n0\r\nx-sum: 1\r\n\r\n").await;
        (head, first, last)
    });

    let (body, mut client) =
        body_of(b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")
            .await;
    let request = Request::post("/upload")
        .header("host", "example.com")
        .header("expect", "100-continue")
        .body(body)
        .expect("request");
    let response = send_to(&server, outgoing(request)).await.expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("content-length").is_none());
    let mut body = response.into_body();
    let mut received = Vec::new();
    received.extend_from_slice(&frame(&mut body).await.expect("data"));
    while received.len() < 5 {
        received.extend_from_slice(&frame(&mut body).await.expect("data"));
    }
    client.write_all(b"0\r\n\r\n").await.expect("write");
    let mut trailers = None;
    while let Some(frame) = tokio::time::timeout(LIMIT, body.frame())
        .await
        .expect("in time")
    {
        match frame.expect("frame").into_data() {
            Ok(data) => received.extend_from_slice(&data),
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    assert_eq!(received, b"hello world");
    assert_eq!(trailers.expect("trailers")["x-sum"], "1");
    let (head, first, last) = script.await.expect("script");
    assert!(head.contains("transfer-encoding: chunked\r\n"), "{head}");
    assert!(head.contains("expect: 100-continue\r\n"), "{head}");
    assert_eq!(first, "5\r\nhello\r\n");
    assert_eq!(last, "0\r\n\r\n");
    assert_eq!(server.pool.len(), 1, "both sides ended cleanly");
}

const SWITCHED: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\nearly";

#[tokio::test]
async fn an_upgrade_hands_the_connection_over() {
    let (server, listener) = scripted().await;
    let script = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let head = read_until(&mut stream, b"\r\n\r\n").await;
        write(&mut stream, SWITCHED).await;
        let mut ping = [0u8; 4];
        stream.read_exact(&mut ping).await.expect("read");
        write(&mut stream, &ping).await;
        head
    });

    let upgrade = [("connection", "upgrade"), ("upgrade", "websocket")];
    let response = send_to(&server, get("/ws", &upgrade).await)
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let Upgraded { mut stream, early } = response.into_body().into_upgraded().expect("upgraded");
    assert_eq!(
        &early[..],
        b"early",
        "what came with the 101 goes to the client first"
    );
    write(&mut stream, b"ping").await;
    let mut pong = [0u8; 4];
    stream.read_exact(&mut pong).await.expect("read");
    assert_eq!(&pong, b"ping");
    let head = script.await.expect("script");
    assert!(head.contains("upgrade: websocket\r\n"), "{head}");
    assert_eq!(server.pool.len(), 0, "the tunnel's, not the pool's");
    let received = (SWITCHED.len() + b"ping".len()) as u64;
    assert_eq!(
        server.metrics.bytes_moved().0,
        received,
        "the tunnel counts its bytes"
    );
}

#[tokio::test]
async fn nothing_back_on_a_pooled_connection_is_a_stale_one() {
    let (server, listener) = scripted().await;
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        read_until(&mut stream, b"\r\n\r\n").await;
        write(&mut stream, b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
        // The next request finds the connection closing.
        read_until(&mut stream, b"\r\n\r\n").await;
    });
    let response = send_to(&server, get("/", &[]).await).await.expect("answer");
    assert!(response.body().is_end_stream());
    assert_eq!(server.pool.len(), 1, "an empty body ends with its head");
    let failed = send_to(&server, get("/", &[]).await).await;
    assert!(
        matches!(failed, Err(SendError::NoResponse { stale: true, .. })),
        "{failed:?}"
    );
}
