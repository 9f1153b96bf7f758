//! The stories `baton demo` tells on the same lab: the load balancers as HTTP proxies
//! (L7, the default), balancing TCP connections in the kernel as keepalived's
//! `virtual_server` does (L4, `--l4`), or as HTTP proxies both serving, one VIP each
//! (`--active-active`). Here is everything in which they differ but each story's own
//! chapters, so that the rest of the demo is written once.

use std::time::Duration;

use crate::cli::DemoArgs;
use crate::status::Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `[[frontend]]` and `[[backend]]`: each load balancer proxies HTTP on the VIP.
    L7,
    /// `[[virtual_server]]`: nf_tables rules send each connection to an app (NAT, with
    /// source NAT), and app2 is stopped and started again before the cable is cut.
    L4,
    /// `[[frontend]]` and `[[backend]]` on two VIPs, each load balancer master of one and
    /// backup of the other; the client sends to both in turn.
    ActiveActive,
}

impl Mode {
    /// The story `baton demo`'s flags ask for (clap lets at most one be given).
    pub(crate) fn of(args: &DemoArgs) -> Mode {
        if args.l4 {
            Mode::L4
        } else if args.active_active {
            Mode::ActiveActive
        } else {
            Mode::L7
        }
    }

    /// The virtual addresses the load balancers share, and the client sends to in turn;
    /// lb2 is master of the first.
    pub(crate) fn vips(self) -> &'static [&'static str] {
        match self {
            Mode::L7 | Mode::L4 => &["10.0.3.100"],
            Mode::ActiveActive => &["10.0.3.100", "10.0.3.101"],
        }
    }

    /// Between two requests of the client: each VIP gets one every 100 ms.
    pub(crate) fn client_interval(self) -> Duration {
        Duration::from_millis(100) / u32::try_from(self.vips().len()).unwrap_or(1)
    }

    /// The servers a load balancer balances over, as its `baton status` shows them: each
    /// address, and whether it takes new requests.
    pub(crate) fn servers(self, status: &Status) -> Vec<(&str, bool)> {
        match self {
            Mode::L7 | Mode::ActiveActive => status
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
            Mode::L7 | Mode::ActiveActive => "each proxies",
            Mode::L4 => "each forwards TCP\n  connections for",
        }
    }

    /// What the load balancer did with a request, for the introduction.
    pub(crate) fn passed(self) -> &'static str {
        match self {
            Mode::L7 | Mode::ActiveActive => "proxied",
            Mode::L4 => "forwarded",
        }
    }

    /// The introduction's lines about what only this mode does, each ending in "\n  ".
    pub(crate) fn intro_extra(self) -> &'static str {
        match self {
            Mode::L7 | Mode::ActiveActive => "",
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
            Mode::L7 | Mode::ActiveActive => &[],
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
            Mode::ActiveActive => "--active-active --print-config",
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

    #[test]
    fn each_vip_gets_a_request_every_100_ms() {
        assert_eq!(Mode::L7.client_interval(), Duration::from_millis(100));
        assert_eq!(Mode::ActiveActive.vips().len(), 2);
        assert_eq!(
            Mode::ActiveActive.client_interval(),
            Duration::from_millis(50)
        );
    }
}
