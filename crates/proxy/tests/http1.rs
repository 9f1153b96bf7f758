//! The HTTP/1.1 path written without hyper (`h1`): pooled server connections, stale pooled
//! connections, pipelining, chunked bodies both ways, interim and close-delimited answers,
//! HEAD, and the requests it leaves to hyper (HTTP/1.0, `Expect`, absolute-form targets,
//! conflicting framing).

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use baton_proxy::{ProxyConfig, ServerConfig};
use common::raw_http::{Client, LIMIT, fill_until, find, header};
use common::{Conn, TestProxy, Upstream, config, echoed, raw, text};
use hyper::{Request, StatusCode};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Sequential requests on one client connection take one pooled server connection, not
/// one each.
#[tokio::test]
async fn pooled_server_connections_are_reused() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let mut conn = Conn::open(proxy.addr).await;
    for i in 0..50 {
        let (status, body) = conn.get(&format!("/n/{i}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains(&format!("path=/n/{i}\n")), "{body}");
    }
    assert_eq!(a.requests.load(Ordering::SeqCst), 50);
    let accepted = a.accepted.load(Ordering::SeqCst);
    assert!(
        accepted <= 2,
        "{accepted} server connections for 50 requests"
    );
    proxy.stop().await;
}

/// A server that closes each connection right after its answer, without saying
/// `Connection: close`: with a pause between requests its close has arrived by the next one,
/// and every GET and POST still gets the server's answer.
#[tokio::test]
async fn server_closing_after_each_answer_with_a_pause() {
    closing_server_answers_everything(Script::CloseAfterEach, Duration::from_millis(20)).await;
}

/// The same without a pause. The close mostly arrives with the answer, and the pool drops
/// the connection before the next request; when the request wins the race it goes out on
/// the closed connection and is sent again on a fresh one.
#[tokio::test]
async fn server_closing_after_each_answer_without_a_pause() {
    closing_server_answers_everything(Script::CloseAfterEach, Duration::ZERO).await;
}

/// A server that closes each connection a moment after its answer, as one whose keep-alive
/// timeout runs out: the next request mostly reaches the pooled connection before the
/// close, the server drops it unread, and it is sent again on a fresh connection.
#[tokio::test]
async fn server_closing_soon_after_each_answer() {
    closing_server_answers_everything(Script::CloseSoonAfter, Duration::ZERO).await;
}

async fn closing_server_answers_everything(script: Script, pause: Duration) {
    let server = RawServer::start(script).await;
    let proxy = TestProxy::start(server.config()).await;
    let mut conn = Conn::open(proxy.addr).await;
    for i in 0..30 {
        let (status, body) = conn.get(&format!("/get/{i}")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"), "GET {i}");
        tokio::time::sleep(pause).await;
    }
    for i in 0..10 {
        let (status, body) = conn.send(post("/post", "hello")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"), "POST {i}");
        tokio::time::sleep(pause).await;
    }
    assert_eq!(server.answered(), 40);
    assert_eq!(server.bodies(), 10 * "hello".len());
    proxy.stop().await;
}

/// A request that crosses the server's close of a pooled connection (the server reads it,
/// then closes without a word) is sent again on a fresh connection: GET and POST alike,
/// since nothing of it was answered.
#[tokio::test]
async fn request_crossing_the_close_of_a_pooled_connection_is_sent_again() {
    let server = RawServer::start(Script::DropSecond).await;
    let proxy = TestProxy::start(server.config()).await;
    let mut conn = Conn::open(proxy.addr).await;
    for i in 0..10 {
        let (status, body) = conn.get(&format!("/get/{i}")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"), "GET {i}");
        let (status, body) = conn.send(post("/post", "hello")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"), "POST {i}");
    }
    assert_eq!(server.answered(), 20);
    // Every request but the first went out twice: once on the pooled connection, which the
    // server dropped, and once on a fresh one.
    assert_eq!(server.accepted(), 20);
    proxy.stop().await;
}

/// A server that began to answer saw the request: when the answer breaks off on a pooled
/// connection, the request is not sent again, whatever its method (here a POST: 502, and
/// its body reached the server once).
#[tokio::test]
async fn answer_cut_short_on_a_pooled_connection_is_not_sent_again() {
    let server = RawServer::start(Script::HalfAnswerSecond).await;
    let proxy = TestProxy::start(server.config()).await;
    let mut conn = Conn::open(proxy.addr).await;
    let (status, body) = conn.get("/first").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
    let (status, _) = conn.send(post("/post", "hello")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(server.bodies(), 5, "the POST went to the server once");
    assert_eq!(server.accepted(), 1);
    proxy.stop().await;
}

/// Requests written in one go are answered one after the other, in order, and a body
/// between them is not mistaken for the next request.
#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let mut client = Client::connect(proxy.addr).await;
    client
        .send(
            b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n\
              POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
              GET /third HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .await;
    let first = client.response(false).await;
    let second = client.response(false).await;
    let third = client.response(false).await;
    assert_eq!(first.status, 200, "{}", first.head);
    assert!(first.text().contains("path=/first\n"), "{}", first.text());
    assert_eq!(second.status, 200, "{}", second.head);
    assert_eq!(second.text(), "received=5");
    assert_eq!(third.status, 200, "{}", third.head);
    assert!(third.text().contains("path=/third\n"), "{}", third.text());
    assert_eq!(a.requests.load(Ordering::SeqCst), 3);
    drop(client);
    proxy.stop().await;
}

/// A chunked request body, with a chunk extension and a trailer, reaches the server whole,
/// written at once or in pieces; its end is found, so the next request on the connection
/// is read right.
#[tokio::test]
async fn chunked_request_body_passes_through() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let head = b"POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    let pieces: [&[u8]; 4] = [
        b"5;name=value\r\nhello\r\n",
        b"6\r\n world\r\n1a\r\nabcdefghijkl",
        b"mnopqrstuvwxyz\r\n0\r\n",
        b"x-checksum: 1\r\n\r\n",
    ];
    let length = 5 + 6 + 26;

    let mut client = Client::connect(proxy.addr).await;
    client.send(&[&head[..], &pieces.concat()].concat()).await;
    let answer = client.response(false).await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(answer.text(), format!("received={length}"));

    // In pieces: the body is streamed rather than sent from the buffer.
    client.send(head).await;
    for piece in pieces {
        tokio::time::sleep(Duration::from_millis(5)).await;
        client.send(piece).await;
    }
    let answer = client.response(false).await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(answer.text(), format!("received={length}"));

    client.send(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let answer = client.response(false).await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert!(answer.text().contains("path=/after\n"), "{}", answer.text());
    drop(client);
    proxy.stop().await;
}

/// A chunked request body with a size line that is not hex is refused with 400, the server
/// gets none of it, and the connection closes (where the body ends is unknown).
#[tokio::test]
async fn malformed_chunked_request_body_is_400_and_closes() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let mut client = Client::connect(proxy.addr).await;
    client
        .send(
            b"POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
              zz\r\nhello\r\n0\r\n\r\n",
        )
        .await;
    let answer = client.response(false).await;
    assert_eq!(answer.status, 400, "{}", answer.head);
    assert!(
        answer.head.contains("\r\nconnection: close\r\n"),
        "{}",
        answer.head
    );
    client.assert_closed().await;
    assert_eq!(a.requests.load(Ordering::SeqCst), 0);
    drop(client);
    proxy.stop().await;
}

/// A chunked answer reaches the client chunked, every byte of it, with Via added, and the
/// connection goes on after its end.
#[tokio::test]
async fn chunked_response_passes_through() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let mut client = Client::connect(proxy.addr).await;
    client
        .send(b"GET /big/100000 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let answer = client.response(false).await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert!(
        answer.head.contains("\r\ntransfer-encoding: chunked\r\n"),
        "{}",
        answer.head
    );
    assert!(
        answer.head.contains("\r\nvia: 1.1 baton\r\n"),
        "{}",
        answer.head
    );
    assert_eq!(answer.body.len(), 100_000);
    assert!(answer.body.iter().all(|&b| b == b'x'));

    client.send(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let answer = client.response(false).await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert!(answer.text().contains("path=/next\n"), "{}", answer.text());
    drop(client);
    proxy.stop().await;
}

/// An HTTP/1.0 request, left to hyper, is answered in HTTP/1.0, and the connection closes
/// after it (the client did not ask to keep it).
#[tokio::test]
async fn http_1_0_request_is_answered() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let mut client = Client::connect(proxy.addr).await;
    client.send(b"GET /old HTTP/1.0\r\nHost: x\r\n\r\n").await;
    let answer = client.response(false).await;
    assert!(answer.head.starts_with("http/1.0 200 "), "{}", answer.head);
    assert!(answer.text().contains("path=/old\n"), "{}", answer.text());
    client.assert_closed().await;
    drop(client);
    proxy.stop().await;
}

/// `Expect: 100-continue`, left to hyper, gets `100 Continue` before the body is sent, then
/// the answer; the connection then serves another request.
#[tokio::test]
async fn expect_continue_gets_100_then_the_answer() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let mut client = Client::connect(proxy.addr).await;
    client
        .send(
            b"POST /count HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\
              Content-Length: 5\r\n\r\n",
        )
        .await;
    let interim = client.response(false).await;
    assert_eq!(interim.status, 100, "{}", interim.head);
    client.send(b"hello").await;
    let answer = client.response(false).await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(answer.text(), "received=5");

    client.send(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let answer = client.response(false).await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert!(answer.text().contains("path=/again\n"), "{}", answer.text());
    drop(client);
    proxy.stop().await;
}

/// An absolute-form target, left to hyper even after a request this path served on the
/// same connection, is answered, and so is the request after it.
#[tokio::test]
async fn absolute_form_target_is_answered_and_the_connection_goes_on() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let mut client = Client::connect(proxy.addr).await;
    for (request, path) in [
        (&b"GET /before HTTP/1.1\r\nHost: x\r\n\r\n"[..], "/before"),
        (
            b"GET http://x/absolute?q=1 HTTP/1.1\r\nHost: x\r\n\r\n",
            "/absolute?q=1",
        ),
        (b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n", "/after"),
    ] {
        client.send(request).await;
        let answer = client.response(false).await;
        assert_eq!(answer.status, 200, "{}", answer.head);
        assert!(
            answer.text().contains(&format!("path={path}\n")),
            "{}",
            answer.text()
        );
    }
    assert_eq!(a.requests.load(Ordering::SeqCst), 3);
    drop(client);
    proxy.stop().await;
}

/// An answer that ends with the server's close (no Content-Length, not chunked) reaches the
/// client whole, marked `connection: close`, and the client's connection closes after it.
#[tokio::test]
async fn close_delimited_answer_arrives_whole_and_closes() {
    const SIZE: usize = 100_000;
    let server = RawServer::start(Script::UntilClose(SIZE)).await;
    let proxy = TestProxy::start(server.config()).await;
    let mut client = Client::connect(proxy.addr).await;
    client.send(b"GET /whole HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let answer = client.response(false).await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert!(
        answer.head.contains("\r\nconnection: close\r\n"),
        "{}",
        answer.head
    );
    assert!(!answer.head.contains("content-length"), "{}", answer.head);
    // Read up to the close: had the connection stayed open, no answer would be whole.
    assert_eq!(answer.body.len(), SIZE);
    assert!(answer.body.iter().all(|&b| b == b'y'));
    drop(client);
    proxy.stop().await;
}

/// The answer to HEAD has no body but keeps the server's Content-Length, and the next
/// request on the connection is read and answered right after it.
#[tokio::test]
async fn head_answer_has_no_body_and_the_connection_goes_on() {
    let server = RawServer::start(Script::HeadAware).await;
    let proxy = TestProxy::start(server.config()).await;
    let mut client = Client::connect(proxy.addr).await;
    client.send(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let answer = client.response(true).await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert!(
        answer.head.contains("\r\ncontent-length: 1234\r\n"),
        "{}",
        answer.head
    );
    // Had a body followed the head, it would be read here as the start of the next answer.
    client.send(b"GET /g HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let answer = client.response(false).await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(answer.text(), "get");
    // Both on one server connection: the HEAD answer's end was found there too.
    assert_eq!(server.accepted(), 1);
    drop(client);
    proxy.stop().await;
}

/// A `103 Early Hints` reaches the client as soon as the server sends it, before the final
/// answer (which the server sends only once the client saw the 103).
#[tokio::test]
async fn early_hints_reach_the_client_before_the_answer() {
    let go = Arc::new(Notify::new());
    let server = RawServer::start(Script::EarlyHints(Arc::clone(&go))).await;
    let proxy = TestProxy::start(server.config()).await;
    let mut client = Client::connect(proxy.addr).await;
    client.send(b"GET /hints HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let hints = client.response(false).await;
    assert_eq!(hints.status, 103, "{}", hints.head);
    assert!(hints.head.contains("\r\nlink: </a>\r\n"), "{}", hints.head);
    go.notify_one();
    let answer = client.response(false).await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(answer.text(), "ok");
    drop(client);
    proxy.stop().await;
}

/// Content-Length together with chunked, which two parsers could read two ways, is never
/// passed on with both: refused with 400, or (RFC 9112 6.1 and 6.3 allow either; hyper
/// does this) framed by the chunked coding alone, without the Content-Length, with the
/// connection closed after the answer. Either way what follows the chunked body, here a
/// request smuggled inside the Content-Length, never reaches the server.
#[tokio::test]
async fn content_length_with_chunked_is_never_passed_on_as_is() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let body = "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let request = format!(
        "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\
         Transfer-Encoding: chunked\r\n\r\n{body}",
        body.len()
    );
    let response = raw(proxy.addr, request.as_bytes(), LIMIT).await;
    assert_eq!(response.matches("HTTP/1.1 ").count(), 1, "{response}");
    if response.starts_with("HTTP/1.1 400 ") {
        assert_eq!(a.requests.load(Ordering::SeqCst), 0);
    } else {
        assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
        assert!(response.contains("\r\nconnection: close\r\n"), "{response}");
        let (_, echo) = response.split_once("\r\n\r\n").expect("body");
        assert!(echo.contains("path=/x\n"), "{echo}");
        assert_eq!(echoed(echo, "transfer-encoding"), ["chunked"], "{echo}");
        assert!(echoed(echo, "content-length").is_empty(), "{echo}");
        assert_eq!(a.requests.load(Ordering::SeqCst), 1, "only /x");
    }
    proxy.stop().await;
}

/// Two different Content-Length values are refused with 400 and never reach a server.
#[tokio::test]
async fn two_content_lengths_are_refused() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let request = b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\
          Content-Length: 6\r\n\r\nhello!";
    let response = raw(proxy.addr, request, LIMIT).await;
    assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
    assert_eq!(a.requests.load(Ordering::SeqCst), 0);
    proxy.stop().await;
}

/// A POST with a Content-Length body.
fn post(path: &str, body: &str) -> Request<common::TestBody> {
    Request::post(path)
        .header("host", "x")
        .body(text(body.to_owned()))
        .expect("request")
}

/// What a [`RawServer`] does with each request.
#[derive(Debug, Clone)]
enum Script {
    /// Answers `ok` and closes, without `Connection: close`.
    CloseAfterEach,
    /// Answers `ok` and closes 2 ms later (without reading on), without `Connection: close`.
    CloseSoonAfter,
    /// Answers the first request on a connection; reads the second and closes unanswered.
    DropSecond,
    /// Answers the first request on a connection; to the second, half a head, then closes.
    HalfAnswerSecond,
    /// Answers this many bytes that end with the close: no Content-Length, not chunked.
    UntilClose(usize),
    /// HEAD: a head with `Content-Length: 1234` and no body; otherwise `get`.
    HeadAware,
    /// Sends `103 Early Hints`, then `ok` once notified.
    EarlyHints(Arc<Notify>),
}

/// A hand-written HTTP/1.1 server, for what hyper's server would not do.
struct RawServer {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
    /// Request body bytes read.
    bodies: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl RawServer {
    async fn start(script: Script) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let answered = Arc::new(AtomicUsize::new(0));
        let bodies = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn({
            let (accepted, answered, bodies) = (
                Arc::clone(&accepted),
                Arc::clone(&answered),
                Arc::clone(&bodies),
            );
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let (script, answered, bodies) =
                        (script.clone(), Arc::clone(&answered), Arc::clone(&bodies));
                    tokio::spawn(serve_raw(stream, script, answered, bodies));
                }
            }
        });
        RawServer {
            addr,
            accepted,
            answered,
            bodies,
            task,
        }
    }

    /// A proxy configuration with this server alone.
    fn config(&self) -> ProxyConfig {
        ProxyConfig::new(vec![ServerConfig::new(self.addr)])
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }

    fn bodies(&self) -> usize {
        self.bodies.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one connection by `script`; the connection closes when this returns.
async fn serve_raw(
    mut stream: TcpStream,
    script: Script,
    answered: Arc<AtomicUsize>,
    bodies: Arc<AtomicUsize>,
) {
    let mut buf = Vec::new();
    for nth in 1.. {
        let Some(head_end) = fill_until(&mut stream, &mut buf, |b| find(b, b"\r\n\r\n")).await
        else {
            return;
        };
        let head_end = head_end + 4;
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length = header(&head, "content-length").map_or(0, |v| v.parse().expect("length"));
        let whole = head_end + length;
        if fill_until(&mut stream, &mut buf, |b| (b.len() >= whole).then_some(()))
            .await
            .is_none()
        {
            return;
        }
        buf.drain(..whole);
        bodies.fetch_add(length, Ordering::SeqCst);
        let keep = match &script {
            Script::CloseAfterEach | Script::CloseSoonAfter => {
                write(&mut stream, OK).await;
                false
            }
            Script::DropSecond if nth > 1 => return,
            Script::HalfAnswerSecond if nth > 1 => {
                write(&mut stream, b"HTTP/1.1 200 OK\r\nContent-Le").await;
                return;
            }
            Script::HalfAnswerSecond => {
                write(&mut stream, OK).await;
                true
            }
            Script::DropSecond => {
                write(&mut stream, OK).await;
                true
            }
            Script::UntilClose(size) => {
                let mut answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n".to_vec();
                answer.resize(answer.len() + size, b'y');
                write(&mut stream, &answer).await;
                false
            }
            Script::HeadAware if head.starts_with("head ") => {
                write(
                    &mut stream,
                    b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
                )
                .await;
                true
            }
            Script::HeadAware => {
                write(
                    &mut stream,
                    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nget",
                )
                .await;
                true
            }
            Script::EarlyHints(go) => {
                write(
                    &mut stream,
                    b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
                )
                .await;
                go.notified().await;
                write(&mut stream, OK).await;
                true
            }
        };
        answered.fetch_add(1, Ordering::SeqCst);
        if !keep {
            if let Script::CloseSoonAfter = script {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            return;
        }
    }
}

/// A keep-alive answer with a body of `ok`.
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

async fn write(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).await.expect("server write");
}
