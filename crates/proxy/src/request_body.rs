//! The client's request body on its way to a server, streamed frame by frame (never
//! collected whole), and kept back until a server's connection starts taking it so that a
//! failed attempt can be retried with the same body. Hyper's path sends it to servers with
//! `upstream_client`.

use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::Instant;

use crate::silence::Silence;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

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

    /// True while part of the client's body has not been read.
    pub(crate) fn is_unfinished(&self) -> bool {
        lock(&self.0)
            .body
            .as_ref()
            .is_some_and(|body| !body.is_end_stream())
    }

    /// Reads what is left of the client's body and drops it: ready at its end, or when it
    /// failed. `read`: the bytes that came, added to.
    pub(crate) fn poll_discard(&self, cx: &mut Context<'_>, read: &mut u64) -> Poll<()> {
        /// Pieces taken in one call before giving the thread back.
        const BATCH: usize = 64;
        let mut held = lock(&self.0);
        let Some(body) = &mut held.body else {
            return Poll::Ready(());
        };
        for _ in 0..BATCH {
            match Pin::new(&mut *body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    *read += frame.data_ref().map_or(0, |data| data.len() as u64);
                }
                Poll::Ready(Some(Err(_)) | None) => {
                    held.body = None;
                    return Poll::Ready(());
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// How long the rest of a request body is read and dropped after an answer that came
/// before all of it went to the server, in all and at most between two pieces (nginx's
/// `lingering_time` and `lingering_timeout`), and how much of it at most: a client that
/// pushes more is not worth the keeping, and must not keep the proxy reading for a server
/// that stopped. Closed with the body still coming, the client's writes would be reset, and
/// on some systems its unread answer with them.
pub(crate) const DISCARD_TIME: Duration = Duration::from_secs(30);
pub(crate) const DISCARD_SILENCE: Duration = Duration::from_secs(5);
pub(crate) const DISCARD_BYTES: u64 = 16 << 20;

/// True when the client's body failed because its framing was broken (a bad chunk size, a
/// trailer section that is malformed or over the head's limits), not because the client went
/// away: hyper's decoder reports those as invalid data or input.
pub(crate) fn is_malformed(error: &BoxError) -> bool {
    let Some(error) = error.downcast_ref::<hyper::Error>() else {
        return false;
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput
            );
        }
        source = cause.source();
    }
    false
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
                Some(body) => {
                    let frame = Pin::new(body).poll_frame(cx);
                    // Read to its end: nothing is left to send again or to discard.
                    if let Poll::Ready(None) = frame {
                        held.body = None;
                    }
                    frame
                }
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
