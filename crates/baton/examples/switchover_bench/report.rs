//! The table: per setup, failed requests and the longest request, with baton's ratio to
//! keepalived + nginx.

use std::time::Duration;

use crate::balancers::Setup;
use crate::common::stats::{median, ratio};
use crate::measure::Outcome;
use crate::options::Options;

pub(crate) fn print(options: &Options, results: &[(Setup, Vec<Outcome>)]) {
    let summary = |outcomes: &[Outcome]| {
        let failed: Vec<f64> = outcomes.iter().map(|o| o.report.failed as f64).collect();
        let total: u64 = outcomes.iter().map(|o| o.report.failed).sum();
        let slowest: Vec<f64> = outcomes.iter().filter_map(|o| o.report.slowest).collect();
        let takeover: Vec<f64> = outcomes
            .iter()
            .filter_map(|o| o.takeover.map(|t| t.as_secs_f64()))
            .collect();
        let answered: Vec<f64> = outcomes.iter().map(|o| o.report.ok as f64).collect();
        (
            median(&failed),
            total,
            median(&slowest),
            median(&takeover),
            median(&answered),
        )
    };
    let reference = results
        .iter()
        .find(|(setup, _)| *setup == Setup::KeepalivedNginx)
        .map(|(_, outcomes)| summary(outcomes));
    println!(
        "\n| setup | runs | answered per run (median) | failed requests (median) | failed requests \
         (total) | longest request (median) | longest vs keepalived + nginx | VIP on lb1 after \
         SIGTERM (median) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let ms = |s: Option<f64>| s.map_or("n/a".into(), |s| format!("{:.0} ms", s * 1e3));
    for (setup, outcomes) in results {
        let (failed, total, slowest, takeover, answered) = summary(outcomes);
        println!(
            "| {} | {} | {:.0} | {} | {total:.0} | {} | {} | {} |",
            setup.name(),
            outcomes.len(),
            answered.unwrap_or(0.0),
            failed.map_or("n/a".into(), |f| format!("{f:.0}")),
            ms(slowest),
            ratio(slowest, reference.and_then(|r| r.2)),
            ms(takeover),
        );
    }
    println!(
        "\nEach run: {} req/s, each on a new connection, up to {} at once, for {:.1} s; lb2's \
         daemon gets SIGTERM after {:.1} s. Latency is per request, connect to last byte, of \
         the requests that were answered; failed = errors and non-200 answers.",
        options.rate,
        options.connections,
        (options.before + options.after).as_secs_f64(),
        options.before.as_secs_f64()
    );
}

/// One line per run for the log.
pub(crate) fn line(setup: Setup, outcome: &Outcome) -> String {
    let report = &outcome.report;
    format!(
        "  {}: {} answered, longest {}, VIP on lb1 {}{}",
        setup.name(),
        report.ok,
        report
            .slowest
            .map_or("n/a".into(), |s| format!("{:.1} ms", s * 1e3)),
        outcome
            .takeover
            .map_or("not seen".into(), |t: Duration| format!(
                "{:.0} ms after SIGTERM",
                t.as_secs_f64() * 1e3
            )),
        report.failure_note()
    )
}
