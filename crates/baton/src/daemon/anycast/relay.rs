//! Connections that survive a change of the load balancer set: daisy chaining among the
//! `peers` of an `[[anycast]]` section, as the Beamer load balancer (NSDI'18) does it, with
//! no protocol between the load balancers.
//!
//! When a load balancer withdraws its routes (or announces them), the routers' ECMP hash
//! sends some established flows to another load balancer: the leaving one's, and, since
//! Linux splits the hash space into one range per nexthop, some of the staying ones' too.
//! An L7 connection lives in one host's sockets, so the host the packets now reach would
//! answer them with a reset. Instead, a packet that conntrack does not know and that does
//! not open a connection (not a bare SYN) is cloned to every peer (`dup to`, the peer's
//! address as the next hop, the IP header unchanged) and dropped here; the peer that holds
//! the connection takes it, the others drop their clone.
//!
//! One nftables table per family (`dup` is not in `inet`), `ip baton_anycast_relay` and
//! `ip6 baton_anycast_relay`, in prerouting after conntrack, for TCP to the section's
//! prefixes on the ports of the frontends listening there (L4 DR services on the same
//! prefixes are left alone: with Maglev a moved flow meets the same real server anyway).
//! Installed before the frontends accept, so that conntrack has seen every local flow open,
//! kept through the drain, and deleted at the very end of a stop (and at start if a killed
//! run left it). Normal traffic pays one conntrack lookup; only packets of flows this host
//! does not know are cloned. Mid-stream packets are "new" to conntrack only while
//! `nf_conntrack_tcp_loose` is on (the default); FIN and RST of an unknown flow are
//! "invalid", and relayed as well.
//!
//! A clone is never relayed again: its TTL (IPv6: hop limit) is set to 1 before `dup`,
//! which decrements it once more in prerouting (nf_dup_ipv4.c, nf_dup_ipv6.c), so clones
//! arrive with TTL 0. No router forwards a packet with a TTL below 2, so TTL 0 arriving
//! here is a peer's clone, whatever link it came by; local delivery does not look at the
//! TTL. A clone of a flow this host does not know either is dropped, not answered with a
//! reset: another peer may own it.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr, UdpSocket};

use baton_config::{Anycast, AnycastPrefix, Config};

use crate::daemon::syn_gate::{delete_table_if_present, nft};

const TABLE: &str = "baton_anycast_relay";

/// The two families' tables, as last installed.
#[derive(Debug, Default)]
pub(super) struct Relay {
    installed: Option<Rulesets>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rulesets {
    ipv4: Option<String>,
    ipv6: Option<String>,
}

impl Relay {
    /// Puts `config`'s relay in place, replacing whatever is there (a killed run's tables
    /// too); unchanged rules are left as they are. Conntrack, not the table, holds the
    /// flows, so a replaced table forgets nothing.
    pub(super) async fn install(&mut self, config: &Config) {
        let wanted = Rulesets {
            ipv4: ruleset(config, Family::Ipv4, is_local),
            ipv6: ruleset(config, Family::Ipv6, is_local),
        };
        if self.installed.as_ref() == Some(&wanted) {
            return;
        }
        for (family, rules) in [("ip", &wanted.ipv4), ("ip6", &wanted.ipv6)] {
            match rules {
                Some(rules) => match nft(rules).await {
                    Ok(()) => tracing::info!(
                        "anycast: connections other load balancers hold are relayed to them \
                         ({family} {TABLE})"
                    ),
                    Err(error) => tracing::error!(
                        "anycast: cannot relay connections to the peers, those the routers \
                         move will be reset: {error:#}"
                    ),
                },
                None => delete_table_if_present(family, TABLE).await,
            }
        }
        self.installed = Some(wanted);
    }

