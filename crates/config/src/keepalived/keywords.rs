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
    /// Will stay a refusal, with the reason.
    Never,
}

#[cfg(test)]
impl Support {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Support::Yes => "supported",
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

/// A keyword baton reads and ignores, with the warning's advice: what does the job instead.
macro_rules! ignored {
    ($advice:literal) => {
        concat!("accepted with a warning: ", $advice)
    };
}

/// The prefix of every [`ignored!`] note.
const IGNORED: &str = "accepted with a warning: ";

const NICE: &str = ignored!("set Nice= in baton's systemd unit");
const NO_SWAP: &str =
    ignored!("set MemorySwapMax=0 in baton's systemd unit to keep it out of swap");
const CPU_AFFINITY: &str = ignored!("set CPUAffinity= in baton's systemd unit");
const RT_PRIORITY: &str =
    ignored!("set CPUSchedulingPolicy=rr and CPUSchedulingPriority= in baton's systemd unit");
const RLIMIT_RTTIME: &str = ignored!("set LimitRTTIME= in baton's systemd unit");
const AUTO_PRIORITY: &str = ignored!(
    "baton does not raise its own scheduling priority; set CPUSchedulingPolicy=rr and \
     CPUSchedulingPriority= in baton's systemd unit"
);
const PROCESS_NAME: &str = ignored!(
    "baton is one process, named baton; SyslogIdentifier= in the systemd unit names its log lines"
);
const NETLINK_BUFS: &str = ignored!(
    "baton's netlink sockets keep the kernel's default receive buffer; raise \
     net.core.rmem_default (sysctl) if the kernel reports lost netlink messages"
);
const RX_BUFS: &str = ignored!(
    "baton asks for a 4 MiB receive queue on its VRRP sockets (SO_RCVBUFFORCE, else up to the \
     sysctl net.core.rmem_max)"
);

const NO_ACCEPT_TABLE: &str = ignored!(
    "no_accept's rules are always nftables, in baton's own table inet baton_vrrp (hooks \
     input and output at priority -1, no counters)"
);

/// The advice of a keyword that `context` accepts with a warning and nothing else.
pub(crate) fn ignored_advice(context: &Context, keyword: &str) -> Option<&'static str> {
    context
        .find(keyword)
        .filter(|k| k.support == Support::Yes)
        .and_then(|k| k.note.strip_prefix(IGNORED))
}

const NO_IPVS: &str = "baton balances on nf_tables, not IPVS: there is no IPVS connection table \
                       or netlink socket to tune";
const LVS_SYNC: &str = "INTERFACE [[inst] VRRP_INSTANCE] [id N] [maxlen N] [port N] [ttl N] [group ADDRESS]: \
     the NAT flows are synchronised by conntrackd (FTFW, multicast on INTERFACE; baton writes its \
     configuration, runs and supervises it, and commits its cache when the instance becomes master: \
     docs/conn-sync.md), not by IPVS's sync daemon, whose wire it does not speak: a keepalived peer \
     and baton share no flows. Without inst the instances holding a NAT virtual server's address \
     decide the primary (keepalived runs both sync roles then). group and port as written \
     (IPv4 groups only); without group conntrackd's 225.0.0.50:3780, not IPVS's 224.0.0.81:8848. \
     id, maxlen and ttl are ignored with a warning (conntrackd has no sync id)";
const LVS_SYNC_INTERFACE: &str = "INTERFACE: as lvs_sync_daemon INTERFACE inst THIS_INSTANCE, with \
     keepalived's deprecation warning";
const NO_REGEX: &str = "baton's checkers do not match bodies against regular expressions (it \
                        carries no PCRE engine); use digest, or a MISC_CHECK running \
                        curl | grep";
const TIMING_NOTE: &str = "defaults to the real server's, then the virtual server's";
const BFD_CHECKER: &str = "baton's checkers do not use BFD sessions; a vrrp_instance can track one \
                           (track_bfd)";
const TRACK_BFD: &str = "NAME [weight -253..253] entries naming bfd_instances: with weight 0 (the \
                         bfd_instance's weight by default) the session not Up means FAULT, \
                         positive weights are added while Up, negative ones while not Up; Down \
                         until the session first comes up, as in keepalived. reverse is not \
                         supported yet";
const SMTP_ALERT: &str = "[<BOOL>]: e-mail on each state change, with keepalived's subject and \
                          body; default smtp_alert_vrrp, then smtp_alert, then off";
const SMTP_ALERT_SERVER: &str = "[<BOOL>]: e-mail on quorum changes; default smtp_alert_checker, \
                                 then smtp_alert, then off";
const SMTP_ALERT_REAL: &str = "[<BOOL>]: e-mail when a checker changes; default \
                               smtp_alert_checker, then smtp_alert, then on (as keepalived)";
const PRIORITY_CHANGES: &str = "[<BOOL>]: each change of the effective priority is written to the notify FIFOs as INSTANCE \"VI_1\" MASTER_PRIORITY 90 (BACKUP_PRIORITY when not master); an instance without it takes its sync group's, else vrrp_notify_priority_changes";
const FIFO_SCRIPT: &str = "\"COMMAND ARGS\" [USER [GROUP]]: started with the FIFO's path as its last argument once the FIFO is open (at start, and when a reload names another FIFO or script), as the script user with the same security checks as other scripts, and left running; one that exits is logged, as keepalived does, and starts again when a reload reopens its FIFO; when the FIFO closes (stop, or a reload that changes it) the script reads end-of-file, and one still running 5 s later is stopped with its process group. Not run without its FIFO (as keepalived), nor through the script helper (it never ends): a reader that must run as another user than an unprivileged baton's is logged and not started";
const SKIP_CHECK_ADV_ADDR: &str = "adverts from the master already seen are not checked \
     against our address list (a new master's first advert, and anyone else's, still are); \
     without it one whose list differs is dropped and counted (address_list)";
