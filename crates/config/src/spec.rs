//! What a front end read, before defaults: both front ends fill a [`Draft`], and
//! [`build`] turns it into the model the same way for both, filling defaults in the order
//! keepalived does and running every check in `validate`.
//!
//! Each block's draft and how it resolves are in a file of their own (`global`, `script`,
//! `track_file`, `instance`); this file holds the whole [`Draft`], the sync groups, and
//! the build that runs them in order.

use std::path::Path;

pub(crate) use crate::diagnostic::At;
use crate::diagnostic::{Diagnostics, Location};
use crate::model::{Config, Notify, SyncGroup, TrackFileRef, TrackInterface, TrackScriptRef};
use crate::proxy_spec::{self, BackendDraft, FrontendDraft};
use crate::virtual_server::SslContext;
use crate::virtual_server_spec::{self, GroupDraft, VirtualServerDraft};
use crate::{strict, tracks, validate};

mod global;
mod instance;
mod script;
mod strict_mode;
mod track_file;

use global::resolve_global;
pub(crate) use global::{GarpDraft, GlobalDraft};
use instance::resolve_instance;
pub(crate) use instance::{AuthDraft, InstanceDraft};
pub(crate) use script::ScriptDraft;
use script::resolve_script;
pub(crate) use track_file::TrackFileDraft;
use track_file::resolve_track_file;

#[derive(Debug, Default)]
pub(crate) struct Draft {
    pub(crate) global: GlobalDraft,
    pub(crate) scripts: Vec<ScriptDraft>,
    pub(crate) track_files: Vec<TrackFileDraft>,
    pub(crate) track_processes: Vec<crate::track_process::TrackProcess>,
    pub(crate) instances: Vec<InstanceDraft>,
    pub(crate) sync_groups: Vec<SyncGroupDraft>,
    /// `[[frontend]]` and `[[backend]]`: `baton.toml` only.
    pub(crate) frontends: Vec<FrontendDraft>,
    pub(crate) backends: Vec<BackendDraft>,
    /// keepalived's LVS family: `virtual_server`, `virtual_server_group`, `SSL`.
    pub(crate) virtual_servers: Vec<VirtualServerDraft>,
    pub(crate) virtual_server_groups: Vec<GroupDraft>,
    /// keepalived's `bfd_instance` blocks, already checked.
    pub(crate) bfd_instances: Vec<crate::bfd::BfdInstance>,
    pub(crate) ssl: Option<SslContext>,
    /// keepalived's `static_ipaddress`, `static_routes`, `static_rules`.
    pub(crate) static_routing: crate::model::StaticRouting,
    /// `[[anycast]]`, each already checked: `baton.toml` only.
    pub(crate) anycasts: Vec<crate::anycast::Anycast>,
}

#[derive(Debug)]
pub(crate) struct SyncGroupDraft {
    pub(crate) name: String,
    pub(crate) location: Location,
    pub(crate) members: Vec<At<String>>,
    pub(crate) notify: Notify,
    pub(crate) track_interfaces: Vec<TrackInterface>,
    pub(crate) track_scripts: Vec<TrackScriptRef>,
    pub(crate) track_files: Vec<TrackFileRef>,
    pub(crate) track_processes: Vec<crate::track_process::TrackProcessRef>,
    pub(crate) track_bfds: Vec<crate::bfd::TrackBfdRef>,
    pub(crate) tracking_weight: bool,
}

impl SyncGroupDraft {
    /// A group with no member and nothing tracked or notified yet.
    pub(crate) fn new(name: String, location: Location) -> SyncGroupDraft {
        SyncGroupDraft {
            name,
            location,
            members: Vec::new(),
            notify: Notify::default(),
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
            track_bfds: Vec::new(),
            tracking_weight: false,
        }
    }
}

