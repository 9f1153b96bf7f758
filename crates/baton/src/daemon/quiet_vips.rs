//! The old master's half of a planned switchover without a stall (see `handoff`): after
//! its priority-0 advertisement it keeps its IPv4 VIPs on the interface, so that its
//! sockets go on sending from them and the new master can hand their packets back, but
//! must no longer claim them: another host owns them now.
//!
//! One nftables table, `arp baton_quiet`: ARP requests for the VIPs get no answer (they
//! are dropped on input), the host's own gratuitous ARPs for them are dropped, and an ARP
//! request the host sends with a VIP as its sender (the kernel takes the address of the
//! packet waiting for the neighbour) says the interface's primary address instead, since
//! a neighbour that hears a request updates its cache from the sender fields and would
//! point the VIP back here. Removed with the addresses at the end of the drain, and at
//! start if a killed run left it.

use std::net::{IpAddr, Ipv4Addr};

use super::syn_gate::{delete_table_if_present, nft};

const TABLE: &str = "baton_quiet";

/// A VIP kept quietly: its device, its address, and the device's primary IPv4 address
/// (None: ARP requests from the VIP are dropped instead of rewritten).
pub(crate) type Kept = (String, Ipv4Addr, Option<Ipv4Addr>);

/// The installed table; [`QuietVips::remove`] deletes it.
#[derive(Debug)]
pub(crate) struct QuietVips(());

impl QuietVips {
    /// Silences the `kept` addresses from now on.
    pub(crate) async fn install(kept: &[Kept]) -> anyhow::Result<QuietVips> {
        nft(&ruleset(kept)).await?;
        Ok(QuietVips(()))
    }

    pub(crate) async fn remove(self) {
        remove_leftover().await;
    }
}

/// The primary IPv4 address of `device`, for [`Kept`].
pub(crate) fn primary(device: &str) -> Option<Ipv4Addr> {
    match baton_net::primary_address(device, baton_net::Family::Ipv4) {
        Ok(IpAddr::V4(address)) => Some(address),
        _ => None,
    }
}

/// Deletes the table if an earlier run left it.
pub(crate) async fn remove_leftover() {
    delete_table_if_present("arp", TABLE).await;
}

fn ruleset(kept: &[Kept]) -> String {
    let mut input = String::new();
    let mut output = String::new();
    for (device, vip, primary) in kept {
        input.push_str(&format!(
            "    arp operation request arp daddr ip {vip} drop\n"
        ));
        output.push_str(&format!("    arp saddr ip {vip} arp daddr ip {vip} drop\n"));
        let sender = match primary {
            Some(primary) => format!("arp saddr ip set {primary}"),
            None => "drop".to_owned(),
        };
        output.push_str(&format!(
            "    oifname \"{device}\" arp saddr ip {vip} {sender}\n"
        ));
    }
    format!(
        "table arp {TABLE} {{}}\n\
         delete table arp {TABLE}\n\
         table arp {TABLE} {{\n\
         \x20 chain input {{\n\
         \x20   type filter hook input priority filter; policy accept;\n\
         {input}\
         \x20 }}\n\
         \x20 chain output {{\n\
         \x20   type filter hook output priority filter; policy accept;\n\
         {output}\
         \x20 }}\n\
         }}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vips_are_neither_answered_nor_announced_nor_used_as_arp_senders() {
        let rules = ruleset(&[
            (
                "eth0".to_owned(),
                "10.0.3.100".parse().expect("v4"),
                Some("10.0.3.12".parse().expect("v4")),
            ),
            ("eth1".to_owned(), "10.0.4.100".parse().expect("v4"), None),
        ]);
        assert!(rules.contains("arp operation request arp daddr ip 10.0.3.100 drop"));
        assert!(rules.contains("arp saddr ip 10.0.3.100 arp daddr ip 10.0.3.100 drop"));
        assert!(
            rules.contains("oifname \"eth0\" arp saddr ip 10.0.3.100 arp saddr ip set 10.0.3.12")
        );
        assert!(rules.contains("oifname \"eth1\" arp saddr ip 10.0.4.100 drop"));
    }
}
