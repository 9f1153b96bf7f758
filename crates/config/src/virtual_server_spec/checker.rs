//! A real server's checker blocks as the front ends read them, and how they are resolved:
//! each setting from the checker, else its real server, else its virtual server, else the
//! checker's own default (keepalived's `queue_checker` and each checker's handler), as
//! `validate_check_config` does.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::{
    Context, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DELAY_LOOP, RealServerDraft, TimingDraft,
    VirtualServerDraft, unspecified,
};
use crate::basics::{Family, ScriptUser};
use crate::diagnostic::At;
use crate::diagnostic::{Diagnostics, Location};
use crate::virtual_server::{Checker, CheckerKind, DnsType, HttpVersion, UrlCheck};

const DEFAULT_STATUS: std::ops::RangeInclusive<u16> = 200..=299;
/// keepalived's `SMTP_DEFAULT_HELO`.
const DEFAULT_HELO: &str = "smtpchecker.keepalived.org";

#[derive(Debug, Clone)]
pub(crate) struct CheckerDraft {
    pub(crate) kind: CheckerKindDraft,
    pub(crate) location: Location,
    pub(crate) connect_ip: Option<IpAddr>,
    pub(crate) connect_port: Option<u16>,
    pub(crate) bind_ip: Option<IpAddr>,
    pub(crate) bind_port: Option<u16>,
    pub(crate) bind_if: Option<String>,
    pub(crate) fwmark: Option<u32>,
    pub(crate) timing: TimingDraft,
    /// `None`: global_defs `checker_log_all_failures`.
    pub(crate) log_all_failures: Option<bool>,
}

impl CheckerDraft {
    pub(crate) fn new(kind: CheckerKindDraft, location: Location) -> CheckerDraft {
        CheckerDraft {
            kind,
            location,
            connect_ip: None,
            connect_port: None,
            bind_ip: None,
            bind_port: None,
            bind_if: None,
            fwmark: None,
            timing: TimingDraft::default(),
            log_all_failures: None,
        }
    }

    /// Whether any connection setting was written (SMTP_CHECK's `host` blocks depend on it).
    pub(crate) fn has_connection_settings(&self) -> bool {
        self.connect_ip.is_some()
            || self.connect_port.is_some()
            || self.bind_ip.is_some()
            || self.bind_port.is_some()
            || self.bind_if.is_some()
            || self.fwmark.is_some()
            || self.timing.connect_timeout.is_some()
    }
}

#[derive(Debug, Clone)]
pub(crate) enum CheckerKindDraft {
    Tcp,
    Http(HttpDraft),
    Misc(MiscDraft),
    Smtp {
        helo_name: Option<String>,
    },
    Dns {
        record_type: Option<DnsType>,
        name: Option<String>,
    },
    Udp(UdpDraft),
    Ping,
    File(FileDraft),
}

