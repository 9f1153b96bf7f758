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
//! Each table is read on its own, so that every bad key is listed, with its line.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde::de::IgnoredAny;
use toml::de::DeValue;
use toml::{Spanned, Value};

use super::notify::notify_script;
use super::{Checked, Reader};
use crate::model::NotifyScript;
use crate::spec::{At, Draft};
use crate::values::{self, in_range, split_command};
use crate::virtual_server::{ServiceMatch, SslContext, UrlCheck};
use crate::virtual_server_spec::fields;
use crate::virtual_server_spec::{
    CheckerDraft, CheckerKindDraft, FileDraft, GroupDraft, GroupEntry, HttpDraft, MiscDraft,
    RealServerDraft, SchedFlag, ServiceDraft, SorryDraft, TimingDraft, UdpDraft,
    VirtualServerDraft,
};

/// The checker tables of a real server, as keepalived names its blocks.
const CHECKERS: [&str; 9] = [
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "MISC_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
];

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RealServerToml {
    address: Option<Spanned<String>>,
    weight: Option<Spanned<i64>>,
    #[serde(alias = "lb_kind")]
    lvs_method: Option<Spanned<String>>,
    uthreshold: Option<Spanned<i64>>,
    lthreshold: Option<Spanned<i64>>,
    inhibit_on_failure: Option<bool>,
    notify_up: Option<Spanned<Value>>,
    notify_down: Option<Spanned<Value>>,
    alpha: Option<bool>,
    delay_loop: Option<Spanned<Value>>,
    connect_timeout: Option<Spanned<Value>>,
    retry: Option<Spanned<i64>>,
    delay_before_retry: Option<Spanned<Value>>,
    warmup: Option<Spanned<Value>>,
    virtualhost: Option<String>,
    #[serde(rename = "TCP_CHECK")]
    _tcp: Option<IgnoredAny>,
    #[serde(rename = "HTTP_GET")]
    _http: Option<IgnoredAny>,
    #[serde(rename = "SSL_GET")]
    _ssl: Option<IgnoredAny>,
    #[serde(rename = "MISC_CHECK")]
    _misc: Option<IgnoredAny>,
    #[serde(rename = "SMTP_CHECK")]
    _smtp: Option<IgnoredAny>,
    #[serde(rename = "DNS_CHECK")]
    _dns: Option<IgnoredAny>,
    #[serde(rename = "UDP_CHECK")]
    _udp: Option<IgnoredAny>,
    #[serde(rename = "PING_CHECK")]
    _ping: Option<IgnoredAny>,
    #[serde(rename = "FILE_CHECK")]
    _file: Option<IgnoredAny>,
}

