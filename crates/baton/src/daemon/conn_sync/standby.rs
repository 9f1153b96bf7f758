//! Standby forwarding (`netdev baton_sync`): a load balancer that is not the master still
//! forwards the packets of synced NAT flows that reach it.
//!
//! When the master's switch port goes down (a pulled cable, a dead host), the switch
//! forgets the master's MAC and floods the frames still sent to it (the clients' to the VIP,
//! the real servers' to the gateway VIP) to every port, until the new master's gratuitous
//! ARPs move the senders. The backup receives them, addressed to another host's MAC, and
//! the kernel drops such frames before routing. An ingress rule marks the frames of the
//! NAT services as sent to this host, so routing and NAT take them, and another hands the
//! first of them to baton (`log group`, [`FLOOD_LOG_GROUP`]): they are the sign that the
//! master's port went down, several advertisement intervals before VRRP can tell. baton
//! then commits conntrackd's external cache into this kernel at once (`early_commit`),
//! and the synced flows go on without waiting for the takeover. Only the packets that
//! came before the commit are lost and sent again by TCP.
//!
//! Only packets of the NAT services' VIPs and servers are taken, and never a bare SYN:
//! a standby does not start flows. The takeover guard (`gate`) drops every other packet
//! that would start a conntrack entry (TCP without SYN always, UDP while not primary), so
//! what passes is exactly the synced flows. A switch that floods while the master lives
//! (its table aged out) makes both forward the same packet; TCP and UDP applications take
//! a duplicate as they take one from the network. The early commit of such a false alarm
//! is purged again (`early_commit`).

use std::fmt::Write as _;

use super::gate::{Guarded, NOT_SYN};

/// The netdev table; the guard's table of the same name is of the inet family.
const TABLE: &str = "baton_sync";

/// The nflog group the first flooded frames go to. Far from the small numbers that
/// ulogd's and iptables' examples use; one group per network namespace, as baton is.
pub(crate) const FLOOD_LOG_GROUP: u16 = 2983;

/// At most this many flooded frames a second are handed to baton: it needs only the first.
const FLOOD_LOG_RATE: u32 = 10;

/// Keeps the table written for the interfaces that exist. It is written again only when
/// they change (one that appeared late), so the rules' counters run on across transitions.
#[derive(Debug, Default)]
pub(crate) struct StandbyTable {
    /// The interfaces the table was last written for.
    written: Option<Vec<String>>,
}

impl StandbyTable {
    pub(crate) async fn refresh(&mut self, guarded: &Guarded) {
        let present: Vec<String> = guarded
            .interfaces()
            .filter(|i| exists(i))
            .map(str::to_owned)
            .collect();
        if self.written.as_ref() == Some(&present) {
            return;
        }
        match super::super::syn_gate::nft(&script(guarded, &present)).await {
            Ok(()) => self.written = Some(present),
            Err(error) => tracing::error!("conn_sync: the standby forwarding: {error:#}"),
        }
    }
}

/// The table, one ingress chain per interface of `present` (none at all: no table).
/// Only interfaces that exist may be named: the kernel refuses a whole transaction that
/// names a missing one.
fn script(guarded: &Guarded, present: &[String]) -> String {
    let mut rules = Vec::new();
    for packets in guarded.tcp().chain(guarded.udp()) {
        rules.push(format!(
            "meta pkttype other {packets} limit rate {FLOOD_LOG_RATE}/second log group {FLOOD_LOG_GROUP}"
        ));
    }
    for packets in guarded.tcp() {
        rules.push(format!(
            "meta pkttype other {packets} {NOT_SYN} counter meta pkttype set host"
        ));
    }
    for packets in guarded.udp() {
        rules.push(format!(
            "meta pkttype other {packets} counter meta pkttype set host"
        ));
    }
    let mut out = removal();
    if rules.is_empty() || present.is_empty() {
        return out;
    }
    let _ = writeln!(out, "table netdev {TABLE} {{");
    for (n, interface) in present.iter().enumerate() {
        // Chains are numbered: an interface name may hold characters a chain name may not.
        let _ = writeln!(out, "\tchain in_{n} {{");
        // After the L4 data plane's DR ingress (-500), which handles frames of its own VIPs.
        let _ = writeln!(
            out,
            "\t\ttype filter hook ingress device \"{interface}\" priority -400; policy accept;"
        );
        for rule in &rules {
            let _ = writeln!(out, "\t\t{rule}");
        }
        out.push_str("\t}\n");
    }
    out.push_str("}\n");
    out
}

/// The script that removes the table, whether or not it exists.
pub(crate) fn removal() -> String {
    format!("add table netdev {TABLE}\ndelete table netdev {TABLE}\n")
}

/// Whether the interface exists in this network namespace now.
fn exists(interface: &str) -> bool {
    baton_net::interface_index(interface).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> baton_config::Config {
        baton_config::parse_toml(text, "t.toml")
            .expect("valid")
            .config
    }

    #[test]
    fn flooded_packets_of_nat_flows_are_taken_as_this_hosts_but_no_syn() {
        let config = config(
            r#"
[[vrrp]]
name = "VI_1"
interface = "eth0"
virtual_router_id = 51
priority = 100
virtual_ipaddress = ["10.0.3.100/24", "10.0.3.254/24 dev eth1"]

[[virtual_server]]
name = "web"
address = "10.0.3.100:80"
protocol = "TCP"
lb_kind = "NAT"
[[virtual_server.real_server]]
address = "10.0.3.11:8080"

[[virtual_server]]
name = "dns"
address = "10.0.3.100:53"
protocol = "UDP"
lb_kind = "NAT"
[[virtual_server.real_server]]
address = "10.0.3.12:53"

[conn_sync]
interface = "eth0"
"#,
        );
        let guarded = Guarded::of(&config);
        let both = ["eth0".to_owned(), "eth1".to_owned()];
        let all = script(&guarded, &both);
        for rule in [
            "meta pkttype other ip daddr 10.0.3.100 tcp dport 80 tcp flags & (syn | ack) != syn counter meta pkttype set host",
            "meta pkttype other ip saddr 10.0.3.11 tcp sport 8080 tcp flags & (syn | ack) != syn counter meta pkttype set host",
            "meta pkttype other ip daddr 10.0.3.100 udp dport 53 counter meta pkttype set host",
            "meta pkttype other ip saddr 10.0.3.12 udp sport 53 counter meta pkttype set host",
            "meta pkttype other ip daddr 10.0.3.100 tcp dport 80 limit rate 10/second log group 2983",
            "meta pkttype other ip saddr 10.0.3.12 udp sport 53 limit rate 10/second log group 2983",
        ] {
            assert_eq!(all.matches(rule).count(), 2, "{rule}:\n{all}");
        }
        // The instance's interface and the gateway address's own.
        assert!(all.contains("device \"eth0\""), "{all}");
        assert!(all.contains("device \"eth1\""), "{all}");
        assert_eq!(guarded.interfaces().collect::<Vec<_>>(), ["eth0", "eth1"]);
        let only_eth0 = script(&guarded, &both[..1]);
        assert!(!only_eth0.contains("eth1"), "{only_eth0}");
        let none = script(&guarded, &[]);
        assert_eq!(none, removal());
    }
}
