//! RFC 5798 §6.4.3's Accept_Mode off (keepalived's `no_accept`, the default of strict mode):
//! a master that is not the address owner "MUST NOT accept packets addressed to the IPvX
//! address(es) associated with the virtual router". keepalived 2.2.7 does it with an
//! nftables table (`in`: `daddr @vips drop`, `out`: `saddr @vips drop`, ICMPv6 neighbour
//! discovery excepted); baton does the same in a table of its own, `inet baton_vrrp`.
//!
//! The table is written whole with `nft -f -` (`add` + `delete` + the new table in one
//! transaction, so there is never a moment without rules, nor an error when there was no
//! table) each time the set of dropping masters changes, and deleted when none is left.
//! Rewriting a table of a few rules on a state transition costs one `nft` run, which keeps
//! it apart from the L4 crate's `inet baton` transaction and needs no set bookkeeping.
//!
//! Unlike keepalived, the ports baton itself serves on those addresses (its frontends and
//! `IP PORT` virtual servers) are let through before the drop: a baton master must not
//! blackhole the service it runs; `baton check` warns of the configuration all the same
//! (anything else listening there, and keepalived with the same file, gets nothing).
//!
//! A daemon that was killed leaves the table behind, and it would drop traffic to addresses
//! this host may hold again; the start replaces it ([`NoAccept::new`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use baton_config::{Config, OwnListener, VrrpInstance, own_listeners};
use baton_vrrp::VipAction;

use super::syn_gate::nft;

const TABLE: &str = "baton_vrrp";

/// The masters that drop traffic to their addresses, and the table that does it.
#[derive(Debug)]
pub(crate) struct NoAccept {
    /// Instance name -> its addresses (virtual and excluded), while it is a dropping master.
    dropping: BTreeMap<String, Vec<IpAddr>>,
    listeners: Vec<OwnListener>,
    installed: bool,
}

impl NoAccept {
    /// Removes a table an earlier run left (see the module's doc).
    pub(crate) async fn new(config: &Config) -> NoAccept {
        let mut no_accept = NoAccept {
            dropping: BTreeMap::new(),
            listeners: own_listeners(config),
            installed: true,
        };
        no_accept.write().await;
        no_accept
    }

    /// Follows the engine's address actions: an `Add` without accept starts dropping, any
    /// other `Add` or a `Remove` stops.
    pub(crate) async fn apply(&mut self, instance: &VrrpInstance, action: &VipAction) {
        let changed = match action {
            VipAction::Add { accept: false, .. } => {
                let addresses = instance.all_addresses().map(|v| v.address).collect();
                self.dropping
                    .insert(instance.name.clone(), addresses)
                    .is_none()
            }
            VipAction::Add { accept: true, .. } | VipAction::Remove { .. } => {
                self.dropping.remove(&instance.name).is_some()
            }
            VipAction::Announce { .. } => false,
        };
        if changed {
            self.write().await;
        }
    }

    /// A reload: baton's own listeners may have changed.
    pub(crate) async fn reconfigure(&mut self, config: &Config) {
        let listeners = own_listeners(config);
        if listeners != self.listeners {
            self.listeners = listeners;
            if !self.dropping.is_empty() {
                self.write().await;
            }
        }
    }

    /// The daemon stops: nothing is dropped any more.
    pub(crate) async fn clear(&mut self) {
        self.dropping.clear();
        self.write().await;
    }

    async fn write(&mut self) {
        if self.dropping.is_empty() && !self.installed {
            return;
        }
        let addresses: Vec<IpAddr> = self.dropping.values().flatten().copied().collect();
        match nft(&ruleset(&addresses, &self.listeners)).await {
            Ok(()) => {
                self.installed = !addresses.is_empty();
                if self.installed {
                    tracing::info!(
                        ?addresses,
                        "no_accept: dropping traffic to these addresses (table inet {TABLE})"
                    );
                }
            }
            Err(error) if addresses.is_empty() => {
                tracing::debug!("no_accept: removing table inet {TABLE}: {error:#}");
                self.installed = false;
            }
            Err(error) => tracing::error!(
                ?addresses,
                "no_accept: {error:#}: traffic to these addresses is NOT dropped, as no_accept / strict mode asks"
            ),
        }
    }
}

