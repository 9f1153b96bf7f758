//! `baton run` with L4 virtual servers, in the guide's lab: the daemon's checkers take a
//! failed real server out of the kernel's table and put it back, the status and the
//! control commands see the real servers, a reload applies a new server set, and the
//! tables leave the kernel when the daemon stops.
//!
//! The apps are `baton demo-app` (they answer with their name). NAT services here use
//! `snat`, because the guide's lab is one LAN: without it the apps would answer the client
//! directly, around the load balancer.

mod common;

use std::process::Stdio;
use std::time::Duration;

use baton_lab::{Host, Lab};
use common::{Daemon, Workdir, guide_lab, start_app, status_of, wait_for};

/// lb1 master of the VIP, and a NAT service on it over app1 and app2 (port 8080), each
/// checked by TCP_CHECK every 0.3 s.
fn nat_config(servers: &[&str]) -> String {
    let mut config = String::from(
        r#"[[vrrp]]
name = "VI_1"
interface = "eth0"
virtual_router_id = 51
version = 3
priority = 150
advert_int = 0.1
virtual_ipaddress = ["10.0.3.100/24"]
track_virtual_server = [{ name = "web", weight = -60 }]

[[virtual_server]]
name = "web"
address = "10.0.3.100:80"
protocol = "TCP"
lb_algo = "rr"
lb_kind = "NAT"
snat = true
delay_loop = 0.3
"#,
    );
    for server in servers {
        config.push_str(&format!(
            r#"
[[virtual_server.real_server]]
address = "{server}"
[virtual_server.real_server.TCP_CHECK]
connect_timeout = 0.5
retry = 1
delay_before_retry = 0.1
"#
        ));
    }
    config
}

/// `n` connections to the VIP from the client, each a GET on a new connection: the
/// answering apps' names, and the number of failures.
fn requests(client: &Host, n: usize) -> (Vec<String>, usize) {
    let script = format!(
        r#"
import socket
names, failed = [], 0
for _ in range({n}):
    try:
        s = socket.create_connection(("10.0.3.100", 80), timeout=2)
        s.sendall(b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        names.append(data.split(b"\r\n\r\n", 1)[1].split()[0].decode())
    except Exception:
        failed += 1
print(" ".join(names))
print(failed)
"#
    );
    let out = client.run("python3", &["-c", &script]).expect("client");
    let mut lines = out.lines();
    let names = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let failed = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(n);
    (names, failed)
}

fn real_server<'a>(status: &'a serde_json::Value, address: &str) -> &'a serde_json::Value {
    status["virtual_servers"][0]["real_servers"]
        .as_array()
        .and_then(|servers| servers.iter().find(|s| s["address"] == address))
        .unwrap_or(&serde_json::Value::Null)
}

fn lb_ready(lab: &Lab, lb: &Daemon) {
    let lb1 = lab.host("lb1");
    if wait_for(Duration::from_secs(10), || common::holds(lb1, common::VIP)).is_none() {
        common::fail("lb1 never took the VIP", &[lb]);
    }
}

/// The guide's lab with lb1 forwarding (NAT needs it), or `None` after a loud skip line
/// where namespaces or nft are missing.
fn l4_lab(test: &str) -> Option<Lab> {
    if !common::on_path("nft") {
        eprintln!("SKIPPED (needs nft, from nftables): {test}");
        return None;
    }
    let lab = guide_lab(test)?;
    lab.host("lb1")
        .run("sysctl", &["-qw", "net.ipv4.ip_forward=1"])
        .expect("ip_forward");
    Some(lab)
}

fn nft_tables(host: &Host) -> String {
    host.run("nft", &["list", "tables"]).unwrap_or_default()
}

