//! The table: per variant and connection count, medians over the rounds.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::client::Outcome;
use crate::common::stats::median;
use crate::run::{Run, interval};
use crate::topology::Fault;
use crate::variants::Variant;

/// What one run measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Measurement {
    pub(crate) outcome: Outcome,
    /// From the cut to the VIP on lb1.
    pub(crate) takeover: Option<Duration>,
}

/// Every run, by fault, variant and connection count; failed runs with their reason.
#[derive(Debug, Default)]
pub(crate) struct Results {
    runs: BTreeMap<(Fault, Variant, usize), Vec<Measurement>>,
    failures: Vec<String>,
}

impl Results {
    pub(crate) fn add(&mut self, run: Run, measured: anyhow::Result<Measurement>) {
        match measured {
            Ok(m) => self
                .runs
                .entry((run.fault, run.variant, run.n))
                .or_default()
                .push(m),
            Err(error) => self.failures.push(format!(
                "{}, {}, {} connections: {error:#}",
                run.fault.arg(),
                run.variant.arg(),
                run.n
            )),
        }
    }
}

fn ms(d: Option<f64>) -> String {
    d.map_or("n/a".into(), |s| format!("{:.0} ms", s * 1e3))
}

/// The markdown table, with the context line and notes.
pub(crate) fn render(results: &Results, context: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| fault | variant | connections (counter every) | survived | longest pause | median connection's pause | takeover (fault to VIP on lb1) | runs |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for (&(fault, variant, n), runs) in &results.runs {
        let of = |f: &dyn Fn(&Measurement) -> Option<f64>| {
            median(&runs.iter().filter_map(f).collect::<Vec<_>>())
        };
        let survived = of(&|m| Some(m.outcome.survived as f64));
        let worst = runs.iter().map(|m| m.outcome.survived).min();
        // Pauses only mean something for runs where connections survived.
        let pause = |f: fn(&Outcome) -> Duration| {
            of(&|m| (m.outcome.survived > 0).then(|| f(&m.outcome).as_secs_f64()))
        };
        let survived = match (survived, worst) {
            (Some(median), Some(worst)) if runs.len() > 1 => {
                format!("{median:.0} / {n} (worst run {worst})")
            }
            (Some(median), _) => format!("{median:.0} / {n}"),
            _ => "n/a".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {n} ({} ms) | {survived} | {} | {} | {} | {} |",
            fault.title(),
            variant.title(),
            interval(n).as_millis(),
            ms(pause(|o| o.longest_pause)),
            ms(pause(|o| o.median_pause)),
            ms(of(&|m| m.takeover.map(|t| t.as_secs_f64()))),
            runs.len()
        );
    }
    let _ = writeln!(out, "\n{context}");
    for failure in &results.failures {
        let _ = writeln!(out, "\n- failed run: {failure}");
    }
    let broken: Vec<String> = results
        .runs
        .iter()
        .filter_map(|(&(fault, v, n), runs)| {
            let sum = |f: fn(&Outcome) -> usize| runs.iter().map(|m| f(&m.outcome)).sum::<usize>();
            let lost = sum(|o| o.broken) + sum(|o| o.disordered) + sum(|o| o.moved) + sum(|o| o.stalled);
            (lost > 0).then(|| {
                format!(
                    "{}, {} with {n}: over {} runs, {} reset or closed, {} out of sequence, {} moved to the other app, {} stalled",
                    fault.arg(),
                    v.arg(),
                    runs.len(),
                    sum(|o| o.broken),
                    sum(|o| o.disordered),
                    sum(|o| o.moved),
                    sum(|o| o.stalled)
                )
            })
        })
        .collect();
    for line in broken {
        let _ = writeln!(out, "\n- lost: {line}");
    }
    out
}
