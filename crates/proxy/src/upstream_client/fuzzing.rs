//! Thin public entry points into the parsers of what servers send back on hyper's path
//! (the response head and the chunked body decoder), for the fuzz targets in `fuzz/` only:
//! compiled with the `fuzzing` feature (off by default) and hidden from the docs. Nothing
//! here is an API; each function calls the parser the proxy runs, unchanged.

use super::body;
use super::head::{self, Framing, Parsed};

/// What [`parse_response_head`] found at the start of the buffer.
#[derive(Debug)]
pub enum ResponseHeadOutcome {
    Head(ResponseHead),
    /// The head is not complete yet.
    Partial,
    /// Refused, with the reason the proxy logs.
    Invalid(&'static str),
}

/// The parts of a parsed response head the proxy uses.
#[derive(Debug)]
pub struct ResponseHead {
    /// Bytes of the buffer the head took.
    pub len: usize,
    pub status: u16,
    /// The body is chunked (and decoded by the proxy).
    pub chunked: bool,
    /// The body has this many bytes (`Some(0)` for no body at all).
    pub length: Option<u64>,
    /// The connection may go back to the pool after the body.
    pub reusable: bool,
    /// A Content-Length field is still among the fields passed on.
    pub content_length_kept: bool,
}

/// Runs the proxy's response head parser on `buf`, the answer to a HEAD request if
/// `is_head`.
pub fn parse_response_head(buf: &[u8], is_head: bool) -> ResponseHeadOutcome {
    match head::parse(buf, is_head) {
        Parsed::Head(parsed) => ResponseHeadOutcome::Head(ResponseHead {
            len: parsed.len,
            status: parsed.parts.status.as_u16(),
            chunked: parsed.framing == Framing::Chunked,
            length: match parsed.framing {
                Framing::Empty => Some(0),
                Framing::Length(length) => Some(length),
                _ => None,
            },
            reusable: parsed.reusable,
            content_length_kept: parsed
                .parts
                .headers
                .contains_key(http::header::CONTENT_LENGTH),
        }),
        Parsed::Partial => ResponseHeadOutcome::Partial,
        Parsed::Invalid(reason) => ResponseHeadOutcome::Invalid(reason),
    }
}

/// What [`decode_chunked`] made of a chunked body.
#[derive(Debug, PartialEq, Eq)]
pub struct DecodedChunked {
    pub data: Vec<u8>,
    /// The trailer fields, name and value.
    pub trailers: Vec<(String, Vec<u8>)>,
    /// How many bytes of the input the encoding took.
    pub taken: usize,
}

/// A chunked body decoded by the proxy's decoder, fed `piece` bytes at a time; or the first
/// error.
pub fn decode_chunked(body: &[u8], piece: usize) -> Result<DecodedChunked, &'static str> {
    let (data, trailers, taken) = body::decode_in_pieces(body, piece)?;
    let trailers = trailers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    Ok(DecodedChunked {
        data,
        trailers,
        taken,
    })
}
