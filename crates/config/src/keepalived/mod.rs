//! The keepalived.conf reader: `lexer` (words, braces, comments, quotes, includes),
//! `parser` (statements and blocks), `mapping` (what each keyword means), `virtual_server`
//! (the same for the LVS family), `keywords` (what baton supports, and why not when it does
//! not).

mod keywords;
mod lexer;
mod mapping;
mod parser;
mod virtual_server;

use std::path::Path;

use crate::diagnostic::Diagnostics;
use crate::spec::Draft;

/// Reads `text`, the contents of `path`, and what it includes.
pub(crate) fn read(text: &str, path: &Path, d: &mut Diagnostics) -> Draft {
    let tokens = lexer::lex(text, path, d);
    let statements = parser::parse(tokens, d);
    mapping::map(statements, d)
}
