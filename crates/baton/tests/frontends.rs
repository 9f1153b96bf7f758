//! `baton run` with `[[frontend]]` and `[[backend]]`: the daemon's own proxies.
//!
//! On loopback (any user): requests spread over the backend, `baton status --json` lists the
//! servers, SIGHUP swaps the server set live. On the guide's lab (root): both LBs proxy on
//! the VIP; a frontend whose backend fails its health checks gives the mastership away
//! (`track_frontend`); SIGTERM on the master drains without one failed request.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use baton_lab::Host;
use common::loopback::{Running, free_port, get, loopback_config, upstream};
use common::{Daemon, Workdir, assert_holders, fail, guide_lab, holds, status_of, wait_for};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

#[test]
fn loopback_frontend_balances_reports_and_reloads_live() {
    let dir = Workdir::new("frontend-loopback");
    let (a, b, c) = (upstream("a"), upstream("b"), upstream("c"));
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let config = dir.write("baton.toml", &loopback_config(listen, &[a, b]));
    let daemon = Running::start(&dir, &config, &[]);
    if wait_for(Duration::from_secs(10), || get(listen).is_ok()).is_none() {
        panic!("the frontend never answered\n{}", daemon.log());
    }

    let answered: BTreeSet<String> = (0..6).map(|_| get(listen).expect("GET")).collect();
    assert_eq!(
        answered,
        BTreeSet::from(["a".to_owned(), "b".to_owned()]),
        "round robin over both servers"
    );

    let status = daemon.status();
    let servers = status["backends"].as_array().expect("backends");
    let addresses: BTreeSet<&str> = servers
        .iter()
        .map(|s| s["address"].as_str().expect("address"))
        .collect();
    assert_eq!(
        addresses,
        BTreeSet::from([a.to_string().as_str(), b.to_string().as_str()])
    );
    assert!(
        servers
            .iter()
            .all(|s| s["up"] == true && s["backend"] == "app")
    );

    // Reload with a new server set: from now on only c answers, on the same listener.
    std::fs::write(&config, loopback_config(listen, &[c])).expect("rewrite");
    daemon.signal(Signal::SIGHUP);
    let switched = wait_for(Duration::from_secs(10), || {
        get(listen).is_ok_and(|body| body == "c")
    });
    assert!(switched.is_some(), "reload never took\n{}", daemon.log());
    for _ in 0..5 {
        assert_eq!(get(listen).as_deref(), Ok("c"));
    }
    assert_eq!(daemon.status()["backends"][0]["address"], c.to_string());

    daemon.stop();
}

/// The config crate's self-signed test certificates (a.example, b.example).
fn test_certificate(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../config/tests/fixtures/proxy/certs")
        .join(name)
}

