//! The model as the VRRP engine takes it: an instance's [`InstanceConfig`], its tracked
//! objects numbered as the engine numbers them ([`Track`]; [`Config::tracks`] lists them),
//! and the sync groups.

use std::net::IpAddr;

use baton_vrrp::{InstanceConfig, Peers, SyncGroupConfig, TrackConfig};

use super::{Config, VrrpInstance};

/// A tracked object as the engine numbers it: index `i` of [`Config::tracks`] is track `i`
/// of the instance's [`InstanceConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    pub object: TrackedObject,
    /// In engine terms ([`TrackConfig::weight`]): 0 means down is FAULT, positive is added
    /// while up, negative while down.
    pub weight: i32,
    /// keepalived's `weight W reverse`, already folded into `weight` (the configured weight
    /// negated): the daemon reports the object's state inverted (up as down, a file's value
    /// 0 as a failure with weight 0) and a file's value times the negated weight. So
    /// `weight 10 reverse` lowers the priority by 10 while the object is up, and weight 0
    /// reverse means FAULT while it is up, as keepalived's `weight_multiplier` -1.
    pub reverse: bool,
    pub initially_up: bool,
    pub origin: TrackOrigin,
}

/// What the daemon watches for one [`Track`]. Ordered, so that the daemon's plan of what
/// to watch (a map keyed by it) is the same on every run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrackedObject {
    /// Link state: report up or down.
    Interface(String),
    /// A [`crate::TrackScript`] by name: report its up/down after rise/fall.
    Script(String),
    /// A [`crate::TrackFile`] by name. With weight 0 report down for a non-zero value, up
    /// for 0. Otherwise report `TrackStatus::Offset(value * weight)` (saturating).
    File(String),
    /// A [`crate::TrackProcess`] by name: report up while its quorum holds.
    Process(String),
    /// A [`crate::Frontend`] by name: report down while its listener could not be opened or
    /// its backend has no server in rotation (none configured, or every one ejected or
    /// failing its health check), up otherwise.
    /// Up at start, as the servers are until checks say otherwise.
    Frontend(String),
    /// A [`crate::VirtualServer`] by name: report down while it has lost its quorum (the
    /// weights of its real servers that are up sum to less than `quorum - hysteresis`,
    /// until they reach `quorum + hysteresis` again), up otherwise. Up at start, unless
    /// `alpha` starts its real servers down.
    VirtualServer(String),
    /// A [`crate::BfdInstance`] by name: report up while its session is Up, down otherwise
    /// (down at start, as keepalived's VRRP process assumes until the session comes up).
    Bfd(String),
    /// keepalived's `track_src_ip`: the instance's configured source address, reported up
    /// while it is on one of `interfaces` (the instance's interface, and its virtual link
    /// when it has one), down otherwise.
    SourceAddress {
        address: IpAddr,
        interfaces: Vec<String>,
    },
}

impl std::fmt::Display for TrackedObject {
    /// As logs and fault reasons name it: `interface eth0`, `script chk_web`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrackedObject::Interface(name) => write!(f, "interface {name}"),
            TrackedObject::Script(name) => write!(f, "script {name}"),
            TrackedObject::File(name) => write!(f, "file {name}"),
            TrackedObject::Process(name) => write!(f, "process {name}"),
            TrackedObject::Frontend(name) => write!(f, "frontend {name}"),
            TrackedObject::VirtualServer(name) => write!(f, "virtual server {name}"),
            TrackedObject::Bfd(name) => write!(f, "bfd {name}"),
            TrackedObject::SourceAddress {
                address,
                interfaces,
            } => write!(f, "source address {address} on {}", interfaces.join(" or ")),
        }
    }
}

/// Why an object is tracked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrackOrigin {
    /// The instance's own interface (unless `dont_track_primary`).
    OwnInterface,
    /// The `dev` of a virtual address (unless `no_track`).
    AddressDevice,
    /// The instance's `track_interface` / `track_script` / `track_file` /
    /// `track_frontend` / `track_virtual_server`.
    Instance,
    /// The `track_*` of the instance's sync group.
    SyncGroup(String),
    /// `track_src_ip`: the instance's source address.
    SourceAddress,
}

impl Track {
    pub fn engine_config(&self) -> TrackConfig {
        TrackConfig {
            weight: self.weight,
            initially_up: self.initially_up,
        }
    }
}

impl VrrpInstance {
    /// The engine's configuration. `primary_address` is the interface's primary address of
    /// the instance's [`family`](Self::family), found at run time; it is not used when the
    /// configuration sets `unicast_src_ip` / `mcast_src_ip`. `tracks` is
    /// [`Config::tracks`] for this instance: their order is the engine's track numbering.
    pub fn engine_config(&self, primary_address: IpAddr, tracks: &[Track]) -> InstanceConfig {
        let mut config = InstanceConfig::new(
            self.name.clone(),
            // Adverts are read there (a vmac's, unless vmac_xmit_base).
            self.advert_interface().to_owned(),
            self.vrid,
            self.version,
            self.source_address.unwrap_or(primary_address),
            self.virtual_addresses.iter().map(|v| v.address).collect(),
        );
        config.priority = self.priority;
        config.advert_interval = self.advert_interval;
        config.peers = if self.unicast_peers.is_empty() {
            Peers::Multicast
        } else {
            Peers::Unicast(self.unicast_peers.iter().map(|p| p.address).collect())
        };
        config.preempt = self.preempt;
        config.preempt_delay = self.preempt_delay;
        config.accept_mode = self.accept;
        config.auth = self.auth;
        config.checksum_mode = self.checksum_mode;
        config.tracks = tracks.iter().map(Track::engine_config).collect();
        config.announce = self.announce;
        config.skip_check_advert_addresses = self.skip_check_adv_addr;
        config.unicast_peer_ttl = self
            .unicast_peers
            .iter()
            .filter(|p| p.ttl != (0..=u8::MAX))
            .map(|p| (p.address, p.ttl.clone()))
            .collect();
        self.election.apply(&mut config);
        config
    }
}

impl Config {
    /// The sync groups as the engine's [`baton_vrrp::Router::new`] takes them.
    pub fn sync_group_configs(&self) -> Vec<SyncGroupConfig> {
        self.sync_groups
            .iter()
            .map(|g| SyncGroupConfig {
                name: g.name.clone(),
                members: g.members.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use baton_vrrp::Vrid;

    use super::*;

    #[test]
    fn the_engine_takes_a_cli_built_instance() {
        let mut config = Config::default();
        config.instances.push(VrrpInstance::new(
            "vrrp",
            "eth0",
            Vrid::new(1).expect("non-zero"),
            vec!["10.0.3.100".parse().expect("literal")],
        ));
        let instance = &config.instances[0];
        let tracks = config.tracks(instance);
        let engine = instance.engine_config("10.0.3.5".parse().expect("literal"), &tracks);
        assert_eq!(engine.tracks.len(), 1);
        baton_vrrp::Router::new(vec![engine], config.sync_group_configs()).expect("valid");
    }
}
