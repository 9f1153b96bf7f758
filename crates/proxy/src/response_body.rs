//! The response body the client gets, streamed frame by frame (never collected whole), and
//! the end of a request that goes with it.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::activity::InFlight;
use crate::request_body::BoxError;
use crate::silence::Silence;
use crate::upstream::ActiveGuard;
use crate::upstream_client::ServerBody;

/// What the client gets: a server's body streamed through, or a short message of ours.
#[derive(Debug)]
pub(crate) struct ResponseBody {
    inner: Inner,
    done: Option<Done>,
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
    /// A server's body; `timeout`: the longest silence in the middle of it.
    pub(crate) fn upstream(body: ServerBody, timeout: Duration, done: Done) -> Self {
        ResponseBody {
            inner: Inner::Upstream(Upstream {
                body,
                silence: Silence::new(timeout),
            }),
            done: Some(done),
        }
    }

    pub(crate) fn full(bytes: impl Into<Bytes>, done: Done) -> Self {
        let bytes = bytes.into();
        ResponseBody {
            inner: Inner::Full((!bytes.is_empty()).then_some(bytes)),
            done: Some(done),
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
