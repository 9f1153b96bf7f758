//! The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` once per
//! family, then its samples, one per line.
//!
//! Hand-written rather than the `prometheus-client` crate: every value baton exports is
//! already counted elsewhere (atomics in the proxy, the VRRP engine's statistics), so a
//! scrape only copies numbers out; a registry of metric objects would duplicate that state
//! or need a custom collector for each family, for a format that is this small.

use std::fmt::{Display, Write as _};

use baton_proxy::Histogram;

/// The `Content-Type` of what [`Encoder::finish`] returns.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The kinds of family baton exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Writes families one after the other. Samples belong to the family last started, so a
/// family's samples stay together as the format requires.
#[derive(Debug, Default)]
pub(crate) struct Encoder {
    out: String,
}

impl Encoder {
    /// Starts a family: its `# HELP` and `# TYPE` lines.
    pub(crate) fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let _ = writeln!(
            self.out,
            "# HELP {name} {}\n# TYPE {name} {}",
            escape_help(help),
            kind.as_str()
        );
    }

    /// One sample of a counter or gauge.
    pub(crate) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.out.push_str(name);
        self.labels(labels, None);
        let _ = writeln!(self.out, " {value}");
    }

    /// One histogram (of the family `name`): its cumulative `_bucket` series, ending with
    /// `le="+Inf"`, then `_sum` and `_count`.
    pub(crate) fn histogram(&mut self, name: &str, labels: &[(&str, &str)], histogram: &Histogram) {
        let bounds = histogram
            .bounds
            .iter()
            .map(|bound| bound.to_string())
            .chain(std::iter::once("+Inf".to_owned()));
        for (le, count) in bounds.zip(&histogram.cumulative) {
            let _ = write!(self.out, "{name}_bucket");
            self.labels(labels, Some(&le));
            let _ = writeln!(self.out, " {count}");
        }
        let _ = write!(self.out, "{name}_sum");
        self.labels(labels, None);
        let _ = writeln!(self.out, " {}", histogram.sum);
        let _ = write!(self.out, "{name}_count");
        self.labels(labels, None);
        let _ = writeln!(self.out, " {}", histogram.count);
    }

    /// The whole exposition.
    pub(crate) fn finish(self) -> String {
        self.out
    }

    fn labels(&mut self, labels: &[(&str, &str)], le: Option<&str>) {
        if labels.is_empty() && le.is_none() {
            return;
        }
        self.out.push('{');
        let all = labels.iter().copied().chain(le.map(|le| ("le", le)));
        for (i, (name, value)) in all.enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            let _ = write!(self.out, "{name}=\"{}\"", escape_label(value));
        }
        self.out.push('}');
    }
}

/// Label values escape backslash, double quote and line feed.
fn escape_label(value: &str) -> String {
    escape(value, true)
}

/// Help text escapes backslash and line feed only.
fn escape_help(text: &str) -> String {
    escape(text, false)
}

fn escape(text: &str, quote: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_have_help_and_type_before_their_samples() {
        let mut encoder = Encoder::default();
        encoder.family("baton_x_total", Kind::Counter, "Things that happened.");
        encoder.sample("baton_x_total", &[("instance", "VI_1")], 3);
        encoder.sample("baton_x_total", &[("instance", "VI_2")], 0);
        encoder.family("baton_y", Kind::Gauge, "A level.");
        encoder.sample("baton_y", &[], 1.5);
        assert_eq!(
            encoder.finish(),
            "# HELP baton_x_total Things that happened.\n\
             # TYPE baton_x_total counter\n\
             baton_x_total{instance=\"VI_1\"} 3\n\
             baton_x_total{instance=\"VI_2\"} 0\n\
             # HELP baton_y A level.\n\
             # TYPE baton_y gauge\n\
             baton_y 1.5\n"
        );
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut encoder = Encoder::default();
        encoder.family(
            "baton_z",
            Kind::Gauge,
            "Back\\slash and\nnewline, \"quotes\" kept.",
        );
        encoder.sample("baton_z", &[("name", "a\"b\\c\nd"), ("plain", "é ok")], 1);
        assert_eq!(
            encoder.finish(),
            "# HELP baton_z Back\\\\slash and\\nnewline, \"quotes\" kept.\n\
             # TYPE baton_z gauge\n\
             baton_z{name=\"a\\\"b\\\\c\\nd\",plain=\"é ok\"} 1\n"
        );
    }

    #[test]
    fn histograms_are_cumulative_with_inf_sum_and_count() {
        let histogram = Histogram {
            bounds: &[0.005, 0.5, 1.0],
            cumulative: vec![1, 3, 3, 4],
            sum: 2.25,
            count: 4,
        };
        let mut encoder = Encoder::default();
        encoder.family("baton_h_seconds", Kind::Histogram, "Times.");
        encoder.histogram("baton_h_seconds", &[("server", "[::1]:80")], &histogram);
        assert_eq!(
            encoder.finish(),
            "# HELP baton_h_seconds Times.\n\
             # TYPE baton_h_seconds histogram\n\
             baton_h_seconds_bucket{server=\"[::1]:80\",le=\"0.005\"} 1\n\
             baton_h_seconds_bucket{server=\"[::1]:80\",le=\"0.5\"} 3\n\
             baton_h_seconds_bucket{server=\"[::1]:80\",le=\"1\"} 3\n\
             baton_h_seconds_bucket{server=\"[::1]:80\",le=\"+Inf\"} 4\n\
             baton_h_seconds_sum{server=\"[::1]:80\"} 2.25\n\
             baton_h_seconds_count{server=\"[::1]:80\"} 4\n"
        );
    }
}
