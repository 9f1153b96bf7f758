//! The lab as L4 tests use it: apps serving their names, a client, baton's tables in lb1.
//!
//! ```text
//!   client 10.0.3.50 (+ 10.0.4.50)  --route VIP via lb1-->  lb1 10.0.3.5 (forwarding)
//!   app1 10.0.3.11, app2 10.0.3.12: route 10.0.4.0/24 via lb1
//! ```
//! A client using 10.0.4.50 gets its replies back through lb1 (plain NAT); one using
//! 10.0.3.50 would get them straight from the app, so it needs `snat`.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ChildStdin, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use baton_l4::{
    Backend, DataPlane, Family, Forwarding, Match, Protocol, Scheduler, Service, Table,
};
use baton_lab::{Child, Lab};

pub(crate) const VIP: &str = "10.0.3.100";
pub(crate) const VIP6: &str = "fd00:0:0:3::100";
/// The client's address in the subnet that is routed back through lb1.
pub(crate) const ROUTED_CLIENT: &str = "10.0.4.50";
/// The client's address on the shared /24, whose replies only come back with snat.
pub(crate) const LAN_CLIENT: &str = "10.0.3.50";

pub(crate) struct Setup {
    pub(crate) lab: Lab,
    dir: tempfile::TempDir,
    servers: Vec<Child>,
}

