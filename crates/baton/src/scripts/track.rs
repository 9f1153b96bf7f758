//! `vrrp_script`: a command run every `interval`; its results, filtered through rise/fall,
//! become a tracked object's up/down.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::{Outcome, RiseFall, Script};

#[derive(Debug, Clone)]
pub(crate) struct TrackScript {
    pub(crate) name: String,
    pub(crate) script: Script,
    pub(crate) interval: Duration,
    /// keepalived: a script past its timeout is killed and counts as failed.
    pub(crate) timeout: Option<Duration>,
    pub(crate) rise: u32,
    pub(crate) fall: u32,
    pub(crate) initially_up: bool,
}

/// A tracked script changed state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TrackUpdate {
    pub(crate) name: String,
    pub(crate) up: bool,
    /// The run that tipped it.
    pub(crate) outcome: Outcome,
}

/// Runs `script` forever on its own task, sending a [`TrackUpdate`] on every change.
/// The task ends when the receiver is dropped.
pub(crate) fn spawn_track_script(
    script: TrackScript,
    updates: mpsc::UnboundedSender<TrackUpdate>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut state = RiseFall::new(script.rise, script.fall, script.initially_up);
        let mut ticker = tokio::time::interval(script.interval);
        // A slow run must not be followed by a burst of catch-up runs.
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let outcome = script.script.run(&[], script.timeout).await;
            if !outcome.success() {
                tracing::debug!(script = %script.name, %outcome, "track script failed");
            }
            if let Some(up) = state.record(outcome.success()) {
                let update = TrackUpdate {
                    name: script.name.clone(),
                    up,
                    outcome,
                };
                if updates.send(update).is_err() {
                    return;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(code: &str, fall: u32) -> TrackScript {
        TrackScript {
            name: "chk".into(),
            script: Script::new(vec!["/bin/sh".into(), "-c".into(), code.into()], None),
            interval: Duration::from_millis(20),
            timeout: Some(Duration::from_millis(200)),
            rise: 1,
            fall,
            initially_up: true,
        }
    }

    #[tokio::test]
    async fn failing_script_goes_down_after_fall_runs() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = spawn_track_script(track("exit 1", 2), tx);
        let update = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        let update = update.expect("an update in time").expect("channel open");
        assert_eq!(
            update,
            TrackUpdate {
                name: "chk".into(),
                up: false,
                outcome: Outcome::Exited(1)
            }
        );
        task.abort();
    }

    #[tokio::test]
    async fn hanging_script_is_killed_and_counts_as_failed() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = spawn_track_script(track("sleep 30", 1), tx);
        let update = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        let update = update.expect("an update in time").expect("channel open");
        assert_eq!(update.outcome, Outcome::TimedOut);
        assert!(!update.up);
        task.abort();
    }
}
