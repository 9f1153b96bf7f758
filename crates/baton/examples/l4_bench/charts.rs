//! The table's pictures: connection and request rates per variant, and the CPU each
//! variant adds over the direct path.

use crate::common::svg::{Bars, Table, columns, tables};

/// `(file stem, svg)` for the variants' table in the report; `note` says which run it is.
pub(crate) fn charts(report: &str, note: &str) -> Vec<(String, String)> {
    let Some(table) = tables(report)
        .into_iter()
        .find(|t| t.has("variant") && t.has("connections/s"))
    else {
        return Vec::new();
    };
    let rates = by_variant(
        &table,
        &[("connections/s", "connections"), ("requests/s", "requests")],
    );
    let extra = by_variant(
        &table,
        &[
            ("extra CPU per connection", "per connection"),
            ("extra CPU per request", "per request"),
        ],
    );
    vec![
        (
            "l4-rates".into(),
            Bars {
                title: "L4: connections and requests per second (higher is better)".into(),
                unit: "/s".into(),
                note: note.into(),
                ..rates
            }
            .render(),
        ),
        (
            "l4-extra-cpu".into(),
            Bars {
                title: "L4: CPU added over the direct path (lower is better)".into(),
                unit: "µs".into(),
                note: note.into(),
                ..extra
            }
            .render(),
        ),
    ]
}

/// One group per variant, one bar per `(column, series name)`.
fn by_variant(table: &Table, wanted: &[(&str, &str)]) -> Bars {
    Bars::of(columns(
        table,
        |row| table.cell(row, "variant").unwrap_or("").to_owned(),
        wanted,
    ))
}
