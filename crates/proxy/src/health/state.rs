//! Rise and fall: how probe results in a row flip a server's checked state (HAProxy's `rise`
//! and `fall`, pingora's "N consecutive results").

/// A server's state as its active health check sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CheckState {
    /// No health check configured, or no probe has decided yet: the server takes requests.
    Unchecked,
    /// The last decision was up: the server takes requests.
    Up,
    /// `fall` probes in a row failed: the server takes no requests until `rise` pass.
    Down,
}

impl CheckState {
    /// The state as one byte, to keep it in an atomic.
    pub(crate) fn to_u8(self) -> u8 {
        match self {
            CheckState::Unchecked => 0,
            CheckState::Up => 1,
            CheckState::Down => 2,
        }
    }

    /// The inverse of [`CheckState::to_u8`].
    pub(crate) fn from_u8(byte: u8) -> Self {
        match byte {
            1 => CheckState::Up,
            2 => CheckState::Down,
            _ => CheckState::Unchecked,
        }
    }
}

/// Counts probe results of one server; owned by that server's check task.
#[derive(Debug)]
pub(crate) struct RiseFall {
    rise: u32,
    fall: u32,
    state: CheckState,
    /// Results in a row that disagree with `state`.
    streak: u32,
}

impl RiseFall {
    /// Starts from `state` (a server keeps its state when its check task is restarted by a
    /// reload); `rise` and `fall` of 0 count as 1.
    pub(crate) fn new(rise: u32, fall: u32, state: CheckState) -> Self {
        RiseFall {
            rise: rise.max(1),
            fall: fall.max(1),
            state,
            streak: 0,
        }
    }

    /// Records one probe result; returns the new state when this result changed it.
    ///
    /// An unchecked server counts as up: one success confirms it, but it takes `fall`
    /// failures to take it down, so servers are not refused before their first probes.
    #[must_use]
    pub(crate) fn record(&mut self, passed: bool) -> Option<CheckState> {
        let (agrees, needed, flipped) = match (self.state, passed) {
            (CheckState::Unchecked, true) => (false, 1, CheckState::Up),
            (CheckState::Up, true) | (CheckState::Down, false) => (true, 0, self.state),
            (CheckState::Unchecked | CheckState::Up, false) => (false, self.fall, CheckState::Down),
            (CheckState::Down, true) => (false, self.rise, CheckState::Up),
        };
        if agrees {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        if self.streak < needed {
            return None;
        }
        self.streak = 0;
        self.state = flipped;
        Some(flipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(counter: &mut RiseFall, results: &[bool]) -> Vec<Option<CheckState>> {
        results.iter().map(|&r| counter.record(r)).collect()
    }

    #[test]
    fn falls_after_fall_failures_and_rises_after_rise_successes() {
        let mut counter = RiseFall::new(2, 3, CheckState::Up);
        assert_eq!(
            run(&mut counter, &[false, false, false]),
            [None, None, Some(CheckState::Down)]
        );
        assert_eq!(
            run(&mut counter, &[true, true]),
            [None, Some(CheckState::Up)]
        );
    }

    #[test]
    fn an_interrupted_streak_starts_over() {
        let mut counter = RiseFall::new(2, 3, CheckState::Up);
        assert_eq!(
            run(&mut counter, &[false, false, true, false, false]),
            [None; 5]
        );
        assert_eq!(counter.record(false), Some(CheckState::Down));
        assert_eq!(run(&mut counter, &[true, false, true]), [None, None, None]);
        assert_eq!(counter.record(true), Some(CheckState::Up));
    }

    #[test]
    fn unchecked_is_confirmed_by_one_success_but_needs_fall_failures() {
        let mut counter = RiseFall::new(5, 2, CheckState::Unchecked);
        assert_eq!(counter.record(true), Some(CheckState::Up));
        let mut counter = RiseFall::new(5, 2, CheckState::Unchecked);
        assert_eq!(
            run(&mut counter, &[false, false]),
            [None, Some(CheckState::Down)]
        );
    }

    #[test]
    fn zero_counts_as_one() {
        let mut counter = RiseFall::new(0, 0, CheckState::Up);
        assert_eq!(counter.record(false), Some(CheckState::Down));
        assert_eq!(counter.record(true), Some(CheckState::Up));
    }

    #[test]
    fn state_survives_a_byte() {
        for state in [CheckState::Unchecked, CheckState::Up, CheckState::Down] {
            assert_eq!(CheckState::from_u8(state.to_u8()), state);
        }
    }
}
