//! The daemon's handle on its tables: render, apply, read counters, remove.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::net::SocketAddr;

use crate::conntrack;
use crate::error::Error;
use crate::exec::Runner;
use crate::model::{Family, Forwarding, Protocol, Service, Table};
use crate::nft_json;
use crate::render::{self, Ordinals};
use crate::ruleset::{self, Ruleset};

mod persistence;

/// Counters of one server of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendCounters {
    /// The [`Service::name`].
    pub service: String,
    /// The backend's (or the fallback's) address.
    pub backend: SocketAddr,
    /// Packets forwarded to it (NAT: both directions; DR: client to server only, the
    /// replies do not pass the LB).
    pub packets: u64,
    /// Bytes of those packets.
    pub bytes: u64,
    /// New flows sent to it (DR: TCP SYNs; 0 for UDP and SCTP, which DR cannot tell).
    pub new_connections: u64,
    /// Flows it holds now, from conntrack: established TCP/SCTP, every UDP flow (see
    /// the crate docs). Always 0 in DR, which keeps no state.
    pub active_connections: u64,
}

/// The families of baton's tables: NAT in inet, DR in netdev (`fwd` exists only there).
const FAMILIES: &[&str] = &["inet", "netdev"];

/// What the last successful transaction installed.
#[derive(Debug, Clone)]
struct Installed {
    table: Table,
    ruleset: Ruleset,
    ordinals: Ordinals,
}

/// One daemon's nf_tables data plane: the tables `inet NAME` (NAT services) and
/// `netdev NAME` (DR services, which need `fwd`) in one network namespace.
#[derive(Debug)]
pub struct DataPlane {
    name: String,
    runner: Runner,
    installed: Option<Installed>,
}

impl DataPlane {
    /// A data plane whose tables are named `name` (an nft identifier: letters, digits,
    /// `_`). Nothing is touched until [`apply`](Self::apply).
    pub fn new(name: &str) -> DataPlane {
        DataPlane {
            name: name.to_owned(),
            runner: Runner::default(),
            installed: None,
        }
    }

