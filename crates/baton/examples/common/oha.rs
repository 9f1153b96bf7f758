//! oha, the load generator (`cargo install oha --locked`): where it is, and what its JSON
//! report (`--output-format json`) says.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// `OHA`, else `oha` on PATH, else `~/.cargo/bin/oha` (where `cargo install` puts it, not on
/// PATH under sudo).
pub(crate) fn find() -> Result<PathBuf> {
    std::env::var_os("OHA")
        .map(PathBuf::from)
        .or_else(|| super::programs::find("oha"))
        .or_else(|| {
            let home = std::env::var_os("HOME")?;
            Some(PathBuf::from(home).join(".cargo/bin/oha")).filter(|p| p.is_file())
        })
        .context("oha not found: `cargo install oha --locked` (or set OHA=/path/to/oha)")
}

/// One oha run, summed up.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    /// 200 answers.
    pub(crate) ok: u64,
    /// Other statuses and errors (refused, reset, timed out), not counting requests that the
    /// end of a `-z` run cut off.
    pub(crate) failed: u64,
    /// Each kind of failure and how often, for the log.
    pub(crate) failures: Vec<(String, u64)>,
    /// Wall time of the run, seconds.
    pub(crate) seconds: f64,
    /// Latencies of the requests that got an answer (oha has none for errors), seconds.
    pub(crate) p50: Option<f64>,
    pub(crate) p99: Option<f64>,
    pub(crate) slowest: Option<f64>,
    /// oha's latency histogram of the answered requests: `(upper bound in seconds, count)`,
    /// equal-width buckets from the fastest to the slowest request.
    pub(crate) histogram: Vec<(f64, u64)>,
}

impl Report {
    pub(crate) fn parse(json: &[u8]) -> Result<Report> {
        let json: serde_json::Value = serde_json::from_slice(json).context("oha's JSON output")?;
        let count = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
        let mut report = Report {
            ok: 0,
            failed: 0,
            failures: Vec::new(),
            seconds: json["summary"]["total"]
                .as_f64()
                .filter(|&s| s > 0.0)
                .context("oha reported no run time")?,
            p50: json["latencyPercentiles"]["p50"].as_f64(),
            p99: json["latencyPercentiles"]["p99"].as_f64(),
            slowest: json["summary"]["slowest"].as_f64(),
            histogram: Vec::new(),
        };
        if let Some(buckets) = json["responseTimeHistogram"].as_object() {
            report.histogram = buckets
                .iter()
                .filter_map(|(bound, n)| Some((bound.parse::<f64>().ok()?, count(n))))
                .collect();
            report.histogram.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        if let Some(codes) = json["statusCodeDistribution"].as_object() {
            for (code, n) in codes {
                if code == "200" {
                    report.ok += count(n);
                } else {
                    report.failed += count(n);
                    report.failures.push((format!("HTTP {code}"), count(n)));
                }
            }
        }
        if let Some(errors) = json["errorDistribution"].as_object() {
            // oha's own name for a request cut off by the end of `-z`.
            for (error, n) in errors.iter().filter(|(e, _)| !e.contains("deadline")) {
                report.failed += count(n);
                report.failures.push((error.clone(), count(n)));
            }
        }
        // With no answered request oha reports zeros, which are not latencies.
        if report.ok == 0 {
            (report.p50, report.p99, report.slowest) = (None, None, None);
        }
        Ok(report)
    }

    /// Answered requests that certainly took longer than `seconds`: those in histogram
    /// buckets lying wholly above it (a bucket holds the latencies above the previous
    /// bucket's bound up to its own).
    pub(crate) fn slower_than(&self, seconds: f64) -> u64 {
        self.histogram
            .windows(2)
            .filter(|pair| pair[0].0 >= seconds)
            .map(|pair| pair[1].1)
            .sum()
    }

    /// 200 answers per second.
    pub(crate) fn rps(&self) -> f64 {
        self.ok as f64 / self.seconds
    }

    /// `"  !!! 3 failed requests (connection reset: 3)"`, or nothing when none failed.
    pub(crate) fn failure_note(&self) -> String {
        if self.failed == 0 {
            return String::new();
        }
        let kinds: Vec<String> = self
            .failures
            .iter()
            .map(|(kind, n)| format!("{kind}: {n}"))
            .collect();
        format!(
            "  !!! {} failed requests ({})",
            self.failed,
            kinds.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_cuts_are_not_failures() {
        let json = br#"{"summary":{"total":2.0,"slowest":0.5},
            "latencyPercentiles":{"p50":0.001,"p99":0.01},
            "responseTimeHistogram":{"0.0":90,"0.25":8,"0.5":3,"0.75":0,"1.0":1},
            "statusCodeDistribution":{"200":100,"502":2},
            "errorDistribution":{"aborted due to deadline":7,"connection reset":1}}"#;
        let report = Report::parse(json).unwrap();
        assert_eq!((report.ok, report.failed), (100, 3));
        assert_eq!(report.rps(), 50.0);
        assert_eq!(report.slowest, Some(0.5));
        // (0.5, 0.75] and (0.75, 1.0]: 0 + 1; the (0.25, 0.5] bucket may hold 0.3 s.
        assert_eq!(report.slower_than(0.5), 1);
        assert_eq!(report.slower_than(0.3), 1);
        assert_eq!(report.slower_than(0.25), 4);
    }
}
