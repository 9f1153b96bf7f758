//! keepalived's route and rule family: virtual_routes, virtual_rules, static_ipaddress,
//! static_routes, static_rules, track_group, promote_secondaries, iproute_etc_dir, and the
//! virtual address options that came with them.

use std::net::IpAddr;

use baton_config::{
    PROTOCOL_KEEPALIVED, Prefix, Route, RouteMode, Rule, RuleAction, parse_keepalived,
};

/// One instance `VI_1` on eth0 with `instance` inside it, `top` before it and `global`
/// in global_defs.
fn conf(global: &str, top: &str, instance: &str) -> String {
    format!(
        "global_defs {{\n{global}}}\n{top}vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n priority 100\n virtual_ipaddress {{\n 10.0.3.100/24\n }}\n{instance}}}\n"
    )
}

fn load(text: &str) -> Result<baton_config::Loaded, Vec<String>> {
    parse_keepalived(text, "k.conf").map_err(|e| e.iter().map(ToString::to_string).collect())
}

fn routes(lines: &str) -> Result<Vec<Route>, Vec<String>> {
    let loaded = load(&conf(
        "",
        "",
        &format!(" virtual_routes {{\n{lines}\n }}\n"),
    ))?;
    Ok(loaded.config.instances[0].routing.routes.clone())
}

fn rules(lines: &str) -> Result<Vec<Rule>, Vec<String>> {
    let loaded = load(&conf("", "", &format!(" virtual_rules {{\n{lines}\n }}\n")))?;
    Ok(loaded.config.instances[0].routing.rules.clone())
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn prefix(text: &str, len: u8) -> Prefix {
    Prefix {
        address: ip(text),
        len,
    }
}

/// Each (line, text) is an error of `text` at `k.conf:LINE:`.
fn assert_errors_at(text: &str, expect: &[(u32, &str)]) {
    let errors = load(text).expect_err("must be refused");
    for (line, text) in expect {
        assert!(
            errors
                .iter()
                .any(|e| e.contains(&format!("k.conf:{line}:")) && e.contains(text)),
            "line {line} '{text}' in {errors:#?}"
        );
    }
}

/// The first error of a file with these lines, which must fail.
fn error_of(text: &str) -> String {
    let errors = load(text).expect_err("must be refused");
    errors.first().cloned().unwrap_or_default()
}

#[test]
fn a_route_line_reads_as_keepalived_reads_it() {
    let r = routes(
        "  10.9.0.0/16 via 10.0.3.1 dev eth0 metric 50 table 100 src 10.0.3.100 onlink mtu lock 1400 advmss 1360 initcwnd 10",
    )
    .expect("valid");
    let r = &r[0];
    assert_eq!(r.destination, prefix("10.9.0.0", 16));
    assert_eq!(r.via, Some(ip("10.0.3.1")));
    assert_eq!(r.dev.as_deref(), Some("eth0"));
    assert_eq!(r.metric, Some(50));
    assert_eq!(r.table, 100);
    assert_eq!(r.preferred_source, Some(ip("10.0.3.100")));
    assert!(r.onlink);
    assert_eq!(r.metrics, [(2, 1400), (8, 1360), (11, 10)]);
    assert_eq!(r.locked, 1 << 2, "mtu lock");
    assert_eq!(r.kind, 1, "unicast");
    assert_eq!(r.scope, 0, "keepalived does not derive the scope");
    assert_eq!(r.protocol, PROTOCOL_KEEPALIVED);
    assert!(!r.no_track);
    assert_eq!(r.mode, RouteMode::Prepend);
}

#[test]
fn types_defaults_and_families() {
    let all = routes(
        "  blackhole 10.66.0.0/16\n  to unreachable 10.67.0.0/16 table main\n  default via 10.0.3.1\n  inet6 default via fd00::1 dev eth0\n  192.0.2.7 dev eth0 scope link protocol static no_track append",
    )
    .expect("valid");
    assert_eq!(
        (all[0].kind, all[0].destination),
        (6, prefix("10.66.0.0", 16))
    );
    assert_eq!((all[1].kind, all[1].table), (7, 254));
    assert_eq!(all[2].destination, prefix("0.0.0.0", 0));
    assert!(!all[2].ipv6);
    assert!(all[3].ipv6);
    assert_eq!(all[3].destination, prefix("::", 0));
    assert_eq!(all[4].destination, prefix("192.0.2.7", 32));
    assert_eq!(
        (all[4].scope, all[4].protocol),
        (253, 4),
        "no_track keeps protocol"
    );
    assert_eq!(all[4].mode, RouteMode::Append);
}

#[test]
fn multipath_routes_and_the_old_or() {
    let all = routes(
        "  10.8.0.0/16 nexthop via 10.0.3.1 dev eth0 weight 2 nexthop via 10.0.3.2 dev eth0 onlink\n  10.7.0.0/16 via 10.0.3.1 or 10.0.3.2",
    )
    .expect("valid");
    let hops = &all[0].nexthops;
    assert_eq!(hops.len(), 2);
    assert_eq!((hops[0].via, hops[0].hops), (Some(ip("10.0.3.1")), Some(1)));
    assert!(hops[1].onlink);
    let or = &all[1].nexthops;
    assert_eq!(or.len(), 2);
    assert_eq!(all[1].via, None, "the via became the first hop");
    assert_eq!(or[1].via, Some(ip("10.0.3.2")));
}

#[test]
fn a_tracked_route_keeps_protocol_keepalived_with_a_warning() {
    let text = conf(
        "",
        "",
        " virtual_routes {\n  10.9.0.0/16 dev eth0 protocol static\n  10.5.0.0/16 via 10.0.3.1\n }\n",
    );
    let loaded = load(&text).expect("valid");
    let r = &loaded.config.instances[0].routing.routes;
    assert_eq!(r[0].protocol, PROTOCOL_KEEPALIVED);
    assert!(r[1].no_track, "no dev: not tracked, as keepalived");
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("k.conf:11:") && w.contains("protocol")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("k.conf:12:") && w.contains("no dev")),
        "{warnings:?}"
    );
}

