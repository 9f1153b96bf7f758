//! `baton run` with `[[frontend]]` and `[[backend]]`: the daemon's own proxies.
//!
//! On loopback (any user): requests spread over the backend, `baton status --json` lists the
//! servers, SIGHUP swaps the server set live. On the guide's lab (root): both LBs proxy on
//! the VIP; a frontend whose backend fails its health checks gives the mastership away
//! (`track_frontend`); SIGTERM on the master drains without one failed request.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

use baton_lab::Host;
use common::{Daemon, Workdir, assert_holders, fail, guide_lab, holds, wait_for};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// An HTTP/1.1 upstream on a thread that answers its name; keep-alive.
fn upstream(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut writer = stream;
                let mut line = String::new();
                loop {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if line == "\r\n" => {
                            let body = format!("{name}\n");
                            let answer = format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                                body.len()
                            );
                            if writer.write_all(answer.as_bytes()).is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    addr
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

/// One GET on a new connection; the body, or the error.
fn get(address: SocketAddr) -> Result<String, String> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| format!("read: {e}"))?;
    match response.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200") => Ok(body.trim().to_owned()),
        _ => Err(format!("unexpected answer: {response:?}")),
    }
}

fn loopback_config(listen: SocketAddr, servers: &[SocketAddr]) -> String {
    let servers: Vec<String> = servers.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        "[[frontend]]\nname = \"web\"\nlisten = \"{listen}\"\nbackend = \"app\"\n\n\
         [[backend]]\nname = \"app\"\nbalance = \"roundrobin\"\nservers = [{}]\n",
        servers.join(", ")
    )
}

struct Running {
    child: Child,
    control: std::path::PathBuf,
    log: std::path::PathBuf,
}

impl Running {
    fn status(&self) -> serde_json::Value {
        let output = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["status", "--json", "--control"])
            .arg(&self.control)
            .output()
            .expect("baton status");
        assert!(output.status.success(), "{output:?}\n{}", self.log());
        serde_json::from_slice(&output.stdout).expect("status JSON")
    }

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).expect("signal");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn loopback_frontend_balances_reports_and_reloads_live() {
    let dir = Workdir::new("frontend-loopback");
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

    daemon.signal(Signal::SIGTERM);
    let mut daemon = daemon;
    let exited = wait_for(Duration::from_secs(15), || {
        daemon.child.try_wait().ok().flatten().is_some()
    });
    assert!(exited.is_some(), "no exit after SIGTERM\n{}", daemon.log());
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

fn start_lb(host: &Host, dir: &Workdir, config: &str) -> Daemon {
    let name = host.name();
    let path = dir.write(&format!("{name}.toml"), config);
    let log = dir.path(&format!("{name}.log"));
    let file = std::fs::File::create(&log).expect("log");
    let mut command = host.command(env!("CARGO_BIN_EXE_baton"));
    command
        .args(["run", "--config"])
        .arg(&path)
        .arg("--control")
        .arg(dir.path(&format!("{name}.sock")))
        .env("BATON_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("log"))
        .stderr(file);
    Daemon {
        child: host.spawn(command).expect("baton"),
        log,
        name: format!("baton@{name}"),
    }
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

fn status_of(host: &Host, dir: &Workdir) -> serde_json::Value {
    let socket = dir.path(&format!("{}.sock", host.name()));
    let out = host
        .run(
            env!("CARGO_BIN_EXE_baton"),
            &[
                "status",
                "--json",
                "--control",
                socket.to_str().expect("utf-8"),
            ],
        )
        .expect("baton status");
    serde_json::from_str(&out).expect("status JSON")
}

#[test]
fn a_frontend_without_healthy_servers_gives_the_vip_away() {
    let Some(lab) = guide_lab("a_frontend_without_healthy_servers_gives_the_vip_away") else {
        return;
    };
    let dir = Workdir::new("frontend-track");
    let _apps = [start_app(lab.host("app1")), start_app(lab.host("app2"))];
    let lb1 = start_lb(lab.host("lb1"), &dir, &lb_config(100, 8080));
    let lb2 = start_lb(lab.host("lb2"), &dir, &lb_config(150, 8080));
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
    let lb1 = start_lb(lab.host("lb1"), &dir, &lb_config(100, 8080));
    let mut lb2 = start_lb(lab.host("lb2"), &dir, &lb_config(150, 8080));
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
