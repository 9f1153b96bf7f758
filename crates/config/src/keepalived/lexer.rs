//! keepalived.conf as tokens: words and braces, each with its file and line, `include`s
//! spliced in where they stand (keepalived includes text, so an include may sit inside a
//! block). Lines go through keepalived's configuration language (`preprocess`) first, so
//! an `include` may come from a parameter or sit behind an `@ID`.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostics, Location};
use crate::keepalived::preprocess::{Logical, Preprocessor};
use crate::values::{Mode, Piece, scan};

/// keepalived has no limit but file descriptors; 8 levels is far beyond real layouts.
const MAX_INCLUDE_DEPTH: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Word(String),
    Open,
    Close,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    pub(crate) at: Location,
    /// Which line of the text after includes, parameters and repetitions the token is on:
    /// a statement is the words of one such line (two copies of a `~SEQ` line share `at`).
    pub(crate) line: usize,
}

/// What the reader needs besides the text.
#[derive(Debug, Clone, Default)]
pub(crate) struct LexOptions {
    /// keepalived's `--config-id`, for `@ID` lines and `${_INSTANCE}`.
    pub(crate) config_id: Option<String>,
    /// The seed of `${_RANDOM}`.
    pub(crate) seed: u64,
}

/// The tokens of a file read with the default options.
#[cfg(test)]
pub(crate) fn lex(text: &str, path: &Path, d: &mut Diagnostics) -> Vec<Token> {
    lex_with(text, path, &LexOptions::default(), d).0
}

/// The tokens, and whether `${_RANDOM}` was used.
pub(crate) fn lex_with(
    text: &str,
    path: &Path,
    options: &LexOptions,
    d: &mut Diagnostics,
) -> (Vec<Token>, bool) {
    let mut lexer = Lexer {
        d,
        tokens: Vec::new(),
        open_files: vec![canonical(path)],
        pre: Preprocessor::new(options.config_id.clone(), options.seed),
        lines: 0,
        include_check: Checks::NONE,
    };
    lexer.file(text, path, 0);
    (lexer.tokens, lexer.pre.random_used)
}

struct Lexer<'d> {
    d: &'d mut Diagnostics,
    tokens: Vec<Token>,
    /// The files being read, outermost first, to refuse include cycles.
    open_files: Vec<PathBuf>,
    pre: Preprocessor,
    lines: usize,
    /// global_defs `include_check`, as set so far.
    include_check: Checks,
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// keepalived's include checks (`include_t` in `lib/parser.c`): which problems with an
/// included file are errors; the others are warnings and the file is left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checks(u8);

impl Checks {
    const NONE: Checks = Checks(0);
    /// A match that cannot be read (a directory, a FIFO, an executable, unreadable).
    const READ: Checks = Checks(1);
    /// A path without wildcards that does not exist.
    const MATCH: Checks = Checks(2);
    /// A wildcard that matches nothing.
    const WILDCARD: Checks = Checks(4);
    /// A `{a,b}` alternative that does not exist.
    const BRACE: Checks = Checks(8);
    const ALL: Checks = Checks(15);

    fn has(self, other: Checks) -> bool {
        self.0 & other.0 != 0
    }

    fn with(self, other: Checks) -> Checks {
        Checks(self.0 | other.0)
    }

    fn without(self, other: Checks) -> Checks {
        Checks(self.0 & !other.0)
    }

    /// `include_check [[+|-]readable|match|wildcard_match|brace_match ...]` applied to
    /// `self` (`include_check_set`); no word means every check.
    fn set(self, words: &[String]) -> Result<Checks, String> {
        let mut checks = self;
        if words.is_empty() {
            return Ok(Checks::ALL);
        }
        for (i, word) in words.iter().enumerate() {
            let (sign, name) = match word.split_at_checked(1) {
                Some(("+", name)) => (1, name),
                Some(("-", name)) => (-1, name),
                _ if i == 0 => (0, word.as_str()),
                _ => {
                    return Err(format!(
                        "include_check: '{word}' again (only the first word may omit + or -)"
                    ));
                }
            };
            let flag = match name {
                "readable" | "read" => Checks::READ,
                "match" => Checks::MATCH,
                "wildcard_match" => Checks::WILDCARD,
                "brace_match" => Checks::BRACE,
                _ => {
                    return Err(format!(
                        "include_check: unknown check '{name}' (readable, match, wildcard_match, brace_match)"
                    ));
                }
            };
            checks = match sign {
                0 => Checks::READ.with(flag),
                1 => checks.with(flag),
                _ => checks.without(flag),
            };
        }
        Ok(checks)
    }
}

