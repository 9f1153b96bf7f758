//! keepalived's tracking rules: what each instance tracks, with which weight, in the
//! engine's order (keepalived.conf(5) "VRRP synchronization group(s)"; keepalived `vrrp.c`,
//! `vrrp_complete_instance` and `sync_group_tracking_init`).

use baton_config::{Config, Track, TrackOrigin, TrackedObject, parse_keepalived, parse_toml};

const SCRIPTS: &str = r#"
vrrp_script up10 {
    script "/bin/true"
    weight 10
}
vrrp_script plain {
    script "/bin/true"
    init_fail
}
track_file f1 {
    file /run/f1
}
track_file f5 {
    file /run/f5
    weight 5
}
"#;

/// One instance `A` on eth0 tracking everything, optionally in a group.
fn config(instance_extra: &str, group: &str) -> (Config, Vec<String>) {
    let text = format!(
        r#"{SCRIPTS}
vrrp_instance A {{
    interface eth0
    virtual_router_id 1
    {instance_extra}
    virtual_ipaddress {{
        10.0.0.1/24 dev eth0
        10.0.1.1/24 dev eth3
        10.0.2.1/24 dev eth4 no_track
    }}
    track_interface {{
        eth1 weight -20
        eth2
    }}
    track_script {{
        up10
        plain
        up10 weight -5
    }}
    track_file {{
        f1
        f5
    }}
}}
vrrp_instance B {{
    interface eth9
    virtual_router_id 2
    virtual_ipaddress {{
        10.9.0.1
    }}
}}
{group}
"#
    );
    let loaded = parse_keepalived(&text, "t.conf").unwrap_or_else(|e| panic!("{e}"));
    let warnings = loaded.warnings.iter().map(|w| w.message.clone()).collect();
    (loaded.config, warnings)
}

fn objects(config: &Config, name: &str) -> Vec<(String, i32)> {
    let instance = config.instance(name).expect("defined");
    config
        .tracks(instance)
        .into_iter()
        .map(|t| {
            let label = match t.object {
                TrackedObject::Interface(i) => format!("if:{i}"),
                TrackedObject::Script(s) => format!("script:{s}"),
                TrackedObject::File(f) => format!("file:{f}"),
                other => format!("{other:?}"),
            };
            (label, t.weight)
        })
        .collect()
}

fn pairs(list: &[(&str, i32)]) -> Vec<(String, i32)> {
    list.iter().map(|(s, w)| ((*s).to_owned(), *w)).collect()
}

#[test]
fn a_lone_instance_keeps_every_weight() {
    let (c, warnings) = config("", "");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        objects(&c, "A"),
        pairs(&[
            ("if:eth0", 0),
            ("if:eth1", -20),
            ("if:eth2", 0),
            ("if:eth3", 0),
            ("script:up10", 10),
            ("script:plain", 0),
            ("script:up10", -5),
            ("file:f1", 1),
            ("file:f5", 5),
        ])
    );
    let tracks = c.tracks(c.instance("A").expect("defined"));
    assert_eq!(tracks[3].origin, TrackOrigin::AddressDevice);
    assert!(!tracks[5].initially_up, "init_fail");
    let engine = c
        .instance("A")
        .expect("defined")
        .engine_config("10.0.0.5".parse().expect("literal"), &tracks);
    let weights: Vec<i32> = engine.tracks.iter().map(|t| t.weight).collect();
    assert_eq!(weights, [0, -20, 0, 0, 10, 0, -5, 1, 5]);
}

#[test]
fn a_sync_group_zeroes_interfaces_and_drops_weighted_scripts() {
    let (c, warnings) = config("", "vrrp_sync_group G {\n group {\n A\n }\n}");
    assert_eq!(
        objects(&c, "A"),
        pairs(&[
            ("if:eth0", 0),
            ("if:eth1", 0),
            ("if:eth2", 0),
            ("if:eth3", 0),
            ("script:plain", 0),
            ("file:f1", 0),
        ])
    );
    assert_eq!(
        warnings,
        [
            "instance A: weight -20 of tracked interface eth1 ignored because it is in a sync group without sync_group_tracking_weight: the interface going down means FAULT",
            "instance A: tracked script up10 with weight 10 ignored because it is in a sync group without sync_group_tracking_weight",
            "instance A: tracked script up10 with weight -5 ignored because it is in a sync group without sync_group_tracking_weight",
            "instance A: weight of tracked file f1 ignored because it is in a sync group without sync_group_tracking_weight; write weight 0",
            "instance A: tracked file f5 with weight 5 ignored because it is in a sync group without sync_group_tracking_weight",
        ]
    );
}

