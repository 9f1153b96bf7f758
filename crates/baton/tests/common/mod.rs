//! Shared by the lab tests: starting baton and keepalived inside lab hosts, and waiting for
//! a virtual address to show up or go.
#![allow(dead_code)] // each test binary uses a different part

pub(crate) mod bird;
pub(crate) mod chaos;
pub(crate) mod flood;
pub(crate) mod flow_stream;
pub(crate) mod holders;
pub(crate) mod loopback;
pub(crate) mod pair;
pub(crate) mod pcap;
pub(crate) mod smtp;
pub(crate) mod tcpdump_text;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use baton_lab::{Child, Host, Lab};

pub(crate) const VIP: &str = "10.0.3.100/24";

/// The guide's lab, or `None` (with a loud skip line) where namespaces cannot be made.
pub(crate) fn guide_lab(test: &str) -> Option<Lab> {
    if baton_lab::handled_elsewhere(test) {
        return None;
    }
    Some(Lab::guide().expect("building the guide's lab"))
}

/// Whether `program` is on `PATH` or in the sbin directories, where the lab's hosts look
/// for it: a user's `PATH` lacks them, and the rootless lab adds them (and root has them).
pub(crate) fn installed(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .any(|dir| dir.join(program).is_file())
}

/// `true`, after a loud SKIPPED line naming the tool and its Debian package, when `program`
/// is not on `PATH`: a machine without it cannot run `test`, which is no failure of baton's.
pub(crate) fn skip_without_tool(program: &str, package: &str, test: &str) -> bool {
    if installed(program) {
        return false;
    }
    eprintln!("SKIPPED (needs {program} on PATH, from the {package} package): {test}");
    true
}

/// `true`, after a loud SKIPPED line, where captures cannot run: no tcpdump, or a rootless
/// lab without the `tcpdump` user it drops to (see `baton_lab::skip_without_other_users`).
pub(crate) fn skip_without_tcpdump(test: &str) -> bool {
    skip_without_tool("tcpdump", "tcpdump", test)
        || baton_lab::skip_without_other_users(test, "tcpdump, which drops to its own user")
}

/// Which implementation a comparison test runs on a host: the tests that hold baton to
/// keepalived 2.2.7 run each scenario with both, and mixed pairs.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum Kind {
    Baton,
    Keepalived,
}

pub(crate) const KINDS: [Kind; 2] = [Kind::Baton, Kind::Keepalived];

impl Kind {
    pub(crate) fn other(self) -> Kind {
        match self {
            Kind::Baton => Kind::Keepalived,
            Kind::Keepalived => Kind::Baton,
        }
    }

    /// Starts this implementation in `host` from keepalived.conf text `conf`.
    pub(crate) fn start(self, host: &Host, dir: &Workdir, conf: &str) -> Daemon {
        match self {
            Kind::Baton => start_baton(host, dir, conf),
            Kind::Keepalived => start_keepalived(host, dir, conf),
        }
    }
}

/// A private directory for one daemon's files, removed at the end of the test.
pub(crate) struct Workdir(PathBuf);

impl Workdir {
    pub(crate) fn new(name: &str) -> Workdir {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("baton-test-{}-{n}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Workdir(dir)
    }

    pub(crate) fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }

    pub(crate) fn write(&self, file: &str, contents: &str) -> PathBuf {
        let path = self.path(file);
        std::fs::write(&path, contents).expect("write");
        path
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A daemon running in a lab host, with its log kept for failure messages.
pub(crate) struct Daemon {
    pub(crate) child: Child,
    pub(crate) log: PathBuf,
    pub(crate) name: String,
}

impl Daemon {
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// keepalived.conf text for one VRRP instance: the guide's VIP on eth0.
pub(crate) fn keepalived_conf(
    router_id: &str,
    version: u8,
    priority: u8,
    advert_int: &str,
    extra: &str,
) -> String {
    keepalived_conf_for(VIP, router_id, version, priority, advert_int, extra)
}

/// The same for any virtual address (IPv6 ones make an IPv6 instance).
pub(crate) fn keepalived_conf_for(
    vip: &str,
    router_id: &str,
    version: u8,
    priority: u8,
    advert_int: &str,
    extra: &str,
) -> String {
    let auth = if version == 2 {
        "    authentication {\n        auth_type PASS\n        auth_pass baton12\n    }\n"
    } else {
        ""
    };
    format!(
        "global_defs {{\n    router_id {router_id}\n    vrrp_version {version}\n}}\n\
         vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    \
         priority {priority}\n    advert_int {advert_int}\n{auth}{extra}    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
    )
}

/// Starts `baton run --keepalived-conf` in `host`.
pub(crate) fn start_baton(host: &Host, dir: &Workdir, conf: &str) -> Daemon {
    let conf_path = dir.write(&format!("{}.conf", host.name()), conf);
    run_baton(host, dir, "--keepalived-conf", &conf_path)
}

/// Starts `baton run --config` in `host` with `config` as its baton.toml.
pub(crate) fn start_baton_toml(host: &Host, dir: &Workdir, config: &str) -> Daemon {
    let path = dir.write(&format!("{}.toml", host.name()), config);
    run_baton(host, dir, "--config", &path)
}

/// `baton run FLAG PATH` in `host`, its control socket `NAME.sock` in `dir` and its log
/// `NAME-baton.log`.
fn run_baton(host: &Host, dir: &Workdir, flag: &str, path: &Path) -> Daemon {
    let log = dir.path(&format!("{}-baton.log", host.name()));
    let mut command = host.command(env!("CARGO_BIN_EXE_baton"));
    command
        .args(["run", flag])
        .arg(path)
        .arg("--control")
        .arg(dir.path(&format!("{}.sock", host.name())))
        .env("BATON_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(log_file(&log))
        .stderr(log_file(&log));
    let child = host.spawn(command).expect("starting baton");
    Daemon {
        child,
        log,
        name: format!("baton@{}", host.name()),
    }
}

/// `baton demo-app` on `port` of `host`: an HTTP server that answers with the host's name.
pub(crate) fn start_app(host: &Host, port: u16) -> Child {
    let mut command = host.command(env!("CARGO_BIN_EXE_baton"));
    command
        .args(["demo-app", "--listen", &format!("0.0.0.0:{port}"), "--name"])
        .arg(host.name())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    host.spawn(command).expect("app server")
}

/// `baton status --json` of the baton `run_baton` started in `host` (its socket in `dir`).
pub(crate) fn status_of(host: &Host, dir: &Workdir) -> serde_json::Value {
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

/// Whether `tool` is installed (see [`installed`]), for tests that print SKIPPED without it.
pub(crate) fn on_path(tool: &str) -> bool {
    installed(tool)
}

/// Starts Debian's keepalived (VRRP only, foreground) in `host` from the same kind of file.
pub(crate) fn start_keepalived(host: &Host, dir: &Workdir, conf: &str) -> Daemon {
    start_keepalived_with(host, dir, conf, &[])
}

/// [`start_keepalived`] with more command-line arguments (`-i ID`, `-d`).
pub(crate) fn start_keepalived_with(
    host: &Host,
    dir: &Workdir,
    conf: &str,
    extra: &[&str],
) -> Daemon {
    let name = host.name();
    let conf_path = dir.write(&format!("{name}-keepalived.conf"), conf);
    let log = dir.path(&format!("{name}-keepalived.log"));
    let mut command = host.command("keepalived");
    command
        .arg("-f")
        .arg(&conf_path)
        .args(["-P", "-n", "-l", "-G", "-D", "-R"])
        .arg("-p")
        .arg(dir.path(&format!("{name}-keepalived.pid")))
        .arg("-r")
        .arg(dir.path(&format!("{name}-vrrp.pid")))
        .arg("-c")
        .arg(dir.path(&format!("{name}-checkers.pid")))
        .arg("-b")
        .arg(dir.path(&format!("{name}-bfd.pid")))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(log_file(&log))
        .stderr(log_file(&log));
    let child = host.spawn(command).expect("starting keepalived");
    Daemon {
        child,
        log,
        name: format!("keepalived@{name}"),
    }
}

pub(crate) fn log_file(path: &Path) -> Stdio {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("log file");
    Stdio::from(file)
}

pub(crate) fn holds(host: &Host, vip: &str) -> bool {
    host.addresses()
        .map(|a| a.iter().any(|x| x == vip))
        .unwrap_or(false)
}

/// Polls every 5 ms until `condition` holds; how long that took, or `None` at `timeout`.
pub(crate) fn wait_for(timeout: Duration, mut condition: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if condition() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// Panics with both daemons' logs, so a failure in CI says what happened.
pub(crate) fn fail(message: &str, daemons: &[&Daemon]) -> ! {
    let mut text = format!("{message}\n");
    for daemon in daemons {
        text.push_str(&format!(
            "----- {} -----\n{}\n",
            daemon.name,
            daemon.log_text()
        ));
    }
    panic!("{text}");
}

/// Exactly these hosts hold `vip`, or a failure with logs.
pub(crate) fn assert_holders(lab: &Lab, expected: &[&str], daemons: &[&Daemon]) {
    assert_holders_of(lab, VIP, expected, daemons);
}

pub(crate) fn assert_holders_of(lab: &Lab, vip: &str, expected: &[&str], daemons: &[&Daemon]) {
    let holders: Vec<&str> = ["lb1", "lb2"]
        .into_iter()
        .filter(|h| holds(lab.host(h), vip))
        .collect();
    if holders != expected {
        fail(
            &format!("VIP holders {holders:?}, expected {expected:?}"),
            daemons,
        );
    }
}