/// `include PATTERN` and its variants (`check_include`); `None` for any other line.
fn include_line(line: &str) -> Option<(Checks, &str)> {
    let rest = line.strip_prefix("include")?;
    let Some(first) = rest.chars().next() else {
        return Some((Checks::NONE, ""));
    };
    let (kind, rest) = match first {
        c if c.is_whitespace() => (Checks::NONE, rest),
        'r' => (Checks::READ, &rest[1..]),
        'm' => (Checks::READ.with(Checks::MATCH), &rest[1..]),
        'b' => (Checks::READ.with(Checks::BRACE), &rest[1..]),
        'w' => (
            Checks::READ.with(Checks::MATCH).with(Checks::WILDCARD),
            &rest[1..],
        ),
        'a' => (Checks::ALL, &rest[1..]),
        _ => return None,
    };
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    // keepalived removes comments before it looks for includes.
    let pattern = rest.split(['#', '!']).next().unwrap_or("").trim();
    let pattern = pattern
        .strip_prefix('"')
        .and_then(|p| p.strip_suffix('"'))
        .unwrap_or(pattern);
    Some((kind, pattern))
}

impl Lexer<'_> {
    fn file(&mut self, text: &str, path: &Path, depth: usize) {
        self.d.reading(path);
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let dir = canonical(path)
            .parent()
            .map(|dir| dir.display().to_string())
            .unwrap_or_default();
        for (index, line) in text.lines().enumerate() {
            let at = Location::new(path, u32::try_from(index + 1).unwrap_or(u32::MAX));
            for Logical { text, at } in self.pre.physical(line, &at, &dir, self.d) {
                self.logical(&text, &at, path, depth);
            }
        }
    }

    fn logical(&mut self, line: &str, at: &Location, path: &Path, depth: usize) {
        if let Some((kind, pattern)) = include_line(line.trim_start()) {
            self.include(kind, pattern, at, path, depth);
            return;
        }
        let pieces = match scan(line, Mode::Config) {
            Ok(pieces) => pieces,
            Err(message) => {
                self.d.error(at, message);
                return;
            }
        };
        // include_check changes how the includes after it are read, so it takes effect
        // here; the keyword is checked for its place like any other.
        if let [Piece::Word(keyword), rest @ ..] = pieces.as_slice()
            && keyword == "include_check"
        {
            let words: Vec<String> = rest
                .iter()
                .filter_map(|p| match p {
                    Piece::Word(w) => Some(w.clone()),
                    _ => None,
                })
                .collect();
            match self.include_check.set(&words) {
                Ok(checks) => self.include_check = checks,
                Err(message) => self.d.error(at, message),
            }
        }
        self.lines += 1;
        let line = self.lines;
        self.tokens.extend(pieces.into_iter().map(|piece| Token {
            kind: match piece {
                Piece::Word(w) => Kind::Word(w),
                Piece::Open => Kind::Open,
                Piece::Close => Kind::Close,
            },
            at: at.clone(),
            line,
        }));
    }

    /// A problem with an included file: an error if `check` is asked for, else a warning
    /// (keepalived logs it and goes on without the file).
    fn problem(&mut self, checks: Checks, check: Checks, at: &Location, message: String) {
        if checks.has(check) {
            self.d.error(at, message);
        } else {
            self.d.warn(at, format!("{message}; left out"));
        }
    }

    fn include(&mut self, kind: Checks, pattern: &str, at: &Location, from: &Path, depth: usize) {
        if pattern.is_empty() {
            self.d.error(at, "include: no file named");
            return;
        }
        if depth >= MAX_INCLUDE_DEPTH {
            self.d.error(
                at,
                format!(
                    "include {pattern}: includes are nested more than {MAX_INCLUDE_DEPTH} deep"
                ),
            );
            return;
        }
        let checks = self.include_check.with(kind);
        // keepalived.conf(5): relative paths are relative to the including file's directory.
        let dir = from.parent().unwrap_or(Path::new(""));
        let patterns = match expand_braces(pattern) {
            Ok(p) => p,
            Err(message) => {
                self.d.error(at, format!("include {pattern}: {message}"));
                return;
            }
        };
        let braces = patterns.len() > 1;
        let mut files = Vec::new();
        let mut missing = Vec::new();
        let mut wildcard_matched_nothing = false;
        for p in &patterns {
            let full = dir.join(p);
            if !p.contains(['*', '?', '[']) {
                if full.exists() {
                    files.push(full);
                } else {
                    missing.push((full, ""));
                }
                continue;
            }
            // glob(3) counts a directory it cannot open as a missing file, as it does a
            // missing plain path: a match problem, not a wildcard one.
            if let Some(dir) = missing_directory(&full) {
                missing.push((dir, "directory "));
                continue;
            }
            let Some(text) = full.to_str() else {
                self.d
                    .error(at, format!("include {pattern}: the path is not UTF-8"));
                continue;
            };
            match glob::glob(text) {
                Ok(paths) => {
                    let before = files.len();
                    for entry in paths {
                        match entry {
                            Ok(path) => files.push(path),
                            Err(error) => self.d.error(at, format!("include {pattern}: {error}")),
                        }
                    }
                    wildcard_matched_nothing |= files.len() == before;
                }
                Err(error) => self.d.error(at, format!("include {pattern}: {error}")),
            }
        }
        // glob(3) with GLOB_BRACE, as keepalived reads it: a missing alternative is a
        // brace_match problem (and with that check the whole include is left out), a
        // missing plain path a match problem, a wildcard without a match a wildcard one.
        let check = if braces { Checks::BRACE } else { Checks::MATCH };
        for (path, what) in &missing {
            let message = format!("include {pattern}: {what}{} does not exist", path.display());
            self.problem(checks, check, at, message);
        }
        if !missing.is_empty() && !files.is_empty() && checks.has(Checks::BRACE) {
            return;
        }
        if files.is_empty() && missing.is_empty() && wildcard_matched_nothing {
            let message = format!("include {pattern}: no file matches");
            self.problem(checks, Checks::WILDCARD, at, message);
        }
        for file in files {
            self.include_file(checks, pattern, &file, at, depth);
        }
    }

    fn include_file(
        &mut self,
        checks: Checks,
        pattern: &str,
        file: &Path,
        at: &Location,
        depth: usize,
    ) {
        use std::os::unix::fs::PermissionsExt as _;
        let key = canonical(file);
        if self.open_files.contains(&key) {
            self.d.error(
                at,
                format!(
                    "include {pattern}: {} is already being read (include cycle)",
                    file.display()
                ),
            );
            return;
        }
        let unreadable =
            |message: &str| format!("include {pattern}: {}: {message}", file.display());
        if file.is_dir() {
            self.problem(checks, Checks::READ, at, unreadable("is a directory"));
            return;
        }
        // keepalived reads only non-executable files (check_glob_file).
        if std::fs::metadata(file).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        {
            let message = unreadable("is executable, and keepalived skips executable files");
            self.problem(checks, Checks::READ, at, message);
            return;
        }
        let text = match crate::read_config_file(file) {
            Ok(text) => text,
            Err(message) => {
                self.problem(checks, Checks::READ, at, unreadable(&message));
                return;
            }
        };
        // As keepalived: a file's include_check does not outlive it.
        let saved = self.include_check;
        self.open_files.push(key);
        self.file(&text, file, depth + 1);
        self.open_files.pop();
        self.include_check = saved;
    }
}

