//! Chaos under load (issue 14), the load half: faults of the data plane and of operations
//! while clients keep coming through the VIP, each with an invariant checked.
//!
//! - Reload storms (SIGHUP, good and bad files alternating) under HTTP and under L4 load:
//!   no failed request or connection, the VIP never moves, every reload counted by result
//!   (`reloads` in `baton status --json`), the final state is the last good file's, L4
//!   flows to servers that stay survive, counters are not reset.
//! - All servers lost and back: the proxy answers 503 (counted), the L4 sorry server takes
//!   the flows, priorities drop by the configured weights and the VIP stays where the
//!   configuration says; service back within the checks' rise bound.
//! - File descriptors exhausted: the daemon lives, advertises on (the backup never takes
//!   over), counts the failed accepts and logs them within a rate limit, serves again once
//!   the clients go, and its memory stays bounded.
//!
//! On the guide's lab: lb2 (priority 150) master, lb1 (100) backup, apps on app1 and app2
//! (`baton demo-app`, which answers with its name), the load from the client host.

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use baton_lab::{Child, Host, Lab};
use common::chaos::rss_kib;
use common::{Daemon, VIP, Workdir, fail, guide_lab, holds, wait_for};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

// ---- the lab's pieces ---------------------------------------------------------------------

/// `baton demo-app` on `port` of `host`, answering `NAME PEER`.
fn start_app(host: &Host, port: u16, name: &str) -> Child {
    let mut command = host.command(env!("CARGO_BIN_EXE_baton"));
    command
        .args([
            "demo-app",
            "--listen",
            &format!("0.0.0.0:{port}"),
            "--name",
            name,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    host.spawn(command).expect("app server")
}

/// The apps of the storms: app1 and app2 on 8080, app1 on 8081 too (the server a good
/// file adds), and on both load balancers what holds port 9000 (for "port taken" files).
const STORM_APPS: [(&str, u16, &str); 5] = [
    ("app1", 8080, "app1"),
    ("app2", 8080, "app2"),
    ("app1", 8081, "app1b"),
    ("lb1", 9000, "squatter"),
    ("lb2", 9000, "squatter"),
];

/// `apps` started: (host, port, name) each.
fn start_apps(lab: &Lab, apps: &[(&str, u16, &str)]) -> Vec<Child> {
    apps.iter()
        .map(|(host, port, name)| start_app(lab.host(host), *port, name))
        .collect()
}

/// Both load balancers running `config(priority)`, lb2 master: the pair settled (lb2
/// MASTER and holding the VIP alone, lb1 BACKUP) for a second on end.
struct Pair<'a> {
    lab: &'a Lab,
    dir: &'a Workdir,
    lb1: Daemon,
    lb2: Daemon,
}

impl<'a> Pair<'a> {
    fn start(lab: &'a Lab, dir: &'a Workdir, config: impl Fn(u8) -> String) -> Pair<'a> {
        let lb1 = common::start_baton_toml(lab.host("lb1"), dir, &config(100));
        let lb2 = common::start_baton_toml(lab.host("lb2"), dir, &config(150));
        let pair = Pair { lab, dir, lb1, lb2 };
        pair.wait_settled(Duration::from_secs(20));
        pair
    }

    fn daemons(&self) -> [&Daemon; 2] {
        [&self.lb1, &self.lb2]
    }

    fn fail(&self, message: &str) -> ! {
        fail(message, &self.daemons())
    }

    fn status(&self, lb: &str) -> serde_json::Value {
        common::pair::host_status(self.dir, lb)
    }

    fn settled_now(&self) -> bool {
        let (lb1, lb2) = (self.status("lb1"), self.status("lb2"));
        lb2["vrrp"][0]["state"] == "MASTER"
            && lb1["vrrp"][0]["state"] == "BACKUP"
            && holds(self.lab.host("lb2"), VIP)
            && !holds(self.lab.host("lb1"), VIP)
    }

    fn wait_settled(&self, limit: Duration) {
        let mut since: Option<Instant> = None;
        let settled = wait_for(limit, || {
            if !self.settled_now() {
                since = None;
                return false;
            }
            since.get_or_insert_with(Instant::now).elapsed() >= Duration::from_secs(1)
        });
        if settled.is_none() {
            self.fail("the pair never settled with lb2 master");
        }
    }

    /// Both instances' transition counts.
    fn transitions(&self) -> [u64; 2] {
        ["lb1", "lb2"].map(|lb| {
            self.status(lb)["vrrp"][0]["transitions"]
                .as_u64()
                .unwrap_or(u64::MAX)
        })
    }

    /// Waits (bounded) until the VIP answers 200 on port 80.
    fn wait_serving(&self, client: &Host) {
        let served = wait_for(Duration::from_secs(10), || {
            get_vip(client, 80).is_some_and(|(code, _)| code == 200)
        });
        if served.is_none() {
            self.fail("the VIP never served");
        }
    }

    fn daemon(&self, lb: &str) -> &Daemon {
        if lb == "lb1" { &self.lb1 } else { &self.lb2 }
    }
}

/// The reload counts of a status: (applied, unchanged, failed).
fn reloads(status: &serde_json::Value) -> (u64, u64, u64) {
    let count = |key: &str| status["reloads"][key].as_u64().unwrap_or(0);
    (count("applied"), count("unchanged"), count("failed"))
}

fn reload_total(status: &serde_json::Value) -> u64 {
    let (applied, unchanged, failed) = reloads(status);
    applied + unchanged + failed
}

/// Runs `body` while a thread watches the VIP every 20 ms; returns what `body` returned
/// and how many polls found lb1 holding the VIP or lb2 without it.
fn watching_vip<T>(lab: &Lab, body: impl FnOnce() -> T) -> (T, usize) {
    let stop = AtomicBool::new(false);
    let moved = AtomicUsize::new(0);
    /// Stops the watcher also when `body` panics, so that the scope can end.
    struct Stop<'a>(&'a AtomicBool);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let result = thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                if holds(lab.host("lb1"), VIP) || !holds(lab.host("lb2"), VIP) {
                    moved.fetch_add(1, Ordering::Relaxed);
                }
                thread::sleep(Duration::from_millis(20));
            }
        });
        let _stop = Stop(&stop);
        body()
    });
    (result, moved.load(Ordering::Relaxed))
}

