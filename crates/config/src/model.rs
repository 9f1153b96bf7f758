//! The one configuration model both front ends produce and the daemon runs from.
//!
//! Values here are resolved: defaults are filled in (from `[global]` / `global_defs`, then
//! keepalived's own defaults) and every check in `validate` has passed, so the daemon never
//! has to know which file format an instance came from.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use baton_proxy::balance::Algorithm;

use baton_vrrp::{
    AnnounceConfig, Auth, ChecksumMode, InstanceConfig, Peers, Priority, SyncGroupConfig,
    TrackConfig, Version, Vrid,
};

pub use crate::basics::{Family, NotifyScript, ScriptUser};
use crate::diagnostic::Location;
use crate::election::ElectionOptions;

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

/// `[global]` / `global_defs`: what applies to the whole daemon, and the defaults instances
/// inherit (already copied into each instance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    /// keepalived's `router_id`: a name for this host in logs and notifications.
    pub router_id: Option<String>,
    /// Who runs scripts that name no user (`script_user`). `None`: keepalived's rule,
    /// `keepalived_script` if that user exists, else the daemon's own user.
    pub script_user: Option<ScriptUser>,
    /// Refuse to run a script as root if a non-root user could modify it.
    pub enable_script_security: bool,
    /// Default for instances that set no `version` (keepalived: 2; IPv6 instances use 3).
    pub vrrp_version: Version,
    /// Default gratuitous ARP / NA schedule (`vrrp_garp_master_*`).
    pub announce: AnnounceConfig,
    /// Default for `v3_checksum_as_v2`.
    pub v3_checksum_as_v2: bool,
    /// `admin` (`baton.toml` only): where the metrics and status page listen. `None`: not
    /// set, the daemon's `--admin` flag or [`AdminListen::DEFAULT`] applies.
    pub admin: Option<AdminListen>,
    /// `rs_init_notifies`: run a real server's `notify_up` / `notify_down` for its first
    /// state too, not only on changes.
    pub rs_init_notifies: bool,
    /// `vrrp_skip_check_adv_addr`: every instance trusts its master's address list.
    pub skip_check_adv_addr: bool,
    /// `vrrp_garp_interval` / `vrrp_gna_interval`.
    pub announce_pacing: AnnouncePacing,
    /// `garp_group` blocks: other pacing on their interfaces.
    pub garp_groups: Vec<GarpGroup>,
    /// `vrrp_lower_prio_no_advert`, `vrrp_higher_prio_send_advert`,
    /// `vrrp_down_timer_adverts`: the defaults (already copied into each instance).
    pub election: ElectionOptions,
    /// `vrrp_startup_delay`: after the daemon starts (not after a reload), no instance
    /// becomes Master for this long.
    pub startup_delay: Duration,
    /// `default_interface`: the interface of static addresses that name none (keepalived
    /// 2.2.7 uses it for nothing else; default eth0).
    pub default_interface: Option<String>,
    /// `dynamic_interfaces`: an instance whose interface does not exist yet waits in FAULT
    /// for it instead of failing the start.
    pub dynamic_interfaces: bool,
    /// `notify_fifo`: every state change as a line (`INSTANCE "VI_1" MASTER 100`,
    /// `RS [10.0.3.11]:tcp:80 [10.0.3.100]:tcp:80 DOWN`).
    pub notify_fifo: Option<NotifyFifo>,
    /// `vrrp_notify_fifo`: the VRRP lines only.
    pub vrrp_notify_fifo: Option<NotifyFifo>,
    /// `lvs_notify_fifo`: the virtual servers' lines only (`VS ...`, `RS ...`).
    pub lvs_notify_fifo: Option<NotifyFifo>,
    /// `vmac_prefix`, `vrrp_garp_extra_if`, `disable_local_igmp` and the like.
    pub vmac: crate::vmac::VmacGlobal,
    /// `vrrp_notify_priority_changes`: the default of `notify_priority_changes`.
    pub notify_priority_changes: bool,
    /// `interface_up_down_delays`: links whose changes the instances hear of late.
    pub link_delays: Vec<crate::InterfaceDelays>,
    /// E-mail alerts: `smtp_server`, `notification_email`, `smtp_alert`'s defaults, ...
    pub smtp: crate::SmtpAlerts,
    /// `startup_script`, `shutdown_script` and the notify FIFOs' readers.
    pub scripts: GlobalScripts,
    /// `fifo_write_vrrp_states_on_reload`: after a reload, every instance's and sync
    /// group's state goes to the notify FIFOs, changed or not.
    pub fifo_write_states_on_reload: bool,
    /// `reload_file [PATH]`: exists while a reload reads the configuration.
    pub reload_file: Option<std::path::PathBuf>,
    /// `reload_time_file PATH`: a file whose first line (`HH:MM:SS`, `[YY]YY-MM-DD
    /// HH:MM:SS`, `Z` for UTC) schedules a reload; watched while the daemon runs.
    pub reload_time_file: Option<std::path::PathBuf>,
    /// `reload_repeat`: a time-only `reload_time_file` is kept after its reload, which so
    /// comes again every day at that time.
    pub reload_repeat: bool,
    /// `[conn_sync]` / `lvs_sync_daemon`: conntrackd carries the NAT flows to the peers.
    pub conn_sync: Option<crate::ConnSync>,
    /// Where `global_defs` / `[global]` starts, if there is one.
    pub location: Option<Location>,
}

