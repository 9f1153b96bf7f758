//! The heads on the wire: a hyper request's head written out as HTTP/1.1, and a server's
//! response head parsed (with httparse) into the `http` types hyper's server answers with,
//! with how its body is framed and whether the connection can take another request.

use std::mem::MaybeUninit;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::Authority;
use http::{StatusCode, Version, request, response};
use http_body::Body as _;

use crate::request_body::RequestBody;

/// Most header fields in a response; more is a broken server (502). As the HTTP/1.1 path.
const MAX_FIELDS: usize = 128;

/// Largest response head taken from a server. As the HTTP/1.1 path.
const MAX_HEAD: usize = 64 * 1024;

/// How the request body goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outgoing {
    /// There is none, or it ended before anything was sent.
    NoBody,
    /// Its length is known and in the head.
    Length,
    /// In chunks, as it comes.
    Chunked,
}

/// Writes the head of `parts` for the server at `authority`, framing the body as hyper's
/// client did: its length when the body knows it, chunked otherwise, and nothing for a
/// body that has ended (but a Content-Length the request had). Host, when the request has
/// none (HTTP/1.0), is the server's address.
pub(super) fn request(
    parts: &request::Parts,
    authority: &Authority,
    body: &RequestBody,
) -> (Vec<u8>, Outgoing) {
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let mut head = Vec::with_capacity(512);
    head.extend_from_slice(parts.method.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(target.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\n");
    let mut host = false;
    let mut length = None;
    for (name, value) in &parts.headers {
        if name == header::TRANSFER_ENCODING {
            continue;
        }
        if name == header::CONTENT_LENGTH {
            length = Some(value);
            continue;
        }
        host |= name == header::HOST;
        field(&mut head, name.as_str().as_bytes(), value.as_bytes());
    }
    if !host {
        field(&mut head, b"host", authority.as_str().as_bytes());
    }
    let outgoing = if body.is_end_stream() {
        if let Some(length) = length {
            field(&mut head, b"content-length", length.as_bytes());
        }
        Outgoing::NoBody
    } else if let Some(length) = body.size_hint().exact() {
        field(&mut head, b"content-length", length.to_string().as_bytes());
        Outgoing::Length
    } else {
        field(&mut head, b"transfer-encoding", b"chunked");
        Outgoing::Chunked
    };
    head.extend_from_slice(b"\r\n");
    (head, outgoing)
}

fn field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// How a response body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body: HEAD, 1xx, 204, 304, or Content-Length 0.
    Empty,
    Length(u64),
    /// Chunked as the last transfer coding: decoded here, framed again by hyper's server.
    Chunked,
    /// Until the server closes (no length given, or a last coding other than chunked).
    UntilClose,
    /// 101: the connection is the tunnel's from here.
    Upgrade,
}

/// A server's response head.
#[derive(Debug)]
pub(super) struct ResponseHead {
    /// Bytes of the server's buffer that the head took.
    pub(super) len: usize,
    /// Status, version and every field as received (hop-by-hop ones are removed by the
    /// forwarding side, as they were from hyper's client's answers).
    pub(super) parts: response::Parts,
    pub(super) framing: Framing,
    /// The server keeps the connection open after this response.
    pub(super) reusable: bool,
}

impl ResponseHead {
    /// An interim (1xx) answer, after which the final one comes; not 101, which is final.
    pub(super) fn is_interim(&self) -> bool {
        self.parts.status.is_informational() && self.parts.status != StatusCode::SWITCHING_PROTOCOLS
    }
}

#[derive(Debug)]
pub(super) enum Parsed {
    Head(ResponseHead),
    Partial,
    /// Not an HTTP/1.x response this proxy can pass on.
    Invalid(&'static str),
}

/// Parses the response head at the start of `buf`, the answer to a HEAD request if
/// `is_head`. The framing rules are the HTTP/1.1 path's (RFC 9112 6.3): a Content-Length
/// that is not one number, or Transfer-Encoding given twice, is refused.
pub(super) fn parse(buf: &[u8], is_head: bool) -> Parsed {
    // Left uninitialised, as the HTTP/1.1 path's: httparse writes the fields it finds, and
    // zeroing 4 KiB of room for each answer cost more than parsing a short head.
    let mut storage = [const { MaybeUninit::uninit() }; MAX_FIELDS];
    let mut parsed = httparse::Response::new(&mut []);
    let config = httparse::ParserConfig::default();
    let len = match config.parse_response_with_uninit_headers(&mut parsed, buf, &mut storage) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return Parsed::Invalid("response head too large");
        }
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => return Parsed::Invalid("too many header fields"),
        Err(_) => return Parsed::Invalid("malformed response head"),
    };
    let (Some(version), Some(code)) = (parsed.version, parsed.code) else {
        return Parsed::Invalid("malformed response head");
    };
    let Ok(status) = StatusCode::from_u16(code) else {
        return Parsed::Invalid("bad status code");
    };
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    for field in parsed.headers.iter() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(field.name.as_bytes()),
            HeaderValue::from_bytes(field.value),
        ) else {
            return Parsed::Invalid("malformed header field");
        };
        headers.append(name, value);
    }
    let Some(mut framing) = framing(status, is_head, &headers) else {
        return Parsed::Invalid("contradicting Content-Length or Transfer-Encoding");
    };
    if framing == Framing::Chunked {
        // RFC 9112 6.3: Transfer-Encoding overrides Content-Length, which must not reach
        // the client with a body of another length.
        headers.remove(header::CONTENT_LENGTH);
    }
    let close = has_token(&headers, "close");
    let persistent = if version == 1 {
        !close
    } else {
        has_token(&headers, "keep-alive") && !close
    };
    if framing == Framing::Length(0) {
        framing = Framing::Empty;
    }
    let reusable = persistent && !matches!(framing, Framing::UntilClose | Framing::Upgrade);
    let mut response = http::Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = if version == 1 {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    *response.headers_mut() = headers;
    let (parts, ()) = response.into_parts();
    Parsed::Head(ResponseHead {
        len,
        parts,
        framing,
        reusable,
    })
}

/// How the body of a response with `status` and `headers` ends; `None` when the framing
/// fields contradict each other.
fn framing(status: StatusCode, is_head: bool, headers: &HeaderMap) -> Option<Framing> {
    if status == StatusCode::SWITCHING_PROTOCOLS {
        return Some(Framing::Upgrade);
    }
    if is_head
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Some(Framing::Empty);
    }
    let mut codings = headers.get_all(header::TRANSFER_ENCODING).iter();
    if let Some(coding) = codings.next() {
        if codings.next().is_some() {
            return None;
        }
        let last = coding.as_bytes().rsplit(|&b| b == b',').next()?;
        return Some(if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
            Framing::Chunked
        } else {
            Framing::UntilClose
        });
    }
    let mut length = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        let value = value.as_bytes().trim_ascii();
        if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let value: u64 = std::str::from_utf8(value).ok()?.parse().ok()?;
        if length.is_some_and(|seen| seen != value) {
            return None;
        }
        length = Some(value);
    }
    Some(length.map_or(Framing::UntilClose, Framing::Length))
}

/// True if a Connection field lists `token`.
fn has_token(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}
