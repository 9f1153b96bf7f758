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
//! mistakes in the next; unknown keys are errors.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::{Spanned, Value};

use crate::diagnostic::{Diagnostic, Diagnostics, Location};
use crate::fields;
use crate::model::{
    InitFile, Notify, NotifyScript, TrackFileRef, TrackFrontend, TrackInterface, TrackScriptRef,
    TrackVirtualServer, UnicastPeer, VirtualAddress,
};
use crate::spec::{
    At, AuthDraft, Draft, GarpDraft, InstanceDraft, ScriptDraft, SyncGroupDraft, TrackFileDraft,
};
use crate::values::{self, parse_ip, parse_seconds, seconds_from_f64, split_command};

mod conn_sync;
mod proxy;
mod virtual_server;

use conn_sync::ConnSyncToml;

use proxy::{BackendToml, FrontendToml};
use virtual_server::{GroupToml, SslToml, VirtualServerToml};

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
                         virtual_server_group, conn_sync or SSL"
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GlobalToml {
    router_id: Option<String>,
    script_user: Option<Spanned<String>>,
    script_group: Option<Spanned<String>>,
    enable_script_security: Option<bool>,
    vrrp_version: Option<Spanned<i64>>,
    vrrp_garp_master_delay: Option<Spanned<i64>>,
    vrrp_garp_master_repeat: Option<Spanned<i64>>,
    vrrp_garp_master_refresh: Option<Spanned<i64>>,
    vrrp_garp_master_refresh_repeat: Option<Spanned<i64>>,
    vrrp_min_garp: Option<bool>,
    v3_checksum_as_v2: Option<bool>,
    admin: Option<Spanned<String>>,
    checker_log_all_failures: Option<bool>,
    rs_init_notifies: Option<bool>,
    vrrp_skip_check_adv_addr: Option<bool>,
    vrrp_strict: Option<bool>,
    vrrp_garp_interval: Option<Spanned<Value>>,
    vrrp_gna_interval: Option<Spanned<Value>>,
    vrrp_lower_prio_no_advert: Option<bool>,
    vrrp_higher_prio_send_advert: Option<bool>,
    vrrp_down_timer_adverts: Option<Spanned<i64>>,
    vrrp_startup_delay: Option<Spanned<Value>>,
    vrrp_mcast_group4: Option<Spanned<String>>,
    vrrp_mcast_group6: Option<Spanned<String>>,
    reload_time_file: Option<Spanned<String>>,
    reload_repeat: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptToml {
    name: String,
    script: Option<Spanned<Value>>,
    interval: Option<Spanned<Value>>,
    timeout: Option<Spanned<Value>>,
    weight: Option<Spanned<i64>>,
    rise: Option<Spanned<i64>>,
    fall: Option<Spanned<i64>>,
    user: Option<Spanned<String>>,
    group: Option<Spanned<String>>,
    init_fail: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrackFileToml {
    name: String,
    file: Option<String>,
    weight: Option<Spanned<i64>>,
    init_file: Option<Spanned<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthToml {
    auth_type: Option<Spanned<String>>,
    auth_pass: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InstanceToml {
    name: String,
    interface: Option<String>,
    virtual_router_id: Option<Spanned<i64>>,
    version: Option<Spanned<i64>>,
    state: Option<Spanned<String>>,
    priority: Option<Spanned<i64>>,
    advert_int: Option<Spanned<Value>>,
    virtual_ipaddress: Option<Vec<Spanned<Value>>>,
    virtual_ipaddress_excluded: Option<Vec<Spanned<Value>>>,
    no_virtual_ipaddress: Option<bool>,
    #[serde(alias = "mcast_src_ip")]
    unicast_src_ip: Option<Spanned<String>>,
    unicast_peer: Option<Vec<Spanned<String>>>,
    nopreempt: Option<Spanned<bool>>,
    preempt_delay: Option<Spanned<Value>>,
    accept: Option<bool>,
    authentication: Option<Spanned<AuthToml>>,
    track_interface: Option<Vec<Spanned<Value>>>,
    track_script: Option<Vec<Spanned<Value>>>,
    track_file: Option<Vec<Spanned<Value>>>,
    track_frontend: Option<Vec<Spanned<Value>>>,
    track_virtual_server: Option<Vec<Spanned<Value>>>,
    dont_track_primary: Option<bool>,
    /// keepalived's `track_src_ip`.
    track_src_ip: Option<Spanned<bool>>,
    skip_check_adv_addr: Option<bool>,
    strict_mode: Option<bool>,
    notify_master: Option<Spanned<Value>>,
    notify_backup: Option<Spanned<Value>>,
    notify_fault: Option<Spanned<Value>>,
    notify_stop: Option<Spanned<Value>>,
    notify: Option<Spanned<Value>>,
    notify_master_rx_lower_pri: Option<Spanned<Value>>,
    /// `true`, or the script to run.
    notify_deleted: Option<Spanned<Value>>,
    garp_master_delay: Option<Spanned<i64>>,
    garp_master_repeat: Option<Spanned<i64>>,
    garp_master_refresh: Option<Spanned<i64>>,
    garp_master_refresh_repeat: Option<Spanned<i64>>,
    v3_checksum_as_v2: Option<Spanned<bool>>,
    lower_prio_no_advert: Option<bool>,
    higher_prio_send_advert: Option<bool>,
    down_timer_adverts: Option<Spanned<i64>>,
    unicast_ttl: Option<Spanned<i64>>,
    mcast_dst_ip: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncGroupToml {
    name: String,
    group: Option<Vec<Spanned<String>>>,
    notify_master: Option<Spanned<Value>>,
    notify_backup: Option<Spanned<Value>>,
    notify_fault: Option<Spanned<Value>>,
    notify_stop: Option<Spanned<Value>>,
    notify: Option<Spanned<Value>>,
    track_interface: Option<Vec<Spanned<Value>>>,
    track_script: Option<Vec<Spanned<Value>>>,
    track_file: Option<Vec<Spanned<Value>>>,
    sync_group_tracking_weight: Option<bool>,
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

    fn global(&mut self, g: GlobalToml, start: usize, draft: &mut Draft) {
        let c = "[global]";
        let out = &mut draft.global;
        out.location = Some(self.at(start));
        out.router_id = g.router_id;
        match (g.script_user, g.script_group) {
            (Some(user), group) => {
                let offset = user.span().start;
                let result = values::script_user(
                    user.get_ref(),
                    group.as_ref().map(|g| g.get_ref().as_str()),
                );
                out.script_user = self.check(offset, c, result);
            }
            (None, Some(group)) => {
                let result = Err("script_group needs a script_user".to_owned());
                self.check::<()>(group.span().start, c, result);
            }
            (None, None) => {}
        }
        out.enable_script_security = g.enable_script_security.unwrap_or(false);
        if let Some(v) = g.vrrp_version {
            let result = fields::version("vrrp_version", *v.get_ref());
            out.vrrp_version = self.check(v.span().start, c, result);
        }
        out.garp = self.garp(
            c,
            [
                ("vrrp_garp_master_delay", g.vrrp_garp_master_delay),
                ("vrrp_garp_master_repeat", g.vrrp_garp_master_repeat),
                ("vrrp_garp_master_refresh", g.vrrp_garp_master_refresh),
                (
                    "vrrp_garp_master_refresh_repeat",
                    g.vrrp_garp_master_refresh_repeat,
                ),
            ],
        );
        out.min_garp = g.vrrp_min_garp.unwrap_or(false);
        out.v3_checksum_as_v2 = g.v3_checksum_as_v2;
        if let Some(admin) = g.admin {
            out.admin = self.check(admin.span().start, c, admin.get_ref().parse());
        }
        out.checker_log_all_failures = g.checker_log_all_failures;
        out.rs_init_notifies = g.rs_init_notifies.unwrap_or(false);
        out.skip_check_adv_addr = g.vrrp_skip_check_adv_addr.unwrap_or(false);
        out.strict = g.vrrp_strict.unwrap_or(false);
        for (name, value, slot) in [
            (
                "vrrp_garp_interval",
                g.vrrp_garp_interval,
                &mut out.announce_pacing.garp_interval,
            ),
            (
                "vrrp_gna_interval",
                g.vrrp_gna_interval,
                &mut out.announce_pacing.gna_interval,
            ),
        ] {
            if let Some(v) = value
                && let Some(pause) = self.seconds(c, name, &v)
            {
                let result = fields::announce_interval(name, pause.value);
                *slot = self.check(v.span().start, c, result).unwrap_or_default();
            }
        }
        out.election.lower_prio_no_advert = g.vrrp_lower_prio_no_advert;
        out.election.higher_prio_send_advert = g.vrrp_higher_prio_send_advert;
        if let Some(v) = g.vrrp_down_timer_adverts {
            let result = fields::down_timer_adverts("vrrp_down_timer_adverts", *v.get_ref());
            out.election.down_timer_adverts = self.check(v.span().start, c, result);
        }
        for (what, value, ipv6) in [
            ("vrrp_mcast_group4", g.vrrp_mcast_group4, false),
            ("vrrp_mcast_group6", g.vrrp_mcast_group6, true),
        ] {
            let Some(v) = value else { continue };
            let group = fields::mcast_group(what, v.get_ref(), ipv6);
            let group = self.check(v.span().start, c, group);
            if ipv6 {
                out.election.mcast_group6 = group;
            } else {
                out.election.mcast_group4 = group;
            }
        }
        if let Some(v) = g.vrrp_startup_delay {
            out.startup_delay = self
                .seconds(c, "vrrp_startup_delay", &v)
                .map(|d| d.value)
                .filter(|d| !d.is_zero());
        }
        if let Some(v) = g.reload_time_file {
            let path = PathBuf::from(v.get_ref());
            let result = if path.is_absolute() {
                Ok(path)
            } else {
                Err("reload_time_file must be an absolute path".to_owned())
            };
            out.reload_time_file = self.check(v.span().start, c, result);
        }
        out.reload_repeat = g.reload_repeat.unwrap_or(false);
    }

    /// The four `garp_master_*` settings, in that order.
    fn garp(&mut self, c: &str, settings: [(&str, Option<Spanned<i64>>); 4]) -> GarpDraft {
        let mut garp = GarpDraft::default();
        for (i, (name, value)) in settings.into_iter().enumerate() {
            let Some(value) = value else { continue };
            let offset = value.span().start;
            let v = *value.get_ref();
            match i {
                0 => garp.master_delay = self.check(offset, c, fields::garp_seconds(name, v)),
                1 => garp.master_repeat = self.check(offset, c, fields::count(name, v)),
                2 => garp.master_refresh = self.check(offset, c, fields::garp_seconds(name, v)),
                _ => garp.master_refresh_repeat = self.check(offset, c, fields::count(name, v)),
            }
        }
        garp
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

    fn script(&mut self, t: ScriptToml, start: usize, removed: &[String]) -> ScriptDraft {
        let c = format!("script {}", t.name);
        let mut s = ScriptDraft::new(t.name, self.at(start));
        s.argv_given = t.script.is_some() || removed.iter().any(|k| k == "script");
        if let Some(script) = t.script {
            let offset = script.span().start;
            let result = match script.get_ref() {
                Value::String(line) => split_command(line),
                Value::Array(items) => items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .filter(|argv| !argv.is_empty())
                    .ok_or_else(|| "script must be a command line or a list of strings".into()),
                _ => Err("script must be a command line or a list of strings".into()),
            };
            s.argv = self.check(offset, &c, result);
        }
        if let Some(interval) = t.interval {
            s.interval = self.seconds(&c, "interval", &interval).and_then(|v| {
                self.check(
                    interval.span().start,
                    &c,
                    fields::script_period("interval", v.value),
                )
            });
        }
        if let Some(timeout) = t.timeout {
            s.timeout = self.seconds(&c, "timeout", &timeout).and_then(|v| {
                self.check(
                    timeout.span().start,
                    &c,
                    fields::script_period("timeout", v.value),
                )
            });
        }
        if let Some(w) = t.weight {
            let result = fields::weight("weight", *w.get_ref(), fields::TRACK_WEIGHT);
            s.weight = self.check(w.span().start, &c, result);
        }
        if let Some(v) = t.rise {
            s.rise = self.check(v.span().start, &c, fields::count("rise", *v.get_ref()));
        }
        if let Some(v) = t.fall {
            s.fall = self.check(v.span().start, &c, fields::count("fall", *v.get_ref()));
        }
        match (t.user, t.group) {
            (Some(user), group) => {
                let group = group.as_ref().map(|g| g.get_ref().as_str());
                let result = values::script_user(user.get_ref(), group);
                s.user = self.check(user.span().start, &c, result);
            }
            (None, Some(group)) => {
                let result = Err("group needs a user".to_owned());
                self.check::<()>(group.span().start, &c, result);
            }
            (None, None) => {}
        }
        s.init_fail = t.init_fail.unwrap_or(false);
        s
    }

    fn track_file(&mut self, t: TrackFileToml, start: usize, removed: &[String]) -> TrackFileDraft {
        let c = format!("track file {}", t.name);
        let weight = t.weight.and_then(|w| {
            let result = fields::weight("weight", *w.get_ref(), fields::TRACK_FILE_WEIGHT);
            self.check(w.span().start, &c, result)
        });
        let init_file = t.init_file.and_then(|v| {
            let result = match v.get_ref() {
                Value::Boolean(true) => Ok(Some(InitFile {
                    value: 0,
                    overwrite: false,
                })),
                Value::Boolean(false) => Ok(None),
                Value::Integer(value) => Ok(Some(InitFile {
                    value: *value,
                    overwrite: false,
                })),
                Value::Table(table) => init_file_table(table).map(Some),
                _ => Err("init_file must be true, a number or { value, overwrite }".into()),
            };
            self.check(v.span().start, &c, result).flatten()
        });
        TrackFileDraft {
            name: t.name,
            location: self.at(start),
            path_given: t.file.is_some() || removed.iter().any(|k| k == "file"),
            path: t.file.map(PathBuf::from),
            weight,
            reverse: false,
            init_file,
        }
    }

    fn instance(&mut self, t: InstanceToml, start: usize, removed: &[String]) -> InstanceDraft {
        let was_removed = |key: &str| removed.iter().any(|k| k == key);
        let c = format!("instance {}", t.name);
        let c = c.as_str();
        let mut i = InstanceDraft::new(t.name, self.at(start));
        i.interface_given = t.interface.is_some() || was_removed("interface");
        i.interface = t.interface;
        i.vrid_given = t.virtual_router_id.is_some() || was_removed("virtual_router_id");
        if let Some(v) = t.virtual_router_id {
            i.vrid = self.check(v.span().start, c, fields::vrid(*v.get_ref()));
        }
        if let Some(v) = t.version {
            let at = self.at(v.span().start);
            i.version = self
                .check(v.span().start, c, fields::version("version", *v.get_ref()))
                .map(|version| At::new(version, at));
        }
        if let Some(v) = t.state {
            i.state = self.check(v.span().start, c, fields::state(v.get_ref()));
        }
        if let Some(v) = t.priority {
            i.priority = self.check(v.span().start, c, fields::priority(*v.get_ref()));
        }
        if let Some(v) = t.advert_int {
            i.advert_int = self.seconds(c, "advert_int", &v);
        }
        i.virtual_ipaddress_given = t.virtual_ipaddress.as_ref().is_some_and(|v| !v.is_empty())
            || was_removed("virtual_ipaddress");
        for (list, out) in [
            (t.virtual_ipaddress, &mut i.virtual_addresses),
            (t.virtual_ipaddress_excluded, &mut i.excluded_addresses),
        ] {
            for item in list.unwrap_or_default() {
                let at = self.at(item.span().start);
                let result = virtual_address(item.get_ref(), at);
                if let Some(vip) = self.check(item.span().start, c, result) {
                    out.push(vip);
                }
            }
        }
        i.no_virtual_ipaddress = t.no_virtual_ipaddress.unwrap_or(false);
        if let Some(v) = t.unicast_src_ip {
            let at = self.at(v.span().start);
            i.source_address = self
                .check(v.span().start, c, parse_ip(v.get_ref()))
                .map(|ip| At::new(ip, at));
        }
        for peer in t.unicast_peer.unwrap_or_default() {
            let location = self.at(peer.span().start);
            if let Some(address) = self.check(peer.span().start, c, parse_ip(peer.get_ref())) {
                i.unicast_peers.push(UnicastPeer {
                    address,
                    ttl: 0..=u8::MAX,
                    location,
                });
            }
        }
        if let Some(v) = t.nopreempt {
            i.nopreempt = Some(At::new(*v.get_ref(), self.at(v.span().start)));
        }
        if let Some(v) = t.preempt_delay {
            i.preempt_delay = self.seconds(c, "preempt_delay", &v).and_then(|d| {
                let at = d.at.clone();
                self.check(v.span().start, c, fields::preempt_delay(d.value))
                    .map(|value| At::new(value, at))
            });
        }
        i.accept = t.accept;
        if let Some(auth) = t.authentication {
            let location = self.at(auth.span().start);
            let auth = auth.into_inner();
            let pass_type = auth.auth_type.is_some_and(|ty| {
                self.check(ty.span().start, c, fields::auth_type(ty.get_ref()))
                    .is_some()
            });
            let pass = auth
                .auth_pass
                .map(|p| At::new(p.get_ref().clone(), self.at(p.span().start)));
            i.auth = Some(AuthDraft {
                location,
                pass_type,
                pass,
            });
        }
        self.tracks(
            c,
            t.track_interface,
            t.track_script,
            t.track_file,
            (
                &mut i.track_interfaces,
                &mut i.track_scripts,
                &mut i.track_files,
            ),
        );
        let weight = fields::TRACK_WEIGHT;
        let frontends = t.track_frontend;
        i.track_frontends =
            self.track_list(c, "track_frontend", weight, frontends, |name, w, at| {
                TrackFrontend {
                    name,
                    weight: w.unwrap_or(0),
                    location: at,
                }
            });
        let servers = t.track_virtual_server;
        i.track_virtual_servers =
            self.track_list(c, "track_virtual_server", weight, servers, |name, w, at| {
                TrackVirtualServer {
                    name,
                    weight: w.unwrap_or(0),
                    location: at,
                }
            });
        i.dont_track_primary = t.dont_track_primary.unwrap_or(false);
        i.track_src_ip = t
            .track_src_ip
            .filter(|on| *on.get_ref())
            .map(|on| self.at(on.span().start));
        i.skip_check_adv_addr = t.skip_check_adv_addr.unwrap_or(false);
        i.strict_mode = t.strict_mode;
        i.notify = self.notify(
            c,
            [
                t.notify_master,
                t.notify_backup,
                t.notify_fault,
                t.notify_stop,
                t.notify,
            ],
        );
        i.garp = self.garp(
            c,
            [
                ("garp_master_delay", t.garp_master_delay),
                ("garp_master_repeat", t.garp_master_repeat),
                ("garp_master_refresh", t.garp_master_refresh),
                ("garp_master_refresh_repeat", t.garp_master_refresh_repeat),
            ],
        );
        if let Some(v) = t.v3_checksum_as_v2 {
            i.v3_checksum_as_v2 = Some(At::new(*v.get_ref(), self.at(v.span().start)));
        }
        if let Some(value) = t.notify_master_rx_lower_pri {
            let result = notify_script(value.get_ref(), self.at(value.span().start));
            i.notify.master_rx_lower_pri = self.check(value.span().start, c, result);
        }
        match t.notify_deleted {
            Some(value) if matches!(value.get_ref(), Value::Boolean(_)) => {
                i.notify.notify_deleted = value.get_ref().as_bool() == Some(true);
            }
            Some(value) => {
                let result = notify_script(value.get_ref(), self.at(value.span().start));
                i.notify.deleted = self.check(value.span().start, c, result);
                i.notify.notify_deleted = i.notify.deleted.is_some();
            }
            None => {}
        }
        i.election.lower_prio_no_advert = t.lower_prio_no_advert;
        i.election.higher_prio_send_advert = t.higher_prio_send_advert;
        if let Some(v) = t.down_timer_adverts {
            let result = fields::down_timer_adverts("down_timer_adverts", *v.get_ref());
            i.election.down_timer_adverts = self.check(v.span().start, c, result);
        }
        if let Some(v) = t.unicast_ttl {
            let at = self.at(v.span().start);
            let result = fields::unicast_ttl(*v.get_ref());
            i.election.unicast_ttl = self
                .check(v.span().start, c, result)
                .map(|ttl| At::new(ttl, at));
        }
        if let Some(v) = t.mcast_dst_ip {
            let result = fields::mcast_dst_ip(v.get_ref(), self.at(v.span().start));
            i.election.mcast_dst_ip = self.check(v.span().start, c, result);
        }
        i
    }

    fn sync_group(&mut self, t: SyncGroupToml, start: usize) -> SyncGroupDraft {
        let c = format!("sync group {}", t.name);
        let mut g = SyncGroupDraft {
            name: t.name,
            location: self.at(start),
            members: Vec::new(),
            notify: Notify::default(),
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
            track_bfds: Vec::new(),
            tracking_weight: t.sync_group_tracking_weight.unwrap_or(false),
        };
        for member in t.group.unwrap_or_default() {
            let at = self.at(member.span().start);
            g.members.push(At::new(member.into_inner(), at));
        }
        g.notify = self.notify(
            &c,
            [
                t.notify_master,
                t.notify_backup,
                t.notify_fault,
                t.notify_stop,
                t.notify,
            ],
        );
        self.tracks(
            &c,
            t.track_interface,
            t.track_script,
            t.track_file,
            (
                &mut g.track_interfaces,
                &mut g.track_scripts,
                &mut g.track_files,
            ),
        );
        g
    }

    /// `track_interface`, `track_script`, `track_file`: each entry a name or
    /// `{ name, weight }`.
    fn tracks(
        &mut self,
        c: &str,
        interfaces: Option<Vec<Spanned<Value>>>,
        scripts: Option<Vec<Spanned<Value>>>,
        files: Option<Vec<Spanned<Value>>>,
        out: (
            &mut Vec<TrackInterface>,
            &mut Vec<TrackScriptRef>,
            &mut Vec<TrackFileRef>,
        ),
    ) {
        let weight = fields::TRACK_WEIGHT;
        let list = self.track_list(
            c,
            "track_interface",
            weight,
            interfaces,
            |name, w, location| TrackInterface {
                name,
                weight: w.unwrap_or(0),
                reverse: false,
                location,
            },
        );
        out.0.extend(list);
        let list = self.track_list(
            c,
            "track_script",
            weight,
            scripts,
            |name, weight, location| TrackScriptRef {
                name,
                weight,
                reverse: None,
                location,
            },
        );
        out.1.extend(list);
        let weight = fields::TRACK_FILE_REF_WEIGHT;
        let list = self.track_list(c, "track_file", weight, files, |name, weight, location| {
            TrackFileRef {
                name,
                weight,
                reverse: None,
                location,
            }
        });
        out.2.extend(list);
    }

    /// The entries of one `track_*` list (`what`): each a name or `{ name, weight }`, the
    /// weight within `-max_weight..=max_weight`.
    fn track_list<T>(
        &mut self,
        c: &str,
        what: &str,
        max_weight: i64,
        items: Option<Vec<Spanned<Value>>>,
        make: impl Fn(String, Option<i32>, Location) -> T,
    ) -> Vec<T> {
        let mut list = Vec::new();
        for item in items.unwrap_or_default() {
            let location = self.at(item.span().start);
            let result = track_entry(item.get_ref(), what, max_weight);
            if let Some((name, weight)) = self.check(item.span().start, c, result) {
                list.push(make(name, weight, location));
            }
        }
        list
    }

    /// `notify_master`, `notify_backup`, `notify_fault`, `notify_stop`, `notify`, in that
    /// order: each a command line or `{ script, user, group }`.
    fn notify(&mut self, c: &str, scripts: [Option<Spanned<Value>>; 5]) -> Notify {
        let mut notify = Notify::default();
        let [master, backup, fault, stop, any] = scripts;
        for (value, slot) in [
            (master, &mut notify.master),
            (backup, &mut notify.backup),
            (fault, &mut notify.fault),
            (stop, &mut notify.stop),
            (any, &mut notify.any),
        ] {
            let Some(value) = value else { continue };
            let location = self.at(value.span().start);
            let result = notify_script(value.get_ref(), location);
            *slot = self.check(value.span().start, c, result);
        }
        notify
    }
}

fn init_file_table(table: &toml::Table) -> Checked<InitFile> {
    let mut init = InitFile {
        value: 0,
        overwrite: false,
    };
    for (key, value) in table {
        match (key.as_str(), value) {
            ("value", Value::Integer(v)) => init.value = *v,
            ("overwrite", Value::Boolean(b)) => init.overwrite = *b,
            _ => return Err(format!("init_file: unexpected '{key} = {value}'")),
        }
    }
    Ok(init)
}

/// A virtual address: keepalived's text (`"10.0.3.100/24 dev eth0"`) or a table
/// `{ address, dev, label, brd, scope, no_track }`.
fn virtual_address(value: &Value, location: Location) -> Checked<VirtualAddress> {
    match value {
        Value::String(text) => {
            let words: Vec<&str> = text.split_whitespace().collect();
            values::parse_virtual_address(&words, location)
        }
        Value::Table(table) => {
            let mut words = Vec::new();
            let mut address = None;
            for (key, value) in table {
                match (key.as_str(), value) {
                    ("address", Value::String(a)) => address = Some(a.as_str()),
                    ("dev" | "label" | "brd" | "scope", Value::String(v)) => {
                        words.push(key.as_str());
                        words.push(v.as_str());
                    }
                    ("no_track", Value::Boolean(true)) => words.push("no_track"),
                    ("no_track", Value::Boolean(false)) => {}
                    _ => {
                        return Err(format!("virtual address: unexpected '{key} = {value}'"));
                    }
                }
            }
            let address = address.ok_or("virtual address: no 'address'")?;
            words.insert(0, address);
            values::parse_virtual_address(&words, location)
        }
        _ => Err("a virtual address must be a string or a table".into()),
    }
}

/// A tracked object: `"name"` or `{ name = "...", weight = N }`.
fn track_entry(value: &Value, what: &str, max_weight: i64) -> Checked<(String, Option<i32>)> {
    match value {
        Value::String(name) => Ok((name.clone(), None)),
        Value::Table(table) => {
            let mut name = None;
            let mut weight = None;
            for (key, value) in table {
                match (key.as_str(), value) {
                    ("name", Value::String(n)) => name = Some(n.clone()),
                    ("weight", Value::Integer(w)) => {
                        let checked = fields::weight("weight", *w, max_weight);
                        weight = Some(checked.map_err(|e| format!("{what}: {e}"))?);
                    }
                    _ => return Err(format!("{what}: unexpected '{key} = {value}'")),
                }
            }
            let name = name.ok_or_else(|| format!("{what}: no 'name'"))?;
            Ok((name, weight))
        }
        _ => Err(format!(
            "{what} entries are names or {{ name, weight }} tables"
        )),
    }
}

/// A notify script: a command line or `{ script, user, group }`.
fn notify_script(value: &Value, location: Location) -> Checked<NotifyScript> {
    match value {
        Value::String(line) => Ok(NotifyScript {
            argv: split_command(line)?,
            user: None,
            location,
        }),
        Value::Table(table) => {
            let (mut script, mut user, mut group) = (None, None, None);
            for (key, value) in table {
                match (key.as_str(), value) {
                    ("script", Value::String(s)) => script = Some(s.as_str()),
                    ("user", Value::String(u)) => user = Some(u.as_str()),
                    ("group", Value::String(g)) => group = Some(g.as_str()),
                    _ => return Err(format!("notify script: unexpected '{key} = {value}'")),
                }
            }
            let script = script.ok_or("notify script: no 'script'")?;
            if group.is_some() && user.is_none() {
                return Err("notify script: 'group' needs a 'user'".into());
            }
            Ok(NotifyScript {
                argv: split_command(script)?,
                user: user.map(|u| values::script_user(u, group)).transpose()?,
                location,
            })
        }
        _ => Err("a notify script must be a command line or a table".into()),
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
                "b.toml:9: unknown section 'nonsense': expected global, vrrp, vrrp_script, track_file, sync_group, frontend, backend, virtual_server, virtual_server_group, conn_sync or SSL",
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
