//! One host of a lab: its namespace, its addresses, and the ways to run things in it and
//! to break its network.

use std::ffi::OsStr;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::{Command, Output};

use crate::child::Child;
use crate::cleanup;
use crate::cmd::{self, BRIDGE, NFT, PING};
use crate::error::{Error, Result};

/// The name of every host's interface inside its own namespace.
pub(crate) const HOST_INTERFACE: &str = "eth0";
/// The nftables table [`Host::set_loss`] owns in the host's namespace.
const LOSS_TABLE: &str = "baton_lab_loss";

/// A host in a [`Lab`](crate::Lab): a network namespace with `lo` up and one interface,
/// `eth0`, cabled to the lab's bridge.
///
/// Addresses are derived from the IPv4 address `a.b.c.d/len`: IPv6 link-local `fe80::d`,
/// ULA `fd00:0:0:c::d/64` (digits reused as hex, so 10.0.3.50 gets `fe80::50`), MAC
/// `02:00:00:00:cc:dd` (hex of c and d), all fixed so that captures are reproducible.
pub struct Host {
    pub(crate) name: String,
    pub(crate) namespace: String,
    pub(crate) switch_namespace: String,
    pub(crate) switch_port: String,
    pub(crate) address: Ipv4Addr,
    pub(crate) prefix_len: u8,
    pub(crate) link_local: Ipv6Addr,
    pub(crate) ula: Ipv6Addr,
    pub(crate) mac: [u8; 6],
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Host")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .field(
                "address",
                &format_args!("{}/{}", self.address, self.prefix_len),
            )
            .field("link_local", &self.link_local)
            .field("ula", &self.ula)
            .field("mac", &format_args!("{}", self.mac_string()))
            .field("switch_port", &self.switch_port)
            .finish()
    }
}

impl Host {
    /// The host's name in the topology (`lb1`, `client`, ...).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The network namespace's name (`bl<pid>x<n>-lb1`), for `ip netns exec` or `ip -n`.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The host's IPv4 address.
    pub fn address(&self) -> Ipv4Addr {
        self.address
    }

    /// The prefix length of [`address`](Self::address) (24 in the guide).
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The fixed IPv6 link-local address (`fe80::5` for 10.0.3.5). It is the only
    /// link-local address: automatic (EUI-64) generation is off.
    pub fn ipv6_link_local(&self) -> Ipv6Addr {
        self.link_local
    }

    /// The IPv6 ULA address, in a /64 (`fd00:0:0:3::5` for 10.0.3.5).
    pub fn ipv6_address(&self) -> Ipv6Addr {
        self.ula
    }

    /// The interface's MAC address (`02:00:00:00:03:05` for 10.0.3.5).
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// The interface's name inside the host's namespace: always `eth0`.
    pub fn interface(&self) -> &str {
        HOST_INTERFACE
    }

    /// The bridge port this host is cabled to, an interface in the switch namespace.
    pub fn switch_port(&self) -> &str {
        &self.switch_port
    }

