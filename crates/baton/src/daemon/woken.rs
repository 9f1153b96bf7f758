//! Inputs polled only when one of them was woken.
//!
//! The protocol task wakes for every advert (every 10 ms at the fastest, per instance) and
//! then polls whatever it waits on. Most of it (signals, control requests, track events,
//! the reload schedule, virtual server events) is ready a few times a day, yet a `select!`
//! polls every branch on every wake-up, and a second time before the task sleeps again:
//! with adverts every 10 ms that was a quarter of the daemon's instructions per advert.
//!
//! A [`Woken`] stands between the task and such a group of inputs, as `FuturesUnordered`
//! does for its members: the inputs are polled with the group's own waker, and polled again
//! only once that waker was woken (one of them became ready) or [`Woken::wake`] said so.
//! What an input does with its waker must last past the poll that registered it (a channel's
//! receiver, a signal stream, an `Interval`, a socket's readiness): a future dropped after
//! one poll that takes its registration with it (a `Notified`, a `Sleep` made anew) is never
//! polled again unless the owner calls [`Woken::wake`] when it may be ready.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// A group of inputs and the waker they are polled with.
#[derive(Debug)]
pub(crate) struct Woken {
    flag: Arc<Flag>,
    waker: Waker,
}

#[derive(Debug, Default)]
struct Flag {
    /// Woken since the group was polled last.
    woken: AtomicBool,
    /// The task that polls the group.
    task: Mutex<Option<Waker>>,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(task) = task.as_ref() {
            task.wake_by_ref();
        }
    }
}

impl Woken {
    /// A group polled at its first [`Woken::poll`].
    pub(crate) fn new() -> Woken {
        let flag = Arc::new(Flag::default());
        flag.woken.store(true, Ordering::Relaxed);
        Woken {
            waker: Waker::from(Arc::clone(&flag)),
            flag,
        }
    }

    /// Polls the group with `poll` if it was woken since the last time, else `Pending` at the
    /// cost of a flag; either way the task behind `cx` is woken when the group is. A group
    /// that was ready is polled again next time (what was ready may have more).
    pub(crate) fn poll<T>(
        &self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        {
            let mut task = self
                .flag
                .task
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !task.as_ref().is_some_and(|task| task.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        if !self.flag.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        let polled = poll(&mut Context::from_waker(&self.waker));
        if polled.is_ready() {
            self.flag.woken.store(true, Ordering::Release);
        }
        polled
    }

    /// The group is polled at the next [`Woken::poll`]: one of its inputs may be ready
    /// without having woken it (it was replaced, or it registers anew at every poll).
    pub(crate) fn wake(&self) {
        self.flag.woken.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};
    use std::sync::atomic::AtomicUsize;

    /// A waker that counts its wake-ups.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn polls_the_group_only_when_woken() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let task = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&task);
        let group = Woken::new();
        let polls = Cell::new(0);
        let inner = RefCell::new(None);
        let poll = |cx: &mut Context<'_>| {
            polls.set(polls.get() + 1);
            *inner.borrow_mut() = Some(cx.waker().clone());
            Poll::<()>::Pending
        };
        assert!(group.poll(&mut cx, poll).is_pending());
        assert!(group.poll(&mut cx, poll).is_pending());
        assert_eq!(polls.get(), 1, "polled again without a wake-up");
        let woken = inner.borrow_mut().take();
        woken.expect("polled with the group's waker").wake();
        assert_eq!(count.0.load(Ordering::Relaxed), 1, "the task was not woken");
        assert!(group.poll(&mut cx, poll).is_pending());
        assert_eq!(polls.get(), 2, "not polled after a wake-up");
        group.wake();
        assert!(group.poll(&mut cx, poll).is_pending());
        assert_eq!(polls.get(), 3, "not polled after Woken::wake");
    }

    #[test]
    fn a_group_that_was_ready_is_polled_again() {
        let task = Waker::from(Arc::new(Count(AtomicUsize::new(0))));
        let mut cx = Context::from_waker(&task);
        let group = Woken::new();
        let ready = Cell::new(2);
        let poll = |_: &mut Context<'_>| {
            if ready.get() > 0 {
                ready.set(ready.get() - 1);
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        };
        assert!(group.poll(&mut cx, poll).is_ready());
        assert!(group.poll(&mut cx, poll).is_ready());
        assert!(group.poll(&mut cx, poll).is_pending());
    }
}
