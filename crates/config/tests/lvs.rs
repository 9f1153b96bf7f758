//! keepalived's LVS family (virtual servers, groups, real servers, checkers) as operators
//! write it, read into the L4 model with keepalived's defaults and inheritance, and its
//! baton.toml twin.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_config::{
    Checker, CheckerKind, Config, DnsType, Family, HttpVersion, L4Protocol, LbAlgo, LbKind, Loaded,
    Persistence, ScriptUser, ServiceMatch, TrackedObject, VirtualServer, load_keepalived,
    load_toml, parse_keepalived, parse_toml,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lvs")
        .join(name)
}

fn load() -> Loaded {
    load_keepalived(fixture("keepalived.conf")).unwrap_or_else(|e| panic!("{e}"))
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("literal socket address")
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("literal address")
}

fn service<'c>(config: &'c Config, name: &str) -> &'c VirtualServer {
    config
        .virtual_server(name)
        .unwrap_or_else(|| panic!("no virtual server {name}"))
}

fn checker<'c>(v: &'c VirtualServer, real: &str, index: usize) -> &'c Checker {
    let real = v
        .real_servers
        .iter()
        .find(|r| r.address == addr(real))
        .unwrap_or_else(|| panic!("no real server {real}"));
    &real.checkers[index]
}

/// The sample /etc/keepalived/keepalived.conf that distributions ship loads as it is; its
/// `vrrp_strict` adjusts VI_1 as keepalived 2.2.7 does.
#[test]
fn the_distribution_sample_reads_with_vrrp_strict() {
    let path = fixture("rpm-sample.conf");
    let loaded = load_keepalived(&path).unwrap_or_else(|e| panic!("{e}"));
    let shown = path.display();
    let strict: Vec<String> = loaded
        .warnings
        .iter()
        .filter(|w| w.message.contains("strict mode"))
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        strict,
        [
            format!(
                "{shown}:19: instance VI_1: strict mode: state MASTER must match being the address owner (priority 255); starting as Backup, as keepalived"
            ),
            format!(
                "{shown}:25: instance VI_1: strict mode does not support authentication; ignored, as keepalived"
            ),
        ],
        "{:#?}",
        loaded.warnings
    );
    let vi_1 = &loaded.config.instances[0];
    assert_eq!(vi_1.initial_state, baton_config::InitialState::Backup);
    assert_eq!(vi_1.auth, baton_vrrp::Auth::None);
    assert!(!vi_1.accept, "strict mode's no_accept");
    assert!(baton_config::drops_traffic_to_vips(vi_1));
    let text = std::fs::read_to_string(&path).expect("fixture");
    let loaded = parse_keepalived(&text, "sample.conf").unwrap_or_else(|e| panic!("{e}"));
    // vrrp_skip_check_adv_addr reaches the instance, and the engine's configuration.
    let vi_1 = &loaded.config.instances[0];
    assert!(vi_1.skip_check_adv_addr);
    let engine = vi_1.engine_config(addr("192.168.200.1:0").ip(), &[]);
    assert!(engine.skip_check_advert_addresses);
    // The 0 intervals are keepalived's default; it calls them invalid but runs on.
    assert_eq!(
        vi_1.announce_pacing,
        baton_config::AnnouncePacing::default()
    );
    let warned: Vec<&str> = loaded
        .warnings
        .iter()
        .filter(|w| {
            w.message
                .contains("_interval 0 is below keepalived's range")
        })
        .map(|w| w.message.as_str())
        .collect();
    assert_eq!(warned.len(), 2, "{:#?}", loaded.warnings);
    let names: Vec<&str> = loaded
        .config
        .virtual_servers
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "192.168.200.100:443/tcp",
            "10.10.10.2:1358/tcp",
            "10.10.10.3:1358/tcp"
        ]
    );
    let v = &loaded.config.virtual_servers[1];
    assert_eq!(v.lb_algo, LbAlgo::Rr);
    assert_eq!(
        v.persistence,
        Some(Persistence {
            timeout: Duration::from_secs(50),
            granularity: 32
        })
    );
    assert_eq!(
        v.sorry_server.as_ref().map(|s| s.address),
        Some(addr("192.168.200.200:1358"))
    );
    let c = checker(v, "192.168.200.2:1358", 0);
    assert_eq!(c.fall, 4, "retry 3 is 4 failures in a row");
    assert_eq!(c.connect_timeout, Duration::from_secs(3));
    assert_eq!(c.delay_before_retry, Duration::from_secs(3));
    assert_eq!(c.delay_loop, Duration::from_secs(6));
    let CheckerKind::Http { urls, tls, .. } = &c.kind else {
        panic!("HTTP_GET: {:?}", c.kind);
    };
    assert!(!tls);
    assert_eq!(urls.len(), 3);
    assert_eq!(urls[0].status_codes, [200..=299]);
}

