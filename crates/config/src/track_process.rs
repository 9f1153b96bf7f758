//! keepalived's `vrrp_track_process`: how many processes of a name run, and the `track_process`
//! entries of instances and sync groups that follow it (keepalived 2.2.7 `vrrp_parser.c`,
//! `vrrp_track.c`, `core/track_process.c`; keepalived.conf(5) "VRRP track process").

use std::time::Duration;

use crate::diagnostic::{Location, WrittenAt};

/// keepalived's range for a `vrrp_track_process` weight and a `track_process` entry's.
pub(crate) const WEIGHT: i64 = 254;
/// keepalived's range for `quorum` (`quorum_max` starts at 0).
pub(crate) const QUORUM_MAX: u32 = 65535;
/// keepalived's range for `delay`, `fork_delay` and `terminate_delay`.
pub(crate) const DELAY_MAX: Duration = Duration::from_secs(3600);

/// How a process's parameters must match the configured ones (`param_match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ParamMatch {
    /// No parameters configured and no `param_match`: any parameters.
    #[default]
    Any,
    /// Exactly these parameters (the default once parameters are given); with none
    /// configured, the process must have none.
    Exact,
    /// `param_match initial`: the configured parameters come first; the last configured one
    /// may be the start of a longer one.
    Initial,
    /// `param_match partial`: the configured parameters come first, each matching whole;
    /// more may follow.
    Partial,
}

/// A `vrrp_track_process NAME { ... }` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackProcess {
    pub name: String,
    /// `process NAME`: compared whole (no pattern) with the process name (`/proc/PID/comm`,
    /// at most 15 bytes) or, with [`full_command`](Self::full_command), with argv\[0\].
    pub process: String,
    /// `process NAME PARAM...`: matched against argv\[1..\] by [`param_match`](Self::param_match).
    pub params: Vec<String>,
    pub param_match: ParamMatch,
    /// Match argv (`/proc/PID/cmdline`) rather than the process name; implied by parameters
    /// and by `param_match`.
    pub full_command: bool,
    /// -254..=254, default 0: no quorum means FAULT. Positive: added while the quorum holds;
    /// negative: added while it does not.
    pub weight: i32,
    /// `weight W reverse`: the quorum counts the other way (weight 0 reverse: FAULT while
    /// the quorum holds).
    pub reverse: bool,
    /// The fewest matching processes that are a quorum (default 1; 0 with `quorum_max 0`).
    pub quorum: u32,
    /// The most (default unlimited, `u32::MAX`).
    pub quorum_max: u32,
    /// `fork_delay` (or `delay`): a quorum gained by a fork counts after this long.
    pub fork_delay: Option<Duration>,
    /// `terminate_delay` (or `delay`): a quorum lost by an exit counts after this long.
    pub terminate_delay: Option<Duration>,
    pub location: WrittenAt,
}

impl TrackProcess {
    /// A block with keepalived's defaults (`alloc_vrrp_process`).
    pub(crate) fn new(name: String, location: Location) -> TrackProcess {
        TrackProcess {
            name,
            process: String::new(),
            params: Vec::new(),
            param_match: ParamMatch::Any,
            full_command: false,
            weight: 0,
            reverse: false,
            quorum: 1,
            quorum_max: u32::MAX,
            fork_delay: None,
            terminate_delay: None,
            location: location.into(),
        }
    }

    /// Whether `count` matching processes are a quorum.
    pub fn has_quorum(&self, count: u32) -> bool {
        (self.quorum..=self.quorum_max).contains(&count)
    }
}

/// An entry of `track_process` in an instance or sync group: `NAME [weight W [reverse]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackProcessRef {
    pub name: String,
    /// Overrides the block's weight (-254..=254).
    pub weight: Option<i32>,
    /// `reverse` / `noreverse` after the weight; `None`: the block's own.
    pub reverse: Option<bool>,
    pub location: WrittenAt,
}
