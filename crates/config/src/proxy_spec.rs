//! What the TOML reader read of `[[frontend]]` and `[[backend]]`, before defaults, and
//! how the spec builder (`spec::build`, which calls this module) fills them in. The defaults are the proxy's own
//! ([`baton_proxy::Limits`], [`baton_proxy::Ejection`], [`baton_proxy::ProxyConfig`]), so
//! that a key left out means the same as `baton proxy` without the flag.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

use baton_proxy::balance::Algorithm;
use baton_proxy::{Cidr, Ejection, Limits, ProxyConfig};

use crate::diagnostic::At;
use crate::diagnostic::{Diagnostics, Location};
use crate::model::{
    Backend, BackendServer, Frontend, HealthCheck, HealthCheckKind, TlsCertificate,
};

/// A health check's defaults are the proxy's, declared there once ([`ProxyCheck`]'s
/// `DEFAULT_*`), as the other defaults here.
type ProxyCheck = baton_proxy::HealthCheck;

#[derive(Debug)]
pub(crate) struct FrontendDraft {
    pub(crate) name: String,
    pub(crate) location: Location,
    pub(crate) listen: Option<At<SocketAddr>>,
    /// `listen` / `backend` were written, valid or not.
    pub(crate) listen_given: bool,
    pub(crate) backend: Option<At<String>>,
    pub(crate) backend_given: bool,
    pub(crate) tls: Vec<TlsCertificate>,
    pub(crate) max_connections: Option<usize>,
    pub(crate) client_timeout: Option<Duration>,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) max_header_size: Option<usize>,
    pub(crate) drain_timeout: Option<Duration>,
    pub(crate) client_body_timeout: Option<Duration>,
    pub(crate) max_connections_per_client: Option<usize>,
    pub(crate) trusted_proxies: Vec<Cidr>,
}

impl FrontendDraft {
    pub(crate) fn new(name: String, location: Location) -> FrontendDraft {
        FrontendDraft {
            name,
            location,
            listen: None,
            listen_given: false,
            backend: None,
            backend_given: false,
            tls: Vec::new(),
            max_connections: None,
            client_timeout: None,
            request_timeout: None,
            max_header_size: None,
            drain_timeout: None,
            client_body_timeout: None,
            max_connections_per_client: None,
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct BackendDraft {
    pub(crate) name: String,
    pub(crate) location: Location,
    pub(crate) servers: Vec<BackendServer>,
    pub(crate) balance: Option<Algorithm>,
    pub(crate) retries: Option<u32>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) server_timeout: Option<Duration>,
    pub(crate) keepalive: Option<usize>,
    pub(crate) keepalive_timeout: Option<Duration>,
    pub(crate) slow_start: Option<Duration>,
    pub(crate) max_fails: Option<u32>,
    pub(crate) fail_timeout: Option<Duration>,
    pub(crate) health_check: Option<HealthCheckDraft>,
}

impl BackendDraft {
    pub(crate) fn new(name: String, location: Location) -> BackendDraft {
        BackendDraft {
            name,
            location,
            servers: Vec::new(),
            balance: None,
            retries: None,
            connect_timeout: None,
            server_timeout: None,
            keepalive: None,
            keepalive_timeout: None,
            slow_start: None,
            max_fails: None,
            fail_timeout: None,
            health_check: None,
        }
    }
}

/// The probe `type`, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProbeType {
    Tcp,
    Http,
}

#[derive(Debug)]
pub(crate) struct HealthCheckDraft {
    pub(crate) location: Location,
    /// `None` when missing or invalid.
    pub(crate) probe: Option<ProbeType>,
    /// `type` was written, valid or not.
    pub(crate) probe_given: bool,
    pub(crate) path: Option<String>,
    pub(crate) host: Option<String>,
    pub(crate) expect: Option<RangeInclusive<u16>>,
    pub(crate) interval: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) rise: Option<u32>,
    pub(crate) fall: Option<u32>,
}

