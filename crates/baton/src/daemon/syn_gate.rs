//! Closing the door without slamming it: while baton drains before handing the VIP over, new
//! connections to its frontends must neither reach a closed listener (the client would get a
//! reset and fail) nor be accepted (they would be cut when the VIP moves). An nftables rule
//! drops their SYNs instead; clients retransmit after a second, by when the new master holds
//! the VIP and answers.
//!
//! The rules live in a table of their own, `inet baton_drain`, in the daemon's network
//! namespace. A daemon that died while draining leaves it behind, and it would blackhole the
//! frontends after a restart, so startup removes it ([`remove_leftover`]).
//!
//! Without nftables (no `nft` binary, or nft refusing the rules) the gate is a listener of
//! baton's own on each address, in the frontend's SO_REUSEPORT group, with a socket filter
//! that drops everything: once the frontend's listener closes, the kernel hands every SYN
//! to it and the filter drops them just as the rule would. It dies with the process, so it
//! leaves nothing behind; the nftables rule stays first because it is what the lab tests
//! check from outside.

use std::net::{IpAddr, SocketAddr};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use socket2::{SockFilter, Socket};
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

const TABLE: &str = "baton_drain";

/// Whether the missing `nft` binary was reported; once is enough.
static NFT_MISSING_REPORTED: AtomicBool = AtomicBool::new(false);

/// The installed drop rules; [`SynGate::open`] removes them.
#[derive(Debug)]
pub(crate) struct SynGate {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// The `inet baton_drain` table.
    Nftables,
    /// Filtered listeners, closed on open.
    Sockets(Vec<Socket>),
}

