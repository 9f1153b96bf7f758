//! The tables: medians per variant, then the ratios the issue asks about.

use std::fmt::Write as _;

use crate::client::{Mode, Tally};
use crate::common::stats::{median, ratio};
use crate::variants::Variant;

/// Every measured run of one variant, per kind of load.
#[derive(Debug)]
pub(crate) struct Results {
    pub(crate) variant: Variant,
    pub(crate) connections: Vec<Tally>,
    pub(crate) requests: Vec<Tally>,
    /// Runs that failed (set-up, probe or client), with the reason, for the notes.
    pub(crate) failures: Vec<String>,
}

impl Results {
    pub(crate) fn new(variant: Variant) -> Results {
        Results {
            variant,
            connections: Vec::new(),
            requests: Vec::new(),
            failures: Vec::new(),
        }
    }

    fn runs(&self, mode: Mode) -> &[Tally] {
        match mode {
            Mode::Requests => &self.requests,
            _ => &self.connections,
        }
    }

    /// Median answered per second.
    fn rate(&self, mode: Mode) -> Option<f64> {
        median(&self.runs(mode).iter().map(Tally::rate).collect::<Vec<_>>())
    }

    /// Median machine CPU per answered request, µs.
    fn cpu_us(&self, mode: Mode) -> Option<f64> {
        median(
            &self
                .runs(mode)
                .iter()
                .filter_map(Tally::cpu_us)
                .collect::<Vec<_>>(),
        )
    }

    /// Median share of one core the lb's daemon used.
    fn daemon_busy(&self, mode: Mode) -> Option<f64> {
        median(
            &self
                .runs(mode)
                .iter()
                .map(Tally::daemon_busy)
                .collect::<Vec<_>>(),
        )
    }

    fn errors(&self, mode: Mode) -> u64 {
        self.runs(mode).iter().map(|t| t.errors).sum()
    }

    /// Answers per app over all runs of `mode`.
    fn split(&self, mode: Mode) -> String {
        let mut sums = [0u64; 2];
        for tally in self.runs(mode) {
            for (sum, n) in sums.iter_mut().zip(&tally.split) {
                *sum += n;
            }
        }
        let total = (sums[0] + sums[1]).max(1) as f64;
        format!(
            "{:.0} / {:.0}",
            100.0 * sums[0] as f64 / total,
            100.0 * sums[1] as f64 / total
        )
    }
}

/// The tables as markdown (what is printed and what `--markdown` writes).
pub(crate) fn tables(results: &[Results]) -> String {
    let mut out = String::new();
    let find = |v: Variant| results.iter().find(|r| r.variant == v);
    let direct = find(Variant::Direct);
    // CPU per connection (or request) above the direct path's: what the lb path costs.
    let extra =
        |r: &Results, mode: Mode| -> Option<f64> { Some(r.cpu_us(mode)? - direct?.cpu_us(mode)?) };
    let us = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.1} µs"));
    let rate = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.0}"));
    // Only variants that run a daemon on the lb have one to show.
    let daemon = |r: &Results| match r.variant {
        Variant::BatonNat | Variant::BatonDr | Variant::Haproxy => {
            let pct = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{:.0}%", v * 100.0));
            format!(
                "{} / {}",
                pct(r.daemon_busy(Mode::Connections)),
                pct(r.daemon_busy(Mode::Requests))
            )
        }
        _ => "-".into(),
    };

    let _ = writeln!(
        out,
        "| variant | connections/s | CPU per connection | extra CPU per connection \
         | requests/s | CPU per request | extra CPU per request | lb daemon's core (conn / req) \
         | errors (conn / req) | app1 / app2 % |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
    for r in results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} |",
            r.variant.name(),
            rate(r.rate(Mode::Connections)),
            us(r.cpu_us(Mode::Connections)),
            us(extra(r, Mode::Connections)),
            rate(r.rate(Mode::Requests)),
            us(r.cpu_us(Mode::Requests)),
            us(extra(r, Mode::Requests)),
            daemon(r),
            r.errors(Mode::Connections),
            r.errors(Mode::Requests),
            r.split(Mode::Connections),
        );
    }

    let mut pairs: Vec<(Variant, Variant)> = Vec::new();
    for v in [Variant::BatonNat, Variant::BatonDr] {
        if let Some(floor) = v.floor() {
            pairs.push((v, floor));
        }
    }
    for v in [
        Variant::BatonNat,
        Variant::BatonDr,
        Variant::StaticNat,
        Variant::StaticDr,
    ] {
        pairs.push((v, Variant::Haproxy));
    }
    let _ = writeln!(
        out,
        "\n| ratio | connections/s | requests/s | extra CPU per connection | extra CPU per request |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for (a, b) in pairs {
        let (Some(ra), Some(rb)) = (find(a), find(b)) else {
            continue;
        };
        let _ = writeln!(
            out,
            "| {} / {} | {} | {} | {} | {} |",
            a.name(),
            b.name(),
            ratio(ra.rate(Mode::Connections), rb.rate(Mode::Connections)),
            ratio(ra.rate(Mode::Requests), rb.rate(Mode::Requests)),
            ratio(extra(ra, Mode::Connections), extra(rb, Mode::Connections)),
            ratio(extra(ra, Mode::Requests), extra(rb, Mode::Requests)),
        );
    }
    let _ = writeln!(
        out,
        "\nMedians of the rounds. CPU: the whole machine's busy time (user, nice, system, irq, \
         softirq from /proc/stat) over the measured window, per answered connection or request; \
         extra = minus the direct path's median. lb daemon's core: the share of one core baton's or \
         HAProxy's process used, with the programs it ran (baton's nft and conntrack reads of \
         its counters); part of the CPU figures. Rates above 1 mean the first is faster; extra \
         CPU below 1 means it is cheaper. Targets (issue): baton at least 0.95 of the static \
         rule's rates, and extra CPU per connection at most 0.25 of HAProxy's."
    );
    for r in results {
        for failure in &r.failures {
            let _ = writeln!(out, "\n{} failed a run: {failure}", r.variant.name());
        }
    }
    out
}
