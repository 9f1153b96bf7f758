//! keepalived's `rise` / `fall`: a tracked script changes state only after that many
//! consecutive results the other way, so one slow run does not move a VIP.

#[derive(Debug, Clone)]
pub(crate) struct RiseFall {
    rise: u32,
    fall: u32,
    up: bool,
    streak: u32,
}

impl RiseFall {
    pub(crate) fn new(rise: u32, fall: u32, initially_up: bool) -> RiseFall {
        RiseFall {
            rise: rise.max(1),
            fall: fall.max(1),
            up: initially_up,
            streak: 0,
        }
    }

    /// Records one result; returns the new state when it changed.
    pub(crate) fn record(&mut self, success: bool) -> Option<bool> {
        if success == self.up {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let needed = if success { self.rise } else { self.fall };
        if self.streak < needed {
            return None;
        }
        self.up = success;
        self.streak = 0;
        Some(self.up)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_only_after_enough_consecutive_results() {
        let mut state = RiseFall::new(2, 3, true);
        assert_eq!(state.record(false), None);
        assert_eq!(state.record(false), None);
        assert_eq!(
            state.record(true),
            None,
            "a success resets the failure streak"
        );
        assert_eq!(state.record(false), None);
        assert_eq!(state.record(false), None);
        assert_eq!(state.record(false), Some(false));
        assert_eq!(state.record(true), None);
        assert_eq!(state.record(true), Some(true));
        assert_eq!(state.record(true), None, "already up");
    }

    #[test]
    fn zero_counts_mean_one() {
        let mut state = RiseFall::new(0, 0, false);
        assert_eq!(state.record(true), Some(true));
        assert_eq!(state.record(false), Some(false));
    }
}
