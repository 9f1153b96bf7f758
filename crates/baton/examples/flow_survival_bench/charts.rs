//! The table's pictures: per fault, the share of connections that survived and the longest
//! pause, one bar per variant and connection count.

use crate::common::svg::{Bars, Table, number, pivot, slug, tables};

/// `(file stem, svg)` for each fault in the report's table; `note` says which run it is.
pub(crate) fn charts(report: &str, note: &str) -> Vec<(String, String)> {
    let Some(table) = tables(report).into_iter().find(|t| t.has("survived")) else {
        return Vec::new();
    };
    let mut faults: Vec<&str> = Vec::new();
    for row in &table.rows {
        let fault = table.cell(row, "fault").unwrap_or("");
        if !faults.contains(&fault) {
            faults.push(fault);
        }
    }
    let mut out = Vec::new();
    for fault in faults {
        let rows: Vec<&Vec<String>> = table
            .rows
            .iter()
            .filter(|r| table.cell(r, "fault") == Some(fault))
            .collect();
        let stem = format!("flow-survival-{}", slug(fault));
        let survived = chart(&table, &rows, "survived", "%", |cell| {
            let (kept, of) = cell.split_once(" / ")?;
            Some(100.0 * number(kept)? / number(of)?)
        });
        let pause = chart(&table, &rows, "longest pause", "ms", number);
        out.push((
            format!("{stem}-survived"),
            Bars {
                title: format!("Connections that survived failover ({fault})"),
                note: note.into(),
                ..survived
            }
            .render(),
        ));
        out.push((
            format!("{stem}-pause"),
            Bars {
                title: format!("Longest pause of a surviving connection ({fault})"),
                note: note.into(),
                ..pause
            }
            .render(),
        ));
    }
    out
}

/// One bar per connection count, one group per variant.
fn chart(
    table: &Table,
    rows: &[&Vec<String>],
    column: &str,
    unit: &str,
    value: fn(&str) -> Option<f64>,
) -> Bars {
    let bars = Bars::of(pivot(
        rows.iter().copied(),
        |row| table.cell(row, "variant").unwrap_or("").to_owned(),
        |row| {
            let count = table.cell(row, "connections (counter every)").unwrap_or("");
            format!("{} connections", count.split(' ').next().unwrap_or(""))
        },
        |row| table.cell(row, column).and_then(value),
    ));
    Bars {
        unit: unit.into(),
        ..bars
    }
}