#[test]
fn sync_group_tracking_weight_keeps_weights() {
    let (c, warnings) = config(
        "",
        "vrrp_sync_group G {\n group {\n A\n }\n sync_group_tracking_weight\n}",
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let (lone, _) = config("", "");
    assert_eq!(objects(&c, "A"), objects(&lone, "A"));
}

#[test]
fn the_address_owner_drops_weighted_objects() {
    let (c, warnings) = config("priority 255", "");
    assert_eq!(
        objects(&c, "A"),
        pairs(&[
            ("if:eth0", 0),
            ("if:eth2", 0),
            ("if:eth3", 0),
            ("script:plain", 0),
            ("file:f1", 0),
        ])
    );
    assert_eq!(warnings.len(), 5, "{warnings:?}");
    assert!(warnings[0].ends_with("because it is the address owner (priority 255)"));
}

#[test]
fn dont_track_primary_leaves_the_own_interface_out() {
    let (c, _) = config("dont_track_primary", "");
    let objects = objects(&c, "A");
    assert_eq!(objects[0], ("if:eth1".to_owned(), -20));
    assert!(!objects.iter().any(|(o, _)| o == "if:eth0"));
}

#[test]
fn group_tracks_are_added_to_every_member() {
    let group = r#"vrrp_sync_group G {
    group {
        A B
    }
    sync_group_tracking_weight
    track_interface {
        eth7 weight 3
        eth1 weight 7
    }
    track_script {
        up10
    }
    track_file {
        f5 weight -2
    }
}"#;
    let (c, warnings) = config("", group);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        objects(&c, "B"),
        pairs(&[
            ("if:eth9", 0),
            ("if:eth7", 3),
            ("if:eth1", 7),
            ("script:up10", 10),
            ("file:f5", -2),
        ])
    );
    // Tracked by both: the group's weight replaces the instance's weighted entry.
    assert_eq!(
        objects(&c, "A"),
        pairs(&[
            ("if:eth0", 0),
            ("if:eth1", 7),
            ("if:eth2", 0),
            ("if:eth3", 0),
            ("script:up10", 10),
            ("script:plain", 0),
            ("script:up10", -5),
            ("file:f1", 1),
            ("file:f5", -2),
            ("if:eth7", 3),
        ])
    );
    let b = c.instance("B").expect("defined");
    assert_eq!(
        c.tracks(b)[1],
        Track {
            object: TrackedObject::Interface("eth7".into()),
            weight: 3,
            reverse: false,
            initially_up: true,
            origin: TrackOrigin::SyncGroup("G".into()),
        }
    );
}

#[test]
fn a_group_with_an_owner_clears_group_weights() {
    let group = r#"vrrp_sync_group G {
    group {
        B
        A
    }
    track_script {
        up10
    }
}"#;
    let (c, warnings) = config("priority 255", group);
    assert!(objects(&c, "B").contains(&("script:up10".to_owned(), 0)));
    assert!(
        warnings.contains(
            &"sync group G: weight 10 of tracked script up10 cleared because a member is the address owner (priority 255)"
                .to_owned()
        ),
        "{warnings:?}"
    );
}

#[test]
fn toml_follows_the_same_rules() {
    let text = r#"
[[vrrp_script]]
name = "up10"
script = "/bin/true"
weight = 10

[[vrrp]]
name = "A"
interface = "eth0"
virtual_router_id = 1
virtual_ipaddress = ["10.0.0.1"]
track_script = ["up10"]

[[sync_group]]
name = "G"
group = ["A"]
"#;
    let loaded = parse_toml(text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "t.toml:12: instance A: tracked script up10 with weight 10 ignored because it is in a sync group without sync_group_tracking_weight"
        ]
    );
    assert_eq!(objects(&loaded.config, "A"), pairs(&[("if:eth0", 0)]));
}
