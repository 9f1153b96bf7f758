//! Every keepalived.conf keyword of the parts baton covers, and what baton does with it.
//!
//! The lists follow keepalived.conf(5) and keepalived's parsers (`global_parser.c`,
//! `vrrp_parser.c`). The reader answers an unsupported keyword with its note, and
//! `docs/keepalived-compat.md` is rendered from these lists (a test keeps it current), so
//! the two cannot disagree.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Support {
    /// Read into the model and acted on.
    Yes,
    /// A refusal today, with what to do instead.
    NotYet,
    /// Will stay a refusal, with the reason.
    Never,
}

#[cfg(test)]
impl Support {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Support::Yes => "supported",
            Support::NotYet => "not yet",
            Support::Never => "never",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Keyword {
    pub(crate) name: &'static str,
    pub(crate) support: Support,
    pub(crate) note: &'static str,
}

const fn yes(name: &'static str, note: &'static str) -> Keyword {
    Keyword {
        name,
        support: Support::Yes,
        note,
    }
}

const fn not_yet(name: &'static str, note: &'static str) -> Keyword {
    Keyword {
        name,
        support: Support::NotYet,
        note,
    }
}

const fn never(name: &'static str, note: &'static str) -> Keyword {
    Keyword {
        name,
        support: Support::Never,
        note,
    }
}

/// A block of keepalived.conf and its keywords.
#[derive(Debug)]
pub(crate) struct Context {
    /// The heading in the compat document.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) title: &'static str,
    /// Where the keywords go, for messages: "at the top level", "in vrrp_instance".
    pub(crate) place: &'static str,
    pub(crate) keywords: &'static [Keyword],
}

impl Context {
    pub(crate) fn find(&self, name: &str) -> Option<&'static Keyword> {
        self.keywords.iter().find(|k| k.name == name)
    }
}

const LVS: &str = "keepalived's LVS (IPVS) balancing is not read; baton balances HTTP itself: write [[frontend]] and [[backend]] in baton.toml (docs/configuration.md); L4 TCP/UDP balancing is not built yet";
const BFD: &str = "BFD is not implemented";
const PROCESS: &str = "process tuning belongs in the systemd unit (Nice=, CPUAffinity=, \
                       CPUSchedulingPolicy=, LimitRTTIME=)";
const NO_MAIL_SENT: &str = "accepted with a warning: it only says where mail would go, and \
                            baton sends none (smtp_alert is refused)";
const FIFO: &str = "notify FIFOs are not implemented; use notify scripts";
const STRICT: &str = "strict RFC mode is not implemented";
const VMAC: &str = "virtual MAC / ipvlan interfaces are not implemented";
const SNMP: &str = "baton exports Prometheus metrics instead of SNMP";

pub(crate) static TOP: Context = Context {
    title: "Top-level blocks",
    place: "at the top level",
    keywords: &[
        yes("global_defs", "see below"),
        yes("vrrp_instance", "see below"),
        yes("vrrp_script", "see below"),
        yes("track_file", "see below"),
        yes(
            "vrrp_track_file",
            "keepalived's older spelling of track_file",
        ),
        yes("vrrp_sync_group", "see below"),
        yes(
            "include",
            "globs and {a,b} braces, relative to the including file; a literal path that does not exist is an error, a wildcard that matches nothing a warning",
        ),
        yes("includer", "as include"),
        yes("includem", "as include"),
        yes("includeb", "as include"),
        yes(
            "includew",
            "as include, and a wildcard that matches nothing is an error",
        ),
        yes("includea", "as includew"),
        not_yet("virtual_server", LVS),
        not_yet("virtual_server_group", LVS),
        not_yet("real_server", LVS),
        not_yet("SSL", LVS),
        not_yet(
            "vrrp_track_process",
            "process tracking is not implemented; use a vrrp_script (pidof, systemctl is-active)",
        ),
        not_yet("bfd_instance", BFD),
        not_yet(
            "static_ipaddress",
            "static addresses, routes and rules are not managed; use the distribution's network configuration",
        ),
        not_yet("static_routes", "as static_ipaddress"),
        not_yet("static_rules", "as static_ipaddress"),
        not_yet(
            "track_group",
            "tracks static addresses, which are not managed",
        ),
        not_yet("garp_group", "per-interface GARP pacing is not implemented"),
        not_yet("linkbeat_interfaces", "link state comes from netlink only"),
        not_yet("linkbeat_use_polling", "link state comes from netlink only"),
        not_yet(
            "interface_up_down_delays",
            "link state debouncing is not implemented",
        ),
        not_yet(
            "net_namespace",
            "run baton inside the namespace instead (ip netns exec)",
        ),
        not_yet("net_namespace_ipvs", LVS),
        not_yet("namespace_with_ipsets", "ipsets are not used"),
        not_yet(
            "instance",
            "one baton per host; use --control to run several",
        ),
        not_yet("use_pid_dir", "baton writes no pid file; systemd tracks it"),
        not_yet("child_wait_time", "baton is a single process"),
        not_yet(
            "$NAME=",
            "parameter definitions and substitution are not implemented",
        ),
        not_yet("@ID", "conditional lines are not implemented"),
        not_yet(
            "~SEQ / ~LST",
            "sequence and list blocks are not implemented",
        ),
    ],
};

