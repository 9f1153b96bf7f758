//! keepalived's `reverse` after a tracking weight (vrrp_track.c: `weight_multiplier` -1):
//! folded into the engine weight (negated) with the state reported inverted.

use baton_config::{TrackedObject, parse_keepalived};

const TOP: &str = r#"
vrrp_script chk_up {
    script "/bin/true"
    weight 10 reverse
}
vrrp_script chk_plain {
    script "/bin/true"
    weight -5
}
track_file state {
    file "/tmp/baton-state"
    weight 3 reverse
}
"#;

/// A track as compared here: object, engine weight, reverse, initially up.
type Row = (TrackedObject, i32, bool, bool);

fn tracks(instance_tracks: &str) -> Result<Vec<Row>, Vec<String>> {
    let text = format!(
        "{TOP}vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n priority 100\n{instance_tracks} virtual_ipaddress {{\n 10.0.0.1\n }}\n}}\n"
    );
    let loaded = parse_keepalived(&text, "k.conf")
        .map_err(|e| e.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let instance = &loaded.config.instances[0];
    Ok(loaded
        .config
        .tracks(instance)
        .into_iter()
        .map(|t| (t.object, t.weight, t.reverse, t.initially_up))
        .collect())
}

#[test]
fn reverse_negates_the_weight_and_inverts_the_state() {
    let list = tracks(
        " track_interface {\n  eth1 weight 20 reverse\n  eth2 weight 0 reverse\n  eth3 weight 7\n }\n track_script {\n  chk_up\n  chk_plain weight -5 reverse\n }\n track_file {\n  state\n }\n",
    )
    .expect("valid");
    let interface = |name: &str| TrackedObject::Interface(name.into());
    assert_eq!(
        list,
        [
            // The instance's own interface, then the entries in order.
            (interface("eth0"), 0, false, true),
            (interface("eth1"), -20, true, false),
            (interface("eth2"), 0, true, false),
            (interface("eth3"), 7, false, true),
            // The script's own weight and reverse; reported down while it succeeds.
            (TrackedObject::Script("chk_up".into()), -10, true, false),
            (TrackedObject::Script("chk_plain".into()), 5, true, false),
            (TrackedObject::File("state".into()), -3, true, true),
        ]
    );
}

#[test]
fn an_entry_s_weight_keeps_the_script_s_reverse_unless_it_says_otherwise() {
    // keepalived (alloc_track_script): reverse starts as the script's, and only a word
    // after the entry's weight changes it.
    let list = tracks(
        " track_script {\n  chk_up weight 4\n }\n track_file {\n  state weight 2 noreverse\n }\n",
    )
    .expect("valid");
    assert_eq!(
        list[1],
        (TrackedObject::Script("chk_up".into()), -4, true, false)
    );
    assert_eq!(
        list[2],
        (TrackedObject::File("state".into()), 2, false, true)
    );
}

#[test]
fn reverse_stands_only_after_a_weight() {
    for entry in [
        "chk_up reverse",
        "chk_up weight 3 backwards",
        "chk_up noreverse",
    ] {
        let errors = tracks(&format!(" track_script {{\n  {entry}\n }}\n")).expect_err(entry);
        assert!(
            errors.iter().any(|e| e.contains("unexpected")),
            "{entry}: {errors:?}"
        );
    }
    let errors = tracks(" track_interface {\n  eth1 weight 300 reverse\n }\n").expect_err("range");
    assert!(errors.iter().any(|e| e.contains("weight")), "{errors:?}");
}
