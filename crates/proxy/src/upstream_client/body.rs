//! A server's response body as hyper's server polls it: read from the connection frame by
//! frame (a chunked one decoded), the rest of the request body sent along the way, and the
//! connection given back to the server's pool when the body ended cleanly. A body dropped
//! before its end, or cut short, closes the connection.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Buf as _, Bytes, BytesMut};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use tokio::net::TcpStream;

use super::head::Framing;
use super::wire::Wire;
use crate::counted::Counted;
use crate::metrics::ServerCounters;
use crate::request_body::BoxError;
use crate::upstream::Server;

/// Longest chunk-size line and longest trailer section taken (as the HTTP/1.1 path's
/// chunked scanner), and most trailer fields.
const MAX_LINE: usize = 4096;
const MAX_TRAILERS: usize = 16 * 1024;
const MAX_TRAILER_FIELDS: usize = 64;

/// The body of an answer from [`send`](super::send).
#[derive(Debug)]
pub(crate) struct ServerBody {
    state: State,
}

#[derive(Debug)]
enum State {
    Reading(Box<Reading>),
    /// A 101's connection, for the tunnel.
    Upgraded(Box<Wire>),
    Done,
}

#[derive(Debug)]
struct Reading {
    wire: Wire,
    rest: Rest,
    /// The server keeps the connection after this answer.
    reusable: bool,
    server: Arc<Server>,
    max_idle: usize,
}

/// What is left of the body.
#[derive(Debug)]
enum Rest {
    Length(u64),
    Chunked(Chunks),
    UntilClose,
}

/// What the buffer gave.
enum Step {
    Data(Bytes),
    /// The trailer fields of a chunked body, which ends with them.
    Trailers(HeaderMap),
    /// The body ended.
    End,
    /// More bytes are needed.
    More,
}

/// A connection after a 101: the socket, counting into its server's counters, and what the
/// server sent after its 101 (to go to the client first).
#[derive(Debug)]
pub(crate) struct Upgraded {
    pub(crate) stream: Counted<TcpStream, Arc<ServerCounters>>,
    pub(crate) early: Bytes,
}

impl ServerBody {
    pub(super) fn empty() -> Self {
        ServerBody { state: State::Done }
    }

    pub(super) fn upgraded(wire: Wire) -> Self {
        ServerBody {
            state: State::Upgraded(Box::new(wire)),
        }
    }

    pub(super) fn reading(
        wire: Wire,
        framing: Framing,
        reusable: bool,
        server: &Arc<Server>,
        max_idle: usize,
    ) -> Self {
        let rest = match framing {
            Framing::Length(length) => Rest::Length(length),
            Framing::Chunked => Rest::Chunked(Chunks::Size),
            Framing::UntilClose | Framing::Empty | Framing::Upgrade => Rest::UntilClose,
        };
        ServerBody {
            state: State::Reading(Box::new(Reading {
                wire,
                rest,
                reusable,
                server: Arc::clone(server),
                max_idle,
            })),
        }
    }

    /// The connection of a 101 answer; `None` for any other.
    pub(crate) fn into_upgraded(self) -> Option<Upgraded> {
        let State::Upgraded(wire) = self.state else {
            return None;
        };
        let (stream, counters, early) = wire.into_parts();
        Some(Upgraded {
            stream: Counted::new(stream, counters),
            early,
        })
    }

    /// The body ended as its framing said: the connection goes back to the pool if both
    /// sides can go on with it.
    fn finish(&mut self) {
        let State::Reading(reading) = std::mem::replace(&mut self.state, State::Done) else {
            return;
        };
        let Reading {
            wire,
            reusable,
            server,
            max_idle,
            ..
        } = *reading;
        if reusable && wire.is_reusable() {
            server.pool.put(wire.into_stream(), max_idle);
        }
    }
}

impl Reading {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Frame<Bytes>>, BoxError>> {
        // The server will never have the whole request: its answer cannot end well.
        self.wire.drive_upload(cx)?;
        loop {
            match self.rest.take(&mut self.wire.buf)? {
                Step::Data(data) => return Poll::Ready(Ok(Some(Frame::data(data)))),
                Step::Trailers(fields) => return Poll::Ready(Ok(Some(Frame::trailers(fields)))),
                Step::End => return Poll::Ready(Ok(None)),
                Step::More => {}
            }
            match ready!(self.wire.poll_fill(cx)) {
                Ok(0) if matches!(self.rest, Rest::UntilClose) => {
                    self.reusable = false;
                    return Poll::Ready(Ok(None));
                }
                Ok(0) => {
                    return Poll::Ready(Err("the server closed in the middle of the body".into()));
                }
                Ok(_) => {}
                Err(error) => return Poll::Ready(Err(error.into())),
            }
        }
    }
}

impl Rest {
    /// The next piece of the body that `buf` holds.
    fn take(&mut self, buf: &mut BytesMut) -> Result<Step, BoxError> {
        match self {
            Rest::Length(0) => Ok(Step::End),
            Rest::Length(left) if !buf.is_empty() => {
                let take = (*left).min(buf.len() as u64);
                *left -= take;
                Ok(Step::Data(buf.split_to(take as usize).freeze()))
            }
            Rest::UntilClose if !buf.is_empty() => Ok(Step::Data(buf.split().freeze())),
            Rest::Length(_) | Rest::UntilClose => Ok(Step::More),
            Rest::Chunked(chunks) => chunks.take(buf).map_err(BoxError::from),
        }
    }

