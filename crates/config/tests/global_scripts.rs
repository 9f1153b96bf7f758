//! keepalived's scripts of global_defs: startup_script / shutdown_script with their
//! timeouts, notify_fifo_script / vrrp_notify_fifo_script, fifo_write_vrrp_states_on_reload,
//! reload_file; and the keywords newer than keepalived 2.2.7.

use std::path::Path;
use std::time::Duration;

use baton_config::parse_keepalived;

fn global(body: &str) -> Result<baton_config::Loaded, Vec<String>> {
    let text = format!(
        "global_defs {{\n{body}}}\nvrrp_instance A {{\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {{\n 10.0.0.1\n }}\n}}\n"
    );
    parse_keepalived(&text, "k.conf").map_err(|e| e.iter().map(ToString::to_string).collect())
}

fn contains(errors: &[String], text: &str) -> bool {
    errors.iter().any(|e| e.contains(text))
}

#[test]
fn start_and_stop_scripts_with_their_timeouts() {
    let loaded = global(
        " startup_script \"/etc/keepalived/up.sh now\"\n shutdown_script /etc/keepalived/down.sh nobody nogroup\n shutdown_script_timeout 3\n",
    )
    .expect("valid");
    let scripts = &loaded.config.global.scripts;
    let startup = scripts.startup.as_ref().expect("startup");
    assert_eq!(startup.script.argv, ["/etc/keepalived/up.sh", "now"]);
    assert!(startup.script.user.is_none());
    // keepalived's default, 10 s.
    assert_eq!(startup.timeout, Duration::from_secs(10));
    let shutdown = scripts.shutdown.as_ref().expect("shutdown");
    assert_eq!(shutdown.script.argv, ["/etc/keepalived/down.sh"]);
    let user = shutdown.script.user.as_ref().expect("user");
    assert_eq!(
        (user.user.as_str(), user.group.as_deref()),
        ("nobody", Some("nogroup"))
    );
    assert_eq!(shutdown.timeout, Duration::from_secs(3));

    // A timeout before its script counts too, as in keepalived.
    let loaded =
        global(" startup_script_timeout 1000\n startup_script /bin/true\n").expect("valid");
    let startup = loaded
        .config
        .global
        .scripts
        .startup
        .as_ref()
        .expect("startup");
    assert_eq!(startup.timeout, Duration::from_secs(1000));

    let loaded = global("").expect("valid");
    assert!(loaded.config.global.scripts.startup.is_none());
    assert!(loaded.config.global.scripts.shutdown.is_none());
}

#[test]
fn start_and_stop_script_errors_are_keepalived_s() {
    for (body, expected) in [
        (
            " startup_script_timeout 0\n",
            "startup_script_timeout must be 1..1000",
        ),
        (
            " shutdown_script_timeout 1001\n",
            "shutdown_script_timeout must be 1..1000",
        ),
        (" startup_script\n", "needs a script"),
        (
            " shutdown_script /bin/a\n shutdown_script /bin/b\n",
            "shutdown_script is given twice",
        ),
    ] {
        let errors = global(body).expect_err(body);
        assert!(contains(&errors, expected), "{body}: {errors:?}");
    }
}

#[test]
fn fifo_scripts_and_states_on_reload() {
    let loaded = global(
        " notify_fifo /run/k.fifo\n notify_fifo_script \"/usr/local/bin/reader -v\"\n vrrp_notify_fifo /run/v.fifo\n vrrp_notify_fifo_script /usr/local/bin/vreader nobody\n fifo_write_vrrp_states_on_reload\n",
    )
    .expect("valid");
    let g = &loaded.config.global;
    let reader = g.scripts.notify_fifo.as_ref().expect("reader");
    assert_eq!(reader.argv, ["/usr/local/bin/reader", "-v"]);
    let vreader = g.scripts.vrrp_notify_fifo.as_ref().expect("vrrp reader");
    assert_eq!(vreader.argv, ["/usr/local/bin/vreader"]);
    assert_eq!(
        vreader.user.as_ref().map(|u| u.user.as_str()),
        Some("nobody")
    );
    assert!(g.fifo_write_states_on_reload);

    let loaded = global("").expect("valid");
    assert!(!loaded.config.global.fifo_write_states_on_reload);
    assert!(loaded.config.global.scripts.notify_fifo.is_none());

    let errors =
        global(" notify_fifo_script /bin/a\n notify_fifo_script /bin/b\n").expect_err("twice");
    assert!(
        contains(&errors, "notify_fifo_script is given twice"),
        "{errors:?}"
    );
    let errors = global(" fifo_write_vrrp_states_on_reload yes\n").expect_err("value");
    assert!(
        contains(&errors, "fifo_write_vrrp_states_on_reload"),
        "{errors:?}"
    );
}

#[test]
fn reload_file_has_keepalived_s_default() {
    let loaded = global(" reload_file\n").expect("valid");
    assert_eq!(
        loaded.config.global.reload_file.as_deref(),
        Some(Path::new("/run/keepalived.reload"))
    );
    let loaded = global(" reload_file /tmp/k.reload\n").expect("valid");
    assert_eq!(
        loaded.config.global.reload_file.as_deref(),
        Some(Path::new("/tmp/k.reload"))
    );
    assert!(
        global("")
            .expect("valid")
            .config
            .global
            .reload_file
            .is_none()
    );
    let errors = global(" reload_file /a /b\n").expect_err("two paths");
    assert!(
        contains(&errors, "reload_file takes one path"),
        "{errors:?}"
    );
}

#[test]
fn keywords_after_keepalived_2_2_7_are_refused_with_the_reason() {
    for keyword in ["use_symlink_paths", "set_supplementary_groups"] {
        let errors = global(&format!(" {keyword}\n")).expect_err(keyword);
        assert!(
            contains(&errors, "not a keepalived 2.2.7 keyword"),
            "{keyword}: {errors:?}"
        );
    }
}
