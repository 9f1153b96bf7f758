//! A real server's checker blocks onto baton-health's probes: the mapping of keepalived's
//! keywords (already resolved by the config crate) and the task that reports verdicts to
//! the virtual-server runtime.

use std::net::SocketAddr;

use anyhow::Context as _;
use baton_config::{Checker, CheckerKind, Config, HttpVersion};
use baton_health::{
    CheckHandle, FileCheck, HttpCheck, MiscCheck, Probe, ProbeKind, ReplyPattern, Schedule,
    TlsClient, UdpCheck, Url, Verdict,
};
use tokio::sync::mpsc;

use crate::scripts::Credentials;
use crate::status::CheckResult;

/// Which checker of which server a verdict is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    pub(super) service: String,
    pub(super) server: SocketAddr,
    pub(super) checker: usize,
    /// The server's generation: a reload that restarts its checkers starts a new one.
    pub(super) generation: u64,
}

/// One verdict change.
#[derive(Debug, Clone)]
pub(super) struct CheckEvent {
    pub(super) target: Target,
    pub(super) up: bool,
    /// The checker's change to the configured weight (MISC_CHECK `misc_dynamic`, a weighted
    /// FILE_CHECK): keepalived adds those of a server's checkers up.
    pub(super) weight_offset: i64,
    /// Shown in logs and `baton status`: `TCP_CHECK: up` or `HTTP_GET: status 503 on /`.
    pub(super) reason: String,
}

/// A running checker; dropping it stops it.
#[derive(Debug)]
pub(super) struct RunningCheck {
    handle: CheckHandle,
    /// `log_all_failures`: the task logging every failed probe.
    logger: Option<tokio::task::JoinHandle<()>>,
}

impl RunningCheck {
    /// The checker's last probe; None before the first.
    pub(super) fn last_probe(&self) -> Option<CheckResult> {
        let status = self.handle.status();
        let latency = status.last_latency?;
        Some(CheckResult::new(status.last_failure, latency))
    }
}

impl Drop for RunningCheck {
    fn drop(&mut self) {
        if let Some(logger) = &self.logger {
            logger.abort();
        }
    }
}

/// Starts `checker` for a real server of weight `configured_weight`.
pub(super) fn spawn(
    config: &Config,
    checker: &Checker,
    configured_weight: u32,
    default_user: Option<Credentials>,
    target: Target,
    events: mpsc::UnboundedSender<CheckEvent>,
) -> anyhow::Result<RunningCheck> {
    let probe = probe(config, checker, default_user)
        .with_context(|| format!("virtual server {}: {}", target.service, target.server))?;
    let schedule = Schedule {
        interval: checker.delay_loop,
        retry_interval: checker.delay_before_retry,
        fall: checker.fall.max(1),
        // keepalived brings a server back on one good probe.
        rise: 1,
        warmup: checker.warmup,
        start_down: checker.start_down,
    };
    let name = kind_name(&checker.kind);
    let label = format!("{} {}", target.service, target.server);
    let handle = baton_health::spawn(probe, schedule, move |verdict| {
        let (up, weight_offset, reason) = match verdict {
            Verdict::Up { weight } => (
                true,
                weight.offset(configured_weight),
                format!("{name}: up"),
            ),
            Verdict::Down { reason } => (false, 0, format!("{name}: {reason}")),
        };
        // The runtime is gone only while the daemon stops.
        let _ = events.send(CheckEvent {
            target: target.clone(),
            up,
            weight_offset,
            reason,
        });
    });
    let logger = checker
        .log_all_failures
        .then(|| tokio::spawn(log_failures(handle.watch(), name, label)));
    Ok(RunningCheck { handle, logger })
}

/// keepalived's `log_all_failures`: every failed probe is logged, not only the ones that
/// take the server down.
async fn log_failures(
    mut status: tokio::sync::watch::Receiver<baton_health::Status>,
    name: &'static str,
    label: String,
) {
    let mut seen = 0;
    while status.changed().await.is_ok() {
        let now = status.borrow_and_update().clone();
        if now.failures > seen {
            seen = now.failures;
            let reason = now.last_failure.unwrap_or_default();
            tracing::warn!(real_server = %label, failures = seen, "{name} failed: {reason}");
        }
    }
}

/// keepalived's name for the checker, for messages.
fn kind_name(kind: &CheckerKind) -> &'static str {
    match kind {
        CheckerKind::Tcp => "TCP_CHECK",
        CheckerKind::Http { tls: false, .. } => "HTTP_GET",
        CheckerKind::Http { tls: true, .. } => "SSL_GET",
        CheckerKind::Misc { .. } => "MISC_CHECK",
        CheckerKind::Smtp { .. } => "SMTP_CHECK",
        CheckerKind::Dns { .. } => "DNS_CHECK",
        CheckerKind::Udp { .. } => "UDP_CHECK",
        CheckerKind::Ping => "PING_CHECK",
        CheckerKind::File { .. } => "FILE_CHECK",
        _ => "checker",
    }
}

