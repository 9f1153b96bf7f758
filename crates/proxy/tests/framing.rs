//! Message framing at the edges of RFC 9112, on both of the crate's paths: a plain
//! HTTP/1.1 request takes the crate's own path (`h1`); the same request with
//! `Expect: 100-continue` is served by hyper's (`forward` and `upstream_client`). The server
//! is hand-written, so that what it got can be checked byte for byte.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_proxy::{ProxyConfig, ServerConfig};
use common::TestProxy;
use common::raw_http::{Client, dechunk, fill_until, find, header, is_chunked};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The two paths a request can take.
#[derive(Debug, Clone, Copy)]
enum Path {
    /// The crate's own HTTP/1.1 path.
    Own,
    /// hyper's path, which takes every request with `Expect`.
    Hyper,
}

const PATHS: [Path; 2] = [Path::Own, Path::Hyper];

impl Path {
    /// A request head on this path: `fields` are CRLF-terminated lines.
    fn head(self, method_target: &str, fields: &str) -> Vec<u8> {
        let expect = match self {
            Path::Own => "",
            Path::Hyper => "Expect: 100-continue\r\n",
        };
        format!("{method_target} HTTP/1.1\r\nHost: x\r\n{expect}{fields}\r\n").into_bytes()
    }
}

/// What the server does with a request.
#[derive(Debug, Clone, Copy)]
enum Script {
    /// Reads the whole request (by its framing) and answers `ok`, keeping the connection.
    Ok,
    /// Answers each request head (the request has no body) with these bytes, keeping the
    /// connection.
    Answer(&'static [u8]),
    /// Answers the request head with these bytes and closes.
    AnswerAndClose(&'static [u8]),
}

/// A hand-written HTTP/1.1 server that keeps every request it read, as it came.
struct Server {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(script: Script) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let requests = Arc::clone(&requests);
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(serve(stream, script, Arc::clone(&requests)));
                }
            }
        });
        Server {
            addr,
            requests,
            task,
        }
    }

    fn config(&self) -> ProxyConfig {
        ProxyConfig::new(vec![ServerConfig::new(self.addr)])
    }

    fn requests(&self) -> Vec<String> {
        let requests = self.requests.lock().expect("lock");
        requests
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, script: Script, requests: Arc<Mutex<Vec<Vec<u8>>>>) {
    let mut buf = Vec::new();
    loop {
        let Some(head_end) = fill_until(&mut stream, &mut buf, |b| find(b, b"\r\n\r\n")).await
        else {
            return;
        };
        let head_end = head_end + 4;
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        match script {
            Script::Ok => {}
            Script::Answer(answer) => {
                let head = buf.drain(..head_end).collect();
                requests.lock().expect("lock").push(head);
                if stream.write_all(answer).await.is_err() {
                    return;
                }
                continue;
            }
            Script::AnswerAndClose(answer) => {
                requests
                    .lock()
                    .expect("lock")
                    .push(buf[..head_end].to_vec());
                let _ = stream.write_all(answer).await;
                return;
            }
        }
        let whole = if is_chunked(&head) {
            let Some((_, used)) =
                fill_until(&mut stream, &mut buf, |b| dechunk(&b[head_end..])).await
            else {
                return;
            };
            head_end + used
        } else {
            let length: usize =
                header(&head, "content-length").map_or(0, |v| v.parse().expect("length"));
            if fill_until(&mut stream, &mut buf, |b| {
                (b.len() >= head_end + length).then_some(())
            })
            .await
            .is_none()
            {
                return;
            }
            head_end + length
        };
        requests
            .lock()
            .expect("lock")
            .push(buf.drain(..whole).collect());
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        if stream.write_all(ok).await.is_err() {
            return;
        }
    }
}

// ---- Trailer fields of a chunked request (RFC 9112 7.1.2, RFC 9110 6.5) ----

/// A chunked request's trailer fields reach the server after the last chunk, on both paths.
#[tokio::test]
async fn request_trailers_reach_the_server() {
    for path in PATHS {
        let server = Server::start(Script::Ok).await;
        let proxy = TestProxy::start(server.config()).await;
        let mut client = Client::connect(proxy.addr).await;
        let mut request = path.head("POST /t", "Transfer-Encoding: chunked\r\n");
        request.extend_from_slice(b"5\r\nhello\r\n0\r\nx-checksum: 42\r\nx-other: a b\r\n\r\n");
        client.send(&request).await;
        let answer = client.final_response().await;
        assert_eq!(answer.status, 200, "{path:?}: {}", answer.head);
        assert_eq!(answer.body, b"ok", "{path:?}");
        let requests = server.requests();
        assert_eq!(requests.len(), 1, "{path:?}");
        assert!(
            requests[0].ends_with("\r\n0\r\nx-checksum: 42\r\nx-other: a b\r\n\r\n"),
            "{path:?}: the server got {:?}",
            requests[0]
        );
        drop(client);
        proxy.stop().await;
    }
}

