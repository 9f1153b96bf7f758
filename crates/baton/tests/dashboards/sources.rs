//! What the checked-in dashboard and rules hold: their PromQL expressions, the dashboard's
//! variables and panels, the alerts' names, the rule tests' input series. The workspace
//! has no YAML crate: the rules files are read by lines, which their layout allows (one
//! key per line, multi-line expressions as `|` blocks); promtool reads them for real.

use std::path::PathBuf;

use serde_json::Value;

/// `contrib/<path>` in the repository.
pub(crate) fn contrib(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../contrib")
        .join(path)
}

pub(crate) fn read(path: &str) -> String {
    let path = contrib(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The Grafana dashboard, contrib/grafana/baton.json.
#[derive(Debug)]
pub(crate) struct Dashboard(pub(crate) Value);

impl Dashboard {
    pub(crate) fn load() -> Dashboard {
        let text = read("grafana/baton.json");
        Dashboard(serde_json::from_str(&text).expect("baton.json is JSON"))
    }

    /// The template variables.
    pub(crate) fn variables(&self) -> &[Value] {
        self.0["templating"]["list"]
            .as_array()
            .map_or(&[][..], Vec::as_slice)
    }

    /// Every panel, rows' nested panels included.
    pub(crate) fn panels(&self) -> Vec<&Value> {
        let top = self.0["panels"].as_array().map_or(&[][..], Vec::as_slice);
        top.iter()
            .flat_map(|p| {
                let nested = p["panels"].as_array().map_or(&[][..], Vec::as_slice);
                std::iter::once(p).chain(nested)
            })
            .collect()
    }

    /// Every PromQL expression: the panels' and annotations' `expr`, and the series
    /// selector of each `label_values(SELECTOR, LABEL)` variable query.
    pub(crate) fn exprs(&self) -> Vec<String> {
        let mut exprs = Vec::new();
        collect_exprs(&self.0["panels"], &mut exprs);
        collect_exprs(&self.0["annotations"], &mut exprs);
        for variable in self.variables() {
            if variable["type"] != "query" {
                continue;
            }
            let query = variable["query"]["query"]
                .as_str()
                .or(variable["query"].as_str())
                .expect("a query variable has a query");
            exprs.push(label_values_selector(query).to_owned());
        }
        exprs
    }
}

fn collect_exprs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", Value::String(expr)) => out.push(expr.clone()),
                    _ => collect_exprs(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}

/// `SELECTOR` of Grafana's `label_values(SELECTOR, LABEL)`; other queries whole.
fn label_values_selector(query: &str) -> &str {
    query
        .trim()
        .strip_prefix("label_values(")
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|args| args.rsplit_once(','))
        .map_or(query, |(selector, _label)| selector.trim())
}

/// The values of every `key:` in a YAML file laid out one key per line: plain or quoted
/// on the line, or a `|` / `>` block on the lines indented deeper than the key.
pub(crate) fn yaml_values(text: &str, key: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let needle = format!("{key}:");
    let mut values = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let body = line.trim_start().trim_start_matches("- ").trim_start();
        let Some(rest) = body.strip_prefix(&needle) else {
            continue;
        };
        let rest = rest.trim();
        if rest.starts_with('|') || rest.starts_with('>') {
            let column = line.len() - body.len();
            let block: Vec<&str> = lines[n + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || indent(l) > column)
                .map(|l| l.trim())
                .collect();
            values.push(block.join("\n").trim().to_owned());
        } else {
            values.push(unquote(rest));
        }
    }
    values
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// A YAML scalar written on one line: single quotes double `'`, double quotes escape.
fn unquote(value: &str) -> String {
    if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        inner.replace("''", "'")
    } else if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        inner.replace("\\\"", "\"").replace("\\\\", "\\")
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::{label_values_selector, yaml_values};

    #[test]
    fn reads_one_line_and_block_values() {
        let text = "groups:\n  - rules:\n      - alert: A\n        expr: up == 0\n      \
                    - alert: 'B'\n        expr: |\n          sum(x)\n\n            / sum(y)\n        \
                    for: 1m\n      - record: r\n        expr: \"z{a=\\\"b\\\"}\"\n";
        assert_eq!(yaml_values(text, "alert"), ["A", "B"]);
        assert_eq!(
            yaml_values(text, "expr"),
            ["up == 0", "sum(x)\n\n/ sum(y)", "z{a=\"b\"}"]
        );
    }

    #[test]
    fn label_values_gives_its_selector() {
        assert_eq!(
            label_values_selector("label_values(m{a=~\"$a\", b=\"c,d\"}, label)"),
            "m{a=~\"$a\", b=\"c,d\"}"
        );
        assert_eq!(
            label_values_selector("query_result(up)"),
            "query_result(up)"
        );
    }
}
