//! keepalived's `vrrp_track_process` and `track_process`, read as keepalived 2.2.7 reads
//! them: defaults, what implies matching the whole command line, quorum rules, delays,
//! weights with reverse, and every refusal at its FILE:LINE.

use std::time::Duration;

use baton_config::{ParamMatch, TrackedObject, parse_keepalived};

/// `blocks` at the top, then an instance whose body ends with `tracks`; line 1 is the
/// first line of `blocks`.
fn conf(blocks: &str, tracks: &str) -> String {
    format!(
        "{blocks}vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n    \
         priority 100\n    virtual_ipaddress {{\n        10.0.3.100/24\n    }}\n{tracks}}}\n"
    )
}

fn load(text: &str) -> Result<baton_config::Loaded, Vec<String>> {
    parse_keepalived(text, "k.conf").map_err(|e| e.iter().map(ToString::to_string).collect())
}

fn errors(text: &str) -> Vec<String> {
    load(text).expect_err("invalid")
}

const TRACKED: &str = "    track_process {\n        web\n    }\n";

#[test]
fn a_bare_block_has_keepalived_defaults() {
    let loaded = load(&conf(
        "vrrp_track_process web {\n    process nginx\n}\n",
        TRACKED,
    ))
    .expect("valid");
    let config = &loaded.config;
    let p = config.track_process("web").expect("web");
    assert_eq!(p.process, "nginx");
    assert!(p.params.is_empty());
    assert_eq!(p.param_match, ParamMatch::Any);
    assert!(!p.full_command, "the process name, not the command line");
    assert_eq!((p.weight, p.reverse), (0, false));
    assert_eq!((p.quorum, p.quorum_max), (1, u32::MAX));
    assert_eq!((p.fork_delay, p.terminate_delay), (None, None));
    assert_eq!(p.location.to_string(), "k.conf:1");

    let instance = &config.instances[0];
    let track = config
        .tracks(instance)
        .into_iter()
        .find(|t| t.object == TrackedObject::Process("web".into()))
        .expect("tracked");
    assert_eq!(track.weight, 0, "weight 0: no quorum means FAULT");
    assert!(!config.track_process_reverse(instance, "web"));
}

#[test]
fn parameters_and_param_match_imply_the_full_command() {
    let loaded = load(&conf(
        "vrrp_track_process a {\n    process sleep 31337 \"two words\"\n}\n\
         vrrp_track_process b {\n    param_match partial\n    process sleep 1\n}\n\
         vrrp_track_process c {\n    process sleep\n    param_match\n}\n\
         vrrp_track_process d {\n    process /usr/bin/python3\n    full_command\n}\n\
         vrrp_track_process e {\n    process x\n    param_match initial\n}\n",
        "",
    ))
    .expect("valid");
    let config = &loaded.config;
    let a = config.track_process("a").unwrap();
    assert_eq!(a.params, ["31337", "two words"]);
    assert_eq!(a.param_match, ParamMatch::Exact);
    assert!(a.full_command);
    let b = config.track_process("b").unwrap();
    assert_eq!(
        b.param_match,
        ParamMatch::Partial,
        "param_match before process stays"
    );
    let c = config.track_process("c").unwrap();
    assert_eq!(
        (c.param_match, c.full_command),
        (ParamMatch::Exact, true),
        "no parameters, param_match: none allowed"
    );
    let d = config.track_process("d").unwrap();
    assert_eq!((d.param_match, d.full_command), (ParamMatch::Any, true));
    assert_eq!(
        config.track_process("e").unwrap().param_match,
        ParamMatch::Initial
    );
}

#[test]
fn quorum_delays_and_weights_follow_keepalived() {
    let loaded = load(&conf(
        "vrrp_track_process q {\n    process a\n    quorum 2\n    quorum_max 3\n    \
         delay 0.5\n    fork_delay 2\n    weight -20 reverse\n}\n\
         vrrp_track_process none {\n    process b\n    quorum_max 0\n    weight 0\n    \
         weight 10\n    terminate_delay 0.000001\n}\n",
        "    track_process {\n        q weight 30 noreverse\n        none weight 10 reverse\n    }\n",
    ))
    .expect("valid");
    let config = &loaded.config;
    let q = config.track_process("q").unwrap();
    assert_eq!((q.quorum, q.quorum_max), (2, 3));
    assert!(q.has_quorum(2) && q.has_quorum(3) && !q.has_quorum(1) && !q.has_quorum(4));
    assert_eq!(q.fork_delay, Some(Duration::from_secs(2)));
    assert_eq!(q.terminate_delay, Some(Duration::from_millis(500)));
    assert_eq!((q.weight, q.reverse), (-20, true));
    let none = config.track_process("none").unwrap();
    assert_eq!(
        (none.quorum, none.quorum_max),
        (0, 0),
        "quorum_max 0: none may run"
    );
    assert!(none.has_quorum(0) && !none.has_quorum(1));
    assert_eq!(none.weight, 10, "keepalived takes a weight after weight 0");
    assert_eq!(none.terminate_delay, Some(Duration::from_micros(1)));
    assert_eq!(none.fork_delay, None);

    let instance = &config.instances[0];
    let weights: Vec<i32> = config
        .tracks(instance)
        .iter()
        .filter(|t| matches!(t.object, TrackedObject::Process(_)))
        .map(|t| t.weight)
        .collect();
    // The entry's weight and noreverse win over the block's; reverse is folded in as a
    // negated weight, and the daemon reports the quorum inverted to that instance.
    assert_eq!(weights, [30, -10]);
    assert!(!config.track_process_reverse(instance, "q"));
    assert!(config.track_process_reverse(instance, "none"));
}

