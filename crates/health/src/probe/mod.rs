//! One probe of one server, of each kind keepalived knows.

mod cert_chain;
mod dns;
mod file;
mod http;
mod misc;
mod ping;
mod smtp;
mod socket;
mod tcp;
mod tls;
mod tls_client;
mod udp;

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

pub use tls_client::{TlsClient, TlsClientError};

use crate::outcome::{Failure, Outcome};

/// One checker of one server: what to do, where, and how long to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub kind: ProbeKind,
    /// Where to probe (`connect_ip` / `connect_port`, default the real server). Unused by
    /// [`ProbeKind::Misc`] and [`ProbeKind::File`].
    pub connect: SocketAddr,
    /// The source address and port (`bindto` / `bind_port`; port 0: any).
    pub bind: Option<SocketAddr>,
    /// The interface the probe leaves by (`bind_if`, `SO_BINDTODEVICE`); needed for an
    /// IPv6 link-local `connect`.
    pub bind_interface: Option<String>,
    /// `SO_MARK` on the probe's socket (`fwmark`), for policy routing of the checks.
    pub fwmark: Option<u32>,
    /// How long one exchange may take (`connect_timeout`; `misc_timeout` for MISC_CHECK):
    /// connecting, sending and reading the answer. An HTTP check with several urls makes
    /// one exchange per url, as keepalived does, each within this.
    pub timeout: Duration,
}

impl Probe {
    /// A probe of `kind` to `connect`, with no source address, interface or mark.
    pub fn new(kind: ProbeKind, connect: SocketAddr, timeout: Duration) -> Probe {
        Probe {
            kind,
            connect,
            bind: None,
            bind_interface: None,
            fwmark: None,
            timeout,
        }
    }
}

/// What a probe does.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeKind {
    /// TCP_CHECK: a TCP connection can be made.
    Tcp,
    /// HTTP_GET and SSL_GET: every url answers as expected.
    Http(HttpCheck),
    /// MISC_CHECK: a program's exit code.
    Misc(MiscCheck),
    /// SMTP_CHECK: the server greets with 220, answers `HELO helo_name` with 250, and
    /// answers QUIT.
    Smtp { helo_name: String },
    /// DNS_CHECK: a query for `name` (`""` or `"."`: the root) of type `qtype` is answered
    /// with RCODE NOERROR. keepalived's defaults: SOA (6) for the root.
    Dns { qtype: u16, name: String },
    /// UDP_CHECK: a datagram is not refused (ICMP port unreachable), and, with
    /// `require_reply`, is answered.
    Udp(UdpCheck),
    /// PING_CHECK: an ICMP echo request is answered.
    Ping,
    /// FILE_CHECK: the number in a file.
    File(FileCheck),
}

/// HTTP_GET (`tls: false`) or SSL_GET (`tls: true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    pub tls: bool,
    /// Checked in order, one connection each; the first failing url fails the probe.
    pub urls: Vec<Url>,
    /// The checker's `virtualhost` (else the real or virtual server's): the Host header
    /// of urls without their own. None: the address, as `ip:port`.
    pub host: Option<String>,
    /// `http_protocol`.
    pub version: HttpVersion,
    /// `enable_sni`: send the url's host as TLS SNI (when it is a DNS name).
    pub sni: bool,
    /// SSL_GET's client certificate and CA: keepalived's top-level `SSL { }` block. None:
    /// no client certificate. Ignored by HTTP_GET.
    pub tls_client: Option<TlsClient>,
}

/// `http_protocol`: the request line's version, and whether `Connection: close` is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HttpVersion {
    /// `1.0` (keepalived's default).
    #[default]
    Http10,
    /// `1.0C`: HTTP/1.0 with `Connection: close`.
    Http10Close,
    /// `1.1`, with `Connection: close`.
    Http11,
}

/// One `url { }` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// The request target, sent as is.
    pub path: String,
    /// `digest`: the MD5 of the body in hex (either case). The body is the bytes after
    /// the header, up to Content-Length when there is one, as keepalived's `genhash`
    /// computes it (a chunked body is hashed with its chunk framing).
    pub digest: Option<String>,
    /// `status_code`: the statuses that pass. Empty: 200-299, as keepalived.
    pub status: Vec<RangeInclusive<u16>>,
    /// The url's own `virtualhost`, before [`HttpCheck::host`].
    pub host: Option<String>,
}

