//! What the error tests share: running a file and listing its errors or warnings as
//! `baton check` prints them.

use baton_config::{Errors, parse_keepalived, parse_toml};

pub(crate) fn lines(errors: &Errors) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

/// The errors of a keepalived.conf named `k.conf`, which must have some.
pub(crate) fn keepalived_errors(text: &str) -> Vec<String> {
    match parse_keepalived(text, "k.conf") {
        Ok(loaded) => panic!("expected errors, got {loaded:?}"),
        Err(errors) => lines(&errors),
    }
}

/// The warnings of a keepalived.conf named `k.conf`, which must have no error.
pub(crate) fn keepalived_warnings(text: &str) -> Vec<String> {
    match parse_keepalived(text, "k.conf") {
        Ok(loaded) => loaded.warnings.iter().map(ToString::to_string).collect(),
        Err(errors) => panic!("expected no errors, got:\n{errors}"),
    }
}

/// The errors of a baton.toml named `b.toml`, which must have some.
pub(crate) fn toml_errors(text: &str) -> Vec<String> {
    match parse_toml(text, "b.toml") {
        Ok(loaded) => panic!("expected errors, got {loaded:?}"),
        Err(errors) => lines(&errors),
    }
}