#[test]
fn checkers_take_a_failed_real_server_out_and_put_it_back() {
    let test = "checkers_take_a_failed_real_server_out_and_put_it_back";
    let Some(lab) = l4_lab(test) else {
        return;
    };
    let dir = Workdir::new("l4-checkers");
    let _app1 = start_app(lab.host("app1"), 8080);
    let mut app2 = start_app(lab.host("app2"), 8080);
    let lb = common::start_baton_toml(
        lab.host("lb1"),
        &dir,
        &nat_config(&["10.0.3.11:8080", "10.0.3.12:8080"]),
    );
    lb_ready(&lab, &lb);
    let client = lab.host("client");

    // Both apps answer, in turn.
    let both_up = wait_for(Duration::from_secs(10), || {
        let (names, failed) = requests(client, 6);
        failed == 0 && names.iter().any(|n| n == "app1") && names.iter().any(|n| n == "app2")
    });
    if both_up.is_none() {
        common::fail("the VIP never balanced over app1 and app2", &[&lb]);
    }
    let status = status_of(lab.host("lb1"), &dir);
    assert_eq!(status["virtual_servers"][0]["name"], "web", "{status}");
    assert_eq!(
        real_server(&status, "10.0.3.12:8080")["check"],
        "up",
        "{status}"
    );
    assert!(nft_tables(lab.host("lb1")).contains("inet baton"));

    // app2 dies: once the checker has seen it, no new connection fails.
    app2.kill();
    let detected = wait_for(Duration::from_secs(5), || {
        real_server(&status_of(lab.host("lb1"), &dir), "10.0.3.12:8080")["check"] == "down"
    });
    if detected.is_none() {
        common::fail("the checker never saw app2 go", &[&lb]);
    }
    let (names, failed) = requests(client, 20);
    assert_eq!(failed, 0, "connections failed after detection: {names:?}");
    assert!(names.iter().all(|n| n == "app1"), "{names:?}");
    let status = status_of(lab.host("lb1"), &dir);
    let app2_status = real_server(&status, "10.0.3.12:8080");
    assert_eq!(app2_status["up"], false, "{status}");
    assert!(
        app2_status["last_check"]
            .as_str()
            .is_some_and(|c| c.contains("TCP_CHECK")),
        "{status}"
    );
    // The last probe, as a backend server's last check: failed, why, and how long it took.
    let probe = &app2_status["last_probe"];
    assert_eq!(probe["passed"], false, "{status}");
    assert!(
        probe["failure"].as_str().is_some_and(|f| !f.is_empty()) && probe["latency_us"].is_u64(),
        "{status}"
    );
    let app1_probe = &real_server(&status, "10.0.3.11:8080")["last_probe"];
    assert_eq!(app1_probe["passed"], true, "{status}");
    assert_eq!(app1_probe["failure"], "", "{status}");
    assert_eq!(status["virtual_servers"][0]["quorum_up"], true);

    // app2 back: it takes flows again.
    let _app2 = start_app(lab.host("app2"), 8080);
    let back = wait_for(Duration::from_secs(10), || {
        let (names, failed) = requests(client, 6);
        failed == 0 && names.iter().any(|n| n == "app2")
    });
    if back.is_none() {
        common::fail("app2 never came back", &[&lb]);
    }

    // The operator drains app1: new flows go to app2 only.
    let socket = dir.path("lb1.sock");
    let out = lab
        .host("lb1")
        .run(
            env!("CARGO_BIN_EXE_baton"),
            &[
                "server",
                "drain",
                "web",
                "10.0.3.11:8080",
                "--control",
                socket.to_str().expect("utf-8"),
            ],
        )
        .expect("baton server drain");
    assert!(out.contains("web 10.0.3.11:8080: drain, weight"), "{out}");
    let drained = wait_for(Duration::from_secs(3), || {
        let (names, failed) = requests(client, 6);
        failed == 0 && names.iter().all(|n| n == "app2")
    });
    if drained.is_none() {
        common::fail("app1 still took new flows after drain", &[&lb]);
    }

    // SIGTERM: the tables leave the kernel.
    drop(lb);
    let gone = wait_for(Duration::from_secs(5), || {
        !nft_tables(lab.host("lb1")).contains("baton")
    });
    assert!(gone.is_some(), "{}", nft_tables(lab.host("lb1")));
}

#[test]
fn losing_quorum_lowers_the_priority_and_a_reload_brings_servers_in() {
    let test = "losing_quorum_lowers_the_priority_and_a_reload_brings_servers_in";
    let Some(lab) = l4_lab(test) else {
        return;
    };
    let dir = Workdir::new("l4-quorum");
    // Only app1's port 9090 is configured, and nothing listens there: no quorum.
    let lb = common::start_baton_toml(lab.host("lb1"), &dir, &nat_config(&["10.0.3.11:9090"]));
    lb_ready(&lab, &lb);
    let lowered = wait_for(Duration::from_secs(5), || {
        let status = status_of(lab.host("lb1"), &dir);
        status["virtual_servers"][0]["quorum_up"] == false
            && status["vrrp"][0]["effective_priority"] == 90
    });
    if lowered.is_none() {
        common::fail("quorum loss did not lower the priority to 90", &[&lb]);
    }

    // A reload with a live server: quorum back, priority back, flows served.
    let _app1 = start_app(lab.host("app1"), 8080);
    dir.write("lb1.toml", &nat_config(&["10.0.3.11:8080"]));
    let socket = dir.path("lb1.sock");
    let out = lab
        .host("lb1")
        .run(
            env!("CARGO_BIN_EXE_baton"),
            &["reload", "--control", socket.to_str().expect("utf-8")],
        )
        .expect("baton reload");
    assert!(out.contains("applied") || out.contains("reload"), "{out}");
    let restored = wait_for(Duration::from_secs(10), || {
        let status = status_of(lab.host("lb1"), &dir);
        status["virtual_servers"][0]["quorum_up"] == true
            && status["vrrp"][0]["effective_priority"] == 150
    });
    if restored.is_none() {
        common::fail("quorum did not come back after the reload", &[&lb]);
    }
    let (names, failed) = requests(lab.host("client"), 4);
    assert_eq!((failed, names.len()), (0, 4), "{names:?}");
}

