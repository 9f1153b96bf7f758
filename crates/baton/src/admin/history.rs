//! The status page's recent history (`GET /history.json`): each VRRP instance's state and
//! each backend's request rate, one sample every [`INTERVAL`], the last [`SAMPLES`] kept.
//!
//! Memory is bounded by the configuration: one fixed-size ring per instance and per
//! backend, and a series whose instance or backend is gone (a reload removed it) goes with
//! the next sample. The admin listener's task takes the samples; nothing here does I/O,
//! so the rings are tested with made-up samples.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::Serialize;

/// Time between samples.
pub(super) const INTERVAL: Duration = Duration::from_secs(10);
/// Samples kept: ten minutes at [`INTERVAL`].
pub(super) const SAMPLES: usize = 60;

/// The states an instance can be in, so that a sample holds no string of its own.
const STATES: [&str; 4] = ["INIT", "BACKUP", "MASTER", "FAULT"];

/// What the daemon looks like at one moment.
#[derive(Debug, Default)]
pub(super) struct Sample {
    /// Instance name and state (`MASTER`).
    pub(super) instances: Vec<(String, String)>,
    /// Frontend, backend, and the requests sent to the backend's servers since they were
    /// configured.
    pub(super) backends: Vec<(String, String, u64)>,
}

/// The last `capacity` values, oldest first.
#[derive(Debug, Clone)]
struct Ring<T> {
    values: VecDeque<T>,
    capacity: usize,
}

impl<T: Clone> Ring<T> {
    /// A ring that already holds `len` copies of `fill`: a series that starts late lines up
    /// with the others.
    fn padded(capacity: usize, fill: T, len: usize) -> Self {
        let mut values = VecDeque::with_capacity(capacity);
        values.extend(std::iter::repeat_n(fill, len.min(capacity)));
        Ring { values, capacity }
    }

    fn push(&mut self, value: T) {
        if self.values.len() == self.capacity {
            self.values.pop_front();
        }
        self.values.push_back(value);
    }
}

/// One backend's request rate and the total it is computed from.
#[derive(Debug, Clone)]
struct RateSeries {
    per_second: Ring<Option<f64>>,
    last_total: u64,
}

#[derive(Debug)]
pub(super) struct History {
    capacity: usize,
    /// Samples taken so far, up to `capacity`: the length of every ring.
    taken: usize,
    states: BTreeMap<String, Ring<Option<&'static str>>>,
    rates: BTreeMap<(String, String), RateSeries>,
}

impl Default for History {
    fn default() -> Self {
        History::new(SAMPLES)
    }
}

/// `/history.json`.
#[derive(Debug, Serialize, PartialEq)]
pub(super) struct HistoryJson {
    pub(super) interval_s: u64,
    /// The most samples a series holds: the chart's width in samples.
    pub(super) capacity: usize,
    /// How many samples each series has, oldest first; the last one is the latest.
    pub(super) samples: usize,
    pub(super) instances: Vec<StateJson>,
    pub(super) backends: Vec<RateJson>,
}

/// An instance's state per sample; null before it existed.
#[derive(Debug, Serialize, PartialEq)]
pub(super) struct StateJson {
    pub(super) name: String,
    pub(super) states: Vec<Option<&'static str>>,
}

/// A backend's requests per second per sample; null before it existed and at its first
/// sample (a rate needs two).
#[derive(Debug, Serialize, PartialEq)]
pub(super) struct RateJson {
    pub(super) frontend: String,
    pub(super) backend: String,
    pub(super) requests_per_s: Vec<Option<f64>>,
}

impl History {
    pub(super) fn new(capacity: usize) -> Self {
        History {
            capacity: capacity.max(1),
            taken: 0,
            states: BTreeMap::new(),
            rates: BTreeMap::new(),
        }
    }

