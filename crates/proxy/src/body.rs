//! Bodies in both directions, streamed frame by frame (never collected whole).

use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::Instant;

use crate::activity::InFlight;
use crate::silence::Silence;
use crate::upstream::ActiveGuard;

/// The body, where both the attempt sending it and the request's handler can reach it: the
/// handler drops it when it gives up on a server that stopped taking it, which would
/// otherwise hold it (and with it the client's connection) for as long as the server's
/// connection lives.
type Slot = Arc<Mutex<Held>>;

#[derive(Debug, Default)]
struct Held {
    body: Option<Incoming>,
    /// A server's connection has polled the body: part of it may be gone.
    taken: bool,
}

/// When the request last made progress towards the server: its start, or the last piece of
/// its body that a server's connection took. The upstream timeout counts from here, except
/// while the server waits for the client's next piece: then the client body timeout counts.
#[derive(Debug)]
pub(crate) struct Progress {
    start: Instant,
    /// Milliseconds after `start`.
    last: AtomicU64,
    /// [`SENDING`], [`AWAITING_CLIENT`] or [`CLIENT_STALLED`].
    client: AtomicU8,
}

/// The body is not waiting for the client (not started, moving, or done).
const SENDING: u8 = 0;
/// The server's connection asked for the next piece and the client has not sent it yet.
const AWAITING_CLIENT: u8 = 1;
/// The client sent nothing for the client body timeout; the request is over.
const CLIENT_STALLED: u8 = 2;

impl Progress {
    pub(crate) fn new() -> Self {
        Progress {
            start: Instant::now(),
            last: AtomicU64::new(0),
            client: AtomicU8::new(SENDING),
        }
    }

    /// True while the request waits for its client, not its server.
    pub(crate) fn awaiting_client(&self) -> bool {
        self.client.load(Relaxed) == AWAITING_CLIENT
    }

    /// True when the request failed because its client stopped sending the body.
    pub(crate) fn client_stalled(&self) -> bool {
        self.client.load(Relaxed) == CLIENT_STALLED
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
        BodySlot(Arc::new(Mutex::new(Held {
            body: Some(body),
            taken: false,
        })))
    }

    /// The body for one attempt. Each attempt gets a fresh slot, so a failed attempt's body
    /// that is still around somewhere can never take the body from the next one.
    /// `body_timeout`: the longest the client may take to send each piece.
    pub(crate) fn attempt(
        &mut self,
        progress: Arc<Progress>,
        body_timeout: Duration,
    ) -> RequestBody {
        let held = std::mem::take(&mut *lock(&self.0));
        let (hint, end) = match &held.body {
            Some(body) => (body.size_hint(), body.is_end_stream()),
            None => (SizeHint::with_exact(0), true),
        };
        self.0 = Arc::new(Mutex::new(held));
        RequestBody {
            slot: Arc::clone(&self.0),
            hint,
            end,
            progress,
            silence: Silence::new(body_timeout),
        }
    }

    /// True while no attempt has started sending the body.
    pub(crate) fn untouched(&self) -> bool {
        let held = lock(&self.0);
        held.body.is_some() && !held.taken
    }

    /// Drops the client's body, wherever the attempt that has it is stuck.
    pub(crate) fn abandon(&self) {
        let body = lock(&self.0).body.take();
        drop(body);
    }
}

fn lock(slot: &Slot) -> std::sync::MutexGuard<'_, Held> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The request body as one server's connection sees it; see [`BodySlot`].
#[derive(Debug)]
pub(crate) struct RequestBody {
    slot: Slot,
    /// The body's size hint and end-of-stream flag before it was taken, for hyper to frame
    /// the request (Content-Length or chunked) before polling it.
    hint: SizeHint,
    end: bool,
    progress: Arc<Progress>,
    /// The client's silence while the server's connection waits for the next piece.
    silence: Silence,
}

/// The client sent nothing of its body for this long.
#[derive(Debug)]
struct SilentClient(Duration);

impl std::fmt::Display for SilentClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "client sent nothing of its body for {:?}", self.0)
    }
}

impl std::error::Error for SilentClient {}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let frame = {
            let mut held = lock(&this.slot);
            held.taken = true;
            match &mut held.body {
                Some(body) => Pin::new(body).poll_frame(cx),
                None => Poll::Ready(None),
            }
        };
        match frame {
            Poll::Ready(frame) => {
                this.silence.ended();
                this.progress.client.store(SENDING, Relaxed);
                this.progress.touch();
                Poll::Ready(frame.map(|frame| frame.map_err(BoxError::from)))
            }
            Poll::Pending => {
                if this.silence.goes_on(cx) {
                    this.progress.client.store(CLIENT_STALLED, Relaxed);
                    let error = SilentClient(this.silence.limit);
                    return Poll::Ready(Some(Err(error.into())));
                }
                this.progress.client.store(AWAITING_CLIENT, Relaxed);
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        let held = lock(&self.slot);
        match (&held.body, held.taken) {
            (Some(body), _) => body.is_end_stream(),
            (None, true) => true,
            (None, false) => self.end,
        }
    }

    fn size_hint(&self) -> SizeHint {
        let held = lock(&self.slot);
        match (&held.body, held.taken) {
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

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Upstream {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(frame) => {
                self.silence.ended();
                Poll::Ready(frame.map(|frame| frame.map_err(BoxError::from)))
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
    pub(crate) fn upstream(body: Incoming, timeout: Duration, done: Done) -> Self {
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