const USE_VMAC_ADDR: &str = "every address on another interface (dev) than the instance's, or of the other family, goes on a private macvlan of its own on that interface with the VRRP virtual MAC of its family (00:00:5e:00:01:VRID, IPv6 00:00:5e:00:02:VRID, or the MAC written after use_vmac), one per interface and MAC, named vmac_addr_prefix.VRID (else vmac_prefix's, the next free name as use_vmac's), so the address answers ARP / ND with a virtual MAC there too; its gratuitous ARPs / NAs come from it, and garp_extra_if counts it as an extra vmac. An address's own use_vmac in virtual_ipaddress / virtual_ipaddress_excluded does the same for that address (ignored with a warning when it would go on the instance's vmac anyway, as keepalived). The links get use_vmac's settings (IPv4: the sysctls, IPv6 off; IPv6: the base's link-local address; no address generated from the MAC), are made at start and removed on stop and when a reload drops them; a matching macvlan that exists (of any name, as keepalived finds it by its MAC) is used and, when baton did not make it, never removed";
const USE_VMAC: &str = "[NAME] [MAC]: a macvlan in private mode on the instance's interface, named NAME or vmac_prefix.VRID (IPv6: the next free of vrrp6.VRID, vrrp1.VRID, ...), with MAC 00:00:5e:00:01:VRID (IPv6 00:00:5e:00:02:VRID) or the MAC written (five octets: the VRID is the sixth); made when the daemon starts, up while it runs, removed on stop and when a reload drops it. The instance's addresses go on it and its adverts and gratuitous ARPs come from it. For IPv4 it gets keepalived's settings (arp_ignore 1, accept_local 1, rp_filter 0, promote_secondaries 1, IPv6 off) and the base interface arp_ignore 1 and arp_filter 1 (restored when the last link on it goes); net.ipv4.conf.all.rp_filter is lowered to 0 as keepalived does (raising default and each interface to its value first) and restored on stop. A matching macvlan that exists is used; one baton did not make is never removed; an interface of that name that is not a matching macvlan is an error at start (keepalived would pick another name)";
const VMAC_XMIT_BASE: &str = "with use_vmac: adverts go out and are read on the base interface (from its MAC); the addresses and their gratuitous ARPs stay on the vmac. Set (with a warning) for unicast instances, reset in strict mode, ignored without use_vmac, as keepalived";
const USE_IPVLAN: &str = "[NAME] [ADDRESS/PREFIX] [bridge|private|vepa]: as use_vmac with an ipvlan in L2 mode (flags as written, default bridge) that gets ADDRESS (an IPv4 instance needs one); a kernel without ipvlan fails the start with an error that says so";
const GARP_EXTRA_IF: &str = "[all] SECONDS (0 to 86400; 0 turns the global one off): while master, gratuitous ARPs / NAs every SECONDS for the addresses on interfaces other than the instance's own (its addresses on the vmac too with vmac_xmit_base), as keepalived; with all also interfaces that are not virtual links; without such addresses it does nothing, as in keepalived";
const GARP_EXTRA_IF_GLOBAL: &str = "[all] SECONDS (1 to 86400): the default of garp_extra_if";
const DISABLE_LOCAL_IGMP: &str = "net.ipv4.igmp_link_local_mcast_reports is set to 0 while the daemon runs (restored on stop), so joining VRRP's group sends no IGMP report from the virtual MAC; keepalived's IGMP firewall rule for vmacs is not written";
const USER: &str = "USER [GROUP], or USER:GROUP (baton's spelling too: keepalived 2.2.7 would look \
                    for a user named 'USER:GROUP' and refuse the file)";
const SNMP: &str = "baton exports Prometheus metrics instead of SNMP";
const LINKBEAT: &str = ignored!(
    "baton follows link state over netlink (the kernel's carrier changes, which every driver \
     of a current kernel reports; keepalived itself relies on netlink for VMACs); it polls no \
     MII / ethtool / ioctl status"
);
const LOWER_PRIO_DELAY: &str = "whole seconds, 0..=4294 (0: no second burst): a master that hears a lower-priority advert re-announces its addresses at once and again after this delay (the answer is at most once per advert interval); default the global vrrp_garp_lower_prio_delay, itself default vrrp_garp_master_delay (5); 0 under strict mode";
const LOWER_PRIO_REPEAT: &str = "0..=2147483647 (0: none): gratuitous ARPs / unsolicited NAs per address in each of those two bursts, also sent by the other members of its sync group that are master; default the global vrrp_garp_lower_prio_repeat, itself default vrrp_garp_master_repeat (5); 0 under strict mode";

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
            "globs and {a,b} braces, relative to the including file; as in keepalived, what is missing or unreadable is left out with a warning unless global_defs include_check makes it an error",
        ),
        yes(
            "includer",
            "as include, and a match that cannot be read (directory, FIFO, executable) is an error",
        ),
        yes(
            "includem",
            "as includer, and a path that does not exist is an error",
        ),
        yes(
            "includeb",
            "as includer, and a {a,b} alternative that does not exist is an error (the include is left out)",
        ),
        yes(
            "includew",
            "as includem, and a wildcard that matches nothing is an error",
        ),
        yes("includea", "every check of includew and includeb"),
        yes("virtual_server", "see below"),
        yes("virtual_server_group", "see below"),
        yes("SSL", "see below: the client side of SSL_GET checks"),
        yes("vrrp_track_process", "see below"),
        yes(
            "bfd_instance",
            "see below: a BFD session (RFC 5880/5881, asynchronous mode, no authentication, as keepalived) run inside baton",
        ),
        yes(
            "static_ipaddress",
            "{ address lines as virtual_ipaddress, with track_group NAME }: added at start (on their dev, else default_interface), removed at stop",
        ),
        yes(
            "static_routes",
            "{ route lines as virtual_routes, with track_group NAME }: added at start, removed at stop",
        ),
        yes(
            "static_rules",
            "{ rule lines as virtual_rules, with track_group NAME }: added at start, removed at stop",
        ),
        yes(
            "track_group",
            "NAME { group { INSTANCE ... } }: the instances follow the interface (dev / iif) of every static address, route and rule naming the group, as a track_interface of weight 0",
        ),
        yes("garp_group", "see below"),
        yes("linkbeat_interfaces", LINKBEAT),
        yes("linkbeat_use_polling", LINKBEAT),
        yes(
            "interface_up_down_delays",
            "{ IFNAME DOWN_DELAY [UP_DELAY] } in seconds (0..=255, up default 0): a link change is reported to the instances only once it has lasted that long (a flap back within the delay is none), from the link's first time up; on an instance's interface cut under down_timer_adverts - 1 advert intervals with a warning, as keepalived",
        ),
        never(
            "net_namespace",
            "baton does not enter a namespace itself: run it inside one (ip netns exec NAME baton run ..., or NetworkNamespacePath= in its systemd unit)",
        ),
        never(
            "net_namespace_ipvs",
            "run baton inside the namespace instead (ip netns exec)",
        ),
        yes("namespace_with_ipsets", ignored!("baton uses no ipsets")),
        yes(
            "instance",
            ignored!(
                "baton writes no pid files; to run several, give each its own --control and --state-dir"
            ),
        ),
        yes(
            "use_pid_dir",
            ignored!("baton writes no pid file; systemd tracks its process"),
        ),
        yes(
            "child_wait_time",
            ignored!("baton is one process; TimeoutStopSec= in its systemd unit bounds its stop"),
        ),
        yes(
            "$NAME=",
            "parameters as keepalived: $NAME / ${NAME} replaced where used, multi-line with \\, the pre-defined ${_PWD} ${_INSTANCE} ${_RANDOM [MIN [MAX]]} ${_HASH} ${_BANG}; errors name the line the text was written on",
        ),
        yes(
            "@ID",
            "@ID / @^ID lines kept on the host whose config id is (is not) ID: baton run/check --config-id, default the host name up to its first dot, as keepalived -i",
        ),
        yes(
            "~SEQ / ~LST",
            "~SEQ(VAR, [[start,] step,] end), ~SEQx (hex) and ~LST(VAR, v1, ...) / ~LST({A, B}, {a1, b1}, ...), nested, as keepalived",
        ),
    ],
};

