//! Closing the door without slamming it: while baton drains before handing the VIP over, new
//! connections to its frontends must neither reach a closed listener (the client would get a
//! reset and fail) nor be accepted (they would be cut when the VIP moves). An nftables rule
//! drops their SYNs instead; clients retransmit after a second, by when the new master holds
//! the VIP and answers.
//!
//! The rules live in a table of their own, `inet baton_drain`, in the daemon's network
//! namespace. A daemon that died while draining leaves it behind, and it would blackhole the
//! frontends after a restart, so startup removes it ([`remove_leftover`]).

use std::net::{IpAddr, SocketAddr};
use std::process::Stdio;

use anyhow::Context as _;
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

const TABLE: &str = "baton_drain";

/// The installed drop rules; [`SynGate::open`] removes them.
#[derive(Debug)]
pub(crate) struct SynGate {
    _private: (),
}

impl SynGate {
    /// Drops new connections to `listeners` from now on.
    pub(crate) async fn close(listeners: &[SocketAddr]) -> anyhow::Result<SynGate> {
        nft(&ruleset(listeners)).await?;
        Ok(SynGate { _private: () })
    }

    /// Lets new connections in again.
    pub(crate) async fn open(self) {
        remove_leftover().await;
    }
}

/// Deletes the table if an earlier run left it.
pub(crate) async fn remove_leftover() {
    // "destroy" would not fail on a missing table, but needs nftables 1.0.8; Debian 12 has 1.0.6.
    let exists = Command::new("nft")
        .args(["list", "table", "inet", TABLE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|status| status.success());
    if exists {
        if let Err(error) = nft(&format!("delete table inet {TABLE}\n")).await {
            tracing::error!("removing the drain rules: {error:#}");
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

async fn nft(script: &str) -> anyhow::Result<()> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("running nft (is nftables installed?)")?;
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
}
