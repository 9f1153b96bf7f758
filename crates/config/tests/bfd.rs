//! keepalived's bfd_instance blocks and track_bfd in vrrp_instance / vrrp_sync_group, with
//! keepalived 2.2.7's defaults and checks (bfd_parser.c, vrrp_track.c).

use std::net::IpAddr;
use std::time::Duration;

use baton_config::{Loaded, TrackedObject, parse_keepalived};

/// `top` at the top level, `tracks` inside instance VI_1 (priority `priority`).
fn conf(top: &str, tracks: &str, priority: u8) -> Result<Loaded, Vec<String>> {
    let text = format!(
        "{top}vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n priority {priority}\n{tracks} virtual_ipaddress {{\n  10.0.0.1\n }}\n}}\n"
    );
    parse_keepalived(&text, "k.conf").map_err(|e| e.iter().map(ToString::to_string).collect())
}

fn errors_of(top: &str, tracks: &str) -> Vec<String> {
    conf(top, tracks, 100).expect_err("invalid")
}

fn has(errors: &[String], needle: &str) -> bool {
    errors.iter().any(|e| e.contains(needle))
}

#[test]
fn defaults_are_keepalived_s() {
    let loaded = conf("bfd_instance B {\n neighbor_ip 10.0.0.2\n}\n", "", 100).expect("valid");
    let bfd = loaded.config.bfd_instance("B").expect("B");
    assert_eq!(bfd.neighbor, "10.0.0.2".parse::<IpAddr>().unwrap());
    assert_eq!(bfd.source, None);
    assert_eq!(bfd.min_rx, Duration::from_millis(10));
    assert_eq!(bfd.min_tx, Duration::from_millis(10));
    assert_eq!(bfd.idle_tx, Duration::from_secs(1));
    assert_eq!(bfd.multiplier, 5);
    assert!(!bfd.passive);
    assert_eq!(bfd.ttl, 255);
    assert_eq!(bfd.max_hops, Some(0));
    assert_eq!(bfd.weight, 0);
    assert!(bfd.for_vrrp);
    // IPv6: keepalived's hop limit is 64, not RFC 5881's 255.
    let loaded = conf("bfd_instance B6 {\n neighbour_ip fe80::2\n}\n", "", 100).expect("valid");
    assert_eq!(loaded.config.bfd_instance("B6").unwrap().ttl, 64);
}

#[test]
fn every_setting_is_read() {
    let loaded = conf(
        "bfd_instance B {\n neighbor_ip 10.0.0.2\n source_ip 10.0.0.1\n min_rx 3.312\n min_tx 50\n idle_tx 2000\n multiplier 3\n passive\n ttl 10\n max_hops 2\n weight -20\n vrrp\n}\n",
        "",
        100,
    )
    .expect("valid");
    let bfd = loaded.config.bfd_instance("B").expect("B");
    assert_eq!(bfd.source, Some("10.0.0.1".parse().unwrap()));
    assert_eq!(bfd.min_rx, Duration::from_micros(3312));
    assert_eq!(bfd.min_tx, Duration::from_millis(50));
    assert_eq!(bfd.idle_tx, Duration::from_secs(2));
    assert_eq!(bfd.multiplier, 3);
    assert!(bfd.passive);
    assert_eq!(bfd.ttl, 10);
    assert_eq!(bfd.max_hops, Some(2));
    assert_eq!(bfd.weight, -20);
    // The GTSM check: TTL plus max_hops must reach ttl.
    assert!(bfd.accepts_ttl(Some(8)));
    assert!(!bfd.accepts_ttl(Some(7)));
    assert!(bfd.accepts_ttl(None));
}

#[test]
fn max_hops_minus_one_turns_the_ttl_check_off_and_above_ttl_is_lowered() {
    let loaded = conf(
        "bfd_instance B {\n neighbor_ip 10.0.0.2\n max_hops -1\n}\n",
        "",
        100,
    )
    .expect("valid");
    let bfd = loaded.config.bfd_instance("B").unwrap();
    assert_eq!(bfd.max_hops, None);
    assert!(bfd.accepts_ttl(Some(1)));
    let loaded = conf(
        "bfd_instance B {\n neighbor_ip 10.0.0.2\n hoplimit 5\n max_hops 9\n}\n",
        "",
        100,
    )
    .expect("valid");
    assert_eq!(loaded.config.bfd_instance("B").unwrap().max_hops, Some(5));
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.to_string().contains("max_hops exceeds")),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn bad_blocks_are_errors_with_keepalived_s_reasons() {
    let cases = [
        ("bfd_instance B {\n min_rx 10\n}\n", "no neighbor_ip"),
        (
            "bfd_instance B {\n neighbor_ip 10.0.0.300\n}\n",
            "not an IP address",
        ),
        (
            "bfd_instance B {\n neighbor_ip 10.0.0.2\n source_ip fe80::1\n}\n",
            "not of the same family",
        ),
        (
            "bfd_instance B {\n neighbor_ip 10.0.0.2\n min_rx 0.5\n}\n",
            "not in 1..=",
        ),
        (
            "bfd_instance B {\n neighbor_ip 10.0.0.2\n min_tx 1.2345\n}\n",
            "up to 3 decimals",
        ),
        (
            "bfd_instance B {\n neighbor_ip 10.0.0.2\n idle_tx 999\n}\n",
            "not in 1000..=",
        ),
        (
            "bfd_instance B {\n neighbor_ip 10.0.0.2\n multiplier 0\n}\n",
            "multiplier 0 is not in 1..=255",
        ),
        (
            "bfd_instance B {\n neighbor_ip 10.0.0.2\n ttl 256\n}\n",
            "ttl 256 is not in 1..=255",
        ),
        (
            "bfd_instance B {\n neighbor_ip 10.0.0.2\n weight 254\n}\n",
            "weight",
        ),
        (
            "bfd_instance B {\n neighbor_ip 10.0.0.2\n weight 10 reverse\n}\n",
            "'reverse' is not supported yet",
        ),
        (
            "bfd_instance B {\n neighbor_ip 10.0.0.2\n echo_rx 10\n}\n",
            "unknown keyword 'echo_rx'",
        ),
        (
            "bfd_instance B {\n neighbor_ip 10.0.0.2\n}\nbfd_instance B {\n neighbor_ip 10.0.0.3\n}\n",
            "already configured",
        ),
        (
            "bfd_instance B {\n neighbor_ip 10.0.0.2\n}\nbfd_instance C {\n neighbor_ip 10.0.0.2\n}\n",
            "already bfd_instance B's",
        ),
        (
            "bfd_instance a_name_of_thirty_two_characters_ {\n neighbor_ip 10.0.0.2\n}\n",
            "longer than keepalived's 31",
        ),
    ];
    for (top, expected) in cases {
        let errors = errors_of(top, "");
        assert!(has(&errors, expected), "{top}: {errors:?}");
    }
    // Two sources for one neighbour are two sessions.
    conf(
        "bfd_instance B {\n neighbor_ip 10.0.0.2\n source_ip 10.0.0.1\n}\nbfd_instance C {\n neighbor_ip 10.0.0.2\n source_ip 10.0.0.9\n}\n",
        "",
        100,
    )
    .expect("distinct sources");
}