pub(crate) static GLOBAL: Context = Context {
    title: "global_defs",
    place: "in global_defs",
    keywords: &[
        yes("router_id", "shown in logs and status"),
        yes("script_user", USER),
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
        yes(
            "notification_email",
            "{ ADDRESS ... }: the recipients (none: no mail is sent)",
        ),
        yes(
            "notification_email_from",
            "default USER@HOSTNAME, as keepalived",
        ),
        yes(
            "smtp_server",
            "IP|NAME [PORT] (default 25), resolved when read; plain SMTP, no TLS, as keepalived",
        ),
        yes(
            "smtp_helo_name",
            "default the host name (baton says EHLO where keepalived says HELO)",
        ),
        yes("smtp_connect_timeout", "seconds, default 30"),
        yes("no_email_faults", "no mail for FAULT states"),
        yes(
            "smtp_alert",
            "[<BOOL>]: the default of every block's smtp_alert",
        ),
        yes(
            "smtp_alert_vrrp",
            "[<BOOL>]: the default of instances and sync groups, before smtp_alert",
        ),
        yes(
            "smtp_alert_checker",
            "[<BOOL>]: the default of virtual and real servers, before smtp_alert",
        ),
        yes(
            "vrrp_mcast_group4",
            "an IPv4 multicast group: the default mcast_dst_ip of IPv4 instances (default 224.0.0.18)",
        ),
        yes(
            "vrrp_mcast_group6",
            "an IPv6 multicast group (a warning unless link-local): the default mcast_dst_ip of IPv6 instances (default ff02::12)",
        ),
        yes("vrrp_garp_lower_prio_delay", LOWER_PRIO_DELAY),
        yes("vrrp_garp_lower_prio_repeat", LOWER_PRIO_REPEAT),
        yes(
            "vrrp_garp_interval",
            "seconds (to the microsecond) between the gratuitous ARPs of an announcement, per interface; as in keepalived, repeats already waiting merge (a burst sends the first address twice, then each other address once). 0 (keepalived's default, outside its range) is accepted with a warning. keepalived paces every instance on an interface in one queue, baton each instance's announcement in its own",
        ),
        yes(
            "vrrp_gna_interval",
            "as vrrp_garp_interval, for unsolicited neighbour advertisements",
        ),
        yes("vrrp_garp_extra_if", GARP_EXTRA_IF_GLOBAL),
        yes(
            "vrrp_vmac_garp_intvl",
            "the old name of vrrp_garp_extra_if (a warning, as keepalived)",
        ),
        yes(
            "vrrp_down_timer_adverts",
            "1..=100, default 3: the default of down_timer_adverts",
        ),
        yes(
            "vrrp_lower_prio_no_advert",
            "[<BOOL>]: the default of lower_prio_no_advert",
        ),
        yes(
            "vrrp_higher_prio_send_advert",
            "[<BOOL>]: the default of higher_prio_send_advert",
        ),
        yes(
            "vrrp_strict",
            "strict RFC mode for every instance: keepalived's checks (no virtual address or unicast peers: error; authentication, preempt_delay, down_timer_adverts, higher_prio_send_advert, state MASTER below 255, accept on VRRPv2: reset with a warning) and no_accept unless accept",
        ),
        yes("vrrp_iptables", NO_ACCEPT_TABLE),
        yes("vrrp_ipsets", NO_ACCEPT_TABLE),
        yes("nftables", NO_ACCEPT_TABLE),
        yes("nftables_priority", NO_ACCEPT_TABLE),
        yes("nftables_counters", NO_ACCEPT_TABLE),
        yes("nftables_ifindex", NO_ACCEPT_TABLE),
        yes(
            "nftables_ipvs",
            "accepted with a warning: baton's L4 balancing is always nf_tables, in its own table",
        ),
        yes("nftables_ipvs_priority", "as nftables_ipvs"),
        yes("nftables_ipvs_start_fwmark", "as nftables_ipvs"),
        yes("disable_local_igmp", DISABLE_LOCAL_IGMP),
        yes("vrrp_skip_check_adv_addr", SKIP_CHECK_ADV_ADDR),
        yes(
            "vrrp_notify_priority_changes",
            "[<BOOL>]: the default of notify_priority_changes",
        ),
        yes(
            "default_interface",
            "kept for static addresses that name no interface, its only use in keepalived 2.2.7 (every instance still names its interface, as keepalived 2.2.7 requires)",
        ),
        yes(
            "dynamic_interfaces",
            "[allow_if_changes]: an instance whose interface does not exist yet waits in FAULT instead of failing the start; when the interface comes up (with its address) the instance is built anew on it, as on a reload",
        ),
        yes(
            "vrrp_startup_delay",
            "seconds (0.001 and up): after the daemon starts (not after a reload) no instance becomes Master for that long; a backup's master-down timer runs from its end, the address owner takes over at its end",
        ),
        never(
            "vrrp_delay_after_boot",
            "not a keepalived 2.2.7 keyword (it reports an unknown keyword); use vrrp_startup_delay",
        ),
        yes(
            "log_unknown_vrids",
            ignored!(
                "baton counts adverts for VRIDs it does not run, by reason, in baton_vrrp_unclaimed_dropped_packets_total (and baton status), rather than logging each"
            ),
        ),
        yes(
            "vmac_prefix",
            "the prefix of the names of use_vmac / use_ipvlan links without a written name (default vrrp: vrrp.VRID)",
        ),
        yes(
            "vmac_addr_prefix",
            "the prefix of the names of use_vmac_addr / an address's use_vmac links (default vmac_prefix's): PREFIX.VRID, IPv6 the next free of PREFIX6.VRID, PREFIX1.VRID, ...",
        ),
        yes("vrrp_netlink_cmd_rcv_bufs", NETLINK_BUFS),
        yes("vrrp_netlink_cmd_rcv_bufs_force", NETLINK_BUFS),
        yes("vrrp_netlink_monitor_rcv_bufs", NETLINK_BUFS),
        yes("vrrp_netlink_monitor_rcv_bufs_force", NETLINK_BUFS),
        yes("vrrp_rx_bufs_policy", RX_BUFS),
        yes("vrrp_rx_bufs_multiplier", RX_BUFS),
        yes("process_monitor_rcv_bufs", NETLINK_BUFS),
        yes("process_monitor_rcv_bufs_force", NETLINK_BUFS),
        yes(
            "notify_fifo",
            "PATH [USER [GROUP]]: made (mode 0644, owned by USER, else the script user) if missing and opened without blocking; each VRRP state change is written as keepalived writes it (INSTANCE \"VI_1\" MASTER 100, GROUP \"G1\" BACKUP 0, MASTER_RX_LOWER_PRI), (keepalived's checker writes its VS / RS lines here too; baton writes them to lvs_notify_fifo only, so each FIFO has one writer and one that baton made is never unlinked under the other); while no one reads, lines beyond the pipe's buffer are dropped and counted in the log; an existing file that is not a FIFO is refused (logged, the daemon runs on); a reload naming another FIFO closes the old one; a FIFO baton made is removed when it closes",
        ),
        yes("notify_fifo_script", FIFO_SCRIPT),
        yes(
            "vrrp_notify_fifo",
            "as notify_fifo, the VRRP lines only (the virtual servers' go to notify_fifo and lvs_notify_fifo)",
        ),
        yes("vrrp_notify_fifo_script", FIFO_SCRIPT),
        yes(
            "fifo_write_vrrp_states_on_reload",
            "after each reload every instance and sync group writes its state to the notify FIFOs (INSTANCE \"VI_1\" BACKUP 100), also those the reload did not change",
        ),
        yes(
            "startup_script",
            "\"COMMAND ARGS\" [USER [GROUP]]: run once at start before any VRRP instance, frontend or virtual server starts, which waits for it (at most startup_script_timeout); not on reloads; its exit status is logged and does not stop the start; a script the security checks refuse is not run (logged)",
        ),
        yes(
            "startup_script_timeout",
            "1..1000 seconds, default 10: then the script is killed with its process group and the start goes on",
        ),
        yes(
            "shutdown_script",
            "\"COMMAND ARGS\" [USER [GROUP]] (the running configuration's): run once at stop after every instance has stopped and released its addresses and the virtual servers are down; the daemon exits when it ends (at most shutdown_script_timeout)",
        ),
        yes(
            "shutdown_script_timeout",
            "1..1000 seconds, default 10: then the script is killed with its process group and the daemon exits",
        ),
        never(
            "use_symlink_paths",
            "not a keepalived 2.2.7 keyword (2.2.7 reports an unknown keyword; keepalived -t fails): baton already runs a script by the path as written, so a changed symlink takes effect at the next run, and its security checks look at the path as written and where it resolves to",
        ),
        never(
            "set_supplementary_groups",
            "not a keepalived 2.2.7 keyword (2.2.7 reports an unknown keyword; keepalived -t fails): scripts run with their user's primary group (or the group given) and no supplementary groups, as in 2.2.7",
        ),
        yes(
            "include_check",
            "[[+|-]readable|match|wildcard_match|brace_match ...], none for all; applies to the includes after it, and a file's setting ends with the file, as keepalived",
        ),
        yes(
            "reload_check_config",
            "[LOG_FILE]: always so: on SIGHUP baton checks the new configuration and keeps the running one if it fails; the errors go to baton's log, so a LOG_FILE is ignored with a warning",
        ),
        yes(
            "reload_time_file",
            "PATH: watched with inotify (its directory must exist at start or reload); its first line, HH:MM:SS, YY-MM-DD HH:MM:SS or YYYY-MM-DD HH:MM:SS with an optional Z for UTC (else local time), read with strptime's leniency as keepalived (' 1:02:03' is 01:02:03), schedules a reload (as SIGHUP) at that time, at start too; writing it again moves the reload, deleting it or an invalid or past line cancels it; the file is deleted when the reload comes; a time of day already past today means tomorrow, a local time a DST change skips is invalid, one it repeats is the first; baton status shows the reload scheduled, as keepalived",
        ),
        yes(
            "reload_repeat",
            "a reload_time_file with a time of day only is kept after its reload, so the reload comes every day at that time until the file is changed or deleted (one with a date is deleted anyway), as keepalived",
        ),
        yes(
            "reload_file",
            "[PATH], default /run/keepalived.reload: made (mode 0644) while a reload (SIGHUP, baton reload) reads the configuration, removed when it is read, as keepalived",
        ),
        yes(
            "random_seed",
            "0..4294967295: ${_RANDOM} repeats from run to run (baton's numbers, not keepalived's)",
        ),
        yes("umask", ignored!("set UMask= in baton's systemd unit")),
        yes(
            "tmp_config_directory",
            ignored!(
                "baton reads its configuration in one process, and keeps no copy of it for child processes"
            ),
        ),
        yes(
            "config_save_dir",
            ignored!("baton reads its configuration in one process, and keeps no copy of it"),
        ),
        yes(
            "iproute_usr_dir",
            "DIR (keepalived 2.3; 2.2.7 reads /etc/iproute2 only): where rt_tables, rt_protos, rt_scopes and rt_dsfield are read when the etc directory has no such file",
        ),
        yes(
            "iproute_etc_dir",
            "DIR (keepalived 2.3), default /etc/iproute2: where the names of tables, protocols, scopes and DS fields of routes and rules are read",
        ),
        never(
            "net_namespace",
            "baton does not enter a namespace itself: run it inside one (ip netns exec NAME baton run ..., or NetworkNamespacePath= in its systemd unit)",
        ),
        never(
            "net_namespace_ipvs",
            "run baton inside the namespace instead (ip netns exec)",
        ),
        yes("namespace_with_ipsets", ignored!("baton uses no ipsets")),
        yes(
            "instance",
            ignored!(
                "baton writes no pid files; to run several, give each its own --control and --state-dir"
            ),
        ),
        yes(
            "use_pid_dir",
            ignored!("baton writes no pid file; systemd tracks its process"),
        ),
        yes("linkbeat_use_polling", LINKBEAT),
        yes("lvs_sync_daemon", LVS_SYNC),
        never(
            "lvs_timeouts",
            "baton's flows live in nf_conntrack, whose timeouts are the kernel's sysctls \
             (net.netfilter.nf_conntrack_tcp_timeout_established, ..._udp_timeout); set them there",
        ),
        yes(
            "lvs_flush",
            "always so: baton replaces its own nftables table whole when it starts",
        ),
        yes(
            "lvs_flush_on_stop",
            "accepted: baton removes its own nftables table when it stops, with or without it",
        ),
        yes("lvs_flush_onstop", "as lvs_flush_on_stop"),
        yes(
            "lvs_notify_fifo",
            "PATH [USER [GROUP]], as notify_fifo: each quorum change of a virtual server (VS [10.0.3.100]:tcp:80 UP, VS FWM 5 DOWN, VS [GROUP]:0 UP) and each real server going up or down (RS [10.0.3.11]:tcp:8080 [10.0.3.100]:tcp:80 DOWN) is written as keepalived's checker writes it, beside the notify_up / notify_down and quorum scripts; unlike keepalived, notify_fifo does not get these lines",
        ),
        yes("lvs_notify_fifo_script", FIFO_SCRIPT),
        never("lvs_netlink_cmd_rcv_bufs", NO_IPVS),
        never("lvs_netlink_cmd_rcv_bufs_force", NO_IPVS),
        never("lvs_netlink_monitor_rcv_bufs", NO_IPVS),
        never("lvs_netlink_monitor_rcv_bufs_force", NO_IPVS),
        yes(
            "checker_log_all_failures",
            "the default of every checker's log_all_failures",
        ),
        yes(
            "rs_init_notifies",
            "run notify_up / notify_down for each real server's first state too",
        ),
        yes(
            "no_checker_emails",
            "[<BOOL>]: a checker mails only when it changes its real server's state",
        ),
        yes("checker_priority", NICE),
        yes("checker_no_swap", NO_SWAP),
        yes("checker_cpu_affinity", CPU_AFFINITY),
        yes("checker_rt_priority", RT_PRIORITY),
        yes("checker_rlimit_rttime", RLIMIT_RTTIME),
        yes("checker_process_name", PROCESS_NAME),
        yes("bfd_priority", NICE),
        yes("bfd_no_swap", NO_SWAP),
        yes("bfd_cpu_affinity", CPU_AFFINITY),
        yes("bfd_rt_priority", RT_PRIORITY),
        yes("bfd_rlimit_rttime", RLIMIT_RTTIME),
        yes("bfd_process_name", PROCESS_NAME),
        never("snmp_vs_stats_update_interval", SNMP),
        never("snmp_rs_stats_update_interval", SNMP),
        yes("max_auto_priority", AUTO_PRIORITY),
        yes("min_auto_priority_delay", AUTO_PRIORITY),
        yes("vrrp_priority", NICE),
        yes("vrrp_no_swap", NO_SWAP),
        yes("vrrp_cpu_affinity", CPU_AFFINITY),
        yes("vrrp_rt_priority", RT_PRIORITY),
        yes("vrrp_rlimit_rttime", RLIMIT_RTTIME),
        yes(
            "vrrp_rlimit_rtime",
            ignored!(
                "keepalived's deprecated spelling of vrrp_rlimit_rttime: set LimitRTTIME= in baton's systemd unit"
            ),
        ),
        yes("process_names", PROCESS_NAME),
        yes("process_name", PROCESS_NAME),
        yes("vrrp_process_name", PROCESS_NAME),
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
            "required, as keepalived 2.2.7 requires it: keepalived.conf(5) says a unicast instance may omit it, but 2.2.7 refuses every vrrp_instance without one (\"(NAME) Unknown interface!\", and does not start), whatever its unicast_src_ip, the global default_interface or its addresses' dev say (its minimal-configuration check runs before it recognises unicast); baton refuses such a file too, naming the instance's line",
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
            "ADDR[/LEN] with brd, dev, scope, label, no_track, noprefixroute, autojoin, mngtmpaddr, home, preferred_lft N|forever, use_vmac (see use_vmac_addr); peer and -nodad are refused",
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
            "one address per line, optionally with min_ttl N / max_ttl N (the TTLs accepted from that peer; any by default, as keepalived); an empty block means multicast, as keepalived",
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
        yes(
            "accept",
            "the default, as keepalived without vrrp_strict; reset under strict mode on VRRPv2",
        ),
        yes(
            "no_accept",
            "the default under strict mode: a master that is not the owner (priority 255) drops packets to and from its addresses (ICMPv6 neighbour discovery and baton's own frontend and virtual server ports excepted) in baton's table inet baton_vrrp",
        ),
        yes(
            "track_interface",
            "NAME [weight -253..253 [reverse]]; reverse: the weight counts the other way (weight 10 reverse lowers the priority by 10 while the interface is up; weight 0 reverse means FAULT while it is up), as keepalived",
        ),
        yes(
            "track_script",
            "NAME [weight -253..253 [reverse|noreverse]]; without them, the script's own weight and reverse",
        ),
        yes(
            "track_file",
            "NAME [weight -254..254 [reverse|noreverse]]; reverse: the value times the negated weight (weight 0 reverse: FAULT while the value is 0); without them, the file's own",
        ),
        yes("dont_track_primary", ""),
        yes(
            "notify_master",
            "\"command args\" [USER [GROUP] | USER:GROUP]",
        ),
        yes("notify_backup", "as notify_master"),
        yes("notify_fault", "as notify_master"),
        yes("notify_stop", "as notify_master"),
        yes(
            "notify",
            "as notify_master; called with INSTANCE, name, state, priority appended",
        ),
        yes("smtp_alert", SMTP_ALERT),
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
        yes(
            "native_ipv6",
            "deprecated in keepalived: the instance must be IPv6 (VRRPv3), which its IPv6 addresses already make it; an error on an instance without IPv6 addresses",
        ),
        yes("use_vmac", USE_VMAC),
        yes("use_vmac_addr", USE_VMAC_ADDR),
        yes("vmac_xmit_base", VMAC_XMIT_BASE),
        yes("use_ipvlan", USE_IPVLAN),
        never(
            "vrf",
            "keepalived 2.2.7 takes vrf only for an instance without an interface (beside interface it reports an error and ignores it), and it refuses every instance without an interface (see interface), so vrf never takes effect there; name the VRF's member interface instead: baton binds its VRRP sockets to the interface (SO_BINDTODEVICE), which the kernel matches inside the interface's VRF, and the addresses it adds to the interface land in the VRF's table (not tested here: the test kernel has no VRF driver)",
        ),
        yes(
            "track_process",
            "NAME [weight -254..254 [reverse|noreverse]]: a vrrp_track_process by name; its weight and reverse unless given. As keepalived, the weight is kept in a sync group (weighted processes are not dropped there), and an address owner's priority does not move (weighted entries are ignored with a warning)",
        ),
        yes("track_bfd", TRACK_BFD),
        yes(
            "track_src_ip",
            "the instance is in FAULT while its unicast_src_ip / mcast_src_ip is not on its interface (or its vmac): at start, and when the address is removed (over rtnetlink), until it is back; baton status names the missing address. Without a configured source address it is ignored with a warning, as keepalived ignores it. This is what keepalived.conf(5) documents; keepalived 2.2.7 itself never does it (its netlink handler compares the removed address with the start of its sockaddr, which never matches: measured in the lab, it stays MASTER advertising from the vanished address). Without track_src_ip a baton master whose source address goes goes on advertising from it, as keepalived does (its VRRP socket may send from an address the host no longer has), so it keeps the VIP and its peer stays backup",
        ),
        yes(
            "mcast_dst_ip",
            "an IPv4 multicast group, or an IPv6 one in ff02::/16, of the instance's family: adverts go there and the socket joins it",
        ),
        yes(
            "unicast_fault_no_peer",
            "with no unicast_peer the instance stays in FAULT (and its sync group with it) instead of falling back to multicast; with peers it changes nothing",
        ),
        yes(
            "unicast_ttl",
            "0..=255: the TTL / hop limit of adverts to unicast peers (needs unicast_peer). As keepalived, adverts from unicast peers are accepted whatever their TTL",
        ),
        yes(
            "old_unicast_checksum",
            "[never] (needs unicast_peer): VRRPv3 adverts over IPv4 to unicast peers are summed as keepalived before 1.3.6 did, with vrrp_mcast_group4 (default 224.0.0.18) as the pseudo-header's destination. Without it, as Debian's keepalived (OLD_CHKSUM_COMPAT), an instance that gets a peer's advert summed that way switches to it for good (logged); never: it does not",
        ),
        yes("garp_lower_prio_delay", LOWER_PRIO_DELAY),
        yes("garp_lower_prio_repeat", LOWER_PRIO_REPEAT),
        yes("garp_extra_if", GARP_EXTRA_IF),
        yes(
            "vmac_garp_intvl",
            "the old name of garp_extra_if (a warning, as keepalived)",
        ),
        yes(
            "down_timer_adverts",
            "1..=100, default 3 (the RFCs'): the master-down timer is that many advert intervals plus skew",
        ),
        never(
            "timer_expired_backup",
            "not a keepalived 2.2.7 keyword (it reports an unknown keyword; keepalived 2.2.8 added it)",
        ),
        yes(
            "lower_prio_no_advert",
            "[<BOOL>]: a master does not answer a lower-priority advert (by default it answers at once, at most once per advert interval, so a rival master steps down)",
        ),
        yes(
            "higher_prio_send_advert",
            "[<BOOL>]: a master that hears a better router sends one advert of its own before it becomes backup",
        ),
        yes(
            "skip_check_adv_addr",
            "[<BOOL>]: as vrrp_skip_check_adv_addr, for this instance; as in keepalived 2.2.7, 'off' turns it on too (with a warning)",
        ),
        yes(
            "strict_mode",
            "[<BOOL>]: vrrp_strict for this instance (off: not even with vrrp_strict)",
        ),
        yes(
            "promote_secondaries",
            "sets net.ipv4.conf.IF.promote_secondaries on the instance's interface at start (and back to 0 at stop, unless it was 1 already), as keepalived",
        ),
        yes(
            "virtual_routes",
            "{ route lines }: added when the instance becomes master, removed when it leaves master or stops. [to] [TYPE] PREFIX (default, TYPE unicast, blackhole, unreachable, prohibit, throw, ...), src, via/gw [inet|inet6], from (IPv6), dev/oif, table, protocol, scope, metric/priority/preference, tos/dsfield, onlink, mtu/advmss/cwnd/ssthresh/reordering [lock], hoplimit, window, initcwnd, initrwnd, add/prepend/append, nexthop via ... dev ... weight ... onlink (and the old 'or'), no_track; names of tables, protocols and scopes from iproute2's files. Routes carry proto keepalived (18), as keepalived's. Refused with their name: encap, as, expires, rtt, rttvar, rto_min, features, quickack, congctl, pref, ttl-propagate, fastopen_no_cookie, realms, vrf",
        ),
        yes(
            "virtual_rules",
            "{ rule lines }: added when the instance becomes master, removed when it leaves master or stops. from, to, table/lookup, goto, nop, blackhole, unreachable, prohibit, l3mdev, not, preference/priority/order (without one keepalived's 16384 counting down, with its warning), tos/dsfield, fwmark MARK[/MASK], iif/dev, oif, uidrange, sport, dport, ipproto, protocol, suppress_prefixlength, suppress_ifgroup (numbers), no_track. Refused with their name: realms, tunnel-id",
        ),
        yes(
            "notify_deleted",
            "[SCRIPT [USER [GROUP]]]: an instance a reload removes is reported DELETED (to this script and the generic notify) instead of FAULT",
        ),
        yes(
            "notify_master_rx_lower_pri",
            "SCRIPT [USER [GROUP]]: run when the instance, as master, hears a lower-priority advert (at most once per advert interval)",
        ),
        yes("notify_priority_changes", PRIORITY_CHANGES),
        yes("kernel_rx_buf_size", RX_BUFS),
        yes("linkbeat_use_polling", LINKBEAT),
        yes("lvs_sync_daemon_interface", LVS_SYNC_INTERFACE),
        never(
            "auth_hmac",
            "not a keepalived 2.2.7 keyword (it reports an unknown keyword; a later keepalived added the HMAC authentication extension)",
        ),
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
        yes(
            "weight",
            "-253..253 [reverse], default 0; reverse: the weight counts the other way (weight 10 reverse lowers the priority by 10 while the script succeeds; weight 0 reverse means FAULT while it succeeds), as keepalived",
        ),
        yes("rise", "default 1"),
        yes("fall", "default 1"),
        yes("user", USER),
        yes("init_fail", ""),
    ],
};

