//! Header rewriting between client and server: hop-by-hop headers (RFC 9110 7.6.1) go,
//! X-Forwarded-For, X-Forwarded-Proto and Via (RFC 9110 7.6.3) come, and HTTP/2 requests get
//! the shape HTTP/1.1 servers expect.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::Authority;
use http::{Method, Version};

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");

/// True for a WebSocket opening handshake (RFC 6455 4.1): GET over HTTP/1.1 with
/// `Connection: upgrade` and `Upgrade: websocket`.
pub(crate) fn is_websocket_upgrade(method: &Method, version: Version, headers: &HeaderMap) -> bool {
    method == Method::GET
        && version == Version::HTTP_11
        && connection_has(headers, "upgrade")
        && headers
            .get_all(header::UPGRADE)
            .iter()
            .any(|value| has_token(value, "websocket"))
}

/// True for a 101 answer to a WebSocket handshake.
pub(crate) fn is_websocket_accept(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::UPGRADE)
        .iter()
        .any(|value| has_token(value, "websocket"))
}

/// Removes the headers that describe one connection rather than the message: Connection and
/// every header it names, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding (hyper frames
/// the body again on the other side) and Upgrade. With `websocket` the upgrade is carried
/// over as `Connection: upgrade` and `Upgrade: websocket`.
pub(crate) fn remove_hop_by_hop(headers: &mut HeaderMap, websocket: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        // Only hop-by-hop fields may be named (RFC 9110 7.6.1); Host, which the server
        // needs (RFC 9112 3.2), stays even when a client names it.
        .filter(|name| name != header::HOST)
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        &header::CONNECTION,
        &KEEP_ALIVE,
        &header::TE,
        &header::TRAILER,
        &header::TRANSFER_ENCODING,
        &header::UPGRADE,
    ] {
        headers.remove(name);
    }
    // Proxy-Authenticate, Proxy-Authorization, the old Proxy-Connection, and other Proxy-*.
    let proxy: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("proxy-"))
        .cloned()
        .collect();
    for name in proxy {
        headers.remove(name);
    }
    if websocket {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    }
}

/// A message's transfer codings (RFC 9112 6.1), as its framing depends on them: every
/// Transfer-Encoding field, in order, read as one list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Codings {
    /// No Transfer-Encoding, or chunked alone.
    Plain,
    /// Codings to pass on (gzip, ...): all of the list but a final chunked. The body is
    /// framed by its chunks when chunked came last, by the sender's close otherwise.
    Other(HeaderValue),
    /// A last coding other than chunked in a request, chunked applied twice, or an empty
    /// list: where the body ends cannot be known (RFC 9112 6.3).
    Unframed,
}

/// The transfer codings of a request (`request`) or of a response.
pub(crate) fn transfer_codings(headers: &HeaderMap, request: bool) -> Codings {
    let mut list: Vec<&[u8]> = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .map(trim)
        .filter(|coding| !coding.is_empty())
        .collect();
    let is_chunked = |coding: &&[u8]| coding.eq_ignore_ascii_case(b"chunked");
    if headers.get(header::TRANSFER_ENCODING).is_none() {
        return Codings::Plain;
    }
    let chunked_last = list.last().is_some_and(is_chunked);
    if chunked_last {
        list.pop();
    }
    if list.iter().any(is_chunked) || (!chunked_last && (request || list.is_empty())) {
        return Codings::Unframed;
    }
    if list.is_empty() {
        return Codings::Plain;
    }
    match HeaderValue::from_bytes(&list.join(&b", "[..])) {
        Ok(codings) => Codings::Other(codings),
        Err(_) => Codings::Unframed,
    }
}

