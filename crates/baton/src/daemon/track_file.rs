//! keepalived's `track_file`: a file holding an integer, re-read when it may have changed.
//! A missing or unreadable file reads as a failure, like keepalived.

use std::path::PathBuf;
use std::time::Duration;

use baton_vrrp::TrackStatus;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How often the file is read; keepalived uses inotify, a half-second poll is simpler and
/// well inside any advert interval that makes sense with track files.
const POLL: Duration = Duration::from_millis(500);

/// What the file says, for one tracker with engine weight `weight` (already negated when
/// `reverse`: see `baton_config::Track::reverse`).
pub(crate) fn status(contents: Option<&str>, weight: i32, reverse: bool) -> TrackStatus {
    let value = contents.and_then(|text| text.trim().parse::<i64>().ok());
    match (value, weight) {
        (None, 0) => TrackStatus::Down,
        // keepalived reads an unreadable file as 0: no offset either way. baton counts it as
        // a failure where a weight says what failure costs; a reversed weight has no failure
        // side, so it goes by keepalived's 0.
        (None, _) if reverse => TrackStatus::Offset(0),
        (None, _) => TrackStatus::Down,
        // keepalived's weight 0: a non-zero value is FAULT; reversed, a value of 0 is.
        (Some(value), 0) => TrackStatus::from((value == 0) != reverse),
        (Some(value), weight) => {
            let offset = value.saturating_mul(i64::from(weight));
            TrackStatus::Offset(i32::try_from(offset.clamp(-254, 254)).unwrap_or(-254))
        }
    }
}

/// keepalived's `init_file`: the value the file starts with, written before it is first
/// read (only when it is missing, unless `overwrite`).
pub(crate) fn write_init_file(file: &baton_config::TrackFile) {
    if let Some(init) = &file.init_file {
        if init.overwrite || !file.path.exists() {
            if let Err(error) = std::fs::write(&file.path, format!("{}\n", init.value)) {
                tracing::error!(file = %file.path.display(), "init_file: {error}");
            }
        }
    }
}

/// Reads `path` now and on every change, sending its raw contents (`None` when unreadable).
pub(crate) fn spawn_watch(
    path: PathBuf,
    updates: mpsc::UnboundedSender<Option<String>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut last: Option<Option<String>> = None;
        loop {
            let contents = tokio::fs::read_to_string(&path).await.ok();
            if last.as_ref() != Some(&contents) {
                if updates.send(contents.clone()).is_err() {
                    return;
                }
                last = Some(contents);
            }
            tokio::time::sleep(POLL).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_keepalived() {
        assert_eq!(status(Some("0\n"), 0, false), TrackStatus::Up);
        assert_eq!(status(Some("3"), 0, false), TrackStatus::Down);
        assert_eq!(status(Some(" 5 "), -10, false), TrackStatus::Offset(-50));
        assert_eq!(status(Some("1000"), -10, false), TrackStatus::Offset(-254));
        assert_eq!(status(Some("garbage"), 1, false), TrackStatus::Down);
        assert_eq!(status(None, 1, false), TrackStatus::Down);
    }

    #[test]
    fn reversed_weights_follow_keepalived() {
        // weight 0 reverse: FAULT while the value is 0, up otherwise.
        assert_eq!(status(Some("0"), 0, true), TrackStatus::Down);
        assert_eq!(status(Some("3"), 0, true), TrackStatus::Up);
        assert_eq!(status(None, 0, true), TrackStatus::Down);
        // weight 10 reverse is engine weight -10: the value lowers the priority.
        assert_eq!(status(Some("2"), -10, true), TrackStatus::Offset(-20));
        assert_eq!(status(Some("-2"), -10, true), TrackStatus::Offset(20));
        assert_eq!(status(None, -10, true), TrackStatus::Offset(0));
    }
}
