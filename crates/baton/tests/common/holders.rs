//! Who holds the guide's VIP, over time: `ip addr` in lb1 and lb2 sampled on a thread
//! while a test drives a fault, so the invariants ("one holder within N intervals of the
//! end of the fault") are read off one record rather than guessed from a few polls.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use baton_lab::Lab;

use super::{VIP, holds};

/// The load balancers whose addresses are sampled.
pub(crate) const LBS: [&str; 2] = ["lb1", "lb2"];

/// One look at both load balancers: which held the VIP. The two `ip addr` calls are a
/// few milliseconds apart, so a hand-over can show as one sample with both or neither.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) at: Instant,
    pub(crate) holders: Vec<&'static str>,
}

/// Samples in time order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Timeline {
    samples: Vec<Sample>,
}

/// A stretch of samples that failed a condition: from the first such sample to the
/// first one that passed again (`None`: still failing at the end).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    pub(crate) start: Instant,
    pub(crate) end: Option<Instant>,
}

impl Run {
    pub(crate) fn length(&self, timeline_end: Instant) -> Duration {
        self.end.unwrap_or(timeline_end) - self.start
    }
}

/// Stops the sampler when dropped, also when the test panics mid-fault.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs `drive` while a thread samples the VIP's holders every 10 ms; `drive`'s result and
/// the record.
pub(crate) fn watching<T>(lab: &Lab, drive: impl FnOnce() -> T) -> (T, Timeline) {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut timeline = Timeline::default();
            while !stop.load(Ordering::Relaxed) {
                let at = Instant::now();
                let holders = holders_now(lab);
                timeline.samples.push(Sample { at, holders });
                std::thread::sleep(Duration::from_millis(10));
            }
            timeline
        });
        let result = {
            let _stop = StopOnDrop(&stop);
            drive()
        };
        (result, sampler.join().expect("the sampler thread"))
    })
}

/// The load balancers that hold the VIP now.
pub(crate) fn holders_now(lab: &Lab) -> Vec<&'static str> {
    LBS.into_iter()
        .filter(|h| holds(lab.host(h), VIP))
        .collect()
}

/// Exactly `host` holds the VIP.
pub(crate) fn only(host: &'static str) -> impl Fn(&Sample) -> bool {
    move |s| s.holders == [host]
}

/// Exactly one load balancer holds the VIP, whichever.
pub(crate) fn one_holder(s: &Sample) -> bool {
    s.holders.len() == 1
}

impl Timeline {
    pub(crate) fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// When the first sample was taken.
    pub(crate) fn start(&self) -> Instant {
        self.samples.first().map_or_else(Instant::now, |s| s.at)
    }

    /// When the last sample was taken.
    pub(crate) fn end(&self) -> Instant {
        self.samples.last().map_or_else(Instant::now, |s| s.at)
    }

    fn between(&self, from: Instant, to: Instant) -> impl Iterator<Item = &Sample> {
        self.samples
            .iter()
            .filter(move |s| s.at >= from && s.at <= to)
    }

    /// How long after `from` the first sample that passes `condition` was taken.
    pub(crate) fn first(
        &self,
        from: Instant,
        condition: impl Fn(&Sample) -> bool,
    ) -> Option<Duration> {
        self.between(from, self.end())
            .find(|s| condition(s))
            .map(|s| s.at - from)
    }

    /// Whether every sample from `from` to `to` passes `condition` (and there were some).
    pub(crate) fn always(
        &self,
        from: Instant,
        to: Instant,
        condition: impl Fn(&Sample) -> bool,
    ) -> bool {
        let mut seen = false;
        self.between(from, to).all(|s| {
            seen = true;
            condition(s)
        }) && seen
    }

    /// How many samples from `from` to `to` pass `condition`, of how many.
    pub(crate) fn count(
        &self,
        from: Instant,
        to: Instant,
        condition: impl Fn(&Sample) -> bool,
    ) -> (usize, usize) {
        let samples: Vec<&Sample> = self.between(from, to).collect();
        let passing = samples.iter().filter(|s| condition(s)).count();
        (passing, samples.len())
    }

    /// The stretches after `from` where `condition` failed.
    pub(crate) fn failing_runs(
        &self,
        from: Instant,
        condition: impl Fn(&Sample) -> bool,
    ) -> Vec<Run> {
        let mut runs = Vec::new();
        let mut open: Option<Instant> = None;
        for sample in self.between(from, self.end()) {
            match (condition(sample), open) {
                (false, None) => open = Some(sample.at),
                (true, Some(start)) => {
                    runs.push(Run {
                        start,
                        end: Some(sample.at),
                    });
                    open = None;
                }
                _ => {}
            }
        }
        if let Some(start) = open {
            runs.push(Run { start, end: None });
        }
        runs
    }

    /// How long after `from` `condition` held for good: the end of the last stretch where
    /// it failed for longer than `blip` (a hand-over seen half-way, or a sample taken
    /// between the two `ip` calls). `None` if it failed at the end of the record.
    pub(crate) fn settled(
        &self,
        from: Instant,
        blip: Duration,
        condition: impl Fn(&Sample) -> bool,
    ) -> Option<Duration> {
        let end = self.end();
        let runs = self.failing_runs(from, condition);
        if runs.last().is_some_and(|r| r.end.is_none()) {
            return None;
        }
        Some(
            runs.iter()
                .filter(|r| r.length(end) > blip)
                .filter_map(|r| r.end)
                .map(|e| e - from)
                .max()
                .unwrap_or(Duration::ZERO),
        )
    }

    /// The longest stretch after `from` in which both load balancers held the VIP.
    pub(crate) fn longest_double(&self, from: Instant) -> Duration {
        let end = self.end();
        self.failing_runs(from, |s| s.holders.len() < 2)
            .iter()
            .map(|r| r.length(end))
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// The holders in the last sample.
    pub(crate) fn last_holders(&self) -> Vec<&'static str> {
        self.samples
            .last()
            .map(|s| s.holders.clone())
            .unwrap_or_default()
    }

    /// Counts of samples by holders from `from` to `to`, for people.
    pub(crate) fn summary(&self, from: Instant, to: Instant) -> Summary {
        let mut summary = Summary::default();
        for sample in self.between(from, to) {
            match sample.holders.as_slice() {
                [] => summary.none += 1,
                ["lb1"] => summary.lb1 += 1,
                ["lb2"] => summary.lb2 += 1,
                _ => summary.both += 1,
            }
        }
        summary
    }
}

/// How many samples saw no holder, lb1 alone, lb2 alone, or both.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Summary {
    pub(crate) none: usize,
    pub(crate) lb1: usize,
    pub(crate) lb2: usize,
    pub(crate) both: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "samples: {} none, {} lb1 alone, {} lb2 alone, {} both",
            self.none, self.lb1, self.lb2, self.both
        )
    }
}
