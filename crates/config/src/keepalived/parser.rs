//! Tokens into statements. As in keepalived's `read_line`, a statement is a keyword and the
//! words after it on the same line, up to a brace; a `{` that follows (on the same line or
//! a later one) opens the statement's block.

use std::iter::Peekable;
use std::vec::IntoIter;

use crate::diagnostic::{Diagnostics, Location};
use crate::keepalived::lexer::{Kind, Token};

/// Deeper than any real keepalived.conf (virtual_server > real_server > HTTP_GET > url is
/// the deepest, at 4); the limit keeps hostile input from exhausting the stack.
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stmt {
    pub(crate) keyword: String,
    pub(crate) args: Vec<String>,
    pub(crate) block: Option<Vec<Stmt>>,
    pub(crate) at: Location,
}

impl Stmt {
    /// The words after the keyword, joined: for messages.
    pub(crate) fn rest(&self) -> String {
        self.args.join(" ")
    }
}

pub(crate) fn parse(tokens: Vec<Token>, d: &mut Diagnostics) -> Vec<Stmt> {
    let mut parser = Parser {
        tokens: tokens.into_iter().peekable(),
        d,
    };
    parser.body(None, 0)
}

struct Parser<'d> {
    tokens: Peekable<IntoIter<Token>>,
    d: &'d mut Diagnostics,
}

impl Parser<'_> {
    /// Statements up to the `}` closing the block opened at `open`, or to the end.
    fn body(&mut self, open: Option<&Location>, depth: usize) -> Vec<Stmt> {
        let mut stmts = Vec::new();
        loop {
            let Some(token) = self.tokens.next() else {
                if let Some(open) = open {
                    self.d.error(open, "this '{' is never closed");
                }
                return stmts;
            };
            match token.kind {
                Kind::Close if open.is_some() => return stmts,
                Kind::Close => self.d.error(&token.at, "'}' without a matching '{'"),
                Kind::Open => {
                    self.d.error(&token.at, "'{' without a keyword before it");
                    let _ = self.block(&token.at, depth);
                }
                Kind::Word(keyword) => {
                    let mut args = Vec::new();
                    while let Some(Token {
                        kind: Kind::Word(_),
                        line,
                        ..
                    }) = self.tokens.peek()
                    {
                        if *line != token.line {
                            break;
                        }
                        if let Some(Token {
                            kind: Kind::Word(word),
                            ..
                        }) = self.tokens.next()
                        {
                            args.push(word);
                        }
                    }
                    let block = match self.tokens.peek() {
                        Some(Token {
                            kind: Kind::Open,
                            at,
                            ..
                        }) => {
                            let at = at.clone();
                            self.tokens.next();
                            Some(self.block(&at, depth))
                        }
                        _ => None,
                    };
                    stmts.push(Stmt {
                        keyword,
                        args,
                        block,
                        at: token.at,
                    });
                }
            }
        }
    }

    /// The block whose `{` was at `open` and has been consumed.
    fn block(&mut self, open: &Location, depth: usize) -> Vec<Stmt> {
        if depth + 1 < MAX_DEPTH {
            return self.body(Some(open), depth + 1);
        }
        self.d.error(open, "blocks are nested too deeply");
        // Skip to the matching '}' without recursing.
        let mut level = 1usize;
        for token in self.tokens.by_ref() {
            match token.kind {
                Kind::Open => level += 1,
                Kind::Close => {
                    level -= 1;
                    if level == 0 {
                        break;
                    }
                }
                Kind::Word(_) => {}
            }
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keepalived::lexer::lex;
    use std::path::Path;

    fn parse_text(text: &str) -> (Vec<Stmt>, Vec<String>) {
        let mut d = Diagnostics::default();
        let tokens = lex(text, Path::new("k.conf"), &mut d);
        let stmts = parse(tokens, &mut d);
        let (errors, _) = d.finish();
        (stmts, errors.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn braces_on_the_same_or_the_next_line() {
        let (stmts, errors) = parse_text(
            "vrrp_instance A {\n  state MASTER\n}\nvrrp_instance B\n{\n  virtual_ipaddress { 10.0.0.1 }\n}\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(stmts.len(), 2);
        assert_eq!(stmts[0].args, ["A"]);
        let a = stmts[0].block.as_ref().expect("block");
        assert_eq!(a[0].keyword, "state");
        assert_eq!(a[0].args, ["MASTER"]);
        assert_eq!(a[0].at.line, 2);
        let b = stmts[1].block.as_ref().expect("block");
        let vips = b[0].block.as_ref().expect("nested block");
        assert_eq!(vips[0].keyword, "10.0.0.1");
        assert_eq!(vips[0].at.line, 6);
    }

    #[test]
    fn unbalanced_braces_are_reported() {
        let (_, errors) = parse_text("}\nvrrp_instance A {\n  x\n");
        assert_eq!(
            errors,
            [
                "k.conf:1: '}' without a matching '{'",
                "k.conf:2: this '{' is never closed"
            ]
        );
        let (_, errors) = parse_text("{ a }");
        assert_eq!(errors, ["k.conf:1: '{' without a keyword before it"]);
    }

    #[test]
    fn deep_nesting_is_refused_without_recursing() {
        let text = format!("a {{ {}{}", "b { ".repeat(100_000), "} ".repeat(100_001));
        let (_, errors) = parse_text(&text);
        assert_eq!(errors, ["k.conf:1: blocks are nested too deeply"]);
    }
}