    fn is_done(&self) -> bool {
        matches!(self, Rest::Length(0) | Rest::Chunked(Chunks::Done))
    }
}

/// Where a chunked body (RFC 9112 7.1) is: decoded from the buffer once a whole size line
/// (or trailer line) is in it, as strictly as the HTTP/1.1 path checks it (CRLF line ends,
/// hex sizes that fit in 64 bits). Trailer fields are passed on, as hyper's client did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunks {
    Size,
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer fields, or the final CRLF.
    Trailers,
    Done,
}

impl Chunks {
    fn take(&mut self, buf: &mut BytesMut) -> Result<Step, &'static str> {
        loop {
            match *self {
                Chunks::Size => {
                    let Some(len) = line(buf, MAX_LINE)? else {
                        return Ok(Step::More);
                    };
                    let size = chunk_size(&buf[..len])?;
                    buf.advance(len + 2);
                    *self = if size == 0 {
                        Chunks::Trailers
                    } else {
                        Chunks::Data(size)
                    };
                }
                Chunks::Data(_) if buf.is_empty() => return Ok(Step::More),
                Chunks::Data(left) => {
                    let take = left.min(buf.len() as u64);
                    *self = if take == left {
                        Chunks::DataEnd
                    } else {
                        Chunks::Data(left - take)
                    };
                    return Ok(Step::Data(buf.split_to(take as usize).freeze()));
                }
                Chunks::DataEnd if buf.len() < 2 => return Ok(Step::More),
                Chunks::DataEnd if buf.starts_with(b"\r\n") => {
                    buf.advance(2);
                    *self = Chunks::Size;
                }
                Chunks::DataEnd => return Err("malformed chunked body: missing CRLF"),
                Chunks::Trailers if buf.starts_with(b"\n") => {
                    return Err("malformed chunked body: bare LF");
                }
                Chunks::Trailers if buf.len() < 2 => return Ok(Step::More),
                Chunks::Trailers if buf.starts_with(b"\r\n") => {
                    buf.advance(2);
                    *self = Chunks::Done;
                }
                Chunks::Trailers => {
                    let Some((len, fields)) = trailers(buf)? else {
                        return Ok(Step::More);
                    };
                    buf.advance(len);
                    *self = Chunks::Done;
                    return Ok(Step::Trailers(fields));
                }
                Chunks::Done => return Ok(Step::End),
            }
        }
    }
}

/// Decodes a chunked `body` fed to the decoder in pieces of `piece` bytes (at least 1): the
/// data, the trailer fields and how many bytes of `body` the encoding took, or the first
/// error ("unfinished" when the input ends before the body does). For the unit tests
/// and the fuzz target, which hold it to giving the same in any pieces.
#[cfg(any(test, feature = "fuzzing"))]
pub(super) fn decode_in_pieces(
    body: &[u8],
    piece: usize,
) -> Result<(Vec<u8>, HeaderMap, usize), &'static str> {
    let mut chunks = Chunks::Size;
    let mut fed = 0;
    let mut buf = BytesMut::new();
    let mut data = Vec::new();
    let mut trailers = HeaderMap::new();
    for part in body.chunks(piece.max(1)) {
        buf.extend_from_slice(part);
        fed += part.len();
        loop {
            match chunks.take(&mut buf)? {
                Step::Data(bytes) => data.extend_from_slice(&bytes),
                Step::Trailers(fields) => trailers = fields,
                Step::End => return Ok((data, trailers, fed - buf.len())),
                Step::More => break,
            }
        }
    }
    Err("unfinished")
}

/// The length of the line at the start of `buf`, without its CRLF, once all of it is
/// there; a line longer than `max` or ending in a bare LF is refused.
fn line(buf: &[u8], max: usize) -> Result<Option<usize>, &'static str> {
    match buf.iter().take(max + 2).position(|&b| b == b'\n') {
        Some(lf) if lf == 0 || buf[lf - 1] != b'\r' => Err("malformed chunked body: bare LF"),
        Some(lf) => Ok(Some(lf - 1)),
        None if buf.len() >= max + 2 => Err("malformed chunked body: line too long"),
        None => Ok(None),
    }
}

/// The trailer section at the start of `buf` (its final CRLF included) and its fields, once
/// all of it is there. Longer than [`MAX_TRAILERS`] is refused whether it came whole or in
/// pieces: the server's packet sizes must not decide.
fn trailers(buf: &[u8]) -> Result<Option<(usize, HeaderMap)>, &'static str> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_TRAILER_FIELDS];
    let (len, parsed) = match httparse::parse_headers(buf, &mut storage) {
        Ok(httparse::Status::Complete((len, _))) if len > MAX_TRAILERS => {
            return Err("malformed chunked body: trailers too large");
        }
        Ok(httparse::Status::Complete(complete)) => complete,
        Ok(httparse::Status::Partial) if buf.len() > MAX_TRAILERS => {
            return Err("malformed chunked body: trailers too large");
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err("malformed chunked body: bad trailers"),
    };
    let mut fields = HeaderMap::with_capacity(parsed.len());
    for field in parsed {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(field.name.as_bytes()),
            HeaderValue::from_bytes(field.value),
        ) else {
            return Err("malformed chunked body: bad trailers");
        };
        fields.append(name, value);
    }
    Ok(Some((len, fields)))
}

