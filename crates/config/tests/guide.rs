//! The keepalived.conf of the guide baton replaces ("Load balancing and failover with LXC"),
//! read field by field, mapped onto the engine, and the same in baton.toml.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_config::{InitialState, Track, TrackOrigin, TrackedObject, load_keepalived, load_toml};
use baton_vrrp::{AnnounceConfig, Auth, ChecksumMode, Password, Peers, Priority, Router, Version};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("literal address")
}

#[test]
fn lb1_reads_field_by_field() {
    let path = fixture("guide/lb1.conf");
    let loaded = load_keepalived(&path).expect("the guide's config is valid");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let config = loaded.config;
    assert!(config.scripts.is_empty());
    assert!(config.track_files.is_empty());
    assert!(config.sync_groups.is_empty());
    assert_eq!(config.global.location, None);
    assert_eq!(config.global.vrrp_version, Version::V2);
    assert_eq!(config.instances.len(), 1);

    let i = &config.instances[0];
    assert_eq!(i.name, "VI_1");
    assert_eq!(i.location.file, path);
    assert_eq!(i.location.line, 5);
    assert_eq!(i.interface, "eth0");
    assert_eq!(i.vrid.get(), 51);
    assert_eq!(i.version, Version::V2);
    assert_eq!(i.initial_state, InitialState::Master);
    assert_eq!(i.priority, Priority::new(100));
    assert_eq!(i.advert_interval, Duration::from_secs(1));
    assert_eq!(i.auth, Auth::SimpleText(Password::new("pass")));
    assert_eq!(i.virtual_addresses.len(), 1);
    let vip = &i.virtual_addresses[0];
    assert_eq!(vip.address, ip("10.0.3.100"));
    assert_eq!(vip.prefix_len, 32);
    assert_eq!(vip.dev, None);
    assert_eq!(vip.label, None);
    assert_eq!(vip.location.line, 16);
    assert!(i.excluded_addresses.is_empty());
    assert_eq!(i.source_address, None);
    assert!(i.unicast_peers.is_empty());
    assert!(i.preempt);
    assert_eq!(i.preempt_delay, Duration::ZERO);
    assert!(i.accept, "keepalived's default without vrrp_strict");
    assert!(i.track_interfaces.is_empty());
    assert!(i.track_scripts.is_empty());
    assert!(i.track_files.is_empty());
    assert!(!i.dont_track_primary);
    assert!(i.notify.is_empty());
    assert_eq!(i.announce, AnnounceConfig::default());
    assert_eq!(i.checksum_mode, ChecksumMode::Standard);
}

#[test]
fn lb1_maps_onto_the_engine() {
    let config = load_keepalived(fixture("guide/lb1.conf"))
        .expect("valid")
        .config;
    let i = &config.instances[0];
    let tracks = config.tracks(i);
    assert_eq!(
        tracks,
        [Track {
            object: TrackedObject::Interface("eth0".into()),
            weight: 0,
            reverse: false,
            initially_up: true,
            origin: TrackOrigin::OwnInterface,
        }]
    );
    let engine = i.engine_config(ip("10.0.3.5"), &tracks);
    assert_eq!(engine.name, "VI_1");
    assert_eq!(engine.interface, "eth0");
    assert_eq!(engine.primary_address, ip("10.0.3.5"));
    assert_eq!(engine.virtual_addresses, [ip("10.0.3.100")]);
    assert_eq!(engine.priority, Priority::new(100));
    assert_eq!(engine.peers, Peers::Multicast);
    assert!(engine.preempt);
    assert!(engine.accept_mode);
    assert_eq!(engine.auth, Auth::SimpleText(Password::new("pass")));
    assert_eq!(engine.tracks.len(), 1);
    assert_eq!(engine.tracks[0].weight, 0);
    Router::new(vec![engine], config.sync_group_configs()).expect("the engine accepts it");
}

#[test]
fn lb2_differs_only_in_priority_and_wins() {
    let lb1 = load_keepalived(fixture("guide/lb1.conf"))
        .expect("valid")
        .config;
    let lb2 = load_keepalived(fixture("guide/lb2.conf"))
        .expect("valid")
        .config;
    let (a, b) = (&lb1.instances[0], &lb2.instances[0]);
    assert_eq!(b.priority, Priority::new(150));
    assert!(
        b.priority > a.priority,
        "in VRRP the higher priority is master"
    );
    let mut b = b.clone();
    b.priority = a.priority;
    b.location = a.location.clone();
    b.virtual_addresses[0].location = a.virtual_addresses[0].location.clone();
    assert_eq!(&b, a);
}

#[test]
fn the_toml_version_gives_the_same_model() {
    let from_keepalived = load_keepalived(fixture("guide/lb1.conf")).expect("valid");
    let from_toml = load_toml(fixture("guide/lb1.toml")).expect("valid");
    assert!(from_toml.warnings.is_empty(), "{:?}", from_toml.warnings);
    assert_eq!(from_toml.config, from_keepalived.config);
    let i = &from_toml.config.instances[0];
    assert_eq!(i.location.line, 2);
    assert_eq!(i.virtual_addresses[0].location.line, 10);
}

/// The guide as published has the whole file on one line after `!`, so to keepalived (and
/// baton) it is one comment: no instance at all. baton says so.
#[test]
fn the_guide_as_published_is_one_comment() {
    let path = fixture("guide/as-published.conf");
    let loaded = load_keepalived(&path).expect("a comment is valid");
    assert!(loaded.config.instances.is_empty());
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [format!(
            "{}: no vrrp_instance: there is nothing to run",
            path.display()
        )]
    );
}
