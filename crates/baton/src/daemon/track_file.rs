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

/// What the file says, for one tracker with engine weight `weight`.
pub(crate) fn status(contents: Option<&str>, weight: i32) -> TrackStatus {
    let value = contents.and_then(|text| text.trim().parse::<i64>().ok());
    match (value, weight) {
        (None, _) => TrackStatus::Down,
        (Some(0), 0) => TrackStatus::Up,
        (Some(_), 0) => TrackStatus::Down,
        (Some(value), weight) => {
            let offset = value.saturating_mul(i64::from(weight));
            TrackStatus::Offset(i32::try_from(offset.clamp(-254, 254)).unwrap_or(-254))
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
        assert_eq!(status(Some("0\n"), 0), TrackStatus::Up);
        assert_eq!(status(Some("3"), 0), TrackStatus::Down);
        assert_eq!(status(Some(" 5 "), -10), TrackStatus::Offset(-50));
        assert_eq!(status(Some("1000"), -10), TrackStatus::Offset(-254));
        assert_eq!(status(Some("garbage"), 1), TrackStatus::Down);
        assert_eq!(status(None, 1), TrackStatus::Down);
    }
}
