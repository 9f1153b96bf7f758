//! SVG charts for the benchmarks' reports, written by hand (a few elements; no crate needed).
//!
//! Charts are drawn from the markdown tables a benchmark prints, so a live run (`--svg DIR`)
//! and a saved report (`--svg-from REPORT`) go through the same path and give the same picture
//! for the same numbers.

use std::fmt::Write as _;
use std::path::Path;

/// Fill colours of the series, in order (colour-blind-safe Okabe–Ito hues).
const COLOURS: [&str; 6] = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00",
];
const WIDTH: f64 = 720.0;
const LABELS: f64 = 200.0;
const PLOT: f64 = 400.0;
const BAR: f64 = 16.0;
const GROUP_GAP: f64 = 12.0;
const TOP: f64 = 56.0;

/// One row of bars: a label and a value per series (`None`: not measured, drawn as "n/a").
pub(crate) struct Group {
    pub(crate) label: String,
    pub(crate) values: Vec<Option<f64>>,
}

/// A grouped horizontal bar chart: one group per row label, one bar per series.
pub(crate) struct Bars {
    pub(crate) title: String,
    /// The unit printed after each value and on the axis, e.g. "ms".
    pub(crate) unit: String,
    pub(crate) series: Vec<String>,
    pub(crate) groups: Vec<Group>,
    /// A line under the chart saying where the numbers come from.
    pub(crate) note: String,
}

/// Text safe inside SVG elements and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A value as printed next to its bar: three significant digits at most, no trailing noise.
fn figure(value: f64) -> String {
    if value == 0.0 {
        "0".into()
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

impl Bars {
    /// The bars of `pivot` or `columns`, the title, unit and note left to fill in.
    pub(crate) fn of((series, groups): (Vec<String>, Vec<Group>)) -> Bars {
        Bars {
            title: String::new(),
            unit: String::new(),
            series,
            groups,
            note: String::new(),
        }
    }

    pub(crate) fn render(&self) -> String {
        let largest = self
            .groups
            .iter()
            .flat_map(|g| g.values.iter().flatten())
            .fold(0.0_f64, |a, &b| a.max(b));
        let scale = if largest > 0.0 { PLOT / largest } else { 0.0 };
        let per_group = BAR * self.series.len() as f64 + GROUP_GAP;
        let plot_height = per_group * self.groups.len() as f64;
        let height = TOP + plot_height + 48.0;
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(
            svg,
            r#"<rect width="{WIDTH}" height="{height}" fill="white"/>"#
        );
        let _ = writeln!(
            svg,
            r#"<text x="10" y="20" font-size="15" font-weight="bold">{}</text>"#,
            escape(&self.title)
        );
        self.legend(&mut svg);
        for (index, group) in self.groups.iter().enumerate() {
            let y = TOP + per_group * index as f64;
            let _ = writeln!(
                svg,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
                LABELS - 8.0,
                y + per_group / 2.0,
                escape(&group.label)
            );
            for (bar, value) in group.values.iter().enumerate() {
                let top = y + BAR * bar as f64;
                let colour = COLOURS[bar % COLOURS.len()];
                let series = self.series.get(bar).map_or("", String::as_str);
                let Some(value) = value else {
                    let _ = writeln!(
                        svg,
                        r##"<text x="{}" y="{}" fill="#666">{} n/a</text>"##,
                        LABELS + 4.0,
                        top + BAR - 4.0,
                        escape(series)
                    );
                    continue;
                };
                let width = value * scale;
                let _ = writeln!(
                    svg,
                    r#"<rect x="{LABELS}" y="{top}" width="{width:.1}" height="{}" fill="{colour}"><title>{}: {} {}</title></rect>"#,
                    BAR - 2.0,
                    escape(series),
                    figure(*value),
                    escape(&self.unit)
                );
                let _ = writeln!(
                    svg,
                    r#"<text x="{:.1}" y="{}">{} {}</text>"#,
                    LABELS + width + 4.0,
                    top + BAR - 4.0,
                    figure(*value),
                    escape(&self.unit)
                );
            }
        }
        let axis = TOP + plot_height;
        let _ = writeln!(
            svg,
            r##"<line x1="{LABELS}" y1="{}" x2="{LABELS}" y2="{axis}" stroke="#333"/>"##,
            TOP - 4.0
        );
        let _ = writeln!(
            svg,
            r##"<text x="{LABELS}" y="{}" fill="#333">0 {} (bars to scale; largest {} {})</text>"##,
            axis + 16.0,
            escape(&self.unit),
            figure(largest),
            escape(&self.unit)
        );
        let _ = writeln!(
            svg,
            r##"<text x="10" y="{}" font-size="11" fill="#555">{}</text>"##,
            axis + 36.0,
            escape(&self.note)
        );
        svg.push_str("</svg>\n");
        svg
    }

    fn legend(&self, svg: &mut String) {
        let mut x = LABELS;
        for (index, name) in self.series.iter().enumerate() {
            let colour = COLOURS[index % COLOURS.len()];
            let _ = writeln!(
                svg,
                r#"<rect x="{x}" y="30" width="12" height="12" fill="{colour}"/><text x="{}" y="40">{}</text>"#,
                x + 16.0,
                escape(name)
            );
            x += 28.0 + 7.0 * name.chars().count() as f64;
        }
    }
}

/// Bars from table rows: one group per distinct `group(row)`, one series per distinct
/// `series(row)`, both in order of first appearance, the bar's value `value(row)`.
pub(crate) fn pivot<'a>(
    rows: impl IntoIterator<Item = &'a Vec<String>>,
    group: impl Fn(&[String]) -> String,
    series: impl Fn(&[String]) -> String,
    value: impl Fn(&[String]) -> Option<f64>,
) -> (Vec<String>, Vec<Group>) {
    let mut names: Vec<String> = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    for row in rows {
        let name = series(row);
        let bar = names.iter().position(|s| *s == name).unwrap_or_else(|| {
            names.push(name);
            names.len() - 1
        });
        let label = group(row);
        let index = match groups.iter().position(|g| g.label == label) {
            Some(index) => index,
            None => {
                groups.push(Group {
                    label,
                    values: Vec::new(),
                });
                groups.len() - 1
            }
        };
        let values = &mut groups[index].values;
        values.resize(values.len().max(bar + 1), None);
        values[bar] = value(row);
    }
    (names, groups)
}

/// Bars from table rows: one group per row labelled `label(row)`, one series per
/// `(column header, series name)`, the bar's value the number in that column.
pub(crate) fn columns(
    table: &Table,
    label: impl Fn(&[String]) -> String,
    columns: &[(&str, &str)],
) -> (Vec<String>, Vec<Group>) {
    let series = columns.iter().map(|&(_, name)| name.to_owned()).collect();
    let groups = table
        .rows
        .iter()
        .map(|row| Group {
            label: label(row),
            values: columns
                .iter()
                .map(|&(column, _)| table.cell(row, column).and_then(number))
                .collect(),
        })
        .collect();
    (series, groups)
}

/// A markdown table as a benchmark prints it.
pub(crate) struct Table {
    pub(crate) header: Vec<String>,
    pub(crate) rows: Vec<Vec<String>>,
}

impl Table {
    /// The cell of `row` under the column whose header is `name`.
    pub(crate) fn cell<'a>(&self, row: &'a [String], name: &str) -> Option<&'a str> {
        let column = self.header.iter().position(|h| h == name)?;
        row.get(column).map(String::as_str)
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.header.iter().any(|h| h == name)
    }
}

fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(|c| c.trim().to_owned()).collect()
}

/// Every markdown table in `text` (a header line, a `|---|` line, then rows).
pub(crate) fn tables(text: &str) -> Vec<Table> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 1 < lines.len() {
        let is_rule = lines[i + 1].trim().starts_with("|---");
        if lines[i].trim().starts_with('|') && is_rule {
            let header = cells(lines[i]);
            let mut rows = Vec::new();
            i += 2;
            while i < lines.len() && lines[i].trim().starts_with('|') {
                rows.push(cells(lines[i]));
                i += 1;
            }
            found.push(Table { header, rows });
        } else {
            i += 1;
        }
    }
    found
}

/// The number a cell starts with: "3017.9 ms" → 3017.9, "100 / 100" → 100, "n/a" → None.
pub(crate) fn number(cell: &str) -> Option<f64> {
    let end = cell
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(cell.len());
    cell[..end].parse().ok()
}

/// A file-name-safe form of a label: "v3 advert 100 ms" → "v3-advert-100-ms".
pub(crate) fn slug(label: &str) -> String {
    let mut slug = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').to_owned()
}

/// `--svg-from REPORT` with `--svg DIR`: draws a saved report's charts (the bench's own
/// printed output, e.g. the tables in docs/benchmarks.md) without measuring anything.
pub(crate) fn from_saved(
    report: &Path,
    dir: &Path,
    charts: fn(&str, &str) -> Vec<(String, String)>,
) -> std::io::Result<()> {
    let text = std::fs::read_to_string(report)?;
    let name = report
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned());
    write_all(
        dir,
        &charts(&text, &format!("numbers from the saved report {name}")),
    )
}

