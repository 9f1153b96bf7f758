//! The metric names a PromQL expression selects, without a PromQL parser: strip what can
//! hold other words (strings, label matchers, ranges, grouping label lists), then every
//! identifier that is neither a keyword, a function, nor a Grafana `$variable` is a metric.
//! promtool checks the syntax itself (dashboards.rs); this only has to find the names.

use std::collections::BTreeSet;

/// Binary operators, modifiers and literals that read like identifiers (the label-list
/// modifiers are in [`LABEL_LISTS`]).
const KEYWORDS: [&str; 8] = [
    "and", "or", "unless", "atan2", "bool", "offset", "inf", "nan",
];

/// Aggregation operators: followed by `(`, or by `by (...)` / `without (...)` first.
const AGGREGATIONS: [&str; 12] = [
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
];

/// Modifiers followed by a list of label names, never metrics (`group_left` may also stand
/// alone).
const LABEL_LISTS: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// Every metric name `expr` selects.
pub(crate) fn metric_names(expr: &str) -> BTreeSet<String> {
    let text = strip_enclosed(expr);
    let chars: Vec<char> = text.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '$' {
            // A Grafana variable ($instance, $__rate_interval): skip its name.
            i = skip_word(&chars, i + 1);
        } else if c.is_ascii_digit() || c == '.' {
            i = skip_number(&chars, i);
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let end = skip_word(&chars, i);
            let word: String = chars[i..end].iter().collect();
            let next = chars[end..].iter().find(|c| !c.is_whitespace());
            i = end;
            if LABEL_LISTS.contains(&word.as_str()) {
                if next == Some(&'(') {
                    i = skip_past(&chars, i, ')');
                }
            } else if next == Some(&'(')
                || KEYWORDS.contains(&word.as_str())
                || AGGREGATIONS.contains(&word.as_str())
            {
                // A function or aggregation, or an operator.
            } else {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// `expr` with string literals, `{...}` label matchers and `[...]` ranges replaced by a
/// space: what they hold (label names, regular expressions, durations) is no metric.
fn strip_enclosed(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut chars = expr.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => skip_string(&mut chars, c),
            '{' => skip_until(&mut chars, '}'),
            '[' => skip_until(&mut chars, ']'),
            _ => {
                out.push(c);
                continue;
            }
        }
        out.push(' ');
    }
    out
}

/// Past the end of a string opened by `quote` (backslash escapes, except in backticks).
fn skip_string(chars: &mut std::str::Chars<'_>, quote: char) {
    while let Some(c) = chars.next() {
        if c == '\\' && quote != '`' {
            chars.next();
        } else if c == quote {
            return;
        }
    }
}

/// Past `close`, skipping strings inside (a regular expression may hold `}`).
fn skip_until(chars: &mut std::str::Chars<'_>, close: char) {
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => skip_string(chars, c),
            _ if c == close => return,
            _ => {}
        }
    }
}

/// Past a number or duration at `start` (0.99, 1e-9, 0x1f, 5m), at least one character.
fn skip_number(chars: &[char], start: usize) -> usize {
    let mut i = start + 1;
    while let Some(c) = chars.get(i) {
        let exponent_sign = matches!(c, '+' | '-') && matches!(chars[i - 1], 'e' | 'E');
        if !(c.is_ascii_alphanumeric() || *c == '.' || *c == '_' || exponent_sign) {
            break;
        }
        i += 1;
    }
    i
}

fn skip_word(chars: &[char], start: usize) -> usize {
    let mut i = start;
    while chars
        .get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
    {
        i += 1;
    }
    i
}

/// The index after the next `close` from `start`.
fn skip_past(chars: &[char], start: usize, close: char) -> usize {
    chars[start..]
        .iter()
        .position(|c| *c == close)
        .map_or(chars.len(), |at| start + at + 1)
}

#[cfg(test)]
mod tests {
    use super::metric_names;

    fn names(expr: &str) -> Vec<String> {
        metric_names(expr).into_iter().collect()
    }

    #[test]
    fn finds_metrics_and_nothing_else() {
        let expr = r#"histogram_quantile(0.99, sum by (backend, le) (rate(baton_a_bucket{code="5xx", instance=~"$instance", x="{up}"}[$__rate_interval])))
            / on (instance) group_left (version) baton_b > bool 1e-9 unless baton_c offset 5m
            or max without(state) (baton_d * 2)"#;
        assert_eq!(
            names(expr),
            ["baton_a_bucket", "baton_b", "baton_c", "baton_d"]
        );
        assert_eq!(names(r#"up{job=~"baton.*"} == 0"#), ["up"]);
        assert_eq!(names("sum(rate(x[5m])) by (le)"), ["x"]);
        assert_eq!(
            names("count by (a) (y) + topk without (b) (3, z)"),
            ["y", "z"]
        );
        assert!(names("vector(0)").is_empty());
        assert_eq!(names("0.5 * .5 + 1e+3 - 0x1F / a"), ["a"]);
    }
}
