//! keepalived's `reload_time_file PATH` and `reload_repeat` (global_defs), and the same
//! names in baton.toml's `[global]`.

use std::path::Path;

use baton_config::{parse_keepalived, parse_toml};

fn keepalived(body: &str) -> Result<baton_config::Loaded, Vec<String>> {
    let text = format!(
        "global_defs {{\n{body}}}\nvrrp_instance A {{\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {{\n 10.0.0.1\n }}\n}}\n"
    );
    parse_keepalived(&text, "k.conf").map_err(|e| e.iter().map(ToString::to_string).collect())
}

fn toml(global: &str) -> Result<baton_config::Loaded, Vec<String>> {
    let text = format!(
        "[global]\n{global}\n[[vrrp]]\nname = \"A\"\ninterface = \"eth0\"\nvirtual_router_id = 1\nvirtual_ipaddress = [\"10.0.0.1\"]\n"
    );
    parse_toml(&text, "b.toml").map_err(|e| e.iter().map(ToString::to_string).collect())
}

fn warnings(loaded: &baton_config::Loaded) -> Vec<String> {
    loaded.warnings.iter().map(ToString::to_string).collect()
}

#[test]
fn keepalived_conf_names_the_file_and_the_repeat() {
    let loaded =
        keepalived(" reload_time_file /run/keepalived/reload_at\n reload_repeat\n").expect("valid");
    let global = &loaded.config.global;
    assert_eq!(
        global.reload_time_file.as_deref(),
        Some(Path::new("/run/keepalived/reload_at"))
    );
    assert!(global.reload_repeat);
    assert!(warnings(&loaded).is_empty(), "{:?}", warnings(&loaded));

    let loaded = keepalived(" reload_time_file /tmp/at\n").expect("valid");
    assert!(!loaded.config.global.reload_repeat);
    let loaded = keepalived("").expect("valid");
    assert!(loaded.config.global.reload_time_file.is_none());
}

#[test]
fn keepalived_s_errors_and_leniencies() {
    // keepalived: "reload_time_file invalid" for anything but one word.
    for body in [" reload_time_file\n", " reload_time_file /a /b\n"] {
        let errors = keepalived(body).expect_err(body);
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("k.conf:2: ") && e.contains("reload_time_file")),
            "{body}: {errors:?}"
        );
    }
    // keepalived never reads reload_repeat's words: the repeat is on, with a warning here.
    let loaded = keepalived(" reload_time_file /tmp/at\n reload_repeat off\n").expect("valid");
    assert!(loaded.config.global.reload_repeat);
    let said = warnings(&loaded);
    assert!(
        said.iter()
            .any(|w| w.starts_with("k.conf:3: ") && w.contains("'off' is ignored")),
        "{said:?}"
    );
    // keepalived runs from /: a relative path is one under /.
    let loaded = keepalived(" reload_time_file reload/at\n").expect("valid");
    assert_eq!(
        loaded.config.global.reload_time_file.as_deref(),
        Some(Path::new("/reload/at"))
    );
    assert!(
        warnings(&loaded)
            .iter()
            .any(|w| w.contains("not an absolute path")),
        "{:?}",
        warnings(&loaded)
    );
}

#[test]
fn baton_toml_takes_the_same_names() {
    let loaded =
        toml("reload_time_file = \"/run/baton/reload_at\"\nreload_repeat = true\n").expect("valid");
    let global = &loaded.config.global;
    assert_eq!(
        global.reload_time_file.as_deref(),
        Some(Path::new("/run/baton/reload_at"))
    );
    assert!(global.reload_repeat);
    let errors = toml("reload_time_file = \"reload_at\"\n").expect_err("relative");
    assert_eq!(
        errors,
        ["b.toml:2: [global]: reload_time_file must be an absolute path"]
    );
}
