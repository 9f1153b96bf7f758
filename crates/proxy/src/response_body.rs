//! The response body the client gets, streamed frame by frame (never collected whole), and
//! the end of a request that goes with it.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::activity::InFlight;
use crate::request_body::{BodySlot, BoxError, DISCARD_BYTES, DISCARD_SILENCE, DISCARD_TIME};
use crate::silence::Silence;
use crate::upstream::ActiveGuard;
use crate::upstream_client::ServerBody;

/// What the client gets: a server's body streamed through, or a short message of ours.
#[derive(Debug)]
pub(crate) struct ResponseBody {
    inner: Inner,
    /// The client's request body, whose rest is read and dropped when this body is.
    rest: Option<Discard>,
    done: Option<Done>,
}

/// What is left of the request body once the answer is done with (sent, or given up): read
/// and dropped by a task of its own, so that hyper reads the request to its end and keeps
/// the connection, rather than closing it on a client still sending (a server that answered
/// 413 or 401 before the whole body, and closed). hyper drops a body it has sent all of a
/// Content-Length of without polling it again, so this cannot wait in `poll_frame`. Bounded
/// by [`DISCARD_TIME`] in all, [`DISCARD_SILENCE`] between pieces and [`DISCARD_BYTES`], as
/// the HTTP/1.1 path's discard.
#[derive(Debug)]
struct Discard {
    body: BodySlot,
    silence: Silence,
    until: tokio::time::Instant,
    /// Bytes read and dropped so far.
    read: u64,
}

impl Discard {
    fn new(body: BodySlot) -> Self {
        Discard {
            body,
            silence: Silence::new(DISCARD_SILENCE),
            until: tokio::time::Instant::now() + DISCARD_TIME,
            read: 0,
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let before = self.read;
        let polled = self.body.poll_discard(cx, &mut self.read);
        if self.read > before {
            self.silence.ended();
        }
        if polled.is_ready()
            || self.read > DISCARD_BYTES
            || tokio::time::Instant::now() >= self.until
            || self.silence.goes_on(cx)
        {
            // Given up: hyper closes the connection on the rest.
            self.body.abandon();
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

#[derive(Debug)]
enum Inner {
    Upstream(Upstream),
    Full(Option<Bytes>),
}

/// A server's body, cut off when the server stays silent for the upstream timeout.
#[derive(Debug)]
struct Upstream {
    body: ServerBody,
    silence: Silence,
}

/// The server stopped sending in the middle of a body.
#[derive(Debug)]
struct SilentServer(Duration);

impl std::fmt::Display for SilentServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "server sent nothing for {:?} in the middle of a body",
            self.0
        )
    }
}

impl std::error::Error for SilentServer {}

impl Upstream {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(frame) => {
                self.silence.ended();
                Poll::Ready(frame)
            }
            Poll::Pending if self.silence.goes_on(cx) => {
                Poll::Ready(Some(Err(SilentServer(self.silence.limit).into())))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Marks the end of a response: the request leaves the connection (idle, for its keep-alive
/// timeout, once none is left) and the server's in-flight count drops. Happens when the body
/// ends or is dropped, whichever is first.
#[derive(Debug)]
pub(crate) struct Done {
    _in_flight: InFlight,
    _active: Option<ActiveGuard>,
}

impl Done {
    pub(crate) fn new(in_flight: InFlight, active: Option<ActiveGuard>) -> Self {
        Done {
            _in_flight: in_flight,
            _active: active,
        }
    }
}

impl ResponseBody {
    /// A server's body; `timeout`: the longest silence in the middle of it. `request`: the
    /// client's body, whose rest is read and dropped once the answer is done with.
    pub(crate) fn upstream(
        body: ServerBody,
        timeout: Duration,
        request: BodySlot,
        done: Done,
    ) -> Self {
        ResponseBody {
            inner: Inner::Upstream(Upstream {
                body,
                silence: Silence::new(timeout),
            }),
            rest: Some(Discard::new(request)),
            done: Some(done),
        }
    }

    /// The same answer, after which the rest of the client's body `request` is read and
    /// dropped (see [`Discard`]).
    pub(crate) fn discarding(mut self, request: BodySlot) -> Self {
        self.rest = Some(Discard::new(request));
        self
    }

    pub(crate) fn full(bytes: impl Into<Bytes>, done: Done) -> Self {
        let bytes = bytes.into();
        ResponseBody {
            inner: Inner::Full((!bytes.is_empty()).then_some(bytes)),
            rest: None,
            done: Some(done),
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        let Some(mut rest) = self.rest.take() else {
            return;
        };
        if !rest.body.is_unfinished() {
            return;
        }
        // Outside a runtime (never, in the proxy) the body is dropped, and hyper closes.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(std::future::poll_fn(move |cx| rest.poll(cx)));
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let frame = match &mut this.inner {
            Inner::Upstream(upstream) => upstream.poll_frame(cx),
            Inner::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        };
        if let Poll::Ready(None) = frame {
            this.done = None;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Upstream(upstream) => upstream.body.is_end_stream(),
            Inner::Full(bytes) => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Upstream(upstream) => upstream.body.size_hint(),
            Inner::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}
