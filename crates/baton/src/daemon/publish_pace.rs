//! How often the status is published while only the counters change.
//!
//! Every advertisement sent or received bumps a counter in the status (`adverts_sent`,
//! `adverts_received`, drops). Building the status and waking its readers (the control
//! socket, the admin page, conn_sync, the virtual servers) after each one cost more than
//! the advertisement itself, and grows with the number of instances: with 100 instances at
//! 10 ms that is 10,000 publications a second of 100 instances each. So an input that
//! changes counters alone is published only once [`COUNTERS_EVERY`] passed since the last
//! publication; anything the engine reports (a state, a priority, an address to add or
//! remove) is published at once, as before. Counters held back go out with the next input,
//! or when no input comes, twice [`COUNTERS_EVERY`] after the last publication: the
//! protocol loop wakes for that then, and not sooner, so adverts every 10 ms cost no
//! wake-up of its own.

use std::time::{Duration, Instant};

/// How long counters may wait for the next input before they are published (at most
/// twice this when no input comes).
pub(crate) const COUNTERS_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, Default)]
pub(crate) struct Pace {
    /// When the status was last published.
    last: Option<Instant>,
    /// When counters not published yet must be.
    due: Option<Instant>,
}

impl Pace {
    /// An input changed counters only: true if they are to be published now; otherwise
    /// they are due at the latest twice [`COUNTERS_EVERY`] after the last publication
    /// (see [`Pace::due`]).
    pub(crate) fn counters_changed(&mut self, now: Instant) -> bool {
        match self.last {
            Some(last) if now < last + COUNTERS_EVERY => {
                self.due.get_or_insert(last + 2 * COUNTERS_EVERY);
                false
            }
            _ => true,
        }
    }

    pub(crate) fn published(&mut self, now: Instant) {
        self.last = Some(now);
        self.due = None;
    }

    /// When the protocol loop must wake to publish counters it held back.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_go_out_at_most_every_interval_and_at_the_latest_then() {
        let start = Instant::now();
        let mut pace = Pace::default();
        assert!(pace.counters_changed(start), "nothing published yet");
        pace.published(start);
        let soon = start + Duration::from_millis(10);
        assert!(COUNTERS_EVERY > Duration::from_millis(20));
        assert!(!pace.counters_changed(soon));
        assert_eq!(pace.due(), Some(start + 2 * COUNTERS_EVERY));
        assert!(!pace.counters_changed(soon + Duration::from_millis(10)));
        assert_eq!(
            pace.due(),
            Some(start + 2 * COUNTERS_EVERY),
            "not pushed back"
        );
        assert!(pace.counters_changed(start + COUNTERS_EVERY));
        pace.published(start + COUNTERS_EVERY);
        assert_eq!(pace.due(), None);
    }

    #[test]
    fn a_publication_for_another_reason_takes_the_counters_along() {
        let start = Instant::now();
        let mut pace = Pace::default();
        pace.published(start);
        assert!(!pace.counters_changed(start + Duration::from_millis(5)));
        pace.published(start + Duration::from_millis(6));
        assert_eq!(pace.due(), None);
    }
}