impl Url {
    /// A url that passes on any 2xx status.
    pub fn new(path: impl Into<String>) -> Url {
        Url {
            path: path.into(),
            digest: None,
            status: Vec::new(),
            host: None,
        }
    }
}

/// MISC_CHECK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiscCheck {
    /// The program and its arguments (`misc_path`, already split).
    pub argv: Vec<String>,
    /// `misc_dynamic`: exit codes 2 to 255 pass and set the weight to `code - 2`.
    pub dynamic: bool,
    /// `user`: run as this user and group (the daemon resolves the names).
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// UDP_CHECK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpCheck {
    /// `payload`. Empty: keepalived's 32 bytes of "keepalived check - " repeated.
    pub payload: Vec<u8>,
    /// `require_reply`: without a matching reply within the timeout the server is down.
    /// None: no reply passes too, only an ICMP error fails.
    pub require_reply: Option<ReplyPattern>,
}

/// `require_reply [HEX]` with `min_reply_length` / `max_reply_length`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyPattern {
    /// The reply must start with these bytes, as far as both go (keepalived compares the
    /// shorter of the reply and this). Empty: any reply.
    pub data: Vec<u8>,
    /// Bits set here are not compared (`x` nibbles in keepalived's hex). Shorter than
    /// `data`: the rest is compared whole.
    pub mask: Vec<u8>,
    /// The reply's length must be within this (keepalived's default 0 to 255).
    pub len: RangeInclusive<usize>,
}

impl ReplyPattern {
    /// Any reply of up to 255 bytes.
    pub fn any() -> ReplyPattern {
        ReplyPattern::starting_with(Vec::new())
    }

    /// A reply of up to 255 bytes that starts with `data`.
    pub fn starting_with(data: Vec<u8>) -> ReplyPattern {
        ReplyPattern {
            data,
            mask: Vec::new(),
            len: 0..=255,
        }
    }
}

/// FILE_CHECK on a `track_file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    pub path: PathBuf,
    /// 0: a non-zero value means down. Otherwise the value times this is added to the
    /// server's weight, and a product of `i32::MIN` or less means down.
    pub weight: i32,
    /// `reverse`: with weight 0, zero means down; otherwise the product is negated.
    pub reverse: bool,
}

/// The User-Agent of the HTTP checks [`probe`] sends: keepalived's.
const KEEPALIVED_USER_AGENT: &str = "KeepAliveClient";

/// Probes once. Never panics and never takes much longer than `probe.timeout` per
/// exchange; a failure's `Display` says why.
pub async fn probe(probe: &Probe) -> Outcome {
    probe_as(probe, KEEPALIVED_USER_AGENT).await
}

/// [`probe`], with HTTP_GET and SSL_GET saying `user_agent` in their User-Agent header
/// instead of keepalived's `KeepAliveClient` (the HTTP proxy's checks keep their own name,
/// so that servers can tell them apart). Other kinds ignore it.
///
/// A parameter rather than a field of [`HttpCheck`] so that code building `HttpCheck`
/// literals keeps compiling.
pub async fn probe_as(probe: &Probe, user_agent: &str) -> Outcome {
    let result = match &probe.kind {
        ProbeKind::Tcp => within(probe.timeout, tcp::probe(probe)).await,
        ProbeKind::Http(check) => http::probe(probe, check, user_agent).await,
        ProbeKind::Misc(check) => misc::probe(check, probe.timeout).await,
        ProbeKind::Smtp { helo_name } => within(probe.timeout, smtp::probe(probe, helo_name)).await,
        ProbeKind::Dns { qtype, name } => {
            within(probe.timeout, dns::probe(probe, *qtype, name)).await
        }
        ProbeKind::Udp(check) => udp::probe(probe, check).await,
        ProbeKind::Ping => within(probe.timeout, ping::probe(probe)).await,
        ProbeKind::File(check) => file::probe(check).await,
    };
    match result {
        Ok(outcome) => outcome,
        Err(failure) => Outcome::Down(failure),
    }
}

/// Runs `exchange` within `timeout`.
async fn within<T>(
    timeout: Duration,
    exchange: impl Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or(Err(Failure::Timeout(timeout)))
}
