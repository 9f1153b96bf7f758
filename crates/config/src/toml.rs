//! `baton.toml`: the native format. Key names are keepalived's, so the keepalived.conf
//! documentation maps one to one:
//!
//! ```toml
//! [global]
//! router_id = "lb1"
//! admin = "127.0.0.1:9180"   # metrics and status page; "none" switches them off
//!
//! [[vrrp_script]]
//! name = "chk_haproxy"
//! script = "killall -0 haproxy"
//! interval = 2
//!
//! [[vrrp]]
//! name = "VI_1"
//! interface = "eth0"
//! virtual_router_id = 51
//! priority = 150
//! virtual_ipaddress = ["10.0.3.100/24 dev eth0 label eth0:1"]
//! track_script = ["chk_haproxy", { name = "chk_other", weight = -20 }]
//! track_frontend = [{ name = "web", weight = -60 }]
//! ```
//!
//! The proxy has sections of its own, which keepalived.conf has no words for
//! (`docs/configuration.md` lists every key):
//!
//! ```toml
//! [[frontend]]
//! name = "web"
//! listen = "10.0.3.100:80"
//! backend = "app"
//!
//! [[backend]]
//! name = "app"
//! servers = ["10.0.3.11:8080", { address = "10.0.3.12:8080", weight = 2 }]
//! balance = "roundrobin"
//!
//! [backend.health_check]
//! type = "http"
//! path = "/healthz"
//! ```
//!
//! keepalived's L4 balancing is `[[virtual_server]]` and `[[virtual_server_group]]` with
//! keepalived's key names (`toml/virtual_server.rs`).
//!
//! Each section is read on its own so that a mistake in one `[[vrrp]]` does not hide
//! mistakes in the next; unknown keys are errors. This file holds the walk over the
//! sections and what reading each of them shares (lines of offsets, serde's errors, one
//! section deserialized key by key); each section is read in a file of its own under
//! `toml/`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::{Spanned, Value};

use crate::diagnostic::{Diagnostic, Diagnostics, Location};
use crate::spec::{At, Draft};
use crate::values::{parse_seconds, seconds_from_f64, split_command};

mod anycast;
mod checker;
mod conn_sync;
mod garp;
mod global;
mod notify;
mod proxy;
mod real_server;
mod ssl;
mod sync_group;
mod track_file;
mod track_lists;
mod virtual_server;
mod virtual_server_group;
mod vrrp_instance;
mod vrrp_script;

use anycast::AnycastToml;
use conn_sync::ConnSyncToml;
use global::GlobalToml;
use proxy::{BackendToml, FrontendToml};
use ssl::SslToml;
use sync_group::SyncGroupToml;
use track_file::TrackFileToml;
use virtual_server::VirtualServerToml;
use virtual_server_group::GroupToml;
use vrrp_instance::InstanceToml;
use vrrp_script::ScriptToml;