// ---- the load -----------------------------------------------------------------------------

/// The client's load on the VIP until its stdin closes (or for at most SECONDS): two
/// threads making a request per new connection, and KEPT threads each on a keep-alive
/// connection, which (as curl and urllib3 do) opens a new one when the server closed it
/// while idle, and sends a GET again once when a reused connection closes before any
/// answer (the close crossed the request). It prints one JSON line: successes and failures of each kind, the first
/// errors, how often a kept connection had to be opened again (the proxy closed it,
/// draining) and how often one answered from another app than before on the same
/// connection (a flow moved).
const LOAD: &str = r#"
import http.client, json, select, sys, threading, time
host, port, seconds, kept = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
end = [time.time() + seconds]
def stop_on_eof():
    sys.stdin.read()
    end[0] = 0
lock = threading.Lock()
r = {"new_ok": 0, "new_failed": 0, "kept_ok": 0, "kept_failed": 0, "reopened": 0, "retried": 0,
     "moved": 0, "codes": {}, "errors": [], "apps": []}
def note(kind, ok, error=None, app=None):
    with lock:
        r[kind + ("_ok" if ok else "_failed")] += 1
        if error is not None and len(r["errors"]) < 5:
            r["errors"].append(kind + ": " + error)
        if app is not None and app not in r["apps"]:
            r["apps"].append(app)
def get(conn):
    conn.request("GET", "/")
    local = conn.sock.getsockname()[1]
    resp = conn.getresponse()
    body = resp.read().decode()
    with lock:
        r["codes"][str(resp.status)] = r["codes"].get(str(resp.status), 0) + 1
    return resp.status, body.split()[0] if body else "", local
def new_loop():
    while time.time() < end[0]:
        try:
            c = http.client.HTTPConnection(host, port, timeout=5)
            status, app, _ = get(c)
            c.close()
            note("new", status == 200, None if status == 200 else str(status), app)
        except Exception as e:
            note("new", False, repr(e))
        time.sleep(0.01)
def closed_by_peer(conn):
    # What curl and urllib3 do before reusing an idle connection: one the server closed
    # reads as ready (EOF), and a new one is opened instead.
    return conn.sock is not None and select.select([conn.sock], [], [], 0)[0]
def kept_loop():
    c = http.client.HTTPConnection(host, port, timeout=5)
    last_local, last_app = None, None
    while time.time() < end[0]:
        if closed_by_peer(c):
            c.close()
        try:
            try:
                status, app, local = get(c)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if last_local is None:
                    raise
                # RFC 9112 9.3.1: a reused connection closed before any answer may have
                # crossed the server's close; curl and urllib3 send a GET again, once.
                with lock:
                    r["retried"] += 1
                c.close()
                status, app, local = get(c)
            if last_local is not None and local != last_local:
                with lock:
                    r["reopened"] += 1
            elif last_app is not None and app != last_app:
                with lock:
                    r["moved"] += 1
            last_local, last_app = local, app
            note("kept", status == 200, None if status == 200 else str(status), app)
        except Exception as e:
            note("kept", False, repr(e))
            c.close()
            c = http.client.HTTPConnection(host, port, timeout=5)
            last_local, last_app = None, None
        time.sleep(0.02)
threading.Thread(target=stop_on_eof, daemon=True).start()
threads = [threading.Thread(target=new_loop) for _ in range(2)]
threads += [threading.Thread(target=kept_loop) for _ in range(kept)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(r), flush=True)
"#;

/// The load's summary.
#[derive(Debug)]
struct Load(serde_json::Value);

impl Load {
    fn count(&self, key: &str) -> u64 {
        self.0[key].as_u64().unwrap_or(u64::MAX)
    }

    fn failed(&self) -> u64 {
        self.count("new_failed")
            .saturating_add(self.count("kept_failed"))
    }

    fn ok(&self) -> u64 {
        self.count("new_ok").saturating_add(self.count("kept_ok"))
    }
}

/// The load running in the client host (killed if dropped).
struct Loading(Child);

