//! A client's request head: parsed with httparse and rewritten, in one pass over the bytes,
//! into the head the server gets (hop-by-hop headers gone, X-Forwarded-For,
//! X-Forwarded-Proto and Via added), with no header map in between.
//!
//! Only plain HTTP/1.1 requests are taken: everything unusual (HTTP/1.0, upgrades, `Expect`,
//! CONNECT, absolute-form targets, odd framing, no Host or two, malformed or oversized heads) is
//! [`Parsed::Other`], which hands the connection to hyper's full implementation.

use std::mem::MaybeUninit;
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
    pub(crate) client: ClientText,
    /// `http` or `https`.
    pub(crate) proto: &'static str,
    /// The client is a trusted proxy: its X-Forwarded-For is extended and its
    /// X-Forwarded-Proto kept, where anyone else's are replaced.
    pub(crate) trusted: bool,
    /// Requests with more header fields than this go to hyper (which answers 431).
    pub(crate) max_fields: usize,
}

/// The client's address as X-Forwarded-For shows it (an IPv4-mapped IPv6 address as IPv4),
/// held in place rather than in a `String`: it is made for each request.
#[derive(Clone)]
pub(crate) struct ClientText {
    bytes: [u8; ClientText::MAX],
    len: usize,
}

impl ClientText {
    /// The longest address text: an IPv6 address with an IPv4 tail.
    const MAX: usize = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".len();

    /// IPv4, nearly every client, is written by hand: `to_string`'s formatting machinery
    /// cost more than the rest of the head's rewriting together.
    pub(crate) fn new(ip: IpAddr) -> Self {
        let mut text = ClientText {
            bytes: [0; Self::MAX],
            len: 0,
        };
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text.push(b'.');
                    }
                    if octet >= 100 {
                        text.push(b'0' + octet / 100);
                    }
                    if octet >= 10 {
                        text.push(b'0' + octet / 10 % 10);
                    }
                    text.push(b'0' + octet % 10);
                }
            }
            // Never longer than MAX, so the write cannot fail.
            IpAddr::V6(v6) => drop(std::fmt::Write::write_fmt(&mut text, format_args!("{v6}"))),
        }
        text
    }

    /// Any text, cut to the longest an address takes (for the fuzz targets).
    #[cfg(feature = "fuzzing")]
    pub(crate) fn from_text(text: &str) -> Self {
        let mut client = ClientText {
            bytes: [0; Self::MAX],
            len: 0,
        };
        text.bytes().take(Self::MAX).for_each(|b| client.push(b));
        client
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }
}

impl std::fmt::Write for ClientText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.len + s.len() > Self::MAX {
            return Err(std::fmt::Error);
        }
        s.bytes().for_each(|b| self.push(b));
        Ok(())
    }
}

impl std::fmt::Debug for ClientText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        String::from_utf8_lossy(self.as_bytes()).fmt(f)
    }
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
    // Left uninitialised: httparse writes the fields it finds, and zeroing 2 KiB of room
    // for each request cost more than parsing a short head.
    let mut storage = [const { MaybeUninit::uninit() }; MAX_FIELDS];
    let storage = &mut storage[..forwarding.max_fields.min(MAX_FIELDS)];
    let mut request = httparse::Request::new(&mut []);
    let len = match request.parse_with_uninit_headers(buf, storage) {
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
    // The request line, as it is to be written: copied with the fields after it when it
    // came that way (one space each side of the target, CRLF), written otherwise.
    let line_end = method.as_str().len() + 1 + target.len() + b" HTTP/1.1\r\n".len();
    let line_as_written = buf.get(..line_end).is_some_and(|line| {
        line.starts_with(method.as_str().as_bytes())
            && fields::offset(buf, target.as_bytes()) == Some(method.as_str().len() + 1)
            && line[method.as_str().len()] == b' '
            && line.ends_with(b" HTTP/1.1\r\n")
    });
    let mut runs = if line_as_written {
        fields::Runs::new(buf, line_end)
    } else {
        upstream.extend_from_slice(method.as_str().as_bytes());
        upstream.push(b' ');
        upstream.extend_from_slice(target.as_bytes());
        upstream.extend_from_slice(b" HTTP/1.1\r\n");
        fields::Runs::new(buf, 0)
    };
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
            runs.keep(&mut upstream, name, field.value);
        }
    }
    runs.flush(&mut upstream);
    match body {
        Some(BodyFraming::Length(length)) => {
            fields::write_number(&mut upstream, b"content-length: ", length);
        }
        Some(BodyFraming::Chunked) => {
            upstream.extend_from_slice(b"transfer-encoding: chunked\r\n");
        }
        None => {}
    }
    forwarded_for.write(
        &mut upstream,
        b"x-forwarded-for: ",
        forwarding.client.as_bytes(),
    );
    upstream.extend_from_slice(b"\r\n");
    match forwarded_proto {
        Some(proto) => fields::write(&mut upstream, b"x-forwarded-proto", proto),
        None if forwarding.proto == "https" => {
            upstream.extend_from_slice(b"x-forwarded-proto: https\r\n");
        }
        None => upstream.extend_from_slice(b"x-forwarded-proto: http\r\n"),
    }
    // The head's last empty line with the field.
    via.write(&mut upstream, b"via: ", b"1.1 baton\r\n\r\n");

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
            client: ClientText::new([192, 0, 2, 7].into()),
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
            assert_eq!(ClientText::new(ip).as_bytes(), text.as_bytes());
        }
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().expect("address");
        assert_eq!(ClientText::new(mapped).as_bytes(), b"10.1.2.3");
        for text in [
            "ffff:ffff:ffff:ffff:ffff:fffe:ffff:ffff",
            "::255.255.255.255",
        ] {
            let ip: IpAddr = text.parse().expect("address");
            assert_eq!(ClientText::new(ip).as_bytes(), ip.to_string().as_bytes());
        }
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
