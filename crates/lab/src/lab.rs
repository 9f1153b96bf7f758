//! Building a lab (the switch namespace with its bridge, one namespace per host) and
//! removing it again.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;

use crate::cleanup;
use crate::cmd;
use crate::env;
use crate::error::{Error, Result};
use crate::host::{HOST_INTERFACE, Host};
use crate::rootless;

/// The bridge's name inside the switch namespace.
const BRIDGE: &str = "br0";
/// The switch namespace is `<prefix>switch`, so no host may be called that.
const SWITCH: &str = "switch";
const MAX_HOST_NAME: usize = 20;
const MAX_BASE: usize = 8;

/// The guide's hosts: two load balancers, two application servers and a client.
const GUIDE: [(&str, &str); 5] = [
    ("lb1", "10.0.3.5/24"),
    ("lb2", "10.0.3.6/24"),
    ("app1", "10.0.3.11/24"),
    ("app2", "10.0.3.12/24"),
    ("client", "10.0.3.50/24"),
];

/// A running testbed: a switch namespace with a bridge, and hosts cabled to it.
/// Dropping it stops every process in its namespaces and deletes them.
#[derive(Debug)]
pub struct Lab {
    prefix: String,
    switch_namespace: String,
    hosts: Vec<Host>,
    /// Every namespace created so far, switch first: what Drop removes.
    namespaces: Vec<String>,
}

impl Lab {
    /// The default start of every namespace name: `bl<pid>x<n>-`.
    pub const DEFAULT_PREFIX: &'static str = "bl";

    /// The guide's topology on one bridge: `lb1` 10.0.3.5, `lb2` 10.0.3.6, `app1`
    /// 10.0.3.11, `app2` 10.0.3.12 and `client` 10.0.3.50, all /24, IPv6 and MAC
    /// addresses as described on [`Host`]. About 0.1 s to build.
    pub fn guide() -> Result<Lab> {
        Lab::builder().guide_hosts().build()
    }

    /// A builder for other topologies: `Lab::builder().host("lb1", "10.0.3.5/24").build()`.
    pub fn builder() -> LabBuilder {
        LabBuilder {
            base: Lab::DEFAULT_PREFIX.to_owned(),
            hosts: Vec::new(),
        }
    }

    /// The host called `name`.
    ///
    /// # Panics
    /// If the lab has no such host (a typo in a test); see [`try_host`](Self::try_host).
    pub fn host(&self, name: &str) -> &Host {
        self.try_host(name).unwrap_or_else(|| {
            let names: Vec<&str> = self.hosts.iter().map(Host::name).collect();
            panic!("lab has no host {name:?}; it has {names:?}")
        })
    }

