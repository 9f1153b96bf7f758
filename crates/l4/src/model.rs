//! The desired state: what the daemon hands to [`DataPlane::apply`](crate::DataPlane::apply).
//! Plain data, no behaviour beyond validation; the daemon maps baton's config onto it.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::error::Error;

/// Every L4 service of one daemon: the whole desired state of its nf_tables tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// The services; names must be unique.
    pub services: Vec<Service>,
}

/// One keepalived `virtual_server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The operator's name (`"10.0.3.100:80/tcp"`); unique in a [`Table`], written into the
    /// rules as a comment and the key of the service's counters.
    pub name: String,
    /// What traffic belongs to the service; several matches share one backend pool.
    pub matches: Vec<Match>,
    /// The transport protocol; also applies to fwmark services.
    pub protocol: Protocol,
    /// The address family of the matches and the backends.
    pub family: Family,
    /// How packets reach the backends.
    pub forwarding: Forwarding,
    /// keepalived's `lb_algo`.
    pub scheduler: Scheduler,
    /// keepalived's `sh-port` / `mh-port`: the client's port is hashed with its address.
    pub hash_port: bool,
    /// keepalived's `persistence_timeout` and `persistence_granularity`.
    pub persistence: Option<Persistence>,
    /// keepalived's `real_server`s, in any order (tables do not depend on it).
    pub backends: Vec<Backend>,
    /// keepalived's `sorry_server`: new flows go there while no backend has weight > 0.
    pub fallback: Option<SocketAddr>,
}

/// Which packets a [`Service`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Match {
    /// One address and port; port 0 means every port (keepalived's port-0 services),
    /// and then the backends' ports are ignored: flows keep their destination port.
    Address(SocketAddr),
    /// An address range, both ends included, on one port (0 = every port).
    Range {
        /// The first address.
        first: IpAddr,
        /// The last address.
        last: IpAddr,
        /// The port, 0 for every port.
        port: u16,
    },
    /// Packets carrying this firewall mark (`meta mark`), set by the operator's own rules.
    /// NAT only: DR rules run at ingress, before any rule could set a mark.
    Fwmark(u32),
}

/// The transport protocol of a [`Service`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

/// The address family of a [`Service`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Family {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

/// keepalived's `lb_kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Forwarding {
    /// Destination NAT on the LB (`lb_kind NAT`). With `snat` the LB also rewrites the
    /// client's address to its own (masquerade), for real servers whose replies would not
    /// come back through the LB.
    Nat {
        /// Masquerade forwarded flows (full NAT).
        snat: bool,
    },
    /// Direct routing (`lb_kind DR`): frames are sent unchanged to the real server's MAC on
    /// `interface`; the real servers hold the VIP themselves and answer the client directly.
    /// Stateless: every scheduler becomes a hash of the flow (see the crate docs).
    Dr {
        /// The interface that both receives the VIP's traffic and reaches the real servers.
        interface: String,
    },
}

/// keepalived's `lb_algo`. See the crate docs for how each maps onto nf_tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheduler {
    /// Round robin.
    Rr,
    /// Weighted round robin.
    Wrr,
    /// Least connections (approximated).
    Lc,
    /// Weighted least connections (approximated).
    Wlc,
    /// Source hashing.
    Sh,
    /// Destination hashing.
    Dh,
    /// Maglev hashing.
    Mh,
    /// Shortest expected delay (approximated).
    Sed,
    /// Never queue (approximated).
    Nq,
    /// Weighted failover.
    Fo,
    /// Weighted overflow.
    Ovf,
    /// Locality-based least connections (approximated).
    Lblc,
    /// Locality-based least connections with replication (approximated).
    Lblcr,
    /// Weighted random twos choice (approximated).
    Twos,
}

/// keepalived's `persistence_timeout` / `persistence_granularity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Persistence {
    /// How long a client stays with its backend after its last packet.
    pub timeout: Duration,
    /// Prefix length of the client address that is remembered (32 or 128 = one client).
    pub granularity: u8,
}

/// One real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backend {
    /// Where flows go. The port is ignored for port-0 services, and must equal the
    /// service's port in DR (DR cannot rewrite ports).
    pub address: SocketAddr,
    /// Relative share of new flows. 0 keeps the backend in the table (its counters and
    /// established flows stay) but gives it no new flows.
    pub weight: u32,
    /// Active connections as last counted (from [`DataPlane::counters`](crate::DataPlane::counters));
    /// input of the least-connection approximations and `ovf`.
    pub active_connections: u64,
    /// keepalived's `uthreshold`: `ovf` moves on once this many connections are active
    /// (0 = no limit).
    pub uthreshold: u32,
}

impl Scheduler {
    /// Whether its choice depends on [`Backend::active_connections`]: these need fresh
    /// counts ([`DataPlane::counters`](crate::DataPlane::counters)) to balance well.
    pub fn counts_connections(self) -> bool {
        matches!(
            self,
            Scheduler::Lc
                | Scheduler::Wlc
                | Scheduler::Sed
                | Scheduler::Nq
                | Scheduler::Ovf
                | Scheduler::Lblc
                | Scheduler::Lblcr
                | Scheduler::Twos
        )
    }

