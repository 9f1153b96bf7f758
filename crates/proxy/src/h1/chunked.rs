//! Where a chunked body (RFC 9112 7.1) ends, found without decoding it: both sides speak
//! HTTP/1.1, so the bytes pass through as they came, chunk sizes, extensions and trailers
//! included. Only the framing is checked, strictly (CRLF line ends, hex sizes that fit in 64
//! bits), so that this proxy and the server behind it cannot disagree on where a message
//! ends: a lenient scanner in front of a strict parser is how requests get smuggled.
//!
//! Trailer fields (RFC 9112 7.1.2) pass through too, as a proxy passes on the fields it does
//! not understand (RFC 9110 6.5), each line checked to be a field (a token, a colon, a value
//! without control characters; no line folding) and the section held to limits: a request's
//! to its head's (`max_header_size`, `max_headers`), a response's to the hyper path's.

/// Longest chunk-size line (size, extensions) accepted.
const MAX_LINE: usize = 4096;

/// A response's trailer section: at most this many bytes and fields (as the hyper path's
/// decoder of server bodies takes).
const MAX_TRAILERS: usize = 16 * 1024;
const MAX_TRAILER_FIELDS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hex size; `digits` so far.
    Size {
        digits: u8,
        size: u64,
    },
    /// After the size: extensions up to the CR, `len` bytes of them so far.
    Extension {
        len: usize,
        size: u64,
    },
    /// The size line's CR was read; the LF is due.
    SizeLf {
        size: u64,
    },
    /// Chunk data, this much left.
    Data(u64),
    /// After a chunk's data: its CR, then its LF.
    DataCr,
    DataLf,
    /// After the last chunk: at the start of a trailer line (or of the final empty line).
    LineStart,
    /// In a trailer field's name, before its colon.
    TrailerName,
    /// In a trailer field's value.
    Trailer,
    /// A trailer line's CR was read; the LF is due.
    TrailerLf,
    /// The final empty line's CR was read; its LF ends the body.
    EndLf,
    Done,
}

/// The framing was broken: the message cannot be passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed chunked body: {0}")]
pub(crate) struct ChunkError(&'static str);

/// Follows one chunked body through the pieces it arrives in.
#[derive(Debug, Clone)]
pub(crate) struct Chunked {
    state: State,
    trailer_bytes: usize,
    trailer_fields: usize,
    limits: TrailerLimits,
}

/// The most a trailer section may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TrailerLimits {
    /// Bytes of the section, line ends but the last empty line's excluded.
    pub(crate) max_size: usize,
    pub(crate) max_fields: usize,
}

/// A response's.
impl Default for TrailerLimits {
    fn default() -> Self {
        TrailerLimits {
            max_size: MAX_TRAILERS,
            max_fields: MAX_TRAILER_FIELDS,
        }
    }
}

/// A response body's scanner.
impl Default for Chunked {
    fn default() -> Self {
        Chunked::new(TrailerLimits::default())
    }
}

/// A byte of a field name (RFC 9110 5.1: a token).
fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// A byte of a field value (RFC 9110 5.5: VCHAR, obs-text, SP and HTAB).
fn is_value_byte(byte: u8) -> bool {
    matches!(byte, b'\t' | b' '..=b'~' | 0x80..=0xff)
}

impl Chunked {
    /// A scanner whose trailer section is held to `limits`.
    pub(crate) fn new(limits: TrailerLimits) -> Self {
        Chunked {
            state: State::Size { digits: 0, size: 0 },
            trailer_bytes: 0,
            trailer_fields: 0,
            limits,
        }
    }

