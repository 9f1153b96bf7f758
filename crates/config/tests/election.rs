//! keepalived's election options and start-up settings, in keepalived.conf and baton.toml:
//! lower_prio_no_advert, higher_prio_send_advert, down_timer_adverts (with their vrrp_
//! global defaults), unicast_ttl, mcast_dst_ip, vrrp_startup_delay, default_interface.

use std::net::IpAddr;
use std::time::Duration;

use baton_config::{ElectionOptions, Loaded, parse_toml};

mod common;

use common::two_instances as load;

fn options(loaded: &Loaded) -> Vec<ElectionOptions> {
    loaded.config.instances.iter().map(|i| i.election).collect()
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("address")
}

#[test]
fn the_defaults_are_the_rfcs() {
    let loaded = load("", "").expect("valid");
    assert_eq!(options(&loaded), [ElectionOptions::default(); 2]);
    let engine = loaded.config.instances[0].engine_config(ip("10.0.0.9"), &[]);
    assert!(!engine.lower_priority_no_advert && !engine.higher_priority_send_advert);
    assert_eq!((engine.down_timer_adverts, engine.unicast_ttl), (3, 255));
    assert_eq!(engine.multicast_destination, None);
    assert_eq!(loaded.config.global.startup_delay, Duration::ZERO);
}

#[test]
fn instance_settings_override_the_global_defaults() {
    let loaded = load(
        " vrrp_lower_prio_no_advert\n vrrp_higher_prio_send_advert true\n vrrp_down_timer_adverts 5\n",
        " lower_prio_no_advert off\n down_timer_adverts 10\n",
    )
    .expect("valid");
    let [a, b] = options(&loaded)[..] else {
        panic!("two instances")
    };
    assert!(!a.lower_prio_no_advert && a.higher_prio_send_advert);
    assert_eq!(a.down_timer_adverts, 10);
    assert!(b.lower_prio_no_advert && b.higher_prio_send_advert);
    assert_eq!(b.down_timer_adverts, 5);
    let engine = loaded.config.instances[0].engine_config(ip("10.0.0.9"), &[]);
    assert!(!engine.lower_priority_no_advert && engine.higher_priority_send_advert);
    assert_eq!(engine.down_timer_adverts, 10);
}

#[test]
fn unicast_ttl_and_mcast_dst_ip_reach_the_engine() {
    let loaded = load(
        "",
        " unicast_src_ip 10.0.0.5\n unicast_peer {\n 10.0.0.6\n }\n unicast_ttl 64\n",
    )
    .expect("valid");
    let engine = loaded.config.instances[0].engine_config(ip("10.0.0.9"), &[]);
    assert_eq!(engine.unicast_ttl, 64);

    let loaded = load("", " mcast_dst_ip 224.0.0.88\n").expect("valid");
    assert_eq!(
        loaded.config.instances[0].election.mcast_dst_ip,
        Some(ip("224.0.0.88"))
    );
    let engine = loaded.config.instances[0].engine_config(ip("10.0.0.9"), &[]);
    assert_eq!(engine.multicast_group(), ip("224.0.0.88"));
}

#[test]
fn what_keepalived_refuses_is_refused_with_file_and_line() {
    let cases = [
        (
            " down_timer_adverts 0\n",
            "k.conf:6: instance A: down_timer_adverts 0 is out of range 1..=100",
        ),
        (
            " down_timer_adverts 101\n",
            "k.conf:6: instance A: down_timer_adverts 101 is out of range 1..=100",
        ),
        (
            " unicast_ttl 256\n",
            "k.conf:6: instance A: unicast_ttl 256 is out of range 0..=255",
        ),
        (
            " unicast_ttl 64\n",
            "k.conf:6: instance A: unicast_ttl needs unicast_peer (multicast adverts are sent with TTL 255)",
        ),
        (
            " mcast_dst_ip 10.0.0.7\n",
            "k.conf:6: instance A: mcast_dst_ip 10.0.0.7 is not a multicast address (IPv6: link-local, ff02::/16)",
        ),
        (
            " mcast_dst_ip ff02::99\n",
            "k.conf:6: instance A: mcast_dst_ip ff02::99 is not of the instance's address family",
        ),
        (
            " lower_prio_no_advert maybe\n",
            "k.conf:6: instance A: lower_prio_no_advert: 'maybe' is not one of on, off, true, false, yes, no",
        ),
    ];
    for (line, expected) in cases {
        let errors = load("", line).expect_err(line);
        assert!(
            errors.iter().any(|e| e.starts_with(expected)),
            "{line}: {errors:?}"
        );
    }
    let errors = load(" vrrp_startup_delay 0\n", "").expect_err("below 1 ms");
    assert!(
        errors[0].starts_with("k.conf:2: global_defs: vrrp_startup_delay '0' is invalid"),
        "{errors:?}"
    );
    // Only the three with a global default have a vrrp_ form.
    let errors = load(" vrrp_unicast_ttl 5\n", "").expect_err("not a keyword");
    assert!(errors[0].starts_with("k.conf:2:"), "{errors:?}");
}

