//! `[[virtual_server]]`, `[[virtual_server_group]]` and `[SSL]`: keepalived's LVS family
//! with its key names. A service is `address`, `fwmark` or `group`; its real servers are
//! `[[virtual_server.real_server]]` tables, and their checkers tables named as keepalived's
//! blocks (`[virtual_server.real_server.HTTP_GET]`, or `[[...]]` for several of a kind):
//!
//! ```toml
//! [[virtual_server]]
//! name = "web"
//! address = "10.0.3.100:80"
//! protocol = "TCP"
//! lb_algo = "wrr"
//!
//! [[virtual_server.real_server]]
//! address = "10.0.3.11:80"
//! weight = 2
//!
//! [virtual_server.real_server.HTTP_GET]
//! url = [{ path = "/healthz", status_code = 200 }]
//! ```
//!
//! Each table is read on its own, so that every bad key is listed, with its line. This file
//! reads `[[virtual_server]]` and what its real servers and checkers share (timing, notify
//! scripts, addresses); `real_server`, `checker`, `virtual_server_group` and `ssl` the rest.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;
use serde::de::IgnoredAny;
use toml::de::DeValue;
use toml::{Spanned, Value};

use super::notify::notify_script;
use super::{Checked, Reader};
use crate::model::NotifyScript;
use crate::spec::At;
use crate::virtual_server_spec::fields;
use crate::virtual_server_spec::{
    SchedFlag, ServiceDraft, SorryDraft, TimingDraft, VirtualServerDraft,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VirtualServerToml {
    name: String,
    address: Option<Spanned<String>>,
    fwmark: Option<Spanned<i64>>,
    group: Option<Spanned<String>>,
    ip_family: Option<Spanned<String>>,
    protocol: Option<Spanned<String>>,
    #[serde(alias = "lvs_sched")]
    lb_algo: Option<Spanned<String>>,
    #[serde(rename = "sh-port")]
    sh_port: Option<Spanned<bool>>,
    #[serde(rename = "sh-fallback")]
    sh_fallback: Option<Spanned<bool>>,
    #[serde(rename = "mh-port")]
    mh_port: Option<Spanned<bool>>,
    #[serde(rename = "mh-fallback")]
    mh_fallback: Option<Spanned<bool>>,
    #[serde(rename = "flag-1")]
    flag_1: Option<Spanned<bool>>,
    #[serde(rename = "flag-2")]
    flag_2: Option<Spanned<bool>>,
    #[serde(alias = "lvs_method")]
    lb_kind: Option<Spanned<String>>,
    persistence_timeout: Option<Spanned<i64>>,
    persistence_granularity: Option<Spanned<Value>>,
    delay_loop: Option<Spanned<Value>>,
    connect_timeout: Option<Spanned<Value>>,
    retry: Option<Spanned<i64>>,
    delay_before_retry: Option<Spanned<Value>>,
    warmup: Option<Spanned<Value>>,
    alpha: Option<bool>,
    inhibit_on_failure: Option<bool>,
    ha_suspend: Option<Spanned<bool>>,
    virtualhost: Option<String>,
    omega: Option<bool>,
    quorum: Option<Spanned<i64>>,
    hysteresis: Option<Spanned<i64>>,
    quorum_up: Option<Spanned<Value>>,
    quorum_down: Option<Spanned<Value>>,
    weight: Option<Spanned<i64>>,
    sorry_server: Option<Spanned<String>>,
    sorry_server_inhibit: Option<Spanned<bool>>,
    sorry_server_lvs_method: Option<Spanned<String>>,
    snat: Option<Spanned<bool>>,
    /// Read on its own by [`Reader::real_server`], so that its bad keys are each listed.
    #[serde(rename = "real_server")]
    _real_server: Option<IgnoredAny>,
}

impl Reader<'_> {
    /// `item` is the whole `[[virtual_server]]` entry, for its real servers.
    pub(super) fn virtual_server(
        &mut self,
        t: VirtualServerToml,
        item: &Spanned<DeValue<'_>>,
    ) -> VirtualServerDraft {
        let c = format!("virtual server {}", t.name);
        let c = c.as_str();
        let location = self.at(item.span().start);
        let mut v = VirtualServerDraft::new(location.clone());
        v.name = Some(t.name.clone());
        let given = [t.address.is_some(), t.fwmark.is_some(), t.group.is_some()];
        match given.iter().filter(|g| **g).count() {
            1 => {}
            0 => self.d.error(
                &location,
                format!("{c}: no 'address', 'fwmark' or 'group': what does it balance?"),
            ),
            _ => self.d.error(
                &location,
                format!("{c}: give one of 'address', 'fwmark' and 'group'"),
            ),
        }
        if let Some(a) = t.address {
            let result = address(a.get_ref()).and_then(|(ip, port)| match port {
                Some(port) => Ok(SocketAddr::new(ip, port)),
                None => Err(format!(
                    "address '{}' has no port: write IP:PORT (IP:0 for every port, with \
                     persistence)",
                    a.get_ref()
                )),
            });
            v.service = self
                .check(a.span().start, c, result)
                .map(ServiceDraft::Address);
        }
        if let Some(m) = t.fwmark {
            let result = fields::fwmark(*m.get_ref());
            v.service = self
                .check(m.span().start, c, result)
                .map(ServiceDraft::Fwmark);
        }
        if let Some(g) = t.group {
            let at = self.at(g.span().start);
            v.service = Some(ServiceDraft::Group(At::new(g.into_inner(), at)));
        }
        if let Some(f) = t.ip_family {
            let at = self.at(f.span().start);
            v.ip_family = self
                .check(f.span().start, c, fields::ip_family(f.get_ref()))
                .map(|f| At::new(f, at));
        }
        if let Some(p) = t.protocol {
            v.protocol = self.check(p.span().start, c, fields::protocol(p.get_ref()));
        }
        if let Some(a) = t.lb_algo {
            v.lb_algo = self.check(a.span().start, c, fields::lb_algo(a.get_ref()));
        }
        for (flag, value) in [
            (SchedFlag::ShPort, t.sh_port),
            (SchedFlag::ShFallback, t.sh_fallback),
            (SchedFlag::MhPort, t.mh_port),
            (SchedFlag::MhFallback, t.mh_fallback),
            (SchedFlag::Flag1, t.flag_1),
            (SchedFlag::Flag2, t.flag_2),
        ] {
            if let Some(on) = value.filter(|v| *v.get_ref()) {
                v.sched_flags.push(At::new(flag, self.at(on.span().start)));
            }
        }
        if let Some(k) = t.lb_kind {
            v.lb_kind = self.check(k.span().start, c, fields::lb_kind(k.get_ref()));
        }
        if let Some(p) = t.persistence_timeout {
            let result = fields::persistence_timeout(*p.get_ref());
            v.persistence_timeout = self.check(p.span().start, c, result);
        }
        if let Some(g) = t.persistence_granularity {
            let at = self.at(g.span().start);
            let result = match g.get_ref() {
                Value::String(text) => fields::granularity(text),
                Value::Integer(n) => fields::granularity(&n.to_string()),
                other => Err(format!(
                    "persistence_granularity must be a netmask or a prefix length, not {other}"
                )),
            };
            v.persistence_granularity = self
                .check(g.span().start, c, result)
                .map(|g| At::new(g, at));
        }
        v.timing = self.timing(
            c,
            [
                t.delay_loop,
                t.connect_timeout,
                t.delay_before_retry,
                t.warmup,
            ],
            t.retry,
            1,
        );
        v.timing.alpha = t.alpha;
        v.inhibit_on_failure = t.inhibit_on_failure;
        if let Some(h) = t.ha_suspend {
            v.ha_suspend = Some(At::new(*h.get_ref(), self.at(h.span().start)));
        }
        v.virtualhost = t.virtualhost;
        v.omega = t.omega.unwrap_or(false);
        if let Some(q) = t.quorum {
            let result = fields::unsigned("quorum", *q.get_ref(), 1);
            v.quorum = self.check(q.span().start, c, result);
        }
        if let Some(h) = t.hysteresis {
            let result = fields::unsigned("hysteresis", *h.get_ref(), 0);
            v.hysteresis = self.check(h.span().start, c, result);
        }
        v.quorum_up = self.notify_one(c, t.quorum_up);
        v.quorum_down = self.notify_one(c, t.quorum_down);
        if let Some(w) = t.weight {
            let result = fields::default_weight(*w.get_ref());
            v.weight = self.check(w.span().start, c, result);
        }
        match t.sorry_server {
            Some(s) => {
                let location = self.at(s.span().start);
                let result = address(s.get_ref())
                    .map(|(ip, port)| SocketAddr::new(ip, port.unwrap_or(0)))
                    .map_err(|e| format!("sorry_server: {e}"));
                let kind = t
                    .sorry_server_lvs_method
                    .and_then(|k| self.check(k.span().start, c, fields::lb_kind(k.get_ref())));
                v.sorry_server = self
                    .check(s.span().start, c, result)
                    .map(|address| SorryDraft {
                        address,
                        inhibit: t.sorry_server_inhibit.is_some_and(|i| *i.get_ref()),
                        lb_kind: kind,
                        location,
                    });
            }
            None => {
                let orphans = [
                    (
                        "sorry_server_lvs_method",
                        t.sorry_server_lvs_method.map(|k| k.span()),
                    ),
                    (
                        "sorry_server_inhibit",
                        t.sorry_server_inhibit.map(|k| k.span()),
                    ),
                ];
                for (key, span) in orphans {
                    if let Some(span) = span {
                        let result = Err(format!("{key} needs a sorry_server"));
                        self.check::<()>(span.start, c, result);
                    }
                }
            }
        }
        if let Some(s) = t.snat {
            v.snat = Some(At::new(*s.get_ref(), self.at(s.span().start)));
        }
        match item.get_ref().get("real_server").map(|r| (r, r.get_ref())) {
            Some((_, DeValue::Array(servers))) => {
                for server in servers {
                    if let Some(r) = self.real_server(server, c) {
                        v.real_servers.push(r);
                    }
                }
            }
            Some((r, _)) => {
                let result = Err("real_server must be an array of tables: write \
                                  [[virtual_server.real_server]]"
                    .to_owned());
                self.check::<()>(r.span().start, c, result);
            }
            None => {}
        }
        v
    }

    /// `delay_loop`, `connect_timeout`, `delay_before_retry`, `warmup` in that order, and
    /// `retry` (at least `min_retry`).
    pub(super) fn timing(
        &mut self,
        c: &str,
        periods: [Option<Spanned<Value>>; 4],
        retry: Option<Spanned<i64>>,
        min_retry: i64,
    ) -> TimingDraft {
        let mut timing = TimingDraft::default();
        let names = [
            "delay_loop",
            "connect_timeout",
            "delay_before_retry",
            "warmup",
        ];
        for (i, value) in periods.into_iter().enumerate() {
            let Some(value) = value else { continue };
            let Some(d) = self.seconds(c, names[i], &value) else {
                continue;
            };
            let positive = |d: Duration| crate::fields::script_period(names[i], d);
            match i {
                0 => timing.delay_loop = self.check(value.span().start, c, positive(d.value)),
                1 => {
                    timing.connect_timeout = self.check(value.span().start, c, positive(d.value));
                }
                2 => timing.delay_before_retry = Some(d.value),
                _ => timing.warmup = Some(d.value),
            }
        }
        if let Some(r) = retry {
            let result = fields::unsigned("retry", *r.get_ref(), min_retry);
            timing.retry = self.check(r.span().start, c, result);
        }
        timing
    }

    pub(super) fn notify_one(
        &mut self,
        c: &str,
        value: Option<Spanned<Value>>,
    ) -> Option<NotifyScript> {
        let value = value?;
        let location = self.at(value.span().start);
        let result = notify_script(value.get_ref(), location);
        self.check(value.span().start, c, result)
    }
}

/// `IP:PORT`, `[IPv6]:PORT`, or an address alone (no port).
pub(super) fn address(text: &str) -> Checked<(IpAddr, Option<u16>)> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok((a.ip(), Some(a.port())));
    }
    text.parse::<IpAddr>().map(|ip| (ip, None)).map_err(|_| {
        format!("'{text}' is not IP:PORT or IP (IPv6 as [::1]:80; host names are not resolved)")
    })
}
