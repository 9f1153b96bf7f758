//! keepalived's configuration language above keywords (`read_line` in `lib/parser.c`), line
//! by line before words are split: `@ID` / `@^ID` lines kept only on (or off) the host
//! whose config id is ID, `$NAME=value` definitions (over several lines with `\`) and
//! their substitution (`definitions`), and `~SEQ` / `~LST` repetitions (`sequence`).
//!
//! Every line out carries where its text was written: a line of a multi-line parameter
//! points at its line in the definition, a repeated line at the `~SEQ` / `~LST` line, so
//! errors found later name the text the operator wrote.

use crate::diagnostic::{Diagnostics, Location};
use crate::keepalived::definitions::{self, Context, Definitions, Value};
use crate::keepalived::sequence::{self, Repeat};

/// Parameters within parameters and repetitions within repetitions, beyond any real
/// template; a parameter that uses itself stops here.
const MAX_DEPTH: usize = 32;
/// Replacements in one line; a `$A=$A`-style loop stops here.
const MAX_REPLACEMENTS: usize = 10_000;
/// Longer than any real line (keepalived's buffer is 1 KiB).
const MAX_LINE: usize = 64 * 1024;
/// Lines read, made from parameters and repetitions, in all: a typo (or a parameter that
/// uses itself twice) must not exhaust memory or time.
const MAX_LINES: usize = 2_000_000;

/// A line for the word splitter, and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Logical {
    pub(crate) text: String,
    pub(crate) at: Location,
}

/// A multi-line definition being read.
#[derive(Debug)]
struct OpenDefinition {
    name: String,
    first: String,
    rest: Vec<(String, Location)>,
}

#[derive(Debug)]
pub(crate) struct Preprocessor {
    defs: Definitions,
    config_id: Option<String>,
    rng: SplitMix,
    /// `${_RANDOM}` was replaced: a `random_seed` in the file then matters.
    pub(crate) random_used: bool,
    open: Option<OpenDefinition>,
    lines_made: usize,
    /// The directory of the file being read (`${_PWD}`).
    dir: String,
    /// Lines made and not yet handed out.
    out: Vec<Logical>,
    /// Expansion ran away (too deep, too many lines): reported once, nothing more is made.
    gave_up: bool,
}

impl Preprocessor {
    pub(crate) fn new(config_id: Option<String>, seed: u64) -> Preprocessor {
        Preprocessor {
            defs: Definitions::default(),
            config_id,
            rng: SplitMix(seed),
            random_used: false,
            open: None,
            lines_made: 0,
            dir: String::new(),
            out: Vec::new(),
            gave_up: false,
        }
    }

    /// One line of a file, as read; `dir` is that file's directory (`${_PWD}`).
    pub(crate) fn physical(
        &mut self,
        raw: &str,
        at: &Location,
        dir: &str,
        d: &mut Diagnostics,
    ) -> Vec<Logical> {
        if self.dir != dir {
            dir.clone_into(&mut self.dir);
        }
        if raw.is_empty() {
            // keepalived: an empty line ends a multi-line definition.
            self.close_definition();
            return Vec::new();
        }
        let (text, continues) = decomment(raw);
        if text.is_empty() && !continues {
            return Vec::new();
        }
        if let Some(open) = &mut self.open {
            if !text.is_empty() {
                open.rest.push((text, at.clone()));
            }
            if !continues {
                self.close_definition();
            }
            return Vec::new();
        }
        self.line(text, Some(raw), continues, at, 0, d);
        std::mem::take(&mut self.out)
    }

    fn close_definition(&mut self) {
        if let Some(open) = self.open.take() {
            // keepalived: a definition opened with `\` stays multi-line (usable only at the
            // end of a line) unless it holds nothing at all.
            let value = if open.rest.is_empty() && open.first.is_empty() {
                Value::Line(String::new())
            } else {
                Value::Lines(open.first, open.rest)
            };
            self.defs.set(&open.name, value);
        }
    }