/// Reads `text` (the contents of `path`) into a draft; `path` is only used in messages.
pub(crate) fn read(text: &str, path: &Path, d: &mut Diagnostics) -> Draft {
    d.reading(path);
    let mut r = Reader {
        file: path.to_path_buf(),
        lines: line_starts(text),
        d,
    };
    let mut draft = Draft::default();
    let (document, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        // What the parser recovered is a guess: reading it would invent errors.
        for error in syntax {
            r.toml_error(&error, "");
        }
        return draft;
    }
    for (key, value) in document.get_ref().iter() {
        let section = key.get_ref().as_ref();
        match section {
            "global" => {
                if let Some((g, _)) = r.section::<GlobalToml>(value, "[global]") {
                    r.global(g, value.span().start, &mut draft);
                }
            }
            "SSL" => {
                if let Some((t, _)) = r.section::<SslToml>(value, "[SSL]") {
                    r.ssl(t, value.span().start, &mut draft);
                }
            }
            "conn_sync" => {
                if let Some((t, _)) = r.section::<ConnSyncToml>(value, "[conn_sync]") {
                    r.conn_sync(t, value.span().start, &mut draft);
                }
            }
            "vrrp"
            | "anycast"
            | "vrrp_script"
            | "track_file"
            | "sync_group"
            | "frontend"
            | "backend"
            | "virtual_server"
            | "virtual_server_group" => {
                let Some(array) = value.get_ref().as_array() else {
                    let at = r.at(value.span().start);
                    r.d.error(
                        &at,
                        format!("'{section}' must be an array of tables: write [[{section}]]"),
                    );
                    continue;
                };
                let kind = match section {
                    "vrrp" => "instance",
                    "vrrp_script" => "script",
                    "track_file" => "track file",
                    "sync_group" => "sync group",
                    "virtual_server" => "virtual server",
                    other => other,
                };
                for item in array {
                    let context = kind;
                    let start = item.span().start;
                    match section {
                        "vrrp" => {
                            if let Some((t, removed)) = r.section::<InstanceToml>(item, context) {
                                let i = r.instance(t, start, &removed);
                                draft.instances.push(i);
                            }
                        }
                        "anycast" => {
                            if let Some((t, _)) = r.section::<AnycastToml>(item, context) {
                                draft.anycasts.extend(r.anycast(t, start));
                            }
                        }
                        "vrrp_script" => {
                            if let Some((t, removed)) = r.section::<ScriptToml>(item, context) {
                                let s = r.script(t, start, &removed);
                                draft.scripts.push(s);
                            }
                        }
                        "track_file" => {
                            if let Some((t, removed)) = r.section::<TrackFileToml>(item, context) {
                                let f = r.track_file(t, start, &removed);
                                draft.track_files.push(f);
                            }
                        }
                        "sync_group" => {
                            if let Some((t, _)) = r.section::<SyncGroupToml>(item, context) {
                                let g = r.sync_group(t, start);
                                draft.sync_groups.push(g);
                            }
                        }
                        "virtual_server" => {
                            if let Some((t, _)) = r.section::<VirtualServerToml>(item, context) {
                                let v = r.virtual_server(t, item);
                                draft.virtual_servers.push(v);
                            }
                        }
                        "virtual_server_group" => {
                            if let Some((t, _)) = r.section::<GroupToml>(item, context) {
                                let g = r.virtual_server_group(t, start);
                                draft.virtual_server_groups.push(g);
                            }
                        }
                        "frontend" => {
                            if let Some((t, removed)) = r.section::<FrontendToml>(item, context) {
                                let f = r.frontend(t, start, &removed);
                                draft.frontends.push(f);
                            }
                        }
                        _ => {
                            if let Some((t, _)) = r.section::<BackendToml>(item, context) {
                                let b = r.backend(t, item);
                                draft.backends.push(b);
                            }
                        }
                    }
                }
            }
            other => {
                let at = r.at(key.span().start);
                r.d.error(
                    &at,
                    format!(
                        "unknown section '{other}': expected global, vrrp, vrrp_script, \
                         track_file, sync_group, frontend, backend, virtual_server, \
                         virtual_server_group, anycast, conn_sync or SSL"
                    ),
                );
            }
        }
    }
    draft
}

/// Byte offset of the start of each line.
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

struct Reader<'d> {
    file: PathBuf,
    lines: Vec<usize>,
    d: &'d mut Diagnostics,
}

/// `Some(value)` or an error at the value's line.
type Checked<T> = Result<T, String>;

impl Reader<'_> {
    fn at(&self, offset: usize) -> Location {
        let line = self.lines.partition_point(|&start| start <= offset);
        Location::new(&self.file, line as u32)
    }

    fn toml_error(&mut self, error: &toml::de::Error, context: &str) {
        let mut message = error
            .message()
            .trim_end()
            .replace('\n', " ")
            .replace("expected i64", "expected an integer");
        // serde lists every accepted key after an unknown one; the docs do that better.
        let unknown = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(key, _)| format!("unknown key '{key}'"));
        if let Some(unknown) = unknown {
            message = unknown;
        }
        let message = if context.is_empty() {
            message
        } else {
            format!("{context}: {message}")
        };
        match error.span() {
            Some(span) => {
                let at = self.at(span.start);
                self.d.error(&at, message);
            }
            None => self.d.push_error(Diagnostic::file(&self.file, message)),
        }
    }

    /// Deserializes one section. serde stops at the first bad key, so each bad key is
    /// reported, taken out and the rest tried again: every bad key of the section is listed
    /// and the good ones are still checked. Returns the section and the keys taken out.
    /// `kind` names the section in messages, with its `name` when it has one.
    fn section<T: for<'de> Deserialize<'de>>(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        kind: &str,
    ) -> Option<(T, Vec<String>)> {
        let mut value = value.clone();
        let context = match value
            .get_ref()
            .get("name")
            .and_then(|n| n.get_ref().as_str())
        {
            Some(name) => format!("{kind} {name}"),
            None => kind.to_owned(),
        };
        let mut removed = Vec::new();
        loop {
            let error = match T::deserialize(ValueDeserializer::from(value.clone())) {
                Ok(t) => return Some((t, removed)),
                Err(error) => error,
            };
            let culprit = match (error.span(), value.get_mut()) {
                (Some(span), DeValue::Table(table)) => table.iter().find_map(|(key, value)| {
                    let whole = key.span().start..value.span().end.max(key.span().end);
                    whole
                        .contains(&span.start)
                        .then(|| key.get_ref().to_string())
                }),
                _ => None,
            };
            let Some(culprit) = culprit else {
                self.toml_error(&error, &context);
                return None;
            };
            if error.message().starts_with("unknown field") {
                self.toml_error(&error, &context);
            } else {
                self.toml_error(&error, &format!("{context}: {culprit}"));
            }
            // `name` identifies the section: without it there is nothing to check.
            if culprit == "name" {
                return None;
            }
            if let DeValue::Table(table) = value.get_mut() {
                table.remove(culprit.as_str());
            }
            removed.push(culprit);
        }
    }

    /// Reports `result`'s error at `offset`, keeping the value when there is one.
    fn check<T>(&mut self, offset: usize, context: &str, result: Checked<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                let at = self.at(offset);
                self.d.error(&at, format!("{context}: {message}"));
                None
            }
        }
    }

    fn seconds(
        &mut self,
        c: &str,
        what: &str,
        value: &Spanned<Value>,
    ) -> Option<At<std::time::Duration>> {
        let result = match value.get_ref() {
            Value::Integer(i) if *i >= 0 => Ok(std::time::Duration::from_secs(*i as u64)),
            Value::Float(f) => seconds_from_f64(*f),
            Value::String(s) => parse_seconds(s),
            other => Err(format!("{what} must be a number of seconds, not {other}")),
        }
        .map_err(|e| format!("{what}: {e}"));
        let offset = value.span().start;
        self.check(offset, c, result)
            .map(|v| At::new(v, self.at(offset)))
    }
}

