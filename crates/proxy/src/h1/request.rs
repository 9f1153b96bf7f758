//! A client's request head: parsed with httparse and rewritten, in one pass over the bytes,
//! into the head the server gets (hop-by-hop headers gone, X-Forwarded-For,
//! X-Forwarded-Proto and Via added), with no header map in between.
//!
//! Only plain HTTP/1.1 requests are taken: everything unusual (HTTP/1.0, upgrades, `Expect`,
//! CONNECT, absolute-form targets, odd framing, no Host or two, malformed or oversized heads) is
//! [`Parsed::Other`], which hands the connection to hyper's full implementation.

use std::net::IpAddr;
use std::ops::Range;

use http::Method;

use super::fields::{self, Fields};

/// Most header fields parsed here; a request with more goes to hyper, which applies
/// [`Limits::max_headers`](crate::Limits::max_headers).
const MAX_FIELDS: usize = 64;

/// What this connection adds to every request it forwards.
#[derive(Debug, Clone)]
pub(crate) struct Forwarding {
    /// The client's address as X-Forwarded-For shows it.
    pub(crate) client: String,
    /// `http` or `https`.
    pub(crate) proto: &'static str,
    /// The client is a trusted proxy: its X-Forwarded-For is extended and its
    /// X-Forwarded-Proto kept, where anyone else's are replaced.
    pub(crate) trusted: bool,
    /// Requests with more header fields than this go to hyper (which answers 431).
    pub(crate) max_fields: usize,
}

/// The client's address as X-Forwarded-For shows it (an IPv4-mapped IPv6 address as IPv4).
/// IPv4, nearly every client, is written by hand: `to_string`'s formatting machinery cost more
/// than the rest of the head's rewriting together.
pub(crate) fn client_text(ip: IpAddr) -> String {
    let IpAddr::V4(v4) = ip.to_canonical() else {
        return ip.to_canonical().to_string();
    };
    let mut text = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        if octet >= 100 {
            text.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            text.push(char::from(b'0' + octet / 10 % 10));
        }
        text.push(char::from(b'0' + octet % 10));
    }
    text
}

/// How the request body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    Length(u64),
    Chunked,
}

/// A request head ready to go to a server.
#[derive(Debug)]
pub(crate) struct RequestHead {
    /// Bytes of the client's buffer that the head took.
    pub(crate) len: usize,
    pub(crate) method: Method,
    /// The target's path (without the query), within the client's buffer.
    pub(crate) path: Range<usize>,
    /// The hashed header's value, within the client's buffer.
    pub(crate) hash_value: Option<Range<usize>>,
    pub(crate) body: Option<BodyFraming>,
    /// The client asked to close the connection after this request.
    pub(crate) close: bool,
    /// The head to send to the server.
    pub(crate) upstream: Vec<u8>,
}

/// The outcome of looking at a client's buffer.
#[derive(Debug)]
pub(crate) enum Parsed {
    Head(RequestHead),
    /// The head is not complete yet.
    Partial,
    /// Not a request this path takes, or not a valid one: hyper deals with it.
    Other,
}