/// The whole transaction: the old table goes (created first, so that deleting never
/// fails), the new one comes if there is anything to drop.
fn ruleset(addresses: &[IpAddr], listeners: &[OwnListener]) -> String {
    let mut script = format!("add table inet {TABLE}\ndelete table inet {TABLE}\n");
    if addresses.is_empty() {
        return script;
    }
    let mut input = String::new();
    let mut output = String::new();
    for address in addresses {
        let family = family(*address);
        if address.is_ipv6() {
            // keepalived keeps neighbour discovery: without it nobody could reach the
            // address's MAC, nor the master answer for it.
            let nd = "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept";
            let _ = writeln!(input, "    {family} daddr {address} {nd}");
            let _ = writeln!(output, "    {family} saddr {address} {nd}");
        }
        for listener in listeners.iter().filter(|l| l.serves(*address)) {
            let protocol = listener.protocol.as_str();
            let port = listener.address.port();
            let _ = writeln!(
                input,
                "    {family} daddr {address} {protocol} dport {port} accept comment \"{}\"",
                listener.what
            );
            let _ = writeln!(
                output,
                "    {family} saddr {address} {protocol} sport {port} accept comment \"{}\"",
                listener.what
            );
        }
        let _ = writeln!(input, "    {family} daddr {address} drop");
        let _ = writeln!(output, "    {family} saddr {address} drop");
    }
    let _ = write!(
        script,
        "table inet {TABLE} {{\n  chain in {{\n    type filter hook input priority -1; policy accept;\n{input}  }}\n  chain out {{\n    type filter hook output priority -1; policy accept;\n{output}  }}\n}}\n"
    );
    script
}

fn family(address: IpAddr) -> &'static str {
    if address.is_ipv4() { "ip" } else { "ip6" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(address: &str) -> OwnListener {
        OwnListener {
            protocol: baton_config::L4Protocol::Tcp,
            address: address.parse().expect("socket address"),
            what: "frontend web".into(),
            location: baton_config::Location::new("b.toml", 1),
        }
    }

    #[test]
    fn drops_to_and_from_the_addresses_but_baton_own_ports_and_neighbour_discovery() {
        let script = ruleset(
            &[
                "10.0.3.100".parse().expect("v4"),
                "2001:db8::1".parse().expect("v6"),
            ],
            &[
                listener("10.0.3.100:80"),
                listener("[::]:443"),
                listener("10.0.9.9:22"),
            ],
        );
        assert!(script.starts_with("add table inet baton_vrrp\ndelete table inet baton_vrrp\n"));
        for rule in [
            "ip daddr 10.0.3.100 tcp dport 80 accept",
            "ip saddr 10.0.3.100 tcp sport 80 accept",
            "ip daddr 10.0.3.100 drop",
            "ip saddr 10.0.3.100 drop",
            "ip6 daddr 2001:db8::1 icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept",
            "ip6 daddr 2001:db8::1 tcp dport 443 accept",
            "ip6 daddr 2001:db8::1 drop",
        ] {
            assert!(script.contains(rule), "{rule} missing from:\n{script}");
        }
        assert!(!script.contains("dport 22"), "{script}");
        // The exceptions come before the drop.
        assert!(script.find("dport 80 accept") < script.find("10.0.3.100 drop"));
    }

    #[test]
    fn nothing_to_drop_only_removes_the_table() {
        assert_eq!(
            ruleset(&[], &[listener("10.0.3.100:80")]),
            "add table inet baton_vrrp\ndelete table inet baton_vrrp\n"
        );
    }
}