/// keepalived's scripts of `global_defs`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GlobalScripts {
    /// `startup_script`: run before any instance starts; the start waits for it.
    pub startup: Option<TimedScript>,
    /// `shutdown_script`: run after everything is released at stop.
    pub shutdown: Option<TimedScript>,
    /// `notify_fifo_script`: started with `notify_fifo`'s path and kept running.
    pub notify_fifo: Option<NotifyScript>,
    /// `vrrp_notify_fifo_script`: the same for `vrrp_notify_fifo`.
    pub vrrp_notify_fifo: Option<NotifyScript>,
    /// `lvs_notify_fifo_script`: the same for `lvs_notify_fifo`.
    pub lvs_notify_fifo: Option<NotifyScript>,
}

impl GlobalScripts {
    /// The `startup_script_timeout` / `shutdown_script_timeout` given, which keepalived
    /// takes wherever they stand in `global_defs`.
    pub(crate) fn with_timeouts(
        mut self,
        startup: Option<Duration>,
        shutdown: Option<Duration>,
    ) -> GlobalScripts {
        let pairs = [(&mut self.startup, startup), (&mut self.shutdown, shutdown)];
        for (script, timeout) in pairs {
            if let (Some(script), Some(timeout)) = (script, timeout) {
                script.timeout = timeout;
            }
        }
        self
    }
}

/// A script with the time it may take (`startup_script_timeout`, default 10 s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedScript {
    pub script: NotifyScript,
    pub timeout: Duration,
}

/// keepalived's `notify_fifo PATH [USER [GROUP]]`: a named pipe the daemon makes if it is
/// missing (owned by the user, else by the daemon's user) and writes state changes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyFifo {
    pub path: std::path::PathBuf,
    pub owner: Option<ScriptUser>,
}

/// Where the admin HTTP listener (`/metrics`, `/status.json`, the status page) listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminListen {
    /// No admin listener (`none`).
    Off,
    /// Listen on this address.
    At(SocketAddr),
}

impl AdminListen {
    /// Loopback only, port 9180: reachable by a local Prometheus agent or an SSH tunnel,
    /// not by the network the VIPs face.
    pub const DEFAULT: AdminListen =
        AdminListen::At(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9180));
}

impl std::str::FromStr for AdminListen {
    type Err = String;

    /// `IP:PORT` (IPv6 in brackets), or `none` to switch the listener off.
    fn from_str(text: &str) -> Result<Self, String> {
        if text == "none" {
            return Ok(AdminListen::Off);
        }
        text.parse().map(AdminListen::At).map_err(|_| {
            format!("admin: expected IP:PORT (IPv6 in brackets) or \"none\", not {text:?}")
        })
    }
}

