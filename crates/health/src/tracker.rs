//! Outcomes in a row to verdicts: keepalived's `retry` and HAProxy's `rise` and `fall` as
//! one sans-IO state machine, driven by [`crate::spawn`] (and by anything else that probes:
//! it takes outcomes and says how long to wait, and does no I/O and reads no clock).

use std::time::Duration;

use crate::outcome::{Outcome, Weight};

/// When to probe and how many results in a row change the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Between probes while nothing is in doubt (`delay_loop`, HAProxy's `inter`).
    pub interval: Duration,
    /// After a failed probe while the server is not yet down (`delay_before_retry`).
    pub retry_interval: Duration,
    /// Failed probes in a row that take an up server down: keepalived's `retry + 1`.
    /// 0 counts as 1.
    pub fall: u32,
    /// Passed probes in a row that bring a down server up: 1 in keepalived. 0 counts as 1.
    pub rise: u32,
    /// The first probe waits a random time up to this (keepalived's `warmup`), so that
    /// checks started together do not probe in step. None: at once.
    pub warmup: Option<Duration>,
    /// Start down (keepalived's `alpha`): the server needs `rise` passes before it is up.
    /// Otherwise it counts as up until probed: one pass confirms it, `fall` failures take
    /// it down.
    pub start_down: bool,
}

impl Schedule {
    /// The wait before the first probe, `unit` being uniform in 0..=1.
    pub fn first_delay(&self, unit: f64) -> Duration {
        self.warmup.map_or(Duration::ZERO, |warmup| {
            warmup.mul_f64(unit.clamp(0.0, 1.0))
        })
    }
}

/// What the checks say of a server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Take traffic, with this weight.
    Up { weight: Weight },
    /// Take no new traffic.
    Down { reason: String },
}

/// The verdict of one checker on one server, from its outcomes in a row.
#[derive(Debug, Clone)]
pub struct Tracker {
    interval: Duration,
    retry_interval: Duration,
    rise: u32,
    fall: u32,
    /// None until the first verdict (not started down and not probed yet).
    verdict: Option<Verdict>,
    /// Outcomes in a row that disagree with the verdict.
    streak: u32,
}

impl Tracker {
    pub fn new(schedule: &Schedule) -> Tracker {
        Tracker {
            interval: schedule.interval,
            retry_interval: schedule.retry_interval,
            rise: schedule.rise.max(1),
            fall: schedule.fall.max(1),
            verdict: schedule.start_down.then(|| Verdict::Down {
                reason: "not checked yet (started down)".to_owned(),
            }),
            streak: 0,
        }
    }

    /// The current verdict; None before the first one.
    pub fn verdict(&self) -> Option<&Verdict> {
        self.verdict.as_ref()
    }

    /// Records one probe's outcome; returns the new verdict when it changed: up or down,
    /// or an up server's weight (keepalived applies a new MISC_CHECK or FILE_CHECK
    /// weight at once, without counting).
    #[must_use]
    pub fn record(&mut self, outcome: &Outcome) -> Option<Verdict> {
        // A probe this host could not make (out of descriptors, say) is no evidence either
        // way: the streak and the verdict stay as they are.
        if matches!(outcome, Outcome::Down(failure) if failure.is_local_shortage()) {
            return None;
        }
        let changed = match (&self.verdict, outcome) {
            // Not yet probed: one pass is enough, as for a server known up.
            (None, Outcome::Up(weight)) => Some(Verdict::Up { weight: *weight }),
            (Some(Verdict::Up { weight: now }), Outcome::Up(weight)) => {
                self.streak = 0;
                (now != weight).then_some(Verdict::Up { weight: *weight })
            }
            (Some(Verdict::Down { .. }), Outcome::Down(_)) => {
                self.streak = 0;
                None
            }
            (None | Some(Verdict::Up { .. }), Outcome::Down(failure)) => {
                self.count(self.fall).then(|| Verdict::Down {
                    reason: failure.to_string(),
                })
            }
            (Some(Verdict::Down { .. }), Outcome::Up(weight)) => self
                .count(self.rise)
                .then_some(Verdict::Up { weight: *weight }),
        };
        if let Some(verdict) = &changed {
            self.streak = 0;
            self.verdict = Some(verdict.clone());
        }
        changed
    }

    /// How long to wait before the next probe: `retry_interval` while failures are being
    /// counted against a server not yet down, else `interval`.
    pub fn next_delay(&self) -> Duration {
        let failing = self.streak > 0 && !matches!(self.verdict, Some(Verdict::Down { .. }));
        if failing {
            self.retry_interval
        } else {
            self.interval
        }
    }