#[test]
fn route_errors_name_the_line() {
    let text = conf(
        "",
        "",
        " virtual_routes {\n  10.9.0.0/16 via fd00::1\n  10.9.0.0/16 encap mpls 100 dev eth0\n  via 10.0.3.1\n  10.1.0.0/16 table nosuchtable\n  10.2.0.0/16 rtt 10\n  10.3.0.0/16 nexthop via 10.0.3.1 weight 0\n }\n",
    );
    assert_errors_at(
        &text,
        &[
            (11, "cannot mix IPv4 and IPv6"),
            (12, "'encap' is not supported"),
            (13, "must have a destination"),
            (14, "routing table nosuchtable not found"),
            (15, "'rtt' is not supported"),
            (16, "invalid weight 0"),
        ],
    );
}

#[test]
fn a_rule_line_reads_as_keepalived_reads_it() {
    let r = rules(
        "  from 10.0.3.0/24 to 10.9.0.0/16 table 100 preference 100 fwmark 0x10/0xff iif eth0 oif eth1 dport 80-81 ipproto tcp not\n  to 10.66.0.0/16 blackhole priority 90\n  from all goto 300 preference 200\n  from fd00::/64 lookup main priority 5\n  iif eth0 l3mdev priority 6 no_track",
    )
    .expect("valid");
    assert_eq!(r[0].from, Some(prefix("10.0.3.0", 24)));
    assert_eq!(r[0].to, Some(prefix("10.9.0.0", 16)));
    assert_eq!(r[0].action, RuleAction::Table(100));
    assert_eq!(r[0].preference, 100);
    assert_eq!(r[0].fwmark, Some((16, Some(255))));
    assert_eq!(r[0].iif.as_deref(), Some("eth0"));
    assert_eq!(r[0].oif.as_deref(), Some("eth1"));
    assert_eq!(r[0].dport, Some((80, 81)));
    assert_eq!(r[0].ipproto, Some(6));
    assert!(r[0].invert);
    assert_eq!(r[0].protocol, Some(PROTOCOL_KEEPALIVED));
    assert_eq!(r[1].action, RuleAction::Blackhole);
    assert_eq!(r[2].action, RuleAction::Goto(300));
    assert_eq!(r[2].from, Some(prefix("0.0.0.0", 0)));
    assert!(r[3].ipv6);
    assert_eq!(r[3].action, RuleAction::Table(254));
    assert_eq!(r[4].action, RuleAction::L3mdev);
    assert_eq!(r[4].protocol, None, "no_track sends no FRA_PROTOCOL");
}

