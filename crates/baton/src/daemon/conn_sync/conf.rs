//! conntrackd.conf from baton's configuration. Pure: the caller reads the sync interface's
//! address and picks the directory.
//!
//! FTFW (the reliable protocol of the netfilter documentation's primary-backup setup), with
//! the external cache: a backup keeps its peer's flows in conntrackd's memory and commits
//! them into the kernel when it becomes primary. The socket and the lock file live in
//! baton's own directory, so a system conntrackd (Debian's unit, /var/run/conntrackd.ctl,
//! /var/lock/conntrack.lock) never collides with it.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use baton_config::SyncTransport;

/// Where one baton's conntrackd keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Files {
    pub(crate) dir: PathBuf,
}

impl Files {
    /// The directory beside the control socket: `/run/baton/baton.sock` gives
    /// `/run/baton/baton.conntrackd/`, one per daemon as the control sockets are.
    pub(crate) fn beside(control: &Path) -> Files {
        Files {
            dir: control.with_extension("conntrackd"),
        }
    }

    pub(crate) fn config(&self) -> PathBuf {
        self.dir.join("conntrackd.conf")
    }

    pub(crate) fn socket(&self) -> PathBuf {
        self.dir.join("conntrackd.ctl")
    }

    pub(crate) fn lock(&self) -> PathBuf {
        self.dir.join("conntrackd.lock")
    }
}

/// What the file says, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    pub(crate) interface: String,
    /// The sync interface's own IPv4 address (conntrackd's `IPv4_interface` / `IPv4_address`).
    pub(crate) local: IpAddr,
    pub(crate) transport: SyncTransport,
    /// Whose flows are synced: the NAT services' real and sorry servers. conntrackd's
    /// address filter looks at the original and the reply source; a NAT flow's reply
    /// source is its server.
    pub(crate) servers: Vec<IpAddr>,
    /// `TCP`, `UDP`, `SCTP`: the NAT services' protocols.
    pub(crate) protocols: Vec<&'static str>,
    /// Whether the sync channel asks for its large buffers. conntrackd sets them with
    /// SO_SNDBUFFORCE/SO_RCVBUFFORCE, which the kernel grants only to CAP_NET_ADMIN in the
    /// initial user namespace, and gives up on the channel when refused ("can't open channel
    /// socket"); in a user namespace (an unprivileged container) the kernel's defaults stay.
    pub(crate) force_socket_buffers: bool,
}

