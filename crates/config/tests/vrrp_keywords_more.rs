//! keepalived.conf keywords of issue 11's last VRRP group: the GARPs after a lower-priority
//! advert (garp_lower_prio_*, with their vrrp_ global defaults), old_unicast_checksum,
//! unicast_fault_no_peer, linkbeat (accepted with a warning) and the keywords keepalived
//! 2.2.7 does not know (timer_expired_backup, auth_hmac) or that need no interface (vrf).

use std::net::Ipv4Addr;
use std::time::Duration;

use baton_config::{Loaded, OldUnicastChecksum, parse_keepalived};
use baton_vrrp::{AnnounceConfig, ChecksumMode, InstanceConfig};

mod common;

use common::{keepalived_errors, keepalived_warnings, two_instances as load};

fn engine(loaded: &Loaded, index: usize) -> InstanceConfig {
    loaded.config.instances[index].engine_config("10.0.0.9".parse().expect("ip"), &[])
}

fn lower(announce: AnnounceConfig) -> (u32, Option<Duration>) {
    (
        announce.lower_priority_repeat,
        announce.lower_priority_delay,
    )
}

fn secs(s: u64) -> Option<Duration> {
    Some(Duration::from_secs(s))
}

#[test]
fn lower_prio_garps_default_to_the_global_master_garps() {
    // keepalived's defaults: 5 and 5 s, like garp_master_repeat / garp_master_delay.
    let loaded = load("", "").expect("valid");
    assert_eq!(lower(engine(&loaded, 0).announce), (5, secs(5)));

    // The global vrrp_garp_master_* as finally set, not the instance's garp_master_*.
    let loaded = load(
        " vrrp_garp_master_repeat 2\n vrrp_garp_master_delay 7\n",
        " garp_master_repeat 9\n",
    )
    .expect("valid");
    assert_eq!(lower(engine(&loaded, 0).announce), (2, secs(7)));
    assert_eq!(engine(&loaded, 0).announce.repeat, 9);
    assert_eq!(lower(engine(&loaded, 1).announce), (2, secs(7)));

    // vrrp_min_garp takes the lower-priority ones down with the master ones.
    let loaded = load(" vrrp_min_garp\n", "").expect("valid");
    assert_eq!(lower(engine(&loaded, 0).announce), (1, None));
}

#[test]
fn lower_prio_garps_global_and_per_instance() {
    let loaded = load(
        " vrrp_garp_lower_prio_repeat 3\n vrrp_garp_lower_prio_delay 4\n",
        " garp_lower_prio_repeat 1\n",
    )
    .expect("valid");
    assert_eq!(lower(engine(&loaded, 0).announce), (1, secs(4)));
    assert_eq!(lower(engine(&loaded, 1).announce), (3, secs(4)));

    // 0 is allowed for both: no GARPs at all, no second burst.
    let loaded = load("", " garp_lower_prio_repeat 0\n garp_lower_prio_delay 0\n").expect("valid");
    assert_eq!(lower(engine(&loaded, 0).announce), (0, None));
}

#[test]
fn lower_prio_garps_out_of_keepalived_s_ranges_are_errors() {
    let errors = load("", " garp_lower_prio_delay 4295\n").expect_err("too long");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("k.conf:6: instance A: garp_lower_prio_delay"),
        "{errors:?}"
    );
    let errors = load(" vrrp_garp_lower_prio_repeat -1\n", "").expect_err("negative");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("k.conf:2: "), "{errors:?}");
    assert!(
        errors[0].contains("vrrp_garp_lower_prio_repeat"),
        "{errors:?}"
    );
    assert!(load("", " garp_lower_prio_delay 4294\n").is_ok());
}

#[test]
fn strict_mode_resets_lower_prio_garps_to_none() {
    let loaded = load(" vrrp_strict\n", "").expect("valid");
    assert_eq!(lower(engine(&loaded, 0).announce), (0, None));
    let loaded = load(" vrrp_strict\n", " garp_lower_prio_repeat 2\n").expect("valid");
    assert_eq!(lower(engine(&loaded, 0).announce), (0, None));
    let warned = loaded.warnings.iter().any(|w| {
        w.to_string()
            .contains("strict mode requires no garp_lower_prio_repeat")
    });
    assert!(warned, "{:?}", loaded.warnings);
}

/// One VRRPv3 instance A with a unicast peer (when `peer`) and `extra` at line 9.
fn unicast(globals: &str, extra: &str, peer: bool) -> String {
    let peers = if peer {
        " unicast_peer {\n  10.0.0.3\n }\n"
    } else {
        ""
    };
    format!(
        "global_defs {{\n{globals}}}\nvrrp_instance A {{\n interface eth0\n virtual_router_id 1\n version 3\n unicast_src_ip 10.0.0.2\n{peers}{extra} virtual_ipaddress {{\n 10.0.0.1\n }}\n}}\n"
    )
}

const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

