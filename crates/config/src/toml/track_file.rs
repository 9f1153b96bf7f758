//! `[[track_file]]`: keepalived's `track_file`, with its key names.

use std::path::PathBuf;

use serde::Deserialize;
use toml::{Spanned, Value};

use super::{Checked, Reader};
use crate::fields;
use crate::model::InitFile;
use crate::spec::TrackFileDraft;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TrackFileToml {
    name: String,
    file: Option<String>,
    weight: Option<Spanned<i64>>,
    init_file: Option<Spanned<Value>>,
}

impl Reader<'_> {
    pub(super) fn track_file(
        &mut self,
        t: TrackFileToml,
        start: usize,
        removed: &[String],
    ) -> TrackFileDraft {
        let c = format!("track file {}", t.name);
        let weight = t.weight.and_then(|w| {
            let result = fields::weight("weight", *w.get_ref(), fields::TRACK_FILE_WEIGHT);
            self.check(w.span().start, &c, result)
        });
        let init_file = t.init_file.and_then(|v| {
            let result = match v.get_ref() {
                Value::Boolean(true) => Ok(Some(InitFile {
                    value: 0,
                    overwrite: false,
                })),
                Value::Boolean(false) => Ok(None),
                Value::Integer(value) => Ok(Some(InitFile {
                    value: *value,
                    overwrite: false,
                })),
                Value::Table(table) => init_file_table(table).map(Some),
                _ => Err("init_file must be true, a number or { value, overwrite }".into()),
            };
            self.check(v.span().start, &c, result).flatten()
        });
        TrackFileDraft {
            name: t.name,
            location: self.at(start),
            path_given: t.file.is_some() || removed.iter().any(|k| k == "file"),
            path: t.file.map(PathBuf::from),
            weight,
            reverse: false,
            init_file,
        }
    }
}

fn init_file_table(table: &toml::Table) -> Checked<InitFile> {
    let mut init = InitFile {
        value: 0,
        overwrite: false,
    };
    for (key, value) in table {
        match (key.as_str(), value) {
            ("value", Value::Integer(v)) => init.value = *v,
            ("overwrite", Value::Boolean(b)) => init.overwrite = *b,
            _ => return Err(format!("init_file: unexpected '{key} = {value}'")),
        }
    }
    Ok(init)
}
