//! A production-style keepalived.conf split over included files (globs and braces), read
//! field by field, its tracking as the engine numbers it, and its baton.toml twin.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_config::{
    Config, InitFile, InitialState, Loaded, Location, Scope, ScriptUser, Track, TrackOrigin,
    TrackedObject, load_keepalived, load_toml,
};
use baton_vrrp::{Auth, Password, Peers, Priority, Router, Version};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/production")
        .join(name)
}

fn at(file: &str, line: u32) -> Location {
    Location::new(fixture(file), line)
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("literal address")
}

fn load() -> Loaded {
    load_keepalived(fixture("keepalived.conf")).unwrap_or_else(|e| panic!("{e}"))
}

fn user(name: &str, group: Option<&str>) -> Option<ScriptUser> {
    Some(ScriptUser {
        user: name.into(),
        group: group.map(Into::into),
    })
}

#[test]
fn warns_only_about_the_fractional_script_interval() {
    let loaded = load();
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    // keepalived 2.2.7 ignores `interval 1.5` (whole seconds only) and checks every second.
    let scripts = fixture("conf.d/10-scripts.conf");
    assert_eq!(
        warnings,
        [format!(
            "{}:13: script chk_nginx: interval 1.5: keepalived takes whole seconds here and would ignore this (using 1 s); baton uses 1.5 s",
            scripts.display()
        )]
    );
    let smtp = &loaded.config.global.smtp;
    assert_eq!(smtp.to, ["ops@example.net"]);
    assert_eq!(smtp.from.as_deref(), Some("keepalived@lb-a.example.net"));
    assert_eq!(smtp.server, Some("127.0.0.1:25".parse().expect("address")));
    assert_eq!(smtp.connect_timeout, std::time::Duration::from_secs(30));
}

#[test]
fn global_defs() {
    let g = load().config.global;
    assert_eq!(g.location.as_deref(), Some(&at("keepalived.conf", 4)));
    assert_eq!(g.router_id.as_deref(), Some("lb-a"));
    assert_eq!(g.script_user, user("keepalived_script", None));
    assert!(g.enable_script_security);
    assert_eq!(g.vrrp_version, Version::V2);
    assert_eq!(g.announce.repeat, 5);
    assert_eq!(g.announce.second_burst_delay, Some(Duration::from_secs(5)));
    assert_eq!(g.announce.refresh, Some(Duration::from_secs(60)));
    assert_eq!(g.announce.refresh_repeat, 2);
    assert!(!g.v3_checksum_as_v2);
}

#[test]
fn scripts_and_track_files() {
    let c = load().config;
    let names: Vec<_> = c.scripts.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["chk_haproxy", "chk_nginx"]);

    let s = &c.scripts[0];
    assert_eq!(s.argv, ["/usr/bin/killall", "-0", "haproxy"]);
    assert_eq!(s.interval, Duration::from_secs(2));
    assert_eq!(s.timeout, Duration::from_secs(1));
    assert_eq!(s.weight, 0);
    assert_eq!((s.rise, s.fall), (2, 3));
    assert_eq!(s.user, None);
    assert!(!s.init_fail);
    assert_eq!(*s.location, at("conf.d/10-scripts.conf", 2));

    let s = &c.scripts[1];
    assert_eq!(
        s.argv,
        [
            "/etc/keepalived/check_nginx.sh",
            "http://127.0.0.1/health check"
        ]
    );
    assert_eq!(s.interval, Duration::from_millis(1500));
    assert_eq!(
        s.timeout,
        Duration::from_millis(1500),
        "defaults to the interval"
    );
    assert_eq!(s.weight, -30);
    assert_eq!((s.rise, s.fall), (1, 1));
    assert_eq!(s.user, user("nginx", Some("nginx")));
    assert!(s.init_fail);
    assert_eq!(*s.location, at("conf.d/10-scripts.conf", 10));

    assert_eq!(c.track_files.len(), 1);
    let f = &c.track_files[0];
    assert_eq!(f.name, "maintenance");
    assert_eq!(f.path, Path::new("/var/run/keepalived/maintenance"));
    assert_eq!(f.weight, 1);
    assert_eq!(
        f.init_file,
        Some(InitFile {
            value: 0,
            overwrite: true
        })
    );
    assert_eq!(*f.location, at("extra/tracking.conf", 1));
}

#[test]
fn instances_in_include_order() {
    let c = load().config;
    let names: Vec<_> = c.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["VI_WEB", "VI_INT", "VI_V6"]);
}

