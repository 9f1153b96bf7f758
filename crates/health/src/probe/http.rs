//! HTTP_GET and SSL_GET: each url is fetched on its own connection and must answer with
//! an expected status and, when the url has a `digest`, a body of that MD5.

use std::net::SocketAddr;
use std::sync::Arc;

use md5::{Digest as _, Md5};
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use super::socket;
use super::{HttpCheck, HttpVersion, Probe, Url, tls};
use crate::outcome::{Failure, Outcome};

/// Longest header read; a status line and headers past this are malformed for a check.
const MAX_HEAD: usize = 16 * 1024;
/// Longest body hashed for a digest. keepalived has no limit; this one only bounds the
/// work a misbehaving server can cause within the timeout.
const MAX_BODY: u64 = 16 * 1024 * 1024;
/// keepalived's default `status_code`.
const DEFAULT_STATUS: std::ops::RangeInclusive<u16> = 200..=299;

/// Fetches every url in turn; the first that fails fails the probe.
/// `user_agent`: the User-Agent header's value, keepalived's unless the caller says otherwise.
pub(super) async fn probe(
    probe: &Probe,
    check: &HttpCheck,
    user_agent: &str,
) -> Result<Outcome, Failure> {
    if check.urls.is_empty() {
        return Err(Failure::BadCheck("no url to check"));
    }
    // Read once per probe, so that renewed files are used from the next probe on.
    let tls = if check.tls {
        let config = tls::client_config(check.tls_client.as_ref()).map_err(Failure::TlsClient)?;
        Some(config)
    } else {
        None
    };
    for url in &check.urls {
        super::within(
            probe.timeout,
            get(probe, check, tls.as_ref(), url, user_agent),
        )
        .await
        .map_err(|failure| failure.on_url(&url.path))?;
    }
    Ok(Outcome::UP)
}

/// One url: connect (and handshake), send the GET, check the answer.
/// `tls`: the client configuration for SSL_GET, None for HTTP_GET.
async fn get(
    probe: &Probe,
    check: &HttpCheck,
    tls: Option<&Arc<ClientConfig>>,
    url: &Url,
    user_agent: &str,
) -> Result<(), Failure> {
    let host = url.host.as_deref().or(check.host.as_deref());
    let request = request(&url.path, host, check.version, probe.connect, user_agent)?;
    let stream = socket::tcp(probe).await?;
    if let Some(config) = tls {
        let sni = if check.sni { host } else { None };
        let stream = tls::connect(Arc::clone(config), stream, sni, probe.connect.ip()).await?;
        exchange(stream, &request, url).await
    } else {
        exchange(stream, &request, url).await
    }
}

/// keepalived's request: `GET`, a User-Agent (keepalived's `KeepAliveClient` unless the
/// caller has its own), `Connection: close` for 1.0C and 1.1, and the Host header (the
/// virtualhost, else the address and port).
fn request(
    path: &str,
    host: Option<&str>,
    version: HttpVersion,
    connect: SocketAddr,
    user_agent: &str,
) -> Result<String, Failure> {
    if path.is_empty() || !path.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Failure::BadCheck(
            "the path must be visible ASCII without spaces",
        ));
    }
    // Spaces are allowed (`product/1 (comment)`), line breaks would inject headers.
    if user_agent.is_empty()
        || !user_agent
            .bytes()
            .all(|b| b == b' ' || b.is_ascii_graphic())
    {
        return Err(Failure::BadCheck("the user agent must be visible ASCII"));
    }
    let host = match host {
        Some(host) if !host.is_empty() && host.bytes().all(|b| b.is_ascii_graphic()) => {
            host.to_owned()
        }
        Some(_) => {
            return Err(Failure::BadCheck(
                "the virtualhost must be visible ASCII without spaces",
            ));
        }
        // SocketAddr's Display puts an IPv6 address in brackets, as RFC 3986 wants.
        None => connect.to_string(),
    };
    let (minor, close) = match version {
        HttpVersion::Http10 => (0, ""),
        HttpVersion::Http10Close => (0, "Connection: close\r\n"),
        HttpVersion::Http11 => (1, "Connection: close\r\n"),
    };
    Ok(format!(
        "GET {path} HTTP/1.{minor}\r\nUser-Agent: {user_agent}\r\n{close}Host: {host}\r\n\r\n"
    ))
}

