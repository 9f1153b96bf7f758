//! The paths under test and how each is set up on the lb and taken down again.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use baton_lab::{Child, Host};

use crate::common::lab::{holds, spawn_logged, wait_for};
use crate::configs::{self, LbKind};
use crate::topology::{self, CLIENT, CLIENT_BEHIND_LB, Topology};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Variant {
    /// The client talks to the apps themselves, in turn: no lb on the path at all.
    Direct,
    /// [`configs::static_nat`] on the lb, the VIP added by hand.
    StaticNat,
    /// [`configs::static_dr`] on the lb, the VIP added by hand.
    StaticDr,
    /// The baton daemon with a `[[virtual_server]]`, lb_kind NAT ([`configs::baton_toml`]).
    BatonNat,
    /// The same with lb_kind DR.
    BatonDr,
    /// HAProxy `mode tcp`, one thread ([`configs::haproxy`]), the VIP added by hand.
    Haproxy,
}

impl Variant {
    pub(crate) const ALL: [Variant; 6] = [
        Variant::Direct,
        Variant::StaticNat,
        Variant::StaticDr,
        Variant::BatonNat,
        Variant::BatonDr,
        Variant::Haproxy,
    ];

    /// For `--only`.
    pub(crate) fn arg(self) -> &'static str {
        match self {
            Variant::Direct => "direct",
            Variant::StaticNat => "static-nat",
            Variant::StaticDr => "static-dr",
            Variant::BatonNat => "baton-nat",
            Variant::BatonDr => "baton-dr",
            Variant::Haproxy => "haproxy",
        }
    }

    /// For the tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Variant::Direct => "direct (no LB)",
            Variant::StaticNat => "static nft NAT rule",
            Variant::StaticDr => "static nft DR rule",
            Variant::BatonNat => "baton NAT",
            Variant::BatonDr => "baton DR",
            Variant::Haproxy => "HAProxy mode tcp",
        }
    }

    /// The client's address: NAT's answers must come back through the lb.
    pub(crate) fn source(self) -> Ipv4Addr {
        match self {
            Variant::StaticNat | Variant::BatonNat => CLIENT_BEHIND_LB,
            _ => CLIENT,
        }
    }

    pub(crate) fn targets(self) -> Vec<SocketAddr> {
        match self {
            Variant::Direct => topology::app_addresses(),
            _ => vec![topology::service()],
        }
    }

    /// The static rule doing the same forwarding, for the ratios.
    pub(crate) fn floor(self) -> Option<Variant> {
        match self {
            Variant::BatonNat => Some(Variant::StaticNat),
            Variant::BatonDr => Some(Variant::StaticDr),
            _ => None,
        }
    }
}

/// The programs the variants run.
#[derive(Debug)]
pub(crate) struct Programs {
    pub(crate) baton: Option<PathBuf>,
    pub(crate) haproxy: Option<PathBuf>,
}

/// A variant set up on the lb; [`stop`](Self::stop) takes the lb back to its bare state.
#[derive(Debug)]
pub(crate) struct Running<'a> {
    topology: &'a Topology,
    /// baton or HAProxy.
    daemon: Option<Child>,
    /// The daemon is baton, which removes its own rules and the VIP when stopped.
    baton: bool,
    log: Option<PathBuf>,
}

impl<'a> Running<'a> {
    pub(crate) fn start(
        variant: Variant,
        topology: &'a Topology,
        programs: &Programs,
        dir: &Path,
    ) -> Result<Running<'a>> {
        topology.reset_lb()?;
        let lb = topology.lb();
        let mut running = Running {
            topology,
            daemon: None,
            baton: matches!(variant, Variant::BatonNat | Variant::BatonDr),
            log: None,
        };
        match variant {
            Variant::Direct => {}
            Variant::StaticNat => {
                topology::add_vip(lb)?;
                nft_file(lb, dir, "static-nat.nft", &configs::static_nat())?;
            }
            Variant::StaticDr => {
                topology::add_vip(lb)?;
                nft_file(lb, dir, "static-dr.nft", &configs::static_dr())?;
            }
            Variant::BatonNat | Variant::BatonDr => {
                let kind = if variant == Variant::BatonNat {
                    LbKind::Nat
                } else {
                    LbKind::Dr
                };
                let baton = programs
                    .baton
                    .as_deref()
                    .context("no baton binary: cargo build --release -p baton --bin baton")?;
                let config = write(
                    dir,
                    &format!("{}.toml", variant.arg()),
                    &configs::baton_toml(kind),
                )?;
                let log = dir.join(format!("{}.log", variant.arg()));
                let mut command = lb.command(baton);
                command
                    .arg("run")
                    .arg("--config")
                    .arg(&config)
                    .arg("--control")
                    .arg(dir.join(format!("{}.sock", variant.arg())))
                    .env("BATON_LOG", "warn");
                running.daemon = Some(spawn_logged(lb, command, &log).map_err(anyhow::Error::msg)?);
                running.log = Some(log);
                if !wait_for(Duration::from_secs(10), || holds(lb)) {
                    bail!("baton never took the VIP\n{}", running.log_tail());
                }
            }
            Variant::Haproxy => {
                let haproxy = programs
                    .haproxy
                    .as_deref()
                    .context("no haproxy: apt-get install -y haproxy")?;
                topology::add_vip(lb)?;
                let config = write(dir, "haproxy.cfg", &configs::haproxy())?;
                let log = dir.join("haproxy.log");
                let mut command = lb.command(haproxy);
                // -db: foreground, no daemon.
                command.arg("-db").arg("-f").arg(&config);
                running.daemon = Some(spawn_logged(lb, command, &log).map_err(anyhow::Error::msg)?);
                running.log = Some(log);
            }
        }
        Ok(running)
    }

    /// The daemon's process id, if the variant runs one.
    pub(crate) fn daemon_pid(&self) -> Option<u32> {
        self.daemon.as_ref().map(Child::id)
    }

    /// The end of the daemon's log, for a failure.
    pub(crate) fn log_tail(&self) -> String {
        let Some(log) = &self.log else {
            return String::new();
        };
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "--- {}\n{}",
            log.display(),
            lines[lines.len().saturating_sub(20)..].join("\n")
        )
    }

    /// Stops the daemon (SIGTERM, as systemd would: baton removes its rules and the VIP) and
    /// clears whatever is left.
    pub(crate) fn stop(mut self) -> Result<()> {
        if let Some(mut daemon) = self.daemon.take() {
            daemon.terminate();
        }
        let lb = self.topology.lb();
        if self.baton {
            let tables = lb.run("nft", &["list", "tables"]).unwrap_or_default();
            if !tables.trim().is_empty() || holds(lb) {
                eprintln!(
                    "  (baton left behind after SIGTERM: {}{})",
                    tables.trim(),
                    if holds(lb) { " and the VIP" } else { "" }
                );
            }
        }
        self.topology.reset_lb()
    }
}

fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| path.display().to_string())?;
    Ok(path)
}

/// Loads an nft script in `host`'s namespace.
fn nft_file(host: &Host, dir: &Path, name: &str, rules: &str) -> Result<()> {
    let path = write(dir, name, rules)?;
    let path = path.to_string_lossy();
    topology::run(host, "nft", &["-f", &path])
}
