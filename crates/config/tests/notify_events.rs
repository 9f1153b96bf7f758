//! keepalived's notify_master_rx_lower_pri and notify_deleted, in keepalived.conf and
//! baton.toml.

use baton_config::{parse_keepalived, parse_toml};

fn instance(body: &str) -> Result<baton_config::Loaded, Vec<String>> {
    let text = format!(
        "vrrp_instance A {{\n interface eth0\n virtual_router_id 1\n{body} virtual_ipaddress {{\n 10.0.0.1\n }}\n}}\n"
    );
    parse_keepalived(&text, "k.conf").map_err(|e| e.iter().map(ToString::to_string).collect())
}

#[test]
fn both_keywords_are_read_with_their_scripts() {
    let loaded = instance(
        " notify_master_rx_lower_pri \"/usr/local/bin/reclaim eth0\" nobody\n notify_deleted\n",
    )
    .expect("valid");
    let notify = &loaded.config.instances[0].notify;
    let script = notify.master_rx_lower_pri.as_ref().expect("script");
    assert_eq!(script.argv, ["/usr/local/bin/reclaim", "eth0"]);
    assert_eq!(
        script.user.as_ref().map(|u| u.user.as_str()),
        Some("nobody")
    );
    assert!(notify.notify_deleted && notify.deleted.is_none());

    let loaded = instance(" notify_deleted /usr/local/bin/gone\n").expect("valid");
    let notify = &loaded.config.instances[0].notify;
    assert!(notify.notify_deleted);
    assert_eq!(
        notify.deleted.as_ref().map(|s| s.argv.clone()),
        Some(vec!["/usr/local/bin/gone".to_owned()])
    );

    // Without the keyword a removed instance is reported FAULT, as keepalived.
    let loaded = instance("").expect("valid");
    assert!(!loaded.config.instances[0].notify.notify_deleted);
}

#[test]
fn twice_is_an_error_and_sync_groups_have_no_notify_deleted() {
    let errors = instance(" notify_deleted\n notify_deleted\n").expect_err("twice");
    assert!(
        errors[0].starts_with("k.conf:5: instance A: notify_deleted is given twice"),
        "{errors:?}"
    );
    let errors = instance(" notify_master_rx_lower_pri\n").expect_err("no script");
    assert!(
        errors[0].starts_with("k.conf:4: instance A: notify_master_rx_lower_pri"),
        "{errors:?}"
    );
    let text = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 10.0.0.1\n }\n}\n\
                vrrp_sync_group G {\n group {\n A\n }\n notify_deleted\n}\n";
    let errors = parse_keepalived(text, "k.conf").expect_err("not in 2.2.7 sync groups");
    assert!(
        errors
            .iter()
            .any(|e| e.to_string().contains("notify_deleted")),
        "{errors:?}"
    );
}

#[test]
fn baton_toml_takes_a_script_or_true() {
    let toml = |deleted: &str| {
        format!(
            "[[vrrp]]\nname = \"A\"\ninterface = \"eth0\"\nvirtual_router_id = 1\n\
             virtual_ipaddress = [\"10.0.0.1\"]\nnotify_master_rx_lower_pri = \"/bin/reclaim\"\n\
             notify_deleted = {deleted}\n"
        )
    };
    let loaded = parse_toml(&toml("true"), "baton.toml").expect("valid");
    let notify = &loaded.config.instances[0].notify;
    assert!(notify.notify_deleted && notify.deleted.is_none());
    assert!(notify.master_rx_lower_pri.is_some());
    let loaded = parse_toml(&toml("\"/bin/gone\""), "baton.toml").expect("valid");
    assert!(loaded.config.instances[0].notify.deleted.is_some());
    let loaded = parse_toml(&toml("false"), "baton.toml").expect("valid");
    assert!(!loaded.config.instances[0].notify.notify_deleted);
}