/// The probe a checker block describes.
fn probe(
    config: &Config,
    checker: &Checker,
    default_user: Option<Credentials>,
) -> anyhow::Result<Probe> {
    let kind = match &checker.kind {
        CheckerKind::Tcp => ProbeKind::Tcp,
        CheckerKind::Http {
            tls,
            urls,
            virtualhost,
            http_protocol,
            enable_sni,
            ssl,
            ..
        } => {
            // keepalived's SSL block: a client certificate for every SSL_GET. Its files
            // are checked now, as keepalived refuses to start without them.
            let tls_client = ssl.as_ref().and_then(|ssl| {
                Some(TlsClient {
                    certificate: ssl.certificate.clone()?,
                    key: ssl.key.clone()?,
                    ca: ssl.ca.clone(),
                })
            });
            if let Some(client) = tls_client.as_ref().filter(|_| *tls) {
                client.check().context("the SSL block")?;
            }
            ProbeKind::Http(HttpCheck {
                tls: *tls,
                urls: urls
                    .iter()
                    .map(|url| Url {
                        path: url.path.clone(),
                        digest: url.digest.clone(),
                        status: url.status_codes.clone(),
                        host: url.virtualhost.clone(),
                    })
                    .collect(),
                host: virtualhost.clone(),
                version: match http_protocol {
                    HttpVersion::Http10 => baton_health::HttpVersion::Http10,
                    HttpVersion::Http10Close => baton_health::HttpVersion::Http10Close,
                    HttpVersion::Http11 => baton_health::HttpVersion::Http11,
                },
                sni: *enable_sni,
                tls_client,
            })
        }
        CheckerKind::Misc {
            argv,
            dynamic,
            user,
            timeout,
        } => {
            let credentials = match user {
                Some(user) => Some(
                    Credentials::lookup(&user.user, user.group.as_deref())
                        .context("MISC_CHECK user")?,
                ),
                None => default_user,
            };
            // Run by baton-health rather than as a Script: vetted once, here, as keepalived
            // vets it when it loads the configuration.
            let script = crate::scripts::Script::new(argv.clone(), credentials);
            if let Some(program) = argv.first() {
                script
                    .permitted(program)
                    .map_err(|refused| anyhow::anyhow!("MISC_CHECK {program}: {refused}"))?;
            }
            // baton's own user needs no switch (its system call filter forbids one); another
            // user, when baton is not root, only through the script helper.
            let credentials = credentials.filter(|c| *c != Credentials::daemon());
            let argv = match credentials {
                Some(other) if crate::scripts::needs_helper(Some(other)) => {
                    crate::scripts::helper_command_line(argv, other, *timeout)
                        .context("MISC_CHECK through the script helper")?
                }
                _ => argv.clone(),
            };
            let credentials = credentials.filter(|c| !crate::scripts::needs_helper(Some(*c)));
            ProbeKind::Misc(MiscCheck {
                argv,
                dynamic: *dynamic,
                uid: credentials.map(|c| c.uid.as_raw()),
                gid: credentials.map(|c| c.gid.as_raw()),
            })
        }
        CheckerKind::Smtp { helo_name } => ProbeKind::Smtp {
            helo_name: helo_name.clone(),
        },
        CheckerKind::Dns { record_type, name } => ProbeKind::Dns {
            qtype: record_type.code(),
            name: name.clone(),
        },
        CheckerKind::Udp {
            payload,
            require_reply,
            reply_mask,
            min_reply_length,
            max_reply_length,
        } => ProbeKind::Udp(UdpCheck {
            payload: payload.clone(),
            require_reply: require_reply.as_ref().map(|data| ReplyPattern {
                data: data.clone(),
                mask: reply_mask.clone(),
                len: usize::from(*min_reply_length)..=usize::from(*max_reply_length),
            }),
        }),
        CheckerKind::Ping => ProbeKind::Ping,
        CheckerKind::File {
            track_file,
            weight,
            reverse,
        } => {
            let file = config
                .track_file(track_file)
                .with_context(|| format!("FILE_CHECK: no track_file {track_file}"))?;
            ProbeKind::File(FileCheck {
                path: file.path.clone(),
                weight: *weight,
                reverse: *reverse,
            })
        }
        other => anyhow::bail!("{other:?} is not a checker baton runs"),
    };
    let timeout = match &checker.kind {
        CheckerKind::Misc { timeout, .. } => *timeout,
        _ => checker.connect_timeout,
    };
    Ok(Probe {
        kind,
        connect: checker.connect,
        bind: checker.bind,
        bind_interface: checker.bind_interface.clone(),
        fwmark: checker.fwmark,
        timeout,
    })
}