    /// A decommented line through conditions, definitions, repetitions and substitution.
    /// `raw` is the line as written, used when none of those applied (the word splitter
    /// then sees exactly what it always saw). `continues`: the physical line ended in `\`.
    fn line(
        &mut self,
        mut text: String,
        raw: Option<&str>,
        continues: bool,
        at: &Location,
        depth: usize,
        d: &mut Diagnostics,
    ) {
        if self.gave_up {
            return;
        }
        self.lines_made += 1;
        if self.lines_made > MAX_LINES {
            self.gave_up = true;
            d.error(
                at,
                format!("parameters and ~SEQ/~LST make more than {MAX_LINES} lines"),
            );
            return;
        }
        if depth > MAX_DEPTH {
            // A parameter that uses itself would report this on every branch.
            self.gave_up = true;
            d.error(
                at,
                format!("parameters or ~SEQ/~LST nested more than {MAX_DEPTH} deep (does a parameter use itself?)"),
            );
            return;
        }
        let mut changed = false;
        let mut following: Vec<(String, Location)> = Vec::new();
        loop {
            if let Some(kept) = self.condition(&text) {
                match kept {
                    Some(rest) => text = rest,
                    None => return,
                }
                changed = true;
            }
            if let Some((name, value)) = definitions::definition(&text) {
                let value = value.trim_start();
                if continues {
                    self.open = Some(OpenDefinition {
                        name: name.to_owned(),
                        first: value.to_owned(),
                        rest: Vec::new(),
                    });
                } else {
                    self.defs.set(name, Value::Line(value.to_owned()));
                }
                return;
            }
            if text.starts_with("~SEQ") || text.starts_with("~LST") {
                match self.repeat(&text) {
                    Ok(repeat) => {
                        for round in repeat.rounds {
                            for (name, value) in round {
                                self.defs.set(&name, Value::Line(value));
                            }
                            let text = repeat.text.clone();
                            self.line(text, None, false, at, depth + 1, d);
                        }
                    }
                    Err(message) => d.error(at, message),
                }
                return;
            }
            if text.starts_with('~') || !text.contains('$') {
                break;
            }
            match self.substitute(&mut text) {
                Ok(None) => break,
                Ok(Some(mut more)) => {
                    changed = true;
                    more.append(&mut following);
                    following = more;
                    text = decomment(&text).0;
                    if !(text.starts_with('@') || text.contains('$')) {
                        break;
                    }
                }
                Err(message) => {
                    d.error(at, message);
                    return;
                }
            }
        }
        if !text.is_empty() {
            let text = match raw {
                Some(raw) if !changed => raw.to_owned(),
                // The word splitter refuses the `\` that keepalived would leave there.
                _ if continues => format!("{text} \\"),
                _ => text,
            };
            self.out.push(Logical {
                text,
                at: at.clone(),
            });
        }
        for (text, at) in following {
            self.line(text, None, false, &at, depth + 1, d);
        }
    }

    /// For a line starting `@`: `Some(Some(rest))` if it is kept, `Some(None)` if not.
    fn condition(&self, text: &str) -> Option<Option<String>> {
        let rest = text.strip_prefix('@')?;
        let (negated, rest) = match rest.strip_prefix('^') {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        // keepalived drops an `@ID` with nothing after it.
        let Some(end) = rest.find([' ', '\t']) else {
            return Some(None);
        };
        let matches = self.config_id.as_deref() == Some(&rest[..end]);
        Some((matches != negated).then(|| rest[end..].trim_start().to_owned()))
    }

    fn repeat(&mut self, text: &str) -> Result<Repeat, String> {
        if let Some(spec) = text.strip_prefix("~LST") {
            return sequence::lst(spec);
        }
        let spec = &text["~SEQ".len()..];
        let (hex, spec) = match spec.strip_prefix('x') {
            Some(rest) => (true, rest),
            None => (false, spec),
        };
        let invalid = || format!("invalid ~SEQ specification '{text}'");
        let inner = spec.trim_start().strip_prefix('(').ok_or_else(invalid)?;
        let close = inner.find(')').ok_or_else(invalid)?;
        let (var, args) = inner[..close].split_once(',').ok_or_else(invalid)?;
        let var = var.trim();
        if var.is_empty() || var.contains([' ', '\t']) {
            return Err(invalid());
        }
        // keepalived replaces parameters in the numbers, but not multi-line ones.
        let mut args = args.to_owned();
        if self
            .substitute(&mut args)?
            .is_some_and(|more| !more.is_empty())
        {
            return Err(format!(
                "~SEQ parameter is a multi-line definition '{text}'"
            ));
        }
        sequence::seq(hex, var, args.trim(), inner[close + 1..].trim_start())
    }

    /// Replaces every reference in `text`; `None` if there was none, else the lines that a
    /// multi-line parameter puts after this one.
    fn substitute(&mut self, text: &mut String) -> Result<Option<Vec<(String, Location)>>, String> {
        let Preprocessor {
            defs,
            config_id,
            rng,
            random_used,
            dir,
            ..
        } = self;
        let mut random = || {
            *random_used = true;
            rng.next()
        };
        let mut cx = Context {
            dir,
            config_id: config_id.as_deref(),
            random: &mut random,
        };
        let mut following = Vec::new();
        let mut replaced = 0;
        let mut from = 0;
        while let Some(offset) = text[from..].find('$') {
            let at = from + offset;
            let Some(replacement) = defs.reference(&text[at + 1..], &mut cx) else {
                from = at + 1;
                continue;
            };
            replaced += 1;
            if replaced > MAX_REPLACEMENTS || text.len() > MAX_LINE {
                return Err(
                    "parameter substitution does not end (does a parameter use itself?)".into(),
                );
            }
            let first = match replacement.value {
                Value::Line(value) => value,
                Value::Lines(first, mut rest) => {
                    rest.append(&mut following);
                    following = rest;
                    first
                }
            };
            text.replace_range(at..at + 1 + replacement.len, &first);
            // Scanning again from the same place replaces references in the value too.
            if first.trim_start().starts_with('~') {
                break;
            }
        }
        Ok((replaced > 0).then_some(following))
    }
}

/// keepalived's `decomment`: leading blanks, and a `!` or `#` comment outside `"` quotes
/// with the blanks before it, go; a `\` that ends the line says it continues.
/// Backslash escapes are left for the word splitter.
pub(crate) fn decomment(raw: &str) -> (String, bool) {
    let text = raw.trim_start_matches([' ', '\t']);
    let mut quoted = false;
    let mut comment = None;
    let mut continues = false;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' if comment.is_none() => quoted = !quoted,
            // A backslash takes the next character along; at the end, it continues the line.
            '\\' if chars.next().is_none() => {
                continues = true;
                comment.get_or_insert(i);
            }
            '!' | '#' if !quoted && comment.is_none() => comment = Some(i),
            _ => {}
        }
    }
    let end = comment.unwrap_or(text.len());
    let kept = text[..end].trim_end_matches([' ', '\t', '\r']);
    (kept.to_owned(), continues)
}

