//! The shapes a statement's words take, read the same way in every block: a named block,
//! a `{ }` list, no value, one value, an integer, seconds, keepalived's `[<BOOL>]`, a
//! command line, a notify script.

use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::model::NotifyScript;
use crate::values::{self, parse_bool, parse_integer, parse_seconds, split_command};

impl Mapper<'_> {
    /// The single name after a block keyword (`vrrp_instance NAME {`), and its block.
    pub(super) fn named<'s>(&mut self, s: &'s Stmt) -> Option<(String, &'s [Stmt])> {
        let name = match s.args.as_slice() {
            [name] => Some(name.clone()),
            [] => {
                self.error(&s.at, "", format!("{} needs a name", s.keyword));
                None
            }
            _ => {
                self.error(
                    &s.at,
                    "",
                    format!("{} takes one name, not '{}'", s.keyword, s.rest()),
                );
                None
            }
        };
        let block = self.block(s, "");
        Some((name?, block?))
    }

    pub(super) fn block<'s>(&mut self, s: &'s Stmt, context: &str) -> Option<&'s [Stmt]> {
        match &s.block {
            Some(block) => Some(block),
            None => {
                self.error(&s.at, context, format!("{} needs a {{ }} block", s.keyword));
                None
            }
        }
    }

    /// The lines of a `KEYWORD { ... }` list (of names, addresses, instances, routes): an
    /// error for words after the keyword or a missing block, and each line that has no
    /// block of its own (one that has is an error too).
    pub(super) fn list_block<'s>(
        &mut self,
        s: &'s Stmt,
        context: &str,
        of: &str,
    ) -> Option<Vec<&'s Stmt>> {
        if !s.args.is_empty() {
            let message = format!(
                "{} takes a {{ }} block of {of}, not '{}'",
                s.keyword,
                s.rest()
            );
            self.error(&s.at, context, message);
            return None;
        }
        let block = self.block(s, context)?;
        Some(
            block
                .iter()
                .filter(|entry| self.no_block(entry, context))
                .collect(),
        )
    }

    /// False, with an error, for a statement that has a block it should not have.
    pub(super) fn no_block(&mut self, s: &Stmt, context: &str) -> bool {
        if s.block.is_some() {
            self.error(
                &s.at,
                context,
                format!("{} takes no {{ }} block", s.keyword),
            );
            false
        } else {
            true
        }
    }

    pub(super) fn no_value(&mut self, s: &Stmt, context: &str) -> bool {
        if !s.args.is_empty() {
            self.error(
                &s.at,
                context,
                format!(
                    "{} takes no value, not '{}' (one setting per line)",
                    s.keyword,
                    s.rest()
                ),
            );
            return false;
        }
        self.no_block(s, context)
    }

    pub(super) fn one<'s>(&mut self, s: &'s Stmt, context: &str) -> Option<&'s str> {
        match s.args.as_slice() {
            [value] => self.no_block(s, context).then_some(value.as_str()),
            [] => {
                if self.no_block(s, context) {
                    self.error(&s.at, context, format!("{} needs a value", s.keyword));
                }
                None
            }
            _ => {
                self.error(
                    &s.at,
                    context,
                    format!(
                        "{} takes one value, not '{}' (one setting per line)",
                        s.keyword,
                        s.rest()
                    ),
                );
                None
            }
        }
    }

    pub(super) fn integer(&mut self, s: &Stmt, context: &str) -> Option<i64> {
        let text = self.one(s, context)?;
        let result = parse_integer(text).map_err(|e| format!("{}: {e}", s.keyword));
        self.ok(s, context, result)
    }

    pub(super) fn seconds(&mut self, s: &Stmt, context: &str) -> Option<std::time::Duration> {
        let text = self.one(s, context)?;
        let result = parse_seconds(text).map_err(|e| format!("{}: {e}", s.keyword));
        self.ok(s, context, result)
    }

    /// keepalived's `KEYWORD [<BOOL>]`: alone it means on.
    pub(super) fn flag(&mut self, s: &Stmt, context: &str) -> Option<bool> {
        if !self.no_block(s, context) {
            return None;
        }
        match s.args.as_slice() {
            [] => Some(true),
            [word] => {
                let result = parse_bool(word).ok_or_else(|| {
                    format!(
                        "{}: '{word}' is not one of on, off, true, false, yes, no",
                        s.keyword
                    )
                });
                self.ok(s, context, result)
            }
            _ => {
                self.error(
                    &s.at,
                    context,
                    format!("{} takes at most one value, not '{}'", s.keyword, s.rest()),
                );
                None
            }
        }
    }

    /// `KEYWORD "COMMAND ARGS"`: one (quoted) command line, as `script` and `misc_path`
    /// take it.
    pub(super) fn command_line(&mut self, s: &Stmt, c: &str) -> Option<Vec<String>> {
        if !self.no_block(s, c) {
            return None;
        }
        let keyword = &s.keyword;
        let result = match s.args.as_slice() {
            [line] => split_command(line),
            [] => Err("needs a command line".into()),
            _ => Err(format!(
                "takes one command line; quote it: {keyword} \"{}\" (keepalived would run \
                 '{}' alone)",
                s.rest(),
                s.args[0]
            )),
        };
        self.ok(s, c, result.map_err(|e| format!("{keyword} {e}")))
    }

    /// `SCRIPT [user [group]]`, with SCRIPT one (quoted) command line.
    pub(super) fn notify_script(&mut self, s: &Stmt, context: &str) -> Option<NotifyScript> {
        if !self.no_block(s, context) {
            return None;
        }
        let result = match s.args.as_slice() {
            [] => Err("needs a script".to_owned()),
            [script, rest @ ..] if rest.len() <= 2 => split_command(script).and_then(|argv| {
                let user = match rest {
                    [user, group @ ..] => Some(values::script_user(
                        user,
                        group.first().map(String::as_str),
                    )?),
                    [] => None,
                };
                Ok(NotifyScript {
                    argv,
                    user,
                    location: s.at.clone().into(),
                })
            }),
            _ => Err(format!(
                "expected \"COMMAND ARGS\" [USER [GROUP]], not '{}'; quote the command line",
                s.rest()
            )),
        };
        self.ok(
            s,
            context,
            result.map_err(|e| format!("{}: {e}", s.keyword)),
        )
    }
}