pub(crate) static TRACK_FILE: Context = Context {
    title: "track_file / vrrp_track_file",
    place: "in track_file",
    keywords: &[
        yes("file", "path of the file to read"),
        yes(
            "weight",
            "-254..254 [reverse], default 1; reverse: the value times the negated weight",
        ),
        yes("init_file", "[VALUE] [overwrite]"),
    ],
};

pub(crate) static BFD_INSTANCE: Context = Context {
    title: "bfd_instance",
    place: "in bfd_instance",
    keywords: &[
        yes(
            "neighbor_ip",
            "required: the peer's address (IPv4 or IPv6); control packets go to its UDP port 3784 from a source port in 49152-65535 (bound on source_ip, or on any address), and only its packets reach the session",
        ),
        yes("neighbour_ip", "the same"),
        yes(
            "source_ip",
            "the local address packets leave from and must arrive at; of neighbor_ip's family",
        ),
        yes(
            "min_rx",
            "milliseconds with up to 3 decimals, 1 and up, default 10: Required Min RX Interval",
        ),
        yes(
            "min_tx",
            "milliseconds, 1 and up, default 10: Desired Min TX Interval while Up (a poll sequence announces it)",
        ),
        yes(
            "idle_tx",
            "milliseconds, 1000 and up, default 1000: the interval while not Up",
        ),
        yes(
            "multiplier",
            "1..255, default 5: the peer declares the session down after this many intervals without a packet",
        ),
        yes(
            "passive",
            "send nothing until the peer has sent (RFC 5880's passive role)",
        ),
        yes(
            "ttl",
            "1..255: TTL / hop limit of sent packets; default 255 for IPv4, 64 for IPv6, as keepalived",
        ),
        yes("hoplimit", "the same as ttl"),
        yes(
            "max_hops",
            "-1..255, default 0: a packet is taken if its TTL plus max_hops reaches ttl (0: none that crossed a router, the GTSM check of RFC 5881); -1 or 255: no check; above ttl it is lowered to ttl with a warning",
        ),
        yes(
            "weight",
            "-253..253, default 0: the weight of track_bfd entries that give none; reverse is not supported yet",
        ),
        yes(
            "vrrp",
            "the session's changes go to VRRP (the default; with checker alone they would not)",
        ),
        yes(
            "checker",
            "alone (without vrrp) no vrrp_instance may track the session; baton's checkers do not use BFD",
        ),
    ],
};