#[test]
fn a_web_service_with_keepalived_defaults_and_inheritance() {
    let config = load().config;
    let v = service(&config, "10.0.3.100:443/tcp");
    assert_eq!(v.matches, [ServiceMatch::Address(addr("10.0.3.100:443"))]);
    assert_eq!(v.family, Family::Ipv4);
    assert_eq!(v.protocol, L4Protocol::Tcp);
    assert_eq!((v.lb_algo, v.lb_kind), (LbAlgo::Wrr, LbKind::Nat));
    assert_eq!(
        v.persistence,
        Some(Persistence {
            timeout: Duration::from_secs(300),
            granularity: 24
        })
    );
    assert_eq!((v.quorum, v.hysteresis), (3, 1));
    assert_eq!(
        v.quorum_down.as_ref().map(|s| s.user.clone()),
        Some(Some(ScriptUser {
            user: "root".into(),
            group: None
        }))
    );
    let sorry = v.sorry_server.as_ref().expect("sorry_server");
    assert!(sorry.inhibit);
    assert_eq!(sorry.address, addr("10.0.5.1:8443"));

    let ssl = checker(v, "10.0.3.11:8443", 0);
    assert_eq!(ssl.connect, addr("10.0.3.11:8443"));
    // retry 2 from the virtual server; delay_loop 10 from it too.
    assert_eq!(ssl.fall, 3);
    assert_eq!(ssl.delay_loop, Duration::from_secs(10));
    assert_eq!(ssl.warmup, Some(Duration::from_secs(10)));
    assert_eq!(ssl.delay_before_retry, Duration::from_secs(2));
    assert!(ssl.log_all_failures, "global_defs checker_log_all_failures");
    let CheckerKind::Http {
        tls,
        urls,
        virtualhost,
        http_protocol,
        enable_sni,
        ssl: context,
        ..
    } = &ssl.kind
    else {
        panic!("SSL_GET: {:?}", ssl.kind);
    };
    assert!(*tls && *enable_sni);
    assert_eq!(*http_protocol, HttpVersion::Http11);
    assert_eq!(virtualhost.as_deref(), Some("www.example.com"));
    assert_eq!(urls[0].status_codes, [200..=200, 301..=302]);
    assert_eq!(
        urls[1].digest.as_deref(),
        Some("640205b7b0fc66c1ea91c463fac6334d")
    );
    assert_eq!(urls[1].virtualhost.as_deref(), Some("static.example.com"));
    let context = context.as_ref().expect("the SSL block");
    assert_eq!(
        context.certificate.as_deref(),
        Some(Path::new("/etc/keepalived/checker.pem"))
    );

    let http = checker(v, "10.0.3.12:8443", 0);
    assert_eq!(http.connect, addr("10.0.3.12:8080"));
    assert_eq!(
        http.delay_loop,
        Duration::from_secs(20),
        "the real server's"
    );
    assert_eq!(
        http.delay_before_retry,
        Duration::from_secs(3),
        "HTTP_GET's own default"
    );
    assert_eq!(http.connect_timeout, Duration::from_secs(5));
    let tcp = checker(v, "10.0.3.12:8443", 1);
    assert_eq!(tcp.kind, CheckerKind::Tcp);
    assert_eq!(tcp.warmup, None, "warmup 0");
    assert_eq!(tcp.delay_before_retry, Duration::from_secs(1));
    let weights: Vec<u32> = v.real_servers.iter().map(|r| r.weight).collect();
    assert_eq!(weights, [2, 2]);
    assert!(v.real_servers[0].inhibit_on_failure);
}

