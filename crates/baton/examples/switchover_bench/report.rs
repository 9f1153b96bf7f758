//! The table: per page and setup, failed requests and the longest request, with baton's
//! ratio to keepalived + nginx on the same page.

use std::time::Duration;

use crate::apps::Page;
use crate::balancers::Setup;
use crate::common::stats::{median, ratio};
use crate::measure::Outcome;
use crate::options::Options;

/// A request this slow waited for a retransmission (TCP's first is after 1 s): its first
/// SYN or a segment was lost during the switch.
const DELAYED: f64 = 0.5;

/// The runs of one setup on one page.
pub(crate) type Cell = (Page, Setup, Vec<Outcome>);

pub(crate) fn print(options: &Options, results: &[Cell]) {
    let summary = |outcomes: &[Outcome]| {
        let failed: Vec<f64> = outcomes.iter().map(|o| o.report.failed as f64).collect();
        let total: u64 = outcomes.iter().map(|o| o.report.failed).sum();
        let slowest: Vec<f64> = outcomes.iter().filter_map(|o| o.report.slowest).collect();
        let takeover: Vec<f64> = outcomes
            .iter()
            .filter_map(|o| o.takeover.map(|t| t.as_secs_f64()))
            .collect();
        let answered: Vec<f64> = outcomes.iter().map(|o| o.report.ok as f64).collect();
        let delayed: Vec<f64> = outcomes
            .iter()
            .map(|o| o.report.slower_than(DELAYED) as f64)
            .collect();
        Summary {
            failed: median(&failed),
            total,
            slowest: median(&slowest),
            takeover: median(&takeover),
            answered: median(&answered),
            delayed: median(&delayed),
        }
    };
    let reference = |page: Page| {
        results
            .iter()
            .find(|(p, setup, _)| *p == page && *setup == Setup::KeepalivedNginx)
            .and_then(|(_, _, outcomes)| summary(outcomes).slowest)
    };
    println!(
        "\n| page | setup | runs | answered per run | failed requests (median) | failed requests \
         (total) | longest request (median) | longest vs keepalived + nginx | answered after \
         > {DELAYED} s (median) | VIP on lb1 after SIGTERM (median) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let ms = |s: Option<f64>| s.map_or("n/a".into(), |s| format!("{:.0} ms", s * 1e3));
    let count = |n: Option<f64>| n.map_or("n/a".into(), |n| format!("{n:.0}"));
    for (page, setup, outcomes) in results {
        let s = summary(outcomes);
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            page.name(),
            setup.name(),
            outcomes.len(),
            count(s.answered),
            count(s.failed),
            s.total,
            ms(s.slowest),
            ratio(s.slowest, reference(*page)),
            count(s.delayed),
            ms(s.takeover),
        );
    }
    println!(
        "\nEach run: {}, each on a new connection, up to {} at once, for {:.1} s; lb2's \
         daemon gets SIGTERM after {:.1} s. Latency is per request, connect to last byte, of \
         the requests that were answered; failed = errors and non-200 answers; answered after \
         > {DELAYED} s counted from oha's latency histogram. Pages: quick is answered at once, \
         slow after 200 ms.",
        match options.rate {
            0 => "as fast as the clients go".to_owned(),
            rate => format!("{rate} req/s"),
        },
        options.connections,
        (options.before + options.after).as_secs_f64(),
        options.before.as_secs_f64()
    );
}

/// One line per run for the log.
pub(crate) fn line(setup: Setup, page: Page, outcome: &Outcome) -> String {
    let report = &outcome.report;
    format!(
        "  {} page, {}: {} answered ({} after > {DELAYED} s), longest {}, VIP on lb1 {}{}",
        page.name(),
        setup.name(),
        report.ok,
        report.slower_than(DELAYED),
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

/// One setup's runs, summed up (medians over runs unless said otherwise).
#[derive(Debug)]
struct Summary {
    failed: Option<f64>,
    /// Over all runs.
    total: u64,
    slowest: Option<f64>,
    takeover: Option<f64>,
    answered: Option<f64>,
    delayed: Option<f64>,
}
