//! keepalived's LVS family into the draft, as `check_parser.c`, `check_api.c` and the
//! `check_*.c` checkers read it: here `virtual_server` (with its `sorry_server`), the timing
//! keywords it shares with real servers and checkers, and the checker keywords of
//! `global_defs`; `virtual_server_group`, `real_server`, the checker blocks and `SSL` in files
//! of their own. Keywords not read are refused with the reason listed in `keywords`.

use std::net::SocketAddr;

use crate::keepalived::keywords;
use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::spec::At;
use crate::values::{parse_integer, parse_ip};
use crate::virtual_server_spec::fields;
use crate::virtual_server_spec::{
    SchedFlag, ServiceDraft, SorryDraft, TimingDraft, VirtualServerDraft,
};

/// Which level a timing keyword is read at: keepalived's ranges differ slightly.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Level {
    Server,
    Checker,
}

impl Mapper<'_> {
    /// The checker-process keywords of `global_defs`; false if `s` is something else.
    pub(super) fn lvs_global(&mut self, s: &Stmt, c: &str) -> bool {
        let keyword = s.keyword.as_str();
        match keyword {
            "checker_log_all_failures" => {
                if let Some(on) = self.flag(s, c) {
                    self.draft.global.checker_log_all_failures = Some(on);
                }
            }
            "rs_init_notifies" => {
                if let Some(on) = self.flag(s, c) {
                    self.draft.global.rs_init_notifies = on;
                }
            }
            "nftables_ipvs" | "nftables_ipvs_priority" | "nftables_ipvs_start_fwmark" => {
                self.d.warn(
                    &s.at,
                    format!(
                        "{c}: {keyword} is ignored: baton's L4 balancing is always nf_tables, \
                         in a table of its own"
                    ),
                );
            }
            // baton's table is its own: replaced whole at start, removed at stop.
            "lvs_flush" => {
                let _ = self.no_value(s, c);
            }
            "lvs_flush_on_stop" | "lvs_flush_onstop" => {
                let _ = self.no_block(s, c);
            }
            _ => return false,
        }
        true
    }

    /// `virtual_server IP [PORT] | fwmark N | group NAME { ... }`.
    pub(super) fn virtual_server(&mut self, s: &Stmt) {
        let c = format!("virtual_server {}", s.rest());
        let c = c.trim_end();
        let mut v = VirtualServerDraft::new(s.at.clone());
        v.protocol_required = true;
        let service = service(&s.args, &s.at);
        v.service = self.ok(s, "", service);
        let Some(block) = self.block(s, "") else {
            return;
        };
        for s in block {
            if self.timing(&mut v.timing, s, c, Level::Server) {
                continue;
            }
            let keyword = s.keyword.as_str();
            match keyword {
                "ip_family" => {
                    if let Some(text) = self.one(s, c) {
                        v.ip_family = self
                            .ok(s, c, fields::ip_family(text))
                            .map(|f| At::new(f, s.at.clone()));
                    }
                }
                "protocol" => {
                    if let Some(text) = self.one(s, c) {
                        v.protocol = self.ok(s, c, fields::protocol(text)).or(v.protocol);
                    }
                }
                "lb_algo" | "lvs_sched" => {
                    if let Some(text) = self.one(s, c) {
                        v.lb_algo = self.ok(s, c, fields::lb_algo(text)).or(v.lb_algo);
                    }
                }
                "sh-port" | "sh-fallback" | "mh-port" | "mh-fallback" | "flag-1" | "flag-2"
                | "flag-3" | "hashed" => {
                    let flag = match keyword {
                        "sh-port" => SchedFlag::ShPort,
                        "sh-fallback" => SchedFlag::ShFallback,
                        "mh-port" => SchedFlag::MhPort,
                        "mh-fallback" => SchedFlag::MhFallback,
                        "flag-1" => SchedFlag::Flag1,
                        "flag-2" => SchedFlag::Flag2,
                        "flag-3" => SchedFlag::Flag3,
                        _ => SchedFlag::Hashed,
                    };
                    if self.no_value(s, c) {
                        v.sched_flags.push(At::new(flag, s.at.clone()));
                    }
                }
                "lb_kind" | "lvs_method" => v.lb_kind = self.lb_kind(s, c).or(v.lb_kind),
                "persistence_timeout" => {
                    if !self.no_block(s, c) {
                        continue;
                    }
                    let result = match s.args.as_slice() {
                        [] => Ok(fields::DEFAULT_PERSISTENCE as u32),
                        [value] => parse_integer(value).and_then(fields::persistence_timeout),
                        _ => Err(format!(
                            "persistence_timeout takes one value, not '{}'",
                            s.rest()
                        )),
                    };
                    v.persistence_timeout = self.ok(s, c, result).or(v.persistence_timeout);
                }
                "persistence_granularity" => {
                    if let Some(text) = self.one(s, c) {
                        v.persistence_granularity = self
                            .ok(s, c, fields::granularity(text))
                            .map(|g| At::new(g, s.at.clone()));
                    }
                }
                "ha_suspend" => {
                    if self.no_value(s, c) {
                        v.ha_suspend = Some(At::new(true, s.at.clone()));
                    }
                }
                "smtp_alert" => v.smtp_alert = self.smtp_alert(s, c).or(v.smtp_alert),
                "virtualhost" => v.virtualhost = self.one(s, c).map(str::to_owned),
                "omega" => v.omega |= self.no_value(s, c),
                "quorum" => {
                    if let Some(n) = self.integer(s, c) {
                        v.quorum = self.ok(s, c, fields::unsigned("quorum", n, 1));
                    }
                }
                "hysteresis" => {
                    if let Some(n) = self.integer(s, c) {
                        v.hysteresis = self.ok(s, c, fields::unsigned("hysteresis", n, 0));
                    }
                }
                "quorum_up" | "quorum_down" => {
                    let slot = if keyword == "quorum_up" {
                        &mut v.quorum_up
                    } else {
                        &mut v.quorum_down
                    };
                    if slot.is_some() {
                        self.error(&s.at, c, format!("{keyword} is given twice"));
                        continue;
                    }
                    *slot = self.notify_script(s, c);
                }
                "weight" => {
                    if let Some(n) = self.integer(s, c) {
                        v.weight = self.ok(s, c, fields::default_weight(n));
                    }
                }
                "inhibit_on_failure" => {
                    v.inhibit_on_failure = self.flag(s, c).or(v.inhibit_on_failure);
                }
                "sorry_server" => {
                    if !self.no_block(s, c) {
                        continue;
                    }
                    let result = ip_port(&s.args).map_err(|e| format!("sorry_server: {e}"));
                    if let Some(address) = self.ok(s, c, result) {
                        v.sorry_server = Some(SorryDraft {
                            address,
                            inhibit: false,
                            lb_kind: None,
                            location: s.at.clone(),
                        });
                    }
                }
                "sorry_server_inhibit" | "sorry_server_lvs_method" => {
                    let kind = if keyword == "sorry_server_lvs_method" {
                        self.lb_kind(s, c)
                    } else {
                        self.no_value(s, c).then_some(crate::LbKind::Nat)
                    };
                    let Some(sorry) = v.sorry_server.as_mut() else {
                        // keepalived: "used before or without sorry_server", and ignored.
                        self.error(
                            &s.at,
                            c,
                            format!("{keyword} must come after a sorry_server"),
                        );
                        continue;
                    };
                    match (keyword, kind) {
                        ("sorry_server_inhibit", Some(_)) => sorry.inhibit = true,
                        (_, Some(kind)) => sorry.lb_kind = Some(kind),
                        _ => {}
                    }
                }
                "real_server" => {
                    if let Some(real) = self.real_server(s, c) {
                        v.real_servers.push(real);
                    }
                }
                _ => self.refuse(&keywords::VIRTUAL_SERVER, s, c),
            }
        }
        self.draft.virtual_servers.push(v);
    }

    /// `lb_kind` / `lvs_method` and the like: `NAT` or `DR` (TUN is refused).
    pub(super) fn lb_kind(&mut self, s: &Stmt, c: &str) -> Option<crate::LbKind> {
        if !self.no_block(s, c) {
            return None;
        }
        let result = match s.args.split_first() {
            None => Err(format!("{} needs NAT or DR", s.keyword)),
            Some((kind, rest)) => fields::lb_kind(kind).and_then(|kind| {
                if rest.is_empty() {
                    Ok(kind)
                } else {
                    Err(format!("{}: unexpected '{}'", s.keyword, rest.join(" ")))
                }
            }),
        };
        self.ok(s, c, result)
    }

    /// `retry`, `delay_before_retry`, `warmup`, `delay_loop`, `connect_timeout`, `alpha`;
    /// false if `s` is something else.
    pub(super) fn timing(
        &mut self,
        timing: &mut TimingDraft,
        s: &Stmt,
        c: &str,
        level: Level,
    ) -> bool {
        let keyword = s.keyword.as_str();
        match keyword {
            "retry" | "nb_get_retry" => {
                if keyword == "nb_get_retry" {
                    self.d.warn(
                        &s.at,
                        format!("{c}: nb_get_retry is deprecated; it means retry"),
                    );
                }
                // keepalived: 1 or more for servers, 0 or more in a checker.
                let min = if level == Level::Checker { 0 } else { 1 };
                if let Some(n) = self.integer(s, c) {
                    timing.retry = self
                        .ok(s, c, fields::unsigned(keyword, n, min))
                        .or(timing.retry);
                }
            }
            "delay_before_retry" | "warmup" => {
                if let Some(d) = self.seconds(s, c) {
                    if keyword == "warmup" {
                        timing.warmup = Some(d);
                    } else {
                        timing.delay_before_retry = Some(d);
                    }
                }
            }
            "delay_loop" | "connect_timeout" => {
                let Some(d) = self.seconds(s, c) else {
                    return true;
                };
                let result = crate::fields::script_period(keyword, d);
                let Some(d) = self.ok(s, c, result) else {
                    return true;
                };
                if keyword == "delay_loop" {
                    timing.delay_loop = Some(d);
                } else {
                    timing.connect_timeout = Some(d);
                }
            }
            "alpha" => timing.alpha = self.flag(s, c).or(timing.alpha),
            _ => return false,
        }
        true
    }
}

/// `IP [PORT]`: no port, or 0, is port 0.
pub(super) fn ip_port(args: &[String]) -> Result<SocketAddr, String> {
    match args {
        [ip] => Ok(SocketAddr::new(parse_ip(ip)?, 0)),
        [ip, port] => Ok(SocketAddr::new(parse_ip(ip)?, fields::port("port", port)?)),
        [] => Err("needs an address and a port".into()),
        _ => Err(format!("expected IP [PORT], not '{}'", args.join(" "))),
    }
}

/// What follows `virtual_server`.
fn service(args: &[String], at: &crate::Location) -> Result<ServiceDraft, String> {
    match args {
        [fwmark, mark] if fwmark == "fwmark" => {
            Ok(ServiceDraft::Fwmark(fields::fwmark(parse_integer(mark)?)?))
        }
        [group, name] if group == "group" => {
            Ok(ServiceDraft::Group(At::new(name.clone(), at.clone())))
        }
        [_] | [_, _] => ip_port(args)
            .map(ServiceDraft::Address)
            .map_err(|e| format!("virtual_server: {e}")),
        _ => Err(format!(
            "virtual_server takes IP [PORT], fwmark N or group NAME, not '{}'",
            args.join(" ")
        )),
    }
}
