//! The driver: a Tokio task that probes on the [`Tracker`]'s schedule and reports
//! verdict changes to a callback.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::outcome::Outcome;
use crate::probe::{Probe, probe};
use crate::tracker::{Schedule, Tracker, Verdict};

/// A running check; dropping it stops the check.
#[derive(Debug)]
pub struct CheckHandle {
    status: watch::Receiver<Status>,
    task: JoinHandle<()>,
}

/// What a check has seen so far, for `baton status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// The verdict; None before the first.
    pub verdict: Option<Verdict>,
    /// Why the last probe failed; None if it passed (or none has run).
    pub last_failure: Option<String>,
    /// Probes run, and how many of them failed.
    pub probes: u64,
    pub failures: u64,
    /// From the last probe's start to its outcome; None before the first.
    pub last_latency: Option<Duration>,
}

impl CheckHandle {
    /// What the check has seen so far.
    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// The status, told of every probe (keepalived's `log_all_failures` logs each failed
    /// one, not only the verdict changes the callback hears of).
    pub fn watch(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }
}

impl Drop for CheckHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts checking on the current Tokio runtime (panics outside one, as `tokio::spawn`).
///
/// `on_change` is called with the first verdict (at once when the schedule starts down)
/// and then with each change: up to down, down to up, or a new weight while up. It runs on
/// the check's task, so it should hand the verdict on rather than block.
pub fn spawn(
    probe: Probe,
    schedule: Schedule,
    on_change: impl FnMut(Verdict) + Send + 'static,
) -> CheckHandle {
    let (report, status) = watch::channel(Status::default());
    let task = tokio::spawn(run(probe, schedule, report, on_change));
    CheckHandle { status, task }
}

async fn run(
    target: Probe,
    schedule: Schedule,
    report: watch::Sender<Status>,
    mut on_change: impl FnMut(Verdict),
) {
    let mut tracker = Tracker::new(&schedule);
    if let Some(verdict) = tracker.verdict() {
        report.send_modify(|status| status.verdict = Some(verdict.clone()));
        on_change(verdict.clone());
    }
    tokio::time::sleep(schedule.first_delay(rand::random())).await;
    loop {
        let started = Instant::now();
        let outcome = probe(&target).await;
        let latency = started.elapsed();
        let changed = tracker.record(&outcome);
        report.send_modify(|status| {
            status.probes += 1;
            status.last_latency = Some(latency);
            status.last_failure = match &outcome {
                Outcome::Up(_) => None,
                Outcome::Down(failure) => {
                    status.failures += 1;
                    Some(failure.to_string())
                }
            };
            if let Some(verdict) = &changed {
                status.verdict = Some(verdict.clone());
            }
        });
        if let Some(verdict) = changed {
            on_change(verdict);
        }
        tokio::time::sleep(tracker.next_delay()).await;
    }
}