/// A trailer line that is not a field, or more trailer fields than a head may have, gets
/// 400 and a closed connection on both paths; the server never gets a finished request.
#[tokio::test]
async fn malformed_or_oversized_request_trailers_are_400() {
    let too_many: String = (0..12).map(|i| format!("x-t{i}: 1\r\n")).collect();
    let long = format!("x-long: {}\r\n", "v".repeat(2000));
    let cases = [
        ("no colon", "bad trailer\r\n".to_owned()),
        ("space before colon", "x-t : 1\r\n".to_owned()),
        ("folded", "x-t: 1\r\n  more\r\n".to_owned()),
        ("too many", too_many),
        ("too large", long),
    ];
    for path in PATHS {
        for (what, trailers) in &cases {
            let server = Server::start(Script::Ok).await;
            let mut config = server.config();
            config.limits.max_headers = 10;
            config.limits.max_header_size = 1024;
            let proxy = TestProxy::start(config).await;
            let mut client = Client::connect(proxy.addr).await;
            let mut request = path.head("POST /t", "Transfer-Encoding: chunked\r\n");
            request.extend_from_slice(b"5\r\nhello\r\n0\r\n");
            request.extend_from_slice(trailers.as_bytes());
            request.extend_from_slice(b"\r\n");
            client.send(&request).await;
            let answer = client.final_response().await;
            assert_eq!(answer.status, 400, "{path:?}, {what}: {}", answer.head);
            client.assert_closed().await;
            assert!(
                server.requests().is_empty(),
                "{path:?}, {what}: the server got {:?}",
                server.requests()
            );
            drop(client);
            proxy.stop().await;
        }
    }
}

// ---- Transfer codings (RFC 9112 6.1, 6.3) ----

/// A request whose transfer codings do not end in chunked, or apply chunked twice, cannot be
/// framed (RFC 9112 6.3): 400. One with a coding before its final chunked can be framed but
/// not passed on as meant (servers seldom take a coded request body, and decoding it is not
/// this proxy's job): 501 (RFC 9112 6.1), as nginx answers, where hyper's path used to pass
/// the coded bytes on unlabelled. Either way the connection closes, on both paths, and
/// nothing reaches the server. Transfer-Encoding in an HTTP/1.0 request is 400 too.
#[tokio::test]
async fn requests_are_refused_by_their_transfer_codings() {
    let cases: [(&str, &[u8], u16); 6] = [
        ("gzip", b"GZIPBYTES", 400),
        ("chunked, gzip", b"5\r\nGZIPX\r\n0\r\n\r\n", 400),
        ("chunked, chunked", b"1\r\nz\r\n0\r\n\r\n", 400),
        ("chunked,chunked", b"0\r\n\r\n", 400),
        ("gzip, chunked", b"5\r\nGZIPX\r\n0\r\n\r\n", 501),
        ("x-custom ,chunked", b"5\r\nGZIPX\r\n0\r\n\r\n", 501),
    ];
    let server = Server::start(Script::Ok).await;
    let proxy = TestProxy::start(server.config()).await;
    let http10 = b"POST /t HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    let mut requests = vec![(http10.to_vec(), 400, "HTTP/1.0".to_owned())];
    for path in PATHS {
        for (codings, body, status) in cases {
            let te = format!("Transfer-Encoding: {codings}\r\n");
            let mut request = path.head("POST /t", &te);
            request.extend_from_slice(body);
            requests.push((request, status, format!("{path:?}, {codings}")));
        }
    }
    for (request, status, what) in requests {
        let mut client = Client::connect(proxy.addr).await;
        client.send(&request).await;
        let answer = client.final_response().await;
        assert_eq!(answer.status, status, "{what}: {}", answer.head);
        client.assert_closed().await;
    }
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    proxy.stop().await;
}

/// A response with a transfer coding other than chunked reaches the client with the coding
/// named, and no Content-Length beside it, on both paths. Its end (RFC 9112 6.3): where its
/// chunks end when chunked comes last, so that both connections go on to the next request
/// (the HTTP/1.1 path used to wait for the server's close); the server's close otherwise.
#[tokio::test]
async fn coded_responses_reach_the_client_labelled() {
    let cases: [(Script, usize, &str); 2] = [
        (
            Script::Answer(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nGZIPX\r\n0\r\n\r\n",
            ),
            2,
            "GZIPX",
        ),
        (
            Script::AnswerAndClose(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nGZIPBYTES",
            ),
            1,
            "GZIPBYTES",
        ),
    ];
    for path in PATHS {
        for (script, rounds, body) in cases {
            let server = Server::start(script).await;
            let proxy = TestProxy::start(server.config()).await;
            let mut client = Client::connect(proxy.addr).await;
            for nth in 0..rounds {
                client.send(&path.head("GET /coded", "")).await;
                let answer = client.final_response().await;
                let what = format!("{path:?}, {body}, answer {nth}: {}", answer.head);
                assert_eq!(answer.status, 200, "{what}");
                let codings = common::raw_http::header(&answer.head, "transfer-encoding");
                assert!(codings.is_some_and(|c| c.starts_with("gzip")), "{what}");
                assert!(!answer.head.contains("content-length"), "{what}");
                assert_eq!(answer.text(), body, "{what}");
            }
            assert_eq!(server.requests().len(), rounds, "{path:?}, {body}");
            drop(client);
            proxy.stop().await;
        }
    }
}