#[test]
fn unicast_instance_with_authentication() {
    let c = load().config;
    let i = c.instance("VI_WEB").expect("defined");
    assert_eq!(*i.location, at("conf.d/20-web.conf", 1));
    assert_eq!(i.interface, "eth0");
    assert_eq!(i.vrid.get(), 51);
    assert_eq!(i.version, Version::V2);
    assert_eq!(i.initial_state, InitialState::Backup);
    assert_eq!(i.priority, Priority::new(150));
    assert_eq!(i.advert_interval, Duration::from_secs(1));
    assert!(!i.preempt);
    assert_eq!(i.source_address, Some(ip("192.168.10.5")));
    assert_eq!(i.unicast_peers.len(), 1);
    assert_eq!(i.unicast_peers[0].address, ip("192.168.10.6"));
    assert_eq!(*i.unicast_peers[0].location, at("conf.d/20-web.conf", 10));
    assert_eq!(i.auth, Auth::SimpleText(Password::new("s3cr3t")));

    let [a, b] = i.virtual_addresses.as_slice() else {
        panic!("two addresses: {:?}", i.virtual_addresses);
    };
    assert_eq!((a.address, a.prefix_len), (ip("192.168.10.100"), 24));
    assert_eq!(a.dev.as_deref(), Some("eth0"));
    assert_eq!(a.label.as_deref(), Some("eth0:web"));
    assert_eq!(a.broadcast, None);
    assert_eq!(*a.location, at("conf.d/20-web.conf", 17));
    assert_eq!((b.address, b.prefix_len), (ip("192.168.10.101"), 24));
    assert_eq!(b.broadcast, Some(Ipv4Addr::new(192, 168, 10, 255)));
    assert_eq!(b.scope, Some(Scope::Global));
    assert_eq!(i.excluded_addresses.len(), 1);
    let e = &i.excluded_addresses[0];
    assert_eq!((e.address, e.prefix_len), (ip("2001:db8:10::100"), 64));

    assert_eq!(i.track_interfaces.len(), 1);
    assert_eq!(i.track_interfaces[0].name, "eth2");
    assert_eq!(i.track_interfaces[0].weight, 0);
    assert_eq!(i.track_scripts.len(), 1);
    assert_eq!(i.track_scripts[0].name, "chk_haproxy");
    assert_eq!(i.track_scripts[0].weight, None);

    let master = i.notify.master.as_ref().expect("notify_master");
    assert_eq!(
        master.argv,
        ["/etc/keepalived/notify.sh", "master", "VI_WEB"]
    );
    assert_eq!(master.user, None);
    assert_eq!(*master.location, at("conf.d/20-web.conf", 29));
    let fault = i.notify.fault.as_ref().expect("notify_fault");
    assert_eq!(fault.user, user("root", None));
    assert!(i.notify.stop.is_none() && i.notify.any.is_none());

    assert_eq!(i.announce.repeat, 3);
    assert_eq!(i.announce.second_burst_delay, Some(Duration::from_secs(10)));
    assert_eq!(
        i.announce.refresh,
        Some(Duration::from_secs(60)),
        "global default"
    );
    assert_eq!(i.announce.refresh_repeat, 2, "global default");

    let tracks = c.tracks(i);
    assert_eq!(
        tracks,
        [
            track(
                TrackedObject::Interface("eth0".into()),
                0,
                TrackOrigin::OwnInterface
            ),
            track(
                TrackedObject::Interface("eth2".into()),
                0,
                TrackOrigin::Instance
            ),
            track(
                TrackedObject::Script("chk_haproxy".into()),
                0,
                TrackOrigin::Instance
            ),
            Track {
                initially_up: false,
                ..track(
                    TrackedObject::Script("chk_nginx".into()),
                    -30,
                    TrackOrigin::SyncGroup("G_LB".into())
                )
            },
        ]
    );
    let engine = i.engine_config(ip("192.168.10.99"), &tracks);
    assert_eq!(
        engine.primary_address,
        ip("192.168.10.5"),
        "unicast_src_ip wins"
    );
    assert_eq!(engine.peers, Peers::Unicast(vec![ip("192.168.10.6")]));
    assert_eq!(
        engine.virtual_addresses,
        [ip("192.168.10.100"), ip("192.168.10.101")],
        "excluded addresses are not advertised"
    );
    assert!(!engine.preempt);
    assert_eq!(engine.announce, i.announce);
}

fn track(object: TrackedObject, weight: i32, origin: TrackOrigin) -> Track {
    Track {
        object,
        weight,
        reverse: false,
        initially_up: true,
        origin,
    }
}