#[test]
fn startup_delay_and_default_interface_are_global() {
    let loaded = load(" vrrp_startup_delay 5.5\n default_interface eth9\n", "").expect("valid");
    let global = &loaded.config.global;
    assert_eq!(global.startup_delay, Duration::from_millis(5500));
    assert_eq!(global.default_interface.as_deref(), Some("eth9"));
    let loaded = load(" vrrp_startup_delay 90\n", "").expect("valid with a warning");
    assert!(
        loaded.warnings.iter().any(|w| w
            .to_string()
            .contains("vrrp_startup_delay 90 is very large")),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn baton_toml_takes_the_same_names() {
    let text = r#"
[global]
vrrp_higher_prio_send_advert = true
vrrp_down_timer_adverts = 4
vrrp_startup_delay = 2.5

[[vrrp]]
name = "A"
interface = "eth0"
virtual_router_id = 1
virtual_ipaddress = ["10.0.0.1"]
unicast_src_ip = "10.0.0.5"
unicast_peer = ["10.0.0.6"]
unicast_ttl = 30
lower_prio_no_advert = true

[[vrrp]]
name = "B"
interface = "eth0"
virtual_router_id = 2
virtual_ipaddress = ["10.0.0.2"]
mcast_dst_ip = "224.0.0.88"
down_timer_adverts = 7
"#;
    let loaded = parse_toml(text, "baton.toml").expect("valid");
    assert_eq!(
        loaded.config.global.startup_delay,
        Duration::from_millis(2500)
    );
    let [a, b] = options(&loaded)[..] else {
        panic!("two instances")
    };
    assert!(a.lower_prio_no_advert && a.higher_prio_send_advert);
    assert_eq!((a.down_timer_adverts, a.unicast_ttl), (4, Some(30)));
    assert!(!b.lower_prio_no_advert && b.higher_prio_send_advert);
    assert_eq!(b.down_timer_adverts, 7);
    assert_eq!(b.mcast_dst_ip, Some(ip("224.0.0.88")));

    let bad = text.replace("down_timer_adverts = 7", "down_timer_adverts = 0");
    let errors = parse_toml(&bad, "baton.toml").expect_err("out of range");
    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("down_timer_adverts 0 is out of range 1..=100")),
        "{errors:?}"
    );
}

#[test]
fn dynamic_interfaces_takes_allow_if_changes_only() {
    for line in [
        " dynamic_interfaces\n",
        " dynamic_interfaces allow_if_changes\n",
    ] {
        let loaded = load(line, "").expect(line);
        assert!(loaded.config.global.dynamic_interfaces, "{line}");
    }
    assert!(
        !load("", "")
            .expect("valid")
            .config
            .global
            .dynamic_interfaces
    );
    let errors = load(" dynamic_interfaces sometimes\n", "").expect_err("unknown option");
    assert!(
        errors[0]
            .starts_with("k.conf:2: global_defs: unknown dynamic_interfaces option 'sometimes'"),
        "{errors:?}"
    );
}

#[test]
fn vrrp_mcast_groups_are_the_default_mcast_dst_ip_of_each_family() {
    let loaded = load(
        " vrrp_mcast_group4 224.0.0.90\n vrrp_mcast_group6 ff02::90\n",
        " mcast_dst_ip 224.0.0.88\n",
    )
    .expect("valid");
    let groups: Vec<Option<IpAddr>> = options(&loaded).iter().map(|o| o.mcast_dst_ip).collect();
    assert_eq!(groups, [Some(ip("224.0.0.88")), Some(ip("224.0.0.90"))]);
    let engine = loaded.config.instances[1].engine_config(ip("10.0.0.9"), &[]);
    assert_eq!(engine.multicast_group(), ip("224.0.0.90"));

    // keepalived refuses what is not a multicast address of the family, and warns of an
    // IPv6 group that is not link-local.
    for (line, expected) in [
        (
            " vrrp_mcast_group4 10.0.0.1\n",
            "vrrp_mcast_group4 10.0.0.1 is not multicast",
        ),
        (
            " vrrp_mcast_group4 ff02::12\n",
            "vrrp_mcast_group4 ff02::12 is not IPv4",
        ),
        (
            " vrrp_mcast_group6 224.0.0.18\n",
            "vrrp_mcast_group6 224.0.0.18 is not IPv6",
        ),
    ] {
        let errors = load(line, "").expect_err(line);
        assert!(errors[0].contains(expected), "{errors:?}");
    }
    let loaded = load(" vrrp_mcast_group6 ff05::12\n", "").expect("a warning");
    assert!(
        loaded.warnings.iter().any(|w| w
            .to_string()
            .contains("ff05::12 should be link-local multicast")),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn unicast_peers_take_min_ttl_and_max_ttl() {
    let peers = " unicast_src_ip 10.0.0.5\n unicast_peer {\n 10.0.0.6 min_ttl 250\n \
                 10.0.0.7 max_ttl 64 min_ttl 1\n 10.0.0.8\n }\n";
    let loaded = load("", peers).expect("valid");
    let ranges: Vec<_> = loaded.config.instances[0]
        .unicast_peers
        .iter()
        .map(|p| p.ttl.clone())
        .collect();
    assert_eq!(ranges, [250..=255, 1..=64, 0..=255]);
    let engine = loaded.config.instances[0].engine_config(ip("10.0.0.9"), &[]);
    assert_eq!(
        engine.unicast_peer_ttl.len(),
        2,
        "the default range is no check"
    );
    assert_eq!(engine.unicast_peer_ttl[&ip("10.0.0.6")], 250..=255);

    for (entry, expected) in [
        (
            "10.0.0.6 min_ttl",
            "unicast_peer: min_ttl is missing a value",
        ),
        (
            "10.0.0.6 min_ttl 256",
            "min_ttl 256 is out of range 0..=255",
        ),
        ("10.0.0.6 hops 3", "unicast_peer: unknown option 'hops'"),
        ("10.0.0.6 min_ttl 9 max_ttl 8", "min_ttl 9 > max_ttl 8"),
    ] {
        let text = format!(" unicast_peer {{\n {entry}\n }}\n");
        let errors = load("", &text).expect_err(entry);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{entry}: {errors:?}"
        );
    }
}
