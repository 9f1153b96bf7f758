//! keepalived's `track_file` block (and its old name `vrrp_track_file`), as `vrrp_parser.c`
//! reads it.

use std::path::PathBuf;

use crate::fields;
use crate::keepalived::keywords;
use crate::keepalived::mapping::{Mapper, Once};
use crate::keepalived::parser::Stmt;
use crate::keepalived::track_lists::weight_with_reverse;
use crate::model::InitFile;
use crate::spec::TrackFileDraft;
use crate::values::parse_integer;

impl Mapper<'_> {
    pub(super) fn track_file(&mut self, s: &Stmt) {
        let Some((name, block)) = self.named(s) else {
            return;
        };
        let c = format!("track file {name}");
        let c = c.as_str();
        let mut file = TrackFileDraft {
            name,
            location: s.at.clone(),
            path: None,
            path_given: false,
            weight: None,
            reverse: false,
            init_file: None,
        };
        let mut seen = Once::new();
        for s in block {
            self.once(&mut seen, s, c);
            match s.keyword.as_str() {
                "file" => {
                    file.path_given = true;
                    file.path = self.one(s, c).map(PathBuf::from);
                }
                "weight" => {
                    if self.no_block(s, c) {
                        let result = weight_with_reverse(&s.args, fields::TRACK_FILE_WEIGHT);
                        if let Some((weight, reverse)) = self.ok(s, c, result) {
                            file.weight = Some(weight);
                            file.reverse = reverse;
                        }
                    }
                }
                "init_file" => {
                    if self.no_block(s, c) {
                        let result = init_file(&s.args);
                        file.init_file = self.ok(s, c, result);
                    }
                }
                _ => self.refuse(&keywords::TRACK_FILE, s, c),
            }
        }
        self.draft.track_files.push(file);
    }
}

/// `init_file [VALUE] [overwrite]`.
fn init_file(args: &[String]) -> Result<InitFile, String> {
    let mut init = InitFile {
        value: 0,
        overwrite: false,
    };
    for (i, word) in args.iter().enumerate() {
        match word.as_str() {
            "overwrite" => init.overwrite = true,
            value if i == 0 => init.value = parse_integer(value)?,
            other => return Err(format!("init_file: unexpected '{other}'")),
        }
    }
    Ok(init)
}
