//! keepalived's e-mail alerts: the global_defs keywords, and `smtp_alert` in instances,
//! sync groups, virtual and real servers, with keepalived 2.2.7's defaults.

use std::net::SocketAddr;
use std::time::Duration;

use baton_config::{Config, parse_keepalived};

const INSTANCE: &str = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n \
                        virtual_ipaddress {\n 10.0.0.1\n }\n}\n";

fn load(text: &str) -> Result<baton_config::Loaded, Vec<String>> {
    parse_keepalived(text, "k.conf").map_err(|e| e.iter().map(ToString::to_string).collect())
}

fn global(body: &str) -> Result<baton_config::Loaded, Vec<String>> {
    load(&format!("global_defs {{\n{body}}}\n{INSTANCE}"))
}

fn config(text: &str) -> Config {
    load(text).unwrap_or_else(|e| panic!("{e:?}")).config
}

#[test]
fn where_mail_goes_is_read_from_global_defs() {
    let loaded = global(
        " notification_email {\n  ops@example.com\n  noc@example.com  pager@example.com\n }\n \
         notification_email_from lb1@example.com\n smtp_server 192.0.2.25 2525\n \
         smtp_helo_name lb1.example.com\n smtp_connect_timeout 7\n no_email_faults\n",
    )
    .expect("valid");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let smtp = &loaded.config.global.smtp;
    assert_eq!(
        smtp.to,
        ["ops@example.com", "noc@example.com", "pager@example.com"]
    );
    assert_eq!(smtp.from.as_deref(), Some("lb1@example.com"));
    assert_eq!(
        smtp.server,
        Some("192.0.2.25:2525".parse::<SocketAddr>().expect("address"))
    );
    assert_eq!(smtp.helo_name.as_deref(), Some("lb1.example.com"));
    assert_eq!(smtp.connect_timeout, Duration::from_secs(7));
    assert!(smtp.no_email_faults);
    assert!(smtp.can_send());
}

#[test]
fn defaults_are_keepalived_s() {
    let smtp = global(" smtp_server 2001:db8::25\n")
        .expect("valid")
        .config
        .global
        .smtp;
    assert_eq!(
        smtp.server,
        Some("[2001:db8::25]:25".parse::<SocketAddr>().expect("address"))
    );
    assert_eq!(smtp.connect_timeout, Duration::from_secs(30));
    assert_eq!((&smtp.from, &smtp.helo_name), (&None, &None));
    // No recipient: keepalived sends nothing.
    assert!(!smtp.can_send());
    let localhost = global(" smtp_server localhost 25\n").expect("a name is resolved");
    let server = localhost.config.global.smtp.server.expect("resolved");
    assert!(server.ip().is_loopback(), "{server}");
}

#[test]
fn a_second_notification_email_block_adds_recipients() {
    let smtp = global(" notification_email {\n a@x\n }\n notification_email {\n b@x\n }\n")
        .expect("valid")
        .config
        .global
        .smtp;
    assert_eq!(smtp.to, ["a@x", "b@x"]);
}

#[test]
fn bad_values_are_errors_as_in_keepalived_t() {
    let errors = global(" smtp_server not-a-host.invalid/x\n").expect_err("bad server");
    assert!(
        errors.iter().any(|e| e.contains("Invalid smtp server")),
        "{errors:?}"
    );
    let errors = global(" smtp_server 192.0.2.25 70000\n").expect_err("bad port");
    assert!(errors.iter().any(|e| e.contains("k.conf:2")), "{errors:?}");
    let errors = global(" smtp_alert maybe\n").expect_err("not a boolean");
    assert!(errors.iter().any(|e| e.contains("'maybe'")), "{errors:?}");
    let errors = global(" notification_email_from\n").expect_err("no value");
    assert!(
        errors.iter().any(|e| e.contains("needs a value")),
        "{errors:?}"
    );
    // keepalived: "smtp_conect_timeout must be greater than 0, setting to 1".
    let loaded = global(" smtp_connect_timeout 0\n").expect("adjusted");
    assert_eq!(
        loaded.config.global.smtp.connect_timeout,
        Duration::from_secs(1)
    );
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    let loaded = global(" notification_email {\n }\n").expect("empty is a warning");
    assert!(
        loaded.warnings[0]
            .to_string()
            .contains("empty notification_email")
    );
}

#[test]
fn vrrp_blocks_take_their_own_then_smtp_alert_vrrp_then_smtp_alert() {
    let text = "global_defs {\n smtp_alert\n smtp_alert_vrrp off\n}\n\
                vrrp_instance A {\n interface eth0\n virtual_router_id 1\n smtp_alert\n \
                virtual_ipaddress {\n 10.0.0.1\n }\n}\n\
                vrrp_instance B {\n interface eth0\n virtual_router_id 2\n \
                virtual_ipaddress {\n 10.0.0.2\n }\n}\n\
                vrrp_sync_group G {\n group {\n A\n B\n }\n smtp_alert yes\n}\n";
    let config = config(text);
    let smtp = &config.global.smtp;
    let a = &config.instances[0];
    let b = &config.instances[1];
    assert_eq!(a.notify.smtp_alert, Some(true));
    assert!(smtp.for_vrrp(a.notify.smtp_alert));
    assert_eq!(b.notify.smtp_alert, None);
    assert!(
        !smtp.for_vrrp(b.notify.smtp_alert),
        "smtp_alert_vrrp off wins over smtp_alert"
    );
    assert!(smtp.for_vrrp(config.sync_groups[0].notify.smtp_alert));

    let only_global = config_of_global(" smtp_alert\n");
    assert!(only_global.global.smtp.for_vrrp(None));
    assert!(
        !config_of_global("").global.smtp.for_vrrp(None),
        "off by default"
    );
}

fn config_of_global(body: &str) -> Config {
    global(body).unwrap_or_else(|e| panic!("{e:?}")).config
}

#[test]
fn real_servers_mail_by_default_and_virtual_servers_do_not() {
    let lvs = |top: &str, vs: &str, rs: &str| {
        config(&format!(
            "global_defs {{\n{top}}}\nvirtual_server 10.0.3.100 80 {{\n protocol TCP\n{vs} \
             real_server 10.0.3.11 80 {{\n{rs} TCP_CHECK {{\n }}\n }}\n}}\n"
        ))
    };
    let plain = lvs("", "", "");
    let (smtp, vs) = (&plain.global.smtp, &plain.virtual_servers[0]);
    assert!(!smtp.for_virtual_server(vs.smtp_alert));
    assert!(
        smtp.for_real_server(vs.real_servers[0].smtp_alert),
        "keepalived's backwards-compatible default"
    );
    let off = lvs(" smtp_alert off\n", "", "");
    assert!(!off.global.smtp.for_real_server(None));
    let checker = lvs(
        " smtp_alert off\n smtp_alert_checker on\n no_checker_emails\n",
        " smtp_alert\n",
        " smtp_alert no\n",
    );
    let (smtp, vs) = (&checker.global.smtp, &checker.virtual_servers[0]);
    assert!(smtp.no_checker_emails);
    assert!(smtp.for_virtual_server(vs.smtp_alert));
    assert!(!smtp.for_real_server(vs.real_servers[0].smtp_alert));
    assert!(
        smtp.for_real_server(None),
        "smtp_alert_checker before smtp_alert"
    );
}
