//! What instances and sync groups track: the `vrrp_script` and `track_file` objects, and the
//! references to tracked objects (interfaces, scripts, files, frontends, virtual servers)
//! as written, with their weights.

use std::path::PathBuf;
use std::time::Duration;

use super::ScriptUser;
use crate::diagnostic::{Location, WrittenAt};

/// keepalived's `vrrp_script`: a command run every `interval`, tracked by instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackScript {
    pub name: String,
    /// Program and arguments, split the way keepalived splits `script "..."`.
    pub argv: Vec<String>,
    /// Default 1 s.
    pub interval: Duration,
    /// A run that takes longer has failed. Default: the interval.
    pub timeout: Duration,
    /// Default weight for instances that track the script without giving one (-253..=253,
    /// default 0: failure puts the instance in FAULT).
    pub weight: i32,
    /// `weight W reverse`: the default of its trackers' `reverse` (see
    /// [`Track::reverse`](crate::Track::reverse)).
    pub reverse: bool,
    /// Consecutive successes before a failed script counts as up again (default 1).
    pub rise: u32,
    /// Consecutive failures before the script counts as down (default 1).
    pub fall: u32,
    /// `None`: [`Global::script_user`](crate::Global::script_user).
    pub user: Option<ScriptUser>,
    /// Assume failure until the first run says otherwise.
    pub init_fail: bool,
    pub location: WrittenAt,
}

/// keepalived's `track_file` (`vrrp_track_file`): a file holding a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackFile {
    pub name: String,
    pub path: PathBuf,
    /// Default weight for trackers that give none (default 1). With weight 0 a non-zero
    /// value is a failure; otherwise the value times the weight is added to the priority.
    pub weight: i32,
    /// `weight W reverse`: the default of its trackers' `reverse` (see
    /// [`Track::reverse`](crate::Track::reverse)).
    pub reverse: bool,
    /// `init_file`: create the file at startup.
    pub init_file: Option<InitFile>,
    pub location: WrittenAt,
}

/// `init_file [VALUE] [overwrite]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitFile {
    /// Written at startup (default 0).
    pub value: i64,
    /// Write even if the file exists.
    pub overwrite: bool,
}

/// An entry of `track_interface`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInterface {
    pub name: String,
    /// -253..=253; 0: down means FAULT.
    pub weight: i32,
    /// `weight W reverse` (see [`Track::reverse`](crate::Track::reverse)).
    pub reverse: bool,
    pub location: WrittenAt,
}

impl TrackInterface {
    /// A tracked interface as written, without `reverse`.
    pub fn new(name: String, weight: i32, location: Location) -> TrackInterface {
        TrackInterface {
            name,
            weight,
            reverse: false,
            location: location.into(),
        }
    }
}

/// An entry of `track_script`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackScriptRef {
    pub name: String,
    /// Overrides the script's own weight (-253..=253).
    pub weight: Option<i32>,
    /// `reverse` / `noreverse` after the weight; `None`: the script's own.
    pub reverse: Option<bool>,
    pub location: WrittenAt,
}

/// An entry of `track_file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackFileRef {
    pub name: String,
    /// Overrides the file's own weight (-254..=254).
    pub weight: Option<i32>,
    /// `reverse` / `noreverse` after the weight; `None`: the file's own.
    pub reverse: Option<bool>,
    pub location: WrittenAt,
}

/// An entry of `track_frontend`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackFrontend {
    /// A [`Frontend`](crate::Frontend) by name.
    pub name: String,
    /// -253..=253; 0: down means FAULT.
    pub weight: i32,
    pub location: WrittenAt,
}

/// An entry of `track_virtual_server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackVirtualServer {
    /// A [`crate::VirtualServer`] by name.
    pub name: String,
    /// -253..=253; 0: down means FAULT.
    pub weight: i32,
    pub location: WrittenAt,
}
