//! What a client connection is doing (waiting, reading a head, serving requests), as its
//! timers need to know it; kept apart from the connection so that the socket wrapper and the
//! response bodies that report to it do not depend on the connection code.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The phase of a connection and the number of requests in flight on it (one at a time on
/// HTTP/1.1, up to the stream limit on HTTP/2), with a change counter so that a whole request
/// that started and ended between two looks is still noticed. One word, so that every change
/// is one atomic step: the low two bits are the phase, the next 20 the requests in flight,
/// the rest counts changes.
#[derive(Debug, Default)]
pub(crate) struct Activity(AtomicU64);

/// The phases, in the low bits ([`PHASE`]) of [`Activity::snapshot`].
pub(crate) const IDLE: u64 = 0;
pub(crate) const READING: u64 = 1;
const BUSY: u64 = 2;
pub(crate) const PHASE: u64 = 0b11;
const ONE_IN_FLIGHT: u64 = 1 << 2;
const IN_FLIGHT: u64 = ((1 << 20) - 1) << 2;
const ONE_CHANGE: u64 = 1 << 22;

impl Activity {
    /// Bytes arrived from the client: an idle connection starts reading a request head.
    pub(crate) fn bytes_read(&self) {
        if self.0.load(Relaxed) & PHASE == IDLE {
            self.change(|state| (state & PHASE == IDLE).then_some(state | READING));
        }
    }

    /// hyper parsed a request head and called the service. The request counts as in flight
    /// until the returned guard drops: with the response's body, or with the service's future
    /// if the client gave up on the request first.
    pub(crate) fn request_started(self: &Arc<Self>) -> InFlight {
        self.change(|state| {
            let in_flight = (state & IN_FLIGHT) + ONE_IN_FLIGHT;
            (in_flight & IN_FLIGHT == in_flight)
                .then_some(state & !(IN_FLIGHT | PHASE) | in_flight | BUSY)
        });
        InFlight(Arc::clone(self))
    }

    /// A request is done; the connection is idle once none is left.
    fn request_done(&self) {
        self.change(|state| {
            let in_flight = (state & IN_FLIGHT).saturating_sub(ONE_IN_FLIGHT);
            let phase = if in_flight == 0 { IDLE } else { BUSY };
            Some(state & !(IN_FLIGHT | PHASE) | in_flight | phase)
        });
    }

    /// Applies `next` (which may decline) and counts the change.
    fn change(&self, next: impl Fn(u64) -> Option<u64>) {
        let _ = self.0.fetch_update(Relaxed, Relaxed, |state| {
            next(state).map(|state| state.wrapping_add(ONE_CHANGE))
        });
    }

    pub(crate) fn snapshot(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// One request in flight on a connection; see [`Activity::request_started`].
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_done();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_counts_every_change() {
        let activity = Arc::new(Activity::default());
        let start = activity.snapshot();
        activity.bytes_read();
        drop(activity.request_started());
        let after = activity.snapshot();
        assert_eq!(after & PHASE, IDLE);
        assert_ne!(after, start, "a whole request between two looks is seen");
        // Reads during a request do not change the phase.
        let _request = activity.request_started();
        let busy = activity.snapshot();
        activity.bytes_read();
        assert_eq!(activity.snapshot(), busy);
    }

    #[test]
    fn connection_is_idle_once_its_last_request_is_done() {
        let activity = Arc::new(Activity::default());
        let first = activity.request_started();
        let second = activity.request_started();
        assert_eq!(activity.snapshot() & PHASE, BUSY);
        drop(first);
        assert_eq!(activity.snapshot() & PHASE, BUSY, "one still in flight");
        drop(second);
        assert_eq!(activity.snapshot() & PHASE, IDLE);
        assert_eq!(activity.snapshot() & IN_FLIGHT, 0);
    }
}
