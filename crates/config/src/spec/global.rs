//! `[global]` / `global_defs` as read, and the [`Global`] it resolves into.

use std::path::PathBuf;
use std::time::Duration;

use baton_vrrp::{AnnounceConfig, Version};

use crate::diagnostic::Location;
use crate::election::ElectionDraft;
use crate::model::{Global, ScriptUser};

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
    pub(super) fn over(self, base: AnnounceConfig) -> AnnounceConfig {
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

pub(super) fn resolve_global(g: GlobalDraft) -> Global {
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