    /// The host called `name`, if there is one.
    pub fn try_host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|host| host.name == name)
    }

    /// All hosts, in the order they were added.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The unique start of this lab's namespace names, e.g. `bl4242x0-`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The switch namespace's name (`<prefix>switch`), which holds the bridge and one
    /// port per host. Nothing in it has an address.
    pub fn switch_namespace(&self) -> &str {
        &self.switch_namespace
    }

    /// The bridge's name in the switch namespace (`br0`): capture here to see every frame
    /// on the lab's LAN, e.g. `lab.switch_command("tcpdump").args(["-i", lab.bridge()])`.
    pub fn bridge(&self) -> &str {
        BRIDGE
    }

    /// A [`Command`] running `program` in the switch namespace.
    pub fn switch_command(&self, program: impl AsRef<OsStr>) -> Command {
        cmd::in_namespace(&self.switch_namespace, program)
    }

    /// Takes the lab down now, reporting any failure (Drop does the same but can only
    /// print errors).
    pub fn shutdown(mut self) -> Result<()> {
        let namespaces = std::mem::take(&mut self.namespaces);
        cleanup::remove_namespaces(&namespaces)
    }

    /// Whether labs can be built here: root, `ip` installed, and the kernel lets us
    /// create a network namespace (probed by creating and deleting one). The error says
    /// which, in a sentence fit to show a person.
    pub fn check_environment() -> Result<()> {
        env::check_environment()
    }

    /// For binaries (`baton demo`): on SIGINT or SIGTERM, stop the processes in and
    /// delete every lab namespace this process created, then die of the signal as usual.
    ///
    /// Runs on its own thread through `signal-hook`, which shares its handler registry
    /// with tokio's signal support, so both are told. A binary that handles Ctrl-C itself
    /// and wants to keep running should instead call [`cleanup_all`](Self::cleanup_all)
    /// from its handler. Calling this more than once is harmless.
    pub fn install_ctrlc_cleanup() -> Result<()> {
        cleanup::install_ctrlc_cleanup()
    }

    /// Stops the processes in and deletes every lab namespace this process created and
    /// has not removed yet. Afterwards building a lab fails with [`Error::ShuttingDown`]:
    /// this is for the way out (a signal handler), so nothing is created behind it.
    pub fn cleanup_all() {
        cleanup::cleanup_all();
    }

    /// Removes what crashed runs left: namespaces named `<base><pid>x<n>-...` whose `pid`
    /// is no longer running, after stopping any process still inside. Returns the names
    /// removed. `base` is [`Lab::DEFAULT_PREFIX`] unless the labs used
    /// [`LabBuilder::prefix`]. Labs of live processes are never touched.
    pub fn remove_stale(base: &str) -> Result<Vec<String>> {
        validate_base(base)?;
        cleanup::remove_stale(base)
    }

    fn add_switch(&mut self) -> Result<()> {
        let sw = self.switch_namespace.clone();
        cleanup::create_namespace(&sw)?;
        self.namespaces.push(sw.clone());
        cmd::ip(&["-n", &sw, "link", "set", "dev", "lo", "up"])?;
        // A dumb switch: no multicast snooping, so VRRP's 224.0.0.18 and ff02::12 reach
        // every port whatever MLD/IGMP says; no STP, so ports forward as soon as they are up.
        cmd::ip(&[
            "-n",
            &sw,
            "link",
            "add",
            BRIDGE,
            "type",
            "bridge",
            "mcast_snooping",
            "0",
            "stp_state",
            "0",
        ])?;
        // No IPv6 link-local on the switch's own interfaces: it sends nothing of its own.
        cmd::ip(&[
            "-n",
            &sw,
            "link",
            "set",
            "dev",
            BRIDGE,
            "addrgenmode",
            "none",
            "up",
        ])?;
        Ok(())
    }

    fn add_host(&mut self, index: usize, spec: HostSpec) -> Result<()> {
        let ns = format!("{}{}", self.prefix, spec.name);
        let port = format!("v{index}");
        let sw = self.switch_namespace.clone();
        cleanup::create_namespace(&ns)?;
        self.namespaces.push(ns.clone());
        let host = Host {
            name: spec.name,
            namespace: ns.clone(),
            switch_namespace: sw.clone(),
            switch_port: port.clone(),
            address: spec.address,
            prefix_len: spec.prefix_len,
            link_local: spec.link_local,
            ula: spec.ula,
            mac: spec.mac,
        };

        cmd::ip(&["-n", &ns, "link", "set", "dev", "lo", "up"])?;
        // Written before eth0 exists so that it inherits `default`: keep IPv6 addresses
        // when eth0 is set down (link-state tests) and send no router solicitations
        // (there is no router, and they would only clutter captures).
        cmd::run(cmd::in_namespace(&ns, "sh").args([
            "-c",
            "echo 1 > /proc/sys/net/ipv6/conf/all/keep_addr_on_down && \
             echo 1 > /proc/sys/net/ipv6/conf/default/keep_addr_on_down && \
             echo 0 > /proc/sys/net/ipv6/conf/default/router_solicitations",
        ]))?;
        // Created inside the switch namespace with the peer placed straight into the host's
        // namespace under its final name: no end of the pair ever exists in the root
        // namespace, and the switch namespace never holds an `eth0`.
        cmd::ip(&[
            "-n",
            &sw,
            "link",
            "add",
            &port,
            "type",
            "veth",
            "peer",
            "name",
            HOST_INTERFACE,
            "netns",
            &ns,
        ])?;
        cmd::ip(&[
            "-n",
            &sw,
            "link",
            "set",
            "dev",
            &port,
            "addrgenmode",
            "none",
            "master",
            BRIDGE,
            "up",
        ])?;
        let mac = host.mac_string();
        let ipv4 = format!("{}/{}", host.address, host.prefix_len);
        let link_local = format!("{}/64", host.link_local);
        let ula = format!("{}/64", host.ula);
        let dev = HOST_INTERFACE;
        let host_side: [&[&str]; 5] = [
            &[
                "link",
                "set",
                "dev",
                dev,
                "address",
                &mac,
                "addrgenmode",
                "none",
            ],
            &["addr", "add", &ipv4, "dev", dev],
            &["addr", "add", &link_local, "dev", dev, "nodad"],
            &["addr", "add", &ula, "dev", dev, "nodad"],
            &["link", "set", "dev", dev, "up"],
        ];
        for args in host_side {
            let mut full = vec!["-n", ns.as_str()];
            full.extend_from_slice(args);
            cmd::ip(&full)?;
        }
        self.hosts.push(host);
        Ok(())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let namespaces = std::mem::take(&mut self.namespaces);
        if let Err(error) = cleanup::remove_namespaces(&namespaces) {
            eprintln!("baton-lab: removing lab {}: {error}", self.prefix);
        }
    }
}

