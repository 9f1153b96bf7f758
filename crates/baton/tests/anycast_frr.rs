//! Anycast behind BGP with FRR (issue 12): the configurations docs/operations.md shows under
//! "FRR", taken from the page itself, run in two lab hosts: lb1 (10.0.3.5) runs baton and
//! FRR's zebra, bfdd and bgpd; the router (10.0.3.1) runs the same three daemons.
//!
//! What the page says, held true here: with the address on `lo` (baton's default), zebra's
//! connected route for it outranks the route imported from table 100 and nothing is
//! announced; with `local_route = true` the router's kernel gets the route, an HTTP request
//! from the router reaches baton's frontend on the anycast address, and a SIGTERM to baton
//! withdraws the route from the router before baton exits. (`anycast_bgp.rs` runs bird2.)

mod common;

use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use baton_lab::{Host, Lab};
use common::{Daemon, Workdir, fail, log_file, start_app, start_baton_toml, wait_for};
use nix::sys::signal::Signal;

const ANYCAST: &str = "10.0.9.100";
const ROUTER: (&str, &str) = ("router", "10.0.3.1/24");
const LOAD_BALANCER: (&str, &str) = ("lb1", "10.0.3.5/24");
const APP_PORT: u16 = 8080;
/// FRR's daemons, as Debian installs them.
const FRR_DAEMONS: &str = "/usr/lib/frr";
/// Sessions up and the route in the router's kernel after a start: BGP's first connect
/// comes within seconds; far more, for a loaded machine.
const ANNOUNCED: Duration = Duration::from_secs(30);
/// How long a route that should not come is waited for once the session is up: zebra
/// hands bgpd a redistributed route within milliseconds.
const NOT_ANNOUNCED: Duration = Duration::from_secs(3);
/// A withdrawn route gone from the router's kernel: event-driven all the way.
const WITHDRAWN: Duration = Duration::from_secs(10);

/// baton.toml on lb1: a frontend on the anycast address in front of lb1's own app, and
/// the section announcing the address while that frontend can serve.
fn baton_config(local_route: bool) -> String {
    format!(
        r#"[[frontend]]
name = "web"
listen = "{ANYCAST}:80"
backend = "app"

{backend}
[[anycast]]
name = "web"
prefixes = ["{ANYCAST}/32"]
track_frontend = ["web"]
withdraw_delay = 0.2
local_route = {local_route}
"#,
        backend = common::bird::checked_backend(&format!("127.0.0.1:{APP_PORT}"))
    )
}

/// The fenced blocks of docs/operations.md's "FRR" section: the load balancer's
/// configuration, then the router's.
fn documented_configurations() -> (String, String) {
    let page = include_str!("../../../docs/operations.md");
    let section = page
        .split_once("#### FRR\n")
        .expect("docs/operations.md has an FRR section")
        .1;
    let section = section.split("\n#### ").next().unwrap_or(section);
    let blocks: Vec<&str> = section.split("```").skip(1).step_by(2).collect();
    assert_eq!(blocks.len(), 2, "the FRR section shows two configurations");
    let body = |block: &str| block.trim_start_matches('\n').to_owned();
    (body(blocks[0]), body(blocks[1]))
}

/// One FRR configuration split into what each daemon reads (`-f`): zebra the `ip
/// import-table` lines, bfdd the `bfd` block, bgpd the rest (prefix lists, route maps and
/// `router bgp`), as `vtysh` would hand them out from an integrated frr.conf.
struct DaemonConfigurations {
    zebra: String,
    bfdd: String,
    bgpd: String,
}

fn split_by_daemon(configuration: &str) -> DaemonConfigurations {
    let mut split = DaemonConfigurations {
        zebra: String::new(),
        bfdd: String::new(),
        bgpd: String::new(),
    };
    let mut current = &mut split.bgpd;
    for line in configuration.lines() {
        if !line.starts_with(' ') && !line.starts_with('!') {
            current = if line.starts_with("ip import-table") {
                &mut split.zebra
            } else if line == "bfd" {
                &mut split.bfdd
            } else {
                &mut split.bgpd
            };
        }
        current.push_str(line);
        current.push('\n');
    }
    split
}

/// zebra, bfdd and bgpd of one lab host, in the foreground, their sockets, pid files and
/// logs in a directory of their own (owned by the `frr` user the daemons drop to).
struct Frr {
    daemons: Vec<Daemon>,
    dir: PathBuf,
}