/// A small, seedable generator for `${_RANDOM}` (SplitMix64). A `random_seed` makes the
/// numbers repeatable from run to run, as in keepalived, though not the same numbers as
/// keepalived's C library makes.
#[derive(Debug)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: Option<&str>, text: &str) -> (Vec<(String, u32)>, Vec<String>) {
        let mut pre = Preprocessor::new(id.map(str::to_owned), 1);
        let mut d = Diagnostics::default();
        let mut out = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let at = Location::new("k.conf", u32::try_from(i + 1).expect("small"));
            out.extend(pre.physical(raw, &at, "/etc/keepalived", &mut d));
        }
        let (errors, _) = d.finish();
        (
            out.into_iter().map(|l| (l.text, l.at.line)).collect(),
            errors.iter().map(ToString::to_string).collect(),
        )
    }

    fn texts(id: Option<&str>, text: &str) -> Vec<String> {
        let (lines, errors) = run(id, text);
        assert!(errors.is_empty(), "{errors:?}");
        lines.into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn decomment_as_keepalived() {
        assert_eq!(decomment("  a b # c"), ("a b".into(), false));
        assert_eq!(decomment("a \"b # c\" ! d"), ("a \"b # c\"".into(), false));
        assert_eq!(decomment("a b \\"), ("a b".into(), true));
        assert_eq!(decomment("a \\# b"), ("a \\# b".into(), false));
        assert_eq!(decomment("a # comment \\"), ("a".into(), true));
    }

    #[test]
    fn lines_without_the_language_pass_as_written() {
        assert_eq!(
            texts(
                None,
                "  priority 100 # main\n! only a comment\n\nstate 'a#b'"
            ),
            ["  priority 100 # main", "state 'a#b'"]
        );
    }

    #[test]
    fn conditional_lines_follow_the_config_id() {
        let text = "@lb1 priority 150\n@lb2 priority 100\n@^lb1 state BACKUP\n@lb1\n@lb1\tx y";
        assert_eq!(texts(Some("lb1"), text), ["priority 150", "x y"]);
        assert_eq!(texts(Some("lb2"), text), ["priority 100", "state BACKUP"]);
        assert_eq!(texts(None, text), ["state BACKUP"]);
    }

    #[test]
    fn parameters_are_replaced_when_used() {
        let text = "$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}\n$ADDRESS_BASE_SUB=0\n\
                    ${ADDRESS_BASE}.100/32\n$ADDRESS_BASE_SUB=10\n${ADDRESS_BASE}.100/32\n\
                    $UNDEF stays, ${UNDEF} too\nscript \"${_PWD}/x ${_HASH} ${_INSTANCE}\" $_INSTANCE";
        assert_eq!(
            texts(Some("lb1"), text),
            [
                "10.2.0.100/32",
                "10.2.10.100/32",
                "$UNDEF stays, ${UNDEF} too",
                "script \"/etc/keepalived/x # lb1\" lb1"
            ]
        );
    }

    #[test]
    fn parameters_and_conditions_combine() {
        let text = "@main $PRIORITY=240\n@backup $PRIORITY=200\npriority $PRIORITY\n\
                    $IF_MAIN=@main\n$IF_MAIN priority 241";
        assert_eq!(texts(Some("main"), text), ["priority 240", "priority 241"]);
        assert_eq!(texts(Some("backup"), text), ["priority 200"]);
    }

    #[test]
    fn multiline_parameters_keep_their_lines() {
        let text = "$INSTANCE= \\\n  vrrp_instance VI_${NUM} { \\\n    @high priority 130 \\\n\
                    \x20   @low priority 120 \\\n  }\n$NUM=0\n$INSTANCE\n\n$NUM=1\n$INSTANCE";
        let (lines, errors) = run(Some("high"), text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            lines,
            [
                ("vrrp_instance VI_0 {".to_owned(), 2),
                ("priority 130".to_owned(), 3),
                ("}".to_owned(), 5),
                ("vrrp_instance VI_1 {".to_owned(), 2),
                ("priority 130".to_owned(), 3),
                ("}".to_owned(), 5),
            ]
        );
        // Not at the end of a line, a multi-line parameter is not replaced.
        assert_eq!(texts(None, "$M=a \\\nb\nx $M y"), ["x $M y"]);
        // An empty line ends a definition, which stays multi-line.
        assert_eq!(
            texts(None, "$M=a \\\n\nb\n$M\nx $M y"),
            ["b", "a", "x $M y"]
        );
    }

    #[test]
    fn sequences_and_lists_repeat_their_line() {
        assert_eq!(
            texts(None, "~SEQ(SUBNET, 0, 2) ip_address 10.0.${SUBNET}.1"),
            [
                "ip_address 10.0.0.1",
                "ip_address 10.0.1.1",
                "ip_address 10.0.2.1"
            ]
        );
        assert_eq!(
            texts(
                None,
                "~LST({IP, IP1}, {10,1},{20,4}) ~SEQ(IP2,168,2,170) 192.${IP2}.${IP}.${IP1}"
            ),
            [
                "192.168.10.1",
                "192.170.10.1",
                "192.168.20.4",
                "192.170.20.4"
            ]
        );
        assert_eq!(
            texts(None, "$N=2\n~SEQx(A, 0x9, $N, 0xd) fe80::${A}"),
            ["fe80::9", "fe80::b", "fe80::d"]
        );
        let (lines, errors) = run(
            None,
            "$B= \\\nreal_server 10.0.0.${I} 80 { \\\n}\n~SEQ(I, 1, 2) $B",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            lines,
            [
                ("real_server 10.0.0.1 80 {".to_owned(), 2),
                ("}".to_owned(), 3),
                ("real_server 10.0.0.2 80 {".to_owned(), 2),
                ("}".to_owned(), 3),
            ]
        );
    }

    #[test]
    fn mistakes_are_reported_at_their_line() {
        let (_, errors) = run(None, "x\n~SEQ(I, 1, -1, 5) y");
        assert_eq!(errors, ["k.conf:2: invalid ~SEQ values '1, -1, 5'"]);
        let (_, errors) = run(None, "~SEQ(I) y");
        assert_eq!(errors, ["k.conf:1: invalid ~SEQ specification '~SEQ(I) y'"]);
        let (_, errors) = run(None, "$A=x$A\n$A");
        assert_eq!(
            errors,
            ["k.conf:2: parameter substitution does not end (does a parameter use itself?)"]
        );
        let (_, errors) = run(None, "$A= \\\n$A\n\n$A");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("nested more than"), "{errors:?}");
    }

    #[test]
    fn runaway_expansion_stops_with_one_error() {
        // Each expansion of A makes two more: without a bound, 2^32 lines.
        let started = std::time::Instant::now();
        let (_, errors) = run(None, "$A= \\\n$A \\\n$A\n\n$A");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("nested more than 32 deep"), "{errors:?}");
        let (_, errors) = run(None, "~SEQ(A, 99999) ~SEQ(B, 99999) x");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("more than 2000000 lines"), "{errors:?}");
        // Generous: the bound is what matters, not the speed.
        assert!(started.elapsed() < std::time::Duration::from_secs(60));
    }

    #[test]
    fn random_numbers_repeat_with_the_seed() {
        let text = "${_RANDOM}\n${_RANDOM 5 6}";
        let first = texts(None, text);
        assert_eq!(first, texts(None, text));
        let n: u32 = first[1].parse().expect("a number");
        assert!((5..=6).contains(&n));
        assert!(first[0].parse::<u32>().expect("a number") <= 32767);
    }
}
