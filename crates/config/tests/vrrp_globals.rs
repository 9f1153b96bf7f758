//! VRRP settings from global_defs and vrrp_instance that reach the engine or the daemon:
//! skip_check_adv_addr and the announcement pacing.

use std::time::Duration;

use baton_config::{AnnouncePacing, Loaded, parse_keepalived};

mod common;

use common::two_instances as load;

/// Each instance's skip_check_adv_addr, in order.
fn skips(loaded: &Loaded) -> Vec<bool> {
    loaded
        .config
        .instances
        .iter()
        .map(|i| i.skip_check_adv_addr)
        .collect()
}

fn warnings(loaded: &Loaded) -> Vec<String> {
    loaded.warnings.iter().map(ToString::to_string).collect()
}

#[test]
fn skip_check_adv_addr_per_instance_or_for_all() {
    let loaded = load("", "skip_check_adv_addr\n").expect("valid");
    assert_eq!(skips(&loaded), [true, false]);
    let engine = loaded.config.instances[0].engine_config("10.0.0.9".parse().expect("ip"), &[]);
    assert!(engine.skip_check_advert_addresses);

    let loaded = load(" vrrp_skip_check_adv_addr\n", "").expect("valid");
    assert!(
        loaded
            .config
            .instances
            .iter()
            .all(|i| i.skip_check_adv_addr)
    );
    assert!(loaded.config.global.skip_check_adv_addr);

    // keepalived 2.2.7 turns it on for any boolean, "off" too.
    let loaded = load("", "skip_check_adv_addr off\n").expect("valid");
    assert!(loaded.config.instances[0].skip_check_adv_addr);
    assert!(
        warnings(&loaded)
            .iter()
            .any(|w| w
                .starts_with("k.conf:6: instance A: skip_check_adv_addr off still turns it on")),
        "{:?}",
        warnings(&loaded)
    );
    let errors = load("", "skip_check_adv_addr maybe\n").expect_err("not a boolean");
    assert_eq!(
        errors,
        [
            "k.conf:6: instance A: skip_check_adv_addr: 'maybe' is not one of on, off, true, false, yes, no"
        ]
    );
}

#[test]
fn garp_and_gna_intervals_pace_announcements() {
    let loaded = load(
        " vrrp_garp_interval 0.001\n vrrp_gna_interval 0.000001\n",
        "",
    )
    .expect("valid");
    let expected = AnnouncePacing {
        garp_interval: Duration::from_millis(1),
        gna_interval: Duration::from_micros(1),
    };
    assert_eq!(loaded.config.global.announce_pacing, expected);
    assert!(
        loaded
            .config
            .instances
            .iter()
            .all(|i| i.announce_pacing == expected)
    );
    assert!(warnings(&loaded).iter().all(|w| !w.contains("interval")));

    let loaded = load(" vrrp_garp_interval 1.5\n", "").expect("valid, with a warning");
    assert!(
        warnings(&loaded)
            .iter()
            .any(|w| w.starts_with("k.conf:2: global_defs: vrrp_garp_interval 1.5 is very large")),
        "{:?}",
        warnings(&loaded)
    );
    let errors = load(" vrrp_gna_interval 5000\n", "").expect_err("too long");
    assert_eq!(
        errors,
        ["k.conf:2: global_defs: vrrp_gna_interval 5000 is more than 4294.967295 seconds"]
    );
    let errors = load(" vrrp_garp_interval 0.0000001\n", "").expect_err("finer than keepalived");
    assert_eq!(errors.len(), 1, "{errors:?}");
}