pub(crate) static GLOBAL: Context = Context {
    title: "global_defs",
    place: "in global_defs",
    keywords: &[
        yes("router_id", "shown in logs and status"),
        yes("script_user", "user [group]; the ':group' form is not yet"),
        yes("enable_script_security", ""),
        yes("vrrp_version", "2 or 3; IPv6 instances use 3"),
        yes(
            "vrrp_garp_master_delay",
            "whole seconds, 0 for no second burst",
        ),
        yes("vrrp_garp_master_repeat", "1 or more"),
        yes("vrrp_garp_master_refresh", "whole seconds, 0 for none"),
        yes("vrrp_garp_master_refresh_repeat", "1 or more"),
        yes(
            "vrrp_min_garp",
            "one announcement, no second burst (explicit settings win)",
        ),
        yes("v3_checksum_as_v2", "default for instances"),
        yes(
            "vrrp_check_unicast_src",
            "always on in baton: unicast adverts are accepted from the listed peers only",
        ),
        yes("notification_email", NO_MAIL_SENT),
        yes("notification_email_from", NO_MAIL_SENT),
        yes("smtp_server", NO_MAIL_SENT),
        yes("smtp_helo_name", NO_MAIL_SENT),
        yes("smtp_connect_timeout", NO_MAIL_SENT),
        yes("no_email_faults", NO_MAIL_SENT),
        yes(
            "smtp_alert",
            "off/false/no only; on is refused: baton sends no e-mail",
        ),
        yes("smtp_alert_vrrp", "as smtp_alert"),
        yes("smtp_alert_checker", "as smtp_alert"),
        yes("vrrp_mcast_group4", "224.0.0.18 only (the default)"),
        yes("vrrp_mcast_group6", "ff02::12 only (the default)"),
        not_yet("vrrp_garp_lower_prio_delay", "not implemented"),
        not_yet("vrrp_garp_lower_prio_repeat", "not implemented"),
        not_yet(
            "vrrp_garp_interval",
            "per-message GARP pacing is not implemented",
        ),
        not_yet(
            "vrrp_gna_interval",
            "per-message NA pacing is not implemented",
        ),
        not_yet("vrrp_garp_extra_if", VMAC),
        not_yet("vrrp_vmac_garp_intvl", VMAC),
        not_yet(
            "vrrp_down_timer_adverts",
            "the master-down timer is the RFC's 3 intervals plus skew",
        ),
        not_yet("vrrp_lower_prio_no_advert", "not implemented"),
        not_yet("vrrp_higher_prio_send_advert", "not implemented"),
        not_yet("vrrp_strict", STRICT),
        not_yet(
            "vrrp_iptables",
            "baton manages its own nftables table for no_accept",
        ),
        not_yet(
            "vrrp_ipsets",
            "baton manages its own nftables table for no_accept",
        ),
        not_yet(
            "nftables",
            "baton manages its own nftables table for no_accept",
        ),
        not_yet("nftables_priority", "baton manages its own nftables table"),
        not_yet("nftables_counters", "baton manages its own nftables table"),
        not_yet("nftables_ifindex", "baton manages its own nftables table"),
        not_yet("nftables_ipvs", LVS),
        not_yet("nftables_ipvs_priority", LVS),
        not_yet("nftables_ipvs_start_fwmark", LVS),
        not_yet("disable_local_igmp", VMAC),
        not_yet(
            "vrrp_skip_check_adv_addr",
            "adverts are always checked in full",
        ),
        not_yet("vrrp_notify_priority_changes", FIFO),
        not_yet("default_interface", "every instance names its interface"),
        not_yet("dynamic_interfaces", "not implemented"),
        not_yet("vrrp_startup_delay", "not implemented"),
        not_yet("vrrp_delay_after_boot", "not implemented"),
        not_yet("log_unknown_vrids", "unknown VRIDs are counted in metrics"),
        not_yet("vmac_prefix", VMAC),
        not_yet("vmac_addr_prefix", VMAC),
        not_yet("vrrp_netlink_cmd_rcv_bufs", "not implemented"),
        not_yet("vrrp_netlink_cmd_rcv_bufs_force", "not implemented"),
        not_yet("vrrp_netlink_monitor_rcv_bufs", "not implemented"),
        not_yet("vrrp_netlink_monitor_rcv_bufs_force", "not implemented"),
        not_yet("vrrp_rx_bufs_policy", "not implemented"),
        not_yet("vrrp_rx_bufs_multiplier", "not implemented"),
        not_yet("process_monitor_rcv_bufs", "not implemented"),
        not_yet("process_monitor_rcv_bufs_force", "not implemented"),
        not_yet("notify_fifo", FIFO),
        not_yet("notify_fifo_script", FIFO),
        not_yet("vrrp_notify_fifo", FIFO),
        not_yet("vrrp_notify_fifo_script", FIFO),
        not_yet("fifo_write_vrrp_states_on_reload", FIFO),
        not_yet(
            "startup_script",
            "not implemented; use ExecStartPre= in the systemd unit",
        ),
        not_yet("startup_script_timeout", "not implemented"),
        not_yet(
            "shutdown_script",
            "not implemented; use ExecStopPost= in the systemd unit",
        ),
        not_yet("shutdown_script_timeout", "not implemented"),
        not_yet("use_symlink_paths", "not implemented"),
        not_yet("set_supplementary_groups", "not implemented"),
        not_yet(
            "include_check",
            "baton's include rules are fixed (see include)",
        ),
        not_yet(
            "reload_check_config",
            "baton always checks a new configuration before using it on SIGHUP",
        ),
        not_yet("reload_time_file", "not implemented"),
        not_yet("reload_repeat", "not implemented"),
        not_yet("reload_file", "not implemented"),
        not_yet("random_seed", "parameter substitution is not implemented"),
        not_yet("umask", "use UMask= in the systemd unit"),
        not_yet("tmp_config_directory", "not implemented"),
        not_yet("config_save_dir", "not implemented"),
        not_yet("iproute_usr_dir", "routing tables by name are not used"),
        not_yet("iproute_etc_dir", "routing tables by name are not used"),
        not_yet(
            "net_namespace",
            "run baton inside the namespace instead (ip netns exec)",
        ),
        not_yet("net_namespace_ipvs", LVS),
        not_yet("namespace_with_ipsets", "ipsets are not used"),
        not_yet(
            "instance",
            "one baton per host; use --control to run several",
        ),
        not_yet("use_pid_dir", "baton writes no pid file; systemd tracks it"),
        not_yet("linkbeat_use_polling", "link state comes from netlink only"),
        not_yet("lvs_sync_daemon", LVS),
        not_yet("lvs_timeouts", LVS),
        not_yet("lvs_flush", LVS),
        not_yet("lvs_flush_on_stop", LVS),
        not_yet("lvs_flush_onstop", LVS),
        not_yet("lvs_notify_fifo", LVS),
        not_yet("lvs_notify_fifo_script", LVS),
        not_yet("lvs_netlink_cmd_rcv_bufs", LVS),
        not_yet("lvs_netlink_cmd_rcv_bufs_force", LVS),
        not_yet("lvs_netlink_monitor_rcv_bufs", LVS),
        not_yet("lvs_netlink_monitor_rcv_bufs_force", LVS),
        not_yet("checker_log_all_failures", LVS),
        not_yet("rs_init_notifies", LVS),
        not_yet("no_checker_emails", LVS),
        not_yet("checker_priority", LVS),
        not_yet("checker_no_swap", LVS),
        not_yet("checker_cpu_affinity", LVS),
        not_yet("checker_rt_priority", LVS),
        not_yet("checker_rlimit_rttime", LVS),
        not_yet("checker_process_name", LVS),
        not_yet("bfd_priority", BFD),
        not_yet("bfd_no_swap", BFD),
        not_yet("bfd_cpu_affinity", BFD),
        not_yet("bfd_rt_priority", BFD),
        not_yet("bfd_rlimit_rttime", BFD),
        not_yet("bfd_process_name", BFD),
        not_yet("snmp_vs_stats_update_interval", LVS),
        not_yet("snmp_rs_stats_update_interval", LVS),
        never("max_auto_priority", PROCESS),
        never("min_auto_priority_delay", PROCESS),
        never("vrrp_priority", PROCESS),
        never("vrrp_no_swap", PROCESS),
        never("vrrp_cpu_affinity", PROCESS),
        never("vrrp_rt_priority", PROCESS),
        never("vrrp_rlimit_rttime", PROCESS),
        never("process_names", "baton is a single process"),
        never("process_name", "baton is a single process"),
        never("vrrp_process_name", "baton is a single process"),
        never("snmp_socket", SNMP),
        never("enable_snmp_vrrp", SNMP),
        never("enable_snmp_keepalived", SNMP),
        never("enable_snmp_checker", SNMP),
        never("enable_snmp_rfc", SNMP),
        never("enable_snmp_rfcv2", SNMP),
        never("enable_snmp_rfcv3", SNMP),
        never("enable_traps", SNMP),
        never(
            "enable_dbus",
            "baton status (and its JSON) replaces the D-Bus interface",
        ),
        never(
            "dbus_service_name",
            "baton status (and its JSON) replaces the D-Bus interface",
        ),
        never(
            "dbus_no_interface_name",
            "baton status (and its JSON) replaces the D-Bus interface",
        ),
        never(
            "data_use_instance",
            "SIGUSR1/SIGUSR2 dumps are replaced by baton status --json",
        ),
        never(
            "state_file_location",
            "SIGUSR1/SIGUSR2 dumps are replaced by baton status --json",
        ),
        never(
            "stats_file_location",
            "SIGUSR1/SIGUSR2 dumps are replaced by baton status --json",
        ),
        never(
            "json_file_location",
            "SIGUSR1/SIGUSR2 dumps are replaced by baton status --json",
        ),
        never(
            "json_version",
            "SIGUSR1/SIGUSR2 dumps are replaced by baton status --json",
        ),
    ],
};