impl Default for Global {
    fn default() -> Self {
        Global {
            router_id: None,
            script_user: None,
            enable_script_security: false,
            vrrp_version: Version::V2,
            announce: AnnounceConfig::default(),
            v3_checksum_as_v2: false,
            admin: None,
            rs_init_notifies: false,
            skip_check_adv_addr: false,
            announce_pacing: AnnouncePacing::default(),
            garp_groups: Vec::new(),
            election: ElectionOptions::default(),
            startup_delay: Duration::ZERO,
            default_interface: None,
            dynamic_interfaces: false,
            notify_fifo: None,
            vrrp_notify_fifo: None,
            lvs_notify_fifo: None,
            vmac: crate::vmac::VmacGlobal::default(),
            notify_priority_changes: false,
            link_delays: Vec::new(),
            smtp: crate::SmtpAlerts::default(),
            scripts: GlobalScripts::default(),
            fifo_write_states_on_reload: false,
            reload_file: None,
            reload_time_file: None,
            reload_repeat: false,
            conn_sync: None,
            location: None,
        }
    }
}

/// keepalived's `vrrp_script`: a command run every `interval`, tracked by instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackScript {
    pub name: String,
    /// Program and arguments, split the way keepalived splits `script "..."`.
    pub argv: Vec<String>,
    /// Default 1 s.
    pub interval: Duration,
    /// A run that takes longer has failed. Default: the interval.
    pub timeout: Duration,
    /// Default weight for instances that track the script without giving one (-253..=253,
    /// default 0: failure puts the instance in FAULT).
    pub weight: i32,
    /// `weight W reverse`: the default of its trackers' `reverse` (see [`Track::reverse`]).
    pub reverse: bool,
    /// Consecutive successes before a failed script counts as up again (default 1).
    pub rise: u32,
    /// Consecutive failures before the script counts as down (default 1).
    pub fall: u32,
    /// `None`: [`Global::script_user`].
    pub user: Option<ScriptUser>,
    /// Assume failure until the first run says otherwise.
    pub init_fail: bool,
    pub location: Location,
}

/// keepalived's `track_file` (`vrrp_track_file`): a file holding a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackFile {
    pub name: String,
    pub path: PathBuf,
    /// Default weight for trackers that give none (default 1). With weight 0 a non-zero
    /// value is a failure; otherwise the value times the weight is added to the priority.
    pub weight: i32,
    /// `weight W reverse`: the default of its trackers' `reverse` (see [`Track::reverse`]).
    pub reverse: bool,
    /// `init_file`: create the file at startup.
    pub init_file: Option<InitFile>,
    pub location: Location,
}

/// `init_file [VALUE] [overwrite]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitFile {
    /// Written at startup (default 0).
    pub value: i64,
    /// Write even if the file exists.
    pub overwrite: bool,
}

/// keepalived's `state`: only a hint. keepalived derives a missing priority from it (MASTER
/// means 255) and a missing state from the priority (255 means MASTER); beyond that the RFC
/// election decides, which the engine does for the address owner on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitialState {
    Master,
    Backup,
}

/// keepalived's `vrrp_garp_interval` and `vrrp_gna_interval`: the pause after each
/// gratuitous ARP and after each unsolicited NA of an announcement. Zero (the default)
/// sends them back to back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnnouncePacing {
    pub garp_interval: Duration,
    pub gna_interval: Duration,
}

/// keepalived's `garp_group`: the pacing of announcements on these interfaces, instead of
/// the global one. An interval the group does not set is zero (no pause), as keepalived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarpGroup {
    pub interfaces: Vec<String>,
    pub pacing: AnnouncePacing,
    pub location: Location,
}