/// Defaults, keepalived's adjustments and every check; errors and warnings go to `d`.
/// `path` is the file the user named, for what concerns the configuration as a whole.
pub(crate) fn build(draft: Draft, path: &Path, d: &mut Diagnostics) -> Config {
    let names = validate::Names {
        instances: named(&draft.instances, |i| (&i.name, &i.location)),
        scripts: named(&draft.scripts, |s| (&s.name, &s.location)),
        track_files: named(&draft.track_files, |f| (&f.name, &f.location)),
        sync_groups: named(&draft.sync_groups, |g| (&g.name, &g.location)),
        frontends: named(&draft.frontends, |f| (&f.name, &f.location)),
        backends: named(&draft.backends, |b| (&b.name, &b.location)),
        virtual_server_groups: named(&draft.virtual_server_groups, |g| (&g.name, &g.location)),
    };
    validate::names(&names, d);
    validate::frontends(&draft.frontends, &draft.backends, &names, d);
    // Each track_file's own weight, which FILE_CHECK defaults to (read before the files are
    // resolved, so that an invalid file is not also reported as missing).
    let file_weights: Vec<(String, i32)> = draft
        .track_files
        .iter()
        .map(|f| (f.name.clone(), f.weight.unwrap_or(1)))
        .collect();
    let virtual_servers = virtual_server_spec::build(
        draft.virtual_servers,
        &virtual_server_spec::Context {
            track_files: &file_weights,
            ssl: draft.ssl.as_ref(),
            groups: &draft.virtual_server_groups,
            log_all_failures: draft.global.checker_log_all_failures.unwrap_or(false),
        },
        d,
    );
    let strict = draft.global.strict;
    let mut global = resolve_global(draft.global);
    let scripts = draft
        .scripts
        .into_iter()
        .filter_map(|s| resolve_script(s, d))
        .collect();
    let track_files = draft
        .track_files
        .into_iter()
        .filter_map(|f| resolve_track_file(f, d))
        .collect();
    let mut sites = Vec::new();
    let mut complete = Vec::new();
    let mut instances = Vec::new();
    for draft in draft.instances {
        let (instance, s, whole) = resolve_instance(draft, &global, strict, d);
        instances.push(instance);
        sites.push(s);
        complete.push(whole);
    }
    crate::address_links::plan(&mut instances, &global.vmac, d);
    crate::link_delays::cap(&mut global.link_delays, &instances, d);
    let mut members = Vec::new();
    let sync_groups = draft
        .sync_groups
        .into_iter()
        .map(|g| {
            members.push(g.members.clone());
            SyncGroup {
                name: g.name,
                members: g.members.into_iter().map(|m| m.value).collect(),
                notify: g.notify,
                track_interfaces: g.track_interfaces,
                track_scripts: g.track_scripts,
                track_files: g.track_files,
                track_processes: g.track_processes,
                track_bfds: g.track_bfds,
                tracking_weight: g.tracking_weight,
                location: g.location.into(),
            }
        })
        .collect();
    let frontends = draft
        .frontends
        .into_iter()
        .filter_map(|f| proxy_spec::frontend(f, d))
        .collect();
    let backends = draft
        .backends
        .into_iter()
        .map(|b| proxy_spec::backend(b, d))
        .collect();
    let config = Config {
        static_routing: draft.static_routing,
        global,
        scripts,
        track_files,
        track_processes: draft.track_processes,
        instances,
        sync_groups,
        frontends,
        backends,
        virtual_servers,
        bfd_instances: draft.bfd_instances,
        anycasts: draft.anycasts,
    };
    crate::track_process_refs::check_references(&config, d);
    crate::conn_sync_refs::check(&config, d);
    crate::anycast_refs::check(&config, d);
    for (instance, sites) in config.instances.iter().zip(&sites) {
        validate::instance(instance, sites, d);
    }
    validate::config(&config, &names, &complete, &members, d);
    let bfd_owners = config
        .instances
        .iter()
        .map(|i| (format!("instance {}", i.name), i.track_bfds.as_slice()))
        .chain(
            config
                .sync_groups
                .iter()
                .map(|g| (format!("sync group {}", g.name), g.track_bfds.as_slice())),
        );
    crate::bfd::check_references(&config.bfd_instances, bfd_owners, d);
    virtual_server_spec::duplicates(&config.virtual_servers, d);
    validate::backends(&config.backends, d);
    // A proxy alone is something to run; so is VRRP alone, or L4 balancing alone.
    let nothing = config.instances.is_empty()
        && config.frontends.is_empty()
        && config.virtual_servers.is_empty();
    if nothing && !d.has_errors() {
        d.warn_file(path, "no vrrp_instance: there is nothing to run");
    }
    if !d.has_errors() {
        strict::warn_of_trap(&config, d);
        for instance in &config.instances {
            tracks::tracks(&config, instance, &mut |at, message| d.warn(at, message));
        }
    }
    config
}

fn named<T>(items: &[T], key: impl Fn(&T) -> (&String, &Location)) -> Vec<(String, Location)> {
    items
        .iter()
        .map(|item| {
            let (name, at) = key(item);
            (name.clone(), at.clone())
        })
        .collect()
}