#[test]
fn old_unicast_checksum_modes() {
    let text = unicast("", "", true);
    let loaded = parse_keepalived(&text, "k.conf").expect("valid");
    let instance = &loaded.config.instances[0];
    assert_eq!(
        instance.election.old_unicast_checksum,
        OldUnicastChecksum::Detect
    );
    let config = engine(&loaded, 0);
    assert_eq!(config.checksum_mode, ChecksumMode::Standard);
    assert_eq!(config.detect_old_unicast_checksum, Some(GROUP));

    let text = unicast("", " old_unicast_checksum\n", true);
    let config = engine(&parse_keepalived(&text, "k.conf").expect("valid"), 0);
    assert_eq!(config.checksum_mode, ChecksumMode::PseudoHeaderGroup(GROUP));

    let text = unicast("", " old_unicast_checksum never\n", true);
    let config = engine(&parse_keepalived(&text, "k.conf").expect("valid"), 0);
    assert_eq!(config.checksum_mode, ChecksumMode::Standard);
    assert_eq!(config.detect_old_unicast_checksum, None);

    // The group is keepalived's vrrp_mcast_group4.
    let text = unicast(
        " vrrp_mcast_group4 224.0.0.77\n",
        " old_unicast_checksum\n",
        true,
    );
    let config = engine(&parse_keepalived(&text, "k.conf").expect("valid"), 0);
    assert_eq!(
        config.checksum_mode,
        ChecksumMode::PseudoHeaderGroup(Ipv4Addr::new(224, 0, 0, 77))
    );
}

#[test]
fn old_unicast_checksum_errors() {
    let text = unicast("", " old_unicast_checksum sometimes\n", true);
    assert_eq!(
        keepalived_errors(&text),
        [
            "k.conf:11: instance A: unknown old_unicast_checksum mode 'sometimes' (never, or nothing)"
        ]
    );
    // keepalived -t fails too: "A unicast keyword has been specified without any unicast
    // peers".
    let text = unicast("", " old_unicast_checksum\n", false);
    let errors = keepalived_errors(&text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("k.conf:8: instance A: old_unicast_checksum needs unicast_peer"),
        "{errors:?}"
    );
}

#[test]
fn unicast_fault_no_peer_is_a_fault_without_peers_only() {
    let text = unicast("", " unicast_fault_no_peer\n", false);
    let loaded = parse_keepalived(&text, "k.conf").expect("valid");
    assert!(engine(&loaded, 0).config_fault);
    let text = unicast("", " unicast_fault_no_peer\n", true);
    let loaded = parse_keepalived(&text, "k.conf").expect("valid");
    assert!(!engine(&loaded, 0).config_fault);
    let loaded = load("", "").expect("valid");
    assert!(!engine(&loaded, 0).config_fault);
}

#[test]
fn linkbeat_is_accepted_with_a_warning() {
    let text = "linkbeat_use_polling\nlinkbeat_interfaces {\n eth0 MII\n eth1\n}\nglobal_defs {\n linkbeat_use_polling\n}\nvrrp_instance A {\n interface eth0\n virtual_router_id 1\n linkbeat_use_polling\n virtual_ipaddress {\n 10.0.0.1\n }\n}\n";
    let warnings = keepalived_warnings(text);
    for line in [1, 2, 7, 12] {
        let prefix = format!("k.conf:{line}: ");
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with(&prefix) && w.contains("netlink")),
            "line {line}: {warnings:?}"
        );
    }
}

#[test]
fn keywords_keepalived_2_2_7_refuses_are_refused() {
    for keyword in ["timer_expired_backup", "auth_hmac"] {
        let errors = load("", &format!(" {keyword}\n")).expect_err("unknown to 2.2.7");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("k.conf:6: "), "{errors:?}");
        assert!(
            errors[0].contains("not a keepalived 2.2.7 keyword"),
            "{errors:?}"
        );
    }
    let errors = load("", " vrf red\n").expect_err("never");
    assert!(
        errors[0].contains("name the VRF's member interface"),
        "{errors:?}"
    );
}

#[test]
fn interface_up_down_delays_per_interface() {
    let text = "interface_up_down_delays {\n eth0 1.5 0.5\n eth1 3\n eth2\n eth3 256\n}\nvrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 10.0.0.1\n }\n}\n";
    let loaded = parse_keepalived(text, "k.conf").expect("valid");
    let delays: Vec<_> = loaded
        .config
        .global
        .link_delays
        .iter()
        .map(|d| (d.interface.as_str(), d.down, d.up))
        .collect();
    assert_eq!(
        delays,
        [
            (
                "eth0",
                Duration::from_millis(1500),
                Duration::from_millis(500)
            ),
            ("eth1", Duration::from_secs(3), Duration::ZERO),
        ]
    );
    // keepalived only logs what it cannot read, and skips the line.
    let warnings = keepalived_warnings(text);
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("k.conf:4: ") && w.contains("no delays")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("k.conf:5: ") && w.contains("more than 255")),
        "{warnings:?}"
    );
}

#[test]
fn interface_up_down_delays_stay_under_the_master_down_timer() {
    // keepalived: under (down_timer_adverts - 1) advert intervals, cut to that less 1/256
    // of an interval; none at all with down_timer_adverts 1.
    let text = |delays: &str, extra: &str| {
        format!(
            "interface_up_down_delays {{\n eth0 {delays}\n}}\nvrrp_instance A {{\n interface eth0\n virtual_router_id 1\n{extra} virtual_ipaddress {{\n 10.0.0.1\n }}\n}}\n"
        )
    };
    let delays = |text: &str| {
        let loaded = parse_keepalived(text, "k.conf").expect("valid");
        let d = &loaded.config.global.link_delays[0];
        (d.down, d.up)
    };
    let limit = Duration::from_secs(2) - Duration::from_secs(1) / 256;
    assert_eq!(delays(&text("5 1", "")), (limit, Duration::from_secs(1)));
    let warnings = keepalived_warnings(&text("5 1", ""));
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("k.conf:2: ") && w.contains("cut to")),
        "{warnings:?}"
    );
    assert_eq!(
        delays(&text("1 1", " down_timer_adverts 1\n")),
        (Duration::ZERO, Duration::ZERO)
    );
    assert_eq!(
        delays(&text("1.5 0.2", "")),
        (Duration::from_millis(1500), Duration::from_millis(200))
    );
}
