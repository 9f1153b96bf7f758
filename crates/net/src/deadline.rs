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
use tokio::io::unix::AsyncFd;

use crate::sys::{self, TimerFd};

/// A one-shot timer to wait for in a `select!`. Needs a tokio runtime with I/O enabled.
#[derive(Debug)]
pub struct Deadline {
    timer: AsyncFd<TimerFd>,
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
            timer: sys::register_readable(TimerFd(timer))?,
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
        loop {
            let mut ready = match self.timer.poll_read_ready(cx) {
                Poll::Ready(Ok(ready)) => ready,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            };
            match ready.get_inner().0.wait() {
                Ok(()) => {
                    // A one-shot timer read once is not readable again until it is re-armed:
                    // forgetting the readiness now spares the read that would say so.
                    ready.clear_ready();
                    self.armed = None;
                    return Poll::Ready(Ok(()));
                }
                Err(nix::errno::Errno::EAGAIN) => ready.clear_ready(),
                Err(error) => return Poll::Ready(Err(error.into())),
            }
        }
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
        deadline
            .set(Some(Instant::now() + Duration::from_millis(5)))
            .expect("set");
        deadline.set(None).expect("unset");
        let waited = tokio::time::timeout(Duration::from_millis(50), deadline.expired()).await;
        assert!(waited.is_err(), "an unset deadline fired");
    }

    #[test]
    fn outside_a_runtime_is_an_error() {
        assert!(Deadline::new().is_err());
    }
}
