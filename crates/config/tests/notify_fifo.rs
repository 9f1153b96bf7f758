//! keepalived's notify_fifo and vrrp_notify_fifo in global_defs.

use baton_config::parse_keepalived;

fn global(body: &str) -> Result<baton_config::Loaded, Vec<String>> {
    let text = format!(
        "global_defs {{\n{body}}}\nvrrp_instance A {{\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {{\n 10.0.0.1\n }}\n}}\n"
    );
    parse_keepalived(&text, "k.conf").map_err(|e| e.iter().map(ToString::to_string).collect())
}

#[test]
fn both_fifos_are_read_with_their_owners() {
    let loaded = global(
        " notify_fifo /run/keepalived.fifo\n vrrp_notify_fifo /run/vrrp.fifo nobody nogroup\n",
    )
    .expect("valid");
    let g = &loaded.config.global;
    let all = g.notify_fifo.as_ref().expect("notify_fifo");
    assert_eq!(all.path, std::path::Path::new("/run/keepalived.fifo"));
    assert!(all.owner.is_none());
    let vrrp = g.vrrp_notify_fifo.as_ref().expect("vrrp_notify_fifo");
    assert_eq!(vrrp.path, std::path::Path::new("/run/vrrp.fifo"));
    let owner = vrrp.owner.as_ref().expect("owner");
    assert_eq!(
        (owner.user.as_str(), owner.group.as_deref()),
        ("nobody", Some("nogroup"))
    );

    let loaded = global("").expect("valid");
    assert!(loaded.config.global.notify_fifo.is_none());
    assert!(loaded.config.global.vrrp_notify_fifo.is_none());
}

#[test]
fn the_first_fifo_wins_and_a_missing_path_is_an_error() {
    let loaded = global(" notify_fifo /run/a\n notify_fifo /run/b\n").expect("valid");
    let fifo = loaded.config.global.notify_fifo.as_ref().expect("fifo");
    assert_eq!(fifo.path, std::path::Path::new("/run/a"));
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.to_string().contains("already specified")),
        "{:?}",
        loaded.warnings
    );

    let errors = global(" vrrp_notify_fifo\n").expect_err("no path");
    assert!(
        errors.iter().any(|e| e.contains("needs a path")),
        "{errors:?}"
    );
    let errors = global(" notify_fifo /run/a u g extra\n").expect_err("too many");
    assert!(
        errors.iter().any(|e| e.contains("PATH [USER [GROUP]]")),
        "{errors:?}"
    );
}

#[test]
fn priority_changes_are_read_globally_per_group_and_per_instance() {
    let text = "global_defs {\n vrrp_notify_priority_changes\n}\n\
        vrrp_instance A {\n interface eth0\n virtual_router_id 1\n notify_priority_changes off\n virtual_ipaddress {\n 10.0.0.1\n }\n}\n\
        vrrp_instance B {\n interface eth0\n virtual_router_id 2\n virtual_ipaddress {\n 10.0.0.2\n }\n}\n\
        vrrp_sync_group G {\n group {\n A\n B\n }\n notify_priority_changes yes\n}\n";
    let loaded = parse_keepalived(text, "k.conf").expect("valid");
    let config = &loaded.config;
    assert!(config.global.notify_priority_changes);
    assert_eq!(config.instances[0].notify.priority_changes, Some(false));
    assert_eq!(config.instances[1].notify.priority_changes, None);
    assert_eq!(config.sync_groups[0].notify.priority_changes, Some(true));

    let loaded = global("").expect("valid");
    assert!(!loaded.config.global.notify_priority_changes);
    let errors = global(" vrrp_notify_priority_changes maybe\n").expect_err("not a bool");
    assert!(errors.iter().any(|e| e.contains("'maybe'")), "{errors:?}");
}

#[test]
fn the_checkers_fifo_and_its_reader_are_read() {
    let loaded = global(
        " lvs_notify_fifo /run/lvs.fifo nobody\n lvs_notify_fifo_script \"/usr/local/bin/read-lvs\"\n",
    )
    .expect("valid");
    let g = &loaded.config.global;
    let lvs = g.lvs_notify_fifo.as_ref().expect("lvs_notify_fifo");
    assert_eq!(lvs.path, std::path::Path::new("/run/lvs.fifo"));
    assert_eq!(lvs.owner.as_ref().map(|o| o.user.as_str()), Some("nobody"));
    assert!(g.notify_fifo.is_none() && g.vrrp_notify_fifo.is_none());
    let reader = g.scripts.lvs_notify_fifo.as_ref().expect("reader");
    assert_eq!(reader.argv, ["/usr/local/bin/read-lvs"]);

    let errors = global(" lvs_notify_fifo_script /bin/a\n lvs_notify_fifo_script /bin/b\n")
        .expect_err("twice");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("lvs_notify_fifo_script is given twice")),
        "{errors:?}"
    );
}
