//! One connection to a server while a request is on it: the request going out (head, then
//! body as the client sends it) and the bytes coming back, read into one buffer. Reading
//! and writing are polled side by side, as a server may answer before it has the whole
//! body: an echo streams it back as it comes, a 413 comes early.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Buf as _, Bytes, BytesMut};
use http_body::Body as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::SendError;
use super::head::{self, Outgoing, Parsed, ResponseHead};
use crate::counted::Tally as _;
use crate::metrics::ServerCounters;
use crate::request_body::{BoxError, RequestBody};

/// Bytes read from the server at a time (as the HTTP/1.1 path reads).
const READ_SIZE: usize = 8 * 1024;

/// Most pieces written in one call: a chunk's size line, its data and its CRLF, and the
/// head before them.
const MAX_SLICES: usize = 4;

/// A connection with a request on it.
#[derive(Debug)]
pub(super) struct Wire {
    stream: TcpStream,
    /// The server's counters, for the bytes moved (as `Counted` counts them on the other
    /// path).
    counters: Arc<ServerCounters>,
    /// What the server sent and nobody took yet.
    pub(super) buf: BytesMut,
    /// The request still going out; `None` once all of it went, or it failed.
    upload: Option<Upload>,
    /// The request did not go out whole: the connection cannot take another.
    broken: bool,
    /// Something came back already.
    received: bool,
}

/// The request going out: what is ready to write, then the client's body.
#[derive(Debug)]
pub(super) struct Upload {
    /// Written before the body is polled again: the head, a chunk's size line, data, CRLF.
    out: VecDeque<Bytes>,
    /// `None` once it ended (or the request has none).
    body: Option<RequestBody>,
    chunked: bool,
}

enum UploadError {
    /// Reading the client's body failed.
    Client(BoxError),
    /// Writing to the server failed.
    Server(io::Error),
}

impl Upload {
    /// The request with `head`, its body framed as `outgoing` says. A body that has
    /// ended already is never polled, so that it stays untouched for a retry.
    pub(super) fn new(head: Vec<u8>, body: RequestBody, outgoing: Outgoing) -> Self {
        Upload {
            out: VecDeque::from([Bytes::from(head)]),
            body: (outgoing != Outgoing::NoBody).then_some(body),
            chunked: outgoing == Outgoing::Chunked,
        }
    }

    /// Writes as much as can go now; ready once the whole request went.
    fn poll(
        &mut self,
        stream: &mut TcpStream,
        counters: &ServerCounters,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), UploadError>> {
        loop {
            while !self.out.is_empty() {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                for (slice, bytes) in slices.iter_mut().zip(&self.out) {
                    *slice = IoSlice::new(bytes);
                }
                let count = self.out.len().min(MAX_SLICES);
                let polled = Pin::new(&mut *stream).poll_write_vectored(cx, &slices[..count]);
                let written = ready!(polled).map_err(UploadError::Server)?;
                if written == 0 {
                    return Poll::Ready(Err(UploadError::Server(io::ErrorKind::WriteZero.into())));
                }
                counters.sent(written);
                self.advance(written);
            }
            let Some(body) = &mut self.body else {
                return Poll::Ready(Ok(()));
            };
            match ready!(Pin::new(body).poll_frame(cx)) {
                None => {
                    self.body = None;
                    if self.chunked {
                        self.out.push_back(Bytes::from_static(b"0\r\n\r\n"));
                    }
                }
                Some(Err(error)) => return Poll::Ready(Err(UploadError::Client(error))),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) if data.is_empty() => {}
                    Ok(data) if self.chunked => {
                        let size = format!("{:x}\r\n", data.len());
                        self.out.push_back(Bytes::from(size));
                        self.out.push_back(data);
                        self.out.push_back(Bytes::from_static(b"\r\n"));
                    }
                    Ok(data) => self.out.push_back(data),
                    // RFC 9110 6.5: trailer fields are passed on, after the last chunk (the
                    // body ends with them). They came within the client's head limits:
                    // hyper's HTTP/1 decoder holds them to `max_header_size` and
                    // `max_headers`, HTTP/2 to the header list size. A body sent with a
                    // Content-Length has no place for them.
                    Err(frame) => {
                        if let Ok(fields) = frame.into_trailers()
                            && self.chunked
                        {
                            self.body = None;
                            self.out.push_back(Bytes::from(last_chunk(&fields)));
                        }
                    }
                },
            }
        }
    }

    /// Drops the first `written` bytes of what is ready to write.
    fn advance(&mut self, mut written: usize) {
        while written > 0 {
            let Some(front) = self.out.front_mut() else {
                return;
            };
            if front.len() <= written {
                written -= front.len();
                self.out.pop_front();
            } else {
                front.advance(written);
                written = 0;
            }
        }
    }
}