pub(crate) static INSTANCE: Context = Context {
    title: "vrrp_instance",
    place: "in vrrp_instance",
    keywords: &[
        yes(
            "state",
            "MASTER or BACKUP; a missing priority becomes 255 with MASTER, as keepalived",
        ),
        yes(
            "interface",
            "required (instances without an interface are not yet)",
        ),
        yes("virtual_router_id", "1..255, required"),
        yes("priority", "1..255, default 100"),
        yes(
            "advert_int",
            "v2: whole seconds 1..255; v3: multiples of 0.01 up to 40.95",
        ),
        yes("version", "2 or 3"),
        yes("authentication", "block of auth_type and auth_pass"),
        yes(
            "virtual_ipaddress",
            "ADDR[/LEN] with brd, dev, scope, label, no_track; other options are not yet",
        ),
        yes(
            "virtual_ipaddress_excluded",
            "as virtual_ipaddress; may mix families",
        ),
        yes(
            "no_virtual_ipaddress",
            "allows an instance without addresses",
        ),
        yes("unicast_src_ip", "source of adverts"),
        yes("mcast_src_ip", "same as unicast_src_ip"),
        yes(
            "unicast_peer",
            "one address per line; min_ttl / max_ttl are not yet; an empty block means multicast, as keepalived",
        ),
        yes(
            "nopreempt",
            "ignored with a warning for state MASTER or priority 255, as keepalived",
        ),
        yes("preempt", "the default; cancels an earlier nopreempt"),
        yes(
            "preempt_delay",
            "0..1000 seconds; ignored with a warning under nopreempt or state MASTER, as keepalived",
        ),
        yes("accept", "the default, as keepalived without vrrp_strict"),
        yes("no_accept", ""),
        yes(
            "track_interface",
            "NAME [weight -253..253]; 'reverse' is not yet",
        ),
        yes(
            "track_script",
            "NAME [weight -253..253]; 'reverse' is not yet",
        ),
        yes(
            "track_file",
            "NAME [weight -254..254]; 'reverse' is not yet",
        ),
        yes("dont_track_primary", ""),
        yes("notify_master", "\"command args\" [user [group]]"),
        yes("notify_backup", "as notify_master"),
        yes("notify_fault", "as notify_master"),
        yes("notify_stop", "as notify_master"),
        yes(
            "notify",
            "as notify_master; called with INSTANCE, name, state, priority appended",
        ),
        yes(
            "smtp_alert",
            "off/false/no only; on is refused: baton sends no e-mail",
        ),
        yes("garp_master_delay", "whole seconds, 0 for no second burst"),
        yes("garp_master_repeat", "1 or more"),
        yes("garp_master_refresh", "whole seconds, 0 for none"),
        yes("garp_master_refresh_repeat", "1 or more"),
        yes(
            "v3_checksum_as_v2",
            "VRRPv3 over IPv4 without the pseudo-header",
        ),
        yes("check_unicast_src", "always on in baton"),
        yes(
            "debug",
            "accepted with a warning: keepalived does not implement it either",
        ),
        not_yet(
            "native_ipv6",
            "deprecated in keepalived: IPv6 addresses make an IPv6 instance",
        ),
        not_yet("use_vmac", VMAC),
        not_yet("use_vmac_addr", VMAC),
        not_yet("vmac_xmit_base", VMAC),
        not_yet("use_ipvlan", VMAC),
        not_yet("vrf", "VRFs are not implemented"),
        not_yet(
            "track_process",
            "process tracking is not implemented; use a vrrp_script",
        ),
        not_yet("track_bfd", BFD),
        not_yet("track_src_ip", "not implemented"),
        not_yet("mcast_dst_ip", "adverts go to 224.0.0.18 / ff02::12"),
        not_yet("unicast_fault_no_peer", "not implemented"),
        not_yet("unicast_ttl", "adverts are sent with TTL 255"),
        not_yet(
            "old_unicast_checksum",
            "keepalived < 1.3.6 checksums are not implemented",
        ),
        not_yet("garp_lower_prio_delay", "not implemented"),
        not_yet("garp_lower_prio_repeat", "not implemented"),
        not_yet("garp_extra_if", VMAC),
        not_yet("vmac_garp_intvl", VMAC),
        not_yet(
            "down_timer_adverts",
            "the master-down timer is the RFC's 3 intervals plus skew",
        ),
        not_yet("timer_expired_backup", "not implemented"),
        not_yet("lower_prio_no_advert", "not implemented"),
        not_yet("higher_prio_send_advert", "not implemented"),
        not_yet("skip_check_adv_addr", "adverts are always checked in full"),
        not_yet("strict_mode", STRICT),
        not_yet("promote_secondaries", "not implemented"),
        not_yet("virtual_routes", "routes are not managed"),
        not_yet("virtual_rules", "rules are not managed"),
        not_yet("notify_deleted", "not implemented"),
        not_yet("notify_master_rx_lower_pri", "not implemented"),
        not_yet("notify_priority_changes", FIFO),
        not_yet("kernel_rx_buf_size", "not implemented"),
        not_yet("linkbeat_use_polling", "link state comes from netlink only"),
        not_yet("lvs_sync_daemon_interface", LVS),
        not_yet("auth_hmac", "not implemented"),
    ],
};

