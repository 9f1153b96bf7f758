//! What the tests share: running a file and listing its errors or warnings as
//! `baton check` prints them.
#![allow(dead_code)] // each test binary uses a different part

use baton_config::{Errors, Loaded, parse_keepalived, parse_toml};

/// A keepalived.conf `k.conf` with `globals` in global_defs (line 2 on) and two instances,
/// A (with `instance` at its line 6) and B, each with one VIP; its errors as lines.
pub(crate) fn two_instances(globals: &str, instance: &str) -> Result<Loaded, Vec<String>> {
    let text = format!(
        "global_defs {{\n{globals}}}\nvrrp_instance A {{\n interface eth0\n virtual_router_id 1\n\
         {instance} virtual_ipaddress {{\n 10.0.0.1\n }}\n}}\nvrrp_instance B {{\n interface eth0\n\
         virtual_router_id 2\n virtual_ipaddress {{\n 10.0.0.2\n }}\n}}\n"
    );
    parse_keepalived(&text, "k.conf").map_err(|e| lines(&e))
}

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
