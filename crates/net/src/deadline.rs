//! The protocol loop's next deadline, on a timerfd, as keepalived keeps its own.
//!
//! A backup pushes its Master_Down_Timer back with every advert it hears (every 10 ms at
//! the fastest) and a master re-arms its Adver_Timer after every advert it sends. On
//! tokio's timer wheel a deadline 36 ms ahead often lands in the wheel's second level, and
//! the runtime wakes at the level's boundary only to move it down: an empty wake-up for
//! every other advert. Re-arming a wheel timer that is due sooner than the runtime's next
//! wake also writes to the runtime's eventfd. A timerfd wakes once, when the deadline is
//! due, and re-arming it is one system call.

use std::io;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFlags, TimerSetTimeFlags};

use crate::readable::Readable;
use crate::sys::{self, TimerFd};

/// A one-shot timer to wait for in a `select!`. Needs a tokio runtime with I/O enabled; on
/// the protocol loop's thread it is waited for in that loop's epoll instead (see
/// `baton_net::protocol_loop`).
#[derive(Debug)]
pub struct Deadline {
    timer: Readable<TimerFd>,
    /// What the timer is set to, when it has not fired yet.
    armed: Option<Instant>,
}

impl Deadline {
    pub fn new() -> io::Result<Deadline> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other("not inside a tokio runtime"));
        }
        let flags = TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC;
        let timer = nix::sys::timerfd::TimerFd::new(ClockId::CLOCK_MONOTONIC, flags)?;
        Ok(Deadline {
            timer: Readable::register(TimerFd(timer), sys::register_readable)?,
            armed: None,
        })
    }

    /// Fires at `at` (at once if it passed), or never (None). No system call when `at` is
    /// what the timer is set to already.
    pub fn set(&mut self, at: Option<Instant>) -> io::Result<()> {
        if at == self.armed {
            return Ok(());
        }
        let timer = &self.timer.get_ref().0;
        match at {
            // std's Instant reads CLOCK_MONOTONIC too, so the delay from now is exact up to
            // the moment between the two reads: the timer never fires before `at`.
            Some(at) => {
                let delay = at
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_nanos(1));
                let expiration = Expiration::OneShot(TimeSpec::from_duration(delay));
                timer.set(expiration, TimerSetTimeFlags::empty())?;
            }
            None => timer.unset()?,
        }
        self.armed = at;
        Ok(())
    }

    /// Waits until the deadline set last passes. Cancel-safe: a wait dropped before it
    /// returns leaves the expiry for the next one.
    pub async fn expired(&mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_expired(cx)).await
    }

    /// [`Deadline::expired`] as a poll: `Ready` once the deadline set last passed. The
    /// waker stays with the timer between polls (no waiter to add and remove per wait), so
    /// polling it again before it fires costs no more than a look at its readiness.
    pub fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A one-shot timer read once is not readable again until it is re-armed: it is
        // known empty after the read, sparing the read that would say so.
        let wait = |timer: &TimerFd| timer.0.wait().map_err(io::Error::from);
        let expired = self.timer.poll_read(cx, wait, true);
        if let Poll::Ready(Ok(())) = expired {
            self.armed = None;
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fires_at_the_deadline_set_last_and_not_before() {
        let mut deadline = Deadline::new().expect("timerfd");
        let start = Instant::now();
        deadline
            .set(Some(start + Duration::from_secs(3600)))
            .expect("set");
        let at = start + Duration::from_millis(20);
        deadline.set(Some(at)).expect("set");
        deadline.expired().await.expect("expired");
        assert!(Instant::now() >= at, "fired early");
        // Set to the same instant again after firing: armed anew, fires at once.
        deadline.set(Some(at)).expect("set");
        tokio::time::timeout(Duration::from_secs(5), deadline.expired())
            .await
            .expect("fires at once")
            .expect("expired");
    }

    #[tokio::test]
    async fn unset_never_fires() {
        let mut deadline = Deadline::new().expect("timerfd");
        unset_does_not_fire(&mut deadline).await;
    }

    async fn unset_does_not_fire(deadline: &mut Deadline) {
        deadline
            .set(Some(Instant::now() + Duration::from_millis(5)))
            .expect("set");
        deadline.set(None).expect("unset");
        let waited = tokio::time::timeout(Duration::from_millis(50), deadline.expired()).await;
        assert!(waited.is_err(), "an unset deadline fired");
    }

    /// The same on the protocol loop's thread, whose epoll waits for the timer.
    #[test]
    fn on_the_protocol_loop_it_fires_at_the_deadline_and_not_when_unset() {
        let (handle, stop) = crate::protocol_loop::tests::runtime_on_a_thread();
        crate::protocol_loop::block_on(&handle, async {
            let mut deadline = Deadline::new().expect("timerfd");
            assert!(matches!(deadline.timer, Readable::Protocol(_)));
            let at = Instant::now() + Duration::from_millis(20);
            deadline.set(Some(at)).expect("set");
            deadline.expired().await.expect("expired");
            assert!(Instant::now() >= at, "fired early");
            unset_does_not_fire(&mut deadline).await;
        })
        .expect("protocol loop");
        stop();
    }

    #[test]
    fn outside_a_runtime_is_an_error() {
        assert!(Deadline::new().is_err());
    }
}