/// The whole conntrackd.conf.
pub(crate) fn render(settings: &Settings, files: &Files) -> String {
    let mut out = String::new();
    out.push_str("# Written by baton from its conn_sync settings; rewritten at each start.\n");
    // FTFW's defaults: committed entries get a timeout conntrackd estimates, and an old
    // primary's kernel entries are purged 60 s after `conntrackd -t` (when it became backup).
    out.push_str("Sync {\n\tMode FTFW {\n\t}\n");
    let family = |a: IpAddr| if a.is_ipv4() { "IPv4" } else { "IPv6" };
    match settings.transport {
        SyncTransport::Multicast { group, port } => {
            let _ = writeln!(out, "\tMulticast {{");
            let _ = writeln!(out, "\t\t{}_address {group}", family(group));
            let _ = writeln!(out, "\t\tGroup {port}");
            let _ = writeln!(
                out,
                "\t\t{}_interface {}",
                family(settings.local),
                settings.local
            );
            let _ = writeln!(out, "\t\tInterface {}", settings.interface);
        }
        SyncTransport::Unicast { peer, port } => {
            let _ = writeln!(out, "\tUDP {{");
            let _ = writeln!(
                out,
                "\t\t{}_address {}",
                family(settings.local),
                settings.local
            );
            let _ = writeln!(out, "\t\t{}_Destination_Address {peer}", family(peer));
            let _ = writeln!(out, "\t\tPort {port}");
            let _ = writeln!(out, "\t\tInterface {}", settings.interface);
        }
    }
    if settings.force_socket_buffers {
        out.push_str("\t\tSndSocketBuffer 1249280\n\t\tRcvSocketBuffer 1249280\n");
    }
    out.push_str("\t\tChecksum on\n\t}\n");
    // TCPWindowTracking stays off (the default): a committed entry accepts the sequence
    // numbers the flow reached while the last updates were on their way.
    out.push_str("}\n");
    out.push_str("General {\n");
    // Supervised by baton, not by systemd; logs go to its stdout and stderr, which baton reads.
    out.push_str("\tSystemd off\n\tLogFile off\n\tSyslog off\n");
    out.push_str("\tHashSize 32768\n\tHashLimit 131072\n");
    out.push_str("\tNetlinkBufferSize 2097152\n\tNetlinkBufferSizeMaxGrowth 8388608\n");
    let _ = writeln!(out, "\tLockFile {}", files.lock().display());
    let _ = writeln!(
        out,
        "\tUNIX {{\n\t\tPath {}\n\t}}",
        files.socket().display()
    );
    out.push_str("\tFilter From Userspace {\n");
    out.push_str("\t\tProtocol Accept {\n");
    for protocol in &settings.protocols {
        let _ = writeln!(out, "\t\t\t{protocol}");
    }
    out.push_str("\t\t}\n");
    out.push_str("\t\tAddress Accept {\n");
    for server in &settings.servers {
        let _ = writeln!(out, "\t\t\t{}_address {server}", family(*server));
    }
    out.push_str("\t\t}\n");
    out.push_str("\t}\n");
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("literal")
    }

    #[test]
    fn multicast_file_has_baton_paths_and_the_servers_filter() {
        let files = Files::beside(Path::new("/run/baton/baton.sock"));
        let settings = Settings {
            interface: "eth1".into(),
            local: ip("10.0.9.1"),
            transport: SyncTransport::Multicast {
                group: ip("225.0.0.50"),
                port: 3780,
            },
            servers: vec![ip("10.0.3.11"), ip("fd00::12")],
            protocols: vec!["TCP", "UDP"],
            force_socket_buffers: true,
        };
        let text = render(&settings, &files);
        for line in [
            "Mode FTFW {",
            "IPv4_address 225.0.0.50",
            "Group 3780",
            "IPv4_interface 10.0.9.1",
            "Interface eth1",
            "LockFile /run/baton/baton.conntrackd/conntrackd.lock",
            "Path /run/baton/baton.conntrackd/conntrackd.ctl",
            "Systemd off",
            "Address Accept {",
            "IPv4_address 10.0.3.11",
            "IPv6_address fd00::12",
            "TCP",
            "UDP",
            "SndSocketBuffer 1249280",
        ] {
            assert!(
                text.lines().any(|l| l.trim() == line),
                "{line:?} missing:\n{text}"
            );
        }
        assert_eq!(text.matches('{').count(), text.matches('}').count());
    }

    #[test]
    fn unicast_file_names_the_peer() {
        let files = Files::beside(Path::new("/tmp/t/lb1.sock"));
        let settings = Settings {
            interface: "eth0".into(),
            local: ip("10.0.3.2"),
            transport: SyncTransport::Unicast {
                peer: ip("10.0.3.3"),
                port: 3781,
            },
            servers: vec![ip("10.0.3.11")],
            protocols: vec!["TCP"],
            force_socket_buffers: false,
        };
        let text = render(&settings, &files);
        // In a user namespace conntrackd may not force its buffers: none are asked for.
        assert!(!text.contains("SocketBuffer"), "{text}");
        assert!(text.contains("\tUDP {\n\t\tIPv4_address 10.0.3.2\n\t\tIPv4_Destination_Address 10.0.3.3\n\t\tPort 3781\n"), "{text}");
        assert!(!text.contains("Multicast"), "{text}");
        assert_eq!(
            files.config(),
            Path::new("/tmp/t/lb1.conntrackd/conntrackd.conf")
        );
    }
}
