//! One probe of one server: a TCP connect, or an HTTP GET whose status is checked.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use http::HeaderValue;
use http::uri::PathAndQuery;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::config::{CheckKind, HealthCheck};

/// Longest status line read; a server's answer must show its status within it.
const MAX_STATUS_LINE: usize = 1024;

/// Why a probe failed; logged when the server goes down.
#[derive(Debug)]
pub(crate) enum Failure {
    /// No answer (or no connection) within the check's timeout.
    Timeout(Duration),
    /// The connection could not be made (refused, unreachable).
    Connect(std::io::Error),
    /// The connection broke while sending the request or reading the answer.
    Io(std::io::Error),
    /// The server closed the connection before sending a status line.
    Closed,
    /// The answer did not start with an HTTP/1 status line.
    Malformed,
    /// The status is not one the check expects.
    Status(u16),
    /// The configured path or host cannot be sent in a request.
    BadRequest(&'static str),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout(timeout) => write!(f, "timed out after {timeout:?}"),
            Failure::Connect(error) => write!(f, "connect failed: {error}"),
            Failure::Io(error) => write!(f, "connection broke: {error}"),
            Failure::Closed => f.write_str("closed without answering"),
            Failure::Malformed => f.write_str("answer is not HTTP/1"),
            Failure::Status(status) => write!(f, "status {status}"),
            Failure::BadRequest(what) => write!(f, "cannot send the check: {what}"),
        }
    }
}

/// Probes `address` once, the whole exchange within `check.timeout`.
pub(crate) async fn probe(address: SocketAddr, check: &HealthCheck) -> Result<(), Failure> {
    let exchange = async {
        let stream = TcpStream::connect(address)
            .await
            .map_err(Failure::Connect)?;
        match &check.kind {
            CheckKind::Tcp => Ok(()),
            CheckKind::Http { path, host, expect } => {
                let host = host.clone().unwrap_or_else(|| address.to_string());
                let status = http_status(stream, path, &host).await?;
                if expect.contains(&status) {
                    Ok(())
                } else {
                    Err(Failure::Status(status))
                }
            }
        }
    };
    // The socket is dropped as soon as the answer is known, unread bytes and all: like
    // HAProxy's checks, a reset spares this host a TIME_WAIT per probe.
    tokio::time::timeout(check.timeout, exchange)
        .await
        .unwrap_or(Err(Failure::Timeout(check.timeout)))
}

/// Sends the check request and returns the status of the answer.
async fn http_status(mut stream: TcpStream, path: &str, host: &str) -> Result<u16, Failure> {
    let path = PathAndQuery::try_from(path).map_err(|_| Failure::BadRequest("invalid path"))?;
    let host = HeaderValue::try_from(host).map_err(|_| Failure::BadRequest("invalid host"))?;
    let host = host
        .to_str()
        .map_err(|_| Failure::BadRequest("host is not visible ASCII"))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         User-Agent: baton-health-check\r\nAccept: */*\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(Failure::Io)?;
    let mut head = Vec::with_capacity(128);
    let mut buf = [0u8; 512];
    while !head.contains(&b'\n') && head.len() < MAX_STATUS_LINE {
        match stream.read(&mut buf).await.map_err(Failure::Io)? {
            0 => break,
            n => head.extend_from_slice(&buf[..n]),
        }
    }
    if head.is_empty() {
        return Err(Failure::Closed);
    }
    parse_status(&head).ok_or(Failure::Malformed)
}

/// The status code of a status line such as `HTTP/1.1 200 OK`.
fn parse_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\n').next()?;
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let (&minor, rest) = rest.split_first()?;
    let code = rest.strip_prefix(b" ")?.get(..3)?;
    if !minor.is_ascii_digit() || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(
            parse_status(b"HTTP/1.0 503 Service Unavailable\r\nx: y"),
            Some(503)
        );
        assert_eq!(parse_status(b"HTTP/1.1 204\r\n"), Some(204));
        assert_eq!(parse_status(b"HTTP/2 200\r\n"), None);
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status(b"HTTP/1.1 2x0 OK\r\n"), None);
        assert_eq!(parse_status(b"HTTP/1.1 20"), None);
    }

    #[tokio::test]
    async fn a_closed_port_is_refused_and_a_bad_path_is_not_sent() {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("bind");
        let closed = socket.local_addr().expect("addr");
        let failure = probe(closed, &HealthCheck::tcp()).await.unwrap_err();
        assert!(matches!(failure, Failure::Connect(_)), "{failure}");

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let open = listener.local_addr().expect("addr");
        assert!(probe(open, &HealthCheck::tcp()).await.is_ok());
        let failure = probe(open, &HealthCheck::http("/a b\r\nx: y"))
            .await
            .unwrap_err();
        assert!(matches!(failure, Failure::BadRequest(_)), "{failure}");
    }

    /// Answers one connection with `answer` and returns the request it read.
    async fn answer_once(answer: &'static [u8]) -> (SocketAddr, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("addr");
        let served = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                let n = stream.read(&mut buf).await.expect("read");
                assert!(n > 0, "the request ends with an empty line");
                request.extend_from_slice(&buf[..n]);
            }
            stream.write_all(answer).await.expect("write");
            String::from_utf8(request).expect("ascii request")
        });
        (address, served)
    }

    #[tokio::test]
    async fn http_check_sends_a_closing_get_and_checks_the_status() {
        let (address, served) = answer_once(b"HTTP/1.1 204 No Content\r\n\r\n").await;
        assert!(
            probe(address, &HealthCheck::http("/healthz?full=1"))
                .await
                .is_ok()
        );
        assert_eq!(
            served.await.expect("server"),
            format!(
                "GET /healthz?full=1 HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
                 User-Agent: baton-health-check\r\nAccept: */*\r\n\r\n"
            )
        );

        let (address, served) =
            answer_once(b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n").await;
        let mut check = HealthCheck::http("/");
        if let CheckKind::Http { host, .. } = &mut check.kind {
            *host = Some("app.example".into());
        }
        let failure = probe(address, &check).await.unwrap_err();
        assert!(matches!(failure, Failure::Status(500)), "{failure}");
        assert!(
            served
                .await
                .expect("server")
                .contains("\r\nHost: app.example\r\n")
        );

        let (address, _served) = answer_once(b"").await;
        if let CheckKind::Http { expect, .. } = &mut check.kind {
            *expect = 500..=500;
        }
        let failure = probe(address, &check).await.unwrap_err();
        assert!(matches!(failure, Failure::Closed), "{failure}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_server_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let open = listener.local_addr().expect("addr");
        let failure = probe(open, &HealthCheck::http("/")).await.unwrap_err();
        assert!(matches!(failure, Failure::Timeout(_)), "{failure}");
    }
}
