//! `[[anycast]]` in baton.toml: what it reads, its defaults, and every mistake named at its
//! line.

use std::time::Duration;

use baton_config::{ANYCAST_ROUTE_PROTOCOL, Loaded, parse_toml};

const BASE: &str = r#"
[[vrrp]]
name = "VI_1"
interface = "eth0"
virtual_router_id = 51
priority = 100
virtual_ipaddress = ["10.0.3.100/24"]

[[frontend]]
name = "web"
listen = "10.0.9.100:80"
backend = "app"

[[backend]]
name = "app"
servers = ["10.0.3.11:8080"]

[[vrrp_script]]
name = "chk_web"
script = "/bin/true"

[[track_file]]
name = "maint"
file = "/run/baton/maint"
"#;

fn load(extra: &str) -> Result<Loaded, Vec<String>> {
    parse_toml(&format!("{BASE}{extra}"), "b.toml")
        .map_err(|e| e.iter().map(ToString::to_string).collect())
}

/// The line of `needle` in the whole file (1-based).
fn line_of(extra: &str, needle: &str) -> usize {
    let text = format!("{BASE}{extra}");
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle")
        + 1
}

#[test]
fn the_smallest_form_reads_with_its_defaults() {
    let loaded = load(
        r#"
[[anycast]]
name = "web"
prefixes = ["10.0.9.100/32", "fd00:9::100"]
track_frontend = ["web"]
"#,
    )
    .expect("valid");
    let a = &loaded.config.anycasts[0];
    assert_eq!(a.name, "web");
    let prefixes: Vec<String> = a.prefixes.iter().map(ToString::to_string).collect();
    assert_eq!(prefixes, ["10.0.9.100/32", "fd00:9::100/128"]);
    assert_eq!(a.table, 100);
    assert_eq!(a.track_frontends, ["web"]);
    assert_eq!(a.withdraw_delay, Duration::from_secs(1));
    assert!(!a.local_route, "the address goes on lo unless asked");
    assert_eq!(ANYCAST_ROUTE_PROTOCOL, 201);
}

#[test]
fn every_key_reads() {
    let loaded = load(
        r#"
[[anycast]]
name = "all"
prefixes = ["10.0.9.0/24"]
table = 4242
track_interface = ["eth0"]
track_script = ["chk_web"]
track_file = ["maint"]
withdraw_delay = 0.3
interface = "eth1"
peers = ["10.0.3.5", "10.0.3.6", "fd00:0:0:3::7"]
local_route = true
"#,
    )
    .expect("valid");
    let a = &loaded.config.anycasts[0];
    assert_eq!(a.table, 4242);
    assert!(!a.prefixes[0].is_host());
    assert_eq!(a.track_interfaces, ["eth0"]);
    let names = |tracked: &[baton_config::AnycastTracked]| -> Vec<String> {
        tracked.iter().map(|t| t.name.clone()).collect()
    };
    assert_eq!(names(&a.track_scripts), ["chk_web"]);
    assert_eq!(names(&a.track_files), ["maint"]);
    assert_eq!(a.withdraw_delay, Duration::from_millis(300));
    assert_eq!(a.interface.as_deref(), Some("eth1"));
    let peers: Vec<String> = a.peers.iter().map(ToString::to_string).collect();
    assert_eq!(peers, ["10.0.3.5", "10.0.3.6", "fd00:0:0:3::7"]);
    assert!(a.local_route);
}

