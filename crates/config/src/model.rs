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
use crate::diagnostic::Location;
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

    /// A copy with every location blanked, to compare two configurations by content: on
    /// reload, or a `baton.toml` against the keepalived.conf it replaces.
    pub fn without_locations(&self) -> Config {
        let mut config = self.clone();
        let blank = Location::blank;
        if config.global.location.is_some() {
            config.global.location = Some(blank());
        }
        if let Some(sync) = &mut config.global.conn_sync {
            sync.location = blank();
        }
        for s in &mut config.scripts {
            s.location = blank();
        }
        for f in &mut config.track_files {
            f.location = blank();
        }
        for p in &mut config.track_processes {
            p.location = blank();
        }
        for i in &mut config.instances {
            i.location = blank();
            for v in i
                .virtual_addresses
                .iter_mut()
                .chain(&mut i.excluded_addresses)
            {
                v.location = blank();
            }
            for p in &mut i.unicast_peers {
                p.location = blank();
            }
            blank_tracks(
                &mut i.track_interfaces,
                &mut i.track_scripts,
                &mut i.track_files,
            );
            for t in &mut i.track_frontends {
                t.location = blank();
            }
            for t in &mut i.track_virtual_servers {
                t.location = blank();
            }
            for t in &mut i.track_bfds {
                t.location = blank();
            }
            for t in &mut i.track_processes {
                t.location = blank();
            }
            blank_notify(&mut i.notify);
        }
        for g in &mut config.sync_groups {
            g.location = blank();
            blank_tracks(
                &mut g.track_interfaces,
                &mut g.track_scripts,
                &mut g.track_files,
            );
            for t in &mut g.track_bfds {
                t.location = blank();
            }
            for t in &mut g.track_processes {
                t.location = blank();
            }
            blank_notify(&mut g.notify);
        }
        for f in &mut config.frontends {
            f.location = blank();
            for t in &mut f.tls {
                t.location = blank();
            }
        }
        for b in &mut config.backends {
            b.location = blank();
            for s in &mut b.servers {
                s.location = blank();
            }
            if let Some(check) = &mut b.health_check {
                check.location = blank();
            }
        }
        for v in &mut config.virtual_servers {
            v.blank_locations();
        }
        for b in &mut config.bfd_instances {
            b.location = blank();
        }
        config
    }
}

fn blank_tracks(
    interfaces: &mut [TrackInterface],
    scripts: &mut [TrackScriptRef],
    files: &mut [TrackFileRef],
) {
    for t in interfaces {
        t.location = Location::blank();
    }
    for t in scripts {
        t.location = Location::blank();
    }
    for t in files {
        t.location = Location::blank();
    }
}

fn blank_notify(notify: &mut Notify) {
    for script in [
        &mut notify.master,
        &mut notify.backup,
        &mut notify.fault,
        &mut notify.stop,
        &mut notify.any,
        &mut notify.master_rx_lower_pri,
        &mut notify.deleted,
    ]
    .into_iter()
    .flatten()
    {
        script.location = Location::blank();
    }
}
