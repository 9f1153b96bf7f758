//! The one configuration model both front ends produce and the daemon runs from.
//!
//! Values here are resolved: defaults are filled in (from `[global]` / `global_defs`, then
//! keepalived's own defaults) and every check in `validate` has passed, so the daemon never
//! has to know which file format an instance came from.
//!
//! One file per part: `global`, `vrrp` (instances, sync groups, static routing), `tracking`
//! (tracked objects and the references to them), `proxy` (frontends and backends) and
//! `engine` (the model as the VRRP engine takes it). This file holds the whole
//! [`Config`] and the lookups by name.

mod engine;
mod global;
mod proxy;
mod tracking;
mod vrrp;

pub use crate::basics::{Family, NotifyScript, ScriptUser};
pub use engine::{Track, TrackOrigin, TrackedObject};
pub use global::{AdminListen, Global, GlobalScripts, NotifyFifo, TimedScript};
pub use proxy::{Backend, BackendServer, Frontend, HealthCheck, HealthCheckKind, TlsCertificate};
pub use tracking::{
    InitFile, TrackFile, TrackFileRef, TrackFrontend, TrackInterface, TrackScript, TrackScriptRef,
    TrackVirtualServer,
};
pub use vrrp::{
    AnnouncePacing, GarpGroup, InitialState, Notify, Scope, StaticAddress, StaticRouting,
    SyncGroup, UnicastPeer, VirtualAddress, VrrpInstance,
};

/// A whole configuration: the VRRP part of keepalived, and the proxy's frontends and
/// backends (`baton.toml` only).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    pub global: Global,
    pub scripts: Vec<TrackScript>,
    pub track_files: Vec<TrackFile>,
    /// keepalived's `vrrp_track_process` blocks.
    pub track_processes: Vec<crate::track_process::TrackProcess>,
    pub instances: Vec<VrrpInstance>,
    pub sync_groups: Vec<SyncGroup>,
    pub frontends: Vec<Frontend>,
    pub backends: Vec<Backend>,
    /// keepalived's `virtual_server` blocks / `[[virtual_server]]`: L4 balancing.
    pub virtual_servers: Vec<crate::virtual_server::VirtualServer>,
    /// keepalived's `static_ipaddress`, `static_routes`, `static_rules`.
    pub static_routing: StaticRouting,
    /// keepalived's `bfd_instance` blocks (keepalived.conf only).
    pub bfd_instances: Vec<crate::bfd::BfdInstance>,
    /// `[[anycast]]`: prefixes announced through the host's routing daemon.
    pub anycasts: Vec<crate::anycast::Anycast>,
}

impl Config {
    pub fn instance(&self, name: &str) -> Option<&VrrpInstance> {
        self.instances.iter().find(|i| i.name == name)
    }

    pub fn script(&self, name: &str) -> Option<&TrackScript> {
        self.scripts.iter().find(|s| s.name == name)
    }

    pub fn track_file(&self, name: &str) -> Option<&TrackFile> {
        self.track_files.iter().find(|f| f.name == name)
    }

    /// The first `vrrp_track_process` of that name, as keepalived looks it up.
    pub fn track_process(&self, name: &str) -> Option<&crate::track_process::TrackProcess> {
        self.track_processes.iter().find(|p| p.name == name)
    }

    pub fn bfd_instance(&self, name: &str) -> Option<&crate::bfd::BfdInstance> {
        self.bfd_instances.iter().find(|b| b.name == name)
    }

    pub fn frontend(&self, name: &str) -> Option<&Frontend> {
        self.frontends.iter().find(|f| f.name == name)
    }

    pub fn backend(&self, name: &str) -> Option<&Backend> {
        self.backends.iter().find(|b| b.name == name)
    }

    pub fn virtual_server(&self, name: &str) -> Option<&crate::virtual_server::VirtualServer> {
        self.virtual_servers.iter().find(|v| v.name == name)
    }

    /// The sync group `instance` belongs to.
    pub fn sync_group_of(&self, instance: &str) -> Option<&SyncGroup> {
        self.sync_groups
            .iter()
            .find(|g| g.members.iter().any(|m| m == instance))
    }
}
