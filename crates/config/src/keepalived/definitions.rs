//! keepalived's parameters (`lib/parser.c`, `check_definition` and `replace_param`):
//! `$NAME=value` defines, `$NAME` (followed by a blank, `,`, `)` or the end of the line)
//! and `${NAME}` anywhere are replaced by the value, again and again while the result
//! holds references; a name nobody defined stays as written. A definition whose line ends
//! with `\` goes on over the following lines; such a one may only be used at the end of a
//! line, and its later lines come after that line.

use std::collections::HashMap;

use crate::diagnostic::Location;

/// One parameter's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// Replaces the reference within its line.
    Line(String),
    /// The first line replaces the reference; the others follow it, each with where it
    /// was written.
    Lines(String, Vec<(String, Location)>),
}

/// keepalived's pre-defined parameters, computed where they are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builtin {
    /// `${_PWD}`: the directory of the file being read.
    Pwd,
    /// `${_INSTANCE}`: the config id.
    Instance,
    /// `${_RANDOM [MIN [MAX]]}`: a number in MIN..=MAX (default 0..=32767).
    Random,
}

#[derive(Debug, Clone)]
enum Definition {
    Builtin(Builtin),
    Value(Value),
}

/// What a reference found at a `$` turned into.
pub(crate) struct Replacement {
    /// Bytes after the `$` that the reference took.
    pub(crate) len: usize,
    pub(crate) value: Value,
}

/// What built-in parameters need to know about the reader.
pub(crate) struct Context<'c> {
    pub(crate) dir: &'c str,
    pub(crate) config_id: Option<&'c str>,
    pub(crate) random: &'c mut dyn FnMut() -> u64,
}

#[derive(Debug)]
pub(crate) struct Definitions {
    by_name: HashMap<String, Definition>,
}

impl Default for Definitions {
    fn default() -> Definitions {
        let mut by_name = HashMap::new();
        by_name.insert("_PWD".into(), Definition::Builtin(Builtin::Pwd));
        by_name.insert("_INSTANCE".into(), Definition::Builtin(Builtin::Instance));
        by_name.insert("_RANDOM".into(), Definition::Builtin(Builtin::Random));
        by_name.insert("_HASH".into(), Definition::Value(Value::Line("#".into())));
        by_name.insert("_BANG".into(), Definition::Value(Value::Line("!".into())));
        Definitions { by_name }
    }
}

/// `NAME` of a line `$NAME=VALUE` and what follows the `=` (no blank before the `=`).
pub(crate) fn definition(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('$')?;
    let (name, value) = rest.split_once('=')?;
    valid_name(name).then_some((name, value))
}

fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn name_len(text: &str) -> usize {
    if !text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return 0;
    }
    text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len())
}

impl Definitions {
    pub(crate) fn set(&mut self, name: &str, value: Value) {
        self.by_name
            .insert(name.to_owned(), Definition::Value(value));
    }

    /// The reference starting just after a `$` at the start of `text`, if it names a
    /// parameter; `None` leaves the `$` as written.
    pub(crate) fn reference(&self, text: &str, cx: &mut Context<'_>) -> Option<Replacement> {
        let braces = text.starts_with('{');
        let name_start = usize::from(braces);
        let len = name_len(&text[name_start..]);
        if len == 0 {
            return None;
        }
        let name = &text[name_start..name_start + len];
        let after = &text[name_start + len..];
        let (params, taken) = if braces {
            // Only blanks and digits (the parameters of _RANDOM) may come before the '}'.
            let close = after.find('}')?;
            let params = &after[..close];
            if !params.chars().all(|c| c == ' ' || c.is_ascii_digit()) || params.ends_with(' ') {
                return None;
            }
            (params.trim(), name_start + len + close + 1)
        } else {
            if !(after.is_empty() || after.starts_with([' ', '\t', ',', ')'])) {
                return None;
            }
            ("", len)
        };
        let at_end = taken == text.len();
        let value = match self.by_name.get(name)? {
            Definition::Builtin(builtin) => {
                if !params.is_empty() && *builtin != Builtin::Random {
                    return None;
                }
                Value::Line(builtin_value(*builtin, params, cx))
            }
            Definition::Value(_) if !params.is_empty() => return None,
            Definition::Value(Value::Lines(..)) if !at_end => return None,
            Definition::Value(value) => value.clone(),
        };
        Some(Replacement { len: taken, value })
    }
}