pub(crate) static TRACK_PROCESS: Context = Context {
    title: "vrrp_track_process",
    place: "in vrrp_track_process",
    keywords: &[
        yes(
            "process",
            "NAME [PARAM...]: compared whole with the process name (/proc/PID/comm), or with argv[0] when parameters, param_match or full_command are given; parameters match exactly unless param_match. Counted from a scan of /proc at start, then from the kernel's process events connector (fork, exec, comm change, exit); where the connector cannot be had (no CAP_NET_ADMIN, or not in the initial user and PID namespaces) baton scans /proc every second instead and says so in its log",
        ),
        yes(
            "param_match",
            "[initial|partial]: alone, parameters must match exactly (and none configured means none allowed); partial: the configured parameters come first, more may follow; initial: as partial, and the last configured one may be the start of a longer one",
        ),
        yes(
            "weight",
            "-254..254 [reverse], default 0 (FAULT without quorum); positive: added while the quorum holds, negative: added while not; reverse: the other way round",
        ),
        yes(
            "quorum",
            "1..65535, default 1: the fewest matching processes",
        ),
        yes(
            "quorum_max",
            "0..65535, default unlimited: the most; 0 means the process must not run",
        ),
        yes(
            "delay",
            "0.000001..3600 seconds: sets fork_delay and terminate_delay",
        ),
        yes(
            "fork_delay",
            "a quorum gained by a fork counts after this long (an exit in between cancels it)",
        ),
        yes(
            "terminate_delay",
            "a quorum lost by an exit counts after this long (a fork in between cancels it)",
        ),
        yes("full_command", "match argv[0] rather than the process name"),
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
        yes("smtp_alert", SMTP_ALERT),
        yes(
            "sync_group_tracking_weight",
            "members keep the weights of their tracked objects",
        ),
        yes(
            "global_tracking",
            "deprecated in keepalived: same as sync_group_tracking_weight, with a warning",
        ),
        yes(
            "track_process",
            "tracked by every member, as in vrrp_instance; a weight is cleared (warning) when a member is the address owner",
        ),
        yes("track_bfd", TRACK_BFD),
        never(
            "notify_deleted",
            "keepalived 2.2.7 has it in vrrp_instance only (it reports an unknown keyword here); put it in the member instances",
        ),
        yes("notify_priority_changes", PRIORITY_CHANGES),
    ],
};

