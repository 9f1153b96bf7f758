//! The `track_*` lists of `[[vrrp]]` instances and sync groups: each entry a name or
//! `{ name, weight }`.

use toml::{Spanned, Value};

use super::{Checked, Reader};
use crate::diagnostic::Location;
use crate::fields;
use crate::model::{TrackFileRef, TrackInterface, TrackScriptRef};

impl Reader<'_> {
    /// `track_interface`, `track_script`, `track_file`: each entry a name or
    /// `{ name, weight }`.
    pub(super) fn tracks(
        &mut self,
        c: &str,
        interfaces: Option<Vec<Spanned<Value>>>,
        scripts: Option<Vec<Spanned<Value>>>,
        files: Option<Vec<Spanned<Value>>>,
        out: (
            &mut Vec<TrackInterface>,
            &mut Vec<TrackScriptRef>,
            &mut Vec<TrackFileRef>,
        ),
    ) {
        let weight = fields::TRACK_WEIGHT;
        let list = self.track_list(
            c,
            "track_interface",
            weight,
            interfaces,
            |name, w, location| TrackInterface {
                name,
                weight: w.unwrap_or(0),
                reverse: false,
                location: location.into(),
            },
        );
        out.0.extend(list);
        let list = self.track_list(
            c,
            "track_script",
            weight,
            scripts,
            |name, weight, location| TrackScriptRef {
                name,
                weight,
                reverse: None,
                location: location.into(),
            },
        );
        out.1.extend(list);
        let weight = fields::TRACK_FILE_REF_WEIGHT;
        let list = self.track_list(c, "track_file", weight, files, |name, weight, location| {
            TrackFileRef {
                name,
                weight,
                reverse: None,
                location: location.into(),
            }
        });
        out.2.extend(list);
    }

    /// The entries of one `track_*` list (`what`): each a name or `{ name, weight }`, the
    /// weight within `-max_weight..=max_weight`.
    pub(super) fn track_list<T>(
        &mut self,
        c: &str,
        what: &str,
        max_weight: i64,
        items: Option<Vec<Spanned<Value>>>,
        make: impl Fn(String, Option<i32>, Location) -> T,
    ) -> Vec<T> {
        let mut list = Vec::new();
        for item in items.unwrap_or_default() {
            let location = self.at(item.span().start);
            let result = track_entry(item.get_ref(), what, max_weight);
            if let Some((name, weight)) = self.check(item.span().start, c, result) {
                list.push(make(name, weight, location));
            }
        }
        list
    }
}

/// A tracked object: `"name"` or `{ name = "...", weight = N }`.
fn track_entry(value: &Value, what: &str, max_weight: i64) -> Checked<(String, Option<i32>)> {
    match value {
        Value::String(name) => Ok((name.clone(), None)),
        Value::Table(table) => {
            let mut name = None;
            let mut weight = None;
            for (key, value) in table {
                match (key.as_str(), value) {
                    ("name", Value::String(n)) => name = Some(n.clone()),
                    ("weight", Value::Integer(w)) => {
                        let checked = fields::weight("weight", *w, max_weight);
                        weight = Some(checked.map_err(|e| format!("{what}: {e}"))?);
                    }
                    _ => return Err(format!("{what}: unexpected '{key} = {value}'")),
                }
            }
            let name = name.ok_or_else(|| format!("{what}: no 'name'"))?;
            Ok((name, weight))
        }
        _ => Err(format!(
            "{what} entries are names or {{ name, weight }} tables"
        )),
    }
}
