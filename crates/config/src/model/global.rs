//! `[global]` / `global_defs`: what applies to the whole daemon, and the defaults instances
//! inherit.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use baton_vrrp::{AnnounceConfig, Version};

use super::{AnnouncePacing, GarpGroup, NotifyScript, ScriptUser};
use crate::diagnostic::WrittenAt;
use crate::election::ElectionOptions;

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
    pub location: Option<WrittenAt>,
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