#[test]
fn rules_without_preference_count_down_from_16384_per_family() {
    let text = conf(
        "",
        "static_rules {\n from 10.1.0.0/16 table 100\n}\n",
        " virtual_rules {\n  from 10.2.0.0/16 table 100\n  from fd00::/64 table 100\n }\n",
    );
    let loaded = load(&text).expect("valid");
    assert_eq!(loaded.config.static_routing.rules[0].preference, 16384);
    let r = &loaded.config.instances[0].routing.rules;
    assert_eq!((r[0].preference, r[1].preference), (16383, 16384));
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.to_string().contains("no preference")),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn rule_errors_name_the_line() {
    let text = conf(
        "",
        "",
        " virtual_rules {\n  from 10.0.3.0/24 priority 10\n  from 10.0.3.0/24 table 100 goto 20 priority 10\n  from 10.0.3.0/24 goto 5 priority 10\n  from 10.0.3.0/24 to fd00::/8 table 100 priority 3\n  table 0 priority 4\n  from 10.0.3.0/24 table 100 realms 3 priority 5\n }\n",
    );
    assert_errors_at(
        &text,
        &[
            (11, "no action"),
            (12, "only one of"),
            (13, "goto target 5"),
            (14, "mixed IPv4 and IPv6"),
            (15, "table 0 is not valid"),
            (16, "'realms' is not supported"),
        ],
    );
}

#[test]
fn static_blocks_and_track_groups() {
    let top = "track_group TG {\n group {\n  VI_1 NOPE\n }\n}\nstatic_ipaddress {\n 192.0.2.10/24 dev eth1 track_group TG\n 192.0.2.11/24\n}\nstatic_routes {\n 198.51.100.0/24 via 192.0.2.1 dev eth2 track_group TG\n}\nstatic_rules {\n from 192.0.2.0/24 table 200 priority 100 iif eth3 track_group TG\n}\n";
    let loaded = load(&conf(" default_interface eth9\n", top, "")).expect("valid");
    let statics = &loaded.config.static_routing;
    assert_eq!(statics.addresses[0].dev, "eth1");
    assert_eq!(statics.addresses[1].dev, "eth9", "default_interface");
    assert_eq!(statics.routes[0].track_group.as_deref(), Some("TG"));
    assert_eq!(statics.rules[0].action, RuleAction::Table(200));
    let tracked: Vec<(&str, i32)> = loaded.config.instances[0]
        .track_interfaces
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert_eq!(tracked, [("eth1", 0), ("eth2", 0), ("eth3", 0)]);
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.to_string().contains("NOPE")),
        "an unknown member is a warning: {:?}",
        loaded.warnings
    );
}

#[test]
fn static_errors_name_the_line() {
    let text = "static_ipaddress {\n 192.0.2.11/24\n}\nstatic_routes {\n 198.51.100.0/24 dev eth2 track_group NOGROUP\n}\ntrack_group\n";
    assert_errors_at(
        &conf("", text, ""),
        &[
            (4, "needs a dev"),
            (7, "track_group NOGROUP not found"),
            (9, "track_group needs a name"),
        ],
    );
}

#[test]
fn promote_secondaries_and_the_iproute_directory() {
    let dir = std::env::temp_dir().join(format!("baton-routes-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rt_tables"), "100 vips\n").unwrap();
    std::fs::write(dir.join("rt_protos"), "99 mine\n").unwrap();
    let global = format!(" iproute_etc_dir {}\n", dir.display());
    let instance = " promote_secondaries\n virtual_routes {\n  10.9.0.0/16 dev eth0 table vips protocol mine no_track\n }\n";
    let loaded = load(&conf(&global, "", instance)).expect("valid");
    let i = &loaded.config.instances[0];
    assert!(i.routing.promote_secondaries);
    assert_eq!(
        (i.routing.routes[0].table, i.routing.routes[0].protocol),
        (100, 99)
    );
    let errors = load(&conf("", "", " promote_secondaries on\n")).expect_err("no value");
    assert!(errors[0].contains("k.conf:10:"), "{errors:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn address_options_of_keepalived_2_2_7() {
    let text = conf(
        "",
        "",
        " virtual_ipaddress_excluded {\n  10.0.4.1/24 noprefixroute\n  fd00::1/64 autojoin preferred_lft forever\n  10.0.4.2/24 preferred_lft 30 home mngtmpaddr\n }\n",
    );
    let loaded = load(&text).expect("valid");
    let a = &loaded.config.instances[0].excluded_addresses;
    assert_eq!(a[0].flags, 0x200);
    assert_eq!((a[1].flags, a[1].preferred_lft), (0x400, Some(u32::MAX)));
    assert_eq!((a[2].flags, a[2].preferred_lft), (0x110, Some(30)));
    let refused = error_of(&conf(
        "",
        "",
        " virtual_ipaddress_excluded {\n  10.0.4.1/24 peer 10.0.4.2\n }\n",
    ));
    assert!(
        refused.contains("k.conf:11:") && refused.contains("peer"),
        "{refused}"
    );
}