    /// Runs `nft` and `conntrack` behind `prefix`, e.g. `["ip", "netns", "exec", "lb1"]`
    /// to manage another network namespace (the tests' way into a lab host).
    pub fn with_command_prefix<I, S>(mut self, prefix: I) -> DataPlane
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.runner.prefix = prefix.into_iter().map(Into::into).collect();
        self
    }

    /// The nft script of the transaction that [`apply`](Self::apply) would run next: the
    /// whole tables the first time (deleting whatever a predecessor left), afterwards only
    /// the changes. Pure. [`apply`](Self::apply) may append deletions of persistence
    /// entries, which need a look at the kernel's state.
    pub fn render(&self, table: &Table) -> Result<String, Error> {
        Ok(self.prepare(table)?.0)
    }

    fn prepare(&self, table: &Table) -> Result<(String, Ruleset, Ordinals), Error> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(Error::Invalid(format!("bad table name {:?}", self.name)));
        }
        table.validate()?;
        let old_ordinals = self.installed.as_ref().map(|i| &i.ordinals);
        let ordinals = render::ordinals(table, old_ordinals.unwrap_or(&Ordinals::new()));
        let ruleset = render::ruleset(&self.name, table, &ordinals);
        let script = match &self.installed {
            Some(installed) => ruleset::transition(&installed.ruleset, &ruleset),
            None => ruleset::replace_all(&self.name, FAMILIES, &ruleset),
        };
        Ok((script, ruleset, ordinals))
    }

    /// Makes the kernel's tables match `table` in one atomic transaction. The first call
    /// replaces whatever tables of this name exist (a killed predecessor's); later calls
    /// keep the counters and persistence entries of unchanged services and backends.
    /// Persistence entries pointing at a removed or weight-0 backend are deleted in the
    /// same transaction, and the conntrack entries of removed UDP backends right after
    /// it, so that their clients move on. If the kernel refuses a change because the
    /// tables were altered behind baton's back, they are written whole instead.
    pub async fn apply(&mut self, table: &Table) -> Result<(), Error> {
        let (mut script, ruleset, ordinals) = self.prepare(table)?;
        let stale = self.stale_persistence(table);
        script.push_str(&self.persistence_cleanup(&stale).await?);
        if !script.is_empty() {
            if let Err(refused) = self.runner.nft_script(&script).await {
                // A change is refused when the kernel no longer holds what it changes:
                // someone flushed the ruleset or deleted a chain behind baton's back.
                // Writing the tables whole cures that (their counters start again); an
                // error of the tables themselves fails this too, with its own message.
                if self.installed.is_none() || !matches!(refused, Error::Nft { .. }) {
                    return Err(refused);
                }
                let whole = ruleset::replace_all(&self.name, FAMILIES, &ruleset);
                self.runner.nft_script(&whole).await?;
            }
        }
        let before = self.installed.replace(Installed {
            table: table.clone(),
            ruleset,
            ordinals,
        });
        // Flows already on their way through the old rules may have refreshed an entry
        // between the look and the commit; none can now, so one more pass finds them all.
        let late = self.persistence_cleanup(&stale).await?;
        if !late.is_empty() {
            self.runner.nft_script(&late).await?;
        }
        if let Some(before) = before {
            self.forget_udp_flows(&before.table, table).await?;
        }
        Ok(())
    }

    /// Deletes baton's tables.
    pub async fn remove(self) -> Result<(), Error> {
        let script = ruleset::replace_all(&self.name, FAMILIES, &Ruleset::default());
        self.runner.nft_script(&script).await
    }

    /// Per service and server: packets, bytes, new and active connections (active ones
    /// read 0 where the `conntrack` tool is missing).
    pub async fn counters(&self) -> Result<Vec<BackendCounters>, Error> {
        self.read_counters(true).await
    }

    /// [`counters`](Self::counters) without the active connections, which read 0: no
    /// conntrack listing, whose cost grows with the whole conntrack table (TIME_WAIT
    /// entries included), against two `nft` calls for the rest.
    pub async fn counters_without_active(&self) -> Result<Vec<BackendCounters>, Error> {
        self.read_counters(false).await
    }

    async fn read_counters(&self, active: bool) -> Result<Vec<BackendCounters>, Error> {
        let Some(installed) = &self.installed else {
            return Ok(Vec::new());
        };
        let table = &installed.table;
        let ids = render::service_ids(table);
        let mut sets = Vec::new();
        for nft_table in &installed.ruleset.tables {
            let json = self
                .runner
                .nft_json(&["list", "sets", "table", nft_table.family, &self.name])
                .await?;
            sets.extend(nft_json::named_sets(&json));
        }
        let mut flows = Vec::new();
        for family in [Family::Ipv4, Family::Ipv6] {
            let mut protocols: Vec<Protocol> = Vec::new();
            for service in &table.services {
                let nat = active && service.family == family && !is_dr(service);
                if nat && !protocols.contains(&service.protocol) {
                    protocols.push(service.protocol);
                }
            }
            let name = match family {
                Family::Ipv4 => "ipv4",
                Family::Ipv6 => "ipv6",
            };
            for protocol in protocols {
                // Only what can count as active: under load most of the table is
                // TIME_WAIT, and printing and parsing it was most of the cost.
                let mut args = vec!["-L", "-f", name, "-p", protocol.keyword()];
                if protocol != Protocol::Udp {
                    args.extend(["--state", "ESTABLISHED"]);
                }
                // Active connections need the conntrack tool; without it they read 0 and
                // the packet, byte and new-connection counters still work.
                match self.runner.conntrack(&args).await {
                    Ok(text) => flows.extend(conntrack::parse(&text)),
                    Err(Error::Spawn { .. }) => {}
                    Err(error) => return Err(error),
                }
            }
        }
        let mut out = Vec::new();
        for (service, id) in table.services.iter().zip(&ids) {
            let servers = service
                .backends
                .iter()
                .map(|b| b.address)
                .chain(service.fallback);
            for server in servers {
                let key = match &service.forwarding {
                    Forwarding::Dr { .. } => installed
                        .ordinals
                        .get(id)
                        .and_then(|o| o.get(&server))
                        .map(u32::to_string)
                        .unwrap_or_default(),
                    Forwarding::Nat { .. } => render::server_element(server, !service.all_ports()),
                };
                let counter = |suffix: &str| {
                    sets.iter()
                        .find(|(name, _)| *name == format!("{id}_{suffix}"))
                        .and_then(|(_, elements)| elements.iter().find(|e| e.0 == key))
                        .map(|e| (e.1, e.2))
                        .unwrap_or_default()
                };
                let (packets, bytes) = counter("traffic");
                let (new_connections, _) = counter("new");
                let active_connections = flows
                    .iter()
                    .filter(|f| !is_dr(service) && f.belongs_to(service, server) && f.active())
                    .count() as u64;
                out.push(BackendCounters {
                    service: service.name.clone(),
                    backend: server,
                    packets,
                    bytes,
                    new_connections,
                    active_connections,
                });
            }
        }
        Ok(out)
    }

    /// Per NAT service with persistence whose map survives the transaction: the servers
    /// (as map values) that stop taking new flows.
    fn stale_persistence(&self, table: &Table) -> Vec<(String, BTreeSet<String>)> {
        let Some(installed) = &self.installed else {
            return Vec::new();
        };
        let new_ids = render::service_ids(table);
        let old_ids = render::service_ids(&installed.table);
        let mut out = Vec::new();
        for (service, id) in table.services.iter().zip(&new_ids) {
            let Some(old) = installed
                .table
                .services
                .iter()
                .zip(&old_ids)
                .find(|(s, i)| *i == id && s.name == service.name)
                .map(|(s, _)| s)
            else {
                continue;
            };
            if is_dr(service) || service.persistence.is_none() || old.persistence.is_none() {
                continue;
            }
            let with_port = !service.all_ports();
            let live: BTreeSet<String> = service
                .eligible()
                .map(|b| render::server_element(b.address, with_port))
                .collect();
            let gone: BTreeSet<String> = old
                .eligible()
                .map(|b| render::server_element(b.address, with_port))
                .filter(|e| !live.contains(e))
                .collect();
            if !gone.is_empty() {
                out.push((format!("{id}_persist"), gone));
            }
        }
        out
    }

    /// The commands that delete the persistence entries pointing at `stale` servers.
    async fn persistence_cleanup(
        &self,
        stale: &[(String, BTreeSet<String>)],
    ) -> Result<String, Error> {
        let mut script = String::new();
        for (map, servers) in stale {
            let json = match self
                .runner
                .nft_json(&["list", "map", "inet", &self.name, map])
                .await
            {
                Ok(json) => json,
                // Not there yet: the first transaction creates it empty.
                Err(Error::Nft { .. }) => continue,
                Err(other) => return Err(other),
            };
            for (client, server) in nft_json::map_entries(&json) {
                if servers.contains(&server) {
                    // `add` first: an entry that timed out since the look would make a
                    // bare `delete` fail the whole transaction.
                    script.push_str(&format!(
                        "add element inet {name} {map} {{ {client} : {server} }}\n\
                         delete element inet {name} {map} {{ {client} }}\n",
                        name = self.name
                    ));
                }
            }
        }
        Ok(script)
    }

    /// Deletes the conntrack entries of UDP backends that `new` no longer has: without
    /// it their clients would keep sending to them until the entries time out.
    async fn forget_udp_flows(&self, old: &Table, new: &Table) -> Result<(), Error> {
        for service in &old.services {
            if service.protocol != Protocol::Udp || is_dr(service) {
                continue;
            }
            let kept = new.services.iter().find(|s| s.name == service.name);
            for backend in &service.backends {
                if kept.is_some_and(|s| s.backends.iter().any(|b| b.address == backend.address)) {
                    continue;
                }
                let family = match backend.address {
                    SocketAddr::V4(_) => "ipv4",
                    SocketAddr::V6(_) => "ipv6",
                };
                let mut args: Vec<String> = ["-D", "-f", family, "-p", "udp", "--reply-src"]
                    .map(String::from)
                    .into();
                args.push(backend.address.ip().to_string());
                if !service.all_ports() {
                    args.push("--reply-port-src".into());
                    args.push(backend.address.port().to_string());
                }
                for filter in conntrack::original_filters(service) {
                    let mut args = args.clone();
                    args.extend(filter);
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    self.runner.conntrack(&args).await?;
                }
            }
        }
        Ok(())
    }
}

fn is_dr(service: &Service) -> bool {
    matches!(service.forwarding, Forwarding::Dr { .. })
}