/// An LVS-DR real server: the VIP on lo, no ARP answers for it, a web app on port 80 and a
/// UDP responder on port 5353 that answers with its name.
fn start_dr_app(host: &Host) -> Vec<baton_lab::Child> {
    for args in [
        &["-qw", "net.ipv4.conf.all.arp_ignore=1"][..],
        &["-qw", "net.ipv4.conf.all.arp_announce=2"][..],
    ] {
        host.run("sysctl", args).expect("sysctl");
    }
    host.run("ip", &["address", "add", "10.0.3.100/32", "dev", "lo"])
        .expect("VIP on lo");
    // Bound to the VIP, so answers leave from it; and to the host's own address, which is
    // where UDP_CHECK probes.
    let udp = format!(
        "import select, socket\nsockets = []\nfor address in ('10.0.3.100', '{}'):\n    \
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n    s.bind((address, 5353))\n    \
         sockets.append(s)\nwhile True:\n    for s in select.select(sockets, [], [])[0]:\n        \
         data, peer = s.recvfrom(2048)\n        s.sendto(b'{}', peer)\n",
        host.address(),
        host.name()
    );
    let mut responder = host.command("python3");
    responder
        .args(["-c", &udp])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    vec![
        start_app(host, 80),
        host.spawn(responder).expect("UDP responder"),
    ]
}

/// keepalived.conf as an operator writes it for LVS-DR: a TCP and a UDP service on the
/// VIP, each real server checked.
const DR_KEEPALIVED_CONF: &str = r#"
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {
        10.0.3.100/24
    }
}