#[test]
fn sync_groups_keep_process_weights_and_owners_drop_them() {
    let blocks = "vrrp_track_process web {\n    process nginx\n    weight 10\n}\n";
    let group = "vrrp_sync_group G {\n    group {\n        VI_1\n    }\n    \
                 track_process {\n        web weight -5\n    }\n}\n";
    let loaded = load(&format!("{}{group}", conf(blocks, ""))).expect("valid");
    let config = &loaded.config;
    let weights: Vec<i32> = config
        .tracks(&config.instances[0])
        .iter()
        .filter(|t| matches!(t.object, TrackedObject::Process(_)))
        .map(|t| t.weight)
        .collect();
    assert_eq!(
        weights,
        [-5],
        "keepalived keeps a process's weight in a sync group"
    );

    let owner = conf(blocks, TRACKED).replace("priority 100", "priority 255");
    let loaded = load(&owner).expect("valid");
    let config = &loaded.config;
    assert!(
        !config
            .tracks(&config.instances[0])
            .iter()
            .any(|t| matches!(t.object, TrackedObject::Process(_)))
    );
    assert!(
        loaded.warnings.iter().any(|w| w
            .to_string()
            .contains("tracked process web with weight 10 ignored")),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn every_refusal_names_its_line() {
    let text = conf(
        "vrrp_track_process a {\n\
         \x20   process\n\
         \x20   process sleep\n\
         \x20   process sleep again\n\
         \x20   param_match whole\n\
         \x20   weight 255\n\
         \x20   weight 5 backwards\n\
         \x20   quorum 0\n\
         \x20   quorum_max 65536\n\
         \x20   delay 0\n\
         \x20   fork_delay 3601\n\
         \x20   frobnicate\n\
         }\n\
         vrrp_track_process b {\n\
         \x20   quorum_max 2\n\
         \x20   quorum 3\n\
         }\n\
         vrrp_track_process c {\n\
         \x20   quorum 3\n\
         \x20   quorum_max 2\n\
         \x20   process c\n\
         }\n",
        "    track_process {\n        a weight\n        a weight 1 sideways\n        \
         a colour red\n        a\n        a\n        missing\n    }\n",
    );
    let found = errors(&text);
    let expected = [
        ("k.conf:2:", "process needs a name"),
        ("k.conf:4:", "process is already set to 'sleep'"),
        ("k.conf:5:", "param_match 'whole'"),
        ("k.conf:6:", "weight"),
        ("k.conf:7:", "unexpected 'backwards'"),
        ("k.conf:8:", "quorum 0 is not between 1 and 65535"),
        ("k.conf:9:", "quorum_max 65536 is not between 0 and 65535"),
        (
            "k.conf:10:",
            "delay '0' is not between 0.000001 and 3600 seconds",
        ),
        ("k.conf:11:", "fork_delay '3601'"),
        ("k.conf:12:", "'frobnicate'"),
        ("k.conf:14:", "no process given"),
        ("k.conf:16:", "quorum 3 is greater than quorum_max 2"),
        ("k.conf:20:", "quorum_max 2 is less than quorum 3"),
        ("k.conf:31:", "weight needs a value"),
        ("k.conf:32:", "unexpected 'sideways'"),
        ("k.conf:33:", "unknown option 'colour'"),
        ("k.conf:35:", "track_process a is listed twice"),
        ("k.conf:36:", "no vrrp_track_process named missing"),
    ];
    for (at, message) in expected {
        assert!(
            found
                .iter()
                .any(|e| e.starts_with(at) && e.contains(message)),
            "no '{message}' at {at} in {found:#?}"
        );
    }
    // b has no process: an entry naming it is "not found", as in keepalived.
    let found = errors(&conf(
        "vrrp_track_process b {\n    weight 1\n}\n",
        "    track_process {\n        b\n    }\n",
    ));
    assert!(
        found.iter().any(|e| e.starts_with("k.conf:1:")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|e| e.starts_with("k.conf:12:") && e.contains("no vrrp_track_process named b")),
        "{found:?}"
    );
}

#[test]
fn a_second_block_of_a_name_is_a_warning_and_the_first_wins() {
    let loaded = load(&conf(
        "vrrp_track_process web {\n    process nginx\n}\n\
         vrrp_track_process web {\n    process apache2\n}\n",
        TRACKED,
    ))
    .expect("valid");
    assert_eq!(loaded.config.track_process("web").unwrap().process, "nginx");
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.to_string().starts_with("k.conf:4:")),
        "{:?}",
        loaded.warnings
    );
}
