//! keepalived's configuration language (keepalived.conf(5), "ADVANCED CONFIGURATION"):
//! one file for several hosts through `@ID` lines and `--config-id`, parameters, `~SEQ`
//! and `~LST`, read through includes, with errors at the line the text was written on.

use std::path::{Path, PathBuf};

use baton_config::{KeepalivedOptions, Loaded, load_keepalived_with};

/// The errors of a keepalived.conf named `k.conf`, which must have some.
fn keepalived_errors(text: &str) -> Vec<String> {
    match baton_config::parse_keepalived(text, "k.conf") {
        Ok(loaded) => panic!("expected errors, got {loaded:?}"),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/language")
}

fn load_as(id: &str, file: &str) -> Result<Loaded, baton_config::Errors> {
    let options = KeepalivedOptions::default().with_config_id(Some(id.to_owned()));
    load_keepalived_with(fixtures().join(file), &options)
}

fn summary(loaded: &Loaded) -> Vec<String> {
    loaded
        .config
        .instances
        .iter()
        .map(|i| {
            let vips: Vec<String> = i
                .virtual_addresses
                .iter()
                .map(|v| format!("{}/{}", v.address, v.prefix_len))
                .collect();
            format!(
                "{} {} vrid {} prio {} {}",
                i.name,
                i.interface,
                i.vrid.get(),
                i.priority.get(),
                vips.join(",")
            )
        })
        .collect()
}

#[test]
fn one_file_reads_as_each_host() {
    let lb1 = load_as("lb1", "keepalived.conf").expect("valid for lb1");
    assert_eq!(lb1.config.global.router_id.as_deref(), Some("lb1_router"));
    assert_eq!(
        summary(&lb1),
        [
            "VI_1 eth0 vrid 1 prio 150 10.0.3.1/24",
            "VI_2 eth0 vrid 2 prio 150 10.0.3.2/24",
            "VI_3 eth0 vrid 3 prio 150 10.0.3.3/24",
            "ONLY_LB1 eth1 vrid 50 prio 100 192.168.1.10/32,192.168.1.11/32",
        ]
    );
    // Where each instance was written: the multi-line parameter's first line.
    let at = &lb1.config.instances[0].location;
    assert_eq!(at.line, 13, "{at}");
    assert_eq!(lb1.config.instances[3].location.line, 1);
    assert!(
        lb1.config.instances[3]
            .location
            .file
            .ends_with("conf.d/lb1.conf")
    );

    // lb2 has no conf.d/lb2.conf: a plain include leaves it out with a warning.
    let lb2 = load_as("lb2", "keepalived.conf").expect("valid for lb2");
    assert_eq!(lb2.config.global.router_id.as_deref(), Some("lb2_router"));
    assert_eq!(
        summary(&lb2),
        [
            "VI_1 eth0 vrid 1 prio 100 10.0.3.1/24",
            "VI_2 eth0 vrid 2 prio 100 10.0.3.2/24",
            "VI_3 eth0 vrid 3 prio 100 10.0.3.3/24",
        ]
    );
    assert!(
        lb2.warnings
            .iter()
            .any(|w| w.line == Some(24) && w.message.contains("lb2.conf does not exist")),
        "{:?}",
        lb2.warnings
    );
}

#[test]
fn errors_point_at_the_text_inside_parameters_and_includes() {
    let errors = load_as("lb1", "bad.conf").expect_err("vrid 300");
    let dir = format!("{}/", fixtures().display());
    let found: Vec<String> = errors
        .iter()
        .map(|e| e.to_string().replace(&dir, ""))
        .collect();
    // VI_3's virtual_router_id is 300: the error names the definition's line.
    assert_eq!(
        found,
        ["bad.conf:4: instance VI_3: virtual_router_id 300 is out of range 1..=255"]
    );
}

#[test]
fn random_seed_makes_random_repeatable() {
    let first = summary(&load_as("x", "random.conf").expect("valid"));
    for _ in 0..3 {
        assert_eq!(summary(&load_as("x", "random.conf").expect("valid")), first);
    }
}

#[test]
fn the_host_name_is_the_default_config_id() {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("a host name");
    let id = host.trim().split('.').next().expect("a label").to_owned();
    assert_eq!(KeepalivedOptions::default().config_id, Some(id.clone()));
    let text = format!(
        "global_defs {{\n@{id} router_id mine\n@^{id} router_id other\n}}\n\
         vrrp_instance A {{\ninterface eth0\nvirtual_router_id 1\n\
         virtual_ipaddress {{\n10.0.0.1\n}}\n}}\n"
    );
    let loaded = baton_config::parse_keepalived(&text, "k.conf").expect("valid");
    assert_eq!(loaded.config.global.router_id.as_deref(), Some("mine"));
}

#[test]
fn include_check_turns_left_out_files_into_errors() {
    let text = "global_defs {\n include_check\n}\ninclude missing.conf\n";
    let errors = keepalived_errors(text);
    assert_eq!(
        errors,
        ["k.conf:4: include missing.conf: missing.conf does not exist"]
    );
    let text = "global_defs {\n include_check wildcard_match\n}\ninclude missing.conf\n\
                include *.none\n";
    let errors = keepalived_errors(text);
    assert_eq!(errors, ["k.conf:5: include *.none: no file matches"]);
    let errors = keepalived_errors("global_defs {\n include_check all\n}\n");
    assert_eq!(
        errors,
        [
            "k.conf:2: include_check: unknown check 'all' (readable, match, wildcard_match, brace_match)"
        ]
    );
}

#[test]
fn script_users_may_be_written_user_colon_group() {
    let text = "global_defs {\n script_user lb:adm\n}\n\
                vrrp_script chk {\n script \"/bin/true\"\n user nobody:nogroup\n}\n\
                vrrp_instance A {\n interface eth0\n virtual_router_id 1\n\
                virtual_ipaddress {\n 10.0.0.1\n }\n notify_master \"/bin/true\" root:root\n}\n";
    let loaded = baton_config::parse_keepalived(text, "k.conf").expect("valid");
    let global = loaded.config.global.script_user.expect("script_user");
    assert_eq!(
        (global.user.as_str(), global.group.as_deref()),
        ("lb", Some("adm"))
    );
    let script = loaded.config.scripts[0].user.clone().expect("user");
    assert_eq!(
        (script.user.as_str(), script.group.as_deref()),
        ("nobody", Some("nogroup"))
    );
    let notify = &loaded.config.instances[0].notify.master;
    let user = notify.as_ref().and_then(|n| n.user.clone()).expect("user");
    assert_eq!(
        (user.user.as_str(), user.group.as_deref()),
        ("root", Some("root"))
    );
    let errors = keepalived_errors("global_defs {\n script_user lb:adm adm\n}\n");
    assert_eq!(
        errors,
        ["k.conf:2: global_defs: 'lb:adm adm': give the group once, as USER GROUP or USER:GROUP"]
    );
}

/// Process tuning that keepalived does itself is left to systemd: the file is accepted,
/// and each keyword says which unit setting does the job.
#[test]
fn process_tuning_is_accepted_with_the_systemd_setting_to_use() {
    let text = "use_pid_dir\nchild_wait_time 5\nglobal_defs {\n vrrp_priority -10\n\
                vrrp_cpu_affinity 1 2\n vrrp_rt_priority 50\n vrrp_no_swap\n\
                checker_rlimit_rttime 10000\n vrrp_rx_bufs_policy MTU\n\
                vrrp_netlink_monitor_rcv_bufs 1048576\n umask 0077\n config_save_dir /tmp\n\
                reload_check_config /var/log/k.log\n log_unknown_vrids\n}\n\
                vrrp_instance A {\n interface eth0\n virtual_router_id 1\n kernel_rx_buf_size 65536\n\
                virtual_ipaddress {\n 10.0.0.1\n }\n}\n";
    let loaded = baton_config::parse_keepalived(text, "k.conf").expect("accepted");
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    for (line, expected) in [
        (1, "use_pid_dir is ignored: baton writes no pid file"),
        (
            2,
            "child_wait_time is ignored: baton is one process; TimeoutStopSec=",
        ),
        (
            4,
            "global_defs: vrrp_priority is ignored: set Nice= in baton's systemd unit",
        ),
        (5, "vrrp_cpu_affinity is ignored: set CPUAffinity="),
        (
            6,
            "vrrp_rt_priority is ignored: set CPUSchedulingPolicy=rr and CPUSchedulingPriority=",
        ),
        (7, "vrrp_no_swap is ignored: set MemorySwapMax=0"),
        (8, "checker_rlimit_rttime is ignored: set LimitRTTIME="),
        (
            9,
            "vrrp_rx_bufs_policy is ignored: baton asks for a 4 MiB receive queue",
        ),
        (
            10,
            "vrrp_netlink_monitor_rcv_bufs is ignored: baton's netlink sockets",
        ),
        (11, "umask is ignored: set UMask="),
        (
            12,
            "config_save_dir is ignored: baton reads its configuration in one process",
        ),
        (
            13,
            "reload_check_config /var/log/k.log: baton always checks",
        ),
        (14, "log_unknown_vrids is ignored: baton counts adverts"),
        (
            19,
            "instance A: kernel_rx_buf_size is ignored: baton asks for a 4 MiB",
        ),
    ] {
        let prefix = format!("k.conf:{line}: ");
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with(&prefix) && w.contains(expected)),
            "{prefix}{expected}\nin {warnings:#?}"
        );
    }
}