/// Runs `future` to completion on a runtime of its own (tests stay synchronous, so the
/// blocking lab calls need no care).
pub(crate) fn block<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// `None` (after a loud SKIPPED line) without root.
pub(crate) fn setup(test: &str) -> Option<Setup> {
    if baton_lab::handled_elsewhere(test) {
        return None;
    }
    // .ci/run installs both; a developer's machine may lack them.
    for (tool, package) in [("nft", "nftables"), ("conntrack", "conntrack")] {
        let found = std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()));
        if !found {
            eprintln!("SKIPPED (needs {tool}, from the {package} package): {test}");
            return None;
        }
    }
    let lab = Lab::guide().expect("lab");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("server.py"), include_str!("server.py")).expect("write");
    std::fs::write(dir.path().join("client.py"), include_str!("client.py")).expect("write");
    let run = |host: &str, args: &[&str]| {
        lab.host(host)
            .run(args[0], &args[1..])
            .unwrap_or_else(|e| panic!("{host}: {e}"))
    };
    run("lb1", &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    run("lb1", &["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
    // lb1 forwards out of the interface it received on; redirects would only confuse.
    run(
        "lb1",
        &["sysctl", "-qw", "net.ipv4.conf.all.send_redirects=0"],
    );
    run(
        "lb1",
        &["sysctl", "-qw", "net.ipv4.conf.eth0.send_redirects=0"],
    );
    run("lb1", &["ip", "route", "add", "10.0.4.0/24", "dev", "eth0"]);
    run(
        "client",
        &["ip", "addr", "add", "10.0.4.50/24", "dev", "eth0"],
    );
    run(
        "client",
        &["ip", "route", "add", "10.0.3.100/32", "via", "10.0.3.5"],
    );
    for app in ["app1", "app2"] {
        run(
            app,
            &["ip", "route", "add", "10.0.4.0/24", "via", "10.0.3.5"],
        );
    }
    Some(Setup {
        lab,
        dir,
        servers: Vec::new(),
    })
}

/// [`setup`] with app1 and app2 serving ([`Setup::serve_apps`]) and a data plane in lb1.
pub(crate) fn with_apps(test: &str) -> Option<(Setup, DataPlane)> {
    let mut lab = setup(test)?;
    lab.serve_apps();
    let plane = lab.plane("baton");
    Some((lab, plane))
}

impl Setup {
    /// The client's route to [`VIP6`] through lb1.
    pub(crate) fn route_vip6(&self) {
        let vip = format!("{VIP6}/128");
        let route = ["-6", "route", "add", &vip, "via", "fd00:0:0:3::5"];
        self.lab.host("client").run("ip", &route).expect("route");
    }

    /// A data plane in lb1, tables named `name`.
    pub(crate) fn plane(&self, name: &str) -> DataPlane {
        DataPlane::new(name).with_command_prefix([
            "ip",
            "netns",
            "exec",
            self.lab.host("lb1").namespace(),
        ])
    }

    fn script(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts a server on `host` answering `name` on `proto` `port`, and waits until it
    /// listens.
    pub(crate) fn serve(&mut self, host: &str, name: &str, proto: &str, port: u16) {
        self.serve_family(host, name, proto, port, "4");
    }

    /// [`serve`](Self::serve) on IPv6 (`family` "6") or IPv4 ("4").
    pub(crate) fn serve_family(
        &mut self,
        host: &str,
        name: &str,
        proto: &str,
        port: u16,
        family: &str,
    ) {
        let app = self.lab.host(host);
        let mut command = app.command("python3");
        command
            .arg(self.script("server.py"))
            .args([name, proto, &port.to_string(), family])
            .stdout(Stdio::null());
        self.servers.push(app.spawn(command).expect("server"));
        let flag = if proto == "udp" { "-Hlun" } else { "-Hltn" };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !app
            .run("ss", &[flag])
            .expect("ss")
            .contains(&format!(":{port} "))
        {
            assert!(Instant::now() < deadline, "{name} never listened on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The standard pair: app1 and app2 on TCP 8080 and UDP 5353.
    pub(crate) fn serve_apps(&mut self) {
        self.serve("app1", "app1", "tcp", 8080);
        self.serve("app2", "app2", "tcp", 8080);
        self.serve("app1", "app1", "udp", 5353);
        self.serve("app2", "app2", "udp", 5353);
    }

    fn client(&self, args: &[&str]) -> Vec<String> {
        self.client_on("client", args)
    }

    /// Runs client.py with `args` on `host`: its output lines.
    pub(crate) fn client_on(&self, host: &str, args: &[&str]) -> Vec<String> {
        let client = self.lab.host(host);
        let mut command = client.command("python3");
        command.arg(self.script("client.py")).args(args);
        let output = client.run_command(command).expect("client");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// `count` TCP connections to `VIP:port` from `src`, each from a new port: who answered.
    pub(crate) fn tcp(&self, port: u16, count: usize, src: &str) -> Vec<String> {
        self.tcp_to(VIP, port, count, src)
    }

    /// [`tcp`](Self::tcp) to another address.
    pub(crate) fn tcp_to(&self, host: &str, port: u16, count: usize, src: &str) -> Vec<String> {
        self.client(&["tcp", host, &port.to_string(), &count.to_string(), src])
    }

    /// `count` UDP datagrams; `sport` 0: each its own flow, else one flow from `sport`.
    pub(crate) fn udp(&self, port: u16, count: usize, src: &str, sport: u16) -> Vec<String> {
        self.client(&[
            "udp",
            VIP,
            &port.to_string(),
            &count.to_string(),
            src,
            &sport.to_string(),
        ])
    }

    /// A long-lived TCP connection.
    pub(crate) fn hold(&self, port: u16, src: &str) -> Held {
        let client = self.lab.host("client");
        let mut command = client.command("python3");
        command
            .arg(self.script("client.py"))
            .args(["hold", VIP, &port.to_string(), src])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = client.spawn(command).expect("hold");
        let stdin = child.inner_mut().stdin.take().expect("stdin");
        let stdout = BufReader::new(child.inner_mut().stdout.take().expect("stdout"));
        let mut held = Held {
            _child: child,
            stdin,
            stdout,
            server: String::new(),
        };
        held.server = held.line();
        held
    }

    /// Starts the load client; [`Load::finish`] stops it and returns its report.
    pub(crate) fn load(&self, port: u16, src: &str) -> Load {
        let stop = self.script("stop");
        let client = self.lab.host("client");
        let mut command = client.command("python3");
        command
            .arg(self.script("client.py"))
            .args(["load", VIP, &port.to_string(), src])
            .arg(&stop)
            .stdout(Stdio::piped());
        Load {
            child: client.spawn(command).expect("load"),
            stop,
        }
    }
}

pub(crate) struct Held {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// The server that answered the connection.
    pub(crate) server: String,
}

impl Held {
    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read");
        line.trim().to_owned()
    }

    /// Sends a line over the connection; the answer (`app1:ping`, or `FAIL ...`).
    pub(crate) fn ask(&mut self, text: &str) -> String {
        writeln!(self.stdin, "{text}").expect("write");
        self.stdin.flush().expect("flush");
        self.line()
    }
}

pub(crate) struct Load {
    child: Child,
    stop: PathBuf,
}

impl Load {
    /// (successful connections, failures with the first reasons).
    pub(crate) fn finish(mut self) -> (u64, Vec<String>) {
        std::fs::write(&self.stop, b"").expect("stop file");
        let mut out = String::new();
        let mut stdout = self.child.inner_mut().stdout.take().expect("stdout");
        std::io::Read::read_to_string(&mut stdout, &mut out).expect("read");
        let mut lines = out.lines();
        let summary: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
        assert_eq!(summary.first(), Some(&"ok"), "load client said {out:?}");
        let ok = summary[1].parse().expect("count");
        let failed: usize = summary[3].parse().expect("count");
        let mut failures: Vec<String> = lines.map(str::to_owned).collect();
        // The client prints only the first few reasons.
        if failed > failures.len() {
            failures.push(format!("{failed} failures in all"));
        }
        (ok, failures)
    }
}

pub(crate) fn backend(address: &str, weight: u32) -> Backend {
    Backend {
        address: address.parse().expect("backend"),
        weight,
        active_connections: 0,
        uthreshold: 0,
    }
}

/// A NAT service on `VIP:port` over app1 and app2 at `backend_port`.
pub(crate) fn service(
    port: u16,
    protocol: Protocol,
    scheduler: Scheduler,
    backend_port: u16,
    weights: [u32; 2],
) -> Service {
    let vip: SocketAddr = format!("{VIP}:{port}").parse().expect("vip");
    Service {
        name: format!("{vip}/{protocol:?}"),
        matches: vec![Match::Address(vip)],
        protocol,
        family: Family::Ipv4,
        forwarding: Forwarding::Nat { snat: false },
        scheduler,
        hash_port: false,
        persistence: None,
        backends: vec![
            backend(&format!("10.0.3.11:{backend_port}"), weights[0]),
            backend(&format!("10.0.3.12:{backend_port}"), weights[1]),
        ],
        fallback: None,
    }
}

/// [`service`] on `[VIP6]:port` over app1 and app2's IPv6 addresses.
pub(crate) fn service6(
    port: u16,
    protocol: Protocol,
    scheduler: Scheduler,
    backend_port: u16,
) -> Service {
    let mut s = service(port, protocol, scheduler, backend_port, [1, 1]);
    s.name = format!("[{VIP6}]:{port}/{protocol:?}");
    s.family = Family::Ipv6;
    s.matches = vec![Match::Address(
        format!("[{VIP6}]:{port}").parse().expect("vip"),
    )];
    s.backends = vec![
        backend(&format!("[fd00:0:0:3::11]:{backend_port}"), 1),
        backend(&format!("[fd00:0:0:3::12]:{backend_port}"), 1),
    ];
    s
}

pub(crate) fn table(services: Vec<Service>) -> Table {
    Table { services }
}

/// How many answers came from each server; panics on any failure.
pub(crate) fn tally(answers: &[String]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for answer in answers {
        assert!(!answer.starts_with("FAIL"), "a flow failed: {answers:?}");
        *counts.entry(answer.clone()).or_insert(0) += 1;
    }
    counts
}

/// Runs `nft args` in lb1 and returns its output.
pub(crate) fn nft(setup: &Setup, args: &[&str]) -> String {
    setup.lab.host("lb1").run("nft", args).expect("nft")
}