/// The last chunk with `trailers` after it, and the body's final empty line.
fn last_chunk(trailers: &http::HeaderMap) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(b"0\r\n");
    for (name, value) in trailers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

impl Wire {
    pub(super) fn new(stream: TcpStream, counters: Arc<ServerCounters>, upload: Upload) -> Self {
        Wire {
            stream,
            counters,
            buf: BytesMut::new(),
            upload: Some(upload),
            broken: false,
            received: false,
        }
    }

    /// True when the request went out whole and nothing unread is left: the connection
    /// can take another request if the server keeps it open.
    pub(super) fn is_reusable(&self) -> bool {
        self.upload.is_none() && !self.broken && self.buf.is_empty()
    }

    pub(super) fn into_stream(self) -> TcpStream {
        self.stream
    }

    /// The socket, the server's counters, and what the server sent that nobody took.
    pub(super) fn into_parts(self) -> (TcpStream, Arc<ServerCounters>, Bytes) {
        (self.stream, self.counters, self.buf.freeze())
    }

    /// Sends what can go of the request. An error is the client's: its body failed, and the
    /// server will never have the whole request. A server that stops taking the request is
    /// not an error here: it may have answered early, which the reading side finds out.
    pub(super) fn drive_upload(&mut self, cx: &mut Context<'_>) -> Result<(), BoxError> {
        let Some(upload) = &mut self.upload else {
            return Ok(());
        };
        match upload.poll(&mut self.stream, &self.counters, cx) {
            Poll::Pending => Ok(()),
            Poll::Ready(Ok(())) => {
                self.upload = None;
                Ok(())
            }
            Poll::Ready(Err(UploadError::Server(error))) => {
                tracing::debug!(%error, "server stopped taking the request");
                self.upload = None;
                self.broken = true;
                Ok(())
            }
            Poll::Ready(Err(UploadError::Client(error))) => {
                self.upload = None;
                self.broken = true;
                Err(error)
            }
        }
    }

    /// Reads what the server sent into `buf`; 0 at its end. Through `AsyncRead`, whose short
    /// reads tell Tokio that the socket is drained: with `try_read_buf` the readiness would
    /// stay set, and the pool's test of the idle connection would cost a `recvfrom` that
    /// finds nothing. The bytes are read into a buffer on the stack and copied, since
    /// `BytesMut`'s spare room cannot be handed to a read without `unsafe`.
    pub(super) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut room = [MaybeUninit::<u8>::uninit(); READ_SIZE];
        let mut read = ReadBuf::uninit(&mut room);
        ready!(Pin::new(&mut self.stream).poll_read(cx, &mut read))?;
        let n = read.filled().len();
        self.buf.extend_from_slice(read.filled());
        self.counters.received(n);
        self.received |= n > 0;
        Poll::Ready(Ok(n))
    }

    /// Sends the request and reads the final answer's head, skipping interim ones.
    pub(super) fn poll_head(
        &mut self,
        cx: &mut Context<'_>,
        is_head: bool,
    ) -> Poll<Result<ResponseHead, SendError>> {
        loop {
            if let Err(error) = self.drive_upload(cx) {
                return Poll::Ready(Err(SendError::Client(error)));
            }
            if !self.buf.is_empty() {
                match head::parse(&self.buf, is_head) {
                    Parsed::Head(head) => {
                        self.buf.advance(head.len);
                        if !head.is_interim() {
                            return Poll::Ready(Ok(head));
                        }
                        continue;
                    }
                    Parsed::Invalid(reason) => {
                        return Poll::Ready(Err(SendError::NoResponse {
                            reason: reason.into(),
                            stale: false,
                        }));
                    }
                    Parsed::Partial => {}
                }
            }
            let received = self.received;
            // Nothing at all came back for a whole request: the server had closed the
            // connection (the caller knows whether it was a pooled one). A server that
            // began answering saw the request.
            let stale = !received && self.upload.is_none() && !self.broken;
            match ready!(self.poll_fill(cx)) {
                Ok(0) if received => {
                    return Poll::Ready(Err(SendError::NoResponse {
                        reason: "the server closed in the middle of its answer".into(),
                        stale: false,
                    }));
                }
                Ok(0) => {
                    return Poll::Ready(Err(SendError::NoResponse {
                        reason: "the server closed without answering".into(),
                        stale,
                    }));
                }
                Ok(_) => {}
                Err(error) => {
                    return Poll::Ready(Err(SendError::NoResponse {
                        reason: error.to_string().into(),
                        stale,
                    }));
                }
            }
        }
    }
}