/// The timing keywords a virtual server, a real server and a checker share.
macro_rules! timing_keywords {
    ($($extra:expr),* $(,)?) => {
        &[
            yes("retry", "0 or more; the checker's default when no level sets it: 1, MISC_CHECK 0, DNS_CHECK 3"),
            yes("delay_before_retry", "seconds; default 1, HTTP_GET / SSL_GET 3, DNS_CHECK its delay_loop"),
            yes("warmup", "seconds; default the delay_loop, 0 for none"),
            yes("delay_loop", "seconds, default 60"),
            yes("alpha", "[<BOOL>]: start the real server down"),
            yes("log_all_failures", "[<BOOL>]; default global_defs checker_log_all_failures"),
            $($extra,)*
        ]
    };
}

/// A checker's connection keywords, then the timing ones.
macro_rules! checker_keywords {
    ($($extra:expr),* $(,)?) => {
        timing_keywords![
            yes("connect_ip", "default the real server's address"),
            yes("connect_port", "default the real server's port"),
            yes("bindto", "source address of probes"),
            yes("bind_port", "source port of probes"),
            yes("bind_if", "interface of probes (IPv6 link-local)"),
            yes("connect_timeout", "seconds, default 5"),
            yes("fwmark", "mark put on probes"),
            $($extra,)*
        ]
    };
}