pub(crate) static AUTHENTICATION: Context = Context {
    title: "authentication (in vrrp_instance)",
    place: "in authentication",
    keywords: &[
        yes("auth_type", "PASS"),
        yes(
            "auth_pass",
            "the first 8 characters are used, as keepalived (with a warning)",
        ),
    ],
};

pub(crate) static SCRIPT: Context = Context {
    title: "vrrp_script",
    place: "in vrrp_script",
    keywords: &[
        yes(
            "script",
            "one (quoted) command line, split as keepalived does",
        ),
        yes("interval", "seconds, default 1"),
        yes("timeout", "seconds, default the interval"),
        yes("weight", "-253..253, default 0; 'reverse' is not yet"),
        yes("rise", "default 1"),
        yes("fall", "default 1"),
        yes("user", "user [group]; the ':group' form is not yet"),
        yes("init_fail", ""),
    ],
};

pub(crate) static TRACK_FILE: Context = Context {
    title: "track_file / vrrp_track_file",
    place: "in track_file",
    keywords: &[
        yes("file", "path of the file to read"),
        yes("weight", "default 1; 'reverse' is not yet"),
        yes("init_file", "[VALUE] [overwrite]"),
    ],
};

pub(crate) static SYNC_GROUP: Context = Context {
    title: "vrrp_sync_group",
    place: "in vrrp_sync_group",
    keywords: &[
        yes("group", "member instances, one per line"),
        yes(
            "track_interface",
            "tracked by every member, as in vrrp_instance",
        ),
        yes(
            "track_script",
            "tracked by every member, as in vrrp_instance",
        ),
        yes("track_file", "tracked by every member, as in vrrp_instance"),
        yes("notify_master", "as in vrrp_instance"),
        yes("notify_backup", "as in vrrp_instance"),
        yes("notify_fault", "as in vrrp_instance"),
        yes("notify_stop", "as in vrrp_instance"),
        yes(
            "notify",
            "as in vrrp_instance, with GROUP, name, state, priority appended",
        ),
        yes("smtp_alert", "off/false/no only"),
        yes(
            "sync_group_tracking_weight",
            "members keep the weights of their tracked objects",
        ),
        yes(
            "global_tracking",
            "deprecated in keepalived: same as sync_group_tracking_weight, with a warning",
        ),
        not_yet(
            "track_process",
            "process tracking is not implemented; use a vrrp_script",
        ),
        not_yet("track_bfd", BFD),
        not_yet("notify_deleted", "not implemented"),
        not_yet("notify_priority_changes", FIFO),
    ],
};

