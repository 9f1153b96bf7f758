//! Statements into the draft: what each keepalived keyword means, as `global_parser.c` and
//! `vrrp_parser.c` read it. Keywords not handled here are refused with the reason listed
//! in `keywords`.
//!
//! This file holds the walk over the top-level blocks and what every block's reading
//! shares (errors at a line, refusals, keywords given twice); each block is read in a file
//! of its own (`global_defs`, `vrrp_instance`, `vrrp_script`, `track_file`,
//! `vrrp_sync_group`, ...) and the shapes of values in `words`.

use std::collections::HashSet;

use crate::diagnostic::{Diagnostics, Location};
use crate::keepalived::keywords::{self, Context};
use crate::keepalived::parser::Stmt;
use crate::spec::Draft;

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
pub(super) struct Once(HashSet<&'static str>);

impl Once {
    pub(super) fn new() -> Once {
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

    /// A keyword accepted only to be ignored (process tuning that belongs to systemd, say)
    /// gets a warning with the advice from its note; any other is refused.
    pub(super) fn ignore_or_refuse(&mut self, table: &Context, s: &Stmt, context: &str) {
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
    pub(super) fn once(&mut self, seen: &mut Once, s: &Stmt, context: &str) {
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
