//! The L4 model: keepalived's `virtual_server` (LVS) family, which baton runs on nf_tables.
//!
//! keepalived.conf's `virtual_server`, `virtual_server_group`, `real_server`, `sorry_server`
//! and the checker blocks, and `baton.toml`'s `[[virtual_server]]` (the same key names), both
//! end here. Values are resolved: a group is expanded into its [`ServiceMatch`]es, defaults
//! are filled in (a real server's checker inherits `delay_loop`, `retry`, ... from its real
//! server, which inherits them from its virtual server, as keepalived does), and everything
//! that cannot be done on nf_tables was refused with its reason before this model was built.

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use crate::basics::{Family, NotifyScript, ScriptUser};
use crate::diagnostic::WrittenAt;

/// One balanced service: what clients connect to, and the real servers behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualServer {
    /// baton.toml's `name`; in keepalived.conf the service as written, e.g.
    /// `10.0.3.100:80/tcp`, `[2001:db8::1]:443/tcp`, `fwmark:5/tcp`, `group:web/tcp`.
    /// Unique within a configuration; `baton status` and `baton server` use it.
    pub name: String,
    /// What packets belong to the service (one entry, or a `virtual_server_group`'s).
    pub matches: Vec<ServiceMatch>,
    /// From the addresses, else `ip_family` / a group's `fwmark N inet6` (fwmark services),
    /// else the real and sorry servers', else `persistence_granularity`'s, else IPv4, as
    /// keepalived.
    pub family: Family,
    /// `protocol`. baton.toml's default is TCP; keepalived.conf must say it for services
    /// by address, since keepalived 2.2.7 then uses UDP (and logs a configuration error).
    /// Services by fwmark default to TCP (keepalived ignores the protocol there: IPVS takes
    /// every protocol of a marked packet; baton balances one per service).
    pub protocol: L4Protocol,
    /// `lb_algo` / `lvs_sched` (default `wlc`, as keepalived).
    pub lb_algo: LbAlgo,
    /// `sh-port` / `mh-port`: the hash also covers the client's port.
    pub hash_port: bool,
    /// `sh-fallback` / `mh-fallback`: a flow whose server is down goes to another one
    /// instead of being dropped. baton always re-spreads flows of a server that left the
    /// table; kept for the status view.
    pub hash_fallback: bool,
    /// `lb_kind` / `lvs_method` (default NAT in baton; keepalived's default is also NAT).
    /// Real and sorry servers have their own, resolved from this one.
    pub lb_kind: LbKind,
    /// `persistence_timeout` and `persistence_granularity`.
    pub persistence: Option<Persistence>,
    /// `delay_loop` (default 60 s): time between two checks of a real server.
    pub delay_loop: Duration,
    /// `ha_suspend`: checkers run only while this host holds the service's address.
    pub ha_suspend: bool,
    /// `virtualhost`: the Host of HTTP_GET/SSL_GET checks that name none.
    pub virtualhost: Option<String>,
    /// `alpha`: real servers start down and come up on their first good check (resolved
    /// into each checker's [`Checker::start_down`]).
    pub alpha: bool,
    /// `omega`: run `quorum_down` and notify_down scripts when the service is removed
    /// (reload or stop).
    pub omega: bool,
    /// `quorum` (default 1): the sum of the weights of the real servers that are up, below
    /// which the service is down (sorry server in, `quorum_down` run, tracking instances told).
    /// Lowered to the total weight of the real servers when above it, with a warning, as
    /// keepalived does.
    pub quorum: u32,
    /// `hysteresis` (default 0): the service goes down below `quorum - hysteresis` and comes
    /// back up at `quorum + hysteresis`. Less than `quorum` (lowered with a warning, as
    /// keepalived).
    pub hysteresis: u32,
    pub quorum_up: Option<NotifyScript>,
    pub quorum_down: Option<NotifyScript>,
    /// `smtp_alert [BOOL]`: e-mail on quorum changes. `None`: the global default, see
    /// [`crate::SmtpAlerts::for_virtual_server`].
    pub smtp_alert: Option<bool>,
    /// `sorry_server`: where new flows go while no real server is up.
    pub sorry_server: Option<SorryServer>,
    /// Source-NAT flows to real servers (`snat = true` in baton.toml, `# baton: snat` has no
    /// keepalived.conf form): for real servers whose default route does not point back
    /// through this load balancer. NAT only.
    pub snat: bool,
    /// Real servers in configuration order.
    pub real_servers: Vec<RealServer>,
    pub location: WrittenAt,
}