/// The blocks in the order the compat document lists them.
#[cfg(test)]
pub(crate) static ALL: [&Context; 7] = PLACES;

/// Where each block's keywords are looked up when one turns up in the wrong place.
static PLACES: [&Context; 7] = [
    &TOP,
    &GLOBAL,
    &INSTANCE,
    &AUTHENTICATION,
    &SCRIPT,
    &TRACK_FILE,
    &SYNC_GROUP,
];

/// The message for a keyword that is not supported in `context`, or `None` if it is.
pub(crate) fn refusal(context: &Context, keyword: &str) -> Option<String> {
    match context.find(keyword) {
        Some(k) if k.support == Support::Yes => None,
        Some(k) if k.support == Support::Never => Some(format!(
            "'{keyword}' is not supported and will not be: {}",
            k.note
        )),
        Some(k) => Some(format!("'{keyword}' is not supported yet: {}", k.note)),
        None => {
            let elsewhere = PLACES
                .iter()
                .find(|other| other.find(keyword).is_some())
                .map(|other| format!(" (it goes {})", other.place))
                .unwrap_or_default();
            Some(format!(
                "unknown keyword '{keyword}' {}{elsewhere}",
                context.place
            ))
        }
    }
}

/// The compat document, rendered from the lists above.
#[cfg(test)]
pub(crate) fn render_compat_doc() -> String {
    let mut doc = String::from(COMPAT_INTRO);
    for context in ALL {
        doc.push_str(&format!("\n## {}\n\n", context.title));
        doc.push_str("| keyword | baton | notes |\n| --- | --- | --- |\n");
        for k in context.keywords {
            doc.push_str(&format!(
                "| `{}` | {} | {} |\n",
                k.name,
                k.support.label(),
                k.note.replace('|', "\\|")
            ));
        }
    }
    doc.push_str(COMPAT_OUTRO);
    doc
}

