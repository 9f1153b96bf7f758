//! Message framing at the edges of RFC 9112, on both of the crate's paths: a plain
//! HTTP/1.1 request takes the crate's own path (`h1`); the same request with
//! `Expect: 100-continue` is served by hyper's (`forward` and `upstream_client`). The server
//! is hand-written, so that what it got can be checked byte for byte.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

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