/// The directory before the first component with a wildcard, if it does not exist.
fn missing_directory(pattern: &Path) -> Option<PathBuf> {
    let mut dir = PathBuf::new();
    for component in pattern.components() {
        if component
            .as_os_str()
            .to_string_lossy()
            .contains(['*', '?', '['])
        {
            break;
        }
        dir.push(component);
    }
    (!dir.as_os_str().is_empty() && !dir.is_dir()).then_some(dir)
}

/// csh-style `{a,b}` alternatives, as glibc's `GLOB_BRACE` (which keepalived uses); a brace
/// pair without a comma stays literal.
fn expand_braces(pattern: &str) -> Result<Vec<String>, String> {
    const MAX_EXPANSIONS: usize = 1024;
    let mut done = Vec::new();
    let mut work = vec![pattern.to_owned()];
    while let Some(p) = work.pop() {
        match split_first_group(&p)? {
            None => done.push(p),
            Some((prefix, alternatives, suffix)) => {
                for alternative in alternatives.iter().rev() {
                    work.push(format!("{prefix}{alternative}{suffix}"));
                }
            }
        }
        if done.len() + work.len() > MAX_EXPANSIONS {
            return Err(format!("more than {MAX_EXPANSIONS} alternatives"));
        }
    }
    Ok(done)
}