    /// True once the body's last byte went through [`Chunked::scan`].
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Takes the next piece of the body; returns how many of `bytes` belong to it (all of
    /// them unless it ended inside `bytes`: the rest is the next message).
    pub(crate) fn scan(&mut self, bytes: &[u8]) -> Result<usize, ChunkError> {
        let mut at = 0;
        while at < bytes.len() {
            if let State::Data(left) = self.state {
                let here = (bytes.len() - at) as u64;
                let take = left.min(here);
                at += take as usize;
                self.state = if take == left {
                    State::DataCr
                } else {
                    State::Data(left - take)
                };
                continue;
            }
            if self.state == State::Done {
                return Ok(at);
            }
            self.state = self.step(bytes[at])?;
            at += 1;
        }
        Ok(at)
    }

    /// One byte of a size line, a chunk's CRLF or the trailers.
    fn step(&mut self, byte: u8) -> Result<State, ChunkError> {
        Ok(match (self.state, byte) {
            (State::Size { digits, size }, _) if byte.is_ascii_hexdigit() => {
                if digits == 16 {
                    return Err(ChunkError("chunk size too large"));
                }
                let digit = u64::from(char::from(byte).to_digit(16).unwrap_or(0));
                State::Size {
                    digits: digits + 1,
                    size: size << 4 | digit,
                }
            }
            (State::Size { digits: 0, .. }, _) => return Err(ChunkError("no chunk size")),
            (State::Size { size, .. }, b'\r') => State::SizeLf { size },
            (State::Size { size, .. }, b';' | b' ' | b'\t') => State::Extension { len: 1, size },
            (State::Size { .. }, _) => return Err(ChunkError("bad character in chunk size")),
            (State::Extension { size, .. }, b'\r') => State::SizeLf { size },
            (State::Extension { len, .. }, _) if len >= MAX_LINE => {
                return Err(ChunkError("chunk extension too long"));
            }
            (State::Extension { .. }, b'\n') => return Err(ChunkError("bare LF in size line")),
            (State::Extension { len, size }, _) => State::Extension { len: len + 1, size },
            (State::SizeLf { size: 0 }, b'\n') => State::LineStart,
            (State::SizeLf { size }, b'\n') => State::Data(size),
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataLf, b'\n') => State::Size { digits: 0, size: 0 },
            (State::SizeLf { .. } | State::DataCr | State::DataLf, _) => {
                return Err(ChunkError("missing CRLF"));
            }
            (State::LineStart, b'\r') => State::EndLf,
            (State::EndLf, b'\n') => State::Done,
            (State::EndLf, _) => return Err(ChunkError("missing CRLF at the end")),
            (State::LineStart | State::TrailerName | State::Trailer, b'\n') => {
                return Err(ChunkError("bare LF in trailers"));
            }
            (State::Trailer, b'\r') => State::TrailerLf,
            (State::LineStart | State::TrailerName | State::Trailer, _) => {
                self.trailer_bytes += 1;
                if self.trailer_bytes > self.limits.max_size {
                    return Err(ChunkError("trailers too large"));
                }
                match self.state {
                    State::LineStart if is_tchar(byte) => {
                        self.trailer_fields += 1;
                        if self.trailer_fields > self.limits.max_fields {
                            return Err(ChunkError("too many trailer fields"));
                        }
                        State::TrailerName
                    }
                    State::LineStart if matches!(byte, b' ' | b'\t') => {
                        return Err(ChunkError("folded trailer line"));
                    }
                    State::TrailerName if is_tchar(byte) => State::TrailerName,
                    State::TrailerName if byte == b':' => State::Trailer,
                    State::Trailer if is_value_byte(byte) => State::Trailer,
                    State::Trailer => return Err(ChunkError("bad character in a trailer value")),
                    _ => return Err(ChunkError("trailer line is not a field")),
                }
            }
            (State::TrailerLf, b'\n') => State::LineStart,
            (State::TrailerLf, _) => return Err(ChunkError("missing CRLF in trailers")),
            (State::Data(_) | State::Done, _) => unreachable!("handled by scan"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scans `body` in pieces of `piece` bytes; returns where the body ended.
    fn end_of(body: &[u8], piece: usize) -> Result<Option<usize>, ChunkError> {
        let mut chunked = Chunked::default();
        let mut at = 0;
        for part in body.chunks(piece) {
            let taken = chunked.scan(part)?;
            at += taken;
            if chunked.is_done() {
                return Ok(Some(at));
            }
            assert_eq!(taken, part.len(), "took less without ending");
        }
        Ok(None)
    }

    #[test]
    fn finds_the_end_in_any_split() {
        let body =
            b"5\r\nhello\r\n1a;name=value\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-sum: 1\r\n\r\n";
        for piece in 1..=body.len() {
            assert_eq!(end_of(body, piece), Ok(Some(body.len())), "piece {piece}");
        }
    }

    #[test]
    fn stops_at_the_end_leaving_the_next_message() {
        let mut input = b"3\r\nabc\r\n0\r\n\r\n".to_vec();
        let end = input.len();
        input.extend_from_slice(b"GET /next HTTP/1.1\r\n");
        let mut chunked = Chunked::default();
        assert_eq!(chunked.scan(&input), Ok(end));
        assert!(chunked.is_done());
    }

    #[test]
    fn an_unfinished_body_is_not_done() {
        assert_eq!(end_of(b"5\r\nhel", 64), Ok(None));
        assert_eq!(end_of(b"0\r\n", 64), Ok(None), "final CRLF missing");
        assert_eq!(end_of(b"0\r\nx: 1\r\n", 64), Ok(None), "trailer, no end");
    }

    #[test]
    fn broken_framing_is_refused() {
        for bad in [
            &b"\r\n"[..],
            b"g\r\n",
            b"5\nhello\r\n",
            b"5\r\nhelloX\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"11111111111111111\r\n",
            b"0\r\n\n",
            b"0\r\nx: 1\n\r\n",
            b"5;a\nhello",
            // Trailer lines that are not fields.
            b"0\r\nbad trailer\r\n\r\n",
            b"0\r\nx-t : 1\r\n\r\n",
            b"0\r\n: 1\r\n\r\n",
            b"0\r\nx-t: 1\r\n folded\r\n\r\n",
            b"0\r\nx-t: a\x00b\r\n\r\n",
            b"0\r\nx-t: a\x7fb\r\n\r\n",
            b"0\r\nx-t\r\n\r\n",
        ] {
            assert!(
                end_of(bad, 64).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn trailer_fields_pass() {
        let good = b"0\r\nx-t:\r\nx-u: a\tb \xe9\r\nx-v:1\r\n\r\n";
        assert_eq!(end_of(good, 1), Ok(Some(good.len())));
    }

    #[test]
    fn trailers_are_held_to_their_limits() {
        let limits = TrailerLimits {
            max_size: 40,
            max_fields: 2,
        };
        let scan = |body: &[u8]| {
            let mut chunked = Chunked::new(limits);
            chunked.scan(body).map(|_| chunked.is_done())
        };
        assert_eq!(scan(b"0\r\na: 1\r\nb: 2\r\n\r\n"), Ok(true));
        assert_eq!(
            scan(b"0\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n"),
            Err(ChunkError("too many trailer fields"))
        );
        assert_eq!(
            scan(format!("0\r\na: {}\r\n\r\n", "v".repeat(40)).as_bytes()),
            Err(ChunkError("trailers too large"))
        );
    }

    #[test]
    fn huge_but_valid_sizes_pass_through_without_overflow() {
        let mut chunked = Chunked::default();
        assert_eq!(chunked.scan(b"ffffffffffffffff\r\n"), Ok(18));
        assert!(!chunked.is_done());
        assert_eq!(chunked.state, State::Data(u64::MAX));
    }

    #[test]
    fn endless_extensions_and_trailers_are_cut_off() {
        let mut line = b"1;".to_vec();
        line.resize(MAX_LINE + 8, b'a');
        assert!(end_of(&line, 64).is_err());
        let mut trailers = b"0\r\n".to_vec();
        for _ in 0..2000 {
            trailers.extend_from_slice(b"x-long-trailer: 1\r\n");
        }
        assert!(end_of(&trailers, 512).is_err());
    }
}
