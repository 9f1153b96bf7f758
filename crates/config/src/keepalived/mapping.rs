//! Statements into the draft: what each keepalived keyword means, as `global_parser.c` and
//! `vrrp_parser.c` read it. Keywords not handled here are refused with the reason listed
//! in `keywords`.

use std::collections::HashSet;
use std::path::PathBuf;

use crate::diagnostic::{Diagnostics, Location};
use crate::fields;
use crate::keepalived::keywords::{self, Context};
use crate::keepalived::parser::Stmt;
use crate::model::{
    InitFile, Notify, NotifyScript, TrackFileRef, TrackInterface, TrackScriptRef, UnicastPeer,
};
use crate::spec::{
    At, AuthDraft, Draft, GarpDraft, InstanceDraft, ScriptDraft, SyncGroupDraft, TrackFileDraft,
};
use crate::values::{
    self, parse_bool, parse_integer, parse_ip, parse_seconds, parse_virtual_address, split_command,
};

pub(crate) fn map(stmts: Vec<Stmt>, d: &mut Diagnostics) -> Draft {
    let mut m = Mapper {
        d,
        draft: Draft::default(),
        routing: Default::default(),
    };
    for stmt in stmts {
        m.top(stmt);
    }
    m.resolve_track_groups();
    m.draft
}

pub(super) struct Mapper<'d> {
    pub(super) d: &'d mut Diagnostics,
    pub(super) draft: Draft,
    /// What the route family's lines need: iproute2 names, track groups, rule numbering.
    pub(super) routing: crate::keepalived::routing_blocks::RoutingDraft,
}

