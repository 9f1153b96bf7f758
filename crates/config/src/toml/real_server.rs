//! `[[virtual_server.real_server]]`: keepalived's `real_server`, with its key names; its
//! checker tables are read in `checker`.

use std::net::SocketAddr;

use serde::Deserialize;
use serde::de::IgnoredAny;
use toml::de::DeValue;
use toml::{Spanned, Value};

use super::Reader;
use super::virtual_server::address;
use crate::virtual_server_spec::RealServerDraft;
use crate::virtual_server_spec::fields;

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
pub(super) struct RealServerToml {
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

impl Reader<'_> {
    pub(super) fn real_server(
        &mut self,
        item: &Spanned<DeValue<'_>>,
        vs: &str,
    ) -> Option<RealServerDraft> {
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
}
