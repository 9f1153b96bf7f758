//! The speed table's pictures: proxy CPU per request, latency at the fixed rate (p50 and
//! p99) and the highest rate, one bar per proxy, one group per connection count.

use crate::common::svg::{Bars, Table, number, pivot, tables};

/// `(file stem, svg)` for the speed table in the report; `note` says which run it is.
pub(crate) fn charts(report: &str, note: &str) -> Vec<(String, String)> {
    let Some(table) = tables(report)
        .into_iter()
        .find(|t| t.has("proxy CPU per request"))
    else {
        return Vec::new();
    };
    [
        (
            "proxy-cpu-per-request",
            "proxy CPU per request",
            "µs",
            "Proxy CPU per request (lower is better)",
        ),
        (
            "proxy-latency-p50",
            "p50",
            "ms",
            "Median latency at the fixed rate (lower is better)",
        ),
        (
            "proxy-latency-p99",
            "p99",
            "ms",
            "99th percentile latency at the fixed rate (lower is better)",
        ),
        (
            "proxy-max-rate",
            "max req/s",
            "req/s",
            "Highest request rate (higher is better)",
        ),
    ]
    .into_iter()
    .map(|(stem, column, unit, title)| {
        let chart = by_proxy(&table, column);
        let svg = Bars {
            title: title.into(),
            unit: unit.into(),
            note: note.into(),
            ..chart
        }
        .render();
        (stem.to_owned(), svg)
    })
    .collect()
}

/// One group per connection count, one bar per proxy.
fn by_proxy(table: &Table, column: &str) -> Bars {
    Bars::of(pivot(
        &table.rows,
        |row| {
            format!(
                "{} connections",
                table.cell(row, "connections").unwrap_or("")
            )
        },
        |row| table.cell(row, "proxy").unwrap_or("").to_owned(),
        |row| table.cell(row, column).and_then(number),
    ))
}
