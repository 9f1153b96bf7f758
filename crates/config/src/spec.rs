//! What a front end read, before defaults: both front ends fill a [`Draft`], and
//! [`build`] turns it into the model the same way for both, filling defaults in the order
//! keepalived does and running every check in `validate`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_vrrp::{AnnounceConfig, Auth, ChecksumMode, Password, Priority, Version, Vrid};

pub(crate) use crate::diagnostic::At;
use crate::diagnostic::{Diagnostics, Location};
use crate::election::ElectionDraft;
use crate::model::{
    Config, Global, InitFile, InitialState, Notify, ScriptUser, SyncGroup, TrackFile, TrackFileRef,
    TrackFrontend, TrackInterface, TrackScript, TrackScriptRef, TrackVirtualServer, UnicastPeer,
    VirtualAddress, VrrpInstance,
};
use crate::proxy_spec::{self, BackendDraft, FrontendDraft};
use crate::validate::Sites;
use crate::virtual_server::SslContext;
use crate::virtual_server_spec::{self, GroupDraft, VirtualServerDraft};
use crate::{strict, tracks, validate};

mod strict_mode;

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

#[derive(Debug, Default)]
pub(crate) struct GlobalDraft {
    pub(crate) location: Option<Location>,
    pub(crate) router_id: Option<String>,
    pub(crate) script_user: Option<ScriptUser>,
    pub(crate) enable_script_security: bool,
    pub(crate) vrrp_version: Option<Version>,
    pub(crate) garp: GarpDraft,
    /// `vrrp_min_garp`: one announcement and no second burst, unless set explicitly.
    pub(crate) min_garp: bool,
    pub(crate) v3_checksum_as_v2: Option<bool>,
    pub(crate) admin: Option<crate::model::AdminListen>,
    /// `checker_log_all_failures`: the default of each checker's `log_all_failures`.
    pub(crate) checker_log_all_failures: Option<bool>,
    pub(crate) rs_init_notifies: bool,
    /// `vrrp_skip_check_adv_addr`.
    pub(crate) skip_check_adv_addr: bool,
    pub(crate) announce_pacing: crate::model::AnnouncePacing,
    pub(crate) garp_groups: Vec<crate::model::GarpGroup>,
    /// `vrrp_lower_prio_no_advert` and the other `vrrp_` election defaults.
    pub(crate) election: ElectionDraft,
    pub(crate) startup_delay: Option<Duration>,
    pub(crate) default_interface: Option<String>,
    pub(crate) dynamic_interfaces: bool,
    pub(crate) notify_fifo: Option<crate::model::NotifyFifo>,
    pub(crate) vrrp_notify_fifo: Option<crate::model::NotifyFifo>,
    pub(crate) lvs_notify_fifo: Option<crate::model::NotifyFifo>,
    pub(crate) vmac: crate::vmac::VmacGlobal,
    pub(crate) notify_priority_changes: bool,
    pub(crate) link_delays: Vec<crate::InterfaceDelays>,
    /// `smtp_server`, `notification_email`, the `smtp_alert` defaults, ...
    pub(crate) smtp: crate::SmtpAlerts,
    pub(crate) scripts: crate::model::GlobalScripts,
    /// The `*_script_timeout`s, applied to the scripts when resolved.
    pub(crate) startup_timeout: Option<Duration>,
    pub(crate) shutdown_timeout: Option<Duration>,
    pub(crate) fifo_write_states_on_reload: bool,
    pub(crate) reload_file: Option<PathBuf>,
    pub(crate) reload_time_file: Option<PathBuf>,
    pub(crate) reload_repeat: bool,
    pub(crate) conn_sync: Option<crate::ConnSync>,
    /// `vrrp_strict`: every instance in strict RFC mode unless its `strict_mode` says not.
    pub(crate) strict: bool,
}

/// `garp_master_*` in seconds and counts, already range-checked.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct GarpDraft {
    pub(crate) master_delay: Option<u32>,
    pub(crate) master_repeat: Option<u32>,
    pub(crate) master_refresh: Option<u32>,
    pub(crate) master_refresh_repeat: Option<u32>,
    /// `garp_lower_prio_delay` / `garp_lower_prio_repeat` (0 allowed for both).
    pub(crate) lower_prio_delay: Option<u32>,
    pub(crate) lower_prio_repeat: Option<u32>,
}

