//! `[[frontend]]` and `[[backend]]`: the proxy, which only `baton.toml` configures
//! (keepalived.conf's LVS `virtual_server` is the L4 balancer: `toml/virtual_server.rs`).

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_proxy::Cidr;
use baton_proxy::balance::Algorithm;
use serde::Deserialize;
use serde::de::IgnoredAny;
use toml::de::DeValue;
use toml::{Spanned, Value};

use super::{Checked, Reader};
use crate::diagnostic::Location;
use crate::fields;
use crate::model::{BackendServer, TlsCertificate};
use crate::proxy_spec::{BackendDraft, FrontendDraft, HealthCheckDraft, ProbeType};
use crate::spec::At;
use crate::values::in_range;

/// hyper reads a request head into a buffer of at most 8 KiB + 400 KiB: a larger limit
/// would never be reached. Below 1 KiB ordinary browser requests do not fit.
const MAX_HEADER_SIZE: (i64, i64) = (1024, 400 * 1024);
/// Weights as HAProxy takes them (`weight <0..256>`).
const MAX_SERVER_WEIGHT: i64 = 256;
/// Idle connections kept per server (`keepalive`). Each holds a local port, and one source
/// address has fewer than this towards a server: a larger number is a typo, not a setting.
const MAX_KEEPALIVE: i64 = 65_536;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FrontendToml {
    name: String,
    listen: Option<Spanned<String>>,
    backend: Option<Spanned<String>>,
    tls: Option<Vec<Spanned<Value>>>,
    max_connections: Option<Spanned<i64>>,
    client_timeout: Option<Spanned<Value>>,
    request_timeout: Option<Spanned<Value>>,
    max_header_size: Option<Spanned<i64>>,
    drain_timeout: Option<Spanned<Value>>,
    client_body_timeout: Option<Spanned<Value>>,
    max_connections_per_client: Option<Spanned<i64>>,
    trusted_proxies: Option<Vec<Spanned<Value>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BackendToml {
    name: String,
    servers: Option<Vec<Spanned<Value>>>,
    balance: Option<Spanned<String>>,
    hash: Option<Spanned<String>>,
    retries: Option<Spanned<i64>>,
    connect_timeout: Option<Spanned<Value>>,
    server_timeout: Option<Spanned<Value>>,
    keepalive: Option<Spanned<i64>>,
    keepalive_timeout: Option<Spanned<Value>>,
    slow_start: Option<Spanned<Value>>,
    max_fails: Option<Spanned<i64>>,
    fail_timeout: Option<Spanned<Value>>,
    /// Read on its own by [`Reader::health_check`], so that its bad keys are each listed
    /// and do not take the whole backend with them.
    #[serde(rename = "health_check")]
    _health_check: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HealthCheckToml {
    #[serde(rename = "type")]
    probe: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    host: Option<Spanned<String>>,
    expect_status: Option<Spanned<Value>>,
    interval: Option<Spanned<Value>>,
    timeout: Option<Spanned<Value>>,
    rise: Option<Spanned<i64>>,
    fall: Option<Spanned<i64>>,
}

/// Whether a duration of 0 seconds means something.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Zero {
    /// `drain_timeout = 0` cuts at once, `slow_start = 0` is off.
    Allowed,
    /// A timeout of 0 would fail every request or probe.
    Refused,
}

impl Reader<'_> {
    pub(super) fn frontend(
        &mut self,
        t: FrontendToml,
        start: usize,
        removed: &[String],
    ) -> FrontendDraft {
        let was_removed = |key: &str| removed.iter().any(|k| k == key);
        let c = format!("frontend {}", t.name);
        let c = c.as_str();
        let mut f = FrontendDraft::new(t.name, self.at(start));
        f.listen_given = t.listen.is_some() || was_removed("listen");
        f.backend_given = t.backend.is_some() || was_removed("backend");
        if let Some(v) = t.listen {
            let at = self.at(v.span().start);
            let result = socket_address("listen", v.get_ref());
            f.listen = self
                .check(v.span().start, c, result)
                .map(|address| At::new(address, at));
        }
        if let Some(v) = t.backend {
            let at = self.at(v.span().start);
            f.backend = Some(At::new(v.into_inner(), at));
        }
        for item in t.tls.unwrap_or_default() {
            let location = self.at(item.span().start);
            let result = tls(item.get_ref(), self.file.parent(), location);
            if let Some(tls) = self.check(item.span().start, c, result) {
                f.tls.push(tls);
            }
        }
        if let Some(v) = t.max_connections {
            let result = fields::count("max_connections", *v.get_ref());
            f.max_connections = self.check(v.span().start, c, result).map(|n| n as usize);
        }
        if let Some(v) = t.max_header_size {
            let (min, max) = MAX_HEADER_SIZE;
            let result = in_range("max_header_size", *v.get_ref(), min, max);
            f.max_header_size = self.check(v.span().start, c, result).map(|n| n as usize);
        }
        f.client_timeout = self.period(c, "client_timeout", t.client_timeout, Zero::Refused);
        f.request_timeout = self.period(c, "request_timeout", t.request_timeout, Zero::Refused);
        f.drain_timeout = self.period(c, "drain_timeout", t.drain_timeout, Zero::Allowed);
        f.client_body_timeout = self.period(
            c,
            "client_body_timeout",
            t.client_body_timeout,
            Zero::Refused,
        );
        if let Some(v) = t.max_connections_per_client {
            let what = "max_connections_per_client";
            let result = in_range(what, *v.get_ref(), 0, i64::from(i32::MAX));
            f.max_connections_per_client =
                self.check(v.span().start, c, result).map(|n| n as usize);
        }
        for item in t.trusted_proxies.unwrap_or_default() {
            let result = trusted_proxy(item.get_ref());
            if let Some(range) = self.check(item.span().start, c, result) {
                f.trusted_proxies.push(range);
            }
        }
        f
    }

    /// `item` is the whole `[[backend]]` entry, for its `health_check` table.
    pub(super) fn backend(&mut self, t: BackendToml, item: &Spanned<DeValue<'_>>) -> BackendDraft {
        let c = format!("backend {}", t.name);
        let c = c.as_str();
        let mut b = BackendDraft::new(t.name, self.at(item.span().start));
        for server in t.servers.unwrap_or_default() {
            let location = self.at(server.span().start);
            let result = backend_server(server.get_ref(), location);
            if let Some(server) = self.check(server.span().start, c, result) {
                b.servers.push(server);
            }
        }
        b.balance = self.balance(c, t.balance, t.hash);
        if let Some(v) = t.retries {
            let result = in_range("retries", *v.get_ref(), 0, i64::from(i32::MAX));
            b.retries = self.check(v.span().start, c, result).map(|n| n as u32);
        }
        if let Some(v) = t.max_fails {
            let result = in_range("max_fails", *v.get_ref(), 0, i64::from(i32::MAX));
            b.max_fails = self.check(v.span().start, c, result).map(|n| n as u32);
        }
        b.connect_timeout = self.period(c, "connect_timeout", t.connect_timeout, Zero::Refused);
        b.server_timeout = self.period(c, "server_timeout", t.server_timeout, Zero::Refused);
        if let Some(v) = t.keepalive {
            let result = in_range("keepalive", *v.get_ref(), 0, MAX_KEEPALIVE);
            b.keepalive = self.check(v.span().start, c, result).map(|n| n as usize);
        }
        b.keepalive_timeout =
            self.period(c, "keepalive_timeout", t.keepalive_timeout, Zero::Refused);
        b.slow_start = self.period(c, "slow_start", t.slow_start, Zero::Allowed);
        b.fail_timeout = self.period(c, "fail_timeout", t.fail_timeout, Zero::Refused);
        if let Some(check) = item.get_ref().get("health_check") {
            let c = format!("{c}: health_check");
            if let Some((h, removed)) = self.section::<HealthCheckToml>(check, &c) {
                let start = check.span().start;
                b.health_check = Some(self.health_check(h, start, &removed, &c));
            }
        }
        b
    }

    /// `balance` and, for maglev only, `hash`, as one [`Algorithm`].
    fn balance(
        &mut self,
        c: &str,
        balance: Option<Spanned<String>>,
        hash: Option<Spanned<String>>,
    ) -> Option<Algorithm> {
        let algorithm = match balance {
            Some(v) => self.check(v.span().start, c, balance_name(v.get_ref()))?,
            None => Algorithm::default(),
        };
        let Some(hash) = hash else {
            return Some(algorithm);
        };
        if !matches!(algorithm, Algorithm::Maglev { .. }) {
            let result = Err(format!(
                "hash applies only to balance = \"maglev\", not \"{algorithm}\""
            ));
            return self.check(hash.span().start, c, result);
        }
        self.check(hash.span().start, c, hash_on(hash.get_ref()))
    }

    fn health_check(
        &mut self,
        h: HealthCheckToml,
        start: usize,
        removed: &[String],
        c: &str,
    ) -> HealthCheckDraft {
        let mut out = HealthCheckDraft::new(self.at(start));
        out.probe_given = h.probe.is_some() || removed.iter().any(|k| k == "type");
        if let Some(v) = &h.probe {
            out.probe = self.check(v.span().start, c, probe_type(v.get_ref()));
        }
        if out.probe == Some(ProbeType::Tcp) {
            let spans = [
                ("path", h.path.map(|v| v.span())),
                ("host", h.host.map(|v| v.span())),
                ("expect_status", h.expect_status.map(|v| v.span())),
            ];
            for (key, span) in spans {
                if let Some(span) = span {
                    let result = Err(format!("{key} applies only to type = \"http\""));
                    self.check::<()>(span.start, c, result);
                }
            }
        } else {
            if let Some(v) = h.path {
                out.path = self.check(v.span().start, c, probe_path(v.get_ref()));
            }
            if let Some(v) = h.host {
                out.host = self.check(v.span().start, c, probe_host(v.get_ref()));
            }
            if let Some(v) = h.expect_status {
                out.expect = self.check(v.span().start, c, expect_status(v.get_ref()));
            }
        }
        out.interval = self.period(c, "interval", h.interval, Zero::Refused);
        out.timeout = self.period(c, "timeout", h.timeout, Zero::Refused);
        if let Some(v) = h.rise {
            out.rise = self.check(v.span().start, c, fields::count("rise", *v.get_ref()));
        }
        if let Some(v) = h.fall {
            out.fall = self.check(v.span().start, c, fields::count("fall", *v.get_ref()));
        }
        out
    }

    /// A duration in seconds, fractions allowed.
    fn period(
        &mut self,
        c: &str,
        what: &str,
        value: Option<Spanned<Value>>,
        zero: Zero,
    ) -> Option<Duration> {
        let value = value?;
        let duration = self.seconds(c, what, &value)?.value;
        if zero == Zero::Refused {
            let result = fields::script_period(what, duration);
            self.check(value.span().start, c, result)
        } else {
            Some(duration)
        }
    }
}

