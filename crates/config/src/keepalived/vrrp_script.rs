//! keepalived's `vrrp_script` block, as `vrrp_parser.c` reads it.

use crate::fields;
use crate::keepalived::keywords;
use crate::keepalived::mapping::{Mapper, Once};
use crate::keepalived::parser::Stmt;
use crate::keepalived::track_lists::weight_with_reverse;
use crate::spec::ScriptDraft;
use crate::values;

impl Mapper<'_> {
    pub(super) fn script(&mut self, s: &Stmt) {
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
}
