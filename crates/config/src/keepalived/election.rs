//! keepalived's election options (`lower_prio_no_advert`, `higher_prio_send_advert`,
//! `down_timer_adverts`, `unicast_ttl`, `mcast_dst_ip`, their `vrrp_` global defaults) and
//! the global start-up settings (`vrrp_startup_delay`, `default_interface`,
//! `dynamic_interfaces`), as `vrrp_parser.c` and `global_parser.c` read them.

use std::time::Duration;

use crate::election::{ElectionDraft, OldUnicastChecksum};
use crate::fields;
use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::spec::At;

/// keepalived: `vrrp_startup_delay` is read in microseconds from 0.001 s to `UINT_MAX` µs.
const STARTUP_DELAY_MIN: Duration = Duration::from_millis(1);
const STARTUP_DELAY_MAX: Duration = Duration::from_micros(u32::MAX as u64);

impl Mapper<'_> {
    /// An instance's election keyword (`name` is the keyword without any `vrrp_` prefix);
    /// false if `s` is something else. `global`: only the three with a global default.
    pub(super) fn election(
        &mut self,
        e: &mut ElectionDraft,
        s: &Stmt,
        name: &str,
        (c, global): (&str, bool),
    ) -> bool {
        match name {
            "lower_prio_no_advert" => {
                if let Some(on) = self.flag(s, c) {
                    e.lower_prio_no_advert = Some(on);
                }
            }
            "higher_prio_send_advert" => {
                if let Some(on) = self.flag(s, c) {
                    e.higher_prio_send_advert = Some(on);
                }
            }
            "down_timer_adverts" => {
                if let Some(v) = self.integer(s, c) {
                    let result = fields::down_timer_adverts(&s.keyword, v);
                    e.down_timer_adverts = self.ok(s, c, result);
                }
            }
            "unicast_ttl" if !global => {
                if let Some(v) = self.integer(s, c) {
                    let result = fields::unicast_ttl(v);
                    e.unicast_ttl = self.ok(s, c, result).map(|t| At::new(t, s.at.clone()));
                }
            }
            "old_unicast_checksum" if !global => {
                let mode = match s.args.as_slice() {
                    [] => Some(OldUnicastChecksum::Always),
                    [never] if never == "never" => Some(OldUnicastChecksum::Never),
                    _ => {
                        // keepalived: "Unknown old_unicast_chksum mode %s - ignoring".
                        let message = format!(
                            "unknown old_unicast_checksum mode '{}' (never, or nothing)",
                            s.rest()
                        );
                        self.error(&s.at, c, message);
                        None
                    }
                };
                e.old_unicast_checksum = mode.map(|m| At::new(m, s.at.clone()));
            }
            "unicast_fault_no_peer" if !global => {
                // keepalived ignores any words after it.
                if self.no_block(s, c) {
                    e.fault_no_peer = true;
                }
            }
            "mcast_dst_ip" if !global => {
                if let Some(v) = self.one(s, c) {
                    let result = fields::mcast_dst_ip(v, s.at.clone());
                    e.mcast_dst_ip = self.ok(s, c, result);
                }
            }
            _ => return false,
        }
        true
    }

    /// The global settings of this family; false if `s` is something else.
    pub(super) fn election_global(&mut self, s: &Stmt, c: &str) -> bool {
        let keyword = s.keyword.as_str();
        match keyword {
            "vrrp_startup_delay" => {
                let Some(delay) = self.seconds(s, c) else {
                    return true;
                };
                if !(STARTUP_DELAY_MIN..=STARTUP_DELAY_MAX).contains(&delay) {
                    let message = format!(
                        "vrrp_startup_delay '{}' is invalid: 0.001 to 4294.967295 seconds",
                        s.rest()
                    );
                    self.error(&s.at, c, message);
                    return true;
                }
                if delay >= Duration::from_secs(60) {
                    // keepalived logs the same.
                    let message = format!("{c}: vrrp_startup_delay {} is very large", s.rest());
                    self.d.warn(&s.at, message);
                }
                self.draft.global.startup_delay = Some(delay);
            }
            "vrrp_mcast_group4" | "vrrp_mcast_group6" => {
                let ipv6 = keyword == "vrrp_mcast_group6";
                let Some(v) = self.one(s, c) else {
                    return true;
                };
                let Some(group) = self.ok(s, c, fields::mcast_group(keyword, v, ipv6)) else {
                    return true;
                };
                if !fields::link_local_multicast(group) {
                    // keepalived warns, and uses it.
                    let message = format!("{c}: {keyword} {group} should be link-local multicast");
                    self.d.warn(&s.at, message);
                }
                let e = &mut self.draft.global.election;
                if ipv6 {
                    e.mcast_group6 = Some(group);
                } else {
                    e.mcast_group4 = Some(group);
                }
            }
            "default_interface" => {
                if let Some(name) = self.one(s, c) {
                    self.draft.global.default_interface = Some(name.to_owned());
                }
            }
            "dynamic_interfaces" => {
                // `allow_if_changes` lets keepalived follow an interface that is deleted and
                // made again; baton builds the instance anew whenever it comes up anyway.
                match s.args.as_slice() {
                    [] => {}
                    [option] if option == "allow_if_changes" => {}
                    _ => {
                        let message = format!("unknown dynamic_interfaces option '{}'", s.rest());
                        self.error(&s.at, c, message);
                        return true;
                    }
                }
                if self.no_block(s, c) {
                    self.draft.global.dynamic_interfaces = true;
                }
            }
            _ => {
                let mut e = std::mem::take(&mut self.draft.global.election);
                let read = keyword
                    .strip_prefix("vrrp_")
                    .is_some_and(|name| self.election(&mut e, s, name, (c, true)));
                self.draft.global.election = e;
                return read;
            }
        }
        true
    }
}
