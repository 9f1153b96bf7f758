//! keepalived's strict RFC mode (`vrrp_strict`, `strict_mode`) and `accept` / `no_accept`:
//! what keepalived 2.2.7's `vrrp_complete_instance` refuses, what it resets (a warning in
//! baton), and the no_accept trap warning.

use baton_config::{Loaded, drops_traffic_to_vips, parse_keepalived};

fn load(text: &str) -> Loaded {
    parse_keepalived(text, "k.conf").unwrap_or_else(|e| panic!("{e}"))
}

fn errors(text: &str) -> Vec<String> {
    let errors = parse_keepalived(text, "k.conf").expect_err("refused");
    errors.iter().map(ToString::to_string).collect()
}

fn warned<'a>(loaded: &'a Loaded, part: &str) -> Vec<&'a str> {
    loaded
        .warnings
        .iter()
        .filter(|w| w.message.contains(part))
        .map(|w| w.message.as_str())
        .collect()
}

/// `global_defs` with `vrrp_strict`, then `instance` lines inside one instance.
fn strict(instance: &str) -> String {
    format!(
        "global_defs {{\n  vrrp_strict\n}}\nvrrp_instance VI {{\n  interface eth0\n  virtual_router_id 7\n  priority 100\n{instance}}}\n"
    )
}

#[test]
fn unicast_peers_and_no_address_are_refused_at_their_lines() {
    let text = strict(
        "  virtual_ipaddress {\n    10.0.0.1/24\n  }\n  unicast_peer {\n    10.0.0.2\n  }\n",
    );
    let errors = errors(&text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0]
            .starts_with("k.conf:12: instance VI: unicast peers are not supported in strict mode"),
        "{errors:#?}"
    );
    let errors = self::errors(&strict(""));
    assert!(
        errors.iter().any(|e| e.starts_with(
            "k.conf:4: instance VI: no virtual_ipaddress; strict mode needs at least one"
        )),
        "{errors:#?}"
    );
    // Without strict mode the same unicast instance is fine.
    load(&text.replace("  vrrp_strict\n", ""));
}

#[test]
fn what_the_rfcs_forbid_is_reset_with_a_warning() {
    let loaded = load(&strict(
        "  virtual_ipaddress {\n    10.0.0.1/24\n  }\n  preempt_delay 5\n  down_timer_adverts 10\n  higher_prio_send_advert\n  lower_prio_no_advert false\n  authentication {\n    auth_type PASS\n    auth_pass secret\n  }\n",
    ));
    let i = &loaded.config.instances[0];
    assert_eq!(i.preempt_delay, std::time::Duration::ZERO);
    assert_eq!(i.election.down_timer_adverts, 3);
    assert!(!i.election.higher_prio_send_advert);
    assert!(i.election.lower_prio_no_advert);
    assert_eq!(i.auth, baton_vrrp::Auth::None);
    for part in [
        "preempt_delay is incompatible with strict mode",
        "down_timer_adverts is incompatible with strict mode",
        "strict mode requires higher_prio_send_advert to be clear",
        "strict mode requires lower_prio_no_advert",
        "strict mode does not support authentication",
    ] {
        assert_eq!(
            warned(&loaded, part).len(),
            1,
            "{part}: {:#?}",
            loaded.warnings
        );
    }
    let at = |part| {
        loaded
            .warnings
            .iter()
            .find(|w| w.message.contains(part))
            .map(ToString::to_string)
            .expect(part)
    };
    assert!(at("preempt_delay is").starts_with("k.conf:11:"));
    assert!(at("authentication").starts_with("k.conf:15:"));
}

