//! The listener's stop signal as a client connection watches it: one waiter, registered for
//! the connection's life, rather than one per wait.
//!
//! `watch::Receiver::wait_for` in each wait (the idle wait, the request head, the exchange)
//! put a waiter on the signal's list whenever the wait blocked and took it off when the wait
//! ended: a locked list operation or two per wait, several waits per request. Here the waiter
//! stays on the list until the signal changes (a drain or a stop: once or twice in a
//! listener's life), and each wait only reads the current value.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::sync::watch;

use crate::stop::Stop;

/// See the module doc.
pub(super) struct StopSignal {
    /// Read for the current value.
    now: watch::Receiver<Stop>,
    /// Done once the value changes after `now` last marked it seen, or the listener is gone.
    changed: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// The task `changed` wakes, once polled.
    woken: Option<Waker>,
}

impl StopSignal {
    pub(super) fn new(mut now: watch::Receiver<Stop>) -> Self {
        now.borrow_and_update();
        let changed = changed_future(now.clone());
        StopSignal {
            now,
            changed,
            woken: None,
        }
    }

    /// The listener's current word.
    pub(super) fn current(&self) -> Stop {
        *self.now.borrow()
    }

    /// Ready once the signal says what `stops` waits for, or the listener is gone (as
    /// `wait_for` fails then); until then the task is woken when the signal changes. The
    /// waiter is polled again only for another task's waker: polling it takes the signal's
    /// lock, while the task it wakes stays the same for the connection's life.
    pub(super) fn poll_until(
        &mut self,
        cx: &mut Context<'_>,
        stops: impl Fn(Stop) -> bool,
    ) -> Poll<()> {
        loop {
            if stops(self.current()) {
                return Poll::Ready(());
            }
            let Ok(changed) = self.now.has_changed() else {
                return Poll::Ready(());
            };
            if !changed {
                if self.woken.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    return Poll::Pending;
                }
                if self.changed.as_mut().poll(cx).is_pending() {
                    self.woken = Some(cx.waker().clone());
                    return Poll::Pending;
                }
            }
            // Changed (rare): wait for the change after this one.
            self.now.borrow_and_update();
            self.changed = changed_future(self.now.clone());
            self.woken = None;
        }
    }

    /// `future`'s output, or `None` when the signal says what `stops` waits for first. The
    /// future is polled first, as in a biased `select!`, but stays where it was pinned:
    /// `select!` takes its futures by value, which copies them whole.
    pub(super) async fn unless<F: Future>(
        &mut self,
        mut future: Pin<&mut F>,
        stops: impl Fn(Stop) -> bool,
    ) -> Option<F::Output> {
        std::future::poll_fn(|cx| {
            if let Poll::Ready(output) = future.as_mut().poll(cx) {
                return Poll::Ready(Some(output));
            }
            self.poll_until(cx, &stops).map(|()| None)
        })
        .await
    }

    /// Waits until the signal says what `stops` waits for (see [`StopSignal::poll_until`]).
    #[cfg(test)]
    pub(super) async fn until(&mut self, stops: impl Fn(Stop) -> bool) {
        std::future::poll_fn(|cx| self.poll_until(cx, &stops)).await
    }
}

/// Done when `receiver` sees a value newer than the one it has marked seen, or the sender
/// is gone.
fn changed_future(mut receiver: watch::Receiver<Stop>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let _ = receiver.changed().await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_on_the_awaited_word_only() {
        let (sender, receiver) = watch::channel(Stop::Run);
        let mut signal = StopSignal::new(receiver);
        let waiting = tokio::spawn(async move {
            signal.until(|stop| stop == Stop::Now).await;
            signal.current()
        });
        tokio::task::yield_now().await;
        sender.send_replace(Stop::Drain);
        tokio::task::yield_now().await;
        assert!(
            !waiting.is_finished(),
            "a drain does not end a wait for a stop"
        );
        sender.send_replace(Stop::Now);
        assert_eq!(waiting.await.unwrap(), Stop::Now);
    }

    #[tokio::test]
    async fn a_word_sent_before_is_seen_and_a_gone_listener_ends_the_wait() {
        let (sender, receiver) = watch::channel(Stop::Run);
        sender.send_replace(Stop::Drain);
        let mut signal = StopSignal::new(receiver);
        signal.until(|stop| stop != Stop::Run).await;
        drop(sender);
        signal.until(|stop| stop == Stop::Now).await;
    }
}