/// HTTP/2 has no transfer codings and an HTTP/1.0 client knows none: a response with a
/// coding other than chunked cannot reach them labelled, and gets 502 rather than a body
/// the client would take for plain (HAProxy 2.6 answers 502 to such a response whatever
/// the client).
#[tokio::test]
async fn a_coded_response_to_a_client_that_cannot_be_told_is_502() {
    let answer =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nGZIPX\r\n0\r\n\r\n";
    let server = Server::start(Script::Answer(answer)).await;
    let proxy = TestProxy::start(server.config()).await;
    let mut h2 = common::H2::open(proxy.addr).await;
    let (response, _) = h2.get("/coded").await;
    assert_eq!(response.status(), 502, "HTTP/2");
    let mut client = Client::connect(proxy.addr).await;
    client.send(b"GET /coded HTTP/1.0\r\nHost: x\r\n\r\n").await;
    let answer = client.final_response().await;
    assert_eq!(answer.status, 502, "HTTP/1.0: {}", answer.head);
    drop(client);
    proxy.stop().await;
}

/// A response that applies chunked twice, or before another coding, cannot be framed: 502
/// on both paths (HAProxy 2.6 answers 502 too; nginx 1.22 decodes it once).
#[tokio::test]
async fn a_response_with_chunked_twice_is_502() {
    let answer: &[u8] =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n5\r\nGZIPX\r\n0\r\n\r\n";
    let server = Server::start(Script::AnswerAndClose(answer)).await;
    let proxy = TestProxy::start(server.config()).await;
    for path in PATHS {
        let mut client = Client::connect(proxy.addr).await;
        client.send(&path.head("GET /twice", "")).await;
        let answer = client.final_response().await;
        assert_eq!(answer.status, 502, "{path:?}: {}", answer.head);
    }
    proxy.stop().await;
}

// ---- A server's answer before the whole request body ----

/// A server that answers (413, 401) as soon as it has a request's head, and closes without
/// reading the body: the client, still sending a large body slowly, gets the whole answer
/// and never a reset, and its connection goes on to the next request once the rest of the
/// body is read and dropped; on both paths, for a sized and a chunked body. The client reads
/// only once it has sent everything, as simple clients do: a proxy that closed with the body
/// still coming would reset its writes, and on some systems lose the answer with them. A
/// client that asked for the close gets it after the answer, as a plain end of stream. The
/// same holds for the proxy's own 502 when the server closes without a word.
#[tokio::test]
async fn an_early_answer_reaches_a_client_still_sending_its_body() {
    const PIECE: usize = 64 * 1024;
    const PIECES: usize = 24;
    let too_large: &[u8] =
        b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 5\r\nConnection: close\r\n\r\nlarge";
    // The server's answer, the client's status, a chunked body, Connection: close.
    let cases = [
        (too_large, 413, false, false),
        (too_large, 413, true, false),
        (too_large, 413, false, true),
        (b"", 502, false, false),
    ];
    for path in PATHS {
        for (answer, status, chunked, close) in cases {
            let what = format!("{path:?}, {status}, chunked: {chunked}, close: {close}");
            let server = Server::start(Script::AnswerAndClose(answer)).await;
            let proxy = TestProxy::start(server.config()).await;
            let mut framing = if chunked {
                "Transfer-Encoding: chunked\r\n".to_owned()
            } else {
                format!("Content-Length: {}\r\n", PIECE * PIECES)
            };
            if close {
                framing.push_str("Connection: close\r\n");
            }
            let mut client = Client::connect(proxy.addr).await;
            client.send(&path.head("POST /upload", &framing)).await;
            let piece = if chunked {
                [format!("{PIECE:x}\r\n").as_bytes(), &[b'a'; PIECE], b"\r\n"].concat()
            } else {
                vec![b'a'; PIECE]
            };
            for nth in 0..PIECES {
                tokio::time::sleep(Duration::from_millis(40)).await;
                let written = client.stream.write_all(&piece).await;
                assert!(written.is_ok(), "{what}: piece {nth}: {written:?}");
            }
            if chunked {
                let written = client.stream.write_all(b"0\r\n\r\n").await;
                assert!(written.is_ok(), "{what}: last chunk: {written:?}");
            }
            let first = client.final_response().await;
            assert_eq!(first.status, status, "{what}: {}", first.head);
            if status == 413 {
                assert_eq!(first.text(), "large", "{what}");
            }
            if close {
                client.assert_ends_cleanly().await;
            } else {
                assert!(
                    !first.head.contains("connection: close"),
                    "{what}: {}",
                    first.head
                );
                client.send(&path.head("GET /next", "")).await;
                let next = client.final_response().await;
                assert_eq!(
                    next.status, status,
                    "{what}, the next request: {}",
                    next.head
                );
            }
            drop(client);
            proxy.stop().await;
        }
    }
}