/// A chunk size line's size: hex digits (at most 16), then extensions, which are skipped.
fn chunk_size(line: &[u8]) -> Result<u64, &'static str> {
    let end = line
        .iter()
        .position(|b| matches!(b, b';' | b' ' | b'\t'))
        .unwrap_or(line.len());
    let digits = &line[..end];
    if digits.is_empty() || digits.len() > 16 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err("malformed chunked body: bad chunk size");
    }
    let digits = std::str::from_utf8(digits).map_err(|_| "malformed chunked body")?;
    u64::from_str_radix(digits, 16).map_err(|_| "malformed chunked body: bad chunk size")
}

impl Body for ServerBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let State::Reading(reading) = &mut this.state else {
            return Poll::Ready(None);
        };
        match ready!(reading.poll_next(cx)) {
            Ok(Some(frame)) => {
                // hyper's server stops polling once the body says it ended: the connection
                // goes back now, not on a poll that may never come.
                if reading.rest.is_done() {
                    this.finish();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Ok(None) => {
                this.finish();
                Poll::Ready(None)
            }
            Err(error) => {
                this.state = State::Done;
                Poll::Ready(Some(Err(error)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.state {
            State::Reading(reading) => reading.rest.is_done(),
            State::Upgraded(_) | State::Done => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.state {
            State::Reading(reading) => match reading.rest {
                Rest::Length(left) => SizeHint::with_exact(left),
                _ => SizeHint::default(),
            },
            State::Upgraded(_) | State::Done => SizeHint::with_exact(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::decode_in_pieces as decode;
    use super::*;

    #[test]
    fn decodes_in_any_split() {
        let body =
            b"5\r\nhello\r\n1a;name=value\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-sum: 1\r\n\r\n";
        for piece in 1..=body.len() {
            let (data, trailers, taken) = decode(body, piece).expect("valid");
            assert_eq!(data, b"helloabcdefghijklmnopqrstuvwxyz", "piece {piece}");
            assert_eq!(trailers["x-sum"], "1");
            assert_eq!(taken, body.len());
        }
    }

    #[test]
    fn stops_at_the_end() {
        let mut buf = BytesMut::from(&b"1\r\na\r\n0\r\n\r\nHTTP/1.1"[..]);
        let mut chunks = Chunks::Size;
        assert!(matches!(chunks.take(&mut buf), Ok(Step::Data(_))));
        assert!(matches!(chunks.take(&mut buf), Ok(Step::End)));
        assert_eq!(
            decode(b"0\r\n\r\n", 1).expect("valid").1.len(),
            0,
            "no trailers"
        );
        assert_eq!(&buf[..], b"HTTP/1.1", "the rest is not the body's");
    }

    #[test]
    fn broken_framing_is_refused() {
        for bad in [
            &b"\r\n"[..],
            b"g\r\n",
            b"5\nhello\r\n",
            b"5\r\nhelloX\r\n",
            b"11111111111111111\r\n",
            b"0\r\n\n",
            b"0\r\nx 1\r\n\r\n",
        ] {
            let decoded = decode(bad, 64);
            assert!(
                decoded.is_err() && decoded != Err("unfinished"),
                "{:?}: {decoded:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(decode(b"5\r\nhel", 64), Err("unfinished"));
        let mut long = b"1;".to_vec();
        long.resize(MAX_LINE + 8, b'a');
        assert!(decode(&long, 64).is_err_and(|e| e != "unfinished"));
        let mut trailers = b"0\r\n".to_vec();
        for _ in 0..2000 {
            trailers.extend_from_slice(b"x-long-trailer: 1\r\n");
        }
        assert!(decode(&trailers, 512).is_err_and(|e| e != "unfinished"));
        // The same section complete in one read is refused too (found by the fuzz target's
        // whole-against-pieces check).
        let mut whole = b"0\r\n".to_vec();
        for i in 0..50 {
            whole.extend_from_slice(format!("x-t{i}: {}\r\n", "v".repeat(400)).as_bytes());
        }
        whole.extend_from_slice(b"\r\n");
        assert_eq!(
            decode(&whole, whole.len()),
            Err("malformed chunked body: trailers too large")
        );
    }

    #[test]
    fn huge_sizes_do_not_overflow() {
        let mut buf = BytesMut::from(&b"ffffffffffffffff\r\nab"[..]);
        let mut chunks = Chunks::Size;
        assert!(matches!(chunks.take(&mut buf), Ok(Step::Data(data)) if &data[..] == b"ab"));
        assert_eq!(chunks, Chunks::Data(u64::MAX - 2));
    }
}
