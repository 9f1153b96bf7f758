//! The proxy's own HTTP/1.1 request head parser and rewriter (`h1::request::parse`, with
//! `h1::fields`), through `baton_proxy::fuzzing`.
//!
//! The first byte sets up the connection: bit 0 the client is a trusted proxy, bit 1 TLS,
//! bits 2-3 the header the balancer hashes on (none, `x-user`, `host`, `cookie`), bits 4-5
//! the most header fields taken (100, 64, 8, 1). The rest is what the client sent.
//!
//! Checks, for a head taken: its ranges lie within the head; the bytes after the head change
//! nothing; and the head written for the server is one plain, complete HTTP/1.1 request head
//! that the same parser takes whole, with the same method, path and body framing. That last
//! one is what stops a client from smuggling a second request or field into the server's
//! head.

use baton_proxy::fuzzing::{RequestHeadOutcome, parse_request_head};

const HASHED: [Option<&str>; 4] = [None, Some("x-user"), Some("host"), Some("cookie")];
const MAX_FIELDS: [usize; 4] = [100, 64, 8, 1];
/// The parser's own limit on fields (`h1::request::MAX_FIELDS`).
const PARSER_FIELDS: usize = 64;

/// One input: panics when a check fails.
pub fn check(data: &[u8]) {
    let Some((&setup, buf)) = data.split_first() else {
        return;
    };
    let trusted = setup & 1 != 0;
    let https = setup & 2 != 0;
    let hashed = HASHED[usize::from(setup >> 2 & 3)];
    let max_fields = MAX_FIELDS[usize::from(setup >> 4 & 3)];
    let parse =
        |bytes: &[u8]| parse_request_head(bytes, "192.0.2.7", https, trusted, max_fields, hashed);

    let RequestHeadOutcome::Head(head) = parse(buf) else {
        return;
    };
    assert!(
        head.len > 0 && head.len <= buf.len(),
        "head length {}",
        head.len
    );
    let taken = &buf[..head.len];
    assert!(taken.ends_with(b"\n"), "a head ends with an empty line");
    let path = &taken[head.path.clone()];
    assert!(
        path.starts_with(b"/") && !path.contains(&b'?'),
        "path {path:?}"
    );
    if let Some(hashed) = &head.hash_value {
        assert!(hashed.end <= head.len, "hashed value beyond the head");
    }

    // What follows the head (a body, the next request) does not change it.
    match parse(taken) {
        RequestHeadOutcome::Head(alone) => {
            assert_eq!(alone.len, head.len);
            assert_eq!(alone.upstream, head.upstream);
            assert_eq!((alone.body, alone.close), (head.body, head.close));
        }
        other => panic!("the head alone parses as {other:?}"),
    }

    // The server's head: one complete request, taken whole by the same parser.
    let upstream = &head.upstream;
    assert!(upstream.ends_with(b"\r\n\r\n"));
    let fields = upstream.windows(2).filter(|w| w == b"\r\n").count() - 2;
    if fields > PARSER_FIELDS {
        return;
    }
    let again = parse_request_head(upstream, "192.0.2.8", false, true, 100, None);
    let RequestHeadOutcome::Head(again) = again else {
        panic!(
            "the server's head does not parse: {again:?}\n{}",
            String::from_utf8_lossy(upstream)
        );
    };
    assert_eq!(
        again.len,
        upstream.len(),
        "the server's head has more than one head"
    );
    assert_eq!(again.method, head.method);
    assert_eq!(&upstream[again.path.clone()], path);
    assert_eq!(again.body, head.body, "body framing changed");
    assert!(!again.close, "Connection is not passed on");
}