impl CheckerKindDraft {
    /// The keyword, for messages.
    pub(crate) fn keyword(&self) -> &'static str {
        match self {
            CheckerKindDraft::Tcp => "TCP_CHECK",
            CheckerKindDraft::Http(h) if h.tls => "SSL_GET",
            CheckerKindDraft::Http(_) => "HTTP_GET",
            CheckerKindDraft::Misc(_) => "MISC_CHECK",
            CheckerKindDraft::Smtp { .. } => "SMTP_CHECK",
            CheckerKindDraft::Dns { .. } => "DNS_CHECK",
            CheckerKindDraft::Udp(_) => "UDP_CHECK",
            CheckerKindDraft::Ping => "PING_CHECK",
            CheckerKindDraft::File(_) => "FILE_CHECK",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct HttpDraft {
    pub(crate) tls: bool,
    /// Each with an empty `status_codes` when none was written.
    pub(crate) urls: Vec<UrlCheck>,
    /// A `url` was written, valid or not.
    pub(crate) urls_given: bool,
    pub(crate) virtualhost: Option<String>,
    pub(crate) http_protocol: Option<HttpVersion>,
    pub(crate) enable_sni: bool,
    pub(crate) fast_recovery: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct MiscDraft {
    pub(crate) argv: Option<Vec<String>>,
    /// `misc_path` was written, valid or not.
    pub(crate) argv_given: bool,
    pub(crate) timeout: Option<Duration>,
    pub(crate) dynamic: bool,
    pub(crate) user: Option<ScriptUser>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct UdpDraft {
    pub(crate) payload: Vec<u8>,
    /// The bytes and their mask (see [`fields::hex`]).
    pub(crate) require_reply: Option<(Vec<u8>, Vec<u8>)>,
    pub(crate) min_reply_length: Option<u16>,
    pub(crate) max_reply_length: Option<u16>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct FileDraft {
    pub(crate) track_file: Option<At<String>>,
    pub(crate) weight: Option<i32>,
    pub(crate) reverse: bool,
}

/// One checker with keepalived's inheritance applied; `None` (with an error) when it
/// cannot run.
/// Where a checker is: what it inherits from.
pub(super) struct Owner<'a> {
    pub(super) virtual_server: &'a VirtualServerDraft,
    /// `virtual server NAME`, for messages.
    pub(super) context: &'a str,
    pub(super) real: &'a RealServerDraft,
    /// The real server's address with its port resolved.
    pub(super) address: SocketAddr,
    /// The real server's timing over the virtual server's.
    pub(super) timing: TimingDraft,
}

pub(super) fn resolve(
    checker: &CheckerDraft,
    owner: &Owner<'_>,
    context: &Context<'_>,
    d: &mut Diagnostics,
) -> Option<Checker> {
    let (v, real, c) = (owner.virtual_server, owner.real, owner.context);
    let (real_address, real_timing) = (owner.address, &owner.timing);
    let keyword = checker.kind.keyword();
    let at = &checker.location;
    let timing = checker.timing.over(real_timing);
    let delay_loop = timing.delay_loop.unwrap_or(DEFAULT_DELAY_LOOP);
    // The checkers' own defaults (queue_checker, and the checker's handler).
    let (default_retry, default_delay_before_retry) = match checker.kind {
        CheckerKindDraft::Http(_) => (1, Duration::from_secs(3)),
        CheckerKindDraft::Misc(_) => (0, Duration::from_secs(1)),
        CheckerKindDraft::Dns { .. } => (3, delay_loop),
        _ => (1, Duration::from_secs(1)),
    };
    let retry = match checker.kind {
        // FILE_CHECK has no retry: the file's value is the verdict.
        CheckerKindDraft::File(_) => 0,
        _ => timing.retry.unwrap_or(default_retry),
    };
    let warmup = timing.warmup.unwrap_or(delay_loop);
    let connect_ip = checker.connect_ip.unwrap_or(real_address.ip());
    let connect = SocketAddr::new(
        connect_ip,
        checker.connect_port.unwrap_or(real_address.port()),
    );
    let bind = match (checker.bind_ip, checker.bind_port) {
        (None, None) => None,
        (ip, port) => {
            let ip = ip.unwrap_or(unspecified(Family::of(connect_ip)));
            if ip.is_ipv6() != connect_ip.is_ipv6() {
                d.error(
                    at,
                    format!(
                        "{c}: real server {}: {keyword}: bindto {ip} and the address it \
                         connects to, {connect_ip}, are of different families",
                        real.address
                    ),
                );
            }
            Some(SocketAddr::new(ip, port.unwrap_or(0)))
        }
    };
    let kind = match &checker.kind {
        CheckerKindDraft::Tcp => CheckerKind::Tcp,
        CheckerKindDraft::Http(h) => {
            if h.urls.is_empty() {
                if h.urls_given {
                    return None;
                }
                d.error(
                    at,
                    format!(
                        "{c}: real server {}: {keyword} has no url to check",
                        real.address
                    ),
                );
                return None;
            }
            let urls = h
                .urls
                .iter()
                .map(|u| {
                    let mut u = u.clone();
                    if u.status_codes.is_empty() {
                        u.status_codes.push(DEFAULT_STATUS);
                    }
                    u
                })
                .collect();
            CheckerKind::Http {
                tls: h.tls,
                urls,
                virtualhost: h
                    .virtualhost
                    .clone()
                    .or(real.virtualhost.clone())
                    .or(v.virtualhost.clone()),
                http_protocol: h.http_protocol.unwrap_or(HttpVersion::Http10),
                enable_sni: h.enable_sni,
                fast_recovery: h.fast_recovery,
                ssl: h.tls.then(|| context.ssl.cloned()).flatten(),
            }
        }
        CheckerKindDraft::Misc(m) => {
            let Some(argv) = m.argv.clone() else {
                if !m.argv_given {
                    d.error(
                        at,
                        format!(
                            "{c}: real server {}: MISC_CHECK has no misc_path",
                            real.address
                        ),
                    );
                }
                return None;
            };
            CheckerKind::Misc {
                argv,
                // keepalived's misc_check_thread: the virtual server's delay_loop.
                timeout: m
                    .timeout
                    .unwrap_or(v.timing.delay_loop.unwrap_or(DEFAULT_DELAY_LOOP)),
                dynamic: m.dynamic,
                user: m.user.clone(),
            }
        }
        CheckerKindDraft::Smtp { helo_name } => CheckerKind::Smtp {
            helo_name: helo_name.clone().unwrap_or_else(|| DEFAULT_HELO.to_owned()),
        },
        CheckerKindDraft::Dns { record_type, name } => CheckerKind::Dns {
            record_type: record_type.unwrap_or(DnsType::Soa),
            name: name.clone().unwrap_or_default(),
        },
        CheckerKindDraft::Udp(u) => {
            let min = u.min_reply_length.unwrap_or(0);
            let max = u.max_reply_length.unwrap_or(255);
            if min > max {
                d.error(
                    at,
                    format!(
                        "{c}: real server {}: UDP_CHECK min_reply_length {min} is more than \
                         max_reply_length {max}: the check could never pass",
                        real.address
                    ),
                );
            }
            let (require_reply, reply_mask) = match &u.require_reply {
                Some((bytes, mask)) => (Some(bytes.clone()), mask.clone()),
                None => (None, Vec::new()),
            };
            CheckerKind::Udp {
                payload: u.payload.clone(),
                require_reply,
                reply_mask,
                min_reply_length: min,
                max_reply_length: max,
            }
        }
        CheckerKindDraft::Ping => CheckerKind::Ping,
        CheckerKindDraft::File(f) => {
            let Some(name) = &f.track_file else {
                d.error(
                    at,
                    format!(
                        "{c}: real server {}: FILE_CHECK has no track_file",
                        real.address
                    ),
                );
                return None;
            };
            let Some((_, own_weight)) = context.track_files.iter().find(|(n, _)| *n == name.value)
            else {
                d.error(
                    &name.at,
                    format!(
                        "{c}: real server {}: FILE_CHECK track_file {1}: no track_file named {1}",
                        real.address, name.value
                    ),
                );
                return None;
            };
            CheckerKind::File {
                track_file: name.value.clone(),
                weight: f.weight.unwrap_or(*own_weight),
                reverse: f.reverse,
            }
        }
    };
    let uses_port = !matches!(
        checker.kind,
        CheckerKindDraft::Ping | CheckerKindDraft::Misc(_) | CheckerKindDraft::File(_)
    );
    if uses_port && connect.port() == 0 {
        d.error(
            at,
            format!(
                "{c}: real server {}: {keyword} has no port to connect to (the real server \
                 has none): write connect_port",
                real.address
            ),
        );
        return None;
    }
    Some(Checker {
        kind,
        connect,
        bind,
        bind_interface: checker.bind_if.clone(),
        fwmark: checker.fwmark,
        connect_timeout: timing.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        delay_loop,
        fall: retry.saturating_add(1),
        delay_before_retry: timing
            .delay_before_retry
            .unwrap_or(default_delay_before_retry),
        warmup: (!warmup.is_zero()).then_some(warmup),
        start_down: timing.alpha.unwrap_or(false),
        log_all_failures: checker.log_all_failures.unwrap_or(context.log_all_failures),
        location: checker.location.clone().into(),
    })
}