/// Parses the request head at the start of `buf` and writes the server's version of it,
/// noting where the value of `hash_header` (the field the balancer hashes on) is.
pub(crate) fn parse(buf: &[u8], forwarding: &Forwarding, hash_header: Option<&str>) -> Parsed {
    let mut storage = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let storage = &mut storage[..forwarding.max_fields.min(MAX_FIELDS)];
    let mut request = httparse::Request::new(storage);
    let len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::Other,
    };
    let (Some(method), Some(target), Some(1)) = (request.method, request.path, request.version)
    else {
        return Parsed::Other;
    };
    if !target.starts_with('/') {
        return Parsed::Other;
    }
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return Parsed::Other;
    };
    if method == Method::CONNECT {
        return Parsed::Other;
    }
    let Some(fields) = Fields::read(request.headers) else {
        return Parsed::Other;
    };
    // A missing or doubled Host gets its 400 where hyper's requests get theirs
    // (`forward::handle`), so that the rule is written once.
    if fields.upgrade || fields.expect || fields.other_coding || fields.hosts != 1 {
        return Parsed::Other;
    }
    let body = match (fields.content_length, fields.chunked) {
        (Some(_), true) => return Parsed::Other,
        (Some(0) | None, false) => None,
        (Some(length), false) => Some(BodyFraming::Length(length)),
        (None, true) => Some(BodyFraming::Chunked),
    };

    let mut upstream = Vec::with_capacity(len + 128);
    upstream.extend_from_slice(method.as_str().as_bytes());
    upstream.push(b' ');
    upstream.extend_from_slice(target.as_bytes());
    upstream.extend_from_slice(b" HTTP/1.1\r\n");
    let mut forwarded_for = fields::List::default();
    let mut forwarded_proto: Option<&[u8]> = None;
    let mut via = fields::List::default();
    let mut hash_value = None;
    for field in request.headers.iter() {
        let name = field.name;
        if let Some(hashed) = hash_header
            && name.eq_ignore_ascii_case(hashed)
            && hash_value.is_none()
        {
            hash_value = Some(offset_in(buf, field.value));
        }
        if name.eq_ignore_ascii_case("x-forwarded-for") {
            if forwarding.trusted {
                forwarded_for.add(field.value);
            }
        } else if name.eq_ignore_ascii_case("x-forwarded-proto") {
            if forwarding.trusted && forwarded_proto.is_none() {
                forwarded_proto = Some(field.value.trim_ascii()).filter(|v| !v.is_empty());
            }
        } else if name.eq_ignore_ascii_case("via") {
            via.add(field.value);
        } else if !fields.is_dropped(name) {
            fields::write(&mut upstream, name.as_bytes(), field.value);
        }
    }
    match body {
        Some(BodyFraming::Length(length)) => {
            fields::write(
                &mut upstream,
                b"content-length",
                length.to_string().as_bytes(),
            );
        }
        Some(BodyFraming::Chunked) => {
            fields::write(&mut upstream, b"transfer-encoding", b"chunked");
        }
        None => {}
    }
    forwarded_for.add(forwarding.client.as_bytes());
    fields::write(&mut upstream, b"x-forwarded-for", forwarded_for.as_bytes());
    fields::write(
        &mut upstream,
        b"x-forwarded-proto",
        forwarded_proto.unwrap_or(forwarding.proto.as_bytes()),
    );
    via.add(b"1.1 baton");
    fields::write(&mut upstream, b"via", via.as_bytes());
    upstream.extend_from_slice(b"\r\n");

    let path_end = target.find('?').unwrap_or(target.len());
    let path = offset_in(buf, &target.as_bytes()[..path_end]);
    Parsed::Head(RequestHead {
        len,
        method,
        path,
        hash_value,
        body,
        close: fields.close,
        upstream,
    })
}

