//! A real server's checker tables, named as keepalived's blocks
//! (`[virtual_server.real_server.HTTP_GET]`, or `[[...]]` for several of a kind), with
//! their `url` entries.

use std::time::Duration;

use serde::Deserialize;
use toml::de::DeValue;
use toml::{Spanned, Value};

use super::{Checked, Reader, command};
use crate::spec::At;
use crate::values::{self, in_range};
use crate::virtual_server::UrlCheck;
use crate::virtual_server_spec::fields;
use crate::virtual_server_spec::{
    CheckerDraft, CheckerKindDraft, FileDraft, HttpDraft, MiscDraft, UdpDraft,
};

/// Every checker's keys; which apply to which checker is checked after.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CheckerToml {
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

impl Reader<'_> {
    pub(super) fn checker(
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
                    m.argv = self.check(p.span().start, c, command("misc_path", p.get_ref()));
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