#[test]
fn udp_smtp_misc_file_and_ping_checkers() {
    let config = load().config;
    let dns = service(&config, "10.0.3.100:53/udp");
    assert_eq!(dns.protocol, L4Protocol::Udp);
    assert!(dns.hash_port && dns.hash_fallback, "sh-port and flag-1");
    let c = checker(dns, "10.0.3.21:53", 0);
    assert_eq!(
        c.kind,
        CheckerKind::Dns {
            record_type: DnsType::A,
            name: "example.com".into()
        }
    );
    assert_eq!(c.fall, 4, "DNS_CHECK retries 3 times");
    assert_eq!(
        c.delay_before_retry,
        Duration::from_secs(5),
        "its delay_loop"
    );
    assert_eq!(
        checker(dns, "10.0.3.21:53", 1).kind,
        CheckerKind::Udp {
            payload: vec![0, 1, 2],
            require_reply: Some(vec![0x00, 0x01]),
            reply_mask: vec![0x0f, 0x00],
            min_reply_length: 0,
            max_reply_length: 512,
        }
    );
    assert_eq!(checker(dns, "10.0.3.22:53", 0).kind, CheckerKind::Ping);

    let mail = service(&config, "10.0.3.100:25/tcp");
    assert!(mail.alpha);
    let smtp = checker(mail, "10.0.3.31:25", 0);
    assert!(smtp.start_down, "alpha is inherited");
    assert_eq!(smtp.fall, 1, "retry 0");
    let misc = checker(mail, "10.0.3.31:25", 1);
    assert_eq!(
        misc.kind,
        CheckerKind::Misc {
            argv: vec!["/usr/local/bin/check_smtp".into(), "10.0.3.31".into()],
            timeout: Duration::from_secs(5),
            dynamic: true,
            user: Some(ScriptUser {
                user: "nobody".into(),
                group: Some("nogroup".into())
            }),
        }
    );
    assert_eq!(misc.fall, 1, "MISC_CHECK's retry defaults to 0");

    let marked = service(&config, "fwmark:7/tcp");
    assert_eq!(marked.matches, [ServiceMatch::Fwmark(7)]);
    assert_eq!(marked.lb_kind, LbKind::Dr);
    assert!(marked.hash_fallback && !marked.hash_port);
    assert_eq!(
        marked.persistence.map(|p| p.timeout),
        Some(Duration::from_secs(360))
    );
    let real = &marked.real_servers[0];
    assert_eq!(
        real.address,
        addr("10.0.3.41:0"),
        "the client's port is kept"
    );
    assert_eq!(
        real.checkers[0].kind,
        CheckerKind::File {
            track_file: "maintenance".into(),
            weight: -5,
            reverse: true
        }
    );
    assert_eq!(real.checkers[1].connect, addr("10.0.3.41:80"));
}

#[test]
fn groups_expand_into_addresses_and_ranges() {
    let config = load().config;
    let v = service(&config, "group:web_vips/tcp");
    assert_eq!(
        v.matches,
        [
            ServiceMatch::Address(addr("10.0.3.100:80")),
            ServiceMatch::Range {
                first: ip("10.0.3.101"),
                last: ip("10.0.3.110"),
                port: 80
            },
            ServiceMatch::Range {
                first: ip("10.0.4.0"),
                last: ip("10.0.4.7"),
                port: 80
            },
        ]
    );
    // A group's real server without a port keeps the client's.
    assert_eq!(v.real_servers[1].address, addr("10.0.3.52:0"));
    assert_eq!(v.real_servers[1].checkers[0].connect, addr("10.0.3.52:80"));
}