/// Where `part`, a slice of `buf`, lies in it.
fn offset_in(buf: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    start..start + part.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarding() -> Forwarding {
        Forwarding {
            client: "192.0.2.7".into(),
            proto: "http",
            trusted: true,
            max_fields: 100,
        }
    }

    #[test]
    fn client_addresses_read_as_to_string_writes_them() {
        for text in [
            "0.0.0.0",
            "9.10.99.100",
            "255.255.255.255",
            "192.0.2.7",
            "2001:db8::1",
        ] {
            let ip: IpAddr = text.parse().expect("address");
            assert_eq!(client_text(ip), text);
        }
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().expect("address");
        assert_eq!(client_text(mapped), "10.1.2.3");
    }

    #[test]
    fn an_untrusted_client_cannot_forge_its_address_or_scheme() {
        let text = "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.1\r\n\
                    X-Forwarded-Proto: https\r\n\r\n";
        let untrusted = Forwarding {
            trusted: false,
            ..forwarding()
        };
        let Parsed::Head(head) = parse(text.as_bytes(), &untrusted, None) else {
            panic!("not a head");
        };
        let sent = String::from_utf8(head.upstream).expect("utf-8");
        assert!(
            sent.contains("\r\nx-forwarded-for: 192.0.2.7\r\n"),
            "{sent}"
        );
        assert!(sent.contains("\r\nx-forwarded-proto: http\r\n"), "{sent}");
        assert!(!sent.contains("10.0.0.1"), "{sent}");
        // Trusted: appended, and the scheme it saw kept.
        let sent = upstream(text);
        assert!(
            sent.contains("\r\nx-forwarded-for: 10.0.0.1, 192.0.2.7\r\n"),
            "{sent}"
        );
        assert!(sent.contains("\r\nx-forwarded-proto: https\r\n"), "{sent}");
    }

    fn head(text: &str) -> RequestHead {
        match parse(text.as_bytes(), &forwarding(), Some("x-user")) {
            Parsed::Head(head) => head,
            other => panic!("{other:?} for {text:?}"),
        }
    }

    fn upstream(text: &str) -> String {
        String::from_utf8(head(text).upstream).expect("utf-8")
    }

    #[test]
    fn rewrites_the_head_for_the_server() {
        let sent = upstream(
            "GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive, X-Secret\r\n\
             X-Secret: 1\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: x\r\nTE: trailers\r\n\
             X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\nVia: 1.0 edge\r\n\
             Accept: */*\r\n\r\n",
        );
        assert_eq!(
            sent,
            "GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\
             x-forwarded-for: 10.0.0.1, 192.0.2.7\r\nx-forwarded-proto: https\r\n\
             via: 1.0 edge, 1.1 baton\r\n\r\n"
        );
    }

    #[test]
    fn host_survives_being_named_in_connection() {
        // Found by the http1_request fuzz target: the server got a head without Host.
        let sent = upstream("GET /a HTTP/1.1\r\nHost: am\r\nConnection: keep-alive,Host\r\n\r\n");
        assert!(
            sent.starts_with("GET /a HTTP/1.1\r\nHost: am\r\n"),
            "{sent}"
        );
    }

    #[test]
    fn frames_bodies_and_sees_close() {
        let text =
            "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
        let post = head(text);
        assert_eq!(post.body, Some(BodyFraming::Length(5)));
        assert!(post.close);
        assert_eq!(post.len, text.len() - "hello".len());
        let chunked = head("POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(chunked.body, Some(BodyFraming::Chunked));
        assert!(
            upstream("POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n")
                .contains("\r\ntransfer-encoding: chunked\r\n")
        );
        assert_eq!(
            head("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n").body,
            None
        );
        assert!(!head("GET / HTTP/1.1\r\nHost: h\r\n\r\n").close);
    }

    #[test]
    fn finds_the_path_and_the_hashed_header() {
        let text = "GET /cart/items?id=3 HTTP/1.1\r\nHost: h\r\nX-User: alice\r\n\r\n";
        let parsed = head(text);
        assert_eq!(&text[parsed.path.clone()], "/cart/items");
        assert_eq!(&text[parsed.hash_value.expect("x-user")], "alice");
    }

    #[test]
    fn unusual_requests_go_to_hyper() {
        for text in [
            "GET / HTTP/1.0\r\n\r\n",
            "GET http://example.com/ HTTP/1.1\r\n\r\n",
            "CONNECT example.com:443 HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
            "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: -3\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
            "\x16\x03\x01garbage\r\n\r\n",
            "GET / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        ] {
            assert!(
                matches!(
                    parse(text.as_bytes(), &forwarding(), Some("x-user")),
                    Parsed::Other
                ),
                "{text:?}"
            );
        }
    }

    #[test]
    fn too_many_fields_go_to_hyper_and_partial_heads_wait() {
        let mut text = "GET / HTTP/1.1\r\n".to_owned();
        for i in 0..101 {
            text.push_str(&format!("x-{i}: 1\r\n"));
        }
        text.push_str("\r\n");
        assert!(matches!(
            parse(text.as_bytes(), &forwarding(), Some("x-user")),
            Parsed::Other
        ));
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nHost: a", &forwarding(), None),
            Parsed::Partial
        ));
    }
}
