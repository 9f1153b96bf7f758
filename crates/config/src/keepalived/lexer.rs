//! keepalived.conf as tokens: words and braces, each with its file and line, `include`s
//! spliced in where they stand (keepalived includes text, so an include may sit inside a
//! block).

use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostics, Location};
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
}

pub(crate) fn lex(text: &str, path: &Path, d: &mut Diagnostics) -> Vec<Token> {
    let mut lexer = Lexer {
        d,
        tokens: Vec::new(),
        open_files: vec![canonical(path)],
    };
    lexer.file(text, path, 0);
    lexer.tokens
}

struct Lexer<'d> {
    d: &'d mut Diagnostics,
    tokens: Vec<Token>,
    /// The files being read, outermost first, to refuse include cycles.
    open_files: Vec<PathBuf>,
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// keepalived's `include` variants (`check_include` in `lib/parser.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Include {
    /// `include`, `includer`, `includem`, `includeb`: a wildcard may match nothing.
    Lenient,
    /// `includew`, `includea`: a wildcard must match.
    WildcardMustMatch,
}

/// `include PATTERN` and its variants; `None` for any other line.
fn include_line(line: &str) -> Option<(Include, &str)> {
    let rest = line.strip_prefix("include")?;
    let Some(first) = rest.chars().next() else {
        return Some((Include::Lenient, ""));
    };
    let (kind, rest) = match first {
        c if c.is_whitespace() => (Include::Lenient, rest),
        'r' | 'm' | 'b' => (Include::Lenient, &rest[1..]),
        'w' | 'a' => (Include::WildcardMustMatch, &rest[1..]),
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

/// keepalived's `$NAME=value` (parameter definition, `check_definition`).
fn is_definition(line: &str) -> bool {
    let Some(rest) = line.strip_prefix('$') else {
        return false;
    };
    let name_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    name_len > 0
        && !rest.starts_with(|c: char| c.is_ascii_digit())
        && rest[name_len..].starts_with('=')
}

impl Lexer<'_> {
    fn file(&mut self, text: &str, path: &Path, depth: usize) {
        self.d.reading(path);
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (index, line) in text.lines().enumerate() {
            let at = Location::new(path, u32::try_from(index + 1).unwrap_or(u32::MAX));
            let trimmed = line.trim_start();
            if let Some((kind, pattern)) = include_line(trimmed) {
                self.include(kind, pattern, &at, path, depth);
                continue;
            }
            let refused = if is_definition(trimmed) {
                Some("parameter definitions ($NAME=...) are not supported yet")
            } else if trimmed.starts_with('@') {
                Some("conditional lines (@ID ...) are not supported yet")
            } else if trimmed.starts_with("~SEQ") || trimmed.starts_with("~LST") {
                Some("~SEQ and ~LST blocks are not supported yet")
            } else {
                None
            };
            if let Some(message) = refused {
                self.d.error(&at, message);
                continue;
            }
            match scan(line, Mode::Config) {
                Ok(pieces) => self.tokens.extend(pieces.into_iter().map(|piece| Token {
                    kind: match piece {
                        Piece::Word(w) => Kind::Word(w),
                        Piece::Open => Kind::Open,
                        Piece::Close => Kind::Close,
                    },
                    at: at.clone(),
                })),
                Err(message) => self.d.error(&at, message),
            }
        }
    }

    fn include(&mut self, kind: Include, pattern: &str, at: &Location, from: &Path, depth: usize) {
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
        // keepalived.conf(5): relative paths are relative to the including file's directory.
        let dir = from.parent().unwrap_or(Path::new(""));
        let patterns = match expand_braces(pattern) {
            Ok(p) => p,
            Err(message) => {
                self.d.error(at, format!("include {pattern}: {message}"));
                return;
            }
        };
        let mut files = Vec::new();
        let mut wildcard_matched_nothing = false;
        for p in &patterns {
            let full = dir.join(p);
            if !p.contains(['*', '?', '[']) {
                if full.exists() {
                    files.push(full);
                } else {
                    self.d.error(
                        at,
                        format!("include {pattern}: {} does not exist", full.display()),
                    );
                }
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
                            // Not skipped: a FIFO or a device that matches is refused.
                            Ok(path) if !path.is_dir() => files.push(path),
                            Ok(_) => {}
                            Err(error) => self.d.error(at, format!("include {pattern}: {error}")),
                        }
                    }
                    wildcard_matched_nothing |= files.len() == before;
                }
                Err(error) => self.d.error(at, format!("include {pattern}: {error}")),
            }
        }
        if wildcard_matched_nothing {
            let message = format!("include {pattern}: no file matches");
            match kind {
                Include::Lenient => self.d.warn(at, message),
                Include::WildcardMustMatch => self.d.error(at, message),
            }
        }
        for file in files {
            let key = canonical(&file);
            if self.open_files.contains(&key) {
                self.d.error(
                    at,
                    format!(
                        "include {pattern}: {} is already being read (include cycle)",
                        file.display()
                    ),
                );
                continue;
            }
            let text = match crate::read_config_file(&file) {
                Ok(text) => text,
                Err(message) => {
                    self.d.error(
                        at,
                        format!("include {pattern}: {}: {message}", file.display()),
                    );
                    continue;
                }
            };
            self.open_files.push(key);
            self.file(&text, &file, depth + 1);
            self.open_files.pop();
        }
    }
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
            Some((Include::Lenient, "conf.d/*.conf"))
        );
        assert_eq!(
            include_line("includea \"/etc/x.conf\""),
            Some((Include::WildcardMustMatch, "/etc/x.conf"))
        );
        assert_eq!(include_line("included_thing x"), None);
        assert_eq!(include_line("include"), Some((Include::Lenient, "")));
        assert_eq!(include_line("includer\tx"), Some((Include::Lenient, "x")));
    }

    #[test]
    fn definitions_are_recognised() {
        assert!(is_definition("$PRIO=100"));
        assert!(is_definition("$_X="));
        assert!(!is_definition("$1X=2"));
        assert!(!is_definition("$PRIO"));
        assert!(!is_definition("priority $PRIO"));
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