/// One VRRP virtual router (`vrrp_instance` / `[[vrrp]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpInstance {
    pub name: String,
    pub interface: String,
    pub vrid: Vrid,
    /// Instance `version`, else `vrrp_version`, except that IPv6 instances default to 3.
    pub version: Version,
    pub initial_state: InitialState,
    /// Default 100, or 255 when `state MASTER` is given without a priority (keepalived).
    pub priority: Priority,
    /// Whole seconds for v2, a multiple of 10 ms for v3.
    pub advert_interval: Duration,
    /// Advertised and added on becoming master. All of one family.
    pub virtual_addresses: Vec<VirtualAddress>,
    /// `virtual_ipaddress_excluded`: added and removed with the others, never advertised;
    /// may be of either family.
    pub excluded_addresses: Vec<VirtualAddress>,
    /// `unicast_src_ip` / `mcast_src_ip`: source of adverts. `None`: the interface's
    /// primary address, found at run time.
    pub source_address: Option<IpAddr>,
    /// `track_src_ip`: FAULT while `source_address` is not on the instance's interface
    /// (nor its virtual link); only set when there is a `source_address`.
    pub track_source_address: bool,
    /// `unicast_peer`: empty means multicast.
    pub unicast_peers: Vec<UnicastPeer>,
    /// `nopreempt` clears it.
    pub preempt: bool,
    pub preempt_delay: Duration,
    /// Accept packets addressed to the virtual addresses when master but not owner.
    /// keepalived's default is on (unless `vrrp_strict`), unlike RFC 5798's.
    pub accept: bool,
    /// VRRPv2 `authentication { auth_type PASS }`.
    pub auth: Auth,
    pub track_interfaces: Vec<TrackInterface>,
    pub track_scripts: Vec<TrackScriptRef>,
    pub track_files: Vec<TrackFileRef>,
    pub track_processes: Vec<crate::track_process::TrackProcessRef>,
    pub track_frontends: Vec<TrackFrontend>,
    /// `track_virtual_server` (baton.toml only).
    pub track_virtual_servers: Vec<TrackVirtualServer>,
    /// `track_bfd` (keepalived.conf only).
    pub track_bfds: Vec<crate::bfd::TrackBfdRef>,
    /// `dont_track_primary`: the instance's own interface going down does not mean FAULT.
    pub dont_track_primary: bool,
    /// `skip_check_adv_addr` (or global `vrrp_skip_check_adv_addr`): adverts from the
    /// master already seen are not checked against our address list.
    pub skip_check_adv_addr: bool,
    /// The pause between the messages of an announcement (the global setting); see
    /// [`announce_pacing_on`](Self::announce_pacing_on).
    pub announce_pacing: AnnouncePacing,
    /// The global `garp_group` blocks.
    pub garp_groups: Vec<GarpGroup>,
    /// keepalived's election options beyond the RFCs.
    pub election: ElectionOptions,
    pub notify: Notify,
    /// `garp_master_*`, defaulting to the global `vrrp_garp_master_*`.
    pub announce: AnnounceConfig,
    /// `v3_checksum_as_v2`: VRRPv3 over IPv4 without the pseudo-header.
    pub checksum_mode: ChecksumMode,
    /// `virtual_routes`, `virtual_rules` (there while master) and `promote_secondaries`.
    pub routing: crate::routing::InstanceRouting,
    /// `use_vmac` / `use_ipvlan`: the interface the instance owns for its addresses.
    pub vmac: Option<crate::vmac::VirtualLink>,
    /// `use_vmac_addr` and the links of addresses that are not on the instance's own.
    pub address_links: crate::vmac::AddressLinks,
    /// `garp_extra_if` (else the global `vrrp_garp_extra_if`).
    pub garp_extra_if: Option<crate::vmac::GarpExtraIf>,
    pub location: Location,
}

/// A virtual address with what `ip address add` would be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualAddress {
    pub address: IpAddr,
    /// Default /32 or /128, as keepalived.
    pub prefix_len: u8,
    /// `brd`: IPv4 broadcast address (`+` and `-` are resolved against the prefix).
    pub broadcast: Option<Ipv4Addr>,
    /// `dev`: interface to add the address to; `None`: the instance's interface.
    pub dev: Option<String>,
    /// `label`: the address label (`eth0:1`).
    pub label: Option<String>,
    pub scope: Option<Scope>,
    /// `no_track`: the address's interface going down does not put the instance in FAULT.
    pub no_track: bool,
    /// IFA_F_* flags of `noprefixroute`, `autojoin`, `mngtmpaddr` and `home`.
    pub flags: u32,
    /// `preferred_lft N` (seconds; `forever` is u32::MAX); `None`: the kernel's default.
    pub preferred_lft: Option<u32>,
    /// `use_vmac` as written; once its instance is complete, whether the address goes on a
    /// link of its own (an [`AddressLink`](crate::vmac::AddressLink) of its instance).
    pub use_vmac: bool,
    pub location: Location,
}