impl GarpDraft {
    fn over(self, base: AnnounceConfig) -> AnnounceConfig {
        let seconds = |s: u32| (s > 0).then(|| Duration::from_secs(u64::from(s)));
        AnnounceConfig {
            repeat: self.master_repeat.unwrap_or(base.repeat),
            second_burst_delay: self.master_delay.map_or(base.second_burst_delay, seconds),
            refresh: self.master_refresh.map_or(base.refresh, seconds),
            refresh_repeat: self.master_refresh_repeat.unwrap_or(base.refresh_repeat),
            lower_priority_repeat: self.lower_prio_repeat.unwrap_or(base.lower_priority_repeat),
            lower_priority_delay: self
                .lower_prio_delay
                .map_or(base.lower_priority_delay, seconds),
        }
    }

    /// The global settings: keepalived's `vrrp_garp_lower_prio_*` default to the global
    /// `vrrp_garp_master_repeat` / `_delay` as finally set.
    fn over_global(self, base: AnnounceConfig) -> AnnounceConfig {
        let mut announce = self.over(base);
        if self.lower_prio_repeat.is_none() {
            announce.lower_priority_repeat = announce.repeat;
        }
        if self.lower_prio_delay.is_none() {
            announce.lower_priority_delay = announce.second_burst_delay;
        }
        announce
    }
}

#[derive(Debug)]
pub(crate) struct ScriptDraft {
    pub(crate) name: String,
    pub(crate) location: Location,
    pub(crate) argv: Option<Vec<String>>,
    /// `script` was written, valid or not.
    pub(crate) argv_given: bool,
    pub(crate) interval: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) weight: Option<i32>,
    /// `weight N reverse`.
    pub(crate) reverse: bool,
    pub(crate) rise: Option<u32>,
    pub(crate) fall: Option<u32>,
    pub(crate) user: Option<ScriptUser>,
    pub(crate) init_fail: bool,
}

impl ScriptDraft {
    pub(crate) fn new(name: String, location: Location) -> ScriptDraft {
        ScriptDraft {
            name,
            location,
            argv: None,
            argv_given: false,
            interval: None,
            timeout: None,
            weight: None,
            reverse: false,
            rise: None,
            fall: None,
            user: None,
            init_fail: false,
        }
    }
}

#[derive(Debug)]
pub(crate) struct TrackFileDraft {
    pub(crate) name: String,
    pub(crate) location: Location,
    pub(crate) path: Option<PathBuf>,
    /// `file` was written, valid or not.
    pub(crate) path_given: bool,
    pub(crate) weight: Option<i32>,
    /// `weight N reverse`.
    pub(crate) reverse: bool,
    pub(crate) init_file: Option<InitFile>,
}

#[derive(Debug)]
pub(crate) struct InstanceDraft {
    pub(crate) name: String,
    pub(crate) location: Location,
    pub(crate) interface: Option<String>,
    pub(crate) vrid: Option<Vrid>,
    /// `interface` / `virtual_router_id` were written, valid or not: when not valid, the
    /// front end said so and "missing" would be one error too many.
    pub(crate) interface_given: bool,
    pub(crate) vrid_given: bool,
    pub(crate) version: Option<At<Version>>,
    pub(crate) state: Option<InitialState>,
    pub(crate) priority: Option<u8>,
    pub(crate) advert_int: Option<At<Duration>>,
    pub(crate) virtual_addresses: Vec<VirtualAddress>,
    pub(crate) excluded_addresses: Vec<VirtualAddress>,
    pub(crate) no_virtual_ipaddress: bool,
    /// A `virtual_ipaddress` block with entries was written, valid or not.
    pub(crate) virtual_ipaddress_given: bool,
    pub(crate) source_address: Option<At<IpAddr>>,
    /// Where `track_src_ip` was written.
    pub(crate) track_src_ip: Option<Location>,
    pub(crate) unicast_peers: Vec<UnicastPeer>,
    /// Set by `nopreempt` (true) and `preempt` (false), the last one winning.
    pub(crate) nopreempt: Option<At<bool>>,
    pub(crate) preempt_delay: Option<At<Duration>>,
    pub(crate) accept: Option<bool>,
    pub(crate) auth: Option<AuthDraft>,
    pub(crate) track_interfaces: Vec<TrackInterface>,
    pub(crate) track_scripts: Vec<TrackScriptRef>,
    pub(crate) track_files: Vec<TrackFileRef>,
    pub(crate) track_processes: Vec<crate::track_process::TrackProcessRef>,
    pub(crate) track_frontends: Vec<TrackFrontend>,
    pub(crate) track_virtual_servers: Vec<TrackVirtualServer>,
    pub(crate) track_bfds: Vec<crate::bfd::TrackBfdRef>,
    pub(crate) dont_track_primary: bool,
    pub(crate) skip_check_adv_addr: bool,
    /// Where `native_ipv6` was written: the instance must be IPv6.
    pub(crate) native_ipv6: Option<Location>,
    pub(crate) election: ElectionDraft,
    pub(crate) notify: Notify,
    pub(crate) garp: GarpDraft,
    pub(crate) v3_checksum_as_v2: Option<At<bool>>,
    /// `strict_mode`: `None` follows the global `vrrp_strict`.
    pub(crate) strict_mode: Option<bool>,
    /// `virtual_routes`, `virtual_rules`, `promote_secondaries`.
    pub(crate) routing: crate::routing::InstanceRouting,
    pub(crate) vmac: crate::vmac::VmacDraft,
}