/// Writes each `(file stem, svg)` into `dir` as `stem.svg` and says where.
pub(crate) fn write_all(dir: &Path, charts: &[(String, String)]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (stem, svg) in charts {
        let path = dir.join(format!("{stem}.svg"));
        std::fs::write(&path, svg)?;
        eprintln!("chart: {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the XML is well formed: tags nest and close, attributes are quoted, and no raw
    /// `<` or `&` appears in text (a tiny parser, enough for what `render` writes).
    fn well_formed(xml: &str) -> Result<(), String> {
        let mut open: Vec<String> = Vec::new();
        let mut rest = xml;
        while let Some(start) = rest.find(['<', '&']) {
            let (text, tail) = rest.split_at(start);
            if text.contains('>') {
                return Err(format!("stray '>' in {text:?}"));
            }
            if tail.starts_with('&') {
                let end = tail.find(';').ok_or("unterminated entity")?;
                let name = &tail[1..end];
                if !["amp", "lt", "gt", "quot", "apos"].contains(&name) {
                    return Err(format!("unknown entity {name}"));
                }
                rest = &tail[end + 1..];
                continue;
            }
            let end = tail.find('>').ok_or("unterminated tag")?;
            let tag = &tail[1..end];
            if tag.contains('<') {
                return Err(format!("'<' inside tag {tag:?}"));
            }
            if tag.matches('"').count() % 2 != 0 {
                return Err(format!("unbalanced quotes in {tag:?}"));
            }
            if let Some(name) = tag.strip_prefix('/') {
                match open.pop() {
                    Some(top) if top == name => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
            } else if !tag.ends_with('/') {
                let name = tag.split_whitespace().next().ok_or("empty tag")?;
                open.push(name.to_owned());
            }
            rest = &tail[end + 1..];
        }
        if open.is_empty() {
            Ok(())
        } else {
            Err(format!("left open: {open:?}"))
        }
    }

    fn chart() -> Bars {
        Bars {
            title: "outage <ms> & more".into(),
            unit: "ms".into(),
            series: vec!["baton".into(), "keepalived \"2.2.7\"".into()],
            groups: vec![
                Group {
                    label: "link cut".into(),
                    values: vec![Some(300.0), Some(150.0)],
                },
                Group {
                    label: "SIGTERM".into(),
                    values: vec![Some(75.0), None],
                },
            ],
            note: "from a test".into(),
        }
    }

    fn bar_widths(svg: &str) -> Vec<f64> {
        svg.lines()
            .filter(|l| l.starts_with("<rect x=\"200\"") && l.contains("<title>"))
            .filter_map(|l| {
                let w = l.split("width=\"").nth(1)?.split('"').next()?;
                w.parse().ok()
            })
            .collect()
    }

    #[test]
    fn chart_is_well_formed_xml_with_labels_escaped() {
        let svg = chart().render();
        well_formed(&svg).unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("outage &lt;ms&gt; &amp; more"), "{svg}");
        assert!(svg.contains("keepalived &quot;2.2.7&quot;"), "{svg}");
        assert!(!svg.contains("<ms>"));
        assert!(svg.contains("n/a"), "a missing value is said, not drawn");
        assert_eq!(figure(0.0), "0");
        assert_eq!(figure(3017.94), "3018");
        assert_eq!(figure(0.845), "0.84");
    }

    #[test]
    fn bars_scale_with_values() {
        let widths = bar_widths(&chart().render());
        assert_eq!(widths.len(), 3, "one bar per measured value");
        assert_eq!(widths[0], PLOT, "the largest value fills the plot");
        assert_eq!(widths[1], PLOT / 2.0);
        assert_eq!(widths[2], PLOT / 4.0);
    }

    #[test]
    fn checker_rejects_broken_xml() {
        assert!(well_formed("<svg><text>a < b</text></svg>").is_err());
        assert!(well_formed("<svg><g></svg>").is_err());
        assert!(well_formed("<svg>&nbsp;</svg>").is_err());
    }

    #[test]
    fn tables_are_read_back_from_a_report() {
        let report = "machine: x\n\n| setting | event | baton median outage |\n|---|---|---|\n\
                      | v2 advert 1 s | link cut | 3017.9 ms |\n| v3 | SIGTERM | n/a |\n\nnote\n";
        let found = tables(report);
        assert_eq!(found.len(), 1);
        let table = &found[0];
        assert_eq!(table.rows.len(), 2);
        let cell = table.cell(&table.rows[0], "baton median outage").unwrap();
        assert_eq!(number(cell), Some(3017.9));
        assert_eq!(
            number(table.cell(&table.rows[1], "baton median outage").unwrap()),
            None
        );
        assert_eq!(number("100 / 100 (worst run 100)"), Some(100.0));
        assert_eq!(slug("v3 advert 100 ms"), "v3-advert-100-ms");
    }

    #[test]
    fn pivot_makes_a_group_per_label_and_a_bar_per_series() {
        let rows: Vec<Vec<String>> = [
            ["50", "baton", "1"],
            ["50", "nginx", "2"],
            ["500", "nginx", "4"],
        ]
        .iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
        let (series, groups) = pivot(&rows, |r| r[0].clone(), |r| r[1].clone(), |r| number(&r[2]));
        assert_eq!(series, ["baton", "nginx"]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].values, [Some(1.0), Some(2.0)]);
        assert_eq!(
            groups[1].values,
            [None, Some(4.0)],
            "a missing series stays empty"
        );
    }
}
