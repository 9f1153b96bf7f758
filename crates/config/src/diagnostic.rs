//! Where things come from, and what is wrong with them.
//!
//! Every model item carries the [`Location`] it was read from, as a [`WrittenAt`], which
//! the item's equality leaves out; every problem is a [`Diagnostic`] that prints as
//! `FILE:LINE: message`, the form `baton check` lists.

use std::fmt;
use std::path::{Path, PathBuf};

/// A line in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    pub file: PathBuf,
    /// 1-based.
    pub line: u32,
}

impl Location {
    pub fn new(file: impl Into<PathBuf>, line: u32) -> Location {
        Location {
            file: file.into(),
            line,
        }
    }

    /// The empty location, for items made without a file (`baton vrrp -i eth0 ...`).
    pub(crate) fn blank() -> Location {
        Location {
            file: PathBuf::new(),
            line: 0,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// Where an item of the model was written: a [`Location`] that is not part of what the item
/// says.
///
/// Every `WrittenAt` equals every other, so the derived `PartialEq` of [`crate::Config`] and
/// of everything in it compares content only: a reload that just moved lines changes
/// nothing, and a field added to the model is compared without anyone remembering to (the
/// walk that blanked locations before comparing had to list each one, and missed some).
/// The location itself is there through `Deref` (`item.location.line`, `*item.location`)
/// for messages and for tests that check it. A model type keeps where it was written in a
/// `WrittenAt`, never a bare `Location` (`tests/equality.rs` fails on one).
#[derive(Clone)]
pub struct WrittenAt(Location);

impl WrittenAt {
    pub fn new(location: Location) -> WrittenAt {
        WrittenAt(location)
    }

    pub fn location(&self) -> &Location {
        &self.0
    }
}

impl PartialEq for WrittenAt {
    /// Always: where an item was written is not what it says (see the type).
    fn eq(&self, _: &WrittenAt) -> bool {
        true
    }
}

impl Eq for WrittenAt {}

impl std::ops::Deref for WrittenAt {
    type Target = Location;

    fn deref(&self) -> &Location {
        &self.0
    }
}

impl From<Location> for WrittenAt {
    fn from(location: Location) -> WrittenAt {
        WrittenAt(location)
    }
}

impl fmt::Debug for WrittenAt {
    /// `WrittenAt(FILE:LINE)`: unlike a [`Location`]'s, so that a test can see that every
    /// location in the model is one that equality leaves out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WrittenAt({})", self.0)
    }
}

impl fmt::Display for WrittenAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// `None` when the problem is with the file as a whole (it cannot be read, say).
    pub line: Option<u32>,
    pub message: String,
}

impl Diagnostic {
    pub fn at(location: &Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: location.file.clone(),
            line: Some(location.line),
            message: message.into(),
        }
    }

    pub fn file(file: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.to_path_buf(),
            line: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Every error found in a configuration, in file and line order. `Display` prints one per
/// line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Errors {
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Errors {
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.errors.iter()
    }

    pub fn len(&self) -> usize {
        self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Warnings found along the way; worth showing next to the errors.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl<'a> IntoIterator for &'a Errors {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

/// The collector both front ends and validation push into: nothing stops at the first error.
#[derive(Debug, Default)]
pub(crate) struct Diagnostics {
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    /// Files in the order they were read, to list problems in reading order.
    files: Vec<PathBuf>,
}

impl Diagnostics {
    /// Notes that `file` is being read: its problems are listed after earlier files'.
    pub(crate) fn reading(&mut self, file: &Path) {
        if !self.files.iter().any(|f| f == file) {
            self.files.push(file.to_path_buf());
        }
    }

    pub(crate) fn error(&mut self, location: &Location, message: impl Into<String>) {
        self.errors.push(Diagnostic::at(location, message));
    }

    pub(crate) fn warn(&mut self, location: &Location, message: impl Into<String>) {
        self.warnings.push(Diagnostic::at(location, message));
    }

    pub(crate) fn warn_file(&mut self, file: &Path, message: impl Into<String>) {
        self.warnings.push(Diagnostic::file(file, message));
    }

    pub(crate) fn push_error(&mut self, diagnostic: Diagnostic) {
        self.errors.push(diagnostic);
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Sorted by file (in reading order) then line, stable so one line's problems keep
    /// their order, and with exact repeats removed: a sync group's warning is found once
    /// per member.
    /// Takes over what `other` collected, as if it had been pushed here.
    pub(crate) fn absorb(&mut self, other: Diagnostics) {
        self.errors.extend(other.errors);
        self.warnings.extend(other.warnings);
        for file in other.files {
            self.reading(&file);
        }
    }

    pub(crate) fn finish(self) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
        (
            tidy(self.errors, &self.files),
            tidy(self.warnings, &self.files),
        )
    }

    pub(crate) fn into_result<T>(self, value: T) -> Result<(T, Vec<Diagnostic>), Errors> {
        let (errors, warnings) = self.finish();
        if errors.is_empty() {
            Ok((value, warnings))
        } else {
            Err(Errors { errors, warnings })
        }
    }
}

fn tidy(mut list: Vec<Diagnostic>, files: &[PathBuf]) -> Vec<Diagnostic> {
    let rank = |d: &Diagnostic| {
        files
            .iter()
            .position(|f| *f == d.file)
            .unwrap_or(usize::MAX)
    };
    list.sort_by(|a, b| (rank(a), &a.file, a.line).cmp(&(rank(b), &b.file, b.line)));
    list.dedup();
    list
}

/// A value and the line it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct At<T> {
    pub(crate) value: T,
    pub(crate) at: Location,
}

impl<T> At<T> {
    pub(crate) fn new(value: T, at: Location) -> At<T> {
        At { value, at }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_file_line_message_one_per_line() {
        let mut d = Diagnostics::default();
        d.reading(Path::new("a.conf"));
        d.reading(Path::new("c.conf"));
        d.error(&Location::new("c.conf", 1), "read second");
        d.error(&Location::new("b.conf", 3), "never read: last");
        d.error(&Location::new("a.conf", 9), "later line");
        d.error(&Location::new("a.conf", 2), "earlier line");
        d.push_error(Diagnostic::file(Path::new("a.conf"), "whole file"));
        let errors = d.into_result(()).expect_err("has errors");
        assert_eq!(
            errors.to_string(),
            "a.conf: whole file\na.conf:2: earlier line\na.conf:9: later line\nc.conf:1: read second\nb.conf:3: never read: last"
        );
        assert_eq!(errors.len(), 5);
    }

    #[test]
    fn repeats_are_reported_once() {
        let mut d = Diagnostics::default();
        let at = Location::new("k.conf", 1);
        d.warn(&at, "same");
        d.warn(&at, "same");
        let ((), warnings) = d.into_result(()).expect("no errors");
        assert_eq!(warnings.len(), 1);
    }
}