/// `scope` of an address, as `ip address` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scope {
    Global,
    Site,
    Link,
    Host,
    Nowhere,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Site => "site",
            Scope::Link => "link",
            Scope::Host => "host",
            Scope::Nowhere => "nowhere",
        }
    }

    /// The value of `ifa_scope` (rtnetlink `RT_SCOPE_*`).
    pub fn rt_scope(self) -> u8 {
        match self {
            Scope::Global => 0,
            Scope::Site => 200,
            Scope::Link => 253,
            Scope::Host => 254,
            Scope::Nowhere => 255,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnicastPeer {
    pub address: IpAddr,
    /// keepalived's `min_ttl` / `max_ttl`: the TTLs accepted from this peer (any by
    /// default, as keepalived does for unicast adverts).
    pub ttl: RangeInclusive<u8>,
    pub location: Location,
}

/// An entry of `track_interface`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInterface {
    pub name: String,
    /// -253..=253; 0: down means FAULT.
    pub weight: i32,
    /// `weight W reverse` (see [`Track::reverse`]).
    pub reverse: bool,
    pub location: Location,
}

/// An entry of `track_script`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackScriptRef {
    pub name: String,
    /// Overrides the script's own weight (-253..=253).
    pub weight: Option<i32>,
    /// `reverse` / `noreverse` after the weight; `None`: the script's own.
    pub reverse: Option<bool>,
    pub location: Location,
}

/// An entry of `track_file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackFileRef {
    pub name: String,
    /// Overrides the file's own weight (-254..=254).
    pub weight: Option<i32>,
    /// `reverse` / `noreverse` after the weight; `None`: the file's own.
    pub reverse: Option<bool>,
    pub location: Location,
}

/// An entry of `track_frontend`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackFrontend {
    /// A [`Frontend`] by name.
    pub name: String,
    /// -253..=253; 0: down means FAULT.
    pub weight: i32,
    pub location: Location,
}

/// An entry of `track_virtual_server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackVirtualServer {
    /// A [`crate::VirtualServer`] by name.
    pub name: String,
    /// -253..=253; 0: down means FAULT.
    pub weight: i32,
    pub location: Location,
}

/// Scripts run on state changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Notify {
    pub master: Option<NotifyScript>,
    pub backup: Option<NotifyScript>,
    pub fault: Option<NotifyScript>,
    /// Run when the instance stops (instances only; keepalived accepts it on groups too).
    pub stop: Option<NotifyScript>,
    /// keepalived's plain `notify`: run on every change, after the specific one, with four
    /// more arguments: `INSTANCE`|`GROUP`, the name, the new state, the priority.
    pub any: Option<NotifyScript>,
    /// `notify_master_rx_lower_pri` (instances): run when the instance, as master, hears a
    /// lower-priority advert (at most once per advert interval).
    pub master_rx_lower_pri: Option<NotifyScript>,
    /// `notify_deleted [SCRIPT]` (instances): an instance a reload removes is reported
    /// `DELETED` (running this script, if given) instead of keepalived's default `FAULT`.
    pub deleted: Option<NotifyScript>,
    /// `notify_deleted` was written, with or without a script.
    pub notify_deleted: bool,
    /// `notify_priority_changes [BOOL]` (instances, sync groups): effective priority
    /// changes go to the notify FIFOs too. `None`: the sync group's setting, else
    /// [`Global::notify_priority_changes`].
    pub priority_changes: Option<bool>,
    /// `smtp_alert [BOOL]` (instances, sync groups): e-mail on each change. `None`: the
    /// global default, see [`crate::SmtpAlerts::for_vrrp`].
    pub smtp_alert: Option<bool>,
}

impl Notify {
    pub fn is_empty(&self) -> bool {
        self == &Notify::default()
    }
}

/// keepalived's `vrrp_sync_group`: instances that are MASTER, BACKUP or FAULT together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroup {
    pub name: String,
    /// Instance names, each in at most one group.
    pub members: Vec<String>,
    pub notify: Notify,
    /// Tracked by every member.
    pub track_interfaces: Vec<TrackInterface>,
    pub track_scripts: Vec<TrackScriptRef>,
    pub track_files: Vec<TrackFileRef>,
    pub track_processes: Vec<crate::track_process::TrackProcessRef>,
    pub track_bfds: Vec<crate::bfd::TrackBfdRef>,
    /// `sync_group_tracking_weight`: members keep the weights of their own tracked
    /// objects. Without it keepalived zeroes or ignores them (see [`Config::tracks`]).
    pub tracking_weight: bool,
    pub location: Location,
}