/// curl over TLS to `name` on 127.0.0.1:`port`, trusting `ca`: (HTTP version, body).
fn curl_tls(
    name: &str,
    port: u16,
    ca: &std::path::Path,
    http2: bool,
) -> Result<(String, String), String> {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "5", "--cacert"])
        .arg(ca)
        .arg("--resolve")
        .arg(format!("{name}:{port}:127.0.0.1"))
        .arg(if http2 { "--http2" } else { "--http1.1" })
        .args(["--write-out", "\n%{http_version}"])
        .arg(format!("https://{name}:{port}/"))
        .output()
        .map_err(|e| format!("curl: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, version) = text.rsplit_once('\n').ok_or("no version line")?;
    Ok((version.to_owned(), body.trim().to_owned()))
}

#[test]
fn loopback_tls_frontend_picks_the_certificate_by_name_and_speaks_h2() {
    if common::skip_without_tool(
        "curl",
        "curl",
        "loopback_tls_frontend_picks_the_certificate_by_name_and_speaks_h2",
    ) {
        return;
    }
    let dir = Workdir::new("frontend-tls");
    let a = upstream("a");
    let port = free_port();
    let config = format!(
        "[[frontend]]\nname = \"secure\"\nlisten = \"127.0.0.1:{port}\"\nbackend = \"app\"\n\
         tls = [{{ cert = \"{}\", key = \"{}\" }}, {{ cert = \"{}\", key = \"{}\" }}]\n\n\
         [[backend]]\nname = \"app\"\nservers = [\"{a}\"]\n",
        test_certificate("a.pem").display(),
        test_certificate("a.key").display(),
        test_certificate("b.pem").display(),
        test_certificate("b.key").display(),
    );
    let path = dir.write("baton.toml", &config);
    let daemon = Running::start(&dir, &path, &[]);
    let ca_a = test_certificate("a.pem");
    let ca_b = test_certificate("b.pem");
    if wait_for(Duration::from_secs(10), || {
        curl_tls("a.example", port, &ca_a, false).is_ok()
    })
    .is_none()
    {
        panic!(
            "no HTTPS answer: {:?}\n{}",
            curl_tls("a.example", port, &ca_a, false),
            daemon.log()
        );
    }
    assert_eq!(
        curl_tls("a.example", port, &ca_a, false),
        Ok(("1.1".to_owned(), "a".to_owned()))
    );
    // b.example gets b's certificate (verifies against b's, fails against a's) over h2.
    assert_eq!(
        curl_tls("b.example", port, &ca_b, true),
        Ok(("2".to_owned(), "a".to_owned()))
    );
    assert!(curl_tls("b.example", port, &ca_a, true).is_err());
}

impl Running {
    /// `baton ARGS... --control SOCKET`: exit status, stdout, stderr.
    fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(args)
            .arg("--control")
            .arg(&self.control)
            .output()
            .expect("baton");
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        (
            output.status.success(),
            text(&output.stdout),
            text(&output.stderr),
        )
    }

    fn admin_of(&self, server: SocketAddr) -> String {
        let status = self.status();
        let entry = status["backends"]
            .as_array()
            .expect("backends")
            .iter()
            .find(|s| s["address"] == server.to_string())
            .cloned()
            .expect("listed");
        entry["admin"].as_str().expect("admin").to_owned()
    }
}

/// Answers of `n` GETs, counted by server name.
fn spread(listen: SocketAddr, n: usize) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for _ in 0..n {
        *counts.entry(get(listen).expect("GET")).or_default() += 1;
    }
    counts
}

#[test]
fn loopback_server_commands_and_reload_over_the_control_socket() {
    let dir = Workdir::new("control-loopback");
    let (a, b, c) = (upstream("a"), upstream("b"), upstream("c"));
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let config = dir.write("baton.toml", &loopback_config(listen, &[a, b]));
    let log = dir.path("baton.log");
    let log_file = std::fs::File::create(&log).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["run", "--config"])
        .arg(&config)
        .arg("--control")
        .arg(dir.path("baton.sock"))
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("log"))
        .stderr(log_file)
        .spawn()
        .expect("baton run");
    let daemon = Running {
        child,
        control: dir.path("baton.sock"),
        log,
    };
    if wait_for(Duration::from_secs(10), || get(listen).is_ok()).is_none() {
        panic!("the frontend never answered\n{}", daemon.log());
    }
    let (a_text, b_text) = (a.to_string(), b.to_string());

    let (ok, out, err) = daemon.cli(&["server", "drain", "app", &a_text]);
    assert!(ok, "{err}\n{}", daemon.log());
    assert!(out.contains("drain") && out.contains("web"), "{out}");
    assert_eq!(spread(listen, 6), [("b".to_owned(), 6)].into());
    assert_eq!(daemon.admin_of(a), "drain");

    let (ok, _, err) = daemon.cli(&["server", "enable", "app", &a_text]);
    assert!(ok, "{err}");
    let (ok, out, err) = daemon.cli(&["server", "weight", "app", &b_text, "3"]);
    assert!(ok && out.contains("weight 3"), "{out}{err}");
    // Smooth round robin over weights 1 and 3: every 4 picks, one a and three b.
    assert_eq!(
        spread(listen, 8),
        [("a".to_owned(), 2), ("b".to_owned(), 6)].into()
    );

    let (ok, _, err) = daemon.cli(&["server", "drain", "db", &a_text]);
    assert!(!ok && err.contains("unknown backend \"db\""), "{err}");
    let (ok, _, err) = daemon.cli(&["server", "weight", "app", &a_text, "300"]);
    assert!(!ok && err.contains("out of range 0..=256"), "{err}");
    let (ok, _, err) = daemon.cli(&["instance", "step-down", "VI_1"]);
    assert!(
        !ok && err.contains("no VRRP instance is configured"),
        "{err}"
    );

    let (ok, out, err) = daemon.cli(&["reload"]);
    assert!(ok && out.contains("unchanged"), "{out}{err}");
    // A broken file: the error, with its line, and the running configuration stays.
    std::fs::write(&config, "[[frontend]]\nname = \"web\"\nlisen = 1\n").expect("rewrite");
    let (ok, _, err) = daemon.cli(&["reload"]);
    assert!(!ok && err.contains("baton.toml:3"), "{err}");
    assert!(get(listen).is_ok());

    // Drained before a reload that adds c: a stays drained, b keeps its run-time weight.
    daemon.cli(&["server", "drain", "app", &a_text]);
    std::fs::write(&config, loopback_config(listen, &[a, b, c])).expect("rewrite");
    let (ok, out, err) = daemon.cli(&["reload"]);
    assert!(
        ok && out.contains("reloaded"),
        "{out}{err}\n{}",
        daemon.log()
    );
    assert_eq!(daemon.admin_of(a), "drain");
    assert_eq!(
        spread(listen, 8),
        [("b".to_owned(), 6), ("c".to_owned(), 2)].into()
    );

    daemon.signal(Signal::SIGTERM);
    let mut daemon = daemon;
    let exited = wait_for(Duration::from_secs(15), || {
        daemon.child.try_wait().ok().flatten().is_some()
    });
    assert!(exited.is_some(), "no exit after SIGTERM\n{}", daemon.log());
}