#[cfg(test)]
const COMPAT_INTRO: &str = "\
# keepalived.conf compatibility

`baton run --keepalived-conf FILE` and `baton check --keepalived-conf FILE` read a
keepalived.conf directly. This page lists every keyword of the parts baton covers (the
VRRP side of keepalived, and the top-level blocks of the rest) and what baton does with it:

- **supported**: read into baton's configuration model and acted on;
- **not yet**: `baton check` refuses the file, naming the file, line, keyword and what to do
  instead; support may come later;
- **never**: refused, and will stay so, for the reason given.

Nothing is skipped silently. Anything not listed here is an error too (`unknown keyword`).
`baton.toml` uses the same key names for the supported keywords (`[global]`, `[[vrrp]]`,
`[[vrrp_script]]`, `[[track_file]]`, `[[sync_group]]`).

Where keepalived quietly adjusts a setting (for example `nopreempt` with `state MASTER`, or a
weighted `track_script` in a sync group), baton makes the same adjustment and reports it as
a warning. Where keepalived would run with a setting ignored that changes what goes on the
wire (authentication with VRRPv3, a fractional VRRPv2 `advert_int`, an `authentication`
block without `auth_pass`), baton refuses the file.

This file is generated from `crates/config/src/keepalived/keywords.rs`; run
`BATON_BLESS=1 cargo test -p baton-config compat_doc` after changing that list.
";

