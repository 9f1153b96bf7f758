//! baton.toml: `baton_config::parse_toml` on arbitrary UTF-8. Never panics; every error
//! names the file, and a line where the TOML parser gave a position; what loads, the VRRP
//! engine accepts.
//!
//! A frontend's TLS `cert` and `key` files are read while checking, relative to the file's
//! directory, which is empty (`config_path`). Documents with a `cert` or `key` whose value
//! holds a `/` are skipped (looked at after TOML's escapes, with the parser the loader
//! uses): an absolute path would let the fuzzer read the machine's files, `/dev/zero`
//! included. Other paths (scripts, URLs, prefixes) are only stored, never opened.

use toml::de::{DeTable, DeValue};

/// A string anywhere in the value holds a `/`.
fn has_slash(value: &DeValue<'_>) -> bool {
    match value {
        DeValue::String(text) => text.contains('/'),
        DeValue::Array(items) => items.iter().any(|item| has_slash(item.get_ref())),
        DeValue::Table(table) => table.values().any(|value| has_slash(value.get_ref())),
        _ => false,
    }
}

/// A `cert` or `key`, at any depth, names a path with a `/`.
fn reads_outside(value: &DeValue<'_>) -> bool {
    match value {
        DeValue::Array(items) => items.iter().any(|item| reads_outside(item.get_ref())),
        DeValue::Table(table) => table_reads_outside(table),
        _ => false,
    }
}

fn table_reads_outside(table: &DeTable<'_>) -> bool {
    table.iter().any(|(name, value)| {
        let value = value.get_ref();
        matches!(name.get_ref().as_ref(), "cert" | "key") && has_slash(value)
            || reads_outside(value)
    })
}

/// One input: panics when a check fails.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A document with syntax errors is not read any further by the loader.
    let (document, syntax) = DeTable::parse_recoverable(text);
    if syntax.is_empty() && table_reads_outside(document.get_ref()) {
        return;
    }
    let path = crate::config::config_path("baton.toml");
    let outcome = baton_config::parse_toml(text, &path);
    crate::config::check_outcome(&outcome, &path, text, true);
}