/// Sends `request` and checks the answer against `url`.
///
/// The connection is dropped as soon as the verdict is known: without a digest that is
/// after the status line, unread body and all.
async fn exchange<S>(mut stream: S, request: &str, url: &Url) -> Result<(), Failure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(Failure::Io)?;
    stream.flush().await.map_err(Failure::Io)?;

    let mut buf = Vec::with_capacity(1024);
    let head = loop {
        if let Some(head) = parse_head(&buf)? {
            break head;
        }
        if buf.len() >= MAX_HEAD {
            return Err(Failure::Malformed("header too long"));
        }
        if read_more(&mut stream, &mut buf).await? == 0 {
            return Err(if buf.is_empty() {
                Failure::Closed
            } else {
                Failure::Malformed("header cut short")
            });
        }
    };

    let passes = |range: &std::ops::RangeInclusive<u16>| range.contains(&head.status);
    let expected = if url.status.is_empty() {
        passes(&DEFAULT_STATUS)
    } else {
        url.status.iter().any(passes)
    };
    if !expected {
        return Err(Failure::Status(head.status));
    }
    let Some(digest) = &url.digest else {
        return Ok(());
    };

    let body_digest = hash_body(&mut stream, &buf[head.len..], head.content_length).await?;
    if body_digest.eq_ignore_ascii_case(digest) {
        Ok(())
    } else {
        Err(Failure::Digest(body_digest))
    }
}

/// What the checker needs of a response header.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    /// Bytes up to and including the empty line.
    len: usize,
    status: u16,
    content_length: Option<u64>,
}

/// The header at the start of `buf`, or None while it is incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, Failure> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Failure::Malformed("too many headers")),
        Err(_) => return Err(Failure::Malformed("not an HTTP/1 response")),
    };
    let status = response.code.ok_or(Failure::Malformed("no status code"))?;
    let content_length = response
        .headers
        .iter()
        .find(|header| header.name.eq_ignore_ascii_case("content-length"))
        .map(|header| {
            std::str::from_utf8(header.value)
                .ok()
                .and_then(|value| value.trim().parse::<u64>().ok())
                .ok_or(Failure::Malformed("bad Content-Length"))
        })
        .transpose()?;
    Ok(Some(Head {
        len,
        status,
        content_length,
    }))
}

/// The MD5 (lowercase hex) of the body: `start`, then what follows on `stream`, up to
/// `content_length` when given, else to the end of the connection.
async fn hash_body<S>(
    stream: &mut S,
    start: &[u8],
    content_length: Option<u64>,
) -> Result<String, Failure>
where
    S: AsyncRead + Unpin,
{
    let limit = content_length.unwrap_or(MAX_BODY + 1);
    if content_length.is_some_and(|length| length > MAX_BODY) {
        return Err(Failure::BodyTooLong(MAX_BODY));
    }
    let mut md5 = Md5::new();
    let mut hashed: u64 = 0;
    let mut feed = |bytes: &[u8], md5: &mut Md5| -> Result<bool, Failure> {
        let room = usize::try_from(limit - hashed).unwrap_or(usize::MAX);
        let bytes = &bytes[..bytes.len().min(room)];
        md5.update(bytes);
        hashed += bytes.len() as u64;
        if hashed > MAX_BODY {
            return Err(Failure::BodyTooLong(MAX_BODY));
        }
        Ok(hashed == limit)
    };
    let mut done = feed(start, &mut md5)?;
    let mut buf = vec![0u8; 8192];
    while !done {
        let n = stream.read(&mut buf).await.map_err(Failure::Io)?;
        if n == 0 {
            if content_length.is_some() {
                return Err(Failure::Malformed("body shorter than its Content-Length"));
            }
            break;
        }
        done = feed(&buf[..n], &mut md5)?;
    }
    Ok(hex(&md5.finalize()))
}