/// Keywords that take one value: a second occurrence replaces the first, as in keepalived,
/// with a warning.
struct Once(HashSet<&'static str>);

impl Once {
    fn new() -> Once {
        Once(HashSet::new())
    }
}

impl Mapper<'_> {
    pub(super) fn error(&mut self, at: &Location, context: &str, message: impl AsRef<str>) {
        let message = message.as_ref();
        if context.is_empty() {
            self.d.error(at, message);
        } else {
            self.d.error(at, format!("{context}: {message}"));
        }
    }

    /// `Ok(value)`, or the error reported at the statement's line.
    pub(super) fn ok<T>(
        &mut self,
        s: &Stmt,
        context: &str,
        result: Result<T, String>,
    ) -> Option<T> {
        result.map_err(|e| self.error(&s.at, context, e)).ok()
    }

    pub(super) fn refuse(&mut self, table: &Context, s: &Stmt, context: &str) {
        if let Some(message) = keywords::refusal(table, &s.keyword) {
            self.error(&s.at, context, message);
        } else {
            // Listed as supported but not handled: a bug here, not in the file.
            self.error(
                &s.at,
                context,
                format!(
                    "'{}' is listed as supported but was not read (baton bug)",
                    s.keyword
                ),
            );
        }
    }

    /// `vrrp_garp_interval` / `vrrp_gna_interval`: keepalived takes 0.000001 to 4294.967295
    /// seconds. It calls 0 (the default, written in the sample keepalived.conf that RPM
    /// distributions install) invalid, logs that and runs on with it, so baton warns.
    fn announce_pacing(&mut self, s: &Stmt, c: &str, pause: std::time::Duration) {
        let keyword = s.keyword.as_str();
        if self
            .ok(s, c, fields::announce_interval(keyword, pause))
            .is_none()
        {
            return;
        }
        if pause.is_zero() {
            self.d.warn(
                &s.at,
                format!(
                    "{c}: {keyword} 0 is below keepalived's range (keepalived -t calls it an error, and runs on with no pause: the default); remove the line"
                ),
            );
        } else if pause >= std::time::Duration::from_secs(1) {
            self.d.warn(
                &s.at,
                format!(
                    "{c}: {keyword} {} is very large: every message of an announcement waits that long",
                    s.rest()
                ),
            );
        }
        let pacing = &mut self.draft.global.announce_pacing;
        if keyword == "vrrp_garp_interval" {
            pacing.garp_interval = pause;
        } else {
            pacing.gna_interval = pause;
        }
    }

    /// keepalived 2.2.7 reads a vrrp_script's interval and timeout as whole seconds and
    /// ignores anything else (keeping its default of 1 s); baton honours the fraction, so
    /// the two tools would check at different rates: say so.
    fn warn_fraction(&mut self, s: &Stmt, c: &str, seconds: std::time::Duration) {
        if seconds.subsec_nanos() != 0 {
            let keyword = s.keyword.as_str();
            self.d.warn(
                &s.at,
                format!(
                    "{c}: {keyword} {}: keepalived takes whole seconds here and would ignore this (using 1 s); baton uses {} s",
                    s.rest(),
                    seconds.as_secs_f64()
                ),
            );
        }
    }

    /// A keyword accepted only to be ignored (process tuning that belongs to systemd, say)
    /// gets a warning with the advice from its note; any other is refused.
    fn ignore_or_refuse(&mut self, table: &Context, s: &Stmt, context: &str) {
        match keywords::ignored_advice(table, &s.keyword) {
            Some(advice) => {
                let place = if context.is_empty() {
                    String::new()
                } else {
                    format!("{context}: ")
                };
                self.d
                    .warn(&s.at, format!("{place}{} is ignored: {advice}", s.keyword));
            }
            None => self.refuse(table, s, context),
        }
    }

    /// Warns when a single-valued keyword comes again.
    fn once(&mut self, seen: &mut Once, s: &Stmt, context: &str) {
        let known = [
            "state",
            "interface",
            "virtual_router_id",
            "priority",
            "advert_int",
            "version",
            "unicast_src_ip",
            "mcast_src_ip",
            "preempt_delay",
            "garp_master_delay",
            "garp_master_repeat",
            "garp_master_refresh",
            "garp_master_refresh_repeat",
            "router_id",
            "script_user",
            "vrrp_version",
            "interval",
            "timeout",
            "weight",
            "rise",
            "fall",
            "user",
            "file",
        ];
        let Some(&name) = known.iter().find(|k| **k == s.keyword) else {
            return;
        };
        // unicast_src_ip and mcast_src_ip are one setting in keepalived.
        let name = if name == "mcast_src_ip" {
            "unicast_src_ip"
        } else {
            name
        };
        if !seen.0.insert(name) {
            self.d.warn(
                &s.at,
                format!(
                    "{context}: {} is set again; this value replaces the earlier one",
                    s.keyword
                ),
            );
        }
    }

    /// The single name after a block keyword (`vrrp_instance NAME {`), and its block.
    pub(super) fn named<'s>(&mut self, s: &'s Stmt) -> Option<(String, &'s [Stmt])> {
        let name = match s.args.as_slice() {
            [name] => Some(name.clone()),
            [] => {
                self.error(&s.at, "", format!("{} needs a name", s.keyword));
                None
            }
            _ => {
                self.error(
                    &s.at,
                    "",
                    format!("{} takes one name, not '{}'", s.keyword, s.rest()),
                );
                None
            }
        };
        let block = self.block(s, "");
        Some((name?, block?))
    }

    pub(super) fn block<'s>(&mut self, s: &'s Stmt, context: &str) -> Option<&'s [Stmt]> {
        match &s.block {
            Some(block) => Some(block),
            None => {
                self.error(&s.at, context, format!("{} needs a {{ }} block", s.keyword));
                None
            }
        }
    }

    /// The lines of a `KEYWORD { ... }` list (of names, addresses, instances, routes): an
    /// error for words after the keyword or a missing block, and each line that has no
    /// block of its own (one that has is an error too).
    pub(super) fn list_block<'s>(
        &mut self,
        s: &'s Stmt,
        context: &str,
        of: &str,
    ) -> Option<Vec<&'s Stmt>> {
        if !s.args.is_empty() {
            let message = format!(
                "{} takes a {{ }} block of {of}, not '{}'",
                s.keyword,
                s.rest()
            );
            self.error(&s.at, context, message);
            return None;
        }
        let block = self.block(s, context)?;
        Some(
            block
                .iter()
                .filter(|entry| self.no_block(entry, context))
                .collect(),
        )
    }

    /// False, with an error, for a statement that has a block it should not have.
    pub(super) fn no_block(&mut self, s: &Stmt, context: &str) -> bool {
        if s.block.is_some() {
            self.error(
                &s.at,
                context,
                format!("{} takes no {{ }} block", s.keyword),
            );
            false
        } else {
            true
        }
    }

    pub(super) fn no_value(&mut self, s: &Stmt, context: &str) -> bool {
        if !s.args.is_empty() {
            self.error(
                &s.at,
                context,
                format!(
                    "{} takes no value, not '{}' (one setting per line)",
                    s.keyword,
                    s.rest()
                ),
            );
            return false;
        }
        self.no_block(s, context)
    }

    pub(super) fn one<'s>(&mut self, s: &'s Stmt, context: &str) -> Option<&'s str> {
        match s.args.as_slice() {
            [value] => self.no_block(s, context).then_some(value.as_str()),
            [] => {
                if self.no_block(s, context) {
                    self.error(&s.at, context, format!("{} needs a value", s.keyword));
                }
                None
            }
            _ => {
                self.error(
                    &s.at,
                    context,
                    format!(
                        "{} takes one value, not '{}' (one setting per line)",
                        s.keyword,
                        s.rest()
                    ),
                );
                None
            }
        }
    }

    pub(super) fn integer(&mut self, s: &Stmt, context: &str) -> Option<i64> {
        let text = self.one(s, context)?;
        let result = parse_integer(text).map_err(|e| format!("{}: {e}", s.keyword));
        self.ok(s, context, result)
    }

    pub(super) fn seconds(&mut self, s: &Stmt, context: &str) -> Option<std::time::Duration> {
        let text = self.one(s, context)?;
        let result = parse_seconds(text).map_err(|e| format!("{}: {e}", s.keyword));
        self.ok(s, context, result)
    }

    /// keepalived's `KEYWORD [<BOOL>]`: alone it means on.
    pub(super) fn flag(&mut self, s: &Stmt, context: &str) -> Option<bool> {
        if !self.no_block(s, context) {
            return None;
        }
        match s.args.as_slice() {
            [] => Some(true),
            [word] => {
                let result = parse_bool(word).ok_or_else(|| {
                    format!(
                        "{}: '{word}' is not one of on, off, true, false, yes, no",
                        s.keyword
                    )
                });
                self.ok(s, context, result)
            }
            _ => {
                self.error(
                    &s.at,
                    context,
                    format!("{} takes at most one value, not '{}'", s.keyword, s.rest()),
                );
                None
            }
        }
    }

    /// `KEYWORD "COMMAND ARGS"`: one (quoted) command line, as `script` and `misc_path`
    /// take it.
    pub(super) fn command_line(&mut self, s: &Stmt, c: &str) -> Option<Vec<String>> {
        if !self.no_block(s, c) {
            return None;
        }
        let keyword = &s.keyword;
        let result = match s.args.as_slice() {
            [line] => split_command(line),
            [] => Err("needs a command line".into()),
            _ => Err(format!(
                "takes one command line; quote it: {keyword} \"{}\" (keepalived would run \
                 '{}' alone)",
                s.rest(),
                s.args[0]
            )),
        };
        self.ok(s, c, result.map_err(|e| format!("{keyword} {e}")))
    }

    /// `SCRIPT [user [group]]`, with SCRIPT one (quoted) command line.
    pub(super) fn notify_script(&mut self, s: &Stmt, context: &str) -> Option<NotifyScript> {
        if !self.no_block(s, context) {
            return None;
        }
        let result = match s.args.as_slice() {
            [] => Err("needs a script".to_owned()),
            [script, rest @ ..] if rest.len() <= 2 => split_command(script).and_then(|argv| {
                let user = match rest {
                    [user, group @ ..] => Some(values::script_user(
                        user,
                        group.first().map(String::as_str),
                    )?),
                    [] => None,
                };
                Ok(NotifyScript {
                    argv,
                    user,
                    location: s.at.clone(),
                })
            }),
            _ => Err(format!(
                "expected \"COMMAND ARGS\" [USER [GROUP]], not '{}'; quote the command line",
                s.rest()
            )),
        };
        self.ok(
            s,
            context,
            result.map_err(|e| format!("{}: {e}", s.keyword)),
        )
    }

    /// `notify*` and `smtp_alert` keywords of instances and sync groups; false if `s` is
    /// something else.
    fn notify(&mut self, notify: &mut Notify, s: &Stmt, context: &str) -> bool {
        if s.keyword == "smtp_alert" {
            notify.smtp_alert = self.smtp_alert(s, context).or(notify.smtp_alert);
            return true;
        }
        if s.keyword == "notify_priority_changes" {
            if let Some(on) = self.flag(s, context) {
                notify.priority_changes = Some(on);
            }
            return true;
        }
        let slot = match s.keyword.as_str() {
            "notify_master" => &mut notify.master,
            "notify_backup" => &mut notify.backup,
            "notify_fault" => &mut notify.fault,
            "notify_stop" => &mut notify.stop,
            "notify" => &mut notify.any,
            _ => return false,
        };
        if slot.is_some() {
            // keepalived: "script already specified - ignoring".
            self.error(&s.at, context, format!("{} is given twice", s.keyword));
            return true;
        }
        *slot = self.notify_script(s, context);
        true
    }

    /// `track_interface`, `track_script`, `track_file` blocks of instances and sync
    /// groups; false if `s` is something else.
    fn tracks(
        &mut self,
        s: &Stmt,
        context: &str,
        interfaces: &mut Vec<TrackInterface>,
        scripts: &mut Vec<TrackScriptRef>,
        files: &mut Vec<TrackFileRef>,
    ) -> bool {
        let max = match s.keyword.as_str() {
            "track_interface" | "track_script" => fields::TRACK_WEIGHT,
            "track_file" => fields::TRACK_FILE_REF_WEIGHT,
            _ => return false,
        };
        let Some(block) = self.list_block(s, context, "names") else {
            return true;
        };
        for entry in block {
            let result = track_entry(entry, max).map_err(|e| format!("{}: {e}", s.keyword));
            let Some((name, weight, reverse)) = self.ok(entry, context, result) else {
                continue;
            };
            let location = entry.at.clone();
            match s.keyword.as_str() {
                "track_interface" => interfaces.push(TrackInterface {
                    name,
                    weight: weight.unwrap_or(0),
                    reverse: reverse.unwrap_or(false),
                    location,
                }),
                "track_script" => scripts.push(TrackScriptRef {
                    name,
                    weight,
                    reverse,
                    location,
                }),
                _ => files.push(TrackFileRef {
                    name,
                    weight,
                    reverse,
                    location,
                }),
            }
        }
        true
    }

    fn garp(&mut self, garp: &mut GarpDraft, s: &Stmt, name: &str, context: &str) -> bool {
        let slot = match name {
            "garp_master_delay" => 0,
            "garp_master_repeat" => 1,
            "garp_master_refresh" => 2,
            "garp_master_refresh_repeat" => 3,
            "garp_lower_prio_delay" => 4,
            "garp_lower_prio_repeat" => 5,
            _ => return false,
        };
        let Some(value) = self.integer(s, context) else {
            return true;
        };
        let keyword = s.keyword.as_str();
        match slot {
            0 => garp.master_delay = self.ok(s, context, fields::garp_seconds(keyword, value)),
            1 => garp.master_repeat = self.ok(s, context, fields::count(keyword, value)),
            2 => garp.master_refresh = self.ok(s, context, fields::garp_seconds(keyword, value)),
            3 => garp.master_refresh_repeat = self.ok(s, context, fields::count(keyword, value)),
            4 => {
                garp.lower_prio_delay =
                    self.ok(s, context, fields::lower_prio_delay(keyword, value))
            }
            _ => {
                garp.lower_prio_repeat =
                    self.ok(s, context, fields::lower_prio_repeat(keyword, value))
            }
        }
        true
    }

    fn top(&mut self, s: Stmt) {
        match s.keyword.as_str() {
            "global_defs" => self.global(&s),
            "vrrp_instance" => self.instance(&s),
            "vrrp_script" => self.script(&s),
            "track_file" | "vrrp_track_file" => self.track_file(&s),
            "vrrp_track_process" => self.track_process(&s),
            "bfd_instance" => self.bfd_instance(&s),
            "vrrp_sync_group" => self.sync_group(&s),
            "virtual_server" => self.virtual_server(&s),
            "virtual_server_group" => self.virtual_server_group(&s),
            "SSL" => self.ssl(&s),
            "garp_group" => self.garp_group(&s),
            "static_ipaddress" | "static_routes" | "static_rules" => self.static_block(&s),
            "track_group" => self.track_group(&s),
            "interface_up_down_delays" => self.interface_up_down_delays(&s),
            _ => self.ignore_or_refuse(&keywords::TOP, &s, ""),
        }
    }

    fn global(&mut self, s: &Stmt) {
        let c = "global_defs";
        if !s.args.is_empty() {
            self.error(
                &s.at,
                "",
                format!("global_defs takes no name, not '{}'", s.rest()),
            );
        }
        let Some(block) = self.block(s, "") else {
            return;
        };
        if self.draft.global.location.is_none() {
            self.draft.global.location = Some(s.at.clone());
        }
        let mut seen = Once::new();
        for s in block {
            self.once(&mut seen, s, c);
            let keyword = s.keyword.as_str();
            match keyword {
                "router_id" => {
                    if let Some(v) = self.one(s, c) {
                        self.draft.global.router_id = Some(v.to_owned());
                    }
                }
                "script_user" => {
                    let result = match s.args.as_slice() {
                        [user] => values::script_user(user, None),
                        [user, group] => values::script_user(user, Some(group)),
                        _ => Err("script_user takes USER [GROUP]".to_owned()),
                    };
                    if self.no_block(s, c) {
                        self.draft.global.script_user = self.ok(s, c, result);
                    }
                }
                "enable_script_security" => {
                    if self.no_value(s, c) {
                        self.draft.global.enable_script_security = true;
                    }
                }
                "vrrp_version" => {
                    if let Some(v) = self.integer(s, c) {
                        self.draft.global.vrrp_version =
                            self.ok(s, c, fields::version("vrrp_version", v));
                    }
                }
                "vrrp_min_garp" => {
                    if let Some(on) = self.flag(s, c) {
                        self.draft.global.min_garp = on;
                    }
                }
                "v3_checksum_as_v2" => {
                    if let Some(on) = self.flag(s, c) {
                        self.draft.global.v3_checksum_as_v2 = Some(on);
                    }
                }
                "vrrp_check_unicast_src" => {
                    let _ = self.no_value(s, c);
                }
                "vrrp_skip_check_adv_addr" | "vrrp_strict" => {
                    // keepalived ignores any value of these: `vrrp_strict off` turns it on.
                    if !s.args.is_empty() {
                        self.d.warn(
                            &s.at,
                            format!("{c}: {keyword} takes no value; '{}' is ignored (the setting is on), as keepalived does", s.rest()),
                        );
                    }
                    if self.no_block(s, c) {
                        let global = &mut self.draft.global;
                        if keyword == "vrrp_strict" {
                            global.strict = true;
                        } else {
                            global.skip_check_adv_addr = true;
                        }
                    }
                }
                "vrrp_garp_interval" | "vrrp_gna_interval" => {
                    if let Some(pause) = self.seconds(s, c) {
                        self.announce_pacing(s, c, pause);
                    }
                }
                "reload_check_config" => {
                    if self.no_block(s, c) && !s.args.is_empty() {
                        self.d.warn(
                            &s.at,
                            format!(
                                "{c}: reload_check_config {}: baton always checks a configuration before a reload, and logs what is wrong to its own log, not to a file",
                                s.rest()
                            ),
                        );
                    }
                }
                // Read by the reader before the keywords (lexer and mod.rs).
                "include_check" => {
                    let _ = self.no_block(s, c);
                }
                "random_seed" => {
                    if let Some(v) = self.one(s, c) {
                        let seed = v
                            .parse::<u32>()
                            .map_err(|_| format!("random_seed {v} is not 0..=4294967295"));
                        self.ok(s, c, seed);
                    }
                }
                _ => {
                    // The global defaults are the instance keywords with a vrrp_ prefix.
                    let mut garp = self.draft.global.garp;
                    let read = keyword
                        .strip_prefix("vrrp_")
                        .is_some_and(|name| self.garp(&mut garp, s, name, c));
                    if !read
                        && !self.smtp_global(s, c)
                        && !self.election_global(s, c)
                        && !self.notify_fifo_global(s, c)
                        && !self.iproute_dir(s, c)
                        && !self.vmac_global(s, c)
                        && !self.global_scripts(s, c)
                        && !self.lvs_global(s, c)
                        && !self.lvs_sync_daemon(s, c)
                    {
                        self.ignore_or_refuse(&keywords::GLOBAL, s, c);
                    }
                    self.draft.global.garp = garp;
                }
            }
        }
    }

    fn instance(&mut self, s: &Stmt) {
        let Some((name, block)) = self.named(s) else {
            return;
        };
        let c = format!("instance {name}");
        let c = c.as_str();
        let mut i = InstanceDraft::new(name, s.at.clone());
        let mut seen = Once::new();
        for s in block {
            self.once(&mut seen, s, c);
            let keyword = s.keyword.as_str();
            if self.notify(&mut i.notify, s, c)
                || self.tracks(
                    s,
                    c,
                    &mut i.track_interfaces,
                    &mut i.track_scripts,
                    &mut i.track_files,
                )
                || self.track_bfd(s, c, &mut i.track_bfds)
                || self.garp(&mut i.garp, s, keyword, c)
                || self.election(&mut i.election, s, keyword, (c, false))
                || self.vmac_instance(&mut i.vmac, s, c)
                || self.instance_routing(&mut i, s, c)
            {
                continue;
            }
            match keyword {
                "notify_master_rx_lower_pri" => {
                    if i.notify.master_rx_lower_pri.is_some() {
                        self.error(&s.at, c, format!("{keyword} is given twice"));
                    } else {
                        i.notify.master_rx_lower_pri = self.notify_script(s, c);
                    }
                }
                "notify_deleted" => {
                    if i.notify.notify_deleted {
                        self.error(&s.at, c, format!("{keyword} is given twice"));
                    } else if s.args.is_empty() {
                        i.notify.notify_deleted = self.no_block(s, c);
                    } else {
                        i.notify.deleted = self.notify_script(s, c);
                        i.notify.notify_deleted = i.notify.deleted.is_some();
                    }
                }
                "state" => {
                    if let Some(v) = self.one(s, c) {
                        i.state = self.ok(s, c, fields::state(v));
                    }
                }
                "interface" => {
                    i.interface_given = true;
                    i.interface = self.one(s, c).map(str::to_owned);
                }
                "virtual_router_id" => {
                    i.vrid_given = true;
                    if let Some(v) = self.integer(s, c) {
                        i.vrid = self.ok(s, c, fields::vrid(v));
                    }
                }
                "priority" => {
                    if let Some(v) = self.integer(s, c) {
                        i.priority = self.ok(s, c, fields::priority(v));
                    }
                }
                "advert_int" => {
                    i.advert_int = self.seconds(s, c).map(|v| At::new(v, s.at.clone()));
                }
                "version" => {
                    if let Some(v) = self.integer(s, c) {
                        i.version = self
                            .ok(s, c, fields::version("version", v))
                            .map(|v| At::new(v, s.at.clone()));
                    }
                }
                "authentication" => i.auth = self.authentication(s, c).or(i.auth.take()),
                "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
                    let excluded = keyword == "virtual_ipaddress_excluded";
                    let Some(entries) = self.list_block(s, c, "addresses") else {
                        continue;
                    };
                    i.virtual_ipaddress_given |= !excluded && !entries.is_empty();
                    for entry in entries {
                        let words: Vec<&str> = std::iter::once(entry.keyword.as_str())
                            .chain(entry.args.iter().map(String::as_str))
                            .collect();
                        let result = parse_virtual_address(&words, entry.at.clone())
                            .map_err(|e| format!("{keyword}: {e}"));
                        if let Some(mut vip) = self.ok(entry, c, result) {
                            if vip.address.is_ipv6() && vip.scope.take().is_some() {
                                self.d.warn(
                                    &entry.at,
                                    format!(
                                        "{c}: {keyword}: {}: the scope of an IPv6 address comes from the address itself; 'scope' is ignored, as keepalived ignores it",
                                        vip.address
                                    ),
                                );
                            }
                            if excluded {
                                i.excluded_addresses.push(vip);
                            } else {
                                i.virtual_addresses.push(vip);
                            }
                        }
                    }
                }
                "no_virtual_ipaddress" => {
                    if self.no_value(s, c) {
                        i.no_virtual_ipaddress = true;
                    }
                }
                "unicast_src_ip" | "mcast_src_ip" => {
                    if let Some(v) = self.one(s, c) {
                        i.source_address = self
                            .ok(s, c, parse_ip(v).map_err(|e| format!("{keyword}: {e}")))
                            .map(|ip| At::new(ip, s.at.clone()));
                    }
                }
                "unicast_peer" => {
                    let Some(entries) = self.block(s, c) else {
                        continue;
                    };
                    if entries.is_empty() {
                        self.d.warn(
                            &s.at,
                            format!("{c}: unicast_peer is empty, so adverts are multicast (as keepalived)"),
                        );
                    }
                    for entry in entries {
                        if !self.no_block(entry, c) {
                            continue;
                        }
                        let result = parse_ip(&entry.keyword).and_then(|address| {
                            Ok((address, fields::unicast_peer_ttl(&entry.args)?))
                        });
                        let result = result.map_err(|e| format!("unicast_peer: {e}"));
                        if let Some((address, ttl)) = self.ok(entry, c, result) {
                            i.unicast_peers.push(UnicastPeer {
                                address,
                                ttl,
                                location: entry.at.clone(),
                            });
                        }
                    }
                }
                "nopreempt" | "preempt" => {
                    if self.no_value(s, c) {
                        i.nopreempt = Some(At::new(keyword == "nopreempt", s.at.clone()));
                    }
                }
                "preempt_delay" => {
                    if let Some(v) = self.seconds(s, c) {
                        i.preempt_delay = self
                            .ok(s, c, fields::preempt_delay(v))
                            .map(|v| At::new(v, s.at.clone()));
                    }
                }
                "accept" | "no_accept" => {
                    if self.no_value(s, c) {
                        i.accept = Some(keyword == "accept");
                    }
                }
                "track_process" => self.track_process_refs(s, c, &mut i.track_processes),
                "dont_track_primary" => {
                    if self.no_value(s, c) {
                        i.dont_track_primary = true;
                    }
                }
                "track_src_ip" => {
                    if self.no_value(s, c) {
                        i.track_src_ip = Some(s.at.clone());
                    }
                }
                "strict_mode" => i.strict_mode = self.flag(s, c).or(i.strict_mode),
                "v3_checksum_as_v2" => {
                    i.v3_checksum_as_v2 = self.flag(s, c).map(|on| At::new(on, s.at.clone()));
                }
                "check_unicast_src" => {
                    let _ = self.no_value(s, c);
                }
                "native_ipv6" => {
                    if self.no_value(s, c) {
                        i.native_ipv6 = Some(s.at.clone());
                    }
                }
                "skip_check_adv_addr" => {
                    // keepalived 2.2.7 sets it for any valid <BOOL>, "off" included.
                    let Some(on) = self.flag(s, c) else {
                        continue;
                    };
                    if !on {
                        self.d.warn(
                            &s.at,
                            format!(
                                "{c}: skip_check_adv_addr {} still turns it on, as in keepalived 2.2.7; remove the line to keep adverts checked",
                                s.rest()
                            ),
                        );
                    }
                    i.skip_check_adv_addr = true;
                }
                "debug" => self.d.warn(
                    &s.at,
                    format!("{c}: debug is ignored (keepalived does not implement it either)"),
                ),
                "lvs_sync_daemon_interface" => {
                    let name = i.name.clone();
                    self.lvs_sync_daemon_interface(s, c, &name);
                }
                _ => self.ignore_or_refuse(&keywords::INSTANCE, s, c),
            }
        }
        self.draft.instances.push(i);
    }

    fn authentication(&mut self, s: &Stmt, c: &str) -> Option<AuthDraft> {
        if !s.args.is_empty() {
            self.error(
                &s.at,
                c,
                format!("authentication takes a {{ }} block, not '{}'", s.rest()),
            );
            return None;
        }
        let block = self.block(s, c)?;
        let mut auth = AuthDraft {
            location: s.at.clone(),
            pass_type: false,
            pass: None,
        };
        let mut valid = true;
        for entry in block {
            match entry.keyword.as_str() {
                "auth_type" => match self.one(entry, c) {
                    Some(v) => match self.ok(entry, c, fields::auth_type(v)) {
                        Some(()) => auth.pass_type = true,
                        None => valid = false,
                    },
                    None => valid = false,
                },
                "auth_pass" => match self.one(entry, c) {
                    Some(v) => auth.pass = Some(At::new(v.to_owned(), entry.at.clone())),
                    None => valid = false,
                },
                _ => {
                    self.refuse(&keywords::AUTHENTICATION, entry, c);
                    valid = false;
                }
            }
        }
        // An error already said what is wrong; do not add "auth_pass without auth_type".
        valid.then_some(auth)
    }

    fn script(&mut self, s: &Stmt) {
        let Some((name, block)) = self.named(s) else {
            return;
        };
        let c = format!("script {name}");
        let c = c.as_str();
        let mut script = ScriptDraft::new(name, s.at.clone());
        let mut seen = Once::new();
        for s in block {
            self.once(&mut seen, s, c);
            match s.keyword.as_str() {
                "script" => {
                    script.argv_given = true;
                    script.argv = self.command_line(s, c);
                }
                "interval" => {
                    if let Some(v) = self.seconds(s, c) {
                        self.warn_fraction(s, c, v);
                        script.interval = self.ok(s, c, fields::script_period("interval", v));
                    }
                }
                "timeout" => {
                    if let Some(v) = self.seconds(s, c) {
                        self.warn_fraction(s, c, v);
                        script.timeout = self.ok(s, c, fields::script_period("timeout", v));
                    }
                }
                "weight" => {
                    if self.no_block(s, c) {
                        let result = weight_with_reverse(&s.args, fields::TRACK_WEIGHT);
                        if let Some((weight, reverse)) = self.ok(s, c, result) {
                            script.weight = Some(weight);
                            script.reverse = reverse;
                        }
                    }
                }
                "rise" | "fall" => {
                    if let Some(v) = self.integer(s, c) {
                        let value = self.ok(s, c, fields::count(&s.keyword, v));
                        if s.keyword == "rise" {
                            script.rise = value;
                        } else {
                            script.fall = value;
                        }
                    }
                }
                "user" => {
                    if self.no_block(s, c) {
                        let result = match s.args.as_slice() {
                            [user] => values::script_user(user, None),
                            [user, group] => values::script_user(user, Some(group)),
                            _ => Err("user takes USER [GROUP]".into()),
                        };
                        script.user = self.ok(s, c, result);
                    }
                }
                "init_fail" => {
                    if self.no_value(s, c) {
                        script.init_fail = true;
                    }
                }
                _ => self.refuse(&keywords::SCRIPT, s, c),
            }
        }
        self.draft.scripts.push(script);
    }

    fn track_file(&mut self, s: &Stmt) {
        let Some((name, block)) = self.named(s) else {
            return;
        };
        let c = format!("track file {name}");
        let c = c.as_str();
        let mut file = TrackFileDraft {
            name,
            location: s.at.clone(),
            path: None,
            path_given: false,
            weight: None,
            reverse: false,
            init_file: None,
        };
        let mut seen = Once::new();
        for s in block {
            self.once(&mut seen, s, c);
            match s.keyword.as_str() {
                "file" => {
                    file.path_given = true;
                    file.path = self.one(s, c).map(PathBuf::from);
                }
                "weight" => {
                    if self.no_block(s, c) {
                        let result = weight_with_reverse(&s.args, fields::TRACK_FILE_WEIGHT);
                        if let Some((weight, reverse)) = self.ok(s, c, result) {
                            file.weight = Some(weight);
                            file.reverse = reverse;
                        }
                    }
                }
                "init_file" => {
                    if self.no_block(s, c) {
                        let result = init_file(&s.args);
                        file.init_file = self.ok(s, c, result);
                    }
                }
                _ => self.refuse(&keywords::TRACK_FILE, s, c),
            }
        }
        self.draft.track_files.push(file);
    }

    fn sync_group(&mut self, s: &Stmt) {
        let Some((name, block)) = self.named(s) else {
            return;
        };
        let c = format!("sync group {name}");
        let c = c.as_str();
        let mut g = SyncGroupDraft {
            name,
            location: s.at.clone(),
            members: Vec::new(),
            notify: Notify::default(),
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
            track_bfds: Vec::new(),
            tracking_weight: false,
        };
        for s in block {
            if self.notify(&mut g.notify, s, c)
                || self.tracks(
                    s,
                    c,
                    &mut g.track_interfaces,
                    &mut g.track_scripts,
                    &mut g.track_files,
                )
                || self.track_bfd(s, c, &mut g.track_bfds)
            {
                continue;
            }
            match s.keyword.as_str() {
                "group" => {
                    let Some(entries) = self.list_block(s, c, "instances") else {
                        continue;
                    };
                    // keepalived's read_value_block: every word of every line is a member.
                    for entry in entries {
                        for member in std::iter::once(&entry.keyword).chain(&entry.args) {
                            g.members.push(At::new(member.clone(), entry.at.clone()));
                        }
                    }
                }
                "track_process" => self.track_process_refs(s, c, &mut g.track_processes),
                "sync_group_tracking_weight" => {
                    if self.no_value(s, c) {
                        g.tracking_weight = true;
                    }
                }
                "global_tracking" => {
                    if self.no_value(s, c) {
                        self.d.warn(
                            &s.at,
                            format!("{c}: global_tracking is deprecated; it means sync_group_tracking_weight"),
                        );
                        g.tracking_weight = true;
                    }
                }
                _ => self.refuse(&keywords::SYNC_GROUP, s, c),
            }
        }
        self.draft.sync_groups.push(g);
    }
}

