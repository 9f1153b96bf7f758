//! The instance's timers: a fixed table of deadlines, the earliest of which is the next
//! time the driver must call `handle_timeout`.

use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// Master: time to send the next advertisement (RFC 5798 §6.2 Adver_Timer).
    Adver,
    /// Backup: the master is presumed dead when this fires (§6.2 Master_Down_Timer).
    MasterDown,
    /// Backup: end of preempt_delay, after which a lower-priority master is preempted.
    PreemptDelay,
    /// Master: the next gratuitous ARP / NA burst (garp_master_delay / garp_master_refresh).
    Announce,
    /// Master: the delayed burst after a lower-priority advert (garp_lower_prio_delay).
    LowerPriorityAnnounce,
}

impl Timer {
    const ALL: [Timer; 5] = [
        Timer::Adver,
        Timer::MasterDown,
        Timer::PreemptDelay,
        Timer::Announce,
        Timer::LowerPriorityAnnounce,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Default, Clone)]
pub(super) struct Timers([Option<Instant>; Timer::ALL.len()]);

impl Timers {
    pub(super) fn set(&mut self, timer: Timer, at: Instant) {
        self.0[timer.index()] = Some(at);
    }

    pub(super) fn stop(&mut self, timer: Timer) {
        self.0[timer.index()] = None;
    }

    pub(super) fn stop_all(&mut self) {
        self.0 = Default::default();
    }

    pub(super) fn get(&self, timer: Timer) -> Option<Instant> {
        self.0[timer.index()]
    }

    /// Stops and returns the earliest timer due at `now`, if any.
    /// Of timers due at the same instant, the first in [`Timer::ALL`].
    pub(super) fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        // A plain scan of the table: this runs twice per advert a Master sends.
        let mut earliest: Option<(usize, Instant)> = None;
        for (index, deadline) in self.0.iter().enumerate() {
            if let Some(at) = *deadline
                && at <= now
                && earliest.is_none_or(|(_, first)| at < first)
            {
                earliest = Some((index, at));
            }
        }
        let (index, _) = earliest?;
        self.0[index] = None;
        Some(Timer::ALL[index])
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }
}