    /// A [`Command`] that runs `program` inside this host's namespace
    /// (`ip netns exec <namespace> <program>`); add arguments, stdio and environment as
    /// usual, then hand it to [`spawn`](Self::spawn) or [`run_command`](Self::run_command).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        cmd::in_namespace(&self.namespace, program)
    }

    /// Runs `program args...` in the namespace to completion and returns its stdout.
    /// A non-zero exit is an [`Error::Command`] with the command line, status, stdout and
    /// stderr.
    /// For arguments that are not UTF-8, build the command with [`command`](Self::command)
    /// and use [`run_command`](Self::run_command).
    pub fn run(&self, program: impl AsRef<OsStr>, args: &[&str]) -> Result<String> {
        let mut command = self.command(program);
        command.args(args);
        let output = self.run_command(command)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Runs a prepared command (from [`command`](Self::command)) to completion, stdout and
    /// stderr captured; a non-zero exit is an [`Error::Command`].
    pub fn run_command(&self, mut command: Command) -> Result<Output> {
        cmd::run(&mut command)
    }

    /// Starts a prepared command (from [`command`](Self::command)) with whatever stdio it
    /// was given (the default: inherited). The returned guard stops and reaps the process
    /// when dropped.
    pub fn spawn(&self, mut command: Command) -> Result<Child> {
        let line = cmd::describe(&command);
        let child = command.spawn().map_err(|source| Error::Spawn {
            command: line.clone(),
            source,
        })?;
        Ok(Child::new(child, line))
    }

    /// The addresses on `eth0` as `ip` prints them (`"10.0.3.5/24"`, `"fe80::5/64"`, ...),
    /// IPv4 first; a VIP added by a VRRP daemon shows up here.
    pub fn addresses(&self) -> Result<Vec<String>> {
        let output = cmd::ip(&[
            "-n",
            &self.namespace,
            "-o",
            "addr",
            "show",
            "dev",
            HOST_INTERFACE,
        ])?;
        let text = String::from_utf8_lossy(&output.stdout);
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            while let Some(word) = words.next() {
                match (word, words.clone().next()) {
                    ("inet", Some(address)) => v4.push(address.to_owned()),
                    ("inet6", Some(address)) => v6.push(address.to_owned()),
                    _ => continue,
                }
                break;
            }
        }
        v4.extend(v6);
        Ok(v4)
    }

    /// Whether one ICMP echo to `target` is answered within a second
    /// (`ping -c1 -W1`). Link-local IPv6 targets are scoped to `eth0`.
    /// An error only when ping cannot be run at all.
    pub fn ping(&self, target: impl Into<IpAddr>) -> Result<bool> {
        let ping = cmd::locate(PING)?;
        let target = match target.into() {
            IpAddr::V6(v6) if v6.is_unicast_link_local() => format!("{v6}%{HOST_INTERFACE}"),
            other => other.to_string(),
        };
        let mut command = self.command(ping);
        command.args(["-c1", "-W1", "-n", "-q", &target]);
        let line = cmd::describe(&command);
        let output = command.output().map_err(|source| Error::Spawn {
            command: line,
            source,
        })?;
        Ok(output.status.success())
    }

    /// Pulls the cable: sets the host's switch port down. The host's `eth0` stays
    /// administratively up but loses carrier (`NO-CARRIER`), as with a pulled cable or a
    /// dead switch port. See [`isolate`](Self::isolate) for a failure the host cannot see.
    pub fn cut_link(&self) -> Result<()> {
        self.switch_port_state("down")
    }

    /// Plugs the cable back in (undoes [`cut_link`](Self::cut_link)).
    pub fn restore_link(&self) -> Result<()> {
        self.switch_port_state("up")
    }

    /// Silently drops every frame to and from this host at the bridge (port state
    /// `disabled`) while the host keeps carrier: a partition the host cannot detect, the
    /// split-brain case for VRRP.
    pub fn isolate(&self) -> Result<()> {
        self.bridge_port_state("0")
    }

    /// Undoes [`isolate`](Self::isolate) (port state `forwarding`).
    pub fn rejoin(&self) -> Result<()> {
        self.bridge_port_state("3")
    }

    /// Sets the host's own `eth0` administratively down, for link-state tracking tests.
    /// IPv4 and ULA addresses stay (`keep_addr_on_down` is on in every lab host); the
    /// kernel always drops the link-local one, and [`set_interface_up`](Self::set_interface_up)
    /// puts it back.
    pub fn set_interface_down(&self) -> Result<()> {
        self.ip(&["link", "set", "dev", HOST_INTERFACE, "down"])
    }

    /// Sets the host's own `eth0` administratively up again, with its fixed link-local
    /// address restored.
    pub fn set_interface_up(&self) -> Result<()> {
        self.ip(&["link", "set", "dev", HOST_INTERFACE, "up"])?;
        let link_local = format!("{}/64", self.link_local);
        self.ip(&[
            "addr",
            "replace",
            &link_local,
            "dev",
            HOST_INTERFACE,
            "nodad",
        ])
    }

    /// Drops `percent`% of the packets in each direction on `eth0`, at random, using
    /// nftables in the host's namespace (this kernel has no netem). `0` removes the rule.
    /// See [`set_loss_directional`](Self::set_loss_directional).
    pub fn set_loss(&self, percent: u8) -> Result<()> {
        self.set_loss_directional(percent, percent)
    }

    /// Drops `ingress`% of the frames arriving on `eth0` and `egress`% of those leaving it.
    ///
    /// The rules sit in the `netdev` family's ingress and egress hooks (kernel >= 5.16,
    /// nftables >= 1.0.1), so ARP, VRRP and frames from packet sockets are dropped too, as
    /// on a lossy cable. `(0, 0)` removes the table. Needs `nft` (package `nftables`).
    pub fn set_loss_directional(&self, ingress: u8, egress: u8) -> Result<()> {
        for percent in [ingress, egress] {
            if percent > 100 {
                return Err(Error::Invalid(format!(
                    "packet loss must be 0..=100 percent, got {percent}"
                )));
            }
        }
        let nft = cmd::locate(NFT)?;
        let mut command = self.command(nft);
        command.args(["-f", "-"]);
        cmd::run_with_input(&mut command, &loss_script(ingress, egress)).map(drop)
    }

    /// The pids of the processes running in this host's namespace, whoever started them.
    /// A process from [`spawn`](Self::spawn) appears a moment after `spawn` returns, once
    /// `ip netns exec` has entered the namespace.
    pub fn processes(&self) -> Vec<u32> {
        cleanup::pids_in_namespace(&self.namespace)
            .into_iter()
            .filter_map(|pid| u32::try_from(pid.as_raw()).ok())
            .collect()
    }

    /// Stops every process running in this host's namespace (SIGTERM, then SIGKILL after
    /// the grace period), whoever started it. Returns how many there were.
    pub fn kill_processes(&self) -> usize {
        cleanup::stop_processes(
            std::slice::from_ref(&self.namespace),
            cleanup::TEARDOWN_GRACE,
        )
    }

    /// The MAC address as `02:00:00:00:03:05`.
    pub fn mac_string(&self) -> String {
        self.mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    fn ip(&self, args: &[&str]) -> Result<()> {
        let mut full = vec!["-n", &self.namespace];
        full.extend_from_slice(args);
        cmd::ip(&full).map(drop)
    }

    fn switch_port_state(&self, state: &str) -> Result<()> {
        cmd::ip(&[
            "-n",
            &self.switch_namespace,
            "link",
            "set",
            "dev",
            &self.switch_port,
            state,
        ])
        .map(drop)
    }

    fn bridge_port_state(&self, state: &str) -> Result<()> {
        let bridge = cmd::locate(BRIDGE)?;
        cmd::run(std::process::Command::new(bridge).args([
            "-n",
            &self.switch_namespace,
            "link",
            "set",
            "dev",
            &self.switch_port,
            "state",
            state,
        ]))
        .map(drop)
    }
}