/// A `[[frontend]]`: where the proxy listens, and the backend it sends requests to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frontend {
    pub name: String,
    /// May be a virtual address this host does not hold yet: the listener is bound before
    /// the address arrives (the way HAProxy and nginx are set up next to keepalived, with
    /// non-local binds).
    pub listen: SocketAddr,
    /// The name of a [`Backend`] of the same configuration.
    pub backend: String,
    /// Certificates to serve HTTPS with; empty: plain HTTP. With several, the client's SNI
    /// picks one and the first is for clients that send none or match none.
    pub tls: Vec<TlsCertificate>,
    /// Client connections served at once. `None`: the proxy's default, from the
    /// open-files limit.
    pub max_connections: Option<usize>,
    /// How long a keep-alive connection may wait for its next request (default 60 s).
    pub client_timeout: Duration,
    /// Time a client has to send a complete request head; 408 after (default 10 s).
    pub request_timeout: Duration,
    /// Largest request head in bytes; 431 above (default 32768).
    pub max_header_size: usize,
    /// On stop and reload, how long in-flight requests may take to finish (default 10 s).
    pub drain_timeout: Duration,
    /// How long a client may pause while sending a request body; 408 after (default 60 s,
    /// as nginx's `client_body_timeout`).
    pub client_body_timeout: Duration,
    /// Connections one client address may have open; 0: no limit (the default).
    pub max_connections_per_client: usize,
    /// Peers whose X-Forwarded-For and X-Forwarded-Proto are extended and kept; everyone
    /// else's are replaced (default: none).
    pub trusted_proxies: Vec<baton_proxy::Cidr>,
    pub location: Location,
}

/// A certificate chain and its private key, both PEM files; checked readable when the
/// configuration is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsCertificate {
    /// Relative paths are resolved against the directory of the file that names them.
    pub cert: PathBuf,
    pub key: PathBuf,
    pub location: Location,
}

/// A `[[backend]]`: the servers requests are balanced over, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub name: String,
    /// May be empty (every request then gets a 503); `baton check` warns.
    pub servers: Vec<BackendServer>,
    /// `balance` and `hash` (default: power of two choices).
    pub balance: Algorithm,
    /// Times a request that failed before any response is tried on another server
    /// (default 1).
    pub retries: u32,
    /// Time to establish a connection to a server (default 3 s).
    pub connect_timeout: Duration,
    /// How long a server may be silent before the client gets 504 (default 60 s).
    pub server_timeout: Duration,
    /// Idle keep-alive connections kept per server for later requests (default 256); 0:
    /// none, every request opens a new connection.
    pub keepalive: usize,
    /// How long an idle kept connection to a server may wait for its next request before
    /// baton closes it (default 4 s).
    pub keepalive_timeout: Duration,
    /// A server back in rotation gets its full weight over this time; zero: at once
    /// (the default).
    pub slow_start: Duration,
    /// Consecutive connect failures or 5xx answers that eject a server (default 3; 0:
    /// never).
    pub max_fails: u32,
    /// First ejection time (default 1 s); it doubles each time the server fails again right
    /// after coming back, up to 30 s.
    pub fail_timeout: Duration,
    /// Active health checking; `None`: only the passive ejection above.
    pub health_check: Option<HealthCheck>,
    pub location: Location,
}

/// One entry of a backend's `servers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendServer {
    pub address: SocketAddr,
    /// Relative capacity, 0..=256 (default 1); 0 takes the server out of rotation.
    pub weight: u32,
    pub location: Location,
}

/// `[backend.health_check]`: a probe of every server of the backend, every `interval`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub kind: HealthCheckKind,
    /// Default 2 s.
    pub interval: Duration,
    /// A probe that takes longer has failed (default 1 s).
    pub timeout: Duration,
    /// Consecutive successes that bring a failed server back (default 2).
    pub rise: u32,
    /// Consecutive failures that take a server out (default 3).
    pub fall: u32,
    pub location: Location,
}