/// What packets a service takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceMatch {
    /// `IP PORT`: one address and port. Port 0 (with persistence) means every port.
    Address(SocketAddr),
    /// A `virtual_server_group` range `10.0.3.100-120 PORT`: the last address's final
    /// component ends the range.
    Range {
        first: IpAddr,
        last: IpAddr,
        port: u16,
    },
    /// `fwmark N`: packets marked by a firewall rule of the operator's.
    Fwmark(u32),
}

/// `protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum L4Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl L4Protocol {
    /// As nftables and the service names spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            L4Protocol::Tcp => "tcp",
            L4Protocol::Udp => "udp",
            L4Protocol::Sctp => "sctp",
        }
    }
}

/// `lb_algo`: IPVS's schedulers. How each is done on nf_tables is in
/// docs/configuration.md; the ones that need per-connection state in userspace are
/// approximated there, honestly named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LbAlgo {
    /// Round robin.
    Rr,
    /// Weighted round robin.
    Wrr,
    /// Least connection.
    Lc,
    /// Weighted least connection (keepalived's default).
    Wlc,
    /// Source hashing.
    Sh,
    /// Destination hashing.
    Dh,
    /// Maglev hashing.
    Mh,
    /// Shortest expected delay.
    Sed,
    /// Never queue.
    Nq,
    /// Weighted failover: the up server of highest weight takes everything.
    Fo,
    /// Weighted overflow: the first server (highest weight) until its `uthreshold`.
    Ovf,
    /// Locality-based least connection.
    Lblc,
    /// Locality-based least connection with replication.
    Lblcr,
    /// Weighted random twos choice.
    Twos,
}

impl LbAlgo {
    /// As keepalived spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            LbAlgo::Rr => "rr",
            LbAlgo::Wrr => "wrr",
            LbAlgo::Lc => "lc",
            LbAlgo::Wlc => "wlc",
            LbAlgo::Sh => "sh",
            LbAlgo::Dh => "dh",
            LbAlgo::Mh => "mh",
            LbAlgo::Sed => "sed",
            LbAlgo::Nq => "nq",
            LbAlgo::Fo => "fo",
            LbAlgo::Ovf => "ovf",
            LbAlgo::Lblc => "lblc",
            LbAlgo::Lblcr => "lblcr",
            LbAlgo::Twos => "twos",
        }
    }
}

/// `lb_kind`: how packets reach the real server. TUN (IP-in-IP) is refused when read: it
/// needs an ipip tunnel device per real server, which nf_tables cannot make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LbKind {
    /// The destination address (and port) is rewritten to the real server's; answers come
    /// back through this host (or through it by source NAT, see [`VirtualServer::snat`]).
    Nat,
    /// Direct routing: the frame is sent to the real server's MAC unchanged; the real server
    /// holds the virtual address on lo and answers the client directly.
    Dr,
}

/// `persistence_timeout` / `persistence_granularity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Persistence {
    /// A client goes on to the same real server until it has been idle this long (keepalived
    /// default when the keyword is given without a value: 360 s).
    pub timeout: Duration,
    /// Clients whose addresses share this prefix count as one (`persistence_granularity`,
    /// a netmask in keepalived.conf; default /32 or /128).
    pub granularity: u8,
}

/// `sorry_server IP PORT` with `sorry_server_inhibit` and `sorry_server_lvs_method`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SorryServer {
    /// Port resolved as for real servers (see [`RealServer::address`]).
    pub address: SocketAddr,
    /// `sorry_server_inhibit`: kept in the table with weight 0 while real servers are up.
    pub inhibit: bool,
    pub lb_kind: LbKind,
    pub location: WrittenAt,
}