/// Describes a lab to build; see [`Lab::builder`]. Nothing is created until
/// [`build`](Self::build), which checks the whole description first.
#[derive(Debug, Clone)]
#[must_use]
pub struct LabBuilder {
    base: String,
    hosts: Vec<(String, String)>,
}

impl LabBuilder {
    /// Adds a host called `name` (letters, digits, `-`, `_`; at most 20) with the IPv4
    /// address `address` in CIDR form (`"10.0.3.5/24"`). Its IPv6 and MAC addresses are
    /// derived from the IPv4 one, as described on [`Host`].
    pub fn host(mut self, name: impl Into<String>, address: impl Into<String>) -> Self {
        self.hosts.push((name.into(), address.into()));
        self
    }

    /// Adds the guide's five hosts, as [`Lab::guide`] has them; with
    /// [`prefix`](Self::prefix) this builds the guide's lab under other names
    /// (`baton demo`'s are `demo<pid>x<n>-lb1`, ...).
    pub fn guide_hosts(self) -> Self {
        GUIDE.iter().fold(self, |builder, (name, address)| {
            builder.host(*name, *address)
        })
    }

    /// Changes the start of the namespace names from `bl` (1 to 8 lowercase letters), e.g.
    /// so that `baton demo`'s namespaces are recognisable; pass the same to
    /// [`Lab::remove_stale`].
    pub fn prefix(mut self, base: impl Into<String>) -> Self {
        self.base = base.into();
        self
    }

    /// Builds the lab. On failure everything created so far is removed again.
    pub fn build(self) -> Result<Lab> {
        rootless::prepare()?;
        validate_base(&self.base)?;
        let specs = validate_hosts(&self.hosts)?;
        let prefix = cleanup::unique_prefix(&self.base);
        let mut lab = Lab {
            switch_namespace: format!("{prefix}{SWITCH}"),
            prefix,
            hosts: Vec::with_capacity(specs.len()),
            namespaces: Vec::with_capacity(specs.len() + 1),
        };
        // Any `?` below drops `lab`, which removes what was made so far.
        lab.add_switch()?;
        for (index, spec) in specs.into_iter().enumerate() {
            lab.add_host(index, spec)?;
        }
        Ok(lab)
    }
}

/// A validated host description with its derived addresses.
#[derive(Debug)]
struct HostSpec {
    name: String,
    address: Ipv4Addr,
    prefix_len: u8,
    link_local: Ipv6Addr,
    ula: Ipv6Addr,
    mac: [u8; 6],
}

fn validate_base(base: &str) -> Result<()> {
    if base.is_empty() || base.len() > MAX_BASE || !base.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(Error::Invalid(format!(
            "namespace prefix {base:?} must be 1 to {MAX_BASE} lowercase letters \
             (the pid follows it, so no digits)"
        )));
    }
    Ok(())
}

/// Checks every host and reports all problems at once.
fn validate_hosts(hosts: &[(String, String)]) -> Result<Vec<HostSpec>> {
    let mut problems = Vec::new();
    let mut specs: Vec<HostSpec> = Vec::new();
    let mut names = HashSet::new();
    for (name, address) in hosts {
        let name_ok = !name.is_empty()
            && name.len() <= MAX_HOST_NAME
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            problems.push(format!(
                "host name {name:?} must be 1 to {MAX_HOST_NAME} letters, digits, '-' or '_'"
            ));
        } else if name == SWITCH {
            problems.push(format!("host name {SWITCH:?} is reserved for the switch"));
        } else if !names.insert(name.as_str()) {
            problems.push(format!("host {name:?} is listed twice"));
        }
        match parse_cidr(address) {
            Ok((ip, prefix_len)) => {
                let spec = derive(name, ip, prefix_len);
                if let Some(other) = specs.iter().find(|s| s.address == ip) {
                    problems.push(format!("{name} and {} both have address {ip}", other.name));
                } else if let Some(other) = specs.iter().find(|s| s.link_local == spec.link_local) {
                    problems.push(format!(
                        "{name} ({ip}) and {} ({}) end in the same octet, so they would share \
                         link-local {} and MAC-derived addresses",
                        other.name, other.address, spec.link_local
                    ));
                } else if ip.octets()[3] == 0 {
                    problems.push(format!(
                        "{name}: {ip} ends in .0, which leaves no host part for the IPv6/MAC \
                         addresses"
                    ));
                } else {
                    specs.push(spec);
                }
            }
            Err(problem) => problems.push(format!("{name}: {problem}")),
        }
    }
    if problems.is_empty() {
        Ok(specs)
    } else {
        Err(Error::Invalid(problems.join("; ")))
    }
}

