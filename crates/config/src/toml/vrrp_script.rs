//! `[[vrrp_script]]`: keepalived's `vrrp_script`, with its key names.

use serde::Deserialize;
use toml::{Spanned, Value};

use super::{Reader, command};
use crate::fields;
use crate::spec::ScriptDraft;
use crate::values;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScriptToml {
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

impl Reader<'_> {
    pub(super) fn script(
        &mut self,
        t: ScriptToml,
        start: usize,
        removed: &[String],
    ) -> ScriptDraft {
        let c = format!("script {}", t.name);
        let mut s = ScriptDraft::new(t.name, self.at(start));
        s.argv_given = t.script.is_some() || removed.iter().any(|k| k == "script");
        if let Some(script) = t.script {
            let offset = script.span().start;
            let result = command("script", script.get_ref());
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
}