impl Frr {
    fn start(host: &Host, work: &Workdir, configuration: &str) -> Frr {
        let dir = work.path(&format!("frr-{}", host.name()));
        std::fs::create_dir_all(&dir).expect("FRR's directory");
        let frr = nix::unistd::User::from_name("frr")
            .expect("looking up the frr user")
            .expect("the frr package makes an frr user");
        chown(&dir, Some(frr.uid.as_raw()), Some(frr.gid.as_raw())).expect("chown");
        let split = split_by_daemon(configuration);
        let mut started = Frr {
            daemons: Vec::new(),
            dir,
        };
        for (daemon, conf) in [
            ("zebra", &split.zebra),
            ("bfdd", &split.bfdd),
            ("bgpd", &split.bgpd),
        ] {
            let conf_path = started.dir.join(format!("{daemon}.conf"));
            std::fs::write(&conf_path, conf).expect("writing a daemon's configuration");
            let log = started.dir.join(format!("{daemon}.out"));
            let mut command = host.command(Path::new(FRR_DAEMONS).join(daemon));
            command
                .arg("-f")
                .arg(&conf_path)
                .arg("-i")
                .arg(started.dir.join(format!("{daemon}.pid")))
                .arg("-z")
                .arg(started.dir.join("zserv.api"))
                .arg("--vty_socket")
                .arg(&started.dir)
                .stdin(Stdio::null())
                .stdout(log_file(&log))
                .stderr(log_file(&log));
            if daemon == "bfdd" {
                command.arg("--bfdctl").arg(started.dir.join("bfdd.sock"));
            }
            let child = host.spawn(command).expect("starting an FRR daemon");
            started.daemons.push(Daemon {
                child,
                log,
                name: format!("{daemon}@{}", host.name()),
            });
            // zebra first, with its API socket up, before the others connect to it.
            let ready = wait_for(Duration::from_secs(10), || {
                started.vtysh(daemon, "show version").is_ok()
            });
            if ready.is_none() {
                fail(
                    &format!("{daemon} in {} never answered vtysh", host.name()),
                    &started.all(),
                );
            }
        }
        started
    }

