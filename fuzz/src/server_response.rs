//! What a server sends back on hyper's path (`upstream_client`, through
//! `baton_proxy::fuzzing`): the response head parser, then, for a chunked answer, the body
//! decoder fed in pieces.
//!
//! The first byte is the setup: bit 0 says the answer is to a HEAD request; the second byte
//! is a piece size (0 counts as 1). The rest is the server's bytes. Checked:
//! - a head takes some of the buffer and no more than it;
//! - the framing follows RFC 9112 6.3: no body for HEAD, 1xx (but 101), 204 and 304; a
//!   chunked body with no Content-Length left to reach the client (101 aside: a tunnel);
//! - the bytes after a chunked head decode to the same outcome whole and in pieces (the
//!   same data, trailers and end, or the same error), taking no more bytes than there are
//!   and decoding to less data than it took.

use baton_proxy::fuzzing::{ResponseHeadOutcome, decode_chunked, parse_response_head};

/// One input: panics when a check fails.
pub fn check(data: &[u8]) {
    let [setup, piece, bytes @ ..] = data else {
        return;
    };
    let is_head = setup & 1 == 1;
    let piece = usize::from(*piece).max(1);
    let head = match parse_response_head(bytes, is_head) {
        ResponseHeadOutcome::Head(head) => head,
        ResponseHeadOutcome::Partial | ResponseHeadOutcome::Invalid(_) => return,
    };
    assert!(
        head.len > 0 && head.len <= bytes.len(),
        "head of {} bytes",
        head.len
    );
    // 101 hands the connection to the tunnel, whatever the request was.
    let no_body = head.status != 101
        && (is_head || (100..200).contains(&head.status) || matches!(head.status, 204 | 304));
    if no_body {
        assert_eq!(head.length, Some(0), "status {} has a body", head.status);
        assert!(!head.chunked);
    }
    if !head.chunked {
        return;
    }
    assert!(
        !head.content_length_kept,
        "Content-Length passed on with a chunked body"
    );
    let body = &bytes[head.len..];
    let whole = decode_chunked(body, body.len());
    let pieces = decode_chunked(body, piece);
    assert_eq!(whole, pieces, "pieces of {piece} changed the outcome");
    if let Ok(decoded) = &whole {
        let (data, taken) = (decoded.data.len(), decoded.taken);
        assert!(taken <= body.len(), "took {taken} of {} bytes", body.len());
        assert!(data < taken, "decoded {data} of {taken} bytes");
    }
}