// ---- on the guide's lab -------------------------------------------------------------------

/// A tiny HTTP/1.1 server in an app host answering its host name, in Python (CI installs it);
/// `/slow` answers after 2 s.
const APP_SERVER: &str = r#"
import http.server, sys, time
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if self.path == "/slow":
            time.sleep(2)
        body = (sys.argv[2] + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Handler).serve_forever()
"#;

/// New connection per request to the VIP for `seconds`, plus one `/slow` request sent after
/// one second (in flight when the test stops the master); prints
/// "ok failed slow-result first-errors".
const CLIENT_LOOP: &str = r#"
import http.client, sys, threading, time
def get(path):
    c = http.client.HTTPConnection(sys.argv[1], 80, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    c.close()
    return r.status
slow = ["not-done"]
def slow_request():
    try:
        slow[0] = str(get("/slow"))
    except Exception as e:
        slow[0] = type(e).__name__
start = time.time()
end = start + float(sys.argv[2])
ok, failed, errors = 0, 0, []
slow_thread = threading.Thread(target=slow_request)
while time.time() < end:
    if not slow_thread.is_alive() and slow[0] == "not-done" and time.time() > start + 1:
        slow_thread.start()
    try:
        status = get("/")
        if status == 200:
            ok += 1
        else:
            failed += 1
            errors.append(status)
    except Exception as e:
        failed += 1
        errors.append(repr(e))
    time.sleep(0.005)
slow_thread.join()
print(ok, failed, slow[0], errors[:5])
"#;

fn start_app(host: &Host) -> baton_lab::Child {
    let mut command = host.command("python3");
    command
        .args(["-c", APP_SERVER, "8080", host.name()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    host.spawn(command).expect("app server")
}

/// lb's baton.toml: VI_1 (v3, 100 ms adverts) tracking the frontend on the VIP.
fn lb_config(priority: u8, app_port: u16) -> String {
    format!(
        r#"[[vrrp]]
name = "VI_1"
interface = "eth0"
virtual_router_id = 51
version = 3
priority = {priority}
advert_int = 0.1
virtual_ipaddress = ["10.0.3.100/24"]
track_frontend = [{{ name = "web", weight = -60 }}]

[[frontend]]
name = "web"
listen = "10.0.3.100:80"
backend = "app"

[[backend]]
name = "app"
servers = ["10.0.3.11:{app_port}", "10.0.3.12:{app_port}"]
[backend.health_check]
type = "http"
path = "/"
interval = 0.2
timeout = 0.2
rise = 1
fall = 2
"#
    )
}

/// One GET to the VIP from the client host: the app's name.
fn get_vip(client: &Host) -> Option<String> {
    client
        .run(
            "python3",
            &[
                "-c",
                "import urllib.request; print(urllib.request.urlopen('http://10.0.3.100/', timeout=3).read().decode().strip())",
            ],
        )
        .ok()
        .map(|out| out.trim().to_owned())
}

#[test]
fn a_frontend_without_healthy_servers_gives_the_vip_away() {
    let Some(lab) = guide_lab("a_frontend_without_healthy_servers_gives_the_vip_away") else {
        return;
    };
    let dir = Workdir::new("frontend-track");
    let _apps = [start_app(lab.host("app1")), start_app(lab.host("app2"))];
    let lb1 = common::start_baton_toml(lab.host("lb1"), &dir, &lb_config(100, 8080));
    let lb2 = common::start_baton_toml(lab.host("lb2"), &dir, &lb_config(150, 8080));
    let daemons = [&lb1, &lb2];
    if wait_for(Duration::from_secs(10), || {
        holds(lab.host("lb2"), common::VIP)
    })
    .is_none()
    {
        fail("lb2 never became master", &daemons);
    }
    let client = lab.host("client");
    let mut seen = BTreeSet::new();
    let served = wait_for(Duration::from_secs(10), || {
        if let Some(app) = get_vip(client) {
            seen.insert(app);
        }
        seen.len() == 2
    });
    if served.is_none() {
        fail(&format!("the VIP served only {seen:?}"), &daemons);
    }

    // lb2's backend now points at a port nothing listens on: its checks fail, its frontend
    // goes down, priority 150 - 60 = 90 < 100, and lb1 takes over and serves.
    dir.write("lb2.toml", &lb_config(150, 9));
    kill(Pid::from_raw(lb2.child.id() as i32), Signal::SIGHUP).expect("SIGHUP");
    if wait_for(Duration::from_secs(10), || {
        holds(lab.host("lb1"), common::VIP)
    })
    .is_none()
    {
        fail("lb1 never took over from the unhealthy lb2", &daemons);
    }
    if wait_for(Duration::from_secs(2), || {
        !holds(lab.host("lb2"), common::VIP)
    })
    .is_none()
    {
        fail("lb2 kept the VIP", &daemons);
    }
    assert_holders(&lab, &["lb1"], &daemons);
    if wait_for(Duration::from_secs(5), || get_vip(client).is_some()).is_none() {
        fail("lb1 does not serve the VIP", &daemons);
    }
    let status = status_of(lab.host("lb2"), &dir);
    assert_eq!(status["vrrp"][0]["effective_priority"], 90, "{status}");
    assert_eq!(status["vrrp"][0]["state"], "BACKUP", "{status}");
    let servers = status["backends"].as_array().expect("backends");
    assert_eq!(servers.len(), 2, "{status}");
    assert!(servers.iter().all(|s| s["up"] == false), "{status}");
}

#[test]
fn sigterm_on_the_master_drains_without_a_failed_request() {
    let Some(lab) = guide_lab("sigterm_on_the_master_drains_without_a_failed_request") else {
        return;
    };
    let dir = Workdir::new("frontend-drain");
    let _apps = [start_app(lab.host("app1")), start_app(lab.host("app2"))];
    let lb1 = common::start_baton_toml(lab.host("lb1"), &dir, &lb_config(100, 8080));
    let mut lb2 = common::start_baton_toml(lab.host("lb2"), &dir, &lb_config(150, 8080));
    if wait_for(Duration::from_secs(10), || {
        holds(lab.host("lb2"), common::VIP)
    })
    .is_none()
    {
        fail("lb2 never became master", &[&lb1, &lb2]);
    }
    let client = lab.host("client");
    if wait_for(Duration::from_secs(10), || get_vip(client).is_some()).is_none() {
        fail("the VIP never served", &[&lb1, &lb2]);
    }

    // The slow request goes out about 1.1 s after this starts and is in flight until about
    // 3.1 s: the SIGTERM at 1.5 s finds it there, and the drain has to wait for it while new
    // connections keep coming. Refused ones would fail; dropped ones are retried by TCP.
    let mut load = client.command("python3");
    load.args(["-c", CLIENT_LOOP, "10.0.3.100", "5"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let load = thread::spawn(move || load.output().expect("client loop"));
    thread::sleep(Duration::from_millis(1500));
    lb2.child.terminate();
    let output = load.join().expect("client thread");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut fields = text.split_whitespace();
    let ok: u64 = fields.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let failed: u64 = fields
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX);
    if failed != 0 || ok < 50 {
        fail(
            &format!("client: {text} {}", String::from_utf8_lossy(&output.stderr)),
            &[&lb1, &lb2],
        );
    }
    assert_holders(&lab, &["lb1"], &[&lb1, &lb2]);
    let drained = lb2.log_text();
    assert!(
        drained.contains("draining frontends"),
        "lb2 did not drain:\n{drained}"
    );
    // The door is open again: no drain table left in lb2's namespace.
    let tables = lab
        .host("lb2")
        .run("nft", &["list", "tables"])
        .unwrap_or_default();
    assert!(!tables.contains("baton_drain"), "{tables}");
}

/// Waits until the pair has settled after start-up: lb2 master at its full priority (its
/// frontend serving), lb1 backup at its own, and lb2 alone holding the VIP, all of it for
/// 500 ms on end (five advert intervals).
fn wait_settled(lab: &baton_lab::Lab, dir: &Workdir, daemons: &[&Daemon]) {
    let settled_now = || {
        let (lb1, lb2) = (
            status_of(lab.host("lb1"), dir),
            status_of(lab.host("lb2"), dir),
        );
        lb2["vrrp"][0]["state"] == "MASTER"
            && lb2["vrrp"][0]["effective_priority"] == 150
            && lb1["vrrp"][0]["state"] == "BACKUP"
            && lb1["vrrp"][0]["effective_priority"] == 100
            && holds(lab.host("lb2"), common::VIP)
            && !holds(lab.host("lb1"), common::VIP)
    };
    let mut since: Option<std::time::Instant> = None;
    let settled = wait_for(Duration::from_secs(15), || {
        if !settled_now() {
            since = None;
            return false;
        }
        since.get_or_insert_with(std::time::Instant::now).elapsed() >= Duration::from_millis(500)
    });
    if settled.is_none() {
        fail("the pair never settled after start-up", daemons);
    }
}

#[test]
fn a_reload_that_replaces_a_listener_keeps_advertising_while_the_old_one_drains() {
    let Some(lab) = guide_lab("a_reload_that_replaces_a_listener_keeps_advertising") else {
        return;
    };
    let dir = Workdir::new("frontend-reload-drain");
    let _apps = [start_app(lab.host("app1")), start_app(lab.host("app2"))];
    let lb1 = common::start_baton_toml(lab.host("lb1"), &dir, &lb_config(100, 8080));
    let lb2 = common::start_baton_toml(lab.host("lb2"), &dir, &lb_config(150, 8080));
    let daemons = [&lb1, &lb2];
    let client = lab.host("client");
    if wait_for(Duration::from_secs(10), || {
        holds(lab.host("lb2"), common::VIP) && get_vip(client).is_some()
    })
    .is_none()
    {
        fail("lb2 never served the VIP", &daemons);
    }
    // Start-up over: the slow request below must not go through a VIP that is still moving
    // (it died with lb1's VIP when lb2 took it back after its first health checks).
    wait_settled(&lab, &dir, &daemons);

    // A 2 s request in flight on lb2's listener...
    let mut slow = client.command("python3");
    slow.args([
        "-c",
        "import urllib.request; print(urllib.request.urlopen('http://10.0.3.100/slow', timeout=8).status)",
    ]);
    let slow = thread::spawn(move || slow.output().expect("slow request"));
    thread::sleep(Duration::from_millis(300));
    // ...when a reload changes the listener's settings: the new listener opens, the old
    // one drains for the rest of those 2 s, and lb2 must go on advertising meanwhile
    // (Master_Down_Interval is about 0.34 s here).
    let changed = lb_config(150, 8080).replace(
        "backend = \"app\"\n\n[[backend]]",
        "backend = \"app\"\nclient_timeout = 30\n\n[[backend]]",
    );
    assert_ne!(
        changed,
        lb_config(150, 8080),
        "the edit must change the frontend"
    );
    dir.write("lb2.toml", &changed);
    kill(Pid::from_raw(lb2.child.id() as i32), Signal::SIGHUP).expect("SIGHUP");
    let moved = wait_for(Duration::from_millis(2500), || {
        holds(lab.host("lb1"), common::VIP)
    });
    if let Some(after) = moved {
        fail(
            &format!("lb1 took the VIP {after:?} after the reload: lb2 stopped advertising"),
            &daemons,
        );
    }
    let output = slow.join().expect("slow thread");
    let status = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if status != "200" {
        fail(
            &format!(
                "the request in flight during the reload got {status:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            ),
            &daemons,
        );
    }
    assert!(
        lb2.log_text().contains("listener settings changed"),
        "the reload did not replace the listener:\n{}",
        lb2.log_text()
    );
}

#[test]
fn sighup_serves_renewed_certificates_with_an_unchanged_config() {
    if common::skip_without_tool(
        "curl",
        "curl",
        "sighup_serves_renewed_certificates_with_an_unchanged_config",
    ) {
        return;
    }
    let dir = Workdir::new("frontend-tls-renew");
    let (a, b) = (upstream("a"), upstream("b"));
    let port = free_port();
    // The files a renewal (certbot, say) rewrites in place; the config names only them.
    let cert = dir.path("web.pem");
    let key = dir.path("web.key");
    std::fs::copy(test_certificate("a.pem"), &cert).expect("cert");
    std::fs::copy(test_certificate("a.key"), &key).expect("key");
    let config = format!(
        "[[frontend]]\nname = \"secure\"\nlisten = \"127.0.0.1:{port}\"\nbackend = \"app\"\n\
         tls = [{{ cert = \"{}\", key = \"{}\" }}]\n\n\
         [[backend]]\nname = \"app\"\nbalance = \"roundrobin\"\nservers = [\"{a}\", \"{b}\"]\n",
        cert.display(),
        key.display(),
    );
    let path = dir.write("baton.toml", &config);
    let daemon = Running::start(&dir, &path, &[]);
    let (ca_a, ca_b) = (test_certificate("a.pem"), test_certificate("b.pem"));
    if wait_for(Duration::from_secs(10), || {
        curl_tls("a.example", port, &ca_a, false).is_ok()
    })
    .is_none()
    {
        panic!("no HTTPS answer\n{}", daemon.log());
    }
    // Run-time state that must survive the renewal: server b drained.
    let drain = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["server", "drain", "app", &b.to_string(), "--control"])
        .arg(dir.path("baton.sock"))
        .output()
        .expect("baton server drain");
    assert!(drain.status.success(), "{drain:?}");

    std::fs::copy(test_certificate("b.pem"), &cert).expect("renew cert");
    std::fs::copy(test_certificate("b.key"), &key).expect("renew key");
    daemon.signal(Signal::SIGHUP);
    let renewed = wait_for(Duration::from_secs(10), || {
        curl_tls("b.example", port, &ca_b, false).is_ok()
    });
    assert!(
        renewed.is_some(),
        "the renewed certificate was never served: {:?}\n{}",
        curl_tls("b.example", port, &ca_b, false),
        daemon.log()
    );
    assert!(curl_tls("a.example", port, &ca_a, false).is_err());
    for _ in 0..4 {
        assert_eq!(
            curl_tls("b.example", port, &ca_b, true).map(|(_, body)| body),
            Ok("a".to_owned()),
            "b stays drained across the renewal"
        );
    }
}