#[test]
fn mistakes_are_named_at_their_line() {
    let cases = [
        (
            "[[anycast]]\nname = \"a\"\nprefixes = [\"10.0.9.1/24\"]\n",
            "prefixes",
            "anycast a: prefixes: '10.0.9.1/24' has host bits set: the network is 10.0.9.0/24",
        ),
        (
            "[[anycast]]\nname = \"a\"\nprefixes = [\"10.0.9.100/32\"]\ntable = 255\n",
            "table",
            "anycast a: table 255 is not a routing table",
        ),
        (
            "[[anycast]]\nname = \"a\"\nprefixes = []\n",
            "[[anycast]]",
            "anycast a: prefixes: at least one is needed",
        ),
        (
            "[[anycast]]\nname = \"a\"\nprefixes = [\"10.0.9.100/32\"]\ntrack_frontend = [\"nope\"]\n",
            "[[anycast]]",
            "anycast a: track_frontend nope: no frontend named nope",
        ),
        (
            "[[anycast]]\nname = \"a\"\nprefixes = [\"10.0.9.100/32\"]\ntrack_virtual_server = [\"dns\"]\n",
            "[[anycast]]",
            "anycast a: track_virtual_server dns: no virtual server named dns",
        ),
        (
            "[[anycast]]\nname = \"a\"\nprefixes = [\"10.0.9.100/32\"]\n\
             track_script = [\n  \"chk_web\",\n  \"chk_nope\",\n]\n",
            "chk_nope",
            "anycast a: track_script chk_nope: no vrrp_script named chk_nope",
        ),
        (
            "[[anycast]]\nname = \"a\"\nprefixes = [\"10.0.9.100/32\"]\n\
             track_file = [\"maint\",\n  \"nope\"]\n",
            "\"nope\"",
            "anycast a: track_file nope: no track_file named nope",
        ),
        (
            "[[anycast]]\nname = \"a\"\nprefixes = [\"10.0.9.100/32\"]\n\
             track_script = [{ name = \"chk_web\", weight = -10 }]\n",
            "track_script",
            "anycast a: track_script entries are names: an [[anycast]] section has no \
             priority for a weight to change, any failing one withdraws",
        ),
        (
            "[[anycast]]\nname = \"a\"\nprefixes = [\"10.0.9.100/32\"]\ncolour = 1\n",
            "colour",
            "anycast a: unknown key 'colour'",
        ),
        (
            "[[anycast]]\nname = \"a\"\nprefixes = [\"10.0.9.100/32\"]\n\
             peers = [\"10.0.3.5\",\n  \"lb2\"]\n",
            "\"lb2\"",
            "anycast a: peers: 'lb2' is not an address",
        ),
        (
            "[[anycast]]\nname = \"a\"\nprefixes = [\"10.0.9.0/24\"]\n\
             peers = [\"10.0.3.5\",\n  \"10.0.9.7\"]\n",
            "\"10.0.9.7\"",
            "anycast a: peers: 10.0.9.7 is in the announced 10.0.9.0/24",
        ),
        (
            "[[anycast]]\nname = \"a\"\nprefixes = [\"10.0.9.100/32\"]\n\
             peers = [\"10.0.3.5\",\n  \"10.0.3.5\"]\n",
            "  \"10.0.3.5\"",
            "anycast a: peers: 10.0.3.5 is listed twice",
        ),
        (
            "[[anycast]]\nname = \"a\"\nprefixes = [\"10.0.9.100/32\"]\npeers = [\"0.0.0.0\"]\n",
            "peers",
            "anycast a: peers: 0.0.0.0 is not a load balancer's address",
        ),
    ];
    for (extra, at, message) in cases {
        let errors = load(extra).expect_err(message);
        let line = line_of(extra, at);
        assert!(
            errors
                .iter()
                .any(|e| e.contains(message) && e.contains(&format!("b.toml:{line}"))),
            "{message} at line {line}: {errors:?}"
        );
    }
}

#[test]
fn two_sections_may_not_announce_one_prefix_into_one_table() {
    let extra = "[[anycast]]\nname = \"a\"\nprefixes = [\"10.0.9.100/32\"]\n\n\
                 [[anycast]]\nname = \"b\"\nprefixes = [\"10.0.9.100/32\"]\n";
    let errors = load(extra).expect_err("twice");
    assert!(
        errors.iter().any(|e| e
            .contains("anycast b: 10.0.9.100/32 in table 100 is already announced by anycast a")),
        "{errors:?}"
    );
    // Another table is another announcement.
    let other = "[[anycast]]\nname = \"a\"\nprefixes = [\"10.0.9.100/32\"]\n\n\
                 [[anycast]]\nname = \"b\"\nprefixes = [\"10.0.9.100/32\"]\ntable = 101\n";
    assert!(load(other).is_ok());
    let named_twice = "[[anycast]]\nname = \"a\"\nprefixes = [\"10.0.9.100/32\"]\n\n\
                       [[anycast]]\nname = \"a\"\nprefixes = [\"10.0.9.101/32\"]\n";
    let errors = load(named_twice).expect_err("name twice");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("anycast a: the name is already used")),
        "{errors:?}"
    );
}
