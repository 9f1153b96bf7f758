//! State that survives: an operator's drain, weight and step-down outlast a restart (by
//! SIGTERM and by kill -9) and a reload that replaces the frontend, and a stepped-down
//! instance never takes the VIP while it starts again.
//!
//! The loopback tests need no root. The VRRP test runs on the guide's lab with VRRPv3 every
//! 0.1 s, as tests/failover.rs does.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::loopback::{Running, free_port, get, loopback_config, upstream};
use common::{
    Daemon, VIP, Workdir, assert_holders, fail, guide_lab, holds, keepalived_conf, start_baton,
    wait_for,
};

/// `baton ARGS... --control SOCKET` on this host; its stdout, or a panic with its stderr.
fn baton(control: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .arg("--control")
        .arg(control)
        .output()
        .expect("baton runs");
    assert!(
        output.status.success(),
        "baton {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `baton ARGS --control SOCKET` run inside `host`; its stdout.
fn baton_in(host: &baton_lab::Host, control: &Path, args: &[&str]) -> String {
    let mut line: Vec<&str> = args.to_vec();
    line.extend(["--control", control.to_str().expect("utf-8")]);
    host.run(env!("CARGO_BIN_EXE_baton"), &line)
        .unwrap_or_else(|error| panic!("baton {args:?} in {}: {error}", host.name()))
}

/// Where a daemon with the control socket `control` keeps its state (no --state-dir).
fn state_file(control: &Path) -> PathBuf {
    control.with_extension("state").join("state.json")
}

/// The daemon on `config`, once its frontend on `listen` answers.
fn start_serving(dir: &Workdir, config: &Path, listen: std::net::SocketAddr) -> Running {
    let daemon = Running::start(dir, config, &["--admin", "none"]);
    if wait_for(Duration::from_secs(10), || get(listen).is_ok()).is_none() {
        panic!("the frontend never answered\n{}", daemon.log());
    }
    daemon
}

/// `(admin, weight)` of the server at `address`, from `baton status --json`.
fn server(daemon: &Running, address: std::net::SocketAddr) -> (String, u64) {
    let status = daemon.status();
    let servers = status["backends"].as_array().expect("backends");
    let entry = servers
        .iter()
        .find(|s| s["address"] == address.to_string())
        .unwrap_or_else(|| panic!("no {address} in {status}"));
    (
        entry["admin"].as_str().expect("admin").to_owned(),
        entry["weight"].as_u64().expect("weight"),
    )
}

#[test]
fn a_drain_and_a_weight_survive_restarts_and_a_reload_that_replaces_the_frontend() {
    let dir = Workdir::new("state-loopback");
    let (a, b) = (upstream("a"), upstream("b"));
    let listen: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let config = dir.write("baton.toml", &loopback_config(listen, &[a, b]));
    let daemon = start_serving(&dir, &config, listen);
    let control = daemon.control.clone();
    baton(&control, &["server", "drain", "app", &a.to_string()]);
    baton(&control, &["server", "weight", "app", &b.to_string(), "5"]);

    let file = state_file(&control);
    let mode = std::fs::metadata(&file)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", file.display(), daemon.log()))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the state file is private");

    // SIGTERM, then kill -9: each time the next daemon starts with the same overrides.
    daemon.stop();
    let daemon = start_serving(&dir, &config, listen);
    assert_eq!(server(&daemon, a), ("drain".to_owned(), 1), "after SIGTERM");
    assert_eq!(server(&daemon, b), ("ready".to_owned(), 5), "after SIGTERM");
    // The frontend serves before the daemon has finished starting and says what it restored.
    let restored = format!("restored: server app {a}: drain");
    assert!(
        wait_for(Duration::from_secs(5), || daemon.log().contains(&restored)).is_some(),
        "one line per restored override\n{}",
        daemon.log()
    );
    drop(daemon); // kill -9
    let daemon = start_serving(&dir, &config, listen);
    assert_eq!(server(&daemon, a), ("drain".to_owned(), 1), "after kill -9");
    assert_eq!(server(&daemon, b), ("ready".to_owned(), 5), "after kill -9");
    for _ in 0..4 {
        assert_eq!(
            get(listen).as_deref(),
            Ok("b"),
            "the drained server gets nothing"
        );
    }

    // A new listener replaces the frontend, and with it the proxy: the drain stays.
    let moved: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    std::fs::write(&config, loopback_config(moved, &[a, b])).expect("rewrite");
    let out = baton(&control, &["reload"]);
    assert!(out.contains("reloaded"), "{out}\n{}", daemon.log());
    if wait_for(Duration::from_secs(10), || get(moved).is_ok()).is_none() {
        panic!("the moved frontend never answered\n{}", daemon.log());
    }
    assert_eq!(
        server(&daemon, a),
        ("drain".to_owned(), 1),
        "after the reload"
    );
    assert_eq!(
        server(&daemon, b),
        ("ready".to_owned(), 5),
        "after the reload"
    );
    for _ in 0..4 {
        assert_eq!(
            get(moved).as_deref(),
            Ok("b"),
            "the drained server gets nothing"
        );
    }

    // Enabled again: saved as such, and the next start has it ready.
    baton(&control, &["server", "enable", "app", &a.to_string()]);
    let saved = std::fs::read_to_string(&file).expect("state file");
    assert!(!saved.contains("drain"), "{saved}");
    daemon.stop();
    let daemon = start_serving(&dir, &config, moved);
    assert_eq!(server(&daemon, a), ("ready".to_owned(), 1));
    assert_eq!(server(&daemon, b), ("ready".to_owned(), 5));
    daemon.stop();
}

#[test]
fn a_corrupt_state_file_is_set_aside_and_the_daemon_starts_anyway() {
    let dir = Workdir::new("state-corrupt");
    let a = upstream("a");
    let listen: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let config = dir.write("baton.toml", &loopback_config(listen, &[a]));
    let file = state_file(&dir.path("baton.sock"));
    std::fs::create_dir_all(file.parent().expect("dir")).expect("state dir");
    std::fs::write(&file, "{\"version\": 1, \"servers\": [{\"name\": ").expect("write");

    let daemon = start_serving(&dir, &config, listen);
    assert_eq!(server(&daemon, a), ("ready".to_owned(), 1));
    let log = daemon.log();
    assert!(
        log.contains(&format!(
            "state file {}: not a valid state file",
            file.display()
        )),
        "the error names the file\n{log}"
    );
    let bad = file.with_file_name("state.json.bad");
    assert!(bad.exists(), "kept for inspection\n{log}");
    assert!(!file.exists());
    daemon.stop();
}

/// lb1 (priority 100) and lb2 (priority 150), VRRPv3 every 0.1 s, from the same files at
/// each start; lb2's state lives beside its control socket.
struct Pair {
    lab: baton_lab::Lab,
    dir: Workdir,
    backup: Daemon,
    master: Daemon,
}

const INTERVAL: Duration = Duration::from_millis(100);

impl Pair {
    fn start(lab: baton_lab::Lab) -> Pair {
        let dir = Workdir::new("state-vrrp");
        let backup = start_baton(lab.host("lb1"), &dir, &lb1_conf());
        let master = start_baton(lab.host("lb2"), &dir, &lb2_conf());
        if wait_for(Duration::from_secs(10), || holds(lab.host("lb2"), VIP)).is_none() {
            fail("lb2 (priority 150) never took the VIP", &[&backup, &master]);
        }
        Pair {
            lab,
            dir,
            backup,
            master,
        }
    }

    fn control(&self, host: &str) -> PathBuf {
        self.dir.path(&format!("{host}.sock"))
    }

    /// `baton ARGS --control` against the daemon on `host`, run inside it.
    fn baton(&self, host: &str, args: &[&str]) -> String {
        baton_in(self.lab.host(host), &self.control(host), args)
    }

    /// VI_1 as `baton status --json` on `host` shows it.
    fn instance(&self, host: &str) -> serde_json::Value {
        let status: serde_json::Value =
            serde_json::from_str(&self.baton(host, &["status", "--json"])).expect("JSON");
        status["vrrp"][0].clone()
    }

    fn fail(&self, message: &str) -> ! {
        fail(message, &[&self.backup, &self.master])
    }

    /// Starts lb2 again and watches both hosts until it runs stepped down and a master-down
    /// interval of its own has passed many times over: lb2 never holds the VIP meanwhile,
    /// lb1 always does, and lb1 saw no transition.
    fn restart_lb2_stepped_down(&mut self, how: &str) {
        let transitions = self.instance("lb1")["transitions"].clone();
        // The log file is appended to: only what the new process writes counts.
        let earlier = self.master.log_text().len();
        let new_log = |daemon: &Daemon| daemon.log_text().get(earlier..).unwrap_or("").to_owned();
        self.master = start_baton(self.lab.host("lb2"), &self.dir, &lb2_conf());
        let watched = Instant::now();
        let mut started: Option<Instant> = None;
        // lb2's master-down interval is about 0.35 s; watch ten times that once it runs.
        while started.is_none_or(|at| at.elapsed() < INTERVAL * 35) {
            if holds(self.lab.host("lb2"), VIP) {
                self.fail(&format!("after {how}, the stepped-down lb2 took the VIP"));
            }
            if !holds(self.lab.host("lb1"), VIP) {
                self.fail(&format!("after {how}, lb1 lost the VIP"));
            }
            // Logged once its instances run.
            if started.is_none() && new_log(&self.master).contains("restored: instance VI_1") {
                started = Some(Instant::now());
            }
            if watched.elapsed() > Duration::from_secs(20) {
                self.fail(&format!(
                    "after {how}, lb2 never said it restored the step-down"
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let lb2 = self.instance("lb2");
        if lb2["state"] != "BACKUP" || lb2["maintenance"] != true {
            self.fail(&format!("after {how}, lb2 is {lb2}"));
        }
        if new_log(&self.master).contains("-> MASTER") {
            self.fail(&format!("after {how}, lb2 became master"));
        }
        let now = self.instance("lb1")["transitions"].clone();
        if now != transitions {
            self.fail(&format!(
                "after {how}, lb1's transitions went from {transitions} to {now}"
            ));
        }
    }
}

fn lb1_conf() -> String {
    keepalived_conf("lb1", 3, 100, "0.1", "")
}

fn lb2_conf() -> String {
    keepalived_conf("lb2", 3, 150, "0.1", "")
}

#[test]
fn a_stepped_down_instance_never_takes_the_vip_after_a_restart() {
    let Some(lab) = guide_lab("state: step-down across restarts") else {
        return;
    };
    let mut pair = Pair::start(lab);
    let out = pair.baton("lb2", &["instance", "step-down", "VI_1"]);
    assert!(out.contains("VI_1: BACKUP, stepped down"), "{out}");
    if wait_for(Duration::from_secs(5), || holds(pair.lab.host("lb1"), VIP)).is_none() {
        pair.fail("lb1 never took over after the step-down");
    }
    std::thread::sleep(INTERVAL * 5);
    assert_holders(&pair.lab, &["lb1"], &[&pair.backup, &pair.master]);

    // SIGTERM: the stopping lb2 is a backup and says nothing that moves the VIP.
    pair.master.child.terminate();
    pair.restart_lb2_stepped_down("SIGTERM and a restart");
    pair.master.child.kill();
    pair.restart_lb2_stepped_down("kill -9 and a restart");

    // Resumed, the saved step-down is gone and lb2 preempts as its priority says.
    let out = pair.baton("lb2", &["instance", "resume", "VI_1"]);
    assert!(!out.contains("stepped down"), "{out}");
    if wait_for(Duration::from_secs(5), || holds(pair.lab.host("lb2"), VIP)).is_none() {
        pair.fail("lb2 never preempted after resume");
    }
    let saved = std::fs::read_to_string(state_file(&pair.control("lb2"))).expect("state file");
    assert!(!saved.contains("VI_1"), "{saved}");
    pair.master.child.terminate();
    if wait_for(Duration::from_secs(5), || holds(pair.lab.host("lb1"), VIP)).is_none() {
        pair.fail("lb1 never took over after SIGTERM");
    }
    pair.master = start_baton(pair.lab.host("lb2"), &pair.dir, &lb2_conf());
    if wait_for(Duration::from_secs(10), || holds(pair.lab.host("lb2"), VIP)).is_none() {
        pair.fail("lb2, resumed before its restart, never took the VIP back");
    }
}

/// A NAT virtual server on lb1 over two real servers without checkers (always alive).
const L4_CONFIG: &str = r#"
[[virtual_server]]
name = "web"
address = "10.0.3.100:80"
protocol = "TCP"
lb_algo = "wrr"
lb_kind = "NAT"

[[virtual_server.real_server]]
address = "10.0.3.11:8080"

[[virtual_server.real_server]]
address = "10.0.3.12:8080"
"#;

/// `(admin, weight)` of a real server of the virtual server `web` on the daemon at
/// `control` in `host`: the weight the operator or the configuration gives it
/// (`configured_weight` in the status).
fn real_server(host: &baton_lab::Host, control: &Path, address: &str) -> (String, u64) {
    let status: serde_json::Value =
        serde_json::from_str(&baton_in(host, control, &["status", "--json"])).expect("JSON");
    let servers = status["virtual_servers"][0]["real_servers"].clone();
    let entry = servers
        .as_array()
        .and_then(|servers| servers.iter().find(|s| s["address"] == address))
        .unwrap_or_else(|| panic!("no real server {address} in {status}"));
    (
        entry["admin"].as_str().unwrap_or_default().to_owned(),
        entry["configured_weight"].as_u64().unwrap_or_default(),
    )
}

#[test]
fn a_real_servers_drain_and_weight_survive_a_restart() {
    let test = "state: real servers across restarts";
    if !common::on_path("nft") {
        eprintln!("SKIPPED (needs nft, from nftables): {test}");
        return;
    }
    let Some(lab) = guide_lab(test) else {
        return;
    };
    let dir = Workdir::new("state-l4");
    let lb1 = lab.host("lb1");
    let control = dir.path("lb1.sock");
    let mut daemon = common::start_baton_toml(lb1, &dir, L4_CONFIG);
    let restored = |daemon: &Daemon| {
        daemon
            .log_text()
            .matches("the operator's overrides are kept here")
            .count()
    };
    if wait_for(Duration::from_secs(10), || restored(&daemon) == 1).is_none() {
        fail("lb1 never started", &[&daemon]);
    }
    baton_in(lb1, &control, &["server", "drain", "web", "10.0.3.11:8080"]);
    baton_in(
        lb1,
        &control,
        &["server", "weight", "web", "10.0.3.12:8080", "3"],
    );

    for (starts, how) in [(2, "SIGTERM"), (3, "kill -9")] {
        if how == "SIGTERM" {
            daemon.child.terminate();
        } else {
            daemon.child.kill();
        }
        // The log file is appended to: the restarted daemon's start is the next line.
        daemon = common::start_baton_toml(lb1, &dir, L4_CONFIG);
        if wait_for(Duration::from_secs(10), || restored(&daemon) == starts).is_none() {
            fail(&format!("after {how}, lb1 never started again"), &[&daemon]);
        }
        let drained = real_server(lb1, &control, "10.0.3.11:8080");
        assert_eq!(drained.0, "drain", "after {how}\n{}", daemon.log_text());
        let weighted = real_server(lb1, &control, "10.0.3.12:8080");
        assert_eq!(weighted, ("ready".to_owned(), 3), "after {how}");
    }
    daemon.child.terminate();
}