/// A tracking entry: its name, weight and `reverse` (`Some` when written).
type TrackEntry = (String, Option<i32>, Option<bool>);

/// `NAME [weight N [reverse|noreverse]]`, as keepalived's `alloc_track_*`: `reverse` only
/// after a weight (keepalived ignores the entry otherwise, with an error).
fn track_entry(entry: &Stmt, max: i64) -> Result<TrackEntry, String> {
    let name = entry.keyword.clone();
    match entry.args.as_slice() {
        [] => Ok((name, None, None)),
        [weight, value, rest @ ..] if weight == "weight" => {
            let weight = fields::weight("weight", parse_integer(value)?, max)?;
            let reverse = match rest {
                [] => None,
                [word] if word == "reverse" => Some(true),
                [word] if word == "noreverse" => Some(false),
                _ => return Err(format!("{name}: unexpected '{}'", rest.join(" "))),
            };
            Ok((name, Some(weight), reverse))
        }
        [weight] if weight == "weight" => Err("'weight' needs a value".into()),
        [other, ..] => Err(format!(
            "{name}: unexpected '{other}' (write NAME weight N [reverse])"
        )),
    }
}

/// `weight N [reverse]` of scripts and files.
fn weight_with_reverse(args: &[String], max: i64) -> Result<(i32, bool), String> {
    let weight = |value: &String| fields::weight("weight", parse_integer(value)?, max);
    match args {
        [value] => Ok((weight(value)?, false)),
        [value, reverse] if reverse == "reverse" => Ok((weight(value)?, true)),
        [] => Err("weight needs a value".into()),
        _ => Err(format!("weight: unexpected '{}'", args[1..].join(" "))),
    }
}

