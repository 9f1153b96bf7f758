//! What one session is configured with: keepalived's `bfd_instance` timers.

use std::time::Duration;

/// The local side of a session. keepalived's defaults: [`SessionConfig::default`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// bfd.DesiredMinTxInterval while Up (`min_tx`).
    pub desired_min_tx: Duration,
    /// bfd.RequiredMinRxInterval (`min_rx`).
    pub required_min_rx: Duration,
    /// bfd.DesiredMinTxInterval while not Up (`idle_tx`). RFC 5880 6.8.3 wants at least one
    /// second there, which keepalived enforces as the least `idle_tx`.
    pub idle_tx: Duration,
    /// bfd.DetectMult (`multiplier`).
    pub detect_mult: u8,
    /// RFC 5880 6.1's passive role (`passive`): send nothing until the peer has spoken.
    pub passive: bool,
}

impl Default for SessionConfig {
    /// keepalived 2.2.7's: 10 ms, 10 ms, 1 s idle, multiplier 5, active.
    fn default() -> SessionConfig {
        SessionConfig {
            desired_min_tx: Duration::from_millis(10),
            required_min_rx: Duration::from_millis(10),
            idle_tx: Duration::from_secs(1),
            detect_mult: 5,
            passive: false,
        }
    }
}

/// A configuration no session can run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("detect multiplier must be at least 1")]
    ZeroDetectMult,
    #[error("{what} must be between 1 microsecond and 4294.967295 seconds")]
    Interval { what: &'static str },
}

impl SessionConfig {
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if self.detect_mult == 0 {
            return Err(ConfigError::ZeroDetectMult);
        }
        let most = Duration::from_micros(u64::from(u32::MAX));
        for (what, value) in [
            ("min_tx", self.desired_min_tx),
            ("min_rx", self.required_min_rx),
            ("idle_tx", self.idle_tx),
        ] {
            if value < Duration::from_micros(1) || value > most {
                return Err(ConfigError::Interval { what });
            }
        }
        Ok(())
    }
}
