//! A `vrrp_script` as read, and the [`TrackScript`] it resolves into.

use std::time::Duration;

use crate::diagnostic::{Diagnostics, Location};
use crate::model::{ScriptUser, TrackScript};

#[derive(Debug)]
pub(crate) struct ScriptDraft {
    pub(crate) name: String,
    pub(crate) location: Location,
    pub(crate) argv: Option<Vec<String>>,
    /// `script` was written, valid or not.
    pub(crate) argv_given: bool,
    pub(crate) interval: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) weight: Option<i32>,
    /// `weight N reverse`.
    pub(crate) reverse: bool,
    pub(crate) rise: Option<u32>,
    pub(crate) fall: Option<u32>,
    pub(crate) user: Option<ScriptUser>,
    pub(crate) init_fail: bool,
}

impl ScriptDraft {
    pub(crate) fn new(name: String, location: Location) -> ScriptDraft {
        ScriptDraft {
            name,
            location,
            argv: None,
            argv_given: false,
            interval: None,
            timeout: None,
            weight: None,
            reverse: false,
            rise: None,
            fall: None,
            user: None,
            init_fail: false,
        }
    }
}

pub(super) fn resolve_script(s: ScriptDraft, d: &mut Diagnostics) -> Option<TrackScript> {
    let Some(argv) = s.argv else {
        if !s.argv_given {
            d.error(
                &s.location,
                format!("script {}: no 'script' to run", s.name),
            );
        }
        return None;
    };
    let interval = s.interval.unwrap_or(Duration::from_secs(1));
    Some(TrackScript {
        name: s.name,
        argv,
        interval,
        timeout: s.timeout.unwrap_or(interval),
        weight: s.weight.unwrap_or(0),
        reverse: s.reverse,
        rise: s.rise.unwrap_or(1),
        fall: s.fall.unwrap_or(1),
        user: s.user,
        init_fail: s.init_fail,
        location: s.location.into(),
    })
}
