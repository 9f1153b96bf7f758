//! Bodies in both directions, streamed frame by frame (never collected whole).

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use crate::conn::InFlight;
use crate::upstream::ActiveGuard;

type Slot = Arc<Mutex<Option<Incoming>>>;

/// When the request last made progress towards the server: its start, or the last piece of
/// its body that a server's connection took. The upstream timeout counts from here.
#[derive(Debug)]
pub(crate) struct Progress {
    start: Instant,
    /// Milliseconds after `start`.
    last: AtomicU64,
}

impl Progress {
    pub(crate) fn new() -> Self {
        Progress {
            start: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    pub(crate) fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last.load(Relaxed))
    }

    fn touch(&self) {
        let elapsed = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(elapsed, Relaxed);
    }
}

/// Keeps a client's request body out of a server's hands until that server's connection
/// starts sending it, so that a request that failed before its body left can be tried again
/// on another server with the same body.
#[derive(Debug)]
pub(crate) struct BodySlot(Slot);

impl BodySlot {
    pub(crate) fn new(body: Incoming) -> Self {
        BodySlot(Arc::new(Mutex::new(Some(body))))
    }

    /// The body for one attempt. Each attempt gets a fresh slot, so a failed attempt's body
    /// that is still around somewhere can never take the body from the next one.
    pub(crate) fn attempt(&mut self, progress: Arc<Progress>) -> RequestBody {
        let body = lock(&self.0).take();
        let (hint, end) = match &body {
            Some(body) => (body.size_hint(), body.is_end_stream()),
            None => (SizeHint::with_exact(0), true),
        };
        self.0 = Arc::new(Mutex::new(body));
        RequestBody {
            slot: Arc::clone(&self.0),
            body: None,
            taken: false,
            hint,
            end,
            progress,
        }
    }

    /// True while no attempt has started sending the body.
    pub(crate) fn untouched(&self) -> bool {
        lock(&self.0).is_some()
    }
}

fn lock(slot: &Slot) -> std::sync::MutexGuard<'_, Option<Incoming>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The request body as one server's connection sees it; see [`BodySlot`].
#[derive(Debug)]
pub(crate) struct RequestBody {
    slot: Slot,
    body: Option<Incoming>,
    taken: bool,
    /// The body's size hint and end-of-stream flag before it was taken, for hyper to frame
    /// the request (Content-Length or chunked) before polling it.
    hint: SizeHint,
    end: bool,
    progress: Arc<Progress>,
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        if !this.taken {
            this.taken = true;
            this.body = lock(&this.slot).take();
        }
        let frame = match &mut this.body {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        };
        if frame.is_ready() {
            this.progress.touch();
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        match (&self.body, self.taken) {
            (Some(body), _) => body.is_end_stream(),
            (None, true) => true,
            (None, false) => self.end,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match (&self.body, self.taken) {
            (Some(body), _) => body.size_hint(),
            (None, true) => SizeHint::with_exact(0),
            (None, false) => self.hint,
        }
    }
}

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
    body: Incoming,
    timeout: Duration,
    /// Armed while waiting for the server (the last poll was pending), and only then: while
    /// the client is slow to read, the body is not polled and the timer is not armed.
    silence: Option<Pin<Box<Sleep>>>,
    waiting: bool,
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

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Upstream {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(frame) => {
                self.waiting = false;
                Poll::Ready(frame.map(|frame| frame.map_err(BoxError::from)))
            }
            Poll::Pending => {
                let deadline = Instant::now() + self.timeout;
                let silence = match (&mut self.silence, self.waiting) {
                    (Some(silence), true) => silence,
                    (Some(silence), false) => {
                        silence.as_mut().reset(deadline);
                        silence
                    }
                    (None, _) => self
                        .silence
                        .insert(Box::pin(tokio::time::sleep_until(deadline))),
                };
                self.waiting = true;
                match silence.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(SilentServer(self.timeout).into()))),
                    Poll::Pending => Poll::Pending,
                }
            }
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
    pub(crate) fn upstream(body: Incoming, timeout: Duration, done: Done) -> Self {
        ResponseBody {
            inner: Inner::Upstream(Upstream {
                body,
                timeout,
                silence: None,
                waiting: false,
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
