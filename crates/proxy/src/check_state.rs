//! A server's state as its active health check sees it; baton-health's `Tracker` decides
//! it (HAProxy's `rise` and `fall`), the server keeps it in an atomic.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_survives_a_byte() {
        for state in [CheckState::Unchecked, CheckState::Up, CheckState::Down] {
            assert_eq!(CheckState::from_u8(state.to_u8()), state);
        }
    }
}