    /// Counts one more disagreeing outcome; true when `needed` are reached.
    fn count(&mut self, needed: u32) -> bool {
        self.streak += 1;
        self.streak >= needed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Failure;

    const INTERVAL: Duration = Duration::from_secs(6);
    const RETRY: Duration = Duration::from_secs(1);

    fn schedule(rise: u32, fall: u32, start_down: bool) -> Schedule {
        Schedule {
            interval: INTERVAL,
            retry_interval: RETRY,
            fall,
            rise,
            warmup: None,
            start_down,
        }
    }

    fn down() -> Outcome {
        Outcome::Down(Failure::Exit(1))
    }

    fn up_verdict() -> Option<Verdict> {
        Some(Verdict::Up {
            weight: Weight::Configured,
        })
    }

    fn down_verdict() -> Option<Verdict> {
        Some(Verdict::Down {
            reason: "exit code 1".to_owned(),
        })
    }

    #[test]
    fn a_probe_out_of_local_descriptors_changes_nothing() {
        let mut tracker = Tracker::new(&schedule(1, 2, false));
        assert_eq!(tracker.record(&Outcome::UP), up_verdict());
        let shortage = || {
            let emfile = std::io::Error::from_raw_os_error(nix::errno::Errno::EMFILE as i32);
            Outcome::Down(Failure::Url {
                path: "/".to_owned(),
                failure: Box::new(Failure::Socket(emfile)),
            })
        };
        for _ in 0..5 {
            assert_eq!(tracker.record(&shortage()), None);
        }
        assert_eq!(tracker.verdict(), up_verdict().as_ref());
        // Nor does it break a streak of real failures, or add to one.
        assert_eq!(tracker.record(&down()), None);
        assert_eq!(tracker.record(&shortage()), None);
        assert_eq!(tracker.record(&down()), down_verdict());
    }

    /// Records each outcome and returns (change, next delay) for each.
    fn run(tracker: &mut Tracker, outcomes: Vec<Outcome>) -> Vec<(Option<Verdict>, Duration)> {
        outcomes
            .iter()
            .map(|outcome| (tracker.record(outcome), tracker.next_delay()))
            .collect()
    }

    #[test]
    fn keepalived_retry_2_is_three_failures_spaced_by_delay_before_retry() {
        let mut tracker = Tracker::new(&schedule(1, 3, false));
        assert_eq!(tracker.verdict(), None);
        assert_eq!(
            run(
                &mut tracker,
                vec![Outcome::UP, down(), down(), down(), down()]
            ),
            [
                (up_verdict(), INTERVAL),
                (None, RETRY),
                (None, RETRY),
                (down_verdict(), INTERVAL),
                (None, INTERVAL),
            ]
        );
        assert_eq!(
            run(&mut tracker, vec![Outcome::UP]),
            [(up_verdict(), INTERVAL)]
        );
    }

    #[test]
    fn an_interrupted_streak_starts_over() {
        let mut tracker = Tracker::new(&schedule(2, 3, false));
        let changes: Vec<_> = run(
            &mut tracker,
            vec![Outcome::UP, down(), down(), Outcome::UP, down(), down()],
        )
        .into_iter()
        .map(|(change, _)| change)
        .collect();
        assert_eq!(changes, [up_verdict(), None, None, None, None, None]);
        assert_eq!(tracker.record(&down()), down_verdict());
        let changes: Vec<_> = run(&mut tracker, vec![Outcome::UP, down(), Outcome::UP])
            .into_iter()
            .map(|(change, _)| change)
            .collect();
        assert_eq!(changes, [None, None, None]);
        assert_eq!(tracker.record(&Outcome::UP), up_verdict());
    }

    #[test]
    fn not_probed_yet_counts_as_up_but_started_down_needs_rise() {
        let mut tracker = Tracker::new(&schedule(3, 2, false));
        assert_eq!(
            run(&mut tracker, vec![down(), down()]),
            [(None, RETRY), (down_verdict(), INTERVAL)]
        );

        let mut tracker = Tracker::new(&schedule(2, 2, true));
        assert!(matches!(tracker.verdict(), Some(Verdict::Down { .. })));
        assert_eq!(tracker.next_delay(), INTERVAL);
        assert_eq!(
            run(&mut tracker, vec![Outcome::UP, Outcome::UP]),
            [(None, INTERVAL), (up_verdict(), INTERVAL)]
        );
    }

    #[test]
    fn a_new_weight_is_reported_at_once() {
        let mut tracker = Tracker::new(&schedule(1, 2, false));
        let weighted = |w| Outcome::Up(Weight::Set(w));
        assert_eq!(
            tracker.record(&weighted(5)),
            Some(Verdict::Up {
                weight: Weight::Set(5)
            })
        );
        assert_eq!(tracker.record(&weighted(5)), None);
        assert_eq!(tracker.record(&down()), None);
        assert_eq!(
            tracker.record(&weighted(7)),
            Some(Verdict::Up {
                weight: Weight::Set(7)
            })
        );
        assert_eq!(
            tracker.next_delay(),
            INTERVAL,
            "the pass ended the failures"
        );
    }

    #[test]
    fn zero_counts_as_one() {
        let mut tracker = Tracker::new(&schedule(0, 0, true));
        assert_eq!(tracker.record(&Outcome::UP), up_verdict());
        assert_eq!(tracker.record(&down()), down_verdict());
    }

    #[test]
    fn warmup_spreads_the_first_probe() {
        let mut schedule = schedule(1, 1, false);
        assert_eq!(schedule.first_delay(0.7), Duration::ZERO);
        schedule.warmup = Some(Duration::from_secs(10));
        assert_eq!(schedule.first_delay(0.5), Duration::from_secs(5));
        assert_eq!(schedule.first_delay(2.0), Duration::from_secs(10));
    }
}
