//! A `track_file` as read, and the [`TrackFile`] it resolves into.

use std::path::PathBuf;

use crate::diagnostic::{Diagnostics, Location};
use crate::model::{InitFile, TrackFile};

#[derive(Debug)]
pub(crate) struct TrackFileDraft {
    pub(crate) name: String,
    pub(crate) location: Location,
    pub(crate) path: Option<PathBuf>,
    /// `file` was written, valid or not.
    pub(crate) path_given: bool,
    pub(crate) weight: Option<i32>,
    /// `weight N reverse`.
    pub(crate) reverse: bool,
    pub(crate) init_file: Option<InitFile>,
}

pub(super) fn resolve_track_file(f: TrackFileDraft, d: &mut Diagnostics) -> Option<TrackFile> {
    let Some(path) = f.path else {
        if !f.path_given {
            d.error(
                &f.location,
                format!("track file {}: no 'file' to read", f.name),
            );
        }
        return None;
    };
    Some(TrackFile {
        name: f.name,
        path,
        weight: f.weight.unwrap_or(1),
        reverse: f.reverse,
        init_file: f.init_file,
        location: f.location.into(),
    })
}