/// Starts the load on VIP:`port` with `kept` kept connections, for at most 60 s.
fn start_load(client: &Host, port: u16, kept: usize) -> Loading {
    let mut command = client.command("python3");
    command
        .args([
            "-c",
            LOAD,
            "10.0.3.100",
            &port.to_string(),
            "60",
            &kept.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Loading(client.spawn(command).expect("load client"))
}

impl Loading {
    /// Stops the load (its stdin closes) and reads its summary.
    fn finish(mut self) -> Load {
        use std::io::Read as _;
        let inner = self.0.inner_mut();
        drop(inner.stdin.take());
        let mut text = String::new();
        let mut errors = String::new();
        if let Some(mut out) = inner.stdout.take() {
            let _ = out.read_to_string(&mut text);
        }
        if let Some(mut err) = inner.stderr.take() {
            let _ = err.read_to_string(&mut errors);
        }
        let _ = self.0.wait_timeout(Duration::from_secs(10));
        Load(
            serde_json::from_str(text.trim())
                .unwrap_or_else(|_| serde_json::json!({ "unreadable": text, "stderr": errors })),
        )
    }
}

/// One GET to VIP:`port` from the client: (status, first word of the body).
fn get_vip(client: &Host, port: u16) -> Option<(u16, String)> {
    let script = format!(
        "import http.client\nc = http.client.HTTPConnection('10.0.3.100', {port}, timeout=3)\n\
         c.request('GET', '/')\nr = c.getresponse()\nb = r.read().decode().split()\n\
         print(r.status, b[0] if b else '-')\n"
    );
    let out = client.run("python3", &["-c", &script]).ok()?;
    let (code, app) = out.trim().split_once(' ')?;
    Some((code.parse().ok()?, app.to_owned()))
}

/// `GET /metrics` of the daemon in `host` (its admin listener, 127.0.0.1:9180 there).
fn metrics(host: &Host) -> String {
    host.run(
        "python3",
        &[
            "-c",
            "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9180/metrics', timeout=3).read().decode())",
        ],
    )
    .unwrap_or_default()
}

/// The value of the sample `series` (name and labels exactly as exported), or 0.
fn sample(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

// ---- reload storms ------------------------------------------------------------------------

/// One step of a storm: the file each load balancer gets, and whether it is a good one.
struct Step {
    config: fn(u8) -> String,
    good: bool,
}

/// Runs `steps` on the load balancers named in `lbs`: writes each file, sends SIGHUP, and
/// waits (bounded) until the daemon has counted that reload, so that every file is read
/// and every outcome is known. After each step, `after_step` may check something.
fn storm(pair: &Pair, lbs: &[&str], steps: &[Step], mut after_step: impl FnMut(usize)) {
    for (i, step) in steps.iter().enumerate() {
        let before: Vec<u64> = lbs
            .iter()
            .map(|lb| reload_total(&pair.status(lb)))
            .collect();
        for lb in lbs {
            let priority = if *lb == "lb2" { 150 } else { 100 };
            pair.dir
                .write(&format!("{lb}.toml"), &(step.config)(priority));
            signal(pair.daemon(lb), Signal::SIGHUP);
        }
        for (lb, before) in lbs.iter().zip(before) {
            let counted = wait_for(Duration::from_secs(10), || {
                reload_total(&pair.status(lb)) > before
            });
            if counted.is_none() {
                pair.fail(&format!(
                    "{lb} never counted reload {i} (good: {})",
                    step.good
                ));
            }
        }
        after_step(i);
    }
}

fn signal(daemon: &Daemon, signal: Signal) {
    kill(Pid::from_raw(daemon.child.id() as i32), signal).expect("signal");
}

/// Good steps and bad steps alternating, 2 * `rounds` in all, the good ones in turn.
fn alternate(good: &[fn(u8) -> String], bad: &[fn(u8) -> String], rounds: usize) -> Vec<Step> {
    (0..rounds)
        .flat_map(|i| {
            [
                Step {
                    config: good[i % good.len()],
                    good: true,
                },
                Step {
                    config: bad[i % bad.len()],
                    good: false,
                },
            ]
        })
        .collect()
}

/// Checks the counts of a storm of `good` and `bad` steps on `lb`: every bad file refused
/// and counted, every good one applied (each differs from the one before).
fn assert_counted(pair: &Pair, lb: &str, before: (u64, u64, u64), good: u64, bad: u64) {
    let after = reloads(&pair.status(lb));
    let counted = (after.0 - before.0, after.1 - before.1, after.2 - before.2);
    if counted != (good, 0, bad) {
        pair.fail(&format!(
            "{lb} counted (applied, unchanged, failed) = {counted:?}, expected ({good}, 0, {bad})"
        ));
    }
    let refusals = pair
        .daemon(lb)
        .log_text()
        .matches("reload failed, nothing changed")
        .count() as u64;
    if refusals < bad {
        pair.fail(&format!(
            "{lb} logged {refusals} refusals of {bad} bad files"
        ));
    }
}

/// lb's baton.toml for the HTTP storm: VI_1 tracking frontend `web` on the VIP over
/// backend `app`; `servers` and `more` (frontends) vary by step.
fn http_config(priority: u8, interface: &str, servers: &str, more: &str) -> String {
    format!(
        "{}{}",
        vrrp_block(priority, interface, TRACK_WEB),
        web_frontend(servers, more, 1, 3)
    )
}

const TRACK_WEB: &str = "track_frontend = [{ name = \"web\", weight = -60 }]\n";

/// VI_1 on `interface` (100 ms adverts would do; 200 ms leave room for a loaded CI
/// machine), with `tracks` (lines) added.
fn vrrp_block(priority: u8, interface: &str, tracks: &str) -> String {
    format!(
        "[[vrrp]]\nname = \"VI_1\"\ninterface = \"{interface}\"\nvirtual_router_id = 51\n\
         version = 3\npriority = {priority}\nadvert_int = 0.2\nvirtual_ipaddress = [\"{VIP}\"]\n\
         {tracks}"
    )
}

/// Frontend `web` on the VIP's port 80 over backend `app` of `servers`, health-checked
/// every 0.3 s (`rise`, `fall`), and `more` (frontends) between them.
fn web_frontend(servers: &str, more: &str, rise: u32, fall: u32) -> String {
    format!(
        r#"
[[frontend]]
name = "web"
listen = "10.0.3.100:80"
backend = "app"
{more}
[[backend]]
name = "app"
servers = [{servers}]
[backend.health_check]
type = "http"
path = "/"
interval = {CHECK_INTERVAL}
timeout = 1
rise = {rise}
fall = {fall}
"#
    )
}

const TWO_APPS: &str = r#""10.0.3.11:8080", "10.0.3.12:8080""#;

fn http_base(priority: u8) -> String {
    http_config(priority, "eth0", TWO_APPS, "")
}

fn http_weights(priority: u8) -> String {
    http_config(
        priority,
        "eth0",
        r#"{ address = "10.0.3.11:8080", weight = 3 }, "10.0.3.12:8080""#,
        "",
    )
}

fn http_added_server(priority: u8) -> String {
    http_config(
        priority,
        "eth0",
        r#""10.0.3.11:8080", "10.0.3.12:8080", "10.0.3.11:8081""#,
        "",
    )
}

const API_FRONTEND: &str =
    "\n[[frontend]]\nname = \"api\"\nlisten = \"10.0.3.100:8000\"\nbackend = \"app\"\n";

fn http_added_frontend(priority: u8) -> String {
    http_config(priority, "eth0", TWO_APPS, API_FRONTEND)
}

/// The storm's last word: a server and a frontend added, a weight changed.
fn http_final(priority: u8) -> String {
    http_config(
        priority,
        "eth0",
        r#"{ address = "10.0.3.11:8080", weight = 2 }, "10.0.3.12:8080", "10.0.3.11:8081""#,
        API_FRONTEND,
    )
}

/// `web` itself changes (a listener setting): its listener is replaced and the old one
/// drains.
fn http_replaced_listener(priority: u8) -> String {
    http_base(priority).replace(
        "backend = \"app\"\n\n[[backend]]",
        "backend = \"app\"\nclient_timeout = 30\n\n[[backend]]",
    )
}

fn http_syntax_error(priority: u8) -> String {
    format!("{}\n[[frontend]\nname = \n", http_base(priority))
}

fn http_unknown_interface(priority: u8) -> String {
    http_config(priority, "eht0", TWO_APPS, "")
}

/// A frontend on port 9000, where an app listens on every address of the host.
fn http_port_taken(priority: u8) -> String {
    http_config(
        priority,
        "eth0",
        TWO_APPS,
        "\n[[frontend]]\nname = \"taken\"\nlisten = \"10.0.3.100:9000\"\nbackend = \"app\"\n",
    )
}

/// The (frontend, server) pairs of a status.
fn served(status: &serde_json::Value) -> BTreeSet<(String, String, u64)> {
    status["backends"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["frontend"].as_str().unwrap_or("?").to_owned(),
                s["address"].as_str().unwrap_or("?").to_owned(),
                s["weight"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn http_reload_storm_fails_no_request_and_never_moves_the_vip() {
    let test = "http_reload_storm_fails_no_request_and_never_moves_the_vip";
    let Some(lab) = guide_lab(test) else {
        return;
    };
    assert_ne!(
        http_replaced_listener(150),
        http_base(150),
        "the edit must change web"
    );
    let dir = Workdir::new("chaos-http-storm");
    let _apps = start_apps(&lab, &STORM_APPS);
    let pair = Pair::start(&lab, &dir, http_base);
    let client = lab.host("client");
    pair.wait_serving(client);
    let transitions = pair.transitions();
    let counts = ["lb1", "lb2"].map(|lb| reloads(&pair.status(lb)));
    let steps = alternate(
        &[
            http_weights,
            http_added_server,
            http_added_frontend,
            http_replaced_listener,
            http_base,
        ],
        &[http_syntax_error, http_unknown_interface, http_port_taken],
        25,
    );
    let started = Instant::now();
    let ((load, storm_time), moved) = watching_vip(&lab, || {
        let load = start_load(client, 80, 2);
        // The load's first connections are up before the first reload.
        thread::sleep(Duration::from_millis(500));
        storm(&pair, &["lb1", "lb2"], &steps, |_| {});
        let storm_time = started.elapsed();
        for (lb, before) in ["lb1", "lb2"].into_iter().zip(counts) {
            assert_counted(&pair, lb, before, 25, 25);
        }
        // Then a burst: ten SIGHUPs back to back for one new file. They may coalesce, but
        // whatever runs at the end is that file.
        for lb in ["lb1", "lb2"] {
            let priority = if lb == "lb2" { 150 } else { 100 };
            dir.write(&format!("{lb}.toml"), &http_final(priority));
        }
        for _ in 0..10 {
            signal(&pair.lb1, Signal::SIGHUP);
            signal(&pair.lb2, Signal::SIGHUP);
        }
        thread::sleep(Duration::from_secs(1));
        (load.finish(), storm_time)
    });
    eprintln!(
        "http storm: 50 reloads per LB in {storm_time:?}, then a burst of 10; load {}",
        load.0
    );
    if load.failed() != 0 || load.ok() < 200 {
        pair.fail(&format!("requests failed during the storm: {}", load.0));
    }
    if moved != 0 {
        pair.fail(&format!("the VIP moved during the storm ({moved} polls)"));
    }
    // The burst's file runs: both frontends over its servers and weights.
    let expected: BTreeSet<(String, String, u64)> = ["web", "api"]
        .into_iter()
        .flat_map(|frontend| {
            [
                ("10.0.3.11:8080", 2),
                ("10.0.3.12:8080", 1),
                ("10.0.3.11:8081", 1),
            ]
            .map(|(server, weight)| (frontend.to_owned(), server.to_owned(), weight))
        })
        .collect();
    for lb in ["lb1", "lb2"] {
        if wait_for(Duration::from_secs(10), || {
            served(&pair.status(lb)) == expected
        })
        .is_none()
        {
            pair.fail(&format!(
                "{lb} does not run the last file: {:?}",
                served(&pair.status(lb))
            ));
        }
    }
    if get_vip(client, 8000).is_none_or(|(code, _)| code != 200) {
        pair.fail("the last file's frontend on port 8000 does not serve");
    }
    if pair.transitions() != transitions {
        pair.fail(&format!(
            "transitions went from {transitions:?} to {:?}",
            pair.transitions()
        ));
    }
}

// ---- L4 ---------------------------------------------------------------------------------

/// The guide's lab with both load balancers forwarding (NAT needs it), or `None` after a
/// loud skip line where namespaces or nft are missing.
fn l4_lab(test: &str) -> Option<Lab> {
    if !common::on_path("nft") {
        eprintln!("SKIPPED (needs nft, from nftables): {test}");
        return None;
    }
    let lab = guide_lab(test)?;
    for lb in ["lb1", "lb2"] {
        lab.host(lb)
            .run("sysctl", &["-qw", "net.ipv4.ip_forward=1"])
            .expect("ip_forward");
    }
    Some(lab)
}

/// A NAT real server checked by TCP_CHECK.
fn real_server(address: &str, weight: u32) -> String {
    format!(
        "\n[[virtual_server.real_server]]\naddress = \"{address}\"\nweight = {weight}\n\
         [virtual_server.real_server.TCP_CHECK]\nconnect_timeout = 1\nretry = 1\n\
         delay_before_retry = 0.1\n"
    )
}

/// A NAT service `name` on the VIP's `port` (snat: the lab is one LAN) over `servers`.
fn nat_service(name: &str, port: u16, algo: &str, servers: &[(&str, u32)], more: &str) -> String {
    let mut service = format!(
        "\n[[virtual_server]]\nname = \"{name}\"\naddress = \"10.0.3.100:{port}\"\n\
         protocol = \"TCP\"\nlb_algo = \"{algo}\"\nlb_kind = \"NAT\"\nsnat = true\n\
         delay_loop = 0.3\n{more}"
    );
    for (address, weight) in servers {
        service.push_str(&real_server(address, *weight));
    }
    service
}

/// lb's baton.toml for L4: VI_1 on `interface` tracking service `web`, then `services`.
fn l4_config(priority: u8, interface: &str, services: &str) -> String {
    let track = "track_virtual_server = [{ name = \"web\", weight = -60 }]\n";
    format!("{}{services}", vrrp_block(priority, interface, track))
}

const APPS: [(&str, u32); 2] = [("10.0.3.11:8080", 1), ("10.0.3.12:8080", 1)];

fn l4_base(priority: u8) -> String {
    l4_config(priority, "eth0", &nat_service("web", 80, "rr", &APPS, ""))
}

fn l4_weights(priority: u8) -> String {
    let servers = [("10.0.3.11:8080", 3), ("10.0.3.12:8080", 1)];
    l4_config(
        priority,
        "eth0",
        &nat_service("web", 80, "wrr", &servers, ""),
    )
}

fn l4_added_server(priority: u8) -> String {
    let servers = [APPS[0], APPS[1], ("10.0.3.11:8081", 1)];
    l4_config(
        priority,
        "eth0",
        &nat_service("web", 80, "rr", &servers, ""),
    )
}

/// A second service beside `web`, which stays as it was.
fn l4_added_service(priority: u8) -> String {
    let services = format!(
        "{}{}",
        nat_service("web", 80, "rr", &APPS, ""),
        nat_service("web81", 81, "rr", &[APPS[1]], "")
    );
    l4_config(priority, "eth0", &services)
}

fn l4_syntax_error(priority: u8) -> String {
    format!("{}\n[[virtual_server.real_server\n", l4_base(priority))
}

fn l4_unknown_interface(priority: u8) -> String {
    l4_config(priority, "eht0", &nat_service("web", 80, "rr", &APPS, ""))
}

/// A DR service on an address no instance has: no interface to forward frames on.
fn l4_dr_without_interface(priority: u8) -> String {
    let dr = "\n[[virtual_server]]\nname = \"dr\"\naddress = \"10.0.3.200:80\"\n\
              protocol = \"TCP\"\nlb_kind = \"DR\"\n\n[[virtual_server.real_server]]\n\
              address = \"10.0.3.11:80\"\n";
    l4_config(
        priority,
        "eth0",
        &format!("{}{dr}", nat_service("web", 80, "rr", &APPS, "")),
    )
}

/// baton's table in `host`, without counter values (`nft -s`).
fn nft_table(host: &Host) -> String {
    host.run("nft", &["-s", "list", "table", "inet", "baton"])
        .unwrap_or_else(|e| format!("no table: {e}"))
}

/// A real server's counters in a status: (connections, packets).
fn l4_counters(status: &serde_json::Value, address: &str) -> Option<(u64, u64)> {
    let service = status["virtual_servers"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == "web")?;
    let server = service["real_servers"]
        .as_array()?
        .iter()
        .find(|s| s["address"] == address)?;
    Some((server["connections"].as_u64()?, server["packets"].as_u64()?))
}

#[test]
fn l4_reload_storm_keeps_flows_tables_and_counters() {
    let test = "l4_reload_storm_keeps_flows_tables_and_counters";
    let Some(lab) = l4_lab(test) else {
        return;
    };
    let dir = Workdir::new("chaos-l4-storm");
    let _apps = start_apps(&lab, &STORM_APPS[..3]);
    let pair = Pair::start(&lab, &dir, l4_base);
    let client = lab.host("client");
    pair.wait_serving(client);
    let lb2 = lab.host("lb2");
    let table = nft_table(lb2);
    let transitions = pair.transitions();
    let counts = reloads(&pair.status("lb2"));
    let goods: [fn(u8) -> String; 4] = [l4_weights, l4_added_server, l4_added_service, l4_base];
    let steps = alternate(
        &goods,
        &[
            l4_syntax_error,
            l4_unknown_interface,
            l4_dr_without_interface,
        ],
        25,
    );
    let mut counters: Vec<(usize, (u64, u64))> = Vec::new();
    // The table each good file made the first time it ran, and the one running now: a file
    // that runs again makes the same table, a refused one leaves it as it was.
    let mut tables: Vec<Option<String>> = vec![None; goods.len()];
    tables[goods.len() - 1] = Some(table);
    let mut running = goods.len() - 1;
    let mut mismatches = Vec::new();
    let (load, moved) = watching_vip(&lab, || {
        // The kept connections open before any file adds app1:8081: their servers stay.
        let load = start_load(client, 80, 3);
        thread::sleep(Duration::from_millis(500));
        storm(&pair, &["lb2"], &steps, |i| {
            if let Some(now) = l4_counters(&pair.status("lb2"), "10.0.3.12:8080") {
                counters.push((i, now));
            }
            if steps[i].good {
                running = (i / 2) % goods.len();
            }
            let now = nft_table(lb2);
            match &tables[running] {
                Some(expected) if *expected != now => mismatches.push((i, now)),
                Some(_) => {}
                None => tables[running] = Some(now),
            }
        });
        load.finish()
    });
    eprintln!("l4 storm: load {}", load.0);
    if load.failed() != 0 || load.ok() < 200 {
        pair.fail(&format!("connections failed during the storm: {}", load.0));
    }
    if load.count("reopened") != 0 || load.count("moved") != 0 {
        pair.fail(&format!("an established flow broke or moved: {}", load.0));
    }
    if moved != 0 {
        pair.fail(&format!("the VIP moved during the storm ({moved} polls)"));
    }
    assert_counted(&pair, "lb2", counts, 25, 25);
    // app2's counters only grow: no reload (weights, servers, services added and
    // removed, refused files) starts them again.
    if let Some(pair_of) = counters.windows(2).find(|w| w[1].1 < w[0].1) {
        pair.fail(&format!("app2's counters went back: {pair_of:?}"));
    }
    if counters.len() < 40 {
        pair.fail(&format!("app2's counters were missing: {counters:?}"));
    }
    if let Some((i, table)) = mismatches.first() {
        pair.fail(&format!(
            "after reload {i} the nft table is not the one its file made before \
             ({} such reloads):\n{table}\n----- expected -----\n{}",
            mismatches.len(),
            tables[(i / 2) % goods.len()].as_deref().unwrap_or("?"),
        ));
    }
    if pair.transitions() != transitions {
        pair.fail(&format!(
            "transitions went from {transitions:?} to {:?}",
            pair.transitions()
        ));
    }
}

// ---- all servers lost and back --------------------------------------------------------------

/// Health checks every 0.3 s, up after 2 passes: a server is back in rotation at most
/// about `rise * interval` (plus a probe's time) after it answers again.
const CHECK_INTERVAL: f64 = 0.3;
const RISE: u32 = 2;

/// lb's baton.toml: frontend `web` on port 80 and NAT service `l4` on port 81, both over
/// app1 and app2, each tracked (-60 and -20); `l4`'s sorry server is an app on lb1.
fn lost_config(priority: u8) -> String {
    let tracks = format!("{TRACK_WEB}track_virtual_server = [{{ name = \"l4\", weight = -20 }}]\n");
    let sorry = "sorry_server = \"10.0.3.5:9090\"\n";
    format!(
        "{}{}{}",
        vrrp_block(priority, "eth0", &tracks),
        web_frontend(TWO_APPS, "", RISE, 2),
        nat_service("l4", 81, "rr", &APPS, sorry)
    )
}

/// Seconds since midnight UTC.
fn time_of_day() -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    now.as_secs_f64() % 86_400.0
}

/// The time of day of a log line, from its timestamp (`2026-12-03T12:01:02.311209Z`).
fn log_time(line: &str) -> Option<f64> {
    let clock = line.split('T').nth(1)?.split('Z').next()?;
    let mut fields = clock.split(':').map(|field| field.parse::<f64>().ok());
    let (hours, minutes, seconds) = (fields.next()??, fields.next()??, fields.next()??);
    Some(hours * 3600.0 + minutes * 60.0 + seconds)
}

fn effective_priorities(pair: &Pair) -> [u64; 2] {
    ["lb1", "lb2"].map(|lb| {
        pair.status(lb)["vrrp"][0]["effective_priority"]
            .as_u64()
            .unwrap_or(0)
    })
}

#[test]
fn all_servers_lost_and_back() {
    let test = "all_servers_lost_and_back";
    let Some(lab) = l4_lab(test) else {
        return;
    };
    let dir = Workdir::new("chaos-lost");
    let mut apps = start_apps(&lab, &STORM_APPS[..2]);
    let _sorry = start_app(lab.host("lb1"), 9090, "sorry");
    let pair = Pair::start(&lab, &dir, lost_config);
    let client = lab.host("client");
    let serving = || {
        get_vip(client, 80).is_some_and(|(code, _)| code == 200)
            && get_vip(client, 81).is_some_and(|(_, app)| app.starts_with("app"))
    };
    if wait_for(Duration::from_secs(10), serving).is_none() {
        pair.fail("the VIP never served on both ports");
    }
    if effective_priorities(&pair) != [100, 150] {
        pair.fail(&format!(
            "priorities at start: {:?}",
            effective_priorities(&pair)
        ));
    }
    let transitions = pair.transitions();
    let lb2 = lab.host("lb2");

    // Both apps gone: the checks see it, both load balancers lose 60 + 20, lb2 (70) stays
    // above lb1 (20), so the VIP stays.
    let ((), moved) = watching_vip(&lab, || {
        for app in &mut apps {
            app.kill();
        }
        let down = wait_for(Duration::from_secs(10), || {
            effective_priorities(&pair) == [20, 70]
        });
        if down.is_none() {
            pair.fail(&format!(
                "priorities never dropped to [20, 70]: {:?}",
                effective_priorities(&pair)
            ));
        }
        let status = pair.status("lb2");
        let service = &status["virtual_servers"][0];
        if service["quorum_up"] != false || service["sorry_active"] != true {
            pair.fail(&format!(
                "l4 kept its quorum, or no sorry server: {service}"
            ));
        }
        // The proxy answers 503 itself, and counts each one.
        let own_5xx = "baton_frontend_own_responses_total{frontend=\"web\",code=\"5xx\"}";
        let before = sample(&metrics(lb2), own_5xx);
        let answers: Vec<Option<(u16, String)>> = (0..10).map(|_| get_vip(client, 80)).collect();
        if answers
            .iter()
            .any(|a| a.as_ref().is_none_or(|(code, _)| *code != 503))
        {
            pair.fail(&format!(
                "the proxy did not answer 503 every time: {answers:?}"
            ));
        }
        let counted = sample(&metrics(lb2), own_5xx) - before;
        if counted != 10 {
            pair.fail(&format!("10 answers of 503, {counted} counted"));
        }
        // New L4 flows go to the sorry server.
        let sorry: Vec<Option<(u16, String)>> = (0..4).map(|_| get_vip(client, 81)).collect();
        if sorry
            .iter()
            .any(|a| a.as_ref().is_none_or(|(_, app)| app != "sorry"))
        {
            pair.fail(&format!(
                "the sorry server did not take the flows: {sorry:?}"
            ));
        }
    });
    if moved != 0 {
        pair.fail(&format!(
            "the VIP moved while the servers were gone ({moved} polls)"
        ));
    }

    // Back: served again, priorities and quorum restored; each server back in rotation
    // within the checks' bound, by lb2's log.
    let restarted = time_of_day();
    let _apps = start_apps(&lab, &STORM_APPS[..2]);
    let back = wait_for(Duration::from_secs(15), || {
        serving() && effective_priorities(&pair) == [100, 150]
    });
    let Some(back) = back else {
        pair.fail(&format!(
            "service or priorities never came back: {:?}",
            effective_priorities(&pair)
        ));
    };
    let ups_since_restart = || -> Vec<f64> {
        pair.lb2
            .log_text()
            .lines()
            .filter(|line| line.contains("server up:"))
            .filter_map(log_time)
            .filter(|&at| at > restarted)
            .map(|at| at - restarted)
            .collect()
    };
    // rise passes `interval` apart, an interval before the first, a probe's timeout, and a
    // second for the apps to start listening.
    let bound = f64::from(RISE + 1) * CHECK_INTERVAL + 1.0 + 1.0;
    // One server up is enough to serve and to restore the priorities, so the second one's
    // log line may still be on its way: wait for it (past the bound, so a late one is seen
    // and reported with its time rather than missed).
    wait_for(Duration::from_secs_f64(bound + 2.0), || {
        ups_since_restart().len() >= 2
    });
    let ups = ups_since_restart();
    eprintln!(
        "all servers back: in rotation after {ups:?} s (bound {bound} s), served again \
         (client's view) after {back:?}"
    );
    if ups.len() != 2 || ups.iter().any(|&up| up > bound) {
        pair.fail(&format!(
            "servers back in rotation after {ups:?} s, expected both within {bound} s"
        ));
    }
    let status = pair.status("lb2");
    if status["virtual_servers"][0]["quorum_up"] != true
        || status["virtual_servers"][0]["sorry_active"] != false
    {
        pair.fail(&format!("l4 did not get its quorum back: {status}"));
    }
    if pair.transitions() != transitions {
        pair.fail(&format!(
            "transitions went from {transitions:?} to {:?}",
            pair.transitions()
        ));
    }
}

// ---- file descriptors exhausted -------------------------------------------------------------

/// Opens N connections to the VIP's port 80 without waiting for any, holds them HOLD
/// seconds, closes them; prints how many were established.
const HOARD: &str = r#"
import socket, sys, time
n, hold = int(sys.argv[1]), float(sys.argv[2])
socks = []
for _ in range(n):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(("10.0.3.100", 80))
    socks.append(s)
time.sleep(hold)
connected = 0
for s in socks:
    try:
        s.getpeername()
        connected += 1
    except OSError:
        pass
for s in socks:
    s.close()
print(connected)
"#;

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

#[test]
fn file_descriptors_exhausted() {
    let test = "file_descriptors_exhausted";
    if common::skip_without_tool("prlimit", "util-linux", test) {
        return;
    }
    let Some(lab) = guide_lab(test) else {
        return;
    };
    let dir = Workdir::new("chaos-fds");
    let _apps = start_apps(&lab, &STORM_APPS[..2]);
    let pair = Pair::start(&lab, &dir, http_base);
    let client = lab.host("client");
    pair.wait_serving(client);
    let transitions = pair.transitions();
    let pid = pair.lb2.child.id();
    let rss_before = rss_kib(pid);
    // Room for 64 more descriptors: the clients below want 400.
    let limit = open_fds(pid) + 64;
    let output = std::process::Command::new("prlimit")
        .arg("--pid")
        .arg(pid.to_string())
        .arg(format!("--nofile={limit}:{limit}"))
        .output()
        .expect("prlimit");
    assert!(output.status.success(), "prlimit: {output:?}");

    let (connected, moved) = watching_vip(&lab, || {
        client
            .run("python3", &["-c", HOARD, "400", "4"])
            .unwrap_or_default()
    });
    let alive = pair.lb2.child.id() == pid && std::fs::metadata(format!("/proc/{pid}")).is_ok();
    if !alive {
        pair.fail("lb2's daemon died");
    }
    if moved != 0 {
        pair.fail(&format!(
            "the VIP moved while lb2 was out of descriptors ({moved} polls)"
        ));
    }
    // The clients gone, new requests are served again.
    let served = wait_for(Duration::from_secs(10), || {
        get_vip(client, 80).is_some_and(|(code, _)| code == 200)
    });
    let Some(served) = served else {
        pair.fail("no request served after the clients went");
    };
    let failures = sample(
        &metrics(lab.host("lb2")),
        "baton_frontend_accept_errors_total{frontend=\"web\"}",
    );
    let logged = pair.lb2.log_text().matches("accept failed").count();
    let rss_after = rss_kib(pid);
    eprintln!(
        "descriptors exhausted: limit {limit}, {} connections established, {failures} failed \
         accepts counted, {logged} log lines, served again after {served:?}, RSS {rss_before} \
         -> {rss_after} KiB",
        connected.trim()
    );
    if failures == 0 {
        pair.fail("no failed accept was counted");
    }
    // A burst of 10 lines, then one a second, each later one saying how many it left out.
    if logged > 20 {
        pair.fail(&format!(
            "{logged} lines for failed accepts: not rate-limited"
        ));
    }
    if rss_after > rss_before + 64 * 1024 {
        pair.fail(&format!("RSS grew from {rss_before} to {rss_after} KiB"));
    }
    if pair.transitions() != transitions {
        pair.fail(&format!(
            "transitions went from {transitions:?} to {:?}",
            pair.transitions()
        ));
    }
}

// ---- keepalived + HAProxy, for comparison -------------------------------------------------

/// HAProxy's configuration for the comparison: `web` on the VIP's port 80 over app1 and
/// app2 (checked every 300 ms), `more` appended.
fn haproxy_config(servers: &str, more: &str) -> String {
    format!(
        "global\n    maxconn 4096\n\ndefaults\n    mode http\n    timeout connect 1s\n    \
         timeout client 30s\n    timeout server 30s\n    option http-keep-alive\n\n\
         frontend web\n    bind 10.0.3.100:80\n    default_backend app\n\n\
         backend app\n    balance roundrobin\n{servers}{more}"
    )
}

/// `config` with the stats socket that hands the listeners to the next worker on a
/// reload (`expose-fd listeners`): HAProxy's seamless reload, as its docs advise.
fn seamless(dir: &Workdir, lb: &str, config: &str) -> String {
    let socket = dir.path(&format!("{lb}-haproxy.sock"));
    config.replacen(
        "global\n",
        &format!(
            "global\n    stats socket {} mode 600 level admin expose-fd listeners\n",
            socket.display()
        ),
        1,
    )
}

const HAPROXY_APPS: &str = "    server app1 10.0.3.11:8080 check inter 300\n    \
                            server app2 10.0.3.12:8080 check inter 300\n";

/// The same storm as baton's, by hand: keepalived (VRRP) and HAProxy (master-worker) on
/// both load balancers, the client's load through the VIP, and 50 reloads of each on lb2
/// and lb1, good and bad files alternating, every 200 ms. It prints what happened and
/// asserts nothing: run it with `--ignored --nocapture` for the table in docs/chaos.md.
#[test]
#[ignore = "a measurement of keepalived and HAProxy for docs/chaos.md, not a test of baton"]
fn keepalived_and_haproxy_reload_storm_for_comparison() {
    let test = "keepalived_and_haproxy_reload_storm_for_comparison";
    if common::skip_without_tool("keepalived", "keepalived", test)
        || common::skip_without_tool("haproxy", "haproxy", test)
    {
        return;
    }
    let Some(lab) = guide_lab(test) else {
        return;
    };
    let dir = Workdir::new("chaos-keepalived");
    let _apps = start_apps(&lab, &STORM_APPS);
    let vrrp_good = |lb: &str, priority: u8, second: bool| {
        let extra = if second {
            "vrrp_instance VI_2 {\n    interface eth0\n    virtual_router_id 52\n    \
             priority 150\n    advert_int 0.2\n    virtual_ipaddress {\n        \
             10.0.3.101/24\n    }\n}\n"
        } else {
            ""
        };
        format!(
            "{}{extra}",
            common::keepalived_conf(lb, 3, priority, "0.2", "")
        )
    };
    let mut keepaliveds = Vec::new();
    let mut haproxies = Vec::new();
    for (lb, priority) in [("lb1", 100), ("lb2", 150)] {
        let host = lab.host(lb);
        host.run("sysctl", &["-qw", "net.ipv4.ip_nonlocal_bind=1"])
            .expect("ip_nonlocal_bind");
        keepaliveds.push(common::start_keepalived(
            host,
            &dir,
            &vrrp_good(lb, priority, false),
        ));
        let config = dir.write(
            &format!("{lb}-haproxy.cfg"),
            &seamless(&dir, lb, &haproxy_config(HAPROXY_APPS, "")),
        );
        let log = std::fs::File::create(dir.path(&format!("{lb}-haproxy.log"))).expect("log");
        let mut command = host.command("haproxy");
        command
            .args(["-W", "-db", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        haproxies.push(host.spawn(command).expect("haproxy"));
    }
    let holders = || {
        ["lb1", "lb2"]
            .into_iter()
            .filter(|lb| holds(lab.host(lb), VIP))
            .collect::<Vec<_>>()
    };
    let settled = wait_for(Duration::from_secs(15), || holders() == ["lb2"]);
    let client = lab.host("client");
    let serving = wait_for(Duration::from_secs(10), || {
        get_vip(client, 80).is_some_and(|(code, _)| code == 200)
    });
    if settled.is_none() || serving.is_none() {
        fail("keepalived + HAProxy never served", &[]);
    }
    let haproxy_good = [
        haproxy_config(
            "    server app1 10.0.3.11:8080 check inter 300 weight 3\n    \
             server app2 10.0.3.12:8080 check inter 300\n",
            "",
        ),
        haproxy_config(
            HAPROXY_APPS,
            "    server app1b 10.0.3.11:8081 check inter 300\n",
        ),
        haproxy_config(
            HAPROXY_APPS,
            "\nfrontend api\n    bind 10.0.3.100:8000\n    default_backend app\n",
        ),
        haproxy_config(HAPROXY_APPS, ""),
    ];
    let haproxy_bad = [
        format!(
            "{}\n    no-such-keyword here\n",
            haproxy_config(HAPROXY_APPS, "")
        ),
        haproxy_config(HAPROXY_APPS, "")
            .replace("bind 10.0.3.100:80", "bind 10.0.3.100:80 interface eht0"),
        haproxy_config(
            HAPROXY_APPS,
            "\nfrontend taken\n    bind 10.0.3.100:9000\n    default_backend app\n",
        ),
    ];
    let ((load, vrrp_moves), moved) = watching_vip(&lab, || {
        let load = start_load(client, 80, 2);
        thread::sleep(Duration::from_millis(500));
        let mut moves = 0;
        for i in 0..50 {
            let good = i % 2 == 0;
            for ((lb, priority), (keepalived, haproxy)) in [("lb1", 100), ("lb2", 150)]
                .into_iter()
                .zip(keepaliveds.iter().zip(&haproxies))
            {
                let vrrp = if good {
                    vrrp_good(lb, priority, (i / 2) % 2 == 0)
                } else if (i / 2) % 2 == 0 {
                    format!(
                        "{}\nvrrp_instance VI_3 {{\n",
                        vrrp_good(lb, priority, false)
                    )
                } else {
                    vrrp_good(lb, priority, false).replace("interface eth0", "interface eht0")
                };
                dir.write(&format!("{lb}-keepalived.conf"), &vrrp);
                let web = if good {
                    haproxy_good[(i / 2) % haproxy_good.len()].clone()
                } else {
                    haproxy_bad[(i / 2) % haproxy_bad.len()].clone()
                };
                dir.write(&format!("{lb}-haproxy.cfg"), &seamless(&dir, lb, &web));
                signal(keepalived, Signal::SIGHUP);
                // As Debian's haproxy.service reloads: `haproxy -c` first, SIGUSR2 if it
                // passes (a file that only fails to bind passes it).
                let checked = std::process::Command::new("haproxy")
                    .args(["-c", "-q", "-f"])
                    .arg(dir.path(&format!("{lb}-haproxy.cfg")))
                    .status()
                    .is_ok_and(|status| status.success());
                if checked {
                    let pid = Pid::from_raw(haproxy.id() as i32);
                    kill(pid, Signal::SIGUSR2).expect("haproxy reload");
                }
            }
            thread::sleep(Duration::from_millis(200));
            if holders() != ["lb2"] {
                moves += 1;
            }
        }
        (load.finish(), moves)
    });
    for lb in ["lb1", "lb2"] {
        let log = std::fs::read_to_string(dir.path(&format!("{lb}-haproxy.log")));
        let log = log.unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        eprintln!(
            "----- {lb} haproxy, last lines -----\n{}",
            lines[lines.len().saturating_sub(15)..].join("\n")
        );
    }
    let transitions: Vec<usize> = keepaliveds
        .iter()
        .map(|k| k.log_text().matches("Entering MASTER STATE").count())
        .collect();
    eprintln!(
        "keepalived + HAProxy storm: load {}; VIP not on lb2 alone at {vrrp_moves} of 50 \
         checks and {moved} watcher polls; MASTER entries lb1, lb2: {transitions:?}",
        load.0
    );
}