#[test]
fn the_toml_twin_is_the_same_configuration() {
    let conf = load();
    let toml = load_toml(fixture("baton.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(toml.warnings.is_empty(), "{:?}", toml.warnings);
    let (a, b) = (conf.config, toml.config);
    assert_eq!(a.virtual_servers.len(), 5);
    for (x, y) in a.virtual_servers.iter().zip(&b.virtual_servers) {
        assert_eq!(x, y, "{}", x.name);
    }
    assert_eq!(a, b);
}

#[test]
fn track_virtual_server_is_tracked_like_a_frontend() {
    let text = r#"
[[vrrp]]
name = "VI_1"
interface = "eth0"
virtual_router_id = 51
virtual_ipaddress = ["10.0.3.100/24"]
track_virtual_server = [{ name = "web", weight = -50 }, "dns", { name = "nope" }]

[[virtual_server]]
name = "web"
address = "10.0.3.100:80"
alpha = true

[[virtual_server.real_server]]
address = "10.0.3.11:80"

[[virtual_server]]
name = "dns"
address = "10.0.3.100:53"
protocol = "udp"

[[virtual_server.real_server]]
address = "10.0.3.21:53"
"#;
    let errors = parse_toml(text, "b.toml").expect_err("nope is not defined");
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        ["b.toml:7: instance VI_1: track_virtual_server nope: no virtual server named nope"]
    );
    let text = text.replace(", { name = \"nope\" }", "");
    let config = parse_toml(&text, "b.toml")
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    let instance = config.instance("VI_1").expect("defined");
    let tracks: Vec<_> = config
        .tracks(instance)
        .into_iter()
        .filter(|t| matches!(t.object, TrackedObject::VirtualServer(_)))
        .map(|t| (t.object, t.weight, t.initially_up))
        .collect();
    assert_eq!(
        tracks,
        [
            (TrackedObject::VirtualServer("web".into()), -50, false),
            (TrackedObject::VirtualServer("dns".into()), 0, true),
        ]
    );
    // Where they are written does not count: a line more above them changes nothing.
    let moved = parse_toml(&format!("\n{text}"), "b.toml")
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    assert_eq!(moved, config);
    let line = |c: &baton_config::Config| c.virtual_servers[0].real_servers[0].location.line;
    assert_eq!(line(&moved), line(&config) + 1);
}

/// keepalived's own quirks of inheritance: MISC_CHECK's timeout is the virtual server's
/// delay_loop, not its own; a DNS_CHECK retries after its delay_loop.
#[test]
fn misc_timeout_defaults_to_the_virtual_servers_delay_loop() {
    let text = r#"virtual_server 10.0.0.1 53 {
    protocol UDP
    delay_loop 30
    real_server 10.0.0.2 53 {
        delay_loop 7
        MISC_CHECK {
            misc_path /bin/true
            misc_timeout 0
        }
        DNS_CHECK {
            delay_loop 4
        }
    }
}
"#;
    let config = parse_keepalived(text, "k.conf")
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    let v = &config.virtual_servers[0];
    let misc = checker(v, "10.0.0.2:53", 0);
    assert_eq!(misc.delay_loop, Duration::from_secs(7));
    let CheckerKind::Misc { timeout, argv, .. } = &misc.kind else {
        panic!("MISC_CHECK: {:?}", misc.kind);
    };
    assert_eq!(*timeout, Duration::from_secs(30));
    assert_eq!(argv, &["/bin/true"]);
    let dns = checker(v, "10.0.0.2:53", 1);
    assert_eq!(dns.delay_before_retry, Duration::from_secs(4));
    assert_eq!(
        dns.kind,
        CheckerKind::Dns {
            record_type: DnsType::Soa,
            name: String::new()
        }
    );
}

/// The example of docs/configuration.md's L4 section is a configuration that loads.
#[test]
fn the_documented_example_loads() {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let doc = std::fs::read_to_string(doc).expect("docs/configuration.md");
    let section = doc
        .split("## L4 virtual servers")
        .nth(1)
        .expect("an L4 section");
    let example = section
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a TOML example");
    let config = parse_toml(example, "configuration.md")
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    let web = service(&config, "web");
    assert_eq!(web.real_servers.len(), 2);
    assert_eq!(web.real_servers[1].checkers[0].kind, CheckerKind::Tcp);
}
