use std::net::SocketAddr;
use std::time::Duration;

use baton_health::{Failure, HttpCheck, HttpVersion, ProbeKind, Url};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::mpsc;

use crate::support::{fails, listener, passes, probe_of};

/// MD5("hello").
pub(crate) const HELLO_MD5: &str = "5d41402abc4b2a76b9719d911017c592";

/// Reads one request head from `stream`, answers it with `answer(path)` and closes;
/// returns the request.
pub(crate) async fn answer_one<S>(mut stream: S, answer: fn(&str) -> Vec<u8>) -> String
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.expect("read");
        assert!(n > 0, "the request ends with an empty line");
        request.extend_from_slice(&buf[..n]);
    }
    let request = String::from_utf8(request).expect("ASCII request");
    let path = request.split(' ').nth(1).expect("request line");
    stream.write_all(&answer(path)).await.expect("write");
    stream.shutdown().await.expect("close");
    request
}

/// An HTTP server answering every connection by path; the requests come out of the
/// receiver.
pub(crate) async fn http_server(
    answer: fn(&str) -> Vec<u8>,
) -> (SocketAddr, mpsc::UnboundedReceiver<String>) {
    let (listener, address) = listener().await;
    let (requests, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.expect("accept");
            let requests = requests.clone();
            tokio::spawn(async move {
                let _ = requests.send(answer_one(stream, answer).await);
            });
        }
    });
    (address, received)
}

pub(crate) fn http(urls: Vec<Url>) -> ProbeKind {
    ProbeKind::Http(HttpCheck {
        tls: false,
        urls,
        host: None,
        version: HttpVersion::Http10,
        sni: false,
        tls_client: None,
    })
}

fn with_digest(path: &str, digest: &str) -> Url {
    let mut url = Url::new(path);
    url.digest = Some(digest.into());
    url
}

fn answers(path: &str) -> Vec<u8> {
    match path {
        "/hello" => b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
        // No Content-Length: the body ends with the connection.
        "/close-delimited" => b"HTTP/1.0 200 OK\r\n\r\nhello".to_vec(),
        "/busy" => b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n".to_vec(),
        "/empty" => Vec::new(),
        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
    }
}

#[tokio::test]
async fn a_get_like_keepalived_s_passes_on_2xx() {
    let (address, mut requests) = http_server(answers).await;
    passes(&probe_of(http(vec![Url::new("/hello")]), address)).await;
    assert_eq!(
        requests.recv().await.unwrap(),
        format!("GET /hello HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: {address}\r\n\r\n")
    );

    let mut kind = http(vec![Url::new("/hello")]);
    if let ProbeKind::Http(check) = &mut kind {
        check.version = HttpVersion::Http11;
        check.host = Some("app.example".into());
    }
    passes(&probe_of(kind, address)).await;
    assert_eq!(
        requests.recv().await.unwrap(),
        "GET /hello HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\n\
         Host: app.example\r\n\r\n"
    );
}

#[tokio::test]
async fn statuses_outside_the_ranges_fail() {
    let (address, _requests) = http_server(answers).await;
    let failure = fails(&probe_of(http(vec![Url::new("/busy")]), address)).await;
    assert_eq!(failure.to_string(), "/busy: status 503");

    let mut url = Url::new("/busy");
    url.status = vec![200..=200, 500..=503];
    passes(&probe_of(http(vec![url]), address)).await;
}

#[tokio::test]
async fn the_body_must_have_the_digest() {
    let (address, _requests) = http_server(answers).await;
    passes(&probe_of(
        http(vec![with_digest("/hello", HELLO_MD5)]),
        address,
    ))
    .await;
    passes(&probe_of(
        http(vec![with_digest(
            "/close-delimited",
            &HELLO_MD5.to_uppercase(),
        )]),
        address,
    ))
    .await;

    let wrong = "00000000000000000000000000000000";
    let failure = fails(&probe_of(http(vec![with_digest("/hello", wrong)]), address)).await;
    assert_eq!(
        failure.to_string(),
        format!("/hello: digest mismatch: the body's MD5 is {HELLO_MD5}")
    );
}

#[tokio::test]
async fn every_url_must_pass() {
    let (address, mut requests) = http_server(answers).await;
    let failure = fails(&probe_of(
        http(vec![Url::new("/hello"), Url::new("/missing")]),
        address,
    ))
    .await;
    assert_eq!(failure.to_string(), "/missing: status 404");
    assert!(requests.recv().await.unwrap().starts_with("GET /hello "));
    assert!(requests.recv().await.unwrap().starts_with("GET /missing "));
}

#[tokio::test]
async fn a_silent_or_closing_server_fails() {
    let (address, _requests) = http_server(answers).await;
    let failure = fails(&probe_of(http(vec![Url::new("/empty")]), address)).await;
    assert!(
        matches!(&failure, Failure::Url { failure, .. } if matches!(**failure, Failure::Closed)),
        "{failure}"
    );

    // Accepts, never answers.
    let (_listener, silent) = listener().await;
    let mut probe = probe_of(http(vec![Url::new("/")]), silent);
    probe.timeout = Duration::from_millis(200);
    let failure = fails(&probe).await;
    assert_eq!(failure.to_string(), "/: timed out after 200ms");
}