impl InstanceDraft {
    pub(crate) fn new(name: String, location: Location) -> InstanceDraft {
        InstanceDraft {
            name,
            location,
            interface: None,
            vrid: None,
            interface_given: false,
            vrid_given: false,
            version: None,
            state: None,
            priority: None,
            advert_int: None,
            virtual_addresses: Vec::new(),
            excluded_addresses: Vec::new(),
            no_virtual_ipaddress: false,
            virtual_ipaddress_given: false,
            source_address: None,
            track_src_ip: None,
            unicast_peers: Vec::new(),
            nopreempt: None,
            preempt_delay: None,
            accept: None,
            auth: None,
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
            track_frontends: Vec::new(),
            track_virtual_servers: Vec::new(),
            track_bfds: Vec::new(),
            dont_track_primary: false,
            skip_check_adv_addr: false,
            native_ipv6: None,
            election: ElectionDraft::default(),
            notify: Notify::default(),
            garp: GarpDraft::default(),
            v3_checksum_as_v2: None,
            strict_mode: None,
            routing: crate::routing::InstanceRouting::default(),
            vmac: crate::vmac::VmacDraft::default(),
        }
    }
}

/// `authentication { auth_type PASS  auth_pass SECRET }`; `auth_type AH` is refused by the
/// front ends.
#[derive(Debug, Clone)]
pub(crate) struct AuthDraft {
    pub(crate) location: Location,
    pub(crate) pass_type: bool,
    pub(crate) pass: Option<At<String>>,
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

fn resolve_global(g: GlobalDraft) -> Global {
    let mut base = AnnounceConfig::default();
    if g.min_garp {
        base.repeat = 1;
        base.second_burst_delay = None;
    }
    Global {
        router_id: g.router_id,
        script_user: g.script_user,
        enable_script_security: g.enable_script_security,
        vrrp_version: g.vrrp_version.unwrap_or(Version::V2),
        announce: g.garp.over_global(base),
        v3_checksum_as_v2: g.v3_checksum_as_v2.unwrap_or(false),
        admin: g.admin,
        rs_init_notifies: g.rs_init_notifies,
        skip_check_adv_addr: g.skip_check_adv_addr,
        announce_pacing: g.announce_pacing,
        garp_groups: g.garp_groups,
        election: g.election.defaults(),
        startup_delay: g.startup_delay.unwrap_or(Duration::ZERO),
        default_interface: g.default_interface,
        dynamic_interfaces: g.dynamic_interfaces,
        notify_fifo: g.notify_fifo,
        vrrp_notify_fifo: g.vrrp_notify_fifo,
        lvs_notify_fifo: g.lvs_notify_fifo,
        vmac: g.vmac,
        reload_time_file: g.reload_time_file,
        reload_repeat: g.reload_repeat,
        notify_priority_changes: g.notify_priority_changes,
        link_delays: g.link_delays,
        smtp: g.smtp,
        scripts: g
            .scripts
            .with_timeouts(g.startup_timeout, g.shutdown_timeout),
        fifo_write_states_on_reload: g.fifo_write_states_on_reload,
        reload_file: g.reload_file,
        conn_sync: g.conn_sync,
        location: g.location.map(Into::into),
    }
}

fn resolve_script(s: ScriptDraft, d: &mut Diagnostics) -> Option<TrackScript> {
    let Some(argv) = s.argv else {
        if !s.argv_given {
            d.error(
                &s.location,
                format!("script {}: no 'script' to run", s.name),
            );
        }
        return None;
    };
    let interval = s.interval.unwrap_or(Duration::from_secs(1));
    Some(TrackScript {
        name: s.name,
        argv,
        interval,
        timeout: s.timeout.unwrap_or(interval),
        weight: s.weight.unwrap_or(0),
        reverse: s.reverse,
        rise: s.rise.unwrap_or(1),
        fall: s.fall.unwrap_or(1),
        user: s.user,
        init_fail: s.init_fail,
        location: s.location.into(),
    })
}

fn resolve_track_file(f: TrackFileDraft, d: &mut Diagnostics) -> Option<TrackFile> {
    let Some(path) = f.path else {
        if !f.path_given {
            d.error(
                &f.location,
                format!("track file {}: no 'file' to read", f.name),
            );
        }
        return None;
    };
    Some(TrackFile {
        name: f.name,
        path,
        weight: f.weight.unwrap_or(1),
        reverse: f.reverse,
        init_file: f.init_file,
        location: f.location.into(),
    })
}

/// Defaults in keepalived's order (`vrrp_complete_instance`), with its adjustments turned
/// into warnings. Missing `interface` / `virtual_router_id` are errors; the instance is
/// still built (with placeholders, and `false` for "complete") so that its other settings
/// are checked too.
fn resolve_instance(
    mut i: InstanceDraft,
    global: &Global,
    strict: bool,
    d: &mut Diagnostics,
) -> (VrrpInstance, Sites, bool) {
    let name = i.name.clone();
    let at = i.location.clone();
    if !i.interface_given {
        d.error(
            &at,
            format!(
                "instance {name}: no interface; keepalived 2.2.7 refuses every instance without \
                 one too (\"({name}) Unknown interface!\"), whatever its unicast_src_ip, \
                 default_interface or its addresses' dev say"
            ),
        );
    }
    if !i.vrid_given {
        d.error(&at, format!("instance {name}: no virtual_router_id"));
    }
    let complete = i.interface.is_some() && i.vrid.is_some();
    let interface = i.interface.take().unwrap_or_default();
    let vrid = i.vrid.unwrap_or(Vrid::new(1).expect("not 0"));

    let ipv6 = i
        .virtual_addresses
        .first()
        .map(|v| v.address)
        .or(i.source_address.as_ref().map(|s| s.value))
        .or(i.unicast_peers.first().map(|p| p.address))
        .is_some_and(|a| a.is_ipv6());
    if let Some(at) = &i.native_ipv6
        && !ipv6
    {
        d.error(
            at,
            format!(
                "instance {name}: native_ipv6 needs IPv6 addresses (keepalived: \"Cannot specify native_ipv6 with IPv4 addresses\"); baton takes an instance's family from its addresses, so an IPv6 one needs no native_ipv6"
            ),
        );
    }
    // keepalived.conf(5): "default is global parameter vrrp_version, but IPv6 instances will
    // always use version 3" (an explicit `version 2` with IPv6 is refused by validation).
    let version = match (&i.version, ipv6) {
        (Some(v), _) => v.value,
        (None, true) => Version::V3,
        (None, false) => global.vrrp_version,
    };
    strict_mode::enforce(&mut i, strict, version, d);
    // "If no priority has been set, derive it from the initial state" and the reverse.
    let priority = i.priority.unwrap_or(match i.state {
        Some(InitialState::Master) => 255,
        _ => Priority::DEFAULT.get(),
    });
    let initial_state = i.state.unwrap_or(if priority == 255 {
        InitialState::Master
    } else {
        InitialState::Backup
    });

    let mut preempt = !i.nopreempt.as_ref().is_some_and(|n| n.value);
    let nopreempt_at = i.nopreempt.as_ref().map_or(&at, |n| &n.at).clone();
    if !preempt && priority == 255 {
        d.warn(
            &nopreempt_at,
            format!("instance {name}: nopreempt does not apply to the address owner (priority 255); ignored"),
        );
        preempt = true;
    }
    if !preempt && initial_state == InitialState::Master {
        d.warn(
            &nopreempt_at,
            format!("instance {name}: nopreempt does not work with state MASTER; ignored (write state BACKUP)"),
        );
        preempt = true;
    }
    let mut preempt_delay = i.preempt_delay.as_ref().map_or(Duration::ZERO, |p| p.value);
    if let Some(delay) = i.preempt_delay.as_ref().filter(|p| !p.value.is_zero()) {
        if initial_state == InitialState::Master {
            d.warn(
                &delay.at,
                format!("instance {name}: preempt_delay does not work with state MASTER; ignored"),
            );
            preempt_delay = Duration::ZERO;
        } else if !preempt {
            d.warn(
                &delay.at,
                format!("instance {name}: preempt_delay has no effect with nopreempt; ignored"),
            );
            preempt_delay = Duration::ZERO;
        }
    }

    let auth = match &i.auth {
        None => Auth::None,
        Some(a) => match (&a.pass, a.pass_type) {
            (Some(pass), true) => {
                if pass.value.len() > 8 {
                    d.warn(
                        &pass.at,
                        format!(
                            "instance {name}: auth_pass is longer than 8 characters; only the \
                             first 8 are used (as keepalived)"
                        ),
                    );
                }
                if pass.value.is_empty() {
                    d.error(&pass.at, format!("instance {name}: auth_pass is empty"));
                }
                Auth::SimpleText(Password::new(&pass.value))
            }
            (None, true) => {
                d.error(
                    &a.location,
                    format!("instance {name}: auth_type PASS without auth_pass"),
                );
                Auth::None
            }
            (Some(_), false) => {
                d.error(
                    &a.location,
                    format!("instance {name}: auth_pass without auth_type PASS"),
                );
                Auth::None
            }
            (None, false) => {
                d.error(
                    &a.location,
                    format!("instance {name}: empty authentication block"),
                );
                Auth::None
            }
        },
    };

    let v3_as_v2 = i
        .v3_checksum_as_v2
        .as_ref()
        .map_or(global.v3_checksum_as_v2, |v| v.value);
    let sites = Sites {
        version: i.version.map(|v| v.at),
        advert_int: i.advert_int.as_ref().map(|a| a.at.clone()),
        auth: i.auth.map(|a| a.location),
        source: i.source_address.as_ref().map(|s| s.at.clone()),
        v3_checksum_as_v2: i.v3_checksum_as_v2.map(|v| v.at),
    };
    if i.virtual_addresses.is_empty() && !i.no_virtual_ipaddress {
        if version == Version::V3 && !i.virtual_ipaddress_given {
            d.error(
                &at,
                format!(
                    "instance {name}: no virtual_ipaddress; VRRPv3 needs at least one \
                     (no_virtual_ipaddress allows none)"
                ),
            );
        } else if !i.virtual_ipaddress_given {
            d.warn(&at, format!("instance {name}: no virtual_ipaddress"));
        }
    }
    let facts = crate::vmac::InstanceFacts {
        name: &name,
        at: &at,
        family: if ipv6 {
            crate::Family::Ipv6
        } else {
            crate::Family::Ipv4
        },
        unicast: !i.unicast_peers.is_empty(),
        strict: i.strict_mode.unwrap_or(strict),
    };
    let use_vmac_addr = i.vmac.use_vmac_addr.is_some();
    let (vmac, garp_extra_if) = std::mem::take(&mut i.vmac).resolve(&global.vmac, facts, d);
    let election = i.election.resolve(
        &global.election,
        (&name, !i.unicast_peers.is_empty(), ipv6),
        d,
    );
    // keepalived: an ipvlan's address is the adverts' source unless one is written.
    let source_address = i.source_address.map(|s| s.value).or_else(|| {
        vmac.as_ref()
            .and_then(crate::vmac::VirtualLink::own_address)
    });
    let track_source_address =
        crate::source_tracking::resolve(i.track_src_ip, source_address, &name, d);
    let instance = VrrpInstance {
        name,
        interface,
        vrid,
        version,
        initial_state,
        priority: Priority::new(priority),
        advert_interval: i.advert_int.map_or(Duration::from_secs(1), |a| a.value),
        virtual_addresses: i.virtual_addresses,
        excluded_addresses: i.excluded_addresses,
        source_address,
        track_source_address,
        unicast_peers: i.unicast_peers,
        preempt,
        preempt_delay,
        // keepalived: "If accept/no accept is not specified", accept unless vrrp_strict.
        accept: i.accept.unwrap_or(true),
        auth,
        track_interfaces: i.track_interfaces,
        track_scripts: i.track_scripts,
        track_files: i.track_files,
        track_processes: i.track_processes,
        track_frontends: i.track_frontends,
        track_virtual_servers: i.track_virtual_servers,
        track_bfds: i.track_bfds,
        dont_track_primary: i.dont_track_primary,
        // keepalived: the global setting turns it on for every instance.
        skip_check_adv_addr: i.skip_check_adv_addr || global.skip_check_adv_addr,
        announce_pacing: global.announce_pacing,
        garp_groups: global.garp_groups.clone(),
        election,
        notify: i.notify,
        announce: i.garp.over(global.announce),
        checksum_mode: if v3_as_v2 {
            ChecksumMode::V3AsV2
        } else {
            ChecksumMode::Standard
        },
        vmac,
        address_links: crate::vmac::AddressLinks {
            use_vmac_addr,
            links: Vec::new(),
        },
        garp_extra_if,
        routing: i.routing,
        location: at.into(),
    };
    (instance, sites, complete)
}
