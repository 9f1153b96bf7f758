//! `[global]`: keepalived's `global_defs`, with its key names.

use std::path::PathBuf;

use serde::Deserialize;
use toml::{Spanned, Value};

use super::Reader;
use crate::fields;
use crate::spec::Draft;
use crate::values;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GlobalToml {
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

impl Reader<'_> {
    pub(super) fn global(&mut self, g: GlobalToml, start: usize, draft: &mut Draft) {
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
}