/// Turns an HTTP/2 request's headers into HTTP/1.1 ones: Host from the `:authority`
/// pseudo-header, which wins over a Host field (RFC 9113 8.3.1), and the Cookie fields,
/// which HTTP/2 may split into one per cookie, joined into one (RFC 9113 8.2.3).
pub(crate) fn from_http2(headers: &mut HeaderMap, authority: Option<&Authority>) {
    if let Some(authority) = authority {
        // RFC 9113 8.3.1: no userinfo in :authority; if a client sent one, it stays here.
        let host = authority.as_str().rsplit('@').next().unwrap_or_default();
        if let Ok(host) = HeaderValue::from_str(host) {
            headers.insert(header::HOST, host);
        }
    }
    if headers.get_all(header::COOKIE).iter().nth(1).is_some() {
        let mut joined: Vec<u8> = Vec::new();
        for value in headers.get_all(header::COOKIE) {
            if !joined.is_empty() {
                joined.extend_from_slice(b"; ");
            }
            joined.extend_from_slice(value.as_bytes());
        }
        if let Ok(value) = HeaderValue::from_bytes(&joined) {
            headers.insert(header::COOKIE, value);
        }
    }
}

/// RFC 9112 3.2: what is wrong with a request's Host, if anything. An HTTP/1.1 request needs
/// exactly one Host field (HTTP/1.0 may have none), and with an absolute-form target it must
/// name the target's authority. A server that answers such a request 400 can't be fooled
/// into routing by one host and serving another, as HAProxy and nginx refuse them too.
/// HTTP/2 requests are not looked at: `:authority` wins there ([`from_http2`]).
pub(crate) fn host_problem(
    version: Version,
    authority: Option<&Authority>,
    headers: &HeaderMap,
) -> Option<&'static str> {
    if version == Version::HTTP_2 {
        return None;
    }
    let mut hosts = headers.get_all(header::HOST).iter();
    let (first, second) = (hosts.next(), hosts.next());
    match (first, second) {
        (Some(_), Some(_)) => Some("more than one Host field"),
        (None, _) if version == Version::HTTP_11 => Some("no Host field"),
        (Some(host), None)
            if authority.is_some_and(|authority| {
                !trim(host.as_bytes()).eq_ignore_ascii_case(authority.as_str().as_bytes())
            }) =>
        {
            Some("Host differs from the request target's authority")
        }
        _ => None,
    }
}

/// Who sent a request, for the forwarding headers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sender {
    pub(crate) address: IpAddr,
    /// Over TLS.
    pub(crate) tls: bool,
    /// A trusted proxy (see [`ProxyConfig::trusted_proxies`](crate::ProxyConfig)).
    pub(crate) trusted: bool,
}

/// Adds the client's address to X-Forwarded-For and sets X-Forwarded-Proto to `https` on a
/// TLS connection and to `http` otherwise, then appends this hop to Via. A trusted proxy's
/// X-Forwarded-For is extended (the address after those already there) and its
/// X-Forwarded-Proto kept; anyone else's are replaced, whatever the client claimed.
pub(crate) fn add_forwarded(headers: &mut HeaderMap, sender: Sender, version: Version) {
    let client = sender.address.to_canonical().to_string();
    let mut forwarded_for: Vec<u8> = Vec::new();
    for value in headers.get_all(&X_FORWARDED_FOR) {
        let value = trim(value.as_bytes());
        if sender.trusted && !value.is_empty() {
            forwarded_for.extend_from_slice(value);
            forwarded_for.extend_from_slice(b", ");
        }
    }
    forwarded_for.extend_from_slice(client.as_bytes());
    if let Ok(value) = HeaderValue::from_bytes(&forwarded_for) {
        headers.insert(&X_FORWARDED_FOR, value);
    }
    let claimed = headers
        .get(&X_FORWARDED_PROTO)
        .filter(|value| sender.trusted && !trim(value.as_bytes()).is_empty())
        .cloned();
    let proto = claimed.unwrap_or(HeaderValue::from_static(if sender.tls {
        "https"
    } else {
        "http"
    }));
    headers.insert(&X_FORWARDED_PROTO, proto);
    append_via(headers, version);
}

