//! What runs on the load balancers in each variant: baton from one keepalived.conf on
//! both (lb2 with the higher priority), and the load balancers' kernel settings.

use std::net::Ipv4Addr;

use anyhow::Result;
use baton_lab::Host;

use crate::topology::{APPS, CLIENT, CLIENT_BEHIND_LB, GATEWAY, VIP, sysctl};
use crate::wire::PORT;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Variant {
    /// LVS-DR, Maglev over the client's address and port: every load balancer computes
    /// the same real server for a flow, and none keeps state.
    BatonDr,
    /// NAT as keepalived runs it without `lvs_sync_daemon`: the new master knows none of
    /// the old master's flows. This kernel has no IPVS, so baton's NAT (nf_tables) stands
    /// in, with conntrack's mid-flow pick-up off (`nf_conntrack_tcp_loose=0`) on both load
    /// balancers: then, as with IPVS (which schedules a TCP flow only on its SYN), a
    /// packet of an unknown flow is not forwarded and the new master's own stack answers
    /// it with a reset.
    NatNoSync,
    /// baton NAT with conntrackd carrying the flows to the backup (issue 16, item 2):
    /// keepalived's `lvs_sync_daemon`, which baton runs as conntrackd in FTFW mode.
    NatConntrackd,
}

impl Variant {
    pub(crate) const ALL: [Variant; 3] =
        [Variant::BatonDr, Variant::NatNoSync, Variant::NatConntrackd];

    pub(crate) fn arg(self) -> &'static str {
        match self {
            Variant::BatonDr => "baton-dr",
            Variant::NatNoSync => "nat-no-sync",
            Variant::NatConntrackd => "baton-nat-conntrackd",
        }
    }

    pub(crate) fn title(self) -> &'static str {
        match self {
            Variant::BatonDr => "baton DR (mh)",
            Variant::NatNoSync => "keepalived-style NAT (no sync)",
            Variant::NatConntrackd => "baton NAT + conntrackd",
        }
    }

    /// Why this variant cannot run here, if it cannot.
    pub(crate) fn unavailable(self) -> Option<String> {
        let conntrackd = crate::common::programs::find("conntrackd");
        (self == Variant::NatConntrackd && conntrackd.is_none())
            .then(|| "conntrackd is not installed (apt-get install conntrackd)".into())
    }

    /// Where the client's connections come from: NAT answers must pass the load
    /// balancer, so NAT clients use the subnet the apps reach through their gateway.
    pub(crate) fn client_source(self) -> Ipv4Addr {
        match self {
            Variant::BatonDr => CLIENT,
            Variant::NatNoSync | Variant::NatConntrackd => CLIENT_BEHIND_LB,
        }
    }

    /// Kernel settings of a load balancer before its daemon starts.
    pub(crate) fn prepare(self, lb: &Host) -> Result<()> {
        if self == Variant::NatNoSync {
            sysctl(lb, "net.netfilter.nf_conntrack_tcp_loose", "0")?;
        }
        Ok(())
    }

    /// The keepalived.conf of load balancer `router` with `priority`: one VRRPv3
    /// instance (advert 100 ms) with the service address and the apps' gateway, and the
    /// service over both apps, each checked by TCP_CHECK.
    pub(crate) fn config(self, router: &str, priority: u8) -> String {
        let (kind, algo) = match self {
            Variant::BatonDr => ("DR", "lb_algo mh\n    mh-port"),
            Variant::NatNoSync | Variant::NatConntrackd => ("NAT", "lb_algo rr"),
        };
        // keepalived's lvs_sync_daemon, which baton maps onto conntrackd (docs/conn-sync.md):
        // the one LAN carries the sync messages too, multicast to conntrackd's group.
        let sync = match self {
            Variant::NatConntrackd => "    lvs_sync_daemon eth0 inst VI_1\n",
            _ => "",
        };
        let mut servers = String::new();
        for (_, address) in APPS {
            servers.push_str(&format!(
                "    real_server {address} {PORT} {{\n        TCP_CHECK {{\n            \
                 connect_timeout 1\n        }}\n    }}\n"
            ));
        }
        format!(
            "global_defs {{\n    router_id {router}\n    vrrp_version 3\n{sync}}}\n\
             vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    \
             virtual_router_id 51\n    priority {priority}\n    advert_int 0.1\n    \
             virtual_ipaddress {{\n        {VIP}/24\n        {GATEWAY}/24\n    }}\n}}\n\
             virtual_server {VIP} {PORT} {{\n    delay_loop 1\n    {algo}\n    \
             lb_kind {kind}\n    protocol TCP\n{servers}}}\n"
        )
    }
}
