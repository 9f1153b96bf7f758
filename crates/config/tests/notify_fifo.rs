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