/// A `real_server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServer {
    /// Port 0 for fwmark services: the client's port is kept. A real server written
    /// without a port (or with port 0) of a service by address takes the service's port,
    /// as keepalived; of a service by group it keeps port 0 (the client's port).
    pub address: SocketAddr,
    /// `weight` (default: the virtual server's `weight`, default 1), 0..=2147483647.
    /// 0: no new flows, established ones go on.
    pub weight: u32,
    /// `lvs_method`, default the virtual server's `lb_kind`.
    pub lb_kind: LbKind,
    /// `inhibit_on_failure` (own, else the virtual server's): a failed server stays in the
    /// table with weight 0 instead of being removed, so its established flows go on.
    pub inhibit_on_failure: bool,
    /// `uthreshold`: no new flows beyond this many active connections (0: no limit).
    pub uthreshold: u32,
    /// `lthreshold`: new flows again below this many.
    pub lthreshold: u32,
    pub notify_up: Option<NotifyScript>,
    pub notify_down: Option<NotifyScript>,
    /// `smtp_alert [BOOL]`: e-mail on its checkers' changes. `None`: the global default,
    /// see [`crate::SmtpAlerts::for_real_server`] (yes when nothing says otherwise).
    pub smtp_alert: Option<bool>,
    /// The checkers; the server is up while all of them pass. None: always up.
    pub checkers: Vec<Checker>,
    pub location: WrittenAt,
}

/// One checker block of a real server, with its timing resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checker {
    pub kind: CheckerKind,
    /// Where to probe: `connect_ip` / `connect_port`, default the real server's address and
    /// port. Port 0 only for PING_CHECK, MISC_CHECK and FILE_CHECK, which use no port.
    pub connect: SocketAddr,
    /// `bindto` / `bind_port`: the probe's source address and port.
    pub bind: Option<SocketAddr>,
    /// `bind_if`: the interface the probe leaves by (IPv6 link-local).
    pub bind_interface: Option<String>,
    /// `fwmark`: the mark put on the probe's packets.
    pub fwmark: Option<u32>,
    /// `connect_timeout` (default 5 s). Also MISC_CHECK's and FILE_CHECK's, unused there.
    pub connect_timeout: Duration,
    /// `delay_loop` (default: the real server's, then the virtual server's).
    pub delay_loop: Duration,
    /// Failed probes in a row that take the server down: keepalived's `retry`
    /// (`nb_get_retry`) counts the probes after the first failure, so this is `retry + 1`
    /// with the checker's own default `retry` resolved (1; MISC_CHECK 0, DNS_CHECK 3).
    /// FILE_CHECK: 1 (it has no retry).
    pub fall: u32,
    /// `delay_before_retry`: time between a failed probe and the next one while the server
    /// is still up. Default 1 s; HTTP_GET / SSL_GET 3 s; DNS_CHECK its `delay_loop`.
    pub delay_before_retry: Duration,
    /// `warmup`: the first probe waits a random time up to this, so checks spread out.
    /// keepalived's default is the checker's `delay_loop`; `warmup 0` (`None`) starts at once.
    pub warmup: Option<Duration>,
    /// `alpha` inherited: start down.
    pub start_down: bool,
    /// `log_all_failures`: log every failed probe, not only the ones that change the state.
    pub log_all_failures: bool,
    pub location: WrittenAt,
}

