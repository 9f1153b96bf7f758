//! A guard for the moments around a takeover, in a table of its own (`inet baton_sync`).
//!
//! The new primary's kernel knows a synced flow only once `conntrackd -c` has committed
//! it, a few milliseconds after the VIPs arrived. A packet of the flow that comes first
//! would start a new conntrack entry: the client's goes to the scheduler (perhaps another
//! real server, which answers with a reset), the server's leaves un-NATed (the client
//! resets it). Dropped instead, it is sent again by TCP, and finds the committed entry.
//!
//! - TCP: a packet that would start a conntrack entry without being a SYN, to a NAT
//!   service's VIP and port or from one of its servers' address and port, is dropped
//!   always: under NAT such a packet can only break its flow.
//! - TCP: a packet conntrack calls invalid, of those same addresses and ports, is dropped
//!   too. NAT leaves invalid packets alone, so forwarded they would reach the client with
//!   the server's own address. The old master sees such packets while the new master's
//!   gratuitous ARPs are still on their way: a server's acknowledgement of data that went
//!   through the new master (a SACK beyond what the old one saw) is out of its window.
//! - UDP: any packet is a valid start, so new UDP flows to the NAT services' VIPs, and
//!   from their servers' address and port, are dropped only while the gate is closed (not
//!   primary, or primary whose commit has not finished yet).
//!
//! The standby forwarding (`standby`) lets the packets of synced flows that a switch floods
//! to a backup pass it; the guard is what keeps every other packet it lets in from starting
//! a flow there.
//!
//! At -150 in prerouting: after conntrack (-200) has looked the packet up, before the NAT
//! table (-100) picks a server. Services by range or fwmark and SCTP are not guarded.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::SocketAddr;

use baton_config::{Config, L4Protocol, LbKind, ServiceMatch};

pub(crate) const TABLE: &str = "baton_sync";

/// What the guard matches, from the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Guarded {
    /// TCP: the VIPs' address and port (port 0: every port).
    tcp_vips: BTreeSet<SocketAddr>,
    /// TCP: the real and sorry servers' address and port.
    tcp_servers: BTreeSet<SocketAddr>,
    udp_vips: BTreeSet<SocketAddr>,
    udp_servers: BTreeSet<SocketAddr>,
    /// Where the VRRP addresses live: every instance's interface and each address's own
    /// `dev`. Clients' packets to the VIPs and servers' packets to the gateway VIP arrive
    /// there.
    interfaces: BTreeSet<String>,
}

impl Guarded {
    pub(crate) fn of(config: &Config) -> Guarded {
        let mut guarded = Guarded::default();
        for vs in config
            .virtual_servers
            .iter()
            .filter(|vs| vs.lb_kind == LbKind::Nat)
        {
            let vips = vs.matches.iter().filter_map(|m| match m {
                ServiceMatch::Address(vip) => Some(*vip),
                _ => None,
            });
            let servers = vs
                .real_servers
                .iter()
                .map(|rs| rs.address)
                .chain(vs.sorry_server.iter().map(|s| s.address));
            match vs.protocol {
                L4Protocol::Tcp => {
                    guarded.tcp_vips.extend(vips);
                    guarded.tcp_servers.extend(servers);
                }
                L4Protocol::Udp => {
                    guarded.udp_vips.extend(vips);
                    guarded.udp_servers.extend(servers);
                }
                _ => {}
            }
        }
        for instance in &config.instances {
            guarded.interfaces.insert(instance.interface.clone());
            let devs = instance.all_addresses().filter_map(|a| a.dev.clone());
            guarded.interfaces.extend(devs);
        }
        guarded
    }

    /// The TCP packets guarded: to the VIPs, and from the servers.
    pub(crate) fn tcp(&self) -> impl Iterator<Item = String> + '_ {
        let to = self
            .tcp_vips
            .iter()
            .map(|vip| matching(*vip, "daddr", "tcp dport"));
        let from = self
            .tcp_servers
            .iter()
            .map(|server| matching(*server, "saddr", "tcp sport"));
        to.chain(from)
    }

    /// The UDP packets guarded: to the VIPs, and from the servers.
    pub(crate) fn udp(&self) -> impl Iterator<Item = String> + '_ {
        let to = self
            .udp_vips
            .iter()
            .map(|vip| matching(*vip, "daddr", "udp dport"));
        let from = self
            .udp_servers
            .iter()
            .map(|server| matching(*server, "saddr", "udp sport"));
        to.chain(from)
    }

    pub(crate) fn interfaces(&self) -> impl Iterator<Item = &str> {
        self.interfaces.iter().map(String::as_str)
    }

    /// The script that writes the table whole (replacing any), new UDP flows dropped while
    /// `closed`.
    pub(crate) fn script(&self, closed: bool) -> String {
        let mut rules = Vec::new();
        for packets in self.tcp() {
            rules.push(format!("ct state new {NOT_SYN} {packets} drop"));
            rules.push(format!("ct state invalid {packets} drop"));
        }
        if closed {
            for packets in self.udp() {
                rules.push(format!("ct state new {packets} drop"));
            }
        }
        let mut out = format!("add table inet {TABLE}\ndelete table inet {TABLE}\n");
        let _ = writeln!(out, "table inet {TABLE} {{");
        out.push_str("\tchain prerouting {\n");
        out.push_str("\t\ttype filter hook prerouting priority -150; policy accept;\n");
        for rule in &rules {
            let _ = writeln!(out, "\t\t{rule}");
        }
        out.push_str("\t}\n}\n");
        out
    }
}

/// A TCP packet that is not a bare SYN.
pub(crate) const NOT_SYN: &str = "tcp flags & (syn | ack) != syn";

/// `ip daddr 10.0.3.100 tcp dport 80`, the port left out for port 0.
fn matching(address: SocketAddr, direction: &str, port: &str) -> String {
    let family = if address.is_ipv4() { "ip" } else { "ip6" };
    let mut out = format!("{family} {direction} {}", address.ip());
    if address.port() != 0 {
        let _ = write!(out, " {port} {}", address.port());
    }
    out
}

/// The script that removes the guard's table and the standby forwarding, whether or not
/// they exist.
pub(crate) fn removal() -> String {
    format!(
        "add table inet {TABLE}\ndelete table inet {TABLE}\n{}",
        super::standby::removal()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guarded() -> Guarded {
        let mut g = Guarded::default();
        g.tcp_vips.insert("10.0.3.100:80".parse().expect("vip"));
        g.tcp_servers
            .insert("10.0.3.11:8080".parse().expect("server"));
        g.udp_vips.insert("[fd00::100]:53".parse().expect("vip"));
        g
    }

    #[test]
    fn tcp_mid_flow_packets_are_always_dropped_and_udp_only_while_closed() {
        let open = guarded().script(false);
        assert!(
            open.contains(
                "ct state new tcp flags & (syn | ack) != syn ip daddr 10.0.3.100 tcp dport 80 drop"
            ),
            "{open}"
        );
        assert!(
            open.contains(
                "ct state new tcp flags & (syn | ack) != syn ip saddr 10.0.3.11 tcp sport 8080 drop"
            ),
            "{open}"
        );
        assert!(
            open.contains("ct state invalid ip saddr 10.0.3.11 tcp sport 8080 drop"),
            "{open}"
        );
        assert!(!open.contains("udp"), "{open}");
        let closed = guarded().script(true);
        assert!(
            closed.contains("ct state new ip6 daddr fd00::100 udp dport 53 drop"),
            "{closed}"
        );
        assert!(closed.starts_with("add table inet baton_sync\ndelete table inet baton_sync\n"));
    }
}