/// `IP:PORT`, IPv6 as `[::1]:80`; port 0 is refused (it would mean "any" to bind and
/// nothing to connect to).
fn socket_address(what: &str, text: &str) -> Checked<SocketAddr> {
    match text.parse::<SocketAddr>() {
        Ok(address) if address.port() == 0 => Err(format!(
            "{what} '{text}': the port must be 1..=65535, not 0"
        )),
        Ok(address) => Ok(address),
        Err(_) if text.parse::<IpAddr>().is_ok() => Err(format!(
            "{what} '{text}' has no port: write IP:PORT (IPv6 as [::1]:80)"
        )),
        Err(_) => Err(format!(
            "{what} '{text}' is not IP:PORT (IPv6 as [::1]:80; host names are not resolved)"
        )),
    }
}

/// `{ cert, key }`; relative paths are taken from `dir`, the configuration's directory, so
/// that `baton check` run from anywhere reads the files the daemon will.
fn tls(value: &Value, dir: Option<&Path>, location: Location) -> Checked<TlsCertificate> {
    let Value::Table(table) = value else {
        return Err("tls entries are { cert, key } tables".into());
    };
    let (mut cert, mut key) = (None, None);
    for (name, value) in table {
        match (name.as_str(), value) {
            ("cert", Value::String(path)) if !path.is_empty() => cert = Some(path.as_str()),
            ("key", Value::String(path)) if !path.is_empty() => key = Some(path.as_str()),
            _ => return Err(format!("tls: unexpected '{name} = {value}'")),
        }
    }
    let beside = |path: &str| -> PathBuf {
        match dir {
            Some(dir) if Path::new(path).is_relative() => dir.join(path),
            _ => PathBuf::from(path),
        }
    };
    Ok(TlsCertificate {
        cert: beside(cert.ok_or("tls: no 'cert'")?),
        key: beside(key.ok_or("tls: no 'key'")?),
        location: location.into(),
    })
}