/// What a checker does.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckerKind {
    /// `TCP_CHECK`: a connection can be made.
    Tcp,
    /// `HTTP_GET` and `SSL_GET` (`tls`): every `url` answers as expected.
    Http {
        tls: bool,
        urls: Vec<UrlCheck>,
        /// The checker's `virtualhost`, else the real server's, else the virtual server's.
        virtualhost: Option<String>,
        /// `http_protocol` (default 1.0; `1.1` sends `Connection: close`).
        http_protocol: HttpVersion,
        /// `enable_sni` (SSL_GET): send the virtualhost as SNI.
        enable_sni: bool,
        /// `fast_recovery`: while the server is down (and at start), check the urls one
        /// after the other without waiting `delay_loop` between them.
        fast_recovery: bool,
        /// SSL_GET: the top-level `SSL { }` block (client certificate, CA), if any.
        ssl: Option<SslContext>,
    },
    /// `MISC_CHECK`: a program whose exit code is the verdict.
    Misc {
        argv: Vec<String>,
        /// `misc_timeout` (default: the virtual server's `delay_loop`, as keepalived).
        timeout: Duration,
        /// `misc_dynamic`: exit 0 up, 1 down, 2..=255 up with weight `code - 2`.
        dynamic: bool,
        /// `user`, else the global `script_user`.
        user: Option<ScriptUser>,
    },
    /// `SMTP_CHECK`: the server greets with 2xx and answers `HELO helo_name` with 2xx.
    /// (default `smtpchecker.keepalived.org`, as keepalived).
    Smtp { helo_name: String },
    /// `DNS_CHECK`: a query for `name` (default `.`, the root, written as an empty
    /// string) of `record_type` gets an answer.
    Dns { record_type: DnsType, name: String },
    /// `UDP_CHECK`: a datagram is not answered by ICMP port unreachable (and, with
    /// `require_reply`, is answered with a reply that matches).
    Udp {
        /// `payload`; empty: a random payload, as keepalived.
        payload: Vec<u8>,
        /// `require_reply [HEX]`: a reply must come; with bytes, the reply must match them up
        /// to the shorter of the two lengths. Empty: any reply.
        require_reply: Option<Vec<u8>>,
        /// The bits of `require_reply` to ignore (its `x` / `X` nibbles); as long as
        /// `require_reply`, or empty when every bit counts.
        reply_mask: Vec<u8>,
        /// `min_reply_length` (default 0) and `max_reply_length` (default 255): with
        /// `require_reply`, a reply of another length fails.
        min_reply_length: u16,
        max_reply_length: u16,
    },
    /// `PING_CHECK`: an ICMP echo is answered.
    Ping,
    /// `FILE_CHECK`: a `track_file` by name; non-zero means down (weight 0), or with a
    /// weight the value times the weight changes the real server's weight.
    File {
        track_file: String,
        /// `weight` (default: the track_file's own weight), -2147483647..=2147483647.
        weight: i32,
        /// `reverse`: a non-zero value means up.
        reverse: bool,
    },
}

/// One `url { }` of an HTTP_GET / SSL_GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlCheck {
    pub path: String,
    /// `digest`: the MD5 of the body, lowercase hex.
    pub digest: Option<String>,
    /// `status_code` (default 200..=299, as keepalived).
    pub status_codes: Vec<RangeInclusive<u16>>,
    /// The url's own `virtualhost`.
    pub virtualhost: Option<String>,
    pub location: WrittenAt,
}

/// `http_protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersion {
    /// `1.0` (the default).
    Http10,
    /// `1.0C`: HTTP/1.0 with `Connection: close`.
    Http10Close,
    /// `1.1`, with `Connection: close`.
    Http11,
}

/// The top-level `SSL { }` block: what SSL_GET checkers present and trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SslContext {
    /// `password`: of the private key.
    pub password: Option<String>,
    /// `ca`: a PEM file of certificates to trust.
    pub ca: Option<PathBuf>,
    /// `certificate`: a PEM client certificate.
    pub certificate: Option<PathBuf>,
    /// `key`: its PEM private key.
    pub key: Option<PathBuf>,
    pub location: WrittenAt,
}

/// DNS_CHECK's `type` (default SOA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsType {
    A,
    Ns,
    Cname,
    Soa,
    Mx,
    Txt,
    Aaaa,
    Rrsig,
    Dnskey,
}

impl DnsType {
    /// The query type number (RFC 1035, RFC 3596).
    pub fn code(self) -> u16 {
        match self {
            DnsType::A => 1,
            DnsType::Ns => 2,
            DnsType::Cname => 5,
            DnsType::Soa => 6,
            DnsType::Mx => 15,
            DnsType::Txt => 16,
            DnsType::Aaaa => 28,
            DnsType::Rrsig => 46,
            DnsType::Dnskey => 48,
        }
    }
}