const TWO: &str = "bfd_instance B {\n neighbor_ip 10.0.0.2\n}\nbfd_instance W {\n neighbor_ip 10.0.0.3\n weight -30\n}\n";

#[test]
fn track_bfd_takes_the_instance_weight_or_its_own() {
    let loaded = conf(TWO, " track_bfd {\n  B\n  W\n  B2 weight 0\n }\n", 100);
    let errors = loaded.expect_err("B2 unknown");
    assert!(
        has(&errors, "track_bfd B2: no bfd_instance of that name"),
        "{errors:?}"
    );

    let loaded = conf(TWO, " track_bfd {\n  B weight 15\n  W\n }\n", 100).expect("valid");
    let config = &loaded.config;
    let tracks = config.tracks(&config.instances[0]);
    let bfd: Vec<_> = tracks
        .iter()
        .filter(|t| matches!(t.object, TrackedObject::Bfd(_)))
        .map(|t| (t.object.clone(), t.weight, t.initially_up))
        .collect();
    assert_eq!(
        bfd,
        [
            (TrackedObject::Bfd("B".into()), 15, false),
            (TrackedObject::Bfd("W".into()), -30, false),
        ]
    );
}

#[test]
fn track_bfd_entries_are_checked() {
    let cases = [
        (" track_bfd {\n  B weight 300\n }\n", "weight"),
        (" track_bfd {\n  B weight\n }\n", "'weight' needs a value"),
        (
            " track_bfd {\n  B weight 5 reverse\n }\n",
            "'reverse' is not supported yet",
        ),
        (" track_bfd {\n  B heavy\n }\n", "unexpected 'heavy'"),
        (" track_bfd {\n  B\n  B\n }\n", "listed twice"),
        (" track_bfd B\n", "takes a { } block"),
    ];
    for (tracks, expected) in cases {
        let errors = errors_of(TWO, tracks);
        assert!(has(&errors, expected), "{tracks}: {errors:?}");
    }
    conf(TWO, " track_bfd {\n  B weight 5 noreverse\n }\n", 100).expect("noreverse");
    // checker alone: keepalived's VRRP process never hears of the session.
    let errors = errors_of(
        "bfd_instance C {\n neighbor_ip 10.0.0.4\n checker\n}\n",
        " track_bfd {\n  C\n }\n",
    );
    assert!(has(&errors, "names only 'checker'"), "{errors:?}");
}

#[test]
fn owners_and_sync_groups_follow_keepalived_s_rules() {
    // An address owner ignores a weighted track_bfd (with a warning) and keeps an
    // unweighted one.
    let loaded = conf(TWO, " track_bfd {\n  B\n  W\n }\n", 255).expect("valid");
    let config = &loaded.config;
    let bfd: Vec<_> = config
        .tracks(&config.instances[0])
        .into_iter()
        .filter(|t| matches!(t.object, TrackedObject::Bfd(_)))
        .map(|t| (t.object, t.weight))
        .collect();
    assert_eq!(bfd, [(TrackedObject::Bfd("B".into()), 0)]);
    assert!(
        loaded.warnings.iter().any(|w| w
            .to_string()
            .contains("tracked bfd W with weight -30 ignored")),
        "{:?}",
        loaded.warnings
    );

    // A sync group's track_bfd is tracked by its members.
    let text = format!(
        "{TWO}vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {{\n  10.0.0.1\n }}\n}}\nvrrp_sync_group G {{\n group {{\n  VI_1\n }}\n track_bfd {{\n  B\n }}\n}}\n"
    );
    let loaded = parse_keepalived(&text, "k.conf").expect("valid");
    let config = &loaded.config;
    assert_eq!(config.sync_groups[0].track_bfds[0].name, "B");
    assert!(
        config
            .tracks(&config.instances[0])
            .iter()
            .any(|t| t.object == TrackedObject::Bfd("B".into()) && t.weight == 0)
    );
}