fn parse_cidr(text: &str) -> Result<(Ipv4Addr, u8), String> {
    let (ip, len) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} needs a prefix length, as in \"10.0.3.5/24\""))?;
    let ip: Ipv4Addr = ip
        .parse()
        .map_err(|_| format!("{ip:?} is not an IPv4 address"))?;
    let len: u8 = len
        .parse()
        .ok()
        .filter(|&l| (1..=32).contains(&l))
        .ok_or_else(|| format!("prefix length {len:?} is not 1..=32"))?;
    Ok((ip, len))
}

/// `a.b.c.d` -> `fe80::d`, `fd00:0:0:c::d`, `02:00:00:00:cc:dd`. The IPv6 forms reuse the
/// decimal digits as hex digits so that `10.0.3.50` reads as `fe80::50`.
fn derive(name: &str, address: Ipv4Addr, prefix_len: u8) -> HostSpec {
    let [_, _, c, d] = address.octets();
    let hex_digits = |n: u8| u16::from_str_radix(&n.to_string(), 16).unwrap_or(0);
    let (c16, d16) = (hex_digits(c), hex_digits(d));
    HostSpec {
        name: name.to_owned(),
        address,
        prefix_len,
        link_local: Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, d16),
        ula: Ipv6Addr::new(0xfd00, 0, 0, c16, 0, 0, 0, d16),
        mac: [0x02, 0, 0, 0, c, d],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guide_addresses_are_derived_readably() {
        let lb1 = derive("lb1", Ipv4Addr::new(10, 0, 3, 5), 24);
        assert_eq!(lb1.link_local, "fe80::5".parse::<Ipv6Addr>().unwrap());
        assert_eq!(lb1.ula, "fd00:0:0:3::5".parse::<Ipv6Addr>().unwrap());
        assert_eq!(lb1.mac, [2, 0, 0, 0, 3, 5]);
        let client = derive("client", Ipv4Addr::new(10, 0, 3, 50), 24);
        assert_eq!(client.link_local, "fe80::50".parse::<Ipv6Addr>().unwrap());
        assert_eq!(client.mac, [2, 0, 0, 0, 3, 0x32]);
    }

    #[test]
    fn the_guide_is_valid() {
        let hosts: Vec<(String, String)> = GUIDE
            .iter()
            .map(|(n, a)| (n.to_string(), a.to_string()))
            .collect();
        assert_eq!(validate_hosts(&hosts).unwrap().len(), 5);
    }

    #[test]
    fn every_problem_is_reported_together() {
        let hosts = [
            ("lb1", "10.0.3.5/24"),
            ("lb1", "10.0.3.6/24"),
            ("bad name", "10.0.3.7/24"),
            ("switch", "10.0.3.8/24"),
            ("nolen", "10.0.3.9"),
            ("twin", "10.0.4.5/24"),
            ("same", "10.0.3.5/24"),
            ("zero", "10.0.3.0/24"),
            ("wide", "10.0.3.10/33"),
        ]
        .map(|(n, a)| (n.to_owned(), a.to_owned()));
        let Err(Error::Invalid(message)) = validate_hosts(&hosts) else {
            panic!("expected Invalid");
        };
        for needle in [
            "\"lb1\" is listed twice",
            "\"bad name\"",
            "reserved",
            "needs a prefix length",
            "same octet",
            "both have address 10.0.3.5",
            "ends in .0",
            "\"33\" is not 1..=32",
        ] {
            assert!(
                message.contains(needle),
                "{needle:?} missing from {message}"
            );
        }
    }

    #[test]
    fn prefixes_are_letters_only() {
        assert!(validate_base("bl").is_ok());
        assert!(validate_base("demo").is_ok());
        assert!(validate_base("").is_err());
        assert!(validate_base("b1").is_err());
        assert!(validate_base("waytoolong").is_err());
    }
}