/// What a health probe does.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HealthCheckKind {
    /// The server accepts a TCP connection.
    Tcp,
    /// `GET path` (with `Host: host`, else the server's address) answers with a status in
    /// `expect`.
    Http {
        /// Default `/`.
        path: String,
        host: Option<String>,
        /// Default 200..=399.
        expect: RangeInclusive<u16>,
    },
}

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

/// What the daemon watches for one [`Track`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrackedObject {
    /// Link state: report up or down.
    Interface(String),
    /// A [`TrackScript`] by name: report its up/down after rise/fall.
    Script(String),
    /// A [`TrackFile`] by name. With weight 0 report down for a non-zero value, up for 0.
    /// Otherwise report `TrackStatus::Offset(value * weight)` (saturating).
    File(String),
    /// A [`crate::TrackProcess`] by name: report up while its quorum holds.
    Process(String),
    /// A [`Frontend`] by name: report down while its listener could not be opened or its
    /// backend has no server in rotation (none configured, or every one ejected or failing
    /// its health check), up otherwise.
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
    /// An instance with keepalived's defaults, for callers that build one without a file
    /// (`baton vrrp -i eth0 -v 1 10.0.3.100`). Version 3 when the addresses are IPv6.
    pub fn new(
        name: impl Into<String>,
        interface: impl Into<String>,
        vrid: Vrid,
        addresses: Vec<IpAddr>,
    ) -> VrrpInstance {
        let location = Location::blank();
        let version = if addresses.first().is_some_and(IpAddr::is_ipv6) {
            Version::V3
        } else {
            Version::V2
        };
        VrrpInstance {
            name: name.into(),
            interface: interface.into(),
            vrid,
            version,
            initial_state: InitialState::Backup,
            priority: Priority::DEFAULT,
            advert_interval: Duration::from_secs(1),
            virtual_addresses: addresses
                .into_iter()
                .map(|address| VirtualAddress::new(address, location.clone()))
                .collect(),
            excluded_addresses: Vec::new(),
            source_address: None,
            track_source_address: false,
            unicast_peers: Vec::new(),
            preempt: true,
            preempt_delay: Duration::ZERO,
            accept: true,
            auth: Auth::None,
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
            track_frontends: Vec::new(),
            track_virtual_servers: Vec::new(),
            track_bfds: Vec::new(),
            dont_track_primary: false,
            skip_check_adv_addr: false,
            announce_pacing: AnnouncePacing::default(),
            garp_groups: Vec::new(),
            election: ElectionOptions::default(),
            notify: Notify::default(),
            announce: AnnounceConfig::default(),
            checksum_mode: ChecksumMode::Standard,
            routing: crate::routing::InstanceRouting::default(),
            vmac: None,
            address_links: crate::vmac::AddressLinks::default(),
            garp_extra_if: None,
            location,
        }
    }

    /// Where the instance's addresses go (when they name no `dev`): its virtual link, else
    /// its interface.
    pub fn address_interface(&self) -> &str {
        self.vmac.as_ref().map_or(&self.interface, |l| &l.name)
    }

    /// The device `vip` goes on: its address link, else its `dev`, except that with a
    /// virtual link an address of the instance's family on the instance's own interface
    /// goes on the link (keepalived's `vrrp_complete_instance`: `dev eth0` on an eth0
    /// instance means its vmac).
    pub fn device_of<'a>(&'a self, vip: &'a VirtualAddress) -> &'a str {
        if let Some(link) = self.address_link_of(vip) {
            return &link.name;
        }
        match vip.dev.as_deref() {
            Some(dev) if dev != self.interface => dev,
            _ if Family::of(vip.address) == self.family() => self.address_interface(),
            _ => &self.interface,
        }
    }

    /// The link of its own that `vip` goes on (`use_vmac_addr`, the address's `use_vmac`).
    pub fn address_link_of(&self, vip: &VirtualAddress) -> Option<&crate::vmac::AddressLink> {
        if !vip.use_vmac {
            return None;
        }
        let base = vip.dev.as_deref().unwrap_or(&self.interface);
        let family = Family::of(vip.address);
        let mac = crate::vmac::address_link_mac(self.vmac.as_ref(), self.vrid, family);
        self.address_links
            .links
            .iter()
            .find(|l| l.base == base && l.mac == mac)
    }

    /// Where its adverts go out and are read: its virtual link, unless `vmac_xmit_base` (or
    /// it has none).
    pub fn advert_interface(&self) -> &str {
        match &self.vmac {
            Some(link) if !link.xmit_base => &link.name,
            _ => &self.interface,
        }
    }

    /// Decided by the first virtual address, else the source address, else a unicast peer;
    /// IPv4 when there is none of them (as keepalived).
    pub fn family(&self) -> Family {
        self.virtual_addresses
            .first()
            .map(|v| v.address)
            .or(self.source_address)
            .or(self.unicast_peers.first().map(|p| p.address))
            .map_or(Family::Ipv4, Family::of)
    }

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

    /// The pacing of announcements on `interface`: its `garp_group`'s, else the global one.
    pub fn announce_pacing_on(&self, interface: &str) -> AnnouncePacing {
        self.garp_groups
            .iter()
            .find(|g| g.interfaces.iter().any(|i| i == interface))
            .map_or(self.announce_pacing, |g| g.pacing)
    }

    /// Every address the instance adds on becoming master: advertised ones first.
    pub fn all_addresses(&self) -> impl Iterator<Item = &VirtualAddress> {
        self.virtual_addresses
            .iter()
            .chain(&self.excluded_addresses)
    }
}