fn builtin_value(builtin: Builtin, params: &str, cx: &mut Context<'_>) -> String {
    match builtin {
        Builtin::Pwd => cx.dir.to_owned(),
        Builtin::Instance => cx.config_id.unwrap_or_default().to_owned(),
        Builtin::Random => {
            let mut numbers = params.split(' ').filter(|p| !p.is_empty());
            let min: u64 = numbers.next().and_then(|n| n.parse().ok()).unwrap_or(0);
            let max: u64 = numbers.next().and_then(|n| n.parse().ok()).unwrap_or(32767);
            let (min, max) = (min.min(max), min.max(max));
            let span = (max - min).saturating_add(1);
            (min + (cx.random)() % span).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replace(defs: &Definitions, text: &str) -> Option<(usize, Value)> {
        let mut random = || 7;
        let mut cx = Context {
            dir: "/etc/keepalived",
            config_id: Some("lb1"),
            random: &mut random,
        };
        defs.reference(text, &mut cx).map(|r| (r.len, r.value))
    }

    fn line(s: &str) -> Value {
        Value::Line(s.into())
    }

    #[test]
    fn definitions_need_a_name_and_no_blank_before_the_equals() {
        assert_eq!(definition("$PRIO=100"), Some(("PRIO", "100")));
        assert_eq!(definition("$_X="), Some(("_X", "")));
        assert_eq!(definition("$A=b=c"), Some(("A", "b=c")));
        assert_eq!(definition("$1X=2"), None);
        assert_eq!(definition("$PRIO = 1"), None);
        assert_eq!(definition("$PRIO"), None);
    }

    #[test]
    fn references_end_where_keepalived_says() {
        let mut defs = Definitions::default();
        defs.set("N", line("5"));
        assert_eq!(replace(&defs, "N"), Some((1, line("5"))));
        assert_eq!(replace(&defs, "N rest"), Some((1, line("5"))));
        assert_eq!(replace(&defs, "N,x"), Some((1, line("5"))));
        assert_eq!(replace(&defs, "N.x"), None, "needs braces");
        assert_eq!(replace(&defs, "{N}.x"), Some((3, line("5"))));
        assert_eq!(
            replace(&defs, "{N 1}"),
            None,
            "only _RANDOM takes parameters"
        );
        assert_eq!(replace(&defs, "NN"), None, "undefined stays");
        assert_eq!(replace(&defs, "{_INSTANCE}"), Some((11, line("lb1"))));
        assert_eq!(replace(&defs, "_PWD"), Some((4, line("/etc/keepalived"))));
        // 5 + 7 % 6: the numbers run from MIN to MAX.
        assert_eq!(replace(&defs, "{_RANDOM 5 10}"), Some((14, line("6"))));
        assert_eq!(replace(&defs, "{_RANDOM 5 }"), None);
        assert_eq!(replace(&defs, "{_HASH}"), Some((7, line("#"))));
    }

    #[test]
    fn a_multiline_value_only_at_the_end_of_a_line() {
        let mut defs = Definitions::default();
        let value = Value::Lines("a".into(), vec![("b".into(), Location::new("k", 2))]);
        defs.set("M", value.clone());
        assert_eq!(replace(&defs, "M"), Some((1, value.clone())));
        assert_eq!(replace(&defs, "{M}"), Some((3, value)));
        assert_eq!(replace(&defs, "M x"), None);
    }
}
