//! One timer per client connection for all of its waits (idle, request head, server's
//! answer), moved by writing an instant rather than through tokio's timer wheel.
//!
//! A `tokio::time::timeout` per wait registers a timer in the wheel when the wait blocks and
//! takes it out again when the wait ends: two locked wheel operations per wait, two waits per
//! request (the next request, the server's answer). Here the timer stays registered for the
//! connection's life at the earliest deadline set so far; a later deadline is only written
//! down, and when the timer fires before it, it is moved there then. Deadlines mostly move
//! later (each request's wait ends a timeout from now), so the wheel is touched about once
//! per timeout per connection rather than twice per request.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::time::{Instant, Sleep};

/// See the module doc.
#[derive(Debug)]
pub(super) struct Deadline {
    /// Armed at or before `due`, never after it.
    timer: Pin<Box<Sleep>>,
    due: Instant,
}

impl Deadline {
    pub(super) fn new(due: Instant) -> Self {
        Deadline {
            timer: Box::pin(tokio::time::sleep_until(due)),
            due,
        }
    }

    /// From now on, the wait ends at `due`. The wheel is touched only when `due` comes
    /// before the instant the timer is armed at.
    pub(super) fn set(&mut self, due: Instant) {
        self.due = due;
        if due < self.timer.deadline() {
            self.timer.as_mut().reset(due);
        }
    }

    /// Ready once `due` has passed; a timer that fires before it is moved to it.
    pub(super) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            ready!(self.timer.as_mut().poll(cx));
            if self.timer.deadline() >= self.due {
                return Poll::Ready(());
            }
            self.timer.as_mut().reset(self.due);
        }
    }

    /// Runs `future` until it is done (`Some`) or `due` passes (`None`); the future is polled
    /// first, so that one ready at once never looks at the timer.
    pub(super) async fn within<F: Future>(&mut self, due: Instant, future: F) -> Option<F::Output> {
        self.set(due);
        let mut future = std::pin::pin!(future);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(output) = future.as_mut().poll(cx) {
                return Poll::Ready(Some(output));
            }
            self.poll_expired(cx).map(|()| None)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_later_deadline_is_kept_and_an_earlier_one_applies() {
        tokio::time::pause();
        let start = Instant::now();
        let mut deadline = Deadline::new(start + Duration::from_secs(10));
        // Moved later: the wait lasts until the new instant, not the first one.
        let later = start + Duration::from_secs(30);
        assert!(
            deadline
                .within(later, std::future::pending::<()>())
                .await
                .is_none()
        );
        // The wheel counts whole milliseconds.
        let ms = Duration::from_millis(2);
        assert!(Instant::now() >= later && Instant::now() <= later + ms);
        // Moved earlier: it applies at once.
        let sooner = Instant::now() + Duration::from_secs(1);
        assert!(
            deadline
                .within(sooner, std::future::pending::<()>())
                .await
                .is_none()
        );
        assert!(Instant::now() >= sooner && Instant::now() <= sooner + ms);
    }

    #[tokio::test]
    async fn a_ready_future_wins_even_after_the_deadline() {
        tokio::time::pause();
        let mut deadline = Deadline::new(Instant::now());
        tokio::time::advance(Duration::from_secs(1)).await;
        let due = Instant::now();
        assert_eq!(deadline.within(due, async { 7 }).await, Some(7));
    }
}
