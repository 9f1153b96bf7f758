//! What an operator decided about a server at run time (HAProxy's `set server ... state`
//! and `set server ... weight`): its admin state and a weight that replaces the configured
//! one. Kept in the server's run-time state, so a reload that keeps the server keeps both.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};

/// Whether an operator lets a server take requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum AdminState {
    /// Normal: the server takes requests when its health allows.
    #[default]
    Ready,
    /// No new requests; requests in flight finish; health checks go on.
    Drain,
    /// No new requests, and health checks paused (maintenance). Requests in flight finish.
    Maintenance,
}

impl AdminState {
    /// `ready`, `drain` or `maint`, as HAProxy and `baton status` name them.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminState::Ready => "ready",
            AdminState::Drain => "drain",
            AdminState::Maintenance => "maint",
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            AdminState::Ready => 0,
            AdminState::Drain => 1,
            AdminState::Maintenance => 2,
        }
    }

    fn from_u8(byte: u8) -> Self {
        match byte {
            1 => AdminState::Drain,
            2 => AdminState::Maintenance,
            _ => AdminState::Ready,
        }
    }
}

impl fmt::Display for AdminState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// No server of the proxy has this address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no server {0}")]
pub struct UnknownServer(pub SocketAddr);

/// One server's operator decisions.
#[derive(Debug, Default)]
pub(crate) struct Admin {
    state: AtomicU8,
    /// The run-time weight, with the configured weight it replaced: it lasts until the
    /// configuration gives the server another weight.
    weight: Mutex<Option<Override>>,
}

#[derive(Debug, Clone, Copy)]
struct Override {
    configured: u32,
    weight: u32,
}

impl Admin {
    pub(crate) fn state(&self) -> AdminState {
        AdminState::from_u8(self.state.load(Relaxed))
    }

    /// Sets the state and returns the previous one.
    pub(crate) fn set_state(&self, state: AdminState) -> AdminState {
        AdminState::from_u8(self.state.swap(state.to_u8(), Relaxed))
    }

    /// Replaces the configured weight `configured` by `weight`.
    pub(crate) fn set_weight(&self, configured: u32, weight: u32) {
        *self.lock() = Some(Override { configured, weight });
    }

    /// The weight to balance with when the configuration says `configured`: the run-time
    /// weight while the configuration still says what it said when that was set.
    pub(crate) fn weight_for(&self, configured: u32) -> u32 {
        let mut slot = self.lock();
        match *slot {
            Some(o) if o.configured == configured => o.weight,
            Some(_) => {
                *slot = None;
                configured
            }
            None => configured,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Override>> {
        self.weight.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_time_weight_lasts_until_the_configured_one_changes() {
        let admin = Admin::default();
        assert_eq!(admin.weight_for(3), 3);
        admin.set_weight(3, 7);
        assert_eq!(admin.weight_for(3), 7);
        assert_eq!(
            admin.weight_for(3),
            7,
            "a reload with the same weight keeps it"
        );
        assert_eq!(admin.weight_for(5), 5, "a new configured weight wins");
        assert_eq!(admin.weight_for(3), 3, "and the run-time one is forgotten");
    }

    #[test]
    fn states_round_trip() {
        let admin = Admin::default();
        assert_eq!(admin.state(), AdminState::Ready);
        for state in [
            AdminState::Drain,
            AdminState::Maintenance,
            AdminState::Ready,
        ] {
            let before = admin.state();
            assert_eq!(admin.set_state(state), before);
            assert_eq!(admin.state(), state);
        }
        assert_eq!(AdminState::Maintenance.to_string(), "maint");
    }
}