/// Reads what is there into `buf`; 0 at the end of the stream.
async fn read_more<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Result<usize, Failure> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk).await.map_err(Failure::Io)?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_keepalived_s() {
        const KA: &str = super::super::KEEPALIVED_USER_AGENT;
        let v4: SocketAddr = "10.0.0.1:8080".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:80".parse().unwrap();
        assert_eq!(
            request("/", None, HttpVersion::Http10, v4, KA).unwrap(),
            "GET / HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 10.0.0.1:8080\r\n\r\n"
        );
        assert_eq!(
            request("/a?b", Some("app.example"), HttpVersion::Http11, v6, KA).unwrap(),
            "GET /a?b HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\n\
             Host: app.example\r\n\r\n"
        );
        assert!(
            request("/", None, HttpVersion::Http10Close, v6, KA)
                .unwrap()
                .contains("Connection: close\r\nHost: [2001:db8::1]:80\r\n")
        );
        assert!(matches!(
            request("/a b", None, HttpVersion::Http10, v4, KA),
            Err(Failure::BadCheck(_))
        ));
        assert!(matches!(
            request("/", Some("a\r\nb"), HttpVersion::Http10, v4, KA),
            Err(Failure::BadCheck(_))
        ));
        assert!(
            request("/", None, HttpVersion::Http11, v4, "baton-health-check")
                .unwrap()
                .contains("\r\nUser-Agent: baton-health-check\r\n")
        );
        assert!(matches!(
            request("/", None, HttpVersion::Http10, v4, "a\r\nb: c"),
            Err(Failure::BadCheck(_))
        ));
    }

    #[test]
    fn heads() {
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nConte").unwrap(), None);
        assert_eq!(
            parse_head(b"HTTP/1.0 503 Busy\r\ncontent-length: 4\r\n\r\nbody").unwrap(),
            Some(Head {
                len: 40,
                status: 503,
                content_length: Some(4)
            })
        );
        assert!(matches!(
            parse_head(b"SSH-2.0-OpenSSH\r\n"),
            Err(Failure::Malformed(_))
        ));
        assert!(matches!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"),
            Err(Failure::Malformed(_))
        ));
    }

    #[tokio::test]
    async fn a_body_is_hashed_up_to_its_length() {
        let empty = "d41d8cd98f00b204e9800998ecf8427e";
        let mut rest: &[u8] = b"ignored";
        assert_eq!(hash_body(&mut rest, b"", Some(0)).await.unwrap(), empty);
        let mut rest: &[u8] = b"lo world, and more";
        // MD5("hello world")
        assert_eq!(
            hash_body(&mut rest, b"hel", Some(11)).await.unwrap(),
            "5eb63bbbe01eeed093cb22bb8f5acdc3"
        );
        let mut rest: &[u8] = b"lo world";
        assert_eq!(
            hash_body(&mut rest, b"hel", None).await.unwrap(),
            "5eb63bbbe01eeed093cb22bb8f5acdc3"
        );
        let mut rest: &[u8] = b"lo";
        assert!(matches!(
            hash_body(&mut rest, b"hel", Some(11)).await,
            Err(Failure::Malformed(_))
        ));
        let mut rest: &[u8] = b"";
        assert!(matches!(
            hash_body(&mut rest, b"", Some(MAX_BODY + 1)).await,
            Err(Failure::BodyTooLong(MAX_BODY))
        ));
        // Without a length, the limit is counted as the body arrives.
        let long = vec![b'x'; usize::try_from(MAX_BODY).unwrap() + 1];
        let mut rest = &long[..];
        assert!(matches!(
            hash_body(&mut rest, b"", None).await,
            Err(Failure::BodyTooLong(MAX_BODY))
        ));
    }
}