/// `"IP:PORT"` or `{ address = "IP:PORT", weight = N }`.
fn backend_server(value: &Value, location: Location) -> Checked<BackendServer> {
    let (address, weight) = match value {
        Value::String(text) => (text.as_str(), None),
        Value::Table(table) => {
            let (mut address, mut weight) = (None, None);
            for (key, value) in table {
                match (key.as_str(), value) {
                    ("address", Value::String(a)) => address = Some(a.as_str()),
                    ("weight", Value::Integer(w)) => weight = Some(*w),
                    _ => return Err(format!("servers: unexpected '{key} = {value}'")),
                }
            }
            (address.ok_or("servers: no 'address'")?, weight)
        }
        _ => return Err("servers entries are \"IP:PORT\" or { address, weight } tables".into()),
    };
    let weight = match weight {
        Some(w) => {
            in_range("weight", w, 0, MAX_SERVER_WEIGHT).map_err(|e| format!("servers: {e}"))?
        }
        None => 1,
    };
    Ok(BackendServer {
        address: socket_address("server", address)?,
        weight: weight as u32,
        location: location.into(),
    })
}

/// The algorithm alone: what maglev hashes is `hash`, not a second word here.
fn balance_name(text: &str) -> Checked<Algorithm> {
    let bad = || format!("balance '{text}': expected p2c, roundrobin, leastconn or maglev");
    if text.contains(char::is_whitespace) {
        return Err(format!("{}; what maglev hashes goes in 'hash'", bad()));
    }
    text.parse().map_err(|_| bad())
}

