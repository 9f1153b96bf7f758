//! `[[frontend]]`, `[[backend]]` and `track_frontend` in baton.toml: every key into the
//! model, the defaults, and every error as `baton check` prints it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_config::{
    BackendServer, Config, HealthCheck, HealthCheckKind, Location, TlsCertificate, Track,
    TrackOrigin, TrackedObject, load_toml, parse_toml,
};
use baton_proxy::balance::{Algorithm, HashOn};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/proxy")
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("literal address")
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn valid(text: &str) -> (Config, Vec<String>) {
    let loaded = parse_toml(text, "b.toml").unwrap_or_else(|e| panic!("{e}"));
    let warnings = loaded.warnings.iter().map(ToString::to_string).collect();
    (loaded.config, warnings)
}

fn errors(text: &str) -> Vec<String> {
    match parse_toml(text, "b.toml") {
        Ok(loaded) => panic!("expected errors, got {loaded:?}"),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn every_key_reaches_the_model() {
    let path = fixtures().join("full.toml");
    let loaded = load_toml(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let config = loaded.config;
    let at = |line| Location::new(&path, line);
    let cert = |name: &str| fixtures().join("certs").join(name);

    assert_eq!(config.frontends.len(), 2);
    let web = config.frontend("web").expect("defined");
    assert_eq!(web.name, "web");
    assert_eq!(web.listen, addr("10.0.3.100:443"));
    assert_eq!(web.backend, "app");
    assert_eq!(
        web.tls,
        [
            TlsCertificate {
                cert: cert("a.pem"),
                key: cert("a.key"),
                location: at(16).into(),
            },
            TlsCertificate {
                cert: cert("b.pem"),
                key: cert("b.key"),
                location: at(17).into(),
            },
        ]
    );
    let tls_at: Vec<&Location> = web.tls.iter().map(|t| &*t.location).collect();
    assert_eq!(tls_at, [&at(16), &at(17)]);
    assert_eq!(web.max_connections, Some(10_000));
    assert_eq!(web.client_timeout, secs(75.0));
    assert_eq!(web.request_timeout, secs(2.5));
    assert_eq!(web.max_header_size, 16_384);
    assert_eq!(web.drain_timeout, secs(30.0));
    assert_eq!(*web.location, at(11));
    let api = config.frontend("api").expect("defined");
    assert_eq!(api.listen, addr("[2001:db8::100]:8080"));
    assert_eq!(api.backend, "sticky");
    assert!(api.tls.is_empty());
    assert_eq!(*api.location, at(25));

    assert_eq!(config.backends.len(), 2);
    let app = config.backend("app").expect("defined");
    assert_eq!(app.name, "app");
    assert_eq!(
        app.servers,
        [
            BackendServer {
                address: addr("10.0.3.11:8080"),
                weight: 1,
                location: at(33).into(),
            },
            BackendServer {
                address: addr("10.0.3.12:8080"),
                weight: 2,
                location: at(34).into(),
            },
            BackendServer {
                address: addr("[2001:db8::13]:8080"),
                weight: 0,
                location: at(35).into(),
            },
        ]
    );
    let servers_at: Vec<&Location> = app.servers.iter().map(|s| &*s.location).collect();
    assert_eq!(servers_at, [&at(33), &at(34), &at(35)]);
    assert_eq!(app.balance, Algorithm::LeastConnections);
    assert_eq!(app.retries, 2);
    assert_eq!(app.connect_timeout, secs(0.5));
    assert_eq!(app.server_timeout, secs(120.0));
    assert_eq!(app.keepalive, 64);
    assert_eq!(app.keepalive_timeout, secs(2.5));
    assert_eq!(app.slow_start, secs(30.0));
    assert_eq!(app.max_fails, 5);
    assert_eq!(app.fail_timeout, secs(2.0));
    assert_eq!(*app.location, at(30));
    assert_eq!(
        app.health_check,
        Some(HealthCheck {
            kind: HealthCheckKind::Http {
                path: "/healthz?full=1".into(),
                host: Some("app.local".into()),
                expect: 200..=299,
            },
            interval: secs(0.5),
            timeout: secs(0.25),
            rise: 1,
            fall: 2,
            location: at(47).into(),
        })
    );
    let check = app.health_check.as_ref().expect("configured");
    assert_eq!(*check.location, at(47));
    let sticky = config.backend("sticky").expect("defined");
    assert_eq!(
        sticky.balance,
        Algorithm::Maglev {
            on: HashOn::Header("x-user".into())
        }
    );
    let tcp = sticky.health_check.as_ref().expect("configured");
    assert_eq!(tcp.kind, HealthCheckKind::Tcp);
    assert_eq!(*tcp.location, at(62));
    assert_eq!(
        sticky.servers.iter().map(|s| s.address).collect::<Vec<_>>(),
        [addr("10.0.4.11:80"), addr("10.0.4.12:80")]
    );

    let instance = config.instance("VI_1").expect("defined");
    assert_eq!(instance.track_frontends.len(), 2);
    assert_eq!(instance.track_frontends[0].name, "api");
    assert_eq!(instance.track_frontends[0].weight, 0);
    assert_eq!(instance.track_frontends[1].name, "web");
    assert_eq!(instance.track_frontends[1].weight, -60);
    assert_eq!(*instance.track_frontends[1].location, at(9));

    // Where settings are written is not what they say: the same settings a line further
    // down compare equal (a reload changes nothing), and say where they now are.
    let moved = std::fs::read_to_string(&path).expect("fixture");
    let moved = format!("# one more line\n{moved}");
    let again = parse_toml(&moved, &path).expect("valid").config;
    assert_eq!(again, config);
    assert_eq!(*again.frontends[0].tls[1].location, at(18));
    assert_eq!(*again.backends[0].servers[2].location, at(36));
}

#[test]
fn omitted_keys_take_the_proxys_defaults() {
    let (config, warnings) = valid(
        r#"
[[frontend]]
name = "web"
listen = "127.0.0.1:8080"
backend = "app"

[[backend]]
name = "app"
servers = ["127.0.0.1:9001"]
health_check = { type = "http" }

[[backend]]
name = "plain"
servers = ["127.0.0.1:9002"]
"#,
    );
    assert_eq!(warnings, ["b.toml:12: backend plain: no frontend uses it"]);
    let web = &config.frontends[0];
    assert!(web.tls.is_empty());
    assert_eq!(web.max_connections, None);
    assert_eq!(web.client_timeout, secs(60.0));
    assert_eq!(web.request_timeout, secs(10.0));
    assert_eq!(web.max_header_size, 32_768);
    assert_eq!(web.drain_timeout, secs(10.0));
    assert_eq!(web.client_body_timeout, secs(60.0));
    assert_eq!(web.max_connections_per_client, 0, "no limit");
    assert!(web.trusted_proxies.is_empty(), "nobody trusted");

    let app = &config.backends[0];
    assert_eq!(app.servers[0].weight, 1);
    assert_eq!(app.balance, Algorithm::PowerOfTwoChoices);
    assert_eq!(app.retries, 1);
    assert_eq!(app.connect_timeout, secs(3.0));
    assert_eq!(app.server_timeout, secs(60.0));
    assert_eq!(app.keepalive, 256);
    assert_eq!(app.keepalive_timeout, secs(4.0));
    assert_eq!(app.slow_start, Duration::ZERO);
    assert_eq!(app.max_fails, 3);
    assert_eq!(app.fail_timeout, secs(1.0));
    assert_eq!(
        app.health_check,
        Some(HealthCheck {
            kind: HealthCheckKind::Http {
                path: "/".into(),
                host: None,
                expect: 200..=399,
            },
            interval: secs(2.0),
            timeout: secs(1.0),
            rise: 2,
            fall: 3,
            location: Location::new("b.toml", 10).into(),
        })
    );
    let check = app.health_check.as_ref().expect("configured");
    assert_eq!(*check.location, Location::new("b.toml", 10));
    assert_eq!(config.backends[1].health_check, None);

    // The defaults are the proxy's: a key left out means what `baton proxy` does.
    let limits = baton_proxy::Limits::default();
    assert_eq!(web.client_timeout, limits.idle_timeout);
    assert_eq!(web.request_timeout, limits.header_read_timeout);
    assert_eq!(web.client_body_timeout, limits.client_body_timeout);
    assert_eq!(
        web.max_connections_per_client,
        limits.max_connections_per_client
    );
    assert_eq!(app.server_timeout, limits.upstream_timeout);
    assert_eq!(app.keepalive, limits.upstream_max_idle);
    assert_eq!(app.keepalive_timeout, limits.upstream_idle_timeout);
}

/// `keepalive = 0` keeps no idle connection, and the bounds are accepted; fractions and
/// strings of seconds are read as for the other periods.
#[test]
fn keepalive_accepts_zero_and_its_bounds() {
    let cases = [
        ("keepalive = 0", 0, secs(4.0)),
        ("keepalive = 65536", 65_536, secs(4.0)),
        ("keepalive_timeout = 0.25", 256, secs(0.25)),
        ("keepalive = 1\nkeepalive_timeout = \"30\"", 1, secs(30.0)),
    ];
    for (keys, keepalive, timeout) in cases {
        let text = format!(
            "[[frontend]]\nname = \"f\"\nlisten = \"127.0.0.1:80\"\nbackend = \"b\"\n\n\
             [[backend]]\nname = \"b\"\nservers = [\"127.0.0.1:81\"]\n{keys}\n"
        );
        let (config, _) = valid(&text);
        assert_eq!(config.backends[0].keepalive, keepalive, "{keys}");
        assert_eq!(config.backends[0].keepalive_timeout, timeout, "{keys}");
    }
}

#[test]
fn bad_keepalive_values_are_errors_at_their_line() {
    let text = r#"[[frontend]]
name = "web"
listen = "127.0.0.1:80"
backend = "a"

[[backend]]
name = "a"
servers = ["127.0.0.1:81"]
keepalive = -1
keepalive_timeout = 0

[[backend]]
name = "b"
servers = ["127.0.0.1:82"]
keepalive = 65537
keepalive_timeout = -2

[[backend]]
name = "c"
servers = ["127.0.0.1:83"]
keepalive = 1.5
keepalive_timeout = "soon"

[[backend]]
name = "d"
servers = ["127.0.0.1:84"]
keep_alive = 8
"#;
    assert_eq!(
        errors(text),
        [
            "b.toml:9: backend a: keepalive -1 is out of range 0..=65536",
            "b.toml:10: backend a: keepalive_timeout must be more than 0 seconds",
            "b.toml:15: backend b: keepalive 65537 is out of range 0..=65536",
            "b.toml:16: backend b: keepalive_timeout: keepalive_timeout must be a number of seconds, not -2",
            "b.toml:21: backend c: keepalive: invalid type: floating point `1.5`, expected an integer",
            "b.toml:22: backend c: keepalive_timeout: 'soon' is not a number of seconds",
            "b.toml:27: backend d: unknown key 'keep_alive'",
        ]
    );
}

#[test]
fn balance_and_hash_map_onto_the_proxys_algorithm() {
    let cases = [
        ("", Algorithm::PowerOfTwoChoices),
        ("balance = \"p2c\"", Algorithm::PowerOfTwoChoices),
        ("balance = \"random\"", Algorithm::PowerOfTwoChoices),
        ("balance = \"roundrobin\"", Algorithm::RoundRobin),
        ("balance = \"leastconn\"", Algorithm::LeastConnections),
        (
            "balance = \"maglev\"",
            Algorithm::Maglev {
                on: HashOn::ClientAddr,
            },
        ),
        (
            "balance = \"maglev\"\nhash = \"source\"",
            Algorithm::Maglev {
                on: HashOn::ClientAddr,
            },
        ),
        (
            "balance = \"maglev\"\nhash = \"path\"",
            Algorithm::Maglev { on: HashOn::Path },
        ),
    ];
    for (keys, expected) in cases {
        let text = format!(
            "[[frontend]]\nname = \"f\"\nlisten = \"127.0.0.1:80\"\nbackend = \"b\"\n\n\
             [[backend]]\nname = \"b\"\nservers = [\"127.0.0.1:81\"]\n{keys}\n"
        );
        let (config, _) = valid(&text);
        assert_eq!(config.backends[0].balance, expected, "{keys}");
    }
}

/// Every check of the proxy sections, each at the line of the key or entry at fault, all
/// in one run.
#[test]
fn every_error_is_reported_at_its_line_and_all_together() {
    let text = r#"[[vrrp]]
name = "VI_1"
interface = "eth0"
virtual_router_id = 1
virtual_ipaddress = ["10.0.3.100"]
track_frontend = ["nope", { name = "web", weight = 300 }]

[[frontend]]
name = "web"
listen = "10.0.3.100:80"
backend = "missing"
colour = "blue"

[[frontend]]
name = "web"
listen = "10.0.3.100:80"
backend = "app"

[[frontend]]
name = "other"
listen = "10.0.3.100"
backend = "app"
tls = [{ cert = "certs/a.pem" }, "x.pem"]
max_header_size = 10
max_connections = 0

[[frontend]]
name = "zero"
listen = "10.0.3.100:0"
backend = "app"
request_timeout = 0
client_timeout = "soon"

[[frontend]]
name = "named"
listen = "lb.example:80"

[[backend]]
name = "app"
servers = [
    "10.0.3.11:8080",
    "10.0.3.11:8080",
    { address = "10.0.3.12:8080", weight = 300 },
    "10.0.3.13",
    "10.0.3.14:0",
    { address = "10.0.3.15:80", port = 1 },
]
balance = "wrr"
hash = "source"
connect_timeout = 0

[backend.health_check]
type = "http"
path = "healthz"
expect_status = "200-99"
interval = 0
timeout = 0
rise = 0
fall = 0
bogus = 1

[[backend]]
name = "app"
balance = "roundrobin"
hash = "path"

[backend.health_check]
type = "tcp"
path = "/"
host = "x"
expect_status = "200"

[[backend]]
name = "hashed"
servers = ["10.0.5.1:80"]
balance = "maglev"
hash = "hdr(a b)"
health_check = { type = "icmp", expect_status = 600 }

[[backend]]
name = "untyped"
servers = ["10.0.6.1:80"]
health_check = { interval = 1 }
"#;
    assert_eq!(
        errors(text),
        [
            "b.toml:6: instance VI_1: track_frontend: weight 300 is out of range -253..=253",
            "b.toml:6: instance VI_1: track_frontend nope: no frontend named nope",
            "b.toml:11: frontend web: backend missing: no backend named missing",
            "b.toml:12: frontend web: unknown key 'colour'",
            "b.toml:14: frontend web is defined twice (first at b.toml:8)",
            "b.toml:21: frontend other: listen '10.0.3.100' has no port: write IP:PORT (IPv6 as [::1]:80)",
            "b.toml:23: frontend other: tls: no 'key'",
            "b.toml:23: frontend other: tls entries are { cert, key } tables",
            "b.toml:24: frontend other: max_header_size 10 is out of range 1024..=409600",
            "b.toml:25: frontend other: max_connections 0 is out of range 1..=2147483647",
            "b.toml:29: frontend zero: listen '10.0.3.100:0': the port must be 1..=65535, not 0",
            "b.toml:31: frontend zero: request_timeout must be more than 0 seconds",
            "b.toml:32: frontend zero: client_timeout: 'soon' is not a number of seconds",
            "b.toml:34: frontend named: no 'backend'",
            "b.toml:36: frontend named: listen 'lb.example:80' is not IP:PORT (IPv6 as [::1]:80; host names are not resolved)",
            "b.toml:42: backend app: server 10.0.3.11:8080 is listed twice (first at b.toml:41)",
            "b.toml:43: backend app: servers: weight 300 is out of range 0..=256",
            "b.toml:44: backend app: server '10.0.3.13' has no port: write IP:PORT (IPv6 as [::1]:80)",
            "b.toml:45: backend app: server '10.0.3.14:0': the port must be 1..=65535, not 0",
            "b.toml:46: backend app: servers: unexpected 'port = 1'",
            "b.toml:48: backend app: balance 'wrr': expected p2c, roundrobin, leastconn or maglev",
            "b.toml:50: backend app: connect_timeout must be more than 0 seconds",
            "b.toml:54: backend app: health_check: path 'healthz' must start with '/'",
            "b.toml:55: backend app: health_check: expect_status '200-99': expected a status like \"200\" or a range like \"200-399\", within 100..=599",
            "b.toml:56: backend app: health_check: interval must be more than 0 seconds",
            "b.toml:57: backend app: health_check: timeout must be more than 0 seconds",
            "b.toml:58: backend app: health_check: rise 0 is out of range 1..=2147483647",
            "b.toml:59: backend app: health_check: fall 0 is out of range 1..=2147483647",
            "b.toml:60: backend app: health_check: unknown key 'bogus'",
            "b.toml:62: backend app is defined twice (first at b.toml:38)",
            "b.toml:65: backend app: hash applies only to balance = \"maglev\", not \"roundrobin\"",
            "b.toml:69: backend app: health_check: path applies only to type = \"http\"",
            "b.toml:70: backend app: health_check: host applies only to type = \"http\"",
            "b.toml:71: backend app: health_check: expect_status applies only to type = \"http\"",
            "b.toml:77: backend hashed: hash 'hdr(a b)': 'a b' is not a valid header name",
            "b.toml:78: backend hashed: health_check: type 'icmp': expected http or tcp",
            "b.toml:78: backend hashed: health_check: expect_status '600': expected a status like \"200\" or a range like \"200-399\", within 100..=599",
            "b.toml:83: backend untyped: health_check: no 'type' (http or tcp)",
        ]
    );
}

#[test]
fn two_frontends_cannot_listen_on_one_address() {
    let text = r#"[[frontend]]
name = "a"
listen = "[::1]:8080"
backend = "app"

[[frontend]]
name = "b"
listen = "[0:0::1]:8080"
backend = "app"

[[frontend]]
name = "c"
listen = "127.0.0.1:8080"
backend = "app"

[[backend]]
name = "app"
servers = ["127.0.0.1:9000"]
"#;
    assert_eq!(
        errors(text),
        ["b.toml:8: frontend b: listen [::1]:8080 is already used by frontend a at b.toml:3"]
    );
}

/// Errors for a frontend "web" whose `tls` list (lines 6 on) is `entries`, in a file in the
/// fixtures directory: the file's name as messages show it, and the messages.
fn tls_errors(entries: &str) -> (String, Vec<String>) {
    let text = format!(
        "[[frontend]]\nname = \"web\"\nlisten = \"127.0.0.1:8443\"\nbackend = \"app\"\n\
         tls = [\n{entries}]\n\n[[backend]]\nname = \"app\"\nservers = [\"127.0.0.1:9000\"]\n"
    );
    let path = fixtures().join("inline.toml");
    let errors = parse_toml(&text, &path).expect_err("bad certificates");
    (
        path.display().to_string(),
        errors.iter().map(ToString::to_string).collect(),
    )
}

#[test]
fn a_key_of_another_certificate_or_a_bad_pem_is_an_error() {
    let (file, lines) = tls_errors(
        r#"    { cert = "certs/a.pem", key = "certs/b.key" },
    { cert = "certs/README.md", key = "certs/a.key" },
    { cert = "certs/b.pem", key = "certs/b.key" },
"#,
    );
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[0].starts_with(&format!("{file}:6: frontend web: tls: ")),
        "{lines:#?}"
    );
    assert!(
        lines[0].contains("a.pem") && lines[0].contains("b.key"),
        "{lines:#?}"
    );
    assert!(
        lines[1].starts_with(&format!("{file}:7: frontend web: tls: "))
            && lines[1].contains("README.md"),
        "{lines:#?}"
    );
}

#[test]
fn unreadable_certificates_name_the_file_and_the_reason() {
    let dir = fixtures();
    let (file, lines) = tls_errors(
        r#"    { cert = "certs/a.pem", key = "certs/a.key" },
    { cert = "/nonexistent/baton/b.pem", key = "certs" },
"#,
    );
    assert_eq!(
        lines,
        [
            format!(
                "{file}:7: frontend web: tls cert /nonexistent/baton/b.pem: cannot read: No such file or directory (os error 2)"
            ),
            format!(
                "{file}:7: frontend web: tls key {}: cannot read: Is a directory (os error 21)",
                dir.join("certs").display()
            ),
        ]
    );
}

#[test]
fn backends_without_servers_or_frontends_are_warnings() {
    let (config, warnings) = valid(
        r#"[[frontend]]
name = "web"
listen = "127.0.0.1:80"
backend = "empty"

[[backend]]
name = "empty"

[[backend]]
name = "spare"
servers = ["127.0.0.1:81"]
"#,
    );
    assert_eq!(
        warnings,
        [
            "b.toml:6: backend empty: no servers; every request to it gets a 503",
            "b.toml:9: backend spare: no frontend uses it",
        ]
    );
    assert!(config.backends[0].servers.is_empty());
    assert!(
        config.instances.is_empty(),
        "a proxy alone is a configuration"
    );
}

#[test]
fn tracked_frontends_reach_the_engines_track_list() {
    let (config, warnings) = valid(
        r#"[[vrrp_script]]
name = "chk"
script = "/bin/true"

[[vrrp]]
name = "VI_1"
interface = "eth0"
virtual_router_id = 1
virtual_ipaddress = ["10.0.3.100"]
track_script = ["chk"]
track_frontend = ["web", { name = "api", weight = -60 }, { name = "web", weight = 20 }]

[[vrrp]]
name = "OWNER"
interface = "eth0"
virtual_router_id = 2
priority = 255
virtual_ipaddress = ["10.0.3.101"]
track_frontend = ["web", { name = "api", weight = -60 }]

[[frontend]]
name = "web"
listen = "10.0.3.100:80"
backend = "app"

[[frontend]]
name = "api"
listen = "10.0.3.100:8080"
backend = "app"

[[backend]]
name = "app"
servers = ["10.0.3.11:8080"]
"#,
    );
    assert_eq!(
        warnings,
        [
            "b.toml:19: instance OWNER: tracked frontend api with weight -60 ignored because it is the address owner (priority 255)"
        ]
    );
    let track = |object, weight| Track {
        object,
        weight,
        reverse: false,
        initially_up: true,
        origin: TrackOrigin::Instance,
    };
    let frontend = |name: &str| TrackedObject::Frontend(name.into());
    let tracks = config.tracks(config.instance("VI_1").expect("defined"));
    assert_eq!(
        tracks[1..],
        [
            track(TrackedObject::Script("chk".into()), 0),
            track(frontend("web"), 0),
            track(frontend("api"), -60),
            track(frontend("web"), 20),
        ]
    );
    let owner = config.tracks(config.instance("OWNER").expect("defined"));
    assert_eq!(owner[1..], [track(frontend("web"), 0)]);
    // The engine numbers them the same way.
    let instance = config.instance("VI_1").expect("defined");
    let engine = instance.engine_config("10.0.3.5".parse().expect("literal"), &tracks);
    assert_eq!(engine.tracks.len(), tracks.len());
    assert_eq!(engine.tracks[3].weight, -60);
}

#[test]
fn a_frontend_needs_listen_and_backend() {
    assert_eq!(
        errors(
            "[[frontend]]\nname = \"web\"\n\n[[backend]]\nname = \"app\"\nservers = [\"127.0.0.1:81\"]\n"
        ),
        [
            "b.toml:1: frontend web: no 'listen' address",
            "b.toml:1: frontend web: no 'backend'",
        ]
    );
    // A value of the wrong type is one error, not two.
    assert_eq!(
        errors(
            "[[frontend]]\nname = \"web\"\nlisten = 80\nbackend = \"app\"\n\n[[backend]]\nname = \"app\"\n"
        ),
        ["b.toml:3: frontend web: listen: invalid type: integer `80`, expected a string"]
    );
    assert_eq!(
        errors("frontend = 1\n"),
        ["b.toml:1: 'frontend' must be an array of tables: write [[frontend]]"]
    );
}

/// The hardening keys: a body timeout, a per-client connection limit and the proxies whose
/// X-Forwarded-For is believed.
#[test]
fn hardening_keys_reach_the_model() {
    let (config, warnings) = valid(
        r#"
[[frontend]]
name = "web"
listen = "127.0.0.1:8080"
backend = "app"
client_body_timeout = 7.5
max_connections_per_client = 64
trusted_proxies = ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]

[[backend]]
name = "app"
servers = ["127.0.0.1:9001"]
"#,
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let web = &config.frontends[0];
    assert_eq!(web.client_body_timeout, secs(7.5));
    assert_eq!(web.max_connections_per_client, 64);
    let trusted: Vec<String> = web
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(trusted, ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"]);
    assert!(web.trusted_proxies[0].contains("10.1.2.3".parse().expect("ip")));
}

#[test]
fn bad_hardening_values_are_errors_at_their_line() {
    let errors = errors(
        r#"[[frontend]]
name = "web"
listen = "127.0.0.1:8080"
backend = "app"
client_body_timeout = 0
max_connections_per_client = -1
trusted_proxies = [
    "10.0.0.0/33",
    "proxy.example",
    8,
]

[[backend]]
name = "app"
servers = ["127.0.0.1:9001"]
"#,
    );
    let expected = [
        "b.toml:5: frontend web: client_body_timeout",
        "b.toml:6: frontend web: max_connections_per_client",
        "b.toml:8: frontend web: trusted_proxies: '10.0.0.0/33'",
        "b.toml:9: frontend web: trusted_proxies: 'proxy.example'",
        "b.toml:10: frontend web: trusted_proxies: 8 is not a string",
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (error, start) in errors.iter().zip(expected) {
        assert!(
            error.starts_with(start),
            "{error:?} should start with {start:?}"
        );
    }
}