impl TrackInterface {
    /// A tracked interface as written, without `reverse`.
    pub fn new(name: String, weight: i32, location: Location) -> TrackInterface {
        TrackInterface {
            name,
            weight,
            reverse: false,
            location,
        }
    }
}

impl VirtualAddress {
    /// A host address (/32 or /128) on the instance's interface.
    pub fn new(address: IpAddr, location: Location) -> VirtualAddress {
        VirtualAddress {
            address,
            prefix_len: if address.is_ipv6() { 128 } else { 32 },
            broadcast: None,
            dev: None,
            label: None,
            scope: None,
            no_track: false,
            flags: 0,
            preferred_lft: None,
            use_vmac: false,
            location,
        }
    }
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

/// The top-level `static_ipaddress`, `static_routes` and `static_rules`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StaticRouting {
    /// Each with its device (the line's `dev`, else `default_interface`).
    pub addresses: Vec<StaticAddress>,
    pub routes: Vec<crate::routing::Route>,
    pub rules: Vec<crate::routing::Rule>,
}

/// A `static_ipaddress` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticAddress {
    pub address: VirtualAddress,
    pub dev: String,
    pub track_group: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vrid(n: u8) -> Vrid {
        Vrid::new(n).expect("non-zero")
    }

    #[test]
    fn new_instances_have_keepalived_defaults() {
        let v4 = VrrpInstance::new(
            "VI_1",
            "eth0",
            vrid(1),
            vec!["10.0.3.100".parse().expect("literal")],
        );
        assert_eq!(v4.version, Version::V2);
        assert_eq!(v4.family(), Family::Ipv4);
        assert_eq!(v4.virtual_addresses[0].prefix_len, 32);
        assert!(v4.preempt && v4.accept);
        let v6 = VrrpInstance::new(
            "VI_6",
            "eth0",
            vrid(6),
            vec!["fe80::1".parse().expect("literal")],
        );
        assert_eq!(v6.version, Version::V3);
        assert_eq!(v6.family(), Family::Ipv6);
        assert_eq!(v6.virtual_addresses[0].prefix_len, 128);
        let none = VrrpInstance::new("VI_0", "eth0", vrid(2), Vec::new());
        assert_eq!(none.family(), Family::Ipv4);
    }

    #[test]
    fn the_engine_takes_a_cli_built_instance() {
        let mut config = Config::default();
        config.instances.push(VrrpInstance::new(
            "vrrp",
            "eth0",
            vrid(1),
            vec!["10.0.3.100".parse().expect("literal")],
        ));
        let instance = &config.instances[0];
        let tracks = config.tracks(instance);
        let engine = instance.engine_config("10.0.3.5".parse().expect("literal"), &tracks);
        assert_eq!(engine.tracks.len(), 1);
        baton_vrrp::Router::new(vec![engine], config.sync_group_configs()).expect("valid");
    }

    #[test]
    fn scopes_match_rtnetlink() {
        assert_eq!(Scope::Link.rt_scope(), 253);
        assert_eq!(Scope::Host.as_str(), "host");
    }
}