pub(crate) static VIRTUAL_SERVER: Context = Context {
    title: "virtual_server",
    place: "in virtual_server",
    keywords: &[
        yes("ip_family", "inet or inet6, for fwmark services"),
        yes(
            "protocol",
            "TCP, UDP or SCTP; required for services by address (keepalived 2.2.7 would use UDP); fwmark services default to TCP",
        ),
        yes(
            "lb_algo",
            "rr wrr lc wlc lblc lblcr sh dh mh sed nq fo ovf twos; default wlc",
        ),
        yes("lvs_sched", "as lb_algo"),
        yes(
            "sh-port",
            "sh only; ignored with a warning otherwise, as keepalived",
        ),
        yes("sh-fallback", "sh only"),
        yes("mh-port", "mh only"),
        yes("mh-fallback", "mh only"),
        yes("flag-1", "sh-fallback / mh-fallback, as IPVS numbers them"),
        yes("flag-2", "sh-port / mh-port"),
        yes("flag-3", "accepted with a warning: no scheduler uses it"),
        yes(
            "hashed",
            "accepted with a warning: keepalived does nothing with it either",
        ),
        never(
            "ops",
            "one-packet scheduling would need stateless NAT of each datagram and its answers; baton's nf_tables data plane NATs flows through conntrack",
        ),
        yes("lb_kind", "NAT or DR, default NAT"),
        yes("lvs_method", "as lb_kind"),
        never(
            "persistence_engine",
            "the only engine, sip, parses SIP Call-IDs in the kernel's IPVS module; nf_tables has no expression for it",
        ),
        yes("persistence_timeout", "[seconds], 1..2678400; alone 360"),
        yes(
            "persistence_granularity",
            "IPv4 netmask (contiguous) or IPv6 prefix length; sets persistence_timeout 360 if missing",
        ),
        yes(
            "ha_suspend",
            "ignored with a warning for fwmark services, as keepalived",
        ),
        yes("smtp_alert", SMTP_ALERT_SERVER),
        yes("virtualhost", "default Host of HTTP_GET / SSL_GET"),
        never("snmp_name", SNMP),
        yes("alpha", "real servers start down"),
        yes(
            "omega",
            "run quorum_down and notify_down when the service is removed",
        ),
        yes(
            "quorum",
            "1 or more, default 1; lowered to the total weight with a warning, as keepalived",
        ),
        yes(
            "hysteresis",
            "default 0; kept below quorum with a warning, as keepalived",
        ),
        yes("quorum_up", "\"command args\" [USER [GROUP] | USER:GROUP]"),
        yes("quorum_down", "as quorum_up"),
        yes(
            "weight",
            "default weight of the real servers, 1..2147483647",
        ),
        yes("sorry_server", "IP [PORT], of the service's family"),
        yes("sorry_server_inhibit", "after sorry_server"),
        yes("sorry_server_lvs_method", "NAT or DR, after sorry_server"),
        yes("real_server", "see below"),
        yes("retry", TIMING_NOTE),
        yes("delay_before_retry", TIMING_NOTE),
        yes("warmup", TIMING_NOTE),
        yes("connect_timeout", "seconds, default 5"),
        yes("delay_loop", "seconds, default 60"),
        yes("inhibit_on_failure", "default of the real servers"),
    ],
};

pub(crate) static REAL_SERVER: Context = Context {
    title: "real_server (in virtual_server)",
    place: "in real_server",
    keywords: &[
        yes(
            "weight",
            "0..2147483647, default the virtual server's weight",
        ),
        yes(
            "lvs_method",
            "NAT or DR; DR real servers must use the service's port (DR cannot rewrite it)",
        ),
        yes("uthreshold", "no new flows beyond this many connections"),
        yes("lthreshold", "new flows again below this many"),
        yes(
            "inhibit_on_failure",
            "[<BOOL>]: a failed server stays with weight 0",
        ),
        yes("notify_up", "\"command args\" [USER [GROUP] | USER:GROUP]"),
        yes("notify_down", "as notify_up"),
        yes("alpha", "[<BOOL>]"),
        yes("retry", "default of its checkers"),
        yes("delay_before_retry", "default of its checkers"),
        yes("warmup", "default of its checkers"),
        yes("connect_timeout", "default of its checkers"),
        yes("delay_loop", "default of its checkers"),
        yes("smtp_alert", SMTP_ALERT_REAL),
        yes("virtualhost", "default Host of its HTTP_GET / SSL_GET"),
        never("snmp_name", SNMP),
        yes("TCP_CHECK", "see below"),
        yes("HTTP_GET", "see below"),
        yes("SSL_GET", "see below"),
        yes("MISC_CHECK", "see below"),
        yes("SMTP_CHECK", "see below"),
        yes("DNS_CHECK", "see below"),
        yes("UDP_CHECK", "see below"),
        yes("PING_CHECK", "see below"),
        yes("FILE_CHECK", "see below"),
        never("BFD_CHECK", BFD_CHECKER),
    ],
};

pub(crate) static TCP_CHECK: Context = Context {
    title: "TCP_CHECK (in real_server)",
    place: "in TCP_CHECK",
    keywords: checker_keywords![],
};

pub(crate) static HTTP_GET: Context = Context {
    title: "HTTP_GET (in real_server)",
    place: "in HTTP_GET",
    keywords: checker_keywords![
        yes(
            "nb_get_retry",
            "deprecated spelling of retry, with a warning"
        ),
        yes(
            "virtualhost",
            "Host header; default the real server's, then the virtual server's"
        ),
        yes("http_protocol", "1.0 (default), 1.0C or 1.1"),
        yes("fast_recovery", "[<BOOL>]"),
        yes("enable_sni", "[<BOOL>]; SSL_GET only"),
        yes("url", "see below; at least one"),
    ],
};

pub(crate) static SSL_GET: Context = Context {
    title: "SSL_GET (in real_server)",
    place: "in SSL_GET",
    keywords: checker_keywords![
        yes("nb_get_retry", "as in HTTP_GET"),
        yes("virtualhost", "as in HTTP_GET"),
        yes("http_protocol", "as in HTTP_GET"),
        yes("fast_recovery", "as in HTTP_GET"),
        yes("enable_sni", "[<BOOL>]: send the virtualhost as SNI"),
        yes("url", "see below; at least one"),
    ],
};

pub(crate) static URL: Context = Context {
    title: "url (in HTTP_GET and SSL_GET)",
    place: "in url",
    keywords: &[
        yes("path", "required"),
        yes("digest", "MD5 of the body, 32 hex digits"),
        yes(
            "status_code",
            "codes and ranges (200 301-302), default 200-299",
        ),
        yes("virtualhost", "overrides the checker's"),
        never("regex", NO_REGEX),
        never("regex_no_match", NO_REGEX),
        never("regex_options", NO_REGEX),
        never("regex_stack", NO_REGEX),
        never("regex_min_offset", NO_REGEX),
        never("regex_max_offset", NO_REGEX),
    ],
};

pub(crate) static MISC_CHECK: Context = Context {
    title: "MISC_CHECK (in real_server)",
    place: "in MISC_CHECK",
    keywords: timing_keywords![
        yes("misc_path", "one (quoted) command line, required"),
        yes(
            "misc_timeout",
            "whole seconds; default the virtual server's delay_loop"
        ),
        yes("misc_dynamic", "exit codes 2..255 set the weight"),
        yes("user", USER),
    ],
};

