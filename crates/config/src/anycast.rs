//! `[[anycast]]` (baton.toml only): prefixes this host announces through the routing daemon
//! beside it (bird2 or FRR) while what they depend on can serve, so that routers spread
//! the clients over every load balancer that announces them (BGP with ECMP).
//!
//! baton writes one route per prefix into a routing table of its own (default 100) with
//! its own route protocol number; the routing daemon exports that table. The prefix's
//! address goes on `lo`, so the host takes the traffic the routers send it.
//!
//! A leaf: the references to frontends, virtual servers and interfaces are checked in
//! `anycast_refs`.

use std::net::IpAddr;
use std::time::Duration;

use crate::diagnostic::WrittenAt;

/// The routing table baton writes its anycast routes into when the section names none.
pub(crate) const DEFAULT_TABLE: u32 = 100;
/// The route protocol number of baton's routes (`ip route` shows `proto 201`): not one of
/// iproute2's named ones (keepalived is 18, bird 12, bgp 186), so a routing daemon's
/// filter and an operator's `ip route flush proto 201` find baton's routes only.
pub const ROUTE_PROTOCOL: u8 = 201;
/// How long a stopping baton waits after withdrawing its routes before it drains: a few
/// BFD detection times (100 ms x 3) for the routers to stop sending new flows here.
pub(crate) const DEFAULT_WITHDRAW_DELAY: Duration = Duration::from_secs(1);

/// One `[[anycast]]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anycast {
    pub name: String,
    pub prefixes: Vec<Prefix>,
    pub table: u32,
    /// Announced only while each of these frontends can serve.
    pub track_frontends: Vec<String>,
    /// ... and each of these virtual servers has its quorum.
    pub track_virtual_servers: Vec<String>,
    /// ... and each of these interfaces is up.
    pub track_interfaces: Vec<String>,
    /// ... and each of these `vrrp_script`s passes. Weights do not apply: an announcement
    /// has no priority to lower, so any failing script withdraws.
    pub track_scripts: Vec<Tracked>,
    /// ... and each of these `track_file`s reads 0 (keepalived's weight 0: any other value,
    /// or a file that cannot be read, withdraws).
    pub track_files: Vec<Tracked>,
    /// At a stop: how long to wait between withdrawing and draining.
    pub withdraw_delay: Duration,
    /// The interface the routers send the prefixes' traffic in on: LVS-DR virtual servers
    /// on these addresses forward out of it, one-armed, as they do out of a VRRP
    /// instance's interface.
    pub interface: Option<String>,
    /// The other load balancers announcing these prefixes, by their addresses on the
    /// segment shared with the routers (this host's own may be listed: it is skipped, so
    /// that every load balancer can read one file). Packets of connections another load
    /// balancer holds, which the routers' hash now sends here, are relayed to them (see
    /// docs/operations.md, "Connections that survive a change of the set").
    pub peers: Vec<IpAddr>,
    /// The host prefixes are held as local routes (`local PREFIX dev lo table local`)
    /// rather than addresses on `lo`: FRR's zebra ranks the connected route of an address
    /// above the route it imports from `table` for the same prefix, and so never announces
    /// it. bird2 takes either.
    pub local_route: bool,
    pub location: WrittenAt,
}

/// A `vrrp_script` or `track_file` an `[[anycast]]` section tracks, by name, where the name
/// was written (an unknown one is named at its line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub name: String,
    pub location: WrittenAt,
}

/// An announced prefix, its host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix {
    pub address: IpAddr,
    pub len: u8,
}

impl Prefix {
    /// `10.0.9.100/32`, `fd00:9::100/128`; a bare address is a host prefix. Host bits must
    /// be zero: a route to `10.0.9.1/24` would announce another network than it reads.
    pub fn parse(text: &str) -> Result<Prefix, String> {
        let (address, len) = match text.split_once('/') {
            Some((address, len)) => (address, Some(len)),
            None => (text, None),
        };
        let address: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("'{text}' is not an address or a prefix (10.0.9.100/32)"))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let len = match len {
            Some(len) => len
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= max)
                .ok_or_else(|| format!("'{text}': the prefix length must be 0..={max}"))?,
            None => max,
        };
        let prefix = Prefix { address, len };
        if prefix.network() != address {
            return Err(format!(
                "'{text}' has host bits set: the network is {}/{len}",
                prefix.network()
            ));
        }
        Ok(prefix)
    }

    /// The address with every bit past the prefix length cleared.
    pub fn network(&self) -> IpAddr {
        match self.address {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(a) & mask).into())
            }
        }
    }

    /// Whether `address` is in the prefix.
    pub fn contains(&self, address: IpAddr) -> bool {
        address.is_ipv4() == self.address.is_ipv4()
            && Prefix {
                address,
                len: self.len,
            }
            .network()
                == self.address
    }

    /// A single address (/32, /128): the one that goes on `lo`.
    pub fn is_host(&self) -> bool {
        self.len == if self.address.is_ipv4() { 32 } else { 128 }
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_parse_with_their_length_and_refuse_host_bits() {
        let p = Prefix::parse("10.0.9.100/32").expect("host");
        assert!(p.is_host());
        assert_eq!(p.to_string(), "10.0.9.100/32");
        assert_eq!(Prefix::parse("10.0.9.100").expect("bare"), p);
        let v6 = Prefix::parse("fd00:9::100").expect("v6");
        assert_eq!(v6.len, 128);
        let net = Prefix::parse("10.0.9.0/24").expect("net");
        assert!(!net.is_host());
        let error = Prefix::parse("10.0.9.1/24").expect_err("host bits");
        assert!(error.contains("the network is 10.0.9.0/24"), "{error}");
        assert!(Prefix::parse("10.0.9.0/33").is_err());
        let ip = |s: &str| s.parse::<IpAddr>().expect("literal");
        assert!(net.contains(ip("10.0.9.255")));
        assert!(!net.contains(ip("10.0.10.1")));
        assert!(p.contains(ip("10.0.9.100")) && !p.contains(ip("10.0.9.101")));
        assert!(!v6.contains(ip("10.0.9.100")), "another family");
        assert!(Prefix::parse("web").is_err());
        assert_eq!(
            Prefix::parse("0.0.0.0/0").expect("default").network(),
            "0.0.0.0".parse::<IpAddr>().expect("literal")
        );
    }
}