/// A command to run (`script`, `misc_path`): a command line, or a list of program and
/// arguments.
fn command(key: &str, value: &Value) -> Checked<Vec<String>> {
    let refused = || format!("{key} must be a command line or a list of strings");
    match value {
        Value::String(line) => split_command(line),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .filter(|argv| !argv.is_empty())
            .ok_or_else(refused),
        _ => Err(refused()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        let mut d = Diagnostics::default();
        let _ = read(text, Path::new("b.toml"), &mut d);
        let (errors, _) = d.finish();
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn reports_errors_of_several_sections_with_lines() {
        let text = "\
[[vrrp]]
name = \"A\"
bogus = 1

[[vrrp]]
name = \"B\"
priority = 300

[nonsense]
";
        assert_eq!(
            errors(text),
            [
                "b.toml:3: instance A: unknown key 'bogus'",
                "b.toml:7: instance B: priority 300 is out of range 1..=255",
                "b.toml:9: unknown section 'nonsense': expected global, vrrp, vrrp_script, track_file, sync_group, frontend, backend, virtual_server, virtual_server_group, anycast, conn_sync or SSL",
            ]
        );
    }

    #[test]
    fn syntax_errors_have_lines() {
        let found = errors("[global]\nrouter_id = \n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("b.toml:2: "), "{found:?}");
    }

    #[test]
    fn admin_listener_is_an_address_or_none() {
        use crate::model::AdminListen;
        let admin = |text: &str| {
            let mut d = Diagnostics::default();
            let draft = read(text, Path::new("b.toml"), &mut d);
            draft.global.admin
        };
        assert_eq!(
            admin("[global]\nadmin = \"127.0.0.1:9100\"\n"),
            Some(AdminListen::At("127.0.0.1:9100".parse().expect("addr")))
        );
        assert_eq!(
            admin("[global]\nadmin = \"[::1]:9180\"\n"),
            Some(AdminListen::At("[::1]:9180".parse().expect("addr")))
        );
        assert_eq!(
            admin("[global]\nadmin = \"none\"\n"),
            Some(AdminListen::Off)
        );
        assert_eq!(admin("[global]\nrouter_id = \"lb1\"\n"), None);
        assert_eq!(
            errors("[global]\nrouter_id = \"lb1\"\nadmin = \"localhost:9180\"\n"),
            [
                "b.toml:3: [global]: admin: expected IP:PORT (IPv6 in brackets) or \"none\", not \"localhost:9180\""
            ]
        );
    }

    #[test]
    fn line_of_offset() {
        let starts = line_starts("a\nbc\n\nd");
        assert_eq!(starts, [0, 2, 5, 6]);
        let mut d = Diagnostics::default();
        let r = Reader {
            file: "f".into(),
            lines: starts,
            d: &mut d,
        };
        assert_eq!(r.at(0).line, 1);
        assert_eq!(r.at(1).line, 1);
        assert_eq!(r.at(2).line, 2);
        assert_eq!(r.at(5).line, 3);
        assert_eq!(r.at(6).line, 4);
    }
}