pub(crate) static SMTP_CHECK: Context = Context {
    title: "SMTP_CHECK (in real_server)",
    place: "in SMTP_CHECK",
    keywords: checker_keywords![
        yes("helo_name", "default smtpchecker.keepalived.org"),
        yes(
            "host",
            "deprecated in keepalived (with a warning): each block is one more SMTP_CHECK with its connection settings",
        ),
    ],
};

pub(crate) static SMTP_HOST: Context = Context {
    title: "host (in SMTP_CHECK)",
    place: "in host",
    keywords: &[
        yes("connect_ip", "as in SMTP_CHECK"),
        yes("connect_port", "as in SMTP_CHECK"),
        yes("bindto", "as in SMTP_CHECK"),
        yes("bind_port", "as in SMTP_CHECK"),
        yes("bind_if", "as in SMTP_CHECK"),
        yes("connect_timeout", "as in SMTP_CHECK"),
        yes("fwmark", "as in SMTP_CHECK"),
    ],
};

pub(crate) static DNS_CHECK: Context = Context {
    title: "DNS_CHECK (in real_server)",
    place: "in DNS_CHECK",
    keywords: checker_keywords![
        yes(
            "type",
            "A NS CNAME SOA MX TXT AAAA RRSIG DNSKEY, default SOA"
        ),
        yes("name", "default . (the root)"),
    ],
};

pub(crate) static UDP_CHECK: Context = Context {
    title: "UDP_CHECK (in real_server)",
    place: "in UDP_CHECK",
    keywords: checker_keywords![
        yes("payload", "hex string; default random"),
        yes("require_reply", "[hex string, x for a nibble to ignore]"),
        yes("min_reply_length", "default 0"),
        yes("max_reply_length", "default 255"),
    ],
};

pub(crate) static PING_CHECK: Context = Context {
    title: "PING_CHECK (in real_server)",
    place: "in PING_CHECK",
    keywords: checker_keywords![],
};

pub(crate) static FILE_CHECK: Context = Context {
    title: "FILE_CHECK (in real_server)",
    place: "in FILE_CHECK",
    keywords: &[
        yes("track_file", "the name of a top-level track_file, required"),
        yes(
            "weight",
            "-2147483647..2147483647 [reverse]; default the track_file's weight",
        ),
    ],
};

pub(crate) static GARP_GROUP: Context = Context {
    title: "garp_group",
    place: "in garp_group",
    keywords: &[
        yes(
            "garp_interval",
            "seconds (to the microsecond) between gratuitous ARPs on these interfaces, instead of vrrp_garp_interval; unset is 0 (no pause), as keepalived",
        ),
        yes("gna_interval", "as garp_interval, for unsolicited NAs"),
        yes(
            "interface",
            "NAME; an interface may be in one garp_group only",
        ),
        yes(
            "interfaces",
            "{ NAME ... }: keepalived paces these together, as one queue; baton paces each interface's (and each instance's) announcements by itself",
        ),
    ],
};

pub(crate) static TRACK_GROUP: Context = Context {
    title: "track_group",
    place: "in track_group",
    keywords: &[yes(
        "group",
        "{ INSTANCE ... }: the member instances; names that are no instance are ignored with a warning, as keepalived",
    )],
};

pub(crate) static VIRTUAL_SERVER_GROUP: Context = Context {
    title: "virtual_server_group",
    place: "in virtual_server_group",
    keywords: &[
        yes(
            "<IPADDR> [<PORT>]",
            "an address; no port (or 0) needs persistence",
        ),
        yes(
            "<IPADDR RANGE> [<PORT>]",
            "10.0.3.1-20, 10.0.3.250-10.0.4.10, 10.0.3.8/29 and the IPv6 forms (range end in hex)",
        ),
        yes("fwmark", "<INTEGER> [inet|inet6]"),
    ],
};

pub(crate) static SSL: Context = Context {
    title: "SSL",
    place: "in SSL",
    keywords: &[
        yes(
            "password",
            "of the private key: read, but baton (rustls) cannot decrypt a key, so an encrypted key stops the start with the advice to decrypt it (openssl pkey)",
        ),
        yes(
            "ca",
            "PEM certificates that complete the chain sent with the client certificate; as in keepalived, the server's certificate is not verified",
        ),
        yes(
            "certificate",
            "PEM client certificate (with its chain) sent by every SSL_GET; checked at start",
        ),
        yes("key", "its PEM private key"),
    ],
};

/// The blocks in the order the compat document lists them.
#[cfg(test)]
pub(crate) static ALL: [&Context; 26] = PLACES;

/// Where each block's keywords are looked up when one turns up in the wrong place.
static PLACES: [&Context; 26] = [
    &TOP,
    &GLOBAL,
    &INSTANCE,
    &AUTHENTICATION,
    &SCRIPT,
    &TRACK_FILE,
    &TRACK_PROCESS,
    &BFD_INSTANCE,
    &SYNC_GROUP,
    &GARP_GROUP,
    &TRACK_GROUP,
    &VIRTUAL_SERVER_GROUP,
    &VIRTUAL_SERVER,
    &REAL_SERVER,
    &TCP_CHECK,
    &HTTP_GET,
    &SSL_GET,
    &URL,
    &MISC_CHECK,
    &SMTP_CHECK,
    &SMTP_HOST,
    &DNS_CHECK,
    &UDP_CHECK,
    &PING_CHECK,
    &FILE_CHECK,
    &SSL,
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
VRRP side of keepalived, its LVS side: virtual servers, real servers and their checkers, which
baton balances on nf_tables instead of IPVS, and the top-level blocks of the rest) and what
baton does with it:

- **supported**: read into baton's configuration model and acted on;
- **never**: refused, and will stay so, for the reason given.

Nothing is skipped silently. Anything not listed here is an error too (`unknown keyword`).
`baton.toml` uses the same key names for the supported keywords (`[global]`, `[[vrrp]]`,
`[[vrrp_script]]`, `[[track_file]]`, `[[sync_group]]`, `[[virtual_server]]`,
`[[virtual_server_group]]`; docs/configuration.md lists the L4 keys).

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
- Virtual address options `brd`, `dev`, `scope`, `label`, `no_track`, `noprefixroute`,
  `autojoin`, `mngtmpaddr`, `home`, `preferred_lft` and `use_vmac` are supported (`use_vmac`
  on a static address is ignored with a warning, as keepalived); `peer` and `-nodad`
  are refused (rare; keepalived's `-nodad` lets the kernel run duplicate address
  detection, which baton skips for VIPs).
- Wherever a script user is given (`script_user`, a vrrp_script's or MISC_CHECK's `user`,
  after a notify command), `USER GROUP` and `USER:GROUP` both work; a group written `:GROUP`
  (supplementary groups, in keepalived after 2.2.7) is refused.
- `reverse` after a tracking weight turns it the other way, as keepalived's weight
  multiplier -1; `reverse` / `noreverse` of a `track_script` or `track_file` entry stand only
  after its weight, as in keepalived. FILE_CHECK's `weight N reverse` is supported.
- Where keepalived corrects an LVS setting and logs it, baton does the same with a warning
  (`quorum` above the total weight, `hysteresis` not below `quorum`, port 0 without
  persistence, `ha_suspend` with a fwmark), except where the correction would change the
  traffic: a DR real server on another port than the service, a real or sorry server of the
  other family, a checker without urls or `misc_path`, or a service by address without
  `protocol` are errors.
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
