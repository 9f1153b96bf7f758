//! A timer for one side of a transfer that has gone quiet: armed when that side had
//! nothing to give (or no room to take), and only then, so that the other side's slowness
//! never counts against it.

use std::future::Future as _;
use std::pin::Pin;
use std::task::Context;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// How long a side has been silent; see the module doc. The timer is allocated on the
/// first silence only, and reset (not reallocated) for each one after.
#[derive(Debug)]
pub(crate) struct Silence {
    pub(crate) limit: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    waiting: bool,
}

impl Silence {
    pub(crate) fn new(limit: Duration) -> Self {
        Silence {
            limit,
            timer: None,
            waiting: false,
        }
    }

    /// The side gave (or took) something: the silence is over.
    pub(crate) fn ended(&mut self) {
        self.waiting = false;
    }

    /// The side had nothing: true once it has had nothing for `limit`. Arms the timer when
    /// this silence has just begun, and registers `cx` with it.
    pub(crate) fn goes_on(&mut self, cx: &mut Context<'_>) -> bool {
        let deadline = Instant::now() + self.limit;
        let timer = match (&mut self.timer, self.waiting) {
            (Some(timer), true) => timer,
            (Some(timer), false) => {
                timer.as_mut().reset(deadline);
                timer
            }
            (None, _) => self
                .timer
                .insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        self.waiting = true;
        timer.as_mut().poll(cx).is_ready()
    }
}