    /// Adds `sample`, taken `elapsed` after the previous one.
    pub(super) fn record(&mut self, sample: Sample, elapsed: Duration) {
        let (capacity, taken) = (self.capacity, self.taken);
        let mut states = BTreeMap::new();
        for (name, state) in sample.instances {
            let mut ring = self
                .states
                .remove(&name)
                .unwrap_or_else(|| Ring::padded(capacity, None, taken));
            ring.push(STATES.iter().copied().find(|known| *known == state));
            states.insert(name, ring);
        }
        let mut rates = BTreeMap::new();
        let seconds = elapsed.as_secs_f64();
        for (frontend, backend, total) in sample.backends {
            let key = (frontend, backend);
            let rate = match self.rates.remove(&key) {
                Some(mut series) => {
                    // A reload that removed a server takes its count away: no negative rate.
                    let requests = total.saturating_sub(series.last_total);
                    // To a thousandth: what a chart can show, without float noise in the JSON.
                    let rate = (seconds > 0.0)
                        .then(|| (requests as f64 / seconds * 1000.0).round() / 1000.0);
                    series.per_second.push(rate);
                    series.last_total = total;
                    series
                }
                None => {
                    let mut per_second = Ring::padded(capacity, None, taken);
                    per_second.push(None);
                    RateSeries {
                        per_second,
                        last_total: total,
                    }
                }
            };
            rates.insert(key, rate);
        }
        // What this sample did not name is gone.
        self.states = states;
        self.rates = rates;
        self.taken = (taken + 1).min(capacity);
    }

    pub(super) fn json(&self) -> HistoryJson {
        HistoryJson {
            interval_s: INTERVAL.as_secs(),
            capacity: self.capacity,
            samples: self.taken,
            instances: self
                .states
                .iter()
                .map(|(name, ring)| StateJson {
                    name: name.clone(),
                    states: ring.values.iter().copied().collect(),
                })
                .collect(),
            backends: self
                .rates
                .iter()
                .map(|((frontend, backend), series)| RateJson {
                    frontend: frontend.clone(),
                    backend: backend.clone(),
                    requests_per_s: series.per_second.values.iter().copied().collect(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(state: &str, requests: u64) -> Sample {
        Sample {
            instances: vec![("VI_1".into(), state.into())],
            backends: vec![("web".into(), "app".into(), requests)],
        }
    }

    const TEN: Duration = Duration::from_secs(10);

    #[test]
    fn rates_come_from_differences_and_states_are_kept_in_order() {
        let mut history = History::new(5);
        history.record(sample("BACKUP", 100), TEN);
        history.record(sample("MASTER", 150), TEN);
        history.record(sample("MASTER", 150), Duration::from_secs(5));
        history.record(sample("MASTER", 151), Duration::from_millis(2999));
        let json = history.json();
        assert_eq!((json.samples, json.capacity), (4, 5));
        assert_eq!(
            json.instances[0].states,
            [
                Some("BACKUP"),
                Some("MASTER"),
                Some("MASTER"),
                Some("MASTER")
            ]
        );
        assert_eq!(
            json.backends[0].requests_per_s,
            [None, Some(5.0), Some(0.0), Some(0.333)]
        );
    }

    #[test]
    fn memory_stays_bounded_and_the_oldest_samples_go() {
        let mut history = History::new(4);
        for i in 0..100u64 {
            history.record(
                sample(if i % 2 == 0 { "BACKUP" } else { "FAULT" }, i * 10),
                TEN,
            );
        }
        let json = history.json();
        assert_eq!(json.samples, 4);
        assert_eq!(json.instances[0].states.len(), 4);
        assert_eq!(
            json.instances[0].states[3],
            Some("FAULT"),
            "the latest is last"
        );
        assert_eq!(json.backends[0].requests_per_s, [Some(1.0); 4]);
        assert!(
            history
                .rates
                .values()
                .all(|s| s.per_second.values.capacity() <= 8)
        );
    }

    #[test]
    fn late_series_line_up_and_removed_ones_go() {
        let mut history = History::new(10);
        history.record(sample("BACKUP", 0), TEN);
        let mut both = sample("MASTER", 20);
        both.instances.push(("VI_2".into(), "weird".into()));
        both.backends.push(("api".into(), "app2".into(), 7));
        history.record(both, TEN);
        let json = history.json();
        let late = json
            .instances
            .iter()
            .find(|i| i.name == "VI_2")
            .expect("VI_2");
        assert_eq!(
            late.states,
            [None, None],
            "padded, and an unknown state is null"
        );
        let api = json
            .backends
            .iter()
            .find(|b| b.frontend == "api")
            .expect("api");
        assert_eq!(api.requests_per_s, [None, None]);

        // A reload removed VI_2 and frontend api; a server removal lowered the total.
        history.record(sample("MASTER", 5), TEN);
        let json = history.json();
        assert_eq!(json.instances.len(), 1);
        assert_eq!(json.backends.len(), 1);
        assert_eq!(
            json.backends[0].requests_per_s,
            [None, Some(2.0), Some(0.0)]
        );
        let text = serde_json::to_string(&json).expect("json");
        assert!(text.contains("\"interval_s\":10"), "{text}");
    }
}