/// A pattern split around its first brace group.
type Group<'p> = (&'p str, Vec<&'p str>, &'p str);

/// The first `{...}` with a top-level comma: what precedes it, its alternatives, the rest.
fn split_first_group(p: &str) -> Result<Option<Group<'_>>, String> {
    let bytes = p.as_bytes();
    let mut search_from = 0;
    while let Some(offset) = p[search_from..].find('{') {
        let open = search_from + offset;
        let mut depth = 0;
        let mut commas = Vec::new();
        let mut close = None;
        for (i, &b) in bytes.iter().enumerate().skip(open) {
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(i);
                        break;
                    }
                }
                b',' if depth == 1 => commas.push(i),
                _ => {}
            }
        }
        let Some(close) = close else {
            return Err("unbalanced '{'".into());
        };
        if commas.is_empty() {
            search_from = open + 1;
            continue;
        }
        let mut alternatives = Vec::new();
        let mut start = open + 1;
        for comma in commas {
            alternatives.push(&p[start..comma]);
            start = comma + 1;
        }
        alternatives.push(&p[start..close]);
        return Ok(Some((&p[..open], alternatives, &p[close + 1..])));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_lines_follow_keepalived() {
        assert_eq!(
            include_line("include conf.d/*.conf # all"),
            Some((Checks::NONE, "conf.d/*.conf"))
        );
        assert_eq!(
            include_line("includea \"/etc/x.conf\""),
            Some((Checks::ALL, "/etc/x.conf"))
        );
        assert_eq!(include_line("included_thing x"), None);
        assert_eq!(include_line("include"), Some((Checks::NONE, "")));
        assert_eq!(include_line("includer\tx"), Some((Checks::READ, "x")));
        assert_eq!(include_line("includew x"), Some((Checks(7), "x")));
    }

    #[test]
    fn include_check_sets_adds_and_removes() {
        let words = |w: &str| w.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(Checks::NONE.set(&[]), Ok(Checks::ALL));
        assert_eq!(Checks::ALL.set(&words("match")), Ok(Checks(3)));
        assert_eq!(
            Checks::NONE.set(&words("match +brace_match")),
            Ok(Checks(11))
        );
        assert_eq!(Checks::ALL.set(&words("-wildcard_match")), Ok(Checks(11)));
        assert!(Checks::NONE.set(&words("match brace_match")).is_err());
        assert!(Checks::NONE.set(&words("everything")).is_err());
    }

    #[test]
    fn braces_expand_like_glob_brace() {
        assert_eq!(
            expand_braces("a/{b,c}/d").expect("valid"),
            ["a/b/d", "a/c/d"]
        );
        assert_eq!(
            expand_braces("{foo/{,cat,dog},bar}").expect("valid"),
            ["foo/", "foo/cat", "foo/dog", "bar"]
        );
        assert_eq!(expand_braces("x{y}z").expect("valid"), ["x{y}z"]);
        assert!(expand_braces("x{y,z").is_err());
        assert!(expand_braces(&"{a,b}".repeat(20)).is_err());
    }
}
