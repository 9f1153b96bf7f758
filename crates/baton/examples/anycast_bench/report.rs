//! The tables: medians over the rounds, every run's figure beside them, ratios where a
//! peer exists.

use crate::common::oha::Report;
use crate::common::stats::{median, ratio};
use crate::connections::{self, Variant};
use crate::failover::{self, Fault};

/// What the rounds measured, in the order they ran.
#[derive(Default)]
pub(crate) struct Results {
    pub(crate) failover: Vec<(Fault, failover::Outcome)>,
    pub(crate) connections: Vec<((Variant, usize), connections::Outcome)>,
    pub(crate) throughput: Vec<(usize, Report)>,
}

fn of<K: PartialEq + Copy, V: Clone>(runs: &[(K, V)], key: K) -> Vec<V> {
    runs.iter()
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| v.clone())
        .collect()
}

fn counts(values: impl Iterator<Item = usize> + Clone) -> String {
    let all: Vec<String> = values.clone().map(|v| v.to_string()).collect();
    let floats: Vec<f64> = values.map(|v| v as f64).collect();
    match median(&floats) {
        Some(m) => format!("{m} ({})", all.join(", ")),
        None => "n/a".into(),
    }
}

/// Milliseconds: the median and each run's (`none` for a run without a value). With
/// `none_is_zero` a run without a value counts as 0 in the median (no disrupted request:
/// no outage); without, the median is given only when every run has a value.
fn milliseconds(values: &[Option<f64>], none: &str, none_is_zero: bool) -> String {
    let present: Vec<f64> = values
        .iter()
        .filter_map(|v| {
            if none_is_zero {
                Some(v.unwrap_or(0.0))
            } else {
                *v
            }
        })
        .collect();
    let all: Vec<String> = values
        .iter()
        .map(|v| v.map_or(none.to_owned(), |s| format!("{:.0}", s * 1e3)))
        .collect();
    match median(&present) {
        Some(m) if present.len() == values.len() => {
            format!("{:.0} ms ({})", m * 1e3, all.join(", "))
        }
        _ => format!("({})", all.join(", ")),
    }
}

pub(crate) fn failover_table(results: &Results, window: u64) -> String {
    let mut text = String::from(
        "| failure | last disrupted request, from the failure | failed requests | slow (> 0.5 s) | \
         routing changed |\n|---|---|---|---|---|\n",
    );
    for fault in Fault::ALL {
        let runs = of(&results.failover, fault);
        if runs.is_empty() {
            continue;
        }
        let last: Vec<Option<f64>> = runs.iter().map(|r| r.last_disrupted).collect();
        let last = if runs.iter().all(|r| r.unrecovered) {
            format!("not recovered within the {window} s window")
        } else {
            milliseconds(&last, "none", true)
        };
        let rerouted: Vec<Option<f64>> = runs.iter().map(|r| r.rerouted).collect();
        text.push_str(&format!(
            "| {} | {last} | {} of ~{} | {} | {} |\n",
            fault.title(),
            counts(runs.iter().map(|r| r.failed)),
            runs[0].sent,
            counts(runs.iter().map(|r| r.slow)),
            milliseconds(&rerouted, "never", false),
        ));
    }
    text
}

pub(crate) fn connections_table(results: &Results) -> String {
    let mut text = String::from(
        "| connections through | leaving | broken | of them on the leaving LB / on the others \
         (L7) | closed cleanly after a complete answer (of them as a request went out) | on \
         the leaving LB before (L7) | answered by another app (DR) | broke, from the SIGTERM \
         |\n|---|---|---|---|---|---|---|---|\n",
    );
    let mut broken_medians = Vec::new();
    let cases = connections::LEAVERS
        .iter()
        .flat_map(|&leaver| Variant::ALL.map(|variant| (variant, leaver)));
    for (variant, leaver) in cases {
        let runs = of(&results.connections, (variant, leaver));
        if runs.is_empty() {
            continue;
        }
        let broken: Vec<f64> = runs.iter().map(|r| r.broken as f64).collect();
        broken_medians.push(((variant, leaver), median(&broken)));
        let optional = |pick: fn(&connections::Outcome) -> Option<usize>| {
            if pick(&runs[0]).is_some() {
                counts(runs.iter().map(|r| pick(r).unwrap_or(0)))
            } else {
                "n/a".into()
            }
        };
        let split = if runs[0].broken_on_leaving.is_some() {
            format!(
                "{} / {}",
                optional(|r| r.broken_on_leaving),
                optional(|r| r.broken_on_staying)
            )
        } else {
            "n/a".into()
        };
        text.push_str(&format!(
            "| {} | lb{} | {} of {} | {split} | {} ({}) | {} | {} | {} |\n",
            variant.title(),
            leaver + 1,
            counts(runs.iter().map(|r| r.broken)),
            runs[0].held,
            counts(runs.iter().map(|r| r.closed_cleanly)),
            counts(runs.iter().map(|r| r.closed_unanswered)),
            optional(|r| r.on_leaving),
            optional(|r| r.changed_app),
            milliseconds(
                &runs.iter().map(|r| r.broke_at).collect::<Vec<_>>(),
                "-",
                false
            ),
        ));
    }
    let find = |key: (Variant, usize)| {
        broken_medians
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, m)| *m)
    };
    for leaver in connections::LEAVERS {
        text.push_str(&format!(
            "\nlb{} leaving: L7 connections broken with the resilient group / with multipath: \
             {}; with the relay / without, multipath: {}",
            leaver + 1,
            ratio(
                find((Variant::L7Resilient, leaver)),
                find((Variant::L7Ecmp, leaver))
            ),
            ratio(
                find((Variant::L7EcmpRelay, leaver)),
                find((Variant::L7Ecmp, leaver))
            )
        ));
    }
    text.push('\n');
    text
}

pub(crate) fn throughput_table(results: &Results) -> String {
    let mut text = String::from(
        "| LBs announcing | requests/s (median, runs) | vs 1 LB | p50 latency | failed |\n\
         |---|---|---|---|---|\n",
    );
    let one = median(
        &of(&results.throughput, 1)
            .iter()
            .map(Report::rps)
            .collect::<Vec<_>>(),
    );
    for n in 1..=3 {
        let runs = of(&results.throughput, n);
        if runs.is_empty() {
            continue;
        }
        let rps: Vec<f64> = runs.iter().map(Report::rps).collect();
        let p50: Vec<f64> = runs.iter().filter_map(|r| r.p50).collect();
        let all: Vec<String> = rps.iter().map(|r| format!("{r:.0}")).collect();
        text.push_str(&format!(
            "| {n} | {:.0} ({}) | {} | {} | {} |\n",
            median(&rps).unwrap_or(0.0),
            all.join(", "),
            ratio(median(&rps), one),
            crate::common::stats::ms(median(&p50)),
            counts(runs.iter().map(|r| r.failed as usize)),
        ));
    }
    text
}
