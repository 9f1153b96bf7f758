//! keepalived's `track_src_ip` (FAULT while the configured source address is not on the
//! instance's interface), and instances without an `interface`, which keepalived 2.2.7
//! refuses ("(NAME) Unknown interface!") whatever else they set.

use std::net::IpAddr;

use baton_config::{Loaded, Track, TrackOrigin, TrackedObject, parse_toml};

mod common;

use common::{keepalived_errors, keepalived_warnings, two_instances as load};

fn ip(text: &str) -> IpAddr {
    text.parse().expect("address")
}

/// The tracks of instance A (the first).
fn tracks_of_a(loaded: &Loaded) -> Vec<Track> {
    loaded.config.tracks(&loaded.config.instances[0])
}

fn source_tracks(loaded: &Loaded) -> Vec<Track> {
    tracks_of_a(loaded)
        .into_iter()
        .filter(|t| t.origin == TrackOrigin::SourceAddress)
        .collect()
}

#[test]
fn track_src_ip_faults_the_instance_on_its_source_address() {
    for keyword in ["unicast_src_ip", "mcast_src_ip"] {
        let loaded = load("", &format!(" {keyword} 10.0.0.5\n track_src_ip\n")).expect("valid");
        assert!(loaded.config.instances[0].track_source_address, "{keyword}");
        assert!(!loaded.config.instances[1].track_source_address);
        let tracks = tracks_of_a(&loaded);
        // Right after the own interface, with weight 0: gone means FAULT.
        assert_eq!(tracks[0].object, TrackedObject::Interface("eth0".into()));
        assert_eq!(
            tracks[1].object,
            TrackedObject::SourceAddress {
                address: ip("10.0.0.5"),
                interfaces: vec!["eth0".into()],
            }
        );
        assert_eq!((tracks[1].weight, tracks[1].reverse), (0, false));
        assert_eq!(tracks[1].origin, TrackOrigin::SourceAddress);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }
    // Without the keyword nothing changes: the source address is not watched.
    let loaded = load("", " unicast_src_ip 10.0.0.5\n").expect("valid");
    assert!(source_tracks(&loaded).is_empty());
    assert!(!loaded.config.instances[0].track_source_address);
}

#[test]
fn track_src_ip_without_a_source_address_is_ignored_with_a_warning() {
    let loaded = load("", " track_src_ip\n").expect("valid");
    assert!(!loaded.config.instances[0].track_source_address);
    assert!(source_tracks(&loaded).is_empty());
    let text = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n track_src_ip\n \
                virtual_ipaddress {\n 10.0.0.1\n }\n}\n";
    assert_eq!(
        keepalived_warnings(text),
        [
            "k.conf:4: instance A: track_src_ip without unicast_src_ip or mcast_src_ip has no \
          address to track; ignored (as keepalived)"
        ]
    );
}

#[test]
fn track_src_ip_takes_no_value() {
    let text = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n \
                unicast_src_ip 10.0.0.5\n track_src_ip yes\n virtual_ipaddress {\n 10.0.0.1\n \
                }\n}\n";
    assert_eq!(
        keepalived_errors(text),
        ["k.conf:5: instance A: track_src_ip takes no value, not 'yes' (one setting per line)"]
    );
}

#[test]
fn track_src_ip_in_baton_toml() {
    let toml = |on: &str| {
        format!(
            "[[vrrp]]\nname = \"A\"\ninterface = \"eth0\"\nvirtual_router_id = 1\n\
             unicast_src_ip = \"10.0.0.5\"\ntrack_src_ip = {on}\nvirtual_ipaddress = [\"10.0.0.1\"]\n"
        )
    };
    let loaded = parse_toml(&toml("true"), "b.toml").unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.config.instances[0].track_source_address);
    assert_eq!(source_tracks(&loaded).len(), 1);
    let loaded = parse_toml(&toml("false"), "b.toml").unwrap_or_else(|e| panic!("{e}"));
    assert!(!loaded.config.instances[0].track_source_address);
    // The same track as keepalived.conf's.
    let from_keepalived = load("", " unicast_src_ip 10.0.0.5\n track_src_ip\n").expect("valid");
    let from_toml = parse_toml(&toml("true"), "b.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(source_tracks(&from_keepalived), source_tracks(&from_toml));
}

/// keepalived 2.2.7's chk_min_cfg refuses every instance without an interface before it
/// looks at unicast (measured: `keepalived -t` and the daemon both say "(VI_1) Unknown
/// interface!" for each of these, and the daemon does not start).
#[test]
fn instances_without_an_interface_are_refused_as_keepalived_refuses_them() {
    let unicast = " unicast_src_ip 10.0.0.5\n unicast_peer {\n 10.0.0.6\n }\n";
    let cases = [
        ("", unicast, "10.0.0.1 dev eth0"),
        ("", " mcast_src_ip 10.0.0.5\n", "10.0.0.1 dev eth0"),
        ("", "", "10.0.0.1 dev eth0"),
        (
            "global_defs {\n default_interface eth0\n}\n",
            "",
            "10.0.0.1",
        ),
        ("", " unicast_peer {\n 10.0.0.6\n }\n", "10.0.0.1 dev eth0"),
        ("", unicast, "10.0.0.1"),
    ];
    for (globals, settings, vip) in cases {
        let text = format!(
            "{globals}vrrp_instance VI_1 {{\n virtual_router_id 1\n{settings} \
             virtual_ipaddress {{\n {vip}\n }}\n}}\n"
        );
        let line = globals.lines().count() + 1;
        let errors = keepalived_errors(&text);
        let expected = format!(
            "k.conf:{line}: instance VI_1: no interface; keepalived 2.2.7 refuses every instance \
             without one too (\"(VI_1) Unknown interface!\"), whatever its unicast_src_ip, \
             default_interface or its addresses' dev say"
        );
        assert_eq!(errors, [expected], "{text}");
    }
}

#[test]
fn the_loopback_interface_is_refused_as_keepalived_refuses_it() {
    let text = "vrrp_instance VI_1 {\n interface lo\n virtual_router_id 1\n \
                virtual_ipaddress {\n 10.0.0.1\n }\n}\n";
    assert_eq!(
        keepalived_errors(text),
        [
            "k.conf:1: instance VI_1: cannot use the loopback interface (lo) for VRRP; \
             keepalived 2.2.7 refuses the instance too"
        ]
    );
}