    /// Every scheduler (`#[non_exhaustive]` keeps matches elsewhere honest; this keeps
    /// loops over all of them complete).
    pub const ALL: [Scheduler; 14] = [
        Scheduler::Rr,
        Scheduler::Wrr,
        Scheduler::Lc,
        Scheduler::Wlc,
        Scheduler::Sh,
        Scheduler::Dh,
        Scheduler::Mh,
        Scheduler::Sed,
        Scheduler::Nq,
        Scheduler::Fo,
        Scheduler::Ovf,
        Scheduler::Lblc,
        Scheduler::Lblcr,
        Scheduler::Twos,
    ];
}

impl Protocol {
    /// The nft keyword (`tcp`, `udp`, `sctp`).
    pub(crate) fn keyword(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

impl Family {
    /// The nft keyword of the network header (`ip`, `ip6`).
    pub(crate) fn keyword(self) -> &'static str {
        match self {
            Family::Ipv4 => "ip",
            Family::Ipv6 => "ip6",
        }
    }

    fn holds(self, address: IpAddr) -> bool {
        matches!(
            (self, address),
            (Family::Ipv4, IpAddr::V4(_)) | (Family::Ipv6, IpAddr::V6(_))
        )
    }

    fn bits(self) -> u8 {
        match self {
            Family::Ipv4 => 32,
            Family::Ipv6 => 128,
        }
    }
}

impl Match {
    /// The service port (0 = every port); `None` for a fwmark, which has no port.
    pub(crate) fn port(&self) -> Option<u16> {
        match self {
            Match::Address(address) => Some(address.port()),
            Match::Range { port, .. } => Some(*port),
            Match::Fwmark(_) => None,
        }
    }
}

impl Service {
    /// Whether flows keep their destination port: every address match is port 0 (a
    /// fwmark-only service: every backend has port 0). Then maps hold addresses only;
    /// otherwise address and port.
    pub(crate) fn all_ports(&self) -> bool {
        let mut ports = self.matches.iter().filter_map(Match::port).peekable();
        if ports.peek().is_none() {
            return self.backends.iter().all(|b| b.address.port() == 0);
        }
        ports.all(|p| p == 0)
    }

    /// Backends that take new flows.
    pub(crate) fn eligible(&self) -> impl Iterator<Item = &Backend> {
        self.backends.iter().filter(|b| b.weight > 0)
    }

    fn validate(&self) -> Result<(), String> {
        let name = &self.name;
        if self.matches.is_empty() {
            return Err(format!("service {name}: no address, range or fwmark"));
        }
        let ports: Vec<u16> = self.matches.iter().filter_map(Match::port).collect();
        if ports.contains(&0) && ports.iter().any(|&p| p != 0) {
            return Err(format!(
                "service {name}: mixes port-0 (every port) matches with single-port ones"
            ));
        }
        for m in &self.matches {
            match *m {
                Match::Address(address) if !self.family.holds(address.ip()) => {
                    return Err(format!(
                        "service {name}: {address} is not {:?}",
                        self.family
                    ));
                }
                Match::Range { first, last, .. } => {
                    if !self.family.holds(first) || !self.family.holds(last) {
                        return Err(format!(
                            "service {name}: range {first}-{last} is not {:?}",
                            self.family
                        ));
                    }
                    if first > last {
                        return Err(format!("service {name}: range {first}-{last} is reversed"));
                    }
                }
                Match::Fwmark(0) => {
                    return Err(format!(
                        "service {name}: fwmark 0 would match every unmarked packet"
                    ));
                }
                Match::Fwmark(_) if matches!(self.forwarding, Forwarding::Dr { .. }) => {
                    return Err(format!(
                        "service {name}: fwmark services cannot use DR (its rules run at \
                         ingress, before any rule sets a mark)"
                    ));
                }
                _ => {}
            }
        }
        let servers = self.backends.iter().map(|b| b.address).chain(self.fallback);
        for (i, address) in servers.clone().enumerate() {
            if !self.family.holds(address.ip()) {
                return Err(format!(
                    "service {name}: backend {address} is not {:?}",
                    self.family
                ));
            }
            if servers.clone().skip(i + 1).any(|other| other == address) {
                return Err(format!("service {name}: backend {address} is listed twice"));
            }
        }
        if let Forwarding::Dr { interface } = &self.forwarding {
            if interface.is_empty() || interface.contains('"') {
                return Err(format!(
                    "service {name}: bad DR interface name {interface:?}"
                ));
            }
            let port = ports.first().copied().unwrap_or(0);
            if let Some(b) = self
                .backends
                .iter()
                .find(|b| port != 0 && b.address.port() != port)
            {
                return Err(format!(
                    "service {name}: DR cannot rewrite ports, but backend {} differs from {port}",
                    b.address
                ));
            }
        }
        if let Some(p) = self.persistence {
            if p.granularity == 0 || p.granularity > self.family.bits() {
                return Err(format!(
                    "service {name}: persistence granularity /{} out of range",
                    p.granularity
                ));
            }
            if p.timeout.as_secs() == 0 {
                return Err(format!(
                    "service {name}: persistence timeout under a second"
                ));
            }
        }
        Ok(())
    }
}

impl Table {
    /// Every problem at once, so an operator fixes them in one go.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        for (i, service) in self.services.iter().enumerate() {
            if let Err(problem) = service.validate() {
                problems.push(problem);
            }
            if self.services[..i].iter().any(|s| s.name == service.name) {
                problems.push(format!("service {} is defined twice", service.name));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(problems.join("; ")))
        }
    }
}