impl HealthCheckDraft {
    pub(crate) fn new(location: Location) -> HealthCheckDraft {
        HealthCheckDraft {
            location,
            probe: None,
            probe_given: false,
            path: None,
            host: None,
            expect: None,
            interval: None,
            timeout: None,
            rise: None,
            fall: None,
        }
    }
}

/// A frontend with defaults filled in; `None` (with an error) when `listen` or `backend`
/// is missing.
pub(crate) fn frontend(f: FrontendDraft, d: &mut Diagnostics) -> Option<Frontend> {
    let name = &f.name;
    if !f.listen_given {
        d.error(&f.location, format!("frontend {name}: no 'listen' address"));
    }
    if !f.backend_given {
        d.error(&f.location, format!("frontend {name}: no 'backend'"));
    }
    let (listen, backend) = (f.listen?, f.backend?);
    let limits = Limits::default();
    Some(Frontend {
        name: f.name,
        listen: listen.value,
        backend: backend.value,
        tls: f.tls,
        max_connections: f.max_connections,
        client_timeout: f.client_timeout.unwrap_or(limits.idle_timeout),
        request_timeout: f.request_timeout.unwrap_or(limits.header_read_timeout),
        max_header_size: f.max_header_size.unwrap_or(limits.max_header_size),
        drain_timeout: f.drain_timeout.unwrap_or(limits.drain_timeout),
        client_body_timeout: f.client_body_timeout.unwrap_or(limits.client_body_timeout),
        max_connections_per_client: f
            .max_connections_per_client
            .unwrap_or(limits.max_connections_per_client),
        trusted_proxies: f.trusted_proxies,
        location: f.location.into(),
    })
}

/// A backend with defaults filled in; its health check is left out (with an error) when it
/// has no `type`.
pub(crate) fn backend(b: BackendDraft, d: &mut Diagnostics) -> Backend {
    let limits = Limits::default();
    let ejection = Ejection::default();
    let health_check = b.health_check.and_then(|h| health_check(&b.name, h, d));
    Backend {
        name: b.name,
        servers: b.servers,
        balance: b.balance.unwrap_or_default(),
        retries: b.retries.unwrap_or(ProxyConfig::new(Vec::new()).retries),
        connect_timeout: b.connect_timeout.unwrap_or(limits.connect_timeout),
        server_timeout: b.server_timeout.unwrap_or(limits.upstream_timeout),
        keepalive: b.keepalive.unwrap_or(limits.upstream_max_idle),
        keepalive_timeout: b.keepalive_timeout.unwrap_or(limits.upstream_idle_timeout),
        slow_start: b.slow_start.unwrap_or(Duration::ZERO),
        max_fails: b.max_fails.unwrap_or(ejection.consecutive_failures),
        fail_timeout: b.fail_timeout.unwrap_or(ejection.backoff),
        health_check,
        location: b.location.into(),
    }
}

fn health_check(backend: &str, h: HealthCheckDraft, d: &mut Diagnostics) -> Option<HealthCheck> {
    let Some(probe) = h.probe else {
        if !h.probe_given {
            d.error(
                &h.location,
                format!("backend {backend}: health_check: no 'type' (http or tcp)"),
            );
        }
        return None;
    };
    let kind = match probe {
        ProbeType::Tcp => HealthCheckKind::Tcp,
        ProbeType::Http => HealthCheckKind::Http {
            path: h.path.unwrap_or_else(|| "/".to_owned()),
            host: h.host,
            expect: h.expect.unwrap_or(ProxyCheck::DEFAULT_EXPECT),
        },
    };
    Some(HealthCheck {
        kind,
        interval: h.interval.unwrap_or(ProxyCheck::DEFAULT_INTERVAL),
        timeout: h.timeout.unwrap_or(ProxyCheck::DEFAULT_TIMEOUT),
        rise: h.rise.unwrap_or(ProxyCheck::DEFAULT_RISE),
        fall: h.fall.unwrap_or(ProxyCheck::DEFAULT_FALL),
        location: h.location.into(),
    })
}