    /// `vtysh -d DAEMON -c COMMAND` on this host's daemons.
    fn vtysh(&self, daemon: &str, command: &str) -> Result<String, String> {
        let output = Command::new("vtysh")
            .arg("--vty_socket")
            .arg(&self.dir)
            .args(["-d", daemon, "-c", command])
            .stdin(Stdio::null())
            .output()
            .map_err(|error| format!("running vtysh: {error}"))?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() {
            Ok(text)
        } else {
            Err(format!(
                "vtysh -d {daemon} -c {command}: {text}{}",
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    /// Whether bgpd's session to `neighbor` is Established.
    fn established(&self, neighbor: &str) -> bool {
        self.vtysh("bgpd", &format!("show bgp neighbors {neighbor} json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .is_some_and(|json| json[neighbor]["bgpState"] == "Established")
    }

    fn all(&self) -> Vec<&Daemon> {
        self.daemons.iter().collect()
    }
}

/// The router's kernel route to the anycast address, learnt over BGP, if any.
fn router_route(router: &Host) -> Option<String> {
    let out = router
        .run("ip", &["-4", "route", "show", ANYCAST, "proto", "bgp"])
        .unwrap_or_default();
    out.lines().next().map(str::to_owned)
}

/// The lab with FRR on both hosts and lb1's app, or `None` after a loud skip line.
struct FrrLab {
    router_frr: Frr,
    lb_frr: Frr,
    _app: baton_lab::Child,
    lab: Lab,
    dir: Workdir,
}

impl FrrLab {
    fn start(test: &str) -> Option<FrrLab> {
        if common::skip_without_tool("vtysh", "frr", test)
            || !Path::new(FRR_DAEMONS).join("bgpd").exists() && {
                eprintln!("SKIPPED {test}: {FRR_DAEMONS}/bgpd missing (install frr)");
                true
            }
            || common::skip_without_tool("python3", "python3", test)
            || baton_lab::handled_elsewhere(test)
        {
            return None;
        }
        let lab = Lab::builder()
            .host(ROUTER.0, ROUTER.1)
            .host(LOAD_BALANCER.0, LOAD_BALANCER.1)
            .build()
            .expect("building the FRR lab");
        let dir = Workdir::new("anycast-frr");
        let (lb_conf, router_conf) = documented_configurations();
        let app = start_app(lab.host(LOAD_BALANCER.0), APP_PORT);
        // The router first: its sessions are passive, and the load balancer's bgpd
        // connects at once but retries only every two minutes by default.
        let router_frr = Frr::start(lab.host(ROUTER.0), &dir, &router_conf);
        let lb_frr = Frr::start(lab.host(LOAD_BALANCER.0), &dir, &lb_conf);
        Some(FrrLab {
            router_frr,
            lb_frr,
            _app: app,
            lab,
            dir,
        })
    }

    fn router(&self) -> &Host {
        self.lab.host(ROUTER.0)
    }

    fn fail(&self, message: &str, baton: &Daemon) -> ! {
        let mut daemons = self.router_frr.all();
        daemons.extend(self.lb_frr.all());
        daemons.push(baton);
        fail(message, &daemons)
    }

    /// Stops `baton` with SIGTERM and waits for it to exit.
    fn stop(&self, baton: &mut Daemon) {
        baton.child.signal(Signal::SIGTERM).expect("SIGTERM");
        let exited = baton.child.wait_timeout(Duration::from_secs(20));
        if !matches!(exited, Ok(Some(_))) {
            self.fail("baton did not stop within 20 s of SIGTERM", baton);
        }
    }
}

/// The page's FRR configurations, run: without `local_route` nothing is announced (the
/// page's warning); with it the router learns the route, reaches the frontend through it,
/// and loses it on SIGTERM.
#[test]
fn frr_announces_baton_routes_with_local_route_as_the_page_says() {
    let test = "frr_announces_baton_routes_with_local_route_as_the_page_says";
    let Some(frr) = FrrLab::start(test) else {
        return;
    };
    let lb = frr.lab.host(LOAD_BALANCER.0);
    let lb_address = common::bird::address_of(LOAD_BALANCER.1).to_string();
    let router_address = common::bird::address_of(ROUTER.1).to_string();

    // The address on lo: baton's route reaches table 100, the session is up, and yet
    // zebra's connected route wins and nothing reaches the router.
    let mut baton = start_baton_toml(lb, &frr.dir, &baton_config(false));
    let up = wait_for(ANNOUNCED, || {
        frr.lb_frr.established(&router_address)
            && lb
                .run("ip", &["route", "show", "table", "100", "proto", "201"])
                .is_ok_and(|routes| routes.contains(ANYCAST))
    });
    if up.is_none() {
        frr.fail(
            "without local_route: no session, or no route of baton's in table 100",
            &baton,
        );
    }
    if wait_for(NOT_ANNOUNCED, || router_route(frr.router()).is_some()).is_some() {
        frr.fail(
            "the address on lo was announced after all: the page's warning about \
             local_route is wrong for this FRR",
            &baton,
        );
    }
    frr.stop(&mut baton);

    // local_route: announced, and the router reaches the frontend on the address.
    let started = Instant::now();
    let mut baton = start_baton_toml(lb, &frr.dir, &baton_config(true));
    let announced = wait_for(ANNOUNCED, || {
        router_route(frr.router()).is_some_and(|route| route.contains(&lb_address))
    });
    let Some(_) = announced else {
        frr.fail("with local_route the router never learnt the route", &baton);
    };
    eprintln!(
        "FRR: with local_route, {:?} from baton's start to the route in the router's kernel: {:?}",
        started.elapsed(),
        router_route(frr.router())
    );
    let answer = frr.router().run(
        "python3",
        &[
            "-c",
            &format!(
                "import urllib.request; print(urllib.request.urlopen('http://{ANYCAST}/', timeout=5).read().decode())"
            ),
        ],
    );
    match answer {
        // The demo app answers with its host's name and the client's address.
        Ok(text) if text.starts_with(LOAD_BALANCER.0) => {}
        other => frr.fail(
            &format!("the router's request to {ANYCAST} got {other:?}, not lb1's app"),
            &baton,
        ),
    }

    // SIGTERM: the route leaves the router before baton exits (withdraw_delay, then the
    // drain).
    let signalled = Instant::now();
    baton.child.signal(Signal::SIGTERM).expect("SIGTERM");
    let Some(withdrawn) = wait_for(WITHDRAWN, || router_route(frr.router()).is_none()) else {
        frr.fail("SIGTERM: the route stayed on the router", &baton);
    };
    let exited = baton.child.wait_timeout(Duration::from_secs(20));
    eprintln!(
        "FRR: SIGTERM to baton: route gone from the router's kernel after {withdrawn:?}, \
         baton exited after {:?}",
        signalled.elapsed()
    );
    if !matches!(exited, Ok(Some(_))) {
        frr.fail("baton did not stop within 20 s of SIGTERM", &baton);
    }
}

/// The split hands each daemon its own lines.
#[test]
fn the_documented_configurations_split_by_daemon() {
    let (lb, router) = documented_configurations();
    let lb = split_by_daemon(&lb);
    assert_eq!(lb.zebra, "ip import-table 100\n!\n");
    assert!(lb.bfdd.starts_with("bfd\n profile fast\n"), "{}", lb.bfdd);
    assert!(!lb.bgpd.contains("import-table") && !lb.bgpd.contains("profile fast\n  "));
    assert!(lb.bgpd.contains("router bgp 65001\n"), "{}", lb.bgpd);
    assert!(lb.bgpd.contains("redistribute table 100"), "{}", lb.bgpd);
    let router = split_by_daemon(&router);
    assert_eq!(router.zebra, "");
    assert!(
        router.bgpd.contains("router bgp 65000\n"),
        "{}",
        router.bgpd
    );
}
