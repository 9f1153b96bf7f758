//! The lab: one bridge, a client, one load balancer, two app servers, in namespaces this
//! run creates (and the lab removes, also on Ctrl-C). Everything below is set with `ip` and
//! `sysctl` inside those namespaces; the root namespace is never touched.
//!
//! ```text
//!   client 10.0.3.50 + 10.0.4.50 ─┐
//!   lb     10.0.3.5 (+ VIP 10.0.3.100) ─┤ br0
//!   app1   10.0.3.11 (VIP on lo) ─┤
//!   app2   10.0.3.12 (VIP on lo) ─┘
//! ```
//!
//! NAT's answers must pass the lb on their way back to undo the address rewrite, so NAT
//! clients leave from 10.0.4.50, a subnet the apps reach only through the lb (their route
//! `10.0.4.0/24 via 10.0.3.5`), and the lb forwards. Everything else leaves from 10.0.3.50,
//! which the apps answer on the link: the direct path, DR (the apps answer from the VIP they
//! hold on lo) and HAProxy (whose own sockets answer).

use std::net::{Ipv4Addr, SocketAddr};

use anyhow::{Context, Result};
use baton_lab::{Host, Lab};

use crate::wire::PORT;

/// The service address, as the lb holds it on eth0 (what baton's VRRP instance adds, and
/// what [`crate::common::lab::holds`] looks for).
pub(crate) const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 3, 100);
pub(crate) const LB: Ipv4Addr = Ipv4Addr::new(10, 0, 3, 5);
pub(crate) const APPS: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 0, 3, 11), Ipv4Addr::new(10, 0, 3, 12)];
/// The client's address on the apps' subnet.
pub(crate) const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 3, 50);
/// The client's address that the apps reach only through the lb.
pub(crate) const CLIENT_BEHIND_LB: Ipv4Addr = Ipv4Addr::new(10, 0, 4, 50);
const BEHIND_LB_NET: &str = "10.0.4.0/24";

/// The lab, configured.
#[derive(Debug)]
pub(crate) struct Topology {
    lab: Lab,
}

impl Topology {
    pub(crate) fn build() -> Result<Topology> {
        let lab = Lab::builder()
            .prefix("lfour")
            .host("lb", format!("{LB}/24"))
            .host("app1", format!("{}/24", APPS[0]))
            .host("app2", format!("{}/24", APPS[1]))
            .host("client", format!("{CLIENT}/24"))
            .build()
            .context("building the lab")?;
        let topology = Topology { lab };
        topology.configure()?;
        Ok(topology)
    }

    fn configure(&self) -> Result<()> {
        let client = self.client();
        run(
            client,
            "ip",
            &[
                "addr",
                "add",
                &format!("{CLIENT_BEHIND_LB}/24"),
                "dev",
                "eth0",
            ],
        )?;
        // Every connection of a run takes a fresh source port; the full range makes each
        // port come round less often (the apps keep TIME_WAIT for their side).
        sysctl(client, "net.ipv4.ip_local_port_range", "1024 65535")?;

        let lb = self.lb();
        run(lb, "ip", &["route", "add", BEHIND_LB_NET, "dev", "eth0"])?;
        sysctl(lb, "net.ipv4.ip_forward", "1")?;
        // Client and apps are on the lb's one interface: forwarding back out of it would
        // otherwise make the lb send ICMP redirects for every NAT answer.
        for conf in ["all", "default", "eth0"] {
            sysctl(lb, &format!("net.ipv4.conf.{conf}.send_redirects"), "0")?;
        }
        sysctl(lb, "net.ipv4.ip_local_port_range", "1024 65535")?;

        for app in self.apps() {
            run(
                app,
                "ip",
                &["route", "add", BEHIND_LB_NET, "via", &LB.to_string()],
            )?;
            crate::common::lab::make_dr_real_server(app, VIP).map_err(anyhow::Error::msg)?;
        }
        Ok(())
    }

    pub(crate) fn lb(&self) -> &Host {
        self.lab.host("lb")
    }

    pub(crate) fn client(&self) -> &Host {
        self.lab.host("client")
    }

    pub(crate) fn apps(&self) -> [&Host; 2] {
        [self.lab.host("app1"), self.lab.host("app2")]
    }

    /// The lb's state between variants: no nft tables, no conntrack entries, no VIP.
    /// Every variant starts from it and is taken back to it.
    pub(crate) fn reset_lb(&self) -> Result<()> {
        let lb = self.lb();
        run(lb, "nft", &["flush", "ruleset"])?;
        // Entries of the last NAT variant would otherwise decide where a reused client
        // port's packets go for the next one. `conntrack -F` fails when the table is empty
        // on some versions: its result is not needed.
        let _ = lb.run("conntrack", &["-F"]);
        if crate::common::lab::holds(lb) {
            remove_vip(lb)?;
        }
        Ok(())
    }
}

/// The app servers' addresses with the port.
pub(crate) fn app_addresses() -> Vec<SocketAddr> {
    APPS.iter().map(|&a| SocketAddr::from((a, PORT))).collect()
}

pub(crate) fn service() -> SocketAddr {
    SocketAddr::from((VIP, PORT))
}

/// Adds the VIP to the lb's eth0, as a VRRP master would (for the variants without baton).
pub(crate) fn add_vip(lb: &Host) -> Result<()> {
    run(
        lb,
        "ip",
        &["addr", "add", crate::common::lab::VIP, "dev", "eth0"],
    )
}

pub(crate) fn remove_vip(lb: &Host) -> Result<()> {
    run(
        lb,
        "ip",
        &["addr", "del", crate::common::lab::VIP, "dev", "eth0"],
    )
}

pub(crate) fn run(host: &Host, program: &str, args: &[&str]) -> Result<()> {
    host.run(program, args)
        .map(drop)
        .with_context(|| format!("{}: {program} {}", host.name(), args.join(" ")))
}

fn sysctl(host: &Host, key: &str, value: &str) -> Result<()> {
    run(host, "sysctl", &["-q", "-w", &format!("{key}={value}")])
}