    /// Removes the tables (the end of a stop, after the drain).
    pub(super) async fn remove(&mut self) {
        if let Some(installed) = self.installed.take() {
            for (family, rules) in [("ip", installed.ipv4), ("ip6", installed.ipv6)] {
                if rules.is_some() {
                    delete_table_if_present(family, TABLE).await;
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    fn of(address: IpAddr) -> Family {
        if address.is_ipv4() {
            Family::Ipv4
        } else {
            Family::Ipv6
        }
    }

    /// nft's family, its header's name, and the TTL field.
    fn words(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Family::Ipv4 => ("ip", "ip", "ttl"),
            Family::Ipv6 => ("ip6", "ip6", "hoplimit"),
        }
    }
}

/// Whether `address` is one of this host's (a socket can be bound to it).
fn is_local(address: IpAddr) -> bool {
    UdpSocket::bind(SocketAddr::new(address, 0)).is_ok()
}

/// The ports of the frontends listening on an address of `prefix`, or on every address of
/// its family (a wildcard; `[::]` takes IPv4 too, as Linux's dual-stack sockets do).
fn ports(config: &Config, prefix: &AnycastPrefix) -> BTreeSet<u16> {
    config
        .frontends
        .iter()
        .map(|frontend| frontend.listen)
        .filter(|listen| {
            let ip = listen.ip();
            prefix.contains(ip)
                || (ip.is_unspecified() && (ip.is_ipv6() || prefix.address.is_ipv4()))
        })
        .map(|listen| listen.port())
        .collect()
}

/// One family's table, or None when no section relays anything in it: a chain per
/// section with peers in that family, which the prefixes' frontend ports jump to.
fn ruleset(config: &Config, family: Family, is_local: impl Fn(IpAddr) -> bool) -> Option<String> {
    let (nft_family, header, ttl) = family.words();
    let mut dispatch = String::new();
    let mut chains = String::new();
    for (index, section) in config.anycasts.iter().enumerate() {
        let peers: Vec<IpAddr> = section
            .peers
            .iter()
            .copied()
            .filter(|&peer| Family::of(peer) == family && !is_local(peer))
            .collect();
        let chain = format!("section{index}");
        let mut jumps = String::new();
        for prefix in &section.prefixes {
            let ports = ports(config, prefix);
            if Family::of(prefix.address) != family || ports.is_empty() {
                continue;
            }
            let ports: Vec<String> = ports.iter().map(ToString::to_string).collect();
            jumps.push_str(&format!(
                "\x20   {header} daddr {prefix} tcp dport {{ {} }} jump {chain}\n",
                ports.join(", ")
            ));
        }
        if peers.is_empty() || jumps.is_empty() {
            continue;
        }
        dispatch.push_str(&format!("\x20   # anycast {}\n{jumps}", section.name));
        chains.push_str(&section_chain(section, &chain, &peers, header, ttl));
    }
    if dispatch.is_empty() {
        return None;
    }
    Some(format!(
        "table {nft_family} {TABLE} {{}}\n\
         delete table {nft_family} {TABLE}\n\
         table {nft_family} {TABLE} {{\n\
         \x20 counter relayed {{}}\n\
         \x20 counter foreign_clones {{}}\n\
         \x20 chain prerouting {{\n\
         \x20   type filter hook prerouting priority mangle; policy accept;\n\
         {dispatch}\
         \x20 }}\n\
         {chains}\
         }}\n"
    ))
}

/// A section's chain: flows this host knows and new ones stay; a peer's clone of a flow it
/// does not know either is dropped; any other packet goes to every peer, not here.
fn section_chain(
    section: &Anycast,
    chain: &str,
    peers: &[IpAddr],
    header: &str,
    ttl: &str,
) -> String {
    let device = section
        .interface
        .as_ref()
        .map(|name| format!(" device \"{name}\""))
        .unwrap_or_default();
    let mut relay = format!("{header} {ttl} set 1");
    for peer in peers {
        relay.push_str(&format!(" dup to {peer}{device}"));
    }
    format!(
        "\x20 chain {chain} {{\n\
         \x20   ct state established,related accept\n\
         \x20   tcp flags & (fin | syn | rst | ack) == syn accept\n\
         \x20   {header} {ttl} 0 counter name foreign_clones drop\n\
         \x20   counter name relayed {relay} drop\n\
         \x20 }}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(listen: &str, anycast: &str) -> Config {
        let text = format!(
            "[[frontend]]\nname = \"web\"\nlisten = \"{listen}\"\nbackend = \"app\"\n\n\
             [[backend]]\nname = \"app\"\nservers = [\"127.0.0.1:8080\"]\n\n\
             [[anycast]]\nname = \"web\"\n{anycast}\n"
        );
        baton_config::parse_toml(&text, "test.toml")
            .expect("valid")
            .config
    }

    fn local(address: &str) -> impl Fn(IpAddr) -> bool {
        let address: IpAddr = address.parse().expect("address");
        move |peer| peer == address
    }

    #[test]
    fn unknown_flows_to_the_frontends_go_to_every_other_peer() {
        let config = config(
            "10.0.9.100:80",
            "prefixes = [\"10.0.9.100/32\"]\ninterface = \"eth0\"\n\
             peers = [\"10.0.3.5\", \"10.0.3.6\", \"10.0.3.7\"]",
        );
        let rules = ruleset(&config, Family::Ipv4, local("10.0.3.6")).expect("a table");
        assert!(rules.contains("ip daddr 10.0.9.100/32 tcp dport { 80 } jump section0"));
        assert!(rules.contains("priority mangle"), "after conntrack");
        assert!(
            rules.contains(
                "ip ttl set 1 dup to 10.0.3.5 device \"eth0\" dup to 10.0.3.7 device \"eth0\" drop"
            ),
            "its own address is skipped:\n{rules}"
        );
        // Known flows and new ones first, then the clones, then the relay.
        let order = [
            "ct state established,related accept",
            "== syn accept",
            "ip ttl 0 counter name foreign_clones drop",
            "counter name relayed ip ttl set 1",
        ]
        .map(|rule| rules.find(rule).expect(rule));
        assert!(order.is_sorted(), "{rules}");
        assert_eq!(ruleset(&config, Family::Ipv6, local("10.0.3.6")), None);
    }

    #[test]
    fn ipv6_uses_the_hop_limit_and_a_wildcard_listener_counts() {
        let config = config(
            "[::]:443",
            "prefixes = [\"10.0.9.100/32\", \"fd00:9::100/128\"]\n\
             peers = [\"fd00:0:0:3::6\", \"10.0.3.6\"]",
        );
        let rules = ruleset(&config, Family::Ipv6, |_| false).expect("a table");
        assert!(rules.contains("ip6 daddr fd00:9::100/128 tcp dport { 443 } jump section0"));
        assert!(
            rules.contains("ip6 hoplimit set 1 dup to fd00:0:0:3::6 drop"),
            "{rules}"
        );
        assert!(
            !rules.contains("10.0.3.6"),
            "an IPv4 peer in the IPv6 table"
        );
        let v4 = ruleset(&config, Family::Ipv4, |_| false).expect("a table");
        assert!(v4.contains("ip daddr 10.0.9.100/32 tcp dport { 443 }"));
    }

    #[test]
    fn no_peers_or_no_frontend_there_is_no_table() {
        let alone = config("10.0.9.100:80", "prefixes = [\"10.0.9.100/32\"]");
        assert_eq!(ruleset(&alone, Family::Ipv4, |_| false), None);
        let elsewhere = config(
            "10.0.3.100:80",
            "prefixes = [\"10.0.9.100/32\"]\npeers = [\"10.0.3.6\"]",
        );
        assert_eq!(ruleset(&elsewhere, Family::Ipv4, |_| false), None);
        let only_me = config(
            "10.0.9.100:80",
            "prefixes = [\"10.0.9.100/32\"]\npeers = [\"10.0.3.6\"]",
        );
        assert_eq!(ruleset(&only_me, Family::Ipv4, local("10.0.3.6")), None);
    }
}