#[test]
fn strict_mode_means_no_accept_unless_accept_on_vrrpv3_or_the_owner() {
    let vip = "  virtual_ipaddress {\n    10.0.0.1/24\n  }\n";
    let accept_of = |extra: &str| {
        let loaded = load(&strict(&format!("{vip}{extra}")));
        let i = &loaded.config.instances[0];
        (i.accept, drops_traffic_to_vips(i), loaded)
    };
    assert!(!accept_of("").0);
    assert!(accept_of("").1);
    // VRRPv2 has no Accept_Mode (RFC 3768): reset, as keepalived.
    let (accept, _, loaded) = accept_of("  accept\n");
    assert!(!accept);
    assert_eq!(warned(&loaded, "does not comply with RFC 3768").len(), 1);
    assert!(accept_of("  version 3\n  accept\n").0);
    // The owner accepts whatever is written.
    let owner = load(&strict(vip).replace("priority 100", "priority 255"));
    assert!(!drops_traffic_to_vips(&owner.config.instances[0]));
    // strict_mode off wins over vrrp_strict; strict_mode alone turns it on.
    assert!(accept_of("  strict_mode off\n").0);
    let alone = load(&format!(
        "vrrp_instance VI {{\n  interface eth0\n  virtual_router_id 7\n  strict_mode\n{vip}}}\n"
    ));
    assert!(!alone.config.instances[0].accept);
    // Without strict mode: accept, unless no_accept.
    let plain = strict(vip).replace("  vrrp_strict\n", "");
    assert!(load(&plain).config.instances[0].accept);
    let no_accept = plain.replace("priority 100", "priority 100\n  no_accept");
    assert!(drops_traffic_to_vips(&load(&no_accept).config.instances[0]));
}

#[test]
fn a_service_on_a_no_accept_address_is_warned_of() {
    let text = strict("  virtual_ipaddress {\n    10.0.0.1/24\n  }\n")
        + "virtual_server 10.0.0.1 80 {\n  lb_kind NAT\n  protocol TCP\n  real_server 10.0.1.1 80 {\n  }\n}\n";
    let loaded = load(&text);
    let trap = warned(&loaded, "drops every packet to 10.0.0.1");
    assert_eq!(trap.len(), 1, "{:#?}", loaded.warnings);
    assert!(
        trap[0].contains("virtual_server 10.0.0.1:80/tcp"),
        "{}",
        trap[0]
    );
    assert!(trap[0].contains("write 'accept'"), "{}", trap[0]);
    // With accept (VRRPv3) there is nothing to warn of.
    let accepted = text.replace("priority 100", "priority 100\n  version 3\n  accept");
    assert!(warned(&load(&accepted), "drops every packet").is_empty());
}

#[test]
fn keepalived_firewall_settings_are_accepted_with_a_warning() {
    let text = strict("  virtual_ipaddress {\n    10.0.0.1/24\n  }\n").replace(
        "  vrrp_strict\n",
        "  vrrp_strict\n  nftables keepalived\n  nftables_priority -5\n  nftables_counters\n  vrrp_iptables\n",
    );
    let loaded = load(&text);
    assert_eq!(
        warned(&loaded, "in baton's own table inet baton_vrrp").len(),
        4,
        "{:#?}",
        loaded.warnings
    );
}

/// baton.toml has the same settings: `vrrp_strict` in `[global]`, `strict_mode` and
/// `accept` in `[[vrrp]]`.
#[test]
fn baton_toml_has_vrrp_strict_and_strict_mode() {
    let toml = |global: &str, instance: &str| {
        let text = format!(
            "[global]\n{global}\n[[vrrp]]\nname = \"VI\"\ninterface = \"eth0\"\nvirtual_router_id = 7\npriority = 100\nvirtual_ipaddress = [\"10.0.0.1/24\"]\n{instance}\n"
        );
        let loaded = baton_config::parse_toml(&text, "b.toml").unwrap_or_else(|e| panic!("{e}"));
        loaded.config.instances[0].accept
    };
    assert!(toml("", ""));
    assert!(!toml("vrrp_strict = true", ""));
    assert!(toml("vrrp_strict = true", "strict_mode = false"));
    assert!(!toml("", "strict_mode = true"));
    assert!(!toml("", "accept = false"));
}