fn hash_on(text: &str) -> Checked<Algorithm> {
    let bad = || format!("hash '{text}': expected source, path or hdr(<header name>)");
    if text.trim().is_empty() || text.trim() != text {
        return Err(bad());
    }
    format!("maglev {text}").parse().map_err(|_| {
        match text.strip_prefix("hdr(").and_then(|r| r.strip_suffix(')')) {
            Some(header) => format!("hash '{text}': '{header}' is not a valid header name"),
            None => bad(),
        }
    })
}

fn probe_type(text: &str) -> Checked<ProbeType> {
    match text {
        "http" => Ok(ProbeType::Http),
        "tcp" => Ok(ProbeType::Tcp),
        other => Err(format!("type '{other}': expected http or tcp")),
    }
}

/// Goes into the request line as it is: no spaces or control characters.
fn probe_path(text: &str) -> Checked<String> {
    if !text.starts_with('/') {
        return Err(format!("path '{text}' must start with '/'"));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "path '{text}' must not contain spaces or control characters; percent-encode them"
        ));
    }
    Ok(text.to_owned())
}

fn probe_host(text: &str) -> Checked<String> {
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "host '{text}' must be a host name (and port), without spaces"
        ));
    }
    Ok(text.to_owned())
}

/// `"200"`, `200` or `"200-399"`, within 100..=599.
fn expect_status(value: &Value) -> Checked<RangeInclusive<u16>> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Integer(code) => code.to_string(),
        other => {
            return Err(format!(
                "expect_status must be a status like \"200\" or a range like \"200-399\", not {other}"
            ));
        }
    };
    let (low, high) = text.split_once('-').unwrap_or((&text, &text));
    let status = |s: &str| s.parse::<u16>().ok().filter(|s| (100..=599).contains(s));
    match (status(low), status(high)) {
        (Some(low), Some(high)) if low <= high => Ok(low..=high),
        _ => Err(format!(
            "expect_status '{text}': expected a status like \"200\" or a range like \
             \"200-399\", within 100..=599"
        )),
    }
}

/// One entry of `trusted_proxies`: an address or a CIDR range, as a string.
fn trusted_proxy(value: &Value) -> Checked<Cidr> {
    let Some(text) = value.as_str() else {
        return Err(format!(
            "trusted_proxies: {value} is not a string such as \"10.0.0.0/8\""
        ));
    };
    text.parse()
        .map_err(|error| format!("trusted_proxies: {error}"))
}