/// One nft transaction: create-then-delete makes the delete safe when the table does not
/// exist yet, and the fresh table replaces the old rules atomically.
fn loss_script(ingress: u8, egress: u8) -> String {
    let mut script = format!("table netdev {LOSS_TABLE}\ndelete table netdev {LOSS_TABLE}\n");
    if ingress == 0 && egress == 0 {
        return script;
    }
    script.push_str(&format!("table netdev {LOSS_TABLE} {{\n"));
    for (chain, hook, percent) in [
        ("inbound", "ingress", ingress),
        ("outbound", "egress", egress),
    ] {
        // `numgen random mod 100` yields 0..=99, and nft rejects `< 100`: 100% is a plain drop.
        let rule = match percent {
            0 => continue,
            100 => "drop".to_owned(),
            p => format!("numgen random mod 100 < {p} drop"),
        };
        script.push_str(&format!(
            "  chain {chain} {{ type filter hook {hook} device \"{HOST_INTERFACE}\" priority 0; \
             policy accept; {rule}; }}\n"
        ));
    }
    script.push_str("}\n");
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_script_shapes() {
        let off = loss_script(0, 0);
        assert!(
            off.ends_with("delete table netdev baton_lab_loss\n"),
            "{off}"
        );
        let full = loss_script(100, 0);
        assert!(full.contains("hook ingress device \"eth0\""), "{full}");
        assert!(full.contains("; drop; }"), "{full}");
        assert!(!full.contains("egress"), "{full}");
        let some = loss_script(0, 30);
        assert!(some.contains("numgen random mod 100 < 30 drop"), "{some}");
        assert!(!some.contains("chain inbound"), "{some}");
    }
}
