//! Connection sync (conntrackd): baton.toml's `[conn_sync]` and keepalived's
//! `lvs_sync_daemon` / `lvs_sync_daemon_interface` mapped onto it.

use std::net::IpAddr;

use baton_config::{Config, SyncTransport, parse_keepalived, parse_toml};

fn ip(text: &str) -> IpAddr {
    text.parse().expect("literal address")
}

const TOML_BODY: &str = r#"
[[vrrp]]
name = "VI_1"
interface = "eth0"
virtual_router_id = 51
virtual_ipaddress = ["10.0.3.100/24"]

[[virtual_server]]
name = "web"
address = "10.0.3.100:80"
lb_kind = "NAT"

[[virtual_server.real_server]]
address = "10.0.3.11:8080"

[[virtual_server.real_server]]
address = "10.0.3.12:8080"
"#;

fn toml(section: &str) -> Result<Config, Vec<String>> {
    parse_toml(&format!("{section}\n{TOML_BODY}"), "b.toml")
        .map(|loaded| loaded.config)
        .map_err(|e| e.iter().map(ToString::to_string).collect())
}

#[test]
fn toml_section_reads_peer_or_group_and_finds_the_nat_instance() {
    let config = toml("[conn_sync]\ninterface = \"eth1\"\npeer = \"10.0.9.2\"\n").expect("valid");
    let sync = config.global.conn_sync.as_ref().expect("conn_sync");
    assert_eq!(sync.interface, "eth1");
    assert_eq!(
        sync.transport,
        SyncTransport::Unicast {
            peer: ip("10.0.9.2"),
            port: 3780
        }
    );
    assert_eq!(
        sync.conntrackd,
        std::path::Path::new("/usr/sbin/conntrackd")
    );
    // No instance named: the one holding the NAT virtual server's address.
    assert_eq!(sync.followed(&config), ["VI_1"]);
    assert_eq!(
        baton_config::ConnSync::servers(&config),
        [ip("10.0.3.11"), ip("10.0.3.12")]
    );

    let config = toml("[conn_sync]\ninterface = \"eth1\"\ngroup = \"225.0.0.51\"\nport = 3781\ninstance = [\"VI_1\"]\nconntrackd = \"/opt/ct/conntrackd\"\n").expect("valid");
    let sync = config.global.conn_sync.as_ref().expect("conn_sync");
    assert_eq!(
        sync.transport,
        SyncTransport::Multicast {
            group: ip("225.0.0.51"),
            port: 3781
        }
    );
    assert_eq!(sync.instances, ["VI_1"]);

    assert!(toml("").expect("valid").global.conn_sync.is_none());
}

#[test]
fn toml_mistakes_are_reported_with_their_lines() {
    let errors =
        toml("[conn_sync]\ninterface = \"eth1\"\npeer = \"10.0.9.2\"\ngroup = \"225.0.0.50\"\n")
            .expect_err("both");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("b.toml:4:") && e.contains("exclude each other")),
        "{errors:?}"
    );
    let errors = toml("[conn_sync]\ninterface = \"eth1\"\ngroup = \"10.0.0.1\"\n")
        .expect_err("unicast group");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("not an IPv4 multicast address")),
        "{errors:?}"
    );
    let errors =
        toml("[conn_sync]\ninterface = \"eth1\"\ninstance = [\"VI_9\"]\n").expect_err("instance");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("b.toml:1:") && e.contains("no vrrp instance named VI_9")),
        "{errors:?}"
    );
    let errors =
        toml("[conn_sync]\ninterface = \"eth1\"\nport = 0\nflavour = 1\n").expect_err("keys");
    assert!(errors.iter().any(|e| e.contains("flavour")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("port 0")), "{errors:?}");
}

const KEEPALIVED_BODY: &str = r#"
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        10.0.3.100/24
    }
    LVS_INTERFACE
}
virtual_server 10.0.3.100 80 {
    protocol TCP
    lb_kind NAT
    real_server 10.0.3.11 8080 {
    }
}
"#;

fn keepalived(global: &str, in_instance: &str) -> Result<baton_config::Loaded, Vec<String>> {
    let text = format!(
        "global_defs {{\n{global}\n}}\n{}",
        KEEPALIVED_BODY.replace("LVS_INTERFACE", in_instance)
    );
    parse_keepalived(&text, "k.conf").map_err(|e| e.iter().map(ToString::to_string).collect())
}

#[test]
fn lvs_sync_daemon_maps_onto_conntrackd() {
    let loaded = keepalived(
        "    lvs_sync_daemon eth1 inst VI_1 group 239.1.1.1 port 9000",
        "",
    )
    .expect("valid");
    let sync = loaded.config.global.conn_sync.as_ref().expect("conn_sync");
    assert_eq!(sync.interface, "eth1");
    assert_eq!(sync.instances, ["VI_1"]);
    assert_eq!(
        sync.transport,
        SyncTransport::Multicast {
            group: ip("239.1.1.1"),
            port: 9000
        }
    );

    // The old positional form, and the IPVS-only options ignored with a warning.
    let loaded =
        keepalived("    lvs_sync_daemon eth1 VI_1 id 5 maxlen 1400 ttl 2", "").expect("valid");
    let sync = loaded.config.global.conn_sync.as_ref().expect("conn_sync");
    assert_eq!(sync.instances, ["VI_1"]);
    // conntrackd's own group, not IPVS's 224.0.0.81.
    assert_eq!(
        sync.transport,
        SyncTransport::Multicast {
            group: ip("225.0.0.50"),
            port: 3780
        }
    );
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    for option in ["id 5", "maxlen 1400", "ttl 2"] {
        assert!(
            warnings
                .iter()
                .any(|w| w.contains(&format!("lvs_sync_daemon {option} is ignored"))),
            "{option}: {warnings:?}"
        );
    }

    // Without an instance: the one holding the NAT service's address.
    let loaded = keepalived("    lvs_sync_daemon eth1", "").expect("valid");
    let config = &loaded.config;
    let sync = config.global.conn_sync.as_ref().expect("conn_sync");
    assert_eq!(sync.followed(config), ["VI_1"]);

    let errors = keepalived("    lvs_sync_daemon eth1 inst", "").expect_err("no value");
    assert!(
        errors.iter().any(|e| e.contains("inst needs a value")),
        "{errors:?}"
    );
    let errors =
        keepalived("    lvs_sync_daemon eth1 inst VI_2", "").expect_err("unknown instance");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("no vrrp instance named VI_2")),
        "{errors:?}"
    );
}

#[test]
fn lvs_sync_daemon_interface_follows_its_instance() {
    let loaded = keepalived("", "    lvs_sync_daemon_interface eth1").expect("valid");
    let sync = loaded.config.global.conn_sync.as_ref().expect("conn_sync");
    assert_eq!(sync.interface, "eth1");
    assert_eq!(sync.instances, ["VI_1"]);
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.to_string().contains("deprecated")),
        "{:?}",
        loaded.warnings
    );
    // The global one comes first and wins, as in keepalived.
    let loaded = keepalived(
        "    lvs_sync_daemon eth2",
        "    lvs_sync_daemon_interface eth1",
    )
    .expect("valid");
    let sync = loaded.config.global.conn_sync.as_ref().expect("conn_sync");
    assert_eq!(sync.interface, "eth2");
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.to_string().contains("already given at line 2")),
        "{:?}",
        loaded.warnings
    );
}
