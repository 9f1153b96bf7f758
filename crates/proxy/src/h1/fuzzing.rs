//! Thin public entry points into the HTTP/1 parsers, for the fuzz targets in `fuzz/` only:
//! compiled with the `fuzzing` feature (off by default) and hidden from the docs. Nothing
//! here is an API; each function calls the parser the proxy runs, unchanged.

use std::ops::Range;

use super::chunked::Chunked;
use super::request::{self, BodyFraming, Forwarding, Parsed};

/// What [`parse_request_head`] found at the start of the buffer.
#[derive(Debug)]
pub enum RequestHeadOutcome {
    Head(RequestHead),
    /// The head is not complete yet.
    Partial,
    /// Handed to hyper: unusual or invalid.
    Other,
}

/// The parts of a parsed head the proxy uses.
#[derive(Debug)]
pub struct RequestHead {
    /// Bytes of the buffer the head took.
    pub len: usize,
    pub method: String,
    /// The target's path, within the buffer.
    pub path: Range<usize>,
    /// The hashed header's value, within the buffer.
    pub hash_value: Option<Range<usize>>,
    /// `Some(Some(n))`: Content-Length n; `Some(None)`: chunked; `None`: no body.
    pub body: Option<Option<u64>>,
    pub close: bool,
    /// The head as sent to the server.
    pub upstream: Vec<u8>,
}

/// Runs the proxy's request head parser on `buf` as a connection from `client` would.
pub fn parse_request_head(
    buf: &[u8],
    client: &str,
    https: bool,
    trusted: bool,
    max_fields: usize,
    hash_header: Option<&str>,
) -> RequestHeadOutcome {
    let forwarding = Forwarding {
        client: request::ClientText::from_text(client),
        proto: if https { "https" } else { "http" },
        trusted,
        max_fields,
    };
    match request::parse(buf, &forwarding, hash_header) {
        Parsed::Head(head) => RequestHeadOutcome::Head(RequestHead {
            len: head.len,
            method: head.method.as_str().to_owned(),
            path: head.path,
            hash_value: head.hash_value,
            body: head.body.map(|framing| match framing {
                BodyFraming::Length(length) => Some(length),
                BodyFraming::Chunked => None,
            }),
            close: head.close,
            upstream: head.upstream,
        }),
        Parsed::Partial => RequestHeadOutcome::Partial,
        Parsed::Other => RequestHeadOutcome::Other,
    }
}

/// The proxy's chunked-body scanner, fed the body in pieces.
#[derive(Debug, Default)]
pub struct ChunkedScanner(Chunked);

impl ChunkedScanner {
    /// How many of `bytes` belong to the body; the error names what broke the framing.
    pub fn scan(&mut self, bytes: &[u8]) -> Result<usize, String> {
        self.0.scan(bytes).map_err(|error| error.to_string())
    }

    /// True once the body's last byte was scanned.
    pub fn is_done(&self) -> bool {
        self.0.is_done()
    }
}
