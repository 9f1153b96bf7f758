//! keepalived's `global_defs` block, as `global_parser.c` reads it: the VRRP settings read
//! here, and the keyword families with files of their own (e-mail, election, notify FIFO,
//! iproute directories, virtual MACs, global scripts, LVS, connection sync), tried in turn.

use crate::fields;
use crate::keepalived::keywords;
use crate::keepalived::mapping::{Mapper, Once};
use crate::keepalived::parser::Stmt;
use crate::values;

impl Mapper<'_> {
    pub(super) fn global(&mut self, s: &Stmt) {
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
}