#[test]
fn instance_tracking_a_file_in_a_sync_group() {
    let c = load().config;
    let i = c.instance("VI_INT").expect("defined");
    assert_eq!(*i.location, at("conf.d/30-internal.conf", 1));
    assert_eq!(i.virtual_addresses[0].prefix_len, 16);
    assert_eq!(i.track_files.len(), 1);
    assert_eq!(i.track_files[0].weight, Some(0));
    assert_eq!(
        c.tracks(i),
        [
            track(
                TrackedObject::Interface("eth1".into()),
                0,
                TrackOrigin::OwnInterface
            ),
            track(
                TrackedObject::File("maintenance".into()),
                0,
                TrackOrigin::Instance
            ),
            Track {
                initially_up: false,
                ..track(
                    TrackedObject::Script("chk_nginx".into()),
                    -30,
                    TrackOrigin::SyncGroup("G_LB".into())
                )
            },
        ]
    );
}

#[test]
fn ipv6_instance_defaults_to_version_3() {
    let c = load().config;
    let i = c.instance("VI_V6").expect("defined");
    assert_eq!(i.version, Version::V3);
    assert_eq!(
        i.initial_state,
        InitialState::Backup,
        "derived from priority 120"
    );
    assert_eq!(i.advert_interval, Duration::from_millis(500));
    assert_eq!(i.preempt_delay, Duration::from_secs(30));
    assert!(i.preempt);
    let addresses: Vec<_> = i
        .virtual_addresses
        .iter()
        .map(|v| (v.address, v.prefix_len))
        .collect();
    assert_eq!(
        addresses,
        [(ip("fe80::60"), 128), (ip("2001:db8:60::1"), 64)]
    );
    let any = i.notify.any.as_ref().expect("notify");
    assert_eq!(any.argv, ["/etc/keepalived/notify-all.sh"]);
    let tracks = c.tracks(i);
    assert_eq!(
        tracks,
        [
            track(
                TrackedObject::Interface("eth0".into()),
                0,
                TrackOrigin::OwnInterface
            ),
            track(
                TrackedObject::Interface("eth1".into()),
                -50,
                TrackOrigin::Instance
            ),
            Track {
                initially_up: false,
                ..track(
                    TrackedObject::Script("chk_nginx".into()),
                    -30,
                    TrackOrigin::Instance
                )
            },
            track(
                TrackedObject::Script("chk_haproxy".into()),
                10,
                TrackOrigin::Instance
            ),
        ]
    );
}

#[test]
fn sync_group() {
    let c = load().config;
    assert_eq!(c.sync_groups.len(), 1);
    let g = &c.sync_groups[0];
    assert_eq!(g.name, "G_LB");
    assert_eq!(*g.location, at("extra/groups.conf", 1));
    assert_eq!(g.members, ["VI_WEB", "VI_INT"]);
    assert!(!g.tracking_weight);
    assert_eq!(g.track_scripts.len(), 1);
    assert_eq!(
        g.notify.fault.as_ref().map(|s| s.argv.clone()),
        Some(vec![
            "/etc/keepalived/notify.sh".to_owned(),
            "fault".into(),
            "G_LB".into()
        ])
    );
    assert_eq!(
        c.sync_group_of("VI_INT").map(|g| g.name.as_str()),
        Some("G_LB")
    );
    assert!(c.sync_group_of("VI_V6").is_none());
}

#[test]
fn the_engine_accepts_every_instance() {
    let c = load().config;
    let engines = c
        .instances
        .iter()
        .map(|i| {
            let primary = if i.family() == baton_config::Family::Ipv6 {
                ip("fe80::5")
            } else {
                ip("192.168.10.5")
            };
            i.engine_config(primary, &c.tracks(i))
        })
        .collect();
    Router::new(engines, c.sync_group_configs()).expect("valid for the engine");
}

#[test]
fn the_toml_twin_gives_the_same_model() {
    let toml = load_toml(fixture("baton.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(toml.warnings.is_empty(), "{:?}", toml.warnings);
    let mut keepalived: Config = load().config;
    // E-mail alerts are keepalived.conf's only: baton.toml has no such keys.
    keepalived.global.smtp = baton_config::SmtpAlerts::default();
    assert_eq!(toml.config, keepalived);
    // And the TOML locations are the TOML file's.
    let toml_path = fixture("baton.toml");
    let i = toml.config.instance("VI_V6").expect("defined");
    assert_eq!(*i.location, Location::new(&toml_path, 61));
    assert_eq!(*i.track_scripts[1].location, Location::new(&toml_path, 70));
}
