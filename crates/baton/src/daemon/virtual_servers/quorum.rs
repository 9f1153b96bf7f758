//! keepalived's quorum for one virtual server, with hysteresis (`update_quorum_state` in
//! keepalived's `ipwrapper.c`): the service is up while the weights of its live real servers
//! add up to `quorum`, and `hysteresis` keeps it from flapping around that line.

/// Whether a virtual server has quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quorum {
    quorum: u32,
    hysteresis: u32,
    up: bool,
}

impl Quorum {
    /// The state at start: up only when `live_weight` clears `quorum + hysteresis`, as
    /// keepalived's `set_quorum_states` decides it.
    pub(crate) fn new(quorum: u32, hysteresis: u32, live_weight: u64) -> Quorum {
        Quorum {
            quorum,
            hysteresis,
            up: live_weight >= u64::from(quorum) + u64::from(hysteresis),
        }
    }

    pub(crate) fn is_up(&self) -> bool {
        self.up
    }

    /// Takes the new sum of live weights; `Some(up)` when the state changed.
    ///
    /// Up is lost below `quorum - hysteresis` (or at zero weight, whatever the settings);
    /// down is left at `quorum + hysteresis`.
    pub(crate) fn update(&mut self, live_weight: u64) -> Option<bool> {
        let quorum = u64::from(self.quorum);
        let hysteresis = u64::from(self.hysteresis);
        if self.up {
            let threshold = quorum.saturating_sub(hysteresis);
            if live_weight == 0 || live_weight < threshold {
                self.up = false;
                return Some(false);
            }
        } else if live_weight >= quorum + hysteresis {
            self.up = true;
            return Some(true);
        }
        None
    }

    /// `quorum - hysteresis` while up, `quorum + hysteresis` while down: the line the next
    /// change crosses, for log lines.
    pub(crate) fn threshold(&self) -> u64 {
        let quorum = u64::from(self.quorum);
        let hysteresis = u64::from(self.hysteresis);
        if self.up {
            quorum.saturating_sub(hysteresis)
        } else {
            quorum + hysteresis
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_up_only_above_quorum_plus_hysteresis() {
        assert!(Quorum::new(2, 1, 3).is_up());
        assert!(!Quorum::new(2, 1, 2).is_up());
        assert!(Quorum::new(1, 0, 1).is_up());
        assert!(!Quorum::new(1, 0, 0).is_up());
    }

    #[test]
    fn hysteresis_keeps_the_state_between_the_two_lines() {
        let mut q = Quorum::new(4, 1, 5);
        assert!(q.is_up());
        assert_eq!(q.update(4), None, "4 >= 4 - 1: still up");
        assert_eq!(q.update(3), None, "3 >= 3: still up");
        assert_eq!(q.threshold(), 3);
        assert_eq!(q.update(2), Some(false));
        assert_eq!(q.threshold(), 5);
        assert_eq!(q.update(4), None, "4 < 4 + 1: still down");
        assert_eq!(q.update(5), Some(true));
    }

    #[test]
    fn zero_weight_is_down_even_with_a_large_hysteresis() {
        let mut q = Quorum::new(1, 5, 10);
        assert_eq!(q.update(1), None);
        assert_eq!(q.update(0), Some(false));
    }
}