#[test]
fn the_same_keys_in_baton_toml() {
    let text = "[global]\nvrrp_skip_check_adv_addr = true\nvrrp_garp_interval = 0.002\n\
                vrrp_gna_interval = \"0.000003\"\n\n[[vrrp]]\nname = \"A\"\ninterface = \"eth0\"\n\
                virtual_router_id = 1\nvirtual_ipaddress = [\"10.0.0.1\"]\n\n[[vrrp]]\nname = \"B\"\n\
                interface = \"eth0\"\nvirtual_router_id = 2\nskip_check_adv_addr = true\n\
                virtual_ipaddress = [\"10.0.0.2\"]\n";
    let loaded = baton_config::parse_toml(text, "b.toml").unwrap_or_else(|e| panic!("{e}"));
    assert!(
        loaded
            .config
            .instances
            .iter()
            .all(|i| i.skip_check_adv_addr)
    );
    assert_eq!(
        loaded.config.instances[0].announce_pacing,
        AnnouncePacing {
            garp_interval: Duration::from_millis(2),
            gna_interval: Duration::from_micros(3),
        }
    );
    let text = text.replace(
        "vrrp_skip_check_adv_addr = true",
        "vrrp_skip_check_adv_addr = false",
    );
    let loaded = baton_config::parse_toml(&text, "b.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(skips(&loaded), [false, true]);
    let text = text.replace("0.002", "5000");
    let errors = baton_config::parse_toml(&text, "b.toml").expect_err("too long");
    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("b.toml:3: "), "{errors:?}");
    assert!(
        errors[0].contains("more than 4294.967295 seconds"),
        "{errors:?}"
    );
}

/// keepalived's deprecated native_ipv6: the instance must be IPv6.
#[test]
fn native_ipv6_asks_for_an_ipv6_instance() {
    let text = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n native_ipv6\n\
                virtual_ipaddress {\n ADDRESS\n }\n}\n";
    let loaded = parse_keepalived(&text.replace("ADDRESS", "2001:db8::1"), "k.conf")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.config.instances[0].version, baton_vrrp::Version::V3);
    let errors = parse_keepalived(&text.replace("ADDRESS", "10.0.0.1"), "k.conf")
        .expect_err("IPv4 addresses");
    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("k.conf:4: instance A: native_ipv6 needs IPv6 addresses"),
        "{errors:?}"
    );
}

/// keepalived's garp_group: other pacing on some interfaces; the others keep the global one.
#[test]
fn garp_groups_pace_their_interfaces() {
    let groups = "garp_group {\n garp_interval 0.5\n interface eth1\n}\n\
                  garp_group {\n gna_interval 0.25\n interfaces {\n  eth2 eth3\n  eth4\n }\n}\n";
    let text = format!(
        "global_defs {{\n vrrp_garp_interval 0.001\n}}\n{groups}\
         vrrp_instance A {{\n interface eth0\n virtual_router_id 1\n\
         virtual_ipaddress {{\n 10.0.0.1\n }}\n}}\n"
    );
    let loaded = parse_keepalived(&text, "k.conf").unwrap_or_else(|e| panic!("{e}"));
    let a = &loaded.config.instances[0];
    let pacing = |garp: u64, gna: u64| AnnouncePacing {
        garp_interval: Duration::from_micros(garp),
        gna_interval: Duration::from_micros(gna),
    };
    assert_eq!(a.announce_pacing_on("eth0"), pacing(1000, 0));
    assert_eq!(a.announce_pacing_on("eth1"), pacing(500_000, 0));
    for dev in ["eth2", "eth3", "eth4"] {
        assert_eq!(a.announce_pacing_on(dev), pacing(0, 250_000), "{dev}");
    }
    assert_eq!(loaded.config.global.garp_groups.len(), 2);

    let text = "garp_group {\n interface eth1\n}\ngarp_group {\n interfaces {\n eth1\n }\n}\n\
                garp_group {\n garp_interval 1\n}\ngarp_group {\n delay 1\n interface eth9\n}\n";
    let errors = parse_keepalived(text, "k.conf").expect_err("refused");
    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "k.conf:4: garp_group: interface eth1 is already in the garp_group at k.conf:1",
            "k.conf:9: garp_group: names no interface (interface NAME or interfaces { ... })",
            "k.conf:13: garp_group: unknown keyword 'delay' in garp_group (it goes in vrrp_track_process)",
        ]
    );
}
