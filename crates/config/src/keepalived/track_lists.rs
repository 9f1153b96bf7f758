//! The `track_interface`, `track_script` and `track_file` lists of instances and sync
//! groups, and the `weight N [reverse]` that scripts and files are declared with.

use crate::fields;
use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::model::{TrackFileRef, TrackInterface, TrackScriptRef};
use crate::values::parse_integer;

impl Mapper<'_> {
    /// `track_interface`, `track_script`, `track_file` blocks of instances and sync
    /// groups; false if `s` is something else.
    pub(super) fn tracks(
        &mut self,
        s: &Stmt,
        context: &str,
        interfaces: &mut Vec<TrackInterface>,
        scripts: &mut Vec<TrackScriptRef>,
        files: &mut Vec<TrackFileRef>,
    ) -> bool {
        let max = match s.keyword.as_str() {
            "track_interface" | "track_script" => fields::TRACK_WEIGHT,
            "track_file" => fields::TRACK_FILE_REF_WEIGHT,
            _ => return false,
        };
        let Some(block) = self.list_block(s, context, "names") else {
            return true;
        };
        for entry in block {
            let result = track_entry(entry, max).map_err(|e| format!("{}: {e}", s.keyword));
            let Some((name, weight, reverse)) = self.ok(entry, context, result) else {
                continue;
            };
            let location = entry.at.clone();
            match s.keyword.as_str() {
                "track_interface" => interfaces.push(TrackInterface {
                    name,
                    weight: weight.unwrap_or(0),
                    reverse: reverse.unwrap_or(false),
                    location: location.into(),
                }),
                "track_script" => scripts.push(TrackScriptRef {
                    name,
                    weight,
                    reverse,
                    location: location.into(),
                }),
                _ => files.push(TrackFileRef {
                    name,
                    weight,
                    reverse,
                    location: location.into(),
                }),
            }
        }
        true
    }
}

/// A tracking entry: its name, weight and `reverse` (`Some` when written).
type TrackEntry = (String, Option<i32>, Option<bool>);

/// `NAME [weight N [reverse|noreverse]]`, as keepalived's `alloc_track_*`: `reverse` only
/// after a weight (keepalived ignores the entry otherwise, with an error).
fn track_entry(entry: &Stmt, max: i64) -> Result<TrackEntry, String> {
    let name = entry.keyword.clone();
    match entry.args.as_slice() {
        [] => Ok((name, None, None)),
        [weight, value, rest @ ..] if weight == "weight" => {
            let weight = fields::weight("weight", parse_integer(value)?, max)?;
            let reverse = match rest {
                [] => None,
                [word] if word == "reverse" => Some(true),
                [word] if word == "noreverse" => Some(false),
                _ => return Err(format!("{name}: unexpected '{}'", rest.join(" "))),
            };
            Ok((name, Some(weight), reverse))
        }
        [weight] if weight == "weight" => Err("'weight' needs a value".into()),
        [other, ..] => Err(format!(
            "{name}: unexpected '{other}' (write NAME weight N [reverse])"
        )),
    }
}

/// `weight N [reverse]` of scripts and files.
pub(super) fn weight_with_reverse(args: &[String], max: i64) -> Result<(i32, bool), String> {
    let weight = |value: &String| fields::weight("weight", parse_integer(value)?, max);
    match args {
        [value] => Ok((weight(value)?, false)),
        [value, reverse] if reverse == "reverse" => Ok((weight(value)?, true)),
        [] => Err("weight needs a value".into()),
        _ => Err(format!("weight: unexpected '{}'", args[1..].join(" "))),
    }
}
