//! The lab: one bridge, a client, two load balancers, two app servers, in namespaces this
//! run creates (and the lab removes, also on Ctrl-C). Everything is set with `ip` and
//! `sysctl` inside those namespaces; the root namespace is never touched.
//!
//! ```text
//!   client 10.0.3.50 + 10.0.4.50 ─┐
//!   lb1    10.0.3.5  ─────────────┤
//!   lb2    10.0.3.6  ─────────────┤ br0    VIPs (on the master): 10.0.3.100 (service),
//!   app1   10.0.3.11 (VIP on lo) ─┤                              10.0.3.254 (apps' gateway)
//!   app2   10.0.3.12 (VIP on lo) ─┘
//! ```
//!
//! DR clients leave from 10.0.3.50: the apps answer them on the link, from the VIP they hold
//! on lo (arp_ignore=1, arp_announce=2). NAT clients leave from 10.0.4.50, a subnet the apps
//! reach only through their gateway 10.0.3.254, a VIP of the load balancers' instance, so
//! answers pass the master (which undoes the address rewrite) whichever host it is.

use std::net::{Ipv4Addr, SocketAddr};

use anyhow::{Context, Result, bail};
use baton_lab::{Host, Lab};

use crate::wire::PORT;

pub(crate) const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 3, 100);
pub(crate) const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 3, 254);
pub(crate) const LBS: [(&str, &str); 2] = [("lb1", "10.0.3.5"), ("lb2", "10.0.3.6")];
pub(crate) const APPS: [(&str, &str); 2] = [("app1", "10.0.3.11"), ("app2", "10.0.3.12")];
/// The client's address on the apps' link (DR).
pub(crate) const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 3, 50);
/// The client's address the apps reach only through their gateway (NAT).
pub(crate) const CLIENT_BEHIND_LB: Ipv4Addr = Ipv4Addr::new(10, 0, 4, 50);
const BEHIND_LB_NET: &str = "10.0.4.0/24";

/// The switch's table that silences a host.
const SILENCE: &str = "flow_bench_silence";

/// How the master fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Fault {
    /// Its switch port goes down, as when its cable is pulled or it loses power: the
    /// switch forgets its MAC and floods frames sent to it to every port until the new
    /// master's gratuitous ARP moves the senders.
    LinkCut,
    /// The switch drops every frame from and to it while its port stays up, as for a host
    /// whose kernel hangs: its MAC stays learned, so frames sent to it are lost, not
    /// flooded, until the gratuitous ARP.
    Silent,
}

impl Fault {
    pub(crate) const ALL: [Fault; 2] = [Fault::LinkCut, Fault::Silent];

    pub(crate) fn arg(self) -> &'static str {
        match self {
            Fault::LinkCut => "link-cut",
            Fault::Silent => "silent",
        }
    }

    pub(crate) fn title(self) -> &'static str {
        match self {
            Fault::LinkCut => "link cut",
            Fault::Silent => "silent (link up)",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Topology {
    lab: Lab,
}

impl Topology {
    pub(crate) fn build() -> Result<Topology> {
        let mut builder = Lab::builder()
            .prefix("fsurv")
            .host("client", format!("{CLIENT}/24"));
        for (name, address) in LBS.iter().chain(&APPS) {
            builder = builder.host(*name, format!("{address}/24"));
        }
        let topology = Topology {
            lab: builder.build().context("building the lab")?,
        };
        topology.configure()?;
        Ok(topology)
    }

    fn configure(&self) -> Result<()> {
        let client = self.host("client");
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
        sysctl(client, "net.ipv4.ip_local_port_range", "1024 65535")?;
        for (lb, _) in LBS {
            let lb = self.host(lb);
            run(lb, "ip", &["route", "add", BEHIND_LB_NET, "dev", "eth0"])?;
            sysctl(lb, "net.ipv4.ip_forward", "1")?;
            // Client and apps are on the lb's one interface: forwarding back out of it
            // would otherwise make the lb send ICMP redirects for every NAT answer.
            for conf in ["all", "default", "eth0"] {
                sysctl(lb, &format!("net.ipv4.conf.{conf}.send_redirects"), "0")?;
            }
        }
        for (app, _) in APPS {
            let app = self.host(app);
            run(
                app,
                "ip",
                &["route", "add", BEHIND_LB_NET, "via", &GATEWAY.to_string()],
            )?;
            crate::common::lab::make_dr_real_server(app, VIP).map_err(anyhow::Error::msg)?;
        }
        Ok(())
    }

    pub(crate) fn host(&self, name: &str) -> &Host {
        self.lab.host(name)
    }

    /// `fault` on `lb`, or (`on` false) undone.
    pub(crate) fn fault(&self, fault: Fault, lb: &str, on: bool) -> Result<()> {
        let host = self.host(lb);
        match (fault, on) {
            (Fault::LinkCut, true) => host.cut_link().context("cutting the link"),
            (Fault::LinkCut, false) => host.restore_link().context("restoring the link"),
            (Fault::Silent, true) => {
                let port = host.switch_port();
                let script = format!(
                    "table bridge {SILENCE} {{\n\tchain forward {{\n\t\ttype filter hook forward \
                     priority 0; policy accept;\n\t\tiifname \"{port}\" drop\n\t\t\
                     oifname \"{port}\" drop\n\t}}\n}}\n"
                );
                self.switch_nft(&script)
            }
            (Fault::Silent, false) => self.switch_nft(&format!(
                "table bridge {SILENCE}\ndelete table bridge {SILENCE}\n"
            )),
        }
    }

    /// `nft -f -` with `script` in the switch's namespace.
    fn switch_nft(&self, script: &str) -> Result<()> {
        use std::io::Write as _;
        let mut command = self.lab.switch_command("nft");
        command
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().context("nft in the switch")?;
        child
            .stdin
            .take()
            .context("nft stdin")?
            .write_all(script.as_bytes())?;
        let output = child.wait_with_output()?;
        if !output.status.success() {
            bail!(
                "nft in the switch: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// A load balancer as it was before any variant: link up, no tables, no conntrack
    /// entries, no VIP.
    pub(crate) fn reset_lb(&self, name: &str) -> Result<()> {
        self.fault(Fault::LinkCut, name, false)?;
        self.fault(Fault::Silent, name, false)?;
        let lb = self.host(name);
        run(lb, "nft", &["flush", "ruleset"])?;
        let _ = lb.run("conntrack", &["-F"]);
        for vip in [VIP, GATEWAY] {
            let _ = lb.run("ip", &["addr", "del", &format!("{vip}/24"), "dev", "eth0"]);
        }
        sysctl(lb, "net.netfilter.nf_conntrack_tcp_loose", "1")
    }
}

pub(crate) fn service() -> SocketAddr {
    SocketAddr::from((VIP, PORT))
}

pub(crate) fn run(host: &Host, program: &str, args: &[&str]) -> Result<()> {
    host.run(program, args)
        .map(drop)
        .with_context(|| format!("{}: {program} {}", host.name(), args.join(" ")))
}

pub(crate) fn sysctl(host: &Host, key: &str, value: &str) -> Result<()> {
    run(host, "sysctl", &["-q", "-w", &format!("{key}={value}")])
}