/// `init_file [VALUE] [overwrite]`.
fn init_file(args: &[String]) -> Result<InitFile, String> {
    let mut init = InitFile {
        value: 0,
        overwrite: false,
    };
    for (i, word) in args.iter().enumerate() {
        match word.as_str() {
            "overwrite" => init.overwrite = true,
            value if i == 0 => init.value = parse_integer(value)?,
            other => return Err(format!("init_file: unexpected '{other}'")),
        }
    }
    Ok(init)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::keepalived::keywords::{ALL, Support, TOP};
    use crate::keepalived::{lexer, parser};

    fn messages(text: &str) -> Vec<String> {
        let mut d = Diagnostics::default();
        let tokens = lexer::lex(text, Path::new("k.conf"), &mut d);
        let _ = map(parser::parse(tokens, &mut d), &mut d);
        let (errors, warnings) = d.finish();
        errors
            .iter()
            .chain(&warnings)
            .map(|e| e.message.clone())
            .collect()
    }

    /// `k` written where `context` puts it, in a file otherwise as small as can be.
    fn placed(context: &Context, k: &str) -> String {
        const VS: &str = "virtual_server 10.0.0.1 80 {\n";
        const RS: &str = "real_server 10.0.0.2 80 {\n";
        let checker = |name: &str| format!("{VS}{RS}{name} {{\n{k}\n}}\n}}\n}}\n");
        match context.title {
            _ if std::ptr::eq(context, &TOP) => format!("{k} x {{\n}}\n"),
            "global_defs" => format!("global_defs {{\n{k}\n}}\n"),
            "vrrp_instance" => format!("vrrp_instance I {{\n{k}\n}}\n"),
            "authentication (in vrrp_instance)" => {
                format!("vrrp_instance I {{\nauthentication {{\n{k}\n}}\n}}\n")
            }
            "vrrp_script" => format!("vrrp_script s {{\n{k}\n}}\n"),
            "track_file / vrrp_track_file" => format!("track_file f {{\n{k}\n}}\n"),
            "vrrp_track_process" => format!("vrrp_track_process p {{\n{k}\n}}\n"),
            "bfd_instance" => format!("bfd_instance b {{\n{k}\n}}\n"),
            "vrrp_sync_group" => format!("vrrp_sync_group g {{\n{k}\n}}\n"),
            "virtual_server_group" => format!("virtual_server_group g {{\n{k}\n}}\n"),
            "virtual_server" => format!("{VS}{k}\n}}\n"),
            "real_server (in virtual_server)" => format!("{VS}{RS}{k}\n}}\n}}\n"),
            "url (in HTTP_GET and SSL_GET)" => {
                format!("{VS}{RS}HTTP_GET {{\nurl {{\n{k}\n}}\n}}\n}}\n}}\n")
            }
            "host (in SMTP_CHECK)" => {
                format!("{VS}{RS}SMTP_CHECK {{\nhost {{\n{k}\n}}\n}}\n}}\n}}\n")
            }
            "SSL" => format!("SSL {{\n{k}\n}}\n"),
            "garp_group" => format!("garp_group {{\n{k}\n}}\n"),
            "track_group" => format!("track_group t {{\n{k}\n}}\n"),
            title => match title.split_once(" (in real_server)") {
                Some((name, _)) => checker(name),
                None => panic!("no test text for {title}"),
            },
        }
    }

    /// Each keyword listed as supported reaches its handler: whatever it says about a
    /// missing value, it never says "unknown", "not supported" or "baton bug".
    #[test]
    fn every_supported_keyword_is_read() {
        for context in ALL {
            for keyword in context
                .keywords
                .iter()
                .filter(|k| k.support == Support::Yes)
            {
                let k = keyword.name.to_owned();
                if k.starts_with("include") || k.starts_with('<') {
                    continue;
                }
                for message in messages(&placed(context, &k)) {
                    assert!(
                        !message.contains("unknown keyword")
                            && !message.contains("not supported")
                            && !message.contains("baton bug"),
                        "{} '{k}': {message}",
                        context.title
                    );
                }
            }
        }
    }

    #[test]
    fn unsupported_keywords_name_themselves_and_the_reason() {
        for context in ALL {
            for keyword in context
                .keywords
                .iter()
                .filter(|k| k.support != Support::Yes)
            {
                let k = keyword.name;
                if k.contains(' ') || k.starts_with(['$', '@', '~']) {
                    continue;
                }
                let text = if std::ptr::eq(context, &TOP) {
                    format!("{k}\n")
                } else {
                    placed(context, k)
                };
                let found = messages(&text);
                let expected = format!("'{k}' is not supported");
                assert!(
                    found
                        .iter()
                        .any(|m| m.contains(&expected) && m.contains(keyword.note)),
                    "{k}: {found:?}"
                );
            }
        }
    }
}