/// Appends `1.1 baton` (with the received message's version) to Via.
pub(crate) fn append_via(headers: &mut HeaderMap, version: Version) {
    let hop = match version {
        Version::HTTP_09 => "0.9 baton",
        Version::HTTP_10 => "1.0 baton",
        Version::HTTP_2 => "2 baton",
        Version::HTTP_3 => "3 baton",
        _ => "1.1 baton",
    };
    let mut via: Vec<u8> = Vec::new();
    for value in headers.get_all(header::VIA) {
        let value = trim(value.as_bytes());
        if !value.is_empty() {
            via.extend_from_slice(value);
            via.extend_from_slice(b", ");
        }
    }
    if via.is_empty() {
        headers.insert(header::VIA, HeaderValue::from_static(hop));
    } else {
        via.extend_from_slice(hop.as_bytes());
        if let Ok(value) = HeaderValue::from_bytes(&via) {
            headers.insert(header::VIA, value);
        }
    }
}

fn connection_has(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .any(|value| has_token(value, token))
}

/// True if the comma-separated `value` lists `token` (ASCII case-insensitive).
fn has_token(value: &HeaderValue, token: &str) -> bool {
    value
        .as_bytes()
        .split(|&b| b == b',')
        .any(|item| trim(item).eq_ignore_ascii_case(token.as_bytes()))
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        headers
    }

    fn sender(address: &str, tls: bool, trusted: bool) -> Sender {
        Sender {
            address: address.parse().expect("ip"),
            tls,
            trusted,
        }
    }

    #[test]
    fn hop_by_hop_headers_go_including_those_connection_names() {
        let mut headers = map(&[
            ("connection", "keep-alive, X-Secret"),
            ("connection", "close"),
            ("x-secret", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("proxy-authorization", "Basic Zm9v"),
            ("te", "trailers"),
            ("trailer", "Expires"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("host", "example.com"),
            ("x-kept", "yes"),
        ]);
        remove_hop_by_hop(&mut headers, false);
        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["host", "x-kept"]);
    }

    #[test]
    fn transfer_codings_are_read_as_one_list() {
        let codings = |value: &[(&str, &str)], request| transfer_codings(&map(value), request);
        let te = "transfer-encoding";
        let other = |list| Codings::Other(HeaderValue::from_static(list));
        assert_eq!(codings(&[], true), Codings::Plain);
        assert_eq!(codings(&[(te, " Chunked")], true), Codings::Plain);
        assert_eq!(codings(&[(te, "gzip, chunked")], true), other("gzip"));
        assert_eq!(
            codings(&[(te, "gzip"), (te, "br,chunked")], false),
            other("gzip, br")
        );
        assert_eq!(codings(&[(te, "gzip")], false), other("gzip"));
        assert_eq!(codings(&[(te, "gzip")], true), Codings::Unframed);
        assert_eq!(codings(&[(te, "chunked, gzip")], true), Codings::Unframed);
        assert_eq!(
            codings(&[(te, "chunked"), (te, "chunked")], true),
            Codings::Unframed
        );
        assert_eq!(
            codings(&[(te, "chunked, chunked")], false),
            Codings::Unframed
        );
        assert_eq!(codings(&[(te, " , ")], false), Codings::Unframed);
    }

    #[test]
    fn host_stays_when_connection_names_it() {
        let mut headers = map(&[("connection", "keep-alive, Host"), ("host", "example.com")]);
        remove_hop_by_hop(&mut headers, false);
        assert_eq!(headers["host"], "example.com");
    }

    #[test]
    fn websocket_upgrade_is_carried_over() {
        let mut headers = map(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "WebSocket"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ]);
        assert!(is_websocket_upgrade(
            &Method::GET,
            Version::HTTP_11,
            &headers
        ));
        assert!(!is_websocket_upgrade(
            &Method::POST,
            Version::HTTP_11,
            &headers
        ));
        remove_hop_by_hop(&mut headers, true);
        assert_eq!(headers["connection"], "upgrade");
        assert_eq!(headers["upgrade"], "websocket");
        assert!(headers.contains_key("sec-websocket-key"));
    }

    #[test]
    fn host_must_be_there_once_and_agree_with_the_target() {
        let one = map(&[("host", "example.com")]);
        let none = HeaderMap::new();
        let two = map(&[("host", "a.example"), ("host", "b.example")]);
        let target = Authority::from_static("example.com");
        let other = Authority::from_static("evil.example");
        assert_eq!(host_problem(Version::HTTP_11, None, &one), None);
        assert_eq!(host_problem(Version::HTTP_11, Some(&target), &one), None);
        let upper = map(&[("host", "EXAMPLE.com")]);
        assert_eq!(host_problem(Version::HTTP_11, Some(&target), &upper), None);
        assert!(host_problem(Version::HTTP_11, None, &none).is_some());
        assert!(host_problem(Version::HTTP_11, Some(&target), &none).is_some());
        assert!(host_problem(Version::HTTP_11, None, &two).is_some());
        assert!(host_problem(Version::HTTP_10, None, &two).is_some());
        assert!(host_problem(Version::HTTP_11, Some(&other), &one).is_some());
        assert_eq!(host_problem(Version::HTTP_10, None, &none), None);
        assert_eq!(host_problem(Version::HTTP_2, None, &none), None);
    }

    #[test]
    fn forwarded_headers_append() {
        let mut headers = map(&[
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-for", " 198.51.100.1 "),
            ("x-forwarded-proto", "https"),
            ("via", "1.0 fred"),
        ]);
        let mut untrusted = headers.clone();
        add_forwarded(
            &mut headers,
            sender("::ffff:192.0.2.9", false, true),
            Version::HTTP_11,
        );
        assert_eq!(
            headers["x-forwarded-for"],
            "203.0.113.7, 198.51.100.1, 192.0.2.9"
        );
        assert_eq!(
            headers["x-forwarded-proto"], "https",
            "a trusted proxy's scheme"
        );
        assert_eq!(headers["via"], "1.0 fred, 1.1 baton");

        add_forwarded(
            &mut untrusted,
            sender("192.0.2.9", false, false),
            Version::HTTP_11,
        );
        assert_eq!(untrusted["x-forwarded-for"], "192.0.2.9");
        assert_eq!(untrusted.get_all("x-forwarded-for").iter().count(), 1);
        assert_eq!(untrusted["x-forwarded-proto"], "http");

        let mut fresh = HeaderMap::new();
        add_forwarded(
            &mut fresh,
            sender("2001:db8::1", false, true),
            Version::HTTP_10,
        );
        assert_eq!(fresh["x-forwarded-for"], "2001:db8::1");
        assert_eq!(fresh["via"], "1.0 baton");
    }

    #[test]
    fn tls_and_http2_show_in_proto_and_via() {
        let mut headers = map(&[("x-forwarded-proto", "http"), ("via", "1.1 edge")]);
        add_forwarded(
            &mut headers,
            sender("192.0.2.9", true, false),
            Version::HTTP_2,
        );
        assert_eq!(headers["x-forwarded-proto"], "https");
        assert_eq!(headers["via"], "1.1 edge, 2 baton");
    }

    #[test]
    fn http2_authority_becomes_host_and_cookies_are_joined() {
        let mut headers = map(&[
            ("host", "stale.example"),
            ("cookie", "a=1"),
            ("cookie", "b=2"),
            ("cookie", "c=3"),
        ]);
        let authority = Authority::from_static("shop.example:8443");
        from_http2(&mut headers, Some(&authority));
        assert_eq!(headers["host"], "shop.example:8443");
        assert_eq!(headers.get_all("cookie").iter().count(), 1);
        assert_eq!(headers["cookie"], "a=1; b=2; c=3");

        let mut headers = map(&[("host", "kept.example"), ("cookie", "only=1")]);
        from_http2(&mut headers, None);
        assert_eq!(headers["host"], "kept.example");
        assert_eq!(headers["cookie"], "only=1");
    }
}