/// Every checker's keys; which apply to which checker is checked after.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckerToml {
    connect_ip: Option<Spanned<String>>,
    connect_port: Option<Spanned<i64>>,
    bindto: Option<Spanned<String>>,
    bind_port: Option<Spanned<i64>>,
    bind_if: Option<Spanned<String>>,
    fwmark: Option<Spanned<i64>>,
    connect_timeout: Option<Spanned<Value>>,
    retry: Option<Spanned<i64>>,
    delay_before_retry: Option<Spanned<Value>>,
    warmup: Option<Spanned<Value>>,
    delay_loop: Option<Spanned<Value>>,
    alpha: Option<Spanned<bool>>,
    log_all_failures: Option<Spanned<bool>>,
    url: Option<Spanned<Vec<Spanned<Value>>>>,
    virtualhost: Option<Spanned<String>>,
    http_protocol: Option<Spanned<String>>,
    enable_sni: Option<Spanned<bool>>,
    fast_recovery: Option<Spanned<bool>>,
    misc_path: Option<Spanned<Value>>,
    misc_timeout: Option<Spanned<i64>>,
    misc_dynamic: Option<Spanned<bool>>,
    user: Option<Spanned<String>>,
    group: Option<Spanned<String>>,
    helo_name: Option<Spanned<String>>,
    #[serde(rename = "type")]
    record_type: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    payload: Option<Spanned<String>>,
    require_reply: Option<Spanned<Value>>,
    min_reply_length: Option<Spanned<i64>>,
    max_reply_length: Option<Spanned<i64>>,
    track_file: Option<Spanned<String>>,
    weight: Option<Spanned<i64>>,
    reverse: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GroupToml {
    name: String,
    addresses: Option<Vec<Spanned<String>>>,
    fwmark: Option<Vec<Spanned<Value>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SslToml {
    password: Option<String>,
    ca: Option<String>,
    certificate: Option<String>,
    key: Option<String>,
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

    fn real_server(&mut self, item: &Spanned<DeValue<'_>>, vs: &str) -> Option<RealServerDraft> {
        let (t, removed) = self.section::<RealServerToml>(item, &format!("{vs}: real_server"))?;
        let location = self.at(item.span().start);
        let Some(a) = t.address else {
            if !removed.iter().any(|k| k == "address") {
                self.d
                    .error(&location, format!("{vs}: real_server: no 'address'"));
            }
            return None;
        };
        let result = address(a.get_ref())
            .map(|(ip, port)| SocketAddr::new(ip, port.unwrap_or(0)))
            .map_err(|e| format!("real_server: {e}"));
        let address = self.check(a.span().start, vs, result)?;
        let c = format!("{vs}: real_server {address}");
        let c = c.as_str();
        let mut r = RealServerDraft::new(address, location);
        if let Some(w) = t.weight {
            r.weight = self.check(w.span().start, c, fields::weight(*w.get_ref()));
        }
        if let Some(k) = t.lvs_method {
            r.lb_kind = self.check(k.span().start, c, fields::lb_kind(k.get_ref()));
        }
        if let Some(u) = t.uthreshold {
            let result = fields::unsigned("uthreshold", *u.get_ref(), 0);
            r.uthreshold = self.check(u.span().start, c, result);
        }
        if let Some(l) = t.lthreshold {
            let result = fields::unsigned("lthreshold", *l.get_ref(), 0);
            r.lthreshold = self.check(l.span().start, c, result);
        }
        r.inhibit_on_failure = t.inhibit_on_failure;
        r.notify_up = self.notify_one(c, t.notify_up);
        r.notify_down = self.notify_one(c, t.notify_down);
        r.timing = self.timing(
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
        r.timing.alpha = t.alpha;
        r.virtualhost = t.virtualhost;
        // In the order they are written, as keepalived.conf's blocks are.
        let mut tables: Vec<(&str, &Spanned<DeValue<'_>>)> = Vec::new();
        for kind in CHECKERS {
            match item.get_ref().get(kind).map(|v| (v, v.get_ref())) {
                Some((_, DeValue::Array(items))) => tables.extend(items.iter().map(|t| (kind, t))),
                Some((value, _)) => tables.push((kind, value)),
                None => {}
            }
        }
        tables.sort_by_key(|(_, table)| table.span().start);
        for (kind, table) in tables {
            if let Some(checker) = self.checker(kind, table, c) {
                r.checkers.push(checker);
            }
        }
        Some(r)
    }

    fn checker(
        &mut self,
        kind: &str,
        item: &Spanned<DeValue<'_>>,
        rs: &str,
    ) -> Option<CheckerDraft> {
        let c = format!("{rs}: {kind}");
        let c = c.as_str();
        if !matches!(item.get_ref(), DeValue::Table(_)) {
            let result = Err(format!("{kind} must be a table"));
            return self.check::<CheckerDraft>(item.span().start, rs, result);
        }
        let (t, _) = self.section::<CheckerToml>(item, c)?;
        let location = self.at(item.span().start);
        let connects = !matches!(kind, "MISC_CHECK" | "FILE_CHECK");
        let timed = kind != "FILE_CHECK";
        let http = matches!(kind, "HTTP_GET" | "SSL_GET");
        let span = |v: &Option<Spanned<Value>>| v.as_ref().map(|v| v.span().start);
        fn at<T>(v: &Option<Spanned<T>>) -> Option<usize> {
            v.as_ref().map(|v| v.span().start)
        }
        // Which keys apply to this kind of checker, as keepalived installs them.
        let keys = [
            ("connect_ip", at(&t.connect_ip), connects),
            ("connect_port", at(&t.connect_port), connects),
            ("bindto", at(&t.bindto), connects),
            ("bind_port", at(&t.bind_port), connects),
            ("bind_if", at(&t.bind_if), connects),
            ("fwmark", at(&t.fwmark), connects),
            ("connect_timeout", span(&t.connect_timeout), connects),
            ("retry", at(&t.retry), timed),
            ("delay_before_retry", span(&t.delay_before_retry), timed),
            ("warmup", span(&t.warmup), timed),
            ("delay_loop", span(&t.delay_loop), timed),
            ("alpha", at(&t.alpha), timed),
            ("log_all_failures", at(&t.log_all_failures), timed),
            ("url", at(&t.url), http),
            ("virtualhost", at(&t.virtualhost), http),
            ("http_protocol", at(&t.http_protocol), http),
            // keepalived accepts it in HTTP_GET too, where it has nothing to do.
            ("enable_sni", at(&t.enable_sni), http),
            ("fast_recovery", at(&t.fast_recovery), http),
            ("misc_path", span(&t.misc_path), kind == "MISC_CHECK"),
            ("misc_timeout", at(&t.misc_timeout), kind == "MISC_CHECK"),
            ("misc_dynamic", at(&t.misc_dynamic), kind == "MISC_CHECK"),
            ("user", at(&t.user), kind == "MISC_CHECK"),
            ("group", at(&t.group), kind == "MISC_CHECK"),
            ("helo_name", at(&t.helo_name), kind == "SMTP_CHECK"),
            ("type", at(&t.record_type), kind == "DNS_CHECK"),
            ("name", at(&t.name), kind == "DNS_CHECK"),
            ("payload", at(&t.payload), kind == "UDP_CHECK"),
            ("require_reply", span(&t.require_reply), kind == "UDP_CHECK"),
            (
                "min_reply_length",
                at(&t.min_reply_length),
                kind == "UDP_CHECK",
            ),
            (
                "max_reply_length",
                at(&t.max_reply_length),
                kind == "UDP_CHECK",
            ),
            ("track_file", at(&t.track_file), kind == "FILE_CHECK"),
            ("weight", at(&t.weight), kind == "FILE_CHECK"),
            ("reverse", at(&t.reverse), kind == "FILE_CHECK"),
        ];
        let mut misplaced = false;
        for (key, offset, applies) in keys {
            if let (Some(offset), false) = (offset, applies) {
                misplaced = true;
                let result = Err(format!("'{key}' does not apply to {kind}"));
                self.check::<()>(offset, c, result);
            }
        }
        if misplaced {
            return None;
        }
        let kind_draft = match kind {
            "TCP_CHECK" => CheckerKindDraft::Tcp,
            "HTTP_GET" | "SSL_GET" => {
                let mut h = HttpDraft {
                    tls: kind == "SSL_GET",
                    urls_given: t.url.as_ref().is_some_and(|u| !u.get_ref().is_empty()),
                    virtualhost: t.virtualhost.map(Spanned::into_inner),
                    enable_sni: t.enable_sni.is_some_and(|v| *v.get_ref()),
                    fast_recovery: t.fast_recovery.is_some_and(|v| *v.get_ref()),
                    ..HttpDraft::default()
                };
                if let Some(p) = t.http_protocol {
                    h.http_protocol =
                        self.check(p.span().start, c, fields::http_protocol(p.get_ref()));
                }
                for url in t.url.map(Spanned::into_inner).unwrap_or_default() {
                    let location = self.at(url.span().start);
                    if let Some(url) =
                        self.check(url.span().start, c, url_check(url.get_ref(), location))
                    {
                        h.urls.push(url);
                    }
                }
                CheckerKindDraft::Http(h)
            }
            "MISC_CHECK" => {
                let mut m = MiscDraft {
                    argv_given: t.misc_path.is_some(),
                    dynamic: t.misc_dynamic.is_some_and(|v| *v.get_ref()),
                    ..MiscDraft::default()
                };
                if let Some(p) = t.misc_path {
                    m.argv = self.check(p.span().start, c, command(p.get_ref()));
                }
                if let Some(n) = t.misc_timeout {
                    let result = fields::unsigned("misc_timeout", *n.get_ref(), 0);
                    // As keepalived: 0 means the default.
                    m.timeout = self
                        .check(n.span().start, c, result)
                        .filter(|n| *n > 0)
                        .map(|n| Duration::from_secs(u64::from(n)));
                }
                match (t.user, t.group) {
                    (Some(user), group) => {
                        let group = group.as_ref().map(|g| g.get_ref().as_str());
                        let result = values::script_user(user.get_ref(), group);
                        m.user = self.check(user.span().start, c, result);
                    }
                    (None, Some(group)) => {
                        let result = Err("group needs a user".to_owned());
                        self.check::<()>(group.span().start, c, result);
                    }
                    (None, None) => {}
                }
                CheckerKindDraft::Misc(m)
            }
            "SMTP_CHECK" => CheckerKindDraft::Smtp {
                helo_name: t.helo_name.map(Spanned::into_inner),
            },
            "DNS_CHECK" => CheckerKindDraft::Dns {
                record_type: t
                    .record_type
                    .and_then(|r| self.check(r.span().start, c, fields::dns_type(r.get_ref()))),
                name: t
                    .name
                    .and_then(|n| self.check(n.span().start, c, fields::dns_name(n.get_ref()))),
            },
            "UDP_CHECK" => {
                let mut u = UdpDraft::default();
                if let Some(p) = t.payload {
                    let result =
                        fields::hex(p.get_ref(), false).map_err(|e| format!("payload: {e}"));
                    u.payload = self
                        .check(p.span().start, c, result)
                        .map(|(bytes, _)| bytes)
                        .unwrap_or_default();
                }
                if let Some(r) = t.require_reply {
                    let result = match r.get_ref() {
                        Value::Boolean(true) => Ok(Some((Vec::new(), Vec::new()))),
                        Value::Boolean(false) => Ok(None),
                        Value::String(text) => fields::hex(text, true).map(Some),
                        other => Err(format!(
                            "require_reply must be true or a hex string, not {other}"
                        )),
                    };
                    u.require_reply = self.check(r.span().start, c, result).flatten();
                }
                for (key, value, slot) in [
                    (
                        "min_reply_length",
                        t.min_reply_length,
                        &mut u.min_reply_length,
                    ),
                    (
                        "max_reply_length",
                        t.max_reply_length,
                        &mut u.max_reply_length,
                    ),
                ] {
                    if let Some(n) = value {
                        let result = in_range(key, *n.get_ref(), 0, i64::from(u16::MAX));
                        *slot = self.check(n.span().start, c, result).map(|n| n as u16);
                    }
                }
                CheckerKindDraft::Udp(u)
            }
            "PING_CHECK" => CheckerKindDraft::Ping,
            _ => {
                let mut f = FileDraft {
                    reverse: t.reverse.is_some_and(|r| *r.get_ref()),
                    ..FileDraft::default()
                };
                if let Some(name) = t.track_file {
                    let at = self.at(name.span().start);
                    f.track_file = Some(At::new(name.into_inner(), at));
                }
                if let Some(w) = t.weight {
                    let max = fields::MAX_WEIGHT;
                    let result = in_range("weight", *w.get_ref(), -max, max).map(|w| w as i32);
                    f.weight = self.check(w.span().start, c, result);
                }
                CheckerKindDraft::File(f)
            }
        };
        let mut checker = CheckerDraft::new(kind_draft, location);
        if let Some(ip) = t.connect_ip {
            checker.connect_ip = self.check(ip.span().start, c, values::parse_ip(ip.get_ref()));
        }
        if let Some(ip) = t.bindto {
            checker.bind_ip = self.check(ip.span().start, c, values::parse_ip(ip.get_ref()));
        }
        if let Some(p) = t.connect_port {
            let result = fields::nonzero_port("connect_port", *p.get_ref());
            checker.connect_port = self.check(p.span().start, c, result);
        }
        if let Some(p) = t.bind_port {
            let result = fields::nonzero_port("bind_port", *p.get_ref());
            checker.bind_port = self.check(p.span().start, c, result);
        }
        if let Some(i) = t.bind_if {
            let result = if i.get_ref().len() > 15 {
                Err(format!(
                    "bind_if '{}' is longer than 15 characters",
                    i.get_ref()
                ))
            } else {
                Ok(i.get_ref().clone())
            };
            checker.bind_if = self.check(i.span().start, c, result);
        }
        if let Some(m) = t.fwmark {
            checker.fwmark = self.check(m.span().start, c, fields::fwmark(*m.get_ref()));
        }
        checker.timing = self.timing(
            c,
            [
                t.delay_loop,
                t.connect_timeout,
                t.delay_before_retry,
                t.warmup,
            ],
            t.retry,
            0,
        );
        checker.timing.alpha = t.alpha.map(Spanned::into_inner);
        checker.log_all_failures = t.log_all_failures.map(Spanned::into_inner);
        Some(checker)
    }

    /// `delay_loop`, `connect_timeout`, `delay_before_retry`, `warmup` in that order, and
    /// `retry` (at least `min_retry`).
    fn timing(
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

    fn notify_one(&mut self, c: &str, value: Option<Spanned<Value>>) -> Option<NotifyScript> {
        let value = value?;
        let location = self.at(value.span().start);
        let result = notify_script(value.get_ref(), location);
        self.check(value.span().start, c, result)
    }

    pub(super) fn virtual_server_group(&mut self, t: GroupToml, start: usize) -> GroupDraft {
        let c = format!("virtual_server_group {}", t.name);
        let c = c.as_str();
        let mut group = GroupDraft {
            name: t.name.clone(),
            location: self.at(start),
            entries: Vec::new(),
        };
        for a in t.addresses.unwrap_or_default() {
            let location = self.at(a.span().start);
            let result = group_address(a.get_ref());
            if let Some(service) = self.check(a.span().start, c, result) {
                group.entries.push(GroupEntry {
                    service,
                    family: None,
                    location,
                });
            }
        }
        for m in t.fwmark.unwrap_or_default() {
            let location = self.at(m.span().start);
            let result = group_fwmark(m.get_ref());
            if let Some((mark, family)) = self.check(m.span().start, c, result) {
                group.entries.push(GroupEntry {
                    service: ServiceMatch::Fwmark(mark),
                    family,
                    location,
                });
            }
        }
        group
    }

    pub(super) fn ssl(&mut self, t: SslToml, start: usize, draft: &mut Draft) {
        draft.ssl = Some(SslContext {
            password: t.password,
            ca: t.ca.map(PathBuf::from),
            certificate: t.certificate.map(PathBuf::from),
            key: t.key.map(PathBuf::from),
            location: self.at(start).into(),
        });
    }
}

/// `IP:PORT`, `[IPv6]:PORT`, or an address alone (no port).
fn address(text: &str) -> Checked<(IpAddr, Option<u16>)> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok((a.ip(), Some(a.port())));
    }
    text.parse::<IpAddr>().map(|ip| (ip, None)).map_err(|_| {
        format!("'{text}' is not IP:PORT or IP (IPv6 as [::1]:80; host names are not resolved)")
    })
}

/// A group's address or range with an optional port: `10.0.3.1-20:80`,
/// `[2001:db8::1-ff]:80`, `10.0.3.8/29:443`, `10.0.3.1`.
fn group_address(text: &str) -> Checked<ServiceMatch> {
    let (range, port) = if let Some(rest) = text.strip_prefix('[') {
        let (range, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("'{text}': no closing ']'"))?;
        match after.strip_prefix(':') {
            Some(port) => (range, Some(port)),
            None if after.is_empty() => (range, None),
            None => return Err(format!("'{text}': expected ]:PORT")),
        }
    } else if text.matches(':').count() > 1 {
        (text, None)
    } else {
        match text.split_once(':') {
            Some((range, port)) => (range, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        Some(port) => fields::port("port", port)?,
        None => 0,
    };
    fields::group_match(range, port)
}

/// A group's fwmark: `5` or `{ fwmark = 5, ip_family = "inet6" }`.
fn group_fwmark(value: &Value) -> Checked<(u32, Option<crate::Family>)> {
    match value {
        Value::Integer(mark) => Ok((fields::fwmark(*mark)?, None)),
        Value::Table(table) => {
            let (mut mark, mut family) = (None, None);
            for (key, value) in table {
                match (key.as_str(), value) {
                    ("fwmark", Value::Integer(m)) => mark = Some(fields::fwmark(*m)?),
                    ("ip_family", Value::String(f)) => family = Some(fields::ip_family(f)?),
                    _ => return Err(format!("fwmark: unexpected '{key} = {value}'")),
                }
            }
            Ok((mark.ok_or("fwmark: no 'fwmark'")?, family))
        }
        _ => Err("fwmark entries are numbers or { fwmark, ip_family } tables".into()),
    }
}

/// `misc_path`: a command line, or a list of program and arguments.
fn command(value: &Value) -> Checked<Vec<String>> {
    match value {
        Value::String(line) => split_command(line),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .filter(|argv| !argv.is_empty())
            .ok_or_else(|| "misc_path must be a command line or a list of strings".into()),
        _ => Err("misc_path must be a command line or a list of strings".into()),
    }
}

/// A `url` entry: `{ path, digest, status_code, virtualhost }`; `status_code` is a code,
/// a range `"200-299"`, or a list of them.
fn url_check(value: &Value, location: crate::Location) -> Checked<UrlCheck> {
    let Value::Table(table) = value else {
        return Err("url entries are { path, digest, status_code, virtualhost } tables".into());
    };
    let mut url = UrlCheck {
        path: String::new(),
        digest: None,
        status_codes: Vec::new(),
        virtualhost: None,
        location: location.into(),
    };
    let mut path = None;
    for (key, value) in table {
        match (key.as_str(), value) {
            ("path", Value::String(p)) => path = Some(fields::url_path(p)?),
            ("digest", Value::String(d)) => url.digest = Some(fields::digest(d)?),
            ("virtualhost", Value::String(h)) => url.virtualhost = Some(h.clone()),
            ("status_code", Value::Array(codes)) => {
                for code in codes {
                    url.status_codes.push(status(code)?);
                }
            }
            ("status_code", code) => url.status_codes.push(status(code)?),
            _ => return Err(format!("url: unexpected '{key} = {value}'")),
        }
    }
    url.path = path.ok_or("url: no 'path'")?;
    Ok(url)
}

fn status(value: &Value) -> Checked<std::ops::RangeInclusive<u16>> {
    match value {
        Value::Integer(code) => fields::status_code(&code.to_string()),
        Value::String(text) => fields::status_code(text),
        other => Err(format!(
            "status_code must be a code like 200 or a range like \"200-299\", not {other}"
        )),
    }
}