impl SynGate {
    /// Drops new connections to `listeners` from now on: with nftables, or without it with
    /// filtered listeners (see the module's doc).
    pub(crate) async fn close(listeners: &[SocketAddr]) -> anyhow::Result<SynGate> {
        let error = match nft(&ruleset(listeners)).await {
            Ok(()) => {
                return Ok(SynGate {
                    kind: Kind::Nftables,
                });
            }
            Err(error) => error,
        };
        let missing = error.downcast_ref::<NftMissing>().is_some();
        if !missing || !NFT_MISSING_REPORTED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "{error:#}: draining behind socket filters instead of nftables rules \
                 (new connections are dropped at the door all the same)"
            );
        }
        let sockets = listeners
            .iter()
            .map(|listener| {
                filtered_listener(*listener)
                    .with_context(|| format!("closing the door of {listener} without nftables"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(SynGate {
            kind: Kind::Sockets(sockets),
        })
    }

    /// Lets new connections in again.
    pub(crate) async fn open(self) {
        match self.kind {
            Kind::Nftables => remove_leftover().await,
            Kind::Sockets(sockets) => drop(sockets),
        }
    }
}

/// A listener on `address` in the frontend's SO_REUSEPORT group (same options as
/// `listen::bind`) that never accepts: its filter drops every packet, so a SYN it is handed
/// gets no answer, and the client retries.
fn filtered_listener(address: SocketAddr) -> std::io::Result<Socket> {
    /// Classic BPF `ret #0`: keep nothing of the packet, that is drop it.
    const DROP_ALL: [SockFilter; 1] = [SockFilter::new(0x06, 0, 0, 0)];
    let socket = super::listen::unbound(address)?;
    // Before bind: not one SYN may reach it unfiltered.
    socket.attach_filter(&DROP_ALL)?;
    socket.bind(&address.into())?;
    socket.listen(1)?;
    Ok(socket)
}

/// Deletes the table if an earlier run left it.
pub(crate) async fn remove_leftover() {
    delete_table_if_present("inet", TABLE).await;
}

/// Deletes nftables table `family` `table` if it exists.
pub(super) async fn delete_table_if_present(family: &str, table: &str) {
    // "destroy" would not fail on a missing table, but needs nftables 1.0.8; Debian 12 has 1.0.6.
    let exists = Command::new("nft")
        .args(["list", "table", family, table])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|status| status.success());
    if exists {
        if let Err(error) = nft(&format!("delete table {family} {table}\n")).await {
            tracing::error!("removing the table {family} {table}: {error:#}");
        }
    }
}

/// One table, one input chain, one rule per listener. Only a bare SYN (no ACK) is a new
/// connection; everything else belongs to connections being drained and must pass.
fn ruleset(listeners: &[SocketAddr]) -> String {
    let mut rules = String::new();
    for listener in listeners {
        let daddr = match listener.ip() {
            ip if ip.is_unspecified() => String::new(),
            IpAddr::V4(ip) => format!("ip daddr {ip} "),
            IpAddr::V6(ip) => format!("ip6 daddr {ip} "),
        };
        rules.push_str(&format!(
            "    {daddr}tcp dport {} tcp flags & (syn | ack) == syn drop\n",
            listener.port()
        ));
    }
    format!(
        "table inet {TABLE} {{\n  chain input {{\n    type filter hook input priority -10; policy accept;\n{rules}  }}\n}}\n"
    )
}

/// No `nft` program on this machine.
#[derive(Debug, thiserror::Error)]
#[error("nft not found (nftables is not installed)")]
struct NftMissing;

pub(super) async fn nft(script: &str) -> anyhow::Result<()> {
    nft_at("nft", script).await
}

/// Feeds `script` to the nft at `program`.
async fn nft_at(program: &str, script: &str) -> anyhow::Result<()> {
    let spawned = Command::new(program)
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(NftMissing.into());
        }
        Err(error) => return Err(error).context("running nft"),
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes()).await?;
    }
    let output = child.wait_with_output().await?;
    if !output.status.success() {
        anyhow::bail!(
            "nft refused the rules: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_bare_syns_to_each_listener() {
        let rules = ruleset(&[
            "10.0.3.100:80".parse().expect("v4"),
            "[2001:db8::1]:443".parse().expect("v6"),
            "0.0.0.0:8080".parse().expect("any"),
        ]);
        assert!(
            rules.contains("ip daddr 10.0.3.100 tcp dport 80 tcp flags & (syn | ack) == syn drop")
        );
        assert!(rules.contains("ip6 daddr 2001:db8::1 tcp dport 443 tcp flags"));
        assert!(rules.contains("    tcp dport 8080 tcp flags"));
        assert!(rules.starts_with("table inet baton_drain {"));
    }

    /// Whether a connection to `address` is refused (false: it got no answer in time).
    async fn refused(address: SocketAddr) -> bool {
        let attempt = tokio::time::timeout(
            std::time::Duration::from_millis(300),
            tokio::net::TcpStream::connect(address),
        )
        .await;
        match attempt {
            Ok(Err(error)) => error.kind() == std::io::ErrorKind::ConnectionRefused,
            Ok(Ok(_)) => panic!("{address}: accepted by a closed door"),
            Err(_) => false,
        }
    }

    #[tokio::test]
    async fn without_nftables_the_door_drops_syns_instead_of_refusing_them() {
        // This kernel refuses SO_ATTACH_FILTER to a user (EPERM): root, or the rootless lab.
        if baton_lab::handled_elsewhere("without_nftables_the_door_drops_syns") {
            return;
        }
        let frontend = crate::daemon::listen::bind("127.0.0.1:0".parse().expect("address"))
            .expect("frontend listener");
        let address = frontend.local_addr().expect("bound");
        let gate = SynGate {
            kind: Kind::Sockets(vec![filtered_listener(address).expect("gate")]),
        };
        // The frontend stops listening while the door is closed: no refusal, no answer.
        drop(frontend);
        assert!(!refused(address).await, "a SYN got an answer");
        gate.open().await;
        assert!(refused(address).await, "still held after the door opened");
    }

    #[tokio::test]
    async fn a_missing_nft_is_told_apart() {
        let error = nft_at("/nonexistent/nft", "")
            .await
            .expect_err("no program");
        assert!(error.downcast_ref::<NftMissing>().is_some(), "{error:#}");
    }
}