virtual_server 10.0.3.100 80 {
    delay_loop 1
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.0.3.11 80 {
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
    real_server 10.0.3.12 80 {
        HTTP_GET {
            url {
                path /
                status_code 200
            }
            connect_timeout 1
            retry 0
        }
    }
}

virtual_server 10.0.3.100 5353 {
    delay_loop 1
    lb_algo sh
    sh-port
    lb_kind DR
    protocol UDP
    real_server 10.0.3.11 5353 {
        UDP_CHECK {
            connect_timeout 1
        }
    }
    real_server 10.0.3.12 5353 {
        UDP_CHECK {
            connect_timeout 1
        }
    }
}
"#;

/// `n` UDP queries from the client to the VIP, each from a new source port.
fn udp_queries(client: &Host, n: usize) -> Vec<String> {
    let script = format!(
        "import socket\nnames = []\nfor _ in range({n}):\n    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n    \
         s.settimeout(1)\n    s.connect(('10.0.3.100', 5353))\n    s.send(b'q')\n    try:\n        \
         names.append(s.recv(64).decode())\n    except OSError:\n        names.append('-')\n    s.close()\nprint(' '.join(names))\n"
    );
    client
        .run("python3", &["-c", &script])
        .expect("UDP client")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn keepalived_conf_direct_routing_balances_tcp_and_udp() {
    let test = "keepalived_conf_direct_routing_balances_tcp_and_udp";
    // A TCP and a UDP service, a slot table each: too large for nft without real root.
    if baton_lab::skip_in_rootless_lab(test, baton_lab::NFT_TRANSACTIONS_ABOVE_212_KB) {
        return;
    }
    let Some(lab) = l4_lab(test) else {
        return;
    };
    let dir = Workdir::new("l4-dr");
    let _app1 = start_dr_app(lab.host("app1"));
    let mut app2 = start_dr_app(lab.host("app2"));
    let lb = common::start_baton(lab.host("lb1"), &dir, DR_KEEPALIVED_CONF);
    lb_ready(&lab, &lb);
    let client = lab.host("client");

    // TCP: new connections spread over both apps (flow hashing on the client's port).
    let spread = wait_for(Duration::from_secs(10), || {
        let (names, failed) = requests(client, 12);
        failed == 0 && names.iter().any(|n| n == "app1") && names.iter().any(|n| n == "app2")
    });
    if spread.is_none() {
        common::fail("DR never spread TCP over app1 and app2", &[&lb]);
    }
    // UDP: every query answered, both apps in use.
    let names = udp_queries(client, 16);
    assert!(!names.iter().any(|n| n == "-"), "unanswered: {names:?}");
    assert!(
        names.iter().any(|n| n == "app1") && names.iter().any(|n| n == "app2"),
        "{names:?}"
    );
    let status = status_of(lab.host("lb1"), &dir);
    let services = status["virtual_servers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = services.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(
        names,
        ["10.0.3.100:5353/udp", "10.0.3.100:80/tcp"],
        "{status}"
    );
    assert!(services.iter().all(|s| s["lb_kind"] == "DR"), "{status}");

    // app2 gone: HTTP_GET and UDP_CHECK notice, and everything goes to app1.
    for child in &mut app2 {
        child.kill();
    }
    let moved = wait_for(Duration::from_secs(8), || {
        let status = status_of(lab.host("lb1"), &dir);
        status["virtual_servers"]
            .as_array()
            .is_some_and(|services| {
                services.iter().all(|s| {
                    s["real_servers"]
                        .as_array()
                        .is_some_and(|rs| rs.iter().any(|r| r["check"] == "down"))
                })
            })
    });
    if moved.is_none() {
        common::fail("the checkers never saw app2 go", &[&lb]);
    }
    let (names, failed) = requests(client, 12);
    assert_eq!(failed, 0, "{names:?}");
    assert!(names.iter().all(|n| n == "app1"), "{names:?}");
    let names = udp_queries(client, 8);
    assert!(names.iter().all(|n| n == "app1"), "{names:?}");
}

/// A keep-alive HTTP connection from the client to the VIP, driven line by line: each line
/// on its stdin sends one request on the same connection and prints the answering app.
struct KeptConnection {
    child: baton_lab::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

const KEPT_CLIENT: &str = r#"
import http.client, sys
conn = http.client.HTTPConnection("10.0.3.100", 80, timeout=3)
for _ in sys.stdin:
    try:
        conn.request("GET", "/")
        print(conn.getresponse().read().decode().split()[0], flush=True)
    except Exception as e:
        print("failed:" + type(e).__name__, flush=True)
"#;

impl KeptConnection {
    fn open(client: &Host) -> KeptConnection {
        let mut command = client.command("python3");
        command
            .args(["-c", KEPT_CLIENT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = client.spawn(command).expect("client");
        let stdin = child.inner_mut().stdin.take().expect("stdin");
        let stdout = child.inner_mut().stdout.take().expect("stdout");
        KeptConnection {
            child,
            stdin,
            stdout: std::io::BufReader::new(stdout),
        }
    }

    fn get(&mut self) -> String {
        use std::io::{BufRead as _, Write as _};
        writeln!(self.stdin, "go").expect("client stdin");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("client stdout");
        line.trim().to_owned()
    }
}

impl Drop for KeptConnection {
    fn drop(&mut self) {
        self.child.kill();
    }
}

#[test]
fn a_reload_keeps_established_flows_to_unchanged_real_servers() {
    let test = "a_reload_keeps_established_flows_to_unchanged_real_servers";
    let Some(lab) = l4_lab(test) else {
        return;
    };
    let dir = Workdir::new("l4-reload");
    let _app1 = start_app(lab.host("app1"), 8080);
    let _app2 = start_app(lab.host("app2"), 8080);
    let _app1b = start_app(lab.host("app1"), 8081);
    let lb = common::start_baton_toml(
        lab.host("lb1"),
        &dir,
        &nat_config(&["10.0.3.11:8080", "10.0.3.12:8080"]),
    );
    lb_ready(&lab, &lb);
    let client = lab.host("client");
    if wait_for(Duration::from_secs(10), || requests(client, 2).1 == 0).is_none() {
        common::fail("the VIP never answered", &[&lb]);
    }
    let mut kept = KeptConnection::open(client);
    let first = kept.get();
    assert!(first == "app1" || first == "app2", "{first}");

    // A reload that adds a third server and changes the scheduler: the established
    // connection goes on to the same app, and new connections reach the new server too.
    let mut config = nat_config(&["10.0.3.11:8080", "10.0.3.12:8080", "10.0.3.11:8081"]);
    config = config.replace("lb_algo = \"rr\"", "lb_algo = \"wrr\"");
    dir.write("lb1.toml", &config);
    let socket = dir.path("lb1.sock");
    let out = lab
        .host("lb1")
        .run(
            env!("CARGO_BIN_EXE_baton"),
            &["reload", "--control", socket.to_str().expect("utf-8")],
        )
        .expect("baton reload");
    assert!(out.contains("reloaded"), "{out}");
    for _ in 0..5 {
        assert_eq!(kept.get(), first, "the kept connection moved or broke");
    }
    let in_use = wait_for(Duration::from_secs(5), || {
        let (_, failed) = requests(client, 4);
        let status = status_of(lab.host("lb1"), &dir);
        let connections = real_server(&status, "10.0.3.11:8081")["connections"].as_u64();
        failed == 0 && connections.is_some_and(|n| n > 0)
    });
    assert!(in_use.is_some(), "the new server never took a flow");
    let (names, failed) = requests(client, 9);
    assert_eq!(failed, 0, "{names:?}");
}
