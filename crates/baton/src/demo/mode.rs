//! The two stories `baton demo` tells on the same lab: the load balancers as HTTP proxies
//! (L7, the default), or balancing TCP connections in the kernel as keepalived's
//! `virtual_server` does (L4, `--l4`). Here is everything in which they differ but the
//! L4 story's extra chapter, so that the rest of the demo is written once.

use crate::status::Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `[[frontend]]` and `[[backend]]`: each load balancer proxies HTTP on the VIP.
    L7,
    /// `[[virtual_server]]`: nf_tables rules send each connection to an app (NAT, with
    /// source NAT), and app2 is stopped and started again before the cable is cut.
    L4,
}

impl Mode {
    /// The servers a load balancer balances over, as its `baton status` shows them: each
    /// address, and whether it takes new requests.
    pub(crate) fn servers(self, status: &Status) -> Vec<(&str, bool)> {
        match self {
            Mode::L7 => status
                .backends
                .iter()
                .map(|server| (server.address.as_str(), server.up))
                .collect(),
            Mode::L4 => status
                .virtual_servers
                .iter()
                .flat_map(|service| &service.real_servers)
                .map(|server| (server.address.as_str(), server.up))
                .collect(),
        }
    }

    /// What each load balancer does with the VIP's port 80, for the introduction:
    /// "... and {how} 10.0.3.100:80 to app1 ...".
    pub(crate) fn how(self) -> &'static str {
        match self {
            Mode::L7 => "each proxies",
            Mode::L4 => "each forwards TCP\n  connections for",
        }
    }

    /// What the load balancer did with a request, for the introduction.
    pub(crate) fn passed(self) -> &'static str {
        match self {
            Mode::L7 => "proxied",
            Mode::L4 => "forwarded",
        }
    }

    /// The introduction's lines about what only this mode does, each ending in "\n  ".
    pub(crate) fn intro_extra(self) -> &'static str {
        match self {
            Mode::L7 => "",
            Mode::L4 => {
                "They balance in the kernel (nf_tables NAT, with source NAT), as keepalived's\n  \
                 virtual_server does with IPVS, and check the apps with TCP_CHECK. app2 is\n  \
                 stopped and started again before lb2's cable is cut.\n  "
            }
        }
    }

    /// The programs the load balancers run besides baton, and what for; the demo checks
    /// for them before it builds anything.
    pub(crate) fn tools(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Mode::L7 => &[],
            Mode::L4 => &[
                (
                    "nft",
                    "baton writes the virtual server's rules with it (nftables)",
                ),
                (
                    "sysctl",
                    "the demo turns IPv4 forwarding on in lb1 and lb2 with it (procps)",
                ),
            ],
        }
    }

    /// The `baton demo` flags that print this mode's config.
    pub(crate) fn print_config_flags(self) -> &'static str {
        match self {
            Mode::L7 => "--print-config",
            Mode::L4 => "--l4 --print-config",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{RealServerEntry, VirtualServerEntry};

    #[test]
    fn each_mode_reads_its_own_servers() {
        let mut service = VirtualServerEntry::example();
        service.real_servers.push(RealServerEntry {
            address: "10.0.3.12:80".into(),
            up: false,
            ..service.real_servers[0].clone()
        });
        let status = Status {
            virtual_servers: vec![service],
            ..Status::default()
        };
        assert_eq!(
            Mode::L4.servers(&status),
            [("10.0.3.11:80", true), ("10.0.3.12:80", false)]
        );
        assert!(Mode::L7.servers(&status).is_empty());
    }
}
