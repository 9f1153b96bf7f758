//! RFC 5798 §6.4.3 has a Master answer some adverts at once: a priority-0 advert, and one
//! of lower priority from a router that believes it is Master. Anyone on the link can send
//! those, so the answers are bounded: at most one per Advertisement_Interval besides the
//! regular adverts (which the Adver_Timer keeps sending whatever happens here). An answer
//! is multicast to every rival at once, so a real rival still hears us within a round trip
//! or, at worst, at our next regular advert.

use std::time::Instant;

use super::Instance;
use super::timers::Timer;

/// When the last immediate answer went out.
#[derive(Debug, Default)]
pub(super) struct Answers {
    last: Option<Instant>,
}

impl Instance {
    /// "Send an ADVERTISEMENT; Reset the Adver_Timer to Advertisement_Interval", unless an
    /// answer went out less than an Advertisement_Interval ago (counted, not sent).
    pub(super) fn answer(&mut self, now: Instant) {
        let interval = self.config.advert_interval;
        let recently = self
            .answers
            .last
            .is_some_and(|at| now.saturating_duration_since(at) < interval);
        if recently {
            self.stats.answers_rate_limited += 1;
            return;
        }
        self.answers.last = Some(now);
        self.send_advert(self.effective_priority);
        self.timers.set(Timer::Adver, now + interval);
    }
}