#[cfg(test)]
const COMPAT_OUTRO: &str = "
## Values

- Keywords and values are case-sensitive, as in keepalived (`state MASTER`, `auth_type PASS`).
- Comments start with `!` or `#` anywhere outside quotes. Strings may be quoted with `\"` or
  `'`; quoted parts keep their spaces and backslash escapes work as in keepalived.
- One setting per line: `{` and `}` may sit on the keyword's line or the next, and split a
  line as keepalived does, but `authentication { auth_type PASS auth_pass x }` on one line is
  refused, where keepalived would take `PASS` and drop the rest.
- `<BOOL>` values are `on`, `off`, `true`, `false`, `yes`, `no`.
- Virtual address options `use_vmac`, `peer`, `home`, `-nodad`, `mngtmpaddr`,
  `noprefixroute`, `autojoin`, `preferred_lft` are not yet; `brd`, `dev`, `scope`, `label`
  and `no_track` are supported.
- A script's `user GROUP` may not use keepalived's `:group` form (supplementary groups) yet.
- `reverse` after a tracking weight is not yet; `noreverse` is accepted.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compat_doc_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/keepalived-compat.md");
        let rendered = render_compat_doc();
        if std::env::var_os("BATON_BLESS").is_some() {
            std::fs::write(&path, &rendered).expect("write the compat doc");
        }
        let written = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            written == rendered,
            "docs/keepalived-compat.md is stale: run BATON_BLESS=1 cargo test -p baton-config compat_doc"
        );
    }

    #[test]
    fn no_keyword_is_listed_twice_in_a_block() {
        for context in ALL {
            let mut names: Vec<_> = context.keywords.iter().map(|k| k.name).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "duplicate in {}", context.title);
        }
    }
}
