//! Anycast behind BGP with bird2 (issue 12): three load balancers announce 10.0.9.100/32
//! and fd00:9::100/128 to a router over BGP with BFD (a session per address family), and
//! the router's kernel spreads the clients' connections over all three with one ECMP route
//! per address; every step below holds for both routes.
//!
//! The lab: lb1, lb2 and lb3 (10.0.3.5-7, fd00:0:0:3::5-7) and the router (10.0.3.1,
//! fd00:0:0:3::1) on the lab's bridge; the client (10.0.5.50, fd00:0:0:5::50) behind the
//! router on a cable of its own (eth1 on both, the router 10.0.5.1 and fd00:0:0:5::1), its
//! bridge port unused, so every packet to the anycast addresses crosses the router. Each load balancer has the address on lo, an HTTP app answering with its
//! name on port 8080, and bird2 learning kernel table 100 (the routes baton writes, route
//! protocol 201) and announcing them; the router's bird merges the equal paths
//! (`merge paths on`) and its kernel hashes on ports (`fib_multipath_hash_policy=1`).
//!
//! The harness first, routes added and removed by hand as baton writes them (`ip route add
//! 10.0.9.100/32 dev lo table 100 proto 201`). One lab, in order: the router's kernel gets
//! the route with three nexthops and the client's connections reach more than one load
//! balancer; a route removed on lb2 is withdrawn from the router (two nexthops) and comes
//! back when re-added; lb3's bird killed (SIGKILL) drops lb3 at once (its kernel closes
//! the BGP connection), and restarted it is back; lb1 cut off silently (its bridge port
//! disabled: carrier stays, TCP hears nothing) is dropped by BFD (100 ms x 3) well within
//! 3 s, while every client connection keeps working through lb2 and lb3.
//!
//! Then baton itself writes the routes (`[[anycast]]` tracking a frontend on port 80): a
//! frontend that cannot serve is withdrawn, a stopping baton withdraws before it drains,
//! and a killed one stays announced until the unit's ExecStopPost flushes its routes (see
//! that test). The figures are printed. The bird configurations are the ones
//! docs/operations.md shows, and a third test holds the page to them.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use baton_lab::{Child, Host, Lab};
use common::bird::{
    ANYCAST_TABLE, AnycastRanges, BATON_ROUTE_PROTOCOL, Bird, CLIENT_SIDE, CLIENT_SIDE6, Peer,
    address_of, cable_client, ip, load_balancer_conf, nexthop_indexes, router_conf,
    router_forwards,
};
use common::{Daemon, Workdir, start_baton_toml, wait_for};
use nix::sys::signal::Signal;

const ANYCAST: &str = "10.0.9.100";
const ANYCAST6: &str = "fd00:9::100";
/// What the router accepts from the load balancers.
const RANGES: AnycastRanges = AnycastRanges {
    ipv4: "10.0.9.0/24",
    ipv6: Some("fd00:9::/64"),
};
/// Name, IPv4 address, and the IPv6 (ULA) address the lab derives from it.
const ROUTER: (&str, &str, &str) = ("router", "10.0.3.1/24", "fd00:0:0:3::1");
const LOAD_BALANCERS: [(&str, &str, &str); 3] = [
    ("lb1", "10.0.3.5/24", "fd00:0:0:3::5"),
    ("lb2", "10.0.3.6/24", "fd00:0:0:3::6"),
    ("lb3", "10.0.3.7/24", "fd00:0:0:3::7"),
];
/// A lab host like the others (its bridge address is unused: eth0 goes down; it has a
/// cable of its own to the router).
const CLIENT: (&str, &str) = ("client", "10.0.3.50/24");
const ROUTER_ASN: u32 = 65000;
/// lb1 is AS 65001, lb2 65002, ...: each its own private AS (one shared AS works too).
const FIRST_LB_ASN: u32 = 65001;
/// Each load balancer's own app, which answers with the load balancer's name.
const APP_PORT: u16 = 8080;
/// baton's frontend on the anycast address, in front of the app.
const FRONTEND_PORT: u16 = 80;
/// `withdraw_delay` in baton.toml: after withdrawing at a stop, baton serves this long
/// before it drains.
const WITHDRAW_DELAY_SECONDS: f64 = 1.0;
/// A frontend that lost its only server withdrawn from the router: two failed checks
/// 0.2 s apart, then the route; far more, for a loaded machine.
const FRONTEND_DOWN: Duration = Duration::from_secs(5);
/// Connections per round from the client, each from a new source port.
const CONNECTIONS: usize = 30;
/// Sessions established and routes in place, after a start or a restart.
const CONVERGED: Duration = Duration::from_secs(20);
/// A withdrawn route gone from the router's kernel: netlink to bird, an UPDATE, bird to
/// netlink, all event-driven; far more than needed, for a loaded machine.
const WITHDRAWN: Duration = Duration::from_secs(5);
/// BFD detects a silent peer in 300 ms; the bound is generous for a loaded machine.
const BFD_BOUND: Duration = Duration::from_secs(3);

fn router_peer() -> Peer {
    Peer {
        name: "uplink".to_owned(),
        address: address_of(ROUTER.1),
        address6: Some(ROUTER.2.parse().expect("an IPv6 address")),
        asn: ROUTER_ASN,
    }
}

fn load_balancer_peers() -> Vec<Peer> {
    (0u32..)
        .zip(LOAD_BALANCERS)
        .map(|(index, (name, address, address6))| Peer {
            name: name.to_owned(),
            address: address_of(address),
            address6: Some(address6.parse().expect("an IPv6 address")),
            asn: FIRST_LB_ASN + index,
        })
        .collect()
}

/// The routes baton writes while the load balancer may serve, as `ip route` has them.
fn anycast_routes() -> [String; 2] {
    [format!("{ANYCAST}/32"), format!("{ANYCAST6}/128")]
        .map(|prefix| format!("{prefix} dev lo table {ANYCAST_TABLE} proto {BATON_ROUTE_PROTOCOL}"))
}

/// Who writes the anycast route on the load balancers.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Announcer {
    /// The test, with `ip route` (the harness on its own).
    ByHand,
    /// baton, from an `[[anycast]]` section tracking a frontend on the anycast address.
    Baton,
}

/// lb`N`'s baton.toml: frontends `web` and `web6` on the anycast addresses, port 80,
/// served by the load balancer's own app (so an answer names the load balancer), checked
/// every 0.2 s; the anycast section tracks both.
fn baton_config() -> String {
    format!(
        r#"[[frontend]]
name = "web"
listen = "{ANYCAST}:{FRONTEND_PORT}"
backend = "app"

[[frontend]]
name = "web6"
listen = "[{ANYCAST6}]:{FRONTEND_PORT}"
backend = "app"

{backend}
[[anycast]]
name = "web"
prefixes = ["{ANYCAST}/32", "{ANYCAST6}/128"]
table = {ANYCAST_TABLE}
track_frontend = ["web", "web6"]
withdraw_delay = {WITHDRAW_DELAY_SECONDS}
"#,
        backend = common::bird::checked_backend(&format!("127.0.0.1:{APP_PORT}"))
    )
}

/// The lab, its daemons and apps; dropped in this order, the lab (which stops whatever is
/// left in its namespaces) last but for the directory holding the logs.
struct AnycastLab {
    router: Bird,
    load_balancers: Vec<Bird>,
    batons: Vec<Daemon>,
    apps: Vec<Child>,
    lab: Lab,
    dir: Workdir,
}

impl AnycastLab {
    /// The lab with every load balancer announcing, settled (three sessions up, three
    /// nexthops), or `None` after a loud skip line.
    fn start(test: &str, announcer: Announcer) -> Option<AnycastLab> {
        if common::bird::skip_anycast_lab(test) {
            return None;
        }
        let mut builder = Lab::builder().host(ROUTER.0, ROUTER.1);
        for (name, address, _) in LOAD_BALANCERS {
            builder = builder.host(name, address);
        }
        let lab = builder
            .host(CLIENT.0, CLIENT.1)
            .build()
            .expect("building the anycast lab");
        for (name, _, address6) in LOAD_BALANCERS.into_iter().chain([ROUTER]) {
            let derived = lab.host(name).ipv6_address().to_string();
            assert_eq!(derived, address6, "the lab's IPv6 address of {name}");
        }
        let dir = Workdir::new("anycast-bgp");
        let router = lab.host(ROUTER.0);
        cable_client(router, lab.host(CLIENT.0), RANGES);
        router_forwards(router, true);
        let mut apps = Vec::new();
        for (name, _, _) in LOAD_BALANCERS {
            let host = lab.host(name);
            if announcer == Announcer::ByHand {
                ip(host, &format!("address add {ANYCAST}/32 dev lo"));
                ip(host, &format!("address add {ANYCAST6}/128 dev lo"));
            }
            let (router4, router6) = (address_of(ROUTER.1), ROUTER.2);
            ip(host, &format!("route add {CLIENT_SIDE} via {router4}"));
            ip(host, &format!("route add {CLIENT_SIDE6} via {router6}"));
            apps.push(common::start_app(host, APP_PORT));
        }
        let router_bird = Bird::start(
            router,
            &dir,
            &router_conf(&router_peer(), &load_balancer_peers(), RANGES),
        );
        let mut anycast = AnycastLab {
            router: router_bird,
            load_balancers: Vec::new(),
            batons: Vec::new(),
            apps,
            lab,
            dir,
        };
        for index in 0..LOAD_BALANCERS.len() {
            match announcer {
                Announcer::ByHand => anycast.announce(index),
                Announcer::Baton => {
                    let baton =
                        start_baton_toml(anycast.host(index), &anycast.dir, &baton_config());
                    anycast.batons.push(baton);
                }
            }
            let bird = anycast.start_load_balancer_bird(index);
            anycast.load_balancers.push(bird);
        }
        let started = Instant::now();
        anycast.wait_nexthops(&[0, 1, 2], CONVERGED, "the start");
        eprintln!(
            "sessions up and three nexthops {:?} after the birds started",
            started.elapsed()
        );
        Some(anycast)
    }

    fn host(&self, index: usize) -> &Host {
        self.lab.host(LOAD_BALANCERS[index].0)
    }

    fn start_load_balancer_bird(&self, index: usize) -> Bird {
        let me = &load_balancer_peers()[index];
        let conf = load_balancer_conf(me, &router_peer(), ANYCAST_TABLE);
        Bird::start(self.host(index), &self.dir, &conf)
    }

    /// What baton does while the load balancer may serve: the routes in table 100.
    fn announce(&self, index: usize) {
        for route in anycast_routes() {
            ip(self.host(index), &format!("route add {route}"));
        }
    }

    /// What baton does when it may not: the routes gone.
    fn withdraw(&self, index: usize) {
        for route in anycast_routes() {
            ip(self.host(index), &format!("route del {route}"));
        }
    }

    /// The load balancers the router's kernel sends `address` (ANYCAST or ANYCAST6) to,
    /// by index.
    fn nexthops_to(&self, address: &str) -> Vec<usize> {
        nexthop_indexes(self.lab.host(ROUTER.0), address, &load_balancer_peers())
    }

    /// The load balancers the router sends both anycast addresses to, if the IPv4 and the
    /// IPv6 route agree; otherwise both lists, for the message.
    fn nexthops(&self) -> Result<Vec<usize>, (Vec<usize>, Vec<usize>)> {
        let (v4, v6) = (self.nexthops_to(ANYCAST), self.nexthops_to(ANYCAST6));
        if v4 == v6 { Ok(v4) } else { Err((v4, v6)) }
    }

    /// Waits until the router's kernel routes to both anycast addresses have exactly the
    /// nexthops `expected`; how long that took, or a failure with everything bird and the
    /// kernel say.
    fn wait_nexthops(&self, expected: &[usize], timeout: Duration, after: &str) -> Duration {
        match wait_for(timeout, || self.nexthops().is_ok_and(|n| n == expected)) {
            Some(took) => took,
            None => self.fail(&format!(
                "after {after}: the router's nexthops to {ANYCAST} and {ANYCAST6} are \
                 {:?}, not {expected:?} (lb1 = 0), within {timeout:?}",
                self.nexthops()
            )),
        }
    }

    /// `CONNECTIONS` HTTP GETs from the client to `address`:`port`, each on a new
    /// connection: how many each load balancer answered, and how many failed.
    fn spread(&self, address: &str, port: u16) -> (BTreeMap<String, usize>, usize) {
        let client = self.lab.host(CLIENT.0);
        let out = client
            .run("python3", &["-c", &client_script(address, port, None)])
            .unwrap_or_else(|error| self.fail(&format!("the client did not run: {error}")));
        answers(&out)
    }

    /// The same loop in the background for `seconds`, as many GETs as fit; its output
    /// (for [`answers`]) comes from [`finish_client`].
    fn start_client(&self, port: u16, seconds: f64) -> Child {
        let client = self.lab.host(CLIENT.0);
        let mut command = client.command("python3");
        command
            .args(["-c", &client_script(ANYCAST, port, Some(seconds))])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        client.spawn(command).expect("the client loop")
    }

    /// Panics with the router's view (sessions, routes, kernel route) and every bird's log.
    fn fail(&self, message: &str) -> ! {
        let router = self.lab.host(ROUTER.0);
        let kernel = router
            .run("ip", &["route", "show", "table", "main"])
            .unwrap_or_else(|error| error.to_string());
        let view = format!(
            "{message}\n----- router: show protocols -----\n{:?}\n\
             ----- router: show route -----\n{}\n----- router: ip route -----\n{kernel}",
            self.router.protocols(),
            self.router.routes(None),
        );
        let mut daemons = vec![&self.router.daemon];
        daemons.extend(self.load_balancers.iter().map(|b| &b.daemon));
        daemons.extend(&self.batons);
        common::fail(&view, &daemons)
    }
}

/// The client's loop in Python: GETs to `address`:`port`, each on a new
/// connection (so from a new source port), `CONNECTIONS` of them or, with `seconds`, as
/// many as fit in that time, 20 ms apart. It prints the failures, then `NAME=COUNT` per
/// answering load balancer.
fn client_script(address: &str, port: u16, seconds: Option<f64>) -> String {
    let more = match seconds {
        None => format!("sent < {CONNECTIONS}"),
        Some(seconds) => format!("time.time() - start < {seconds}"),
    };
    let pause = if seconds.is_some() { "0.02" } else { "0" };
    format!(
        "import http.client, time\nanswers, failed, sent, start = {{}}, 0, 0, time.time()\n\
         while {more}:\n    sent += 1\n    try:\n        \
         c = http.client.HTTPConnection('{address}', {port}, timeout=3)\n        \
         c.request('GET', '/')\n        name = c.getresponse().read().decode().split()[0]\n        \
         answers[name] = answers.get(name, 0) + 1\n        c.close()\n    \
         except Exception:\n        failed += 1\n    time.sleep({pause})\n\
         print(failed, *(f'{{k}}={{v}}' for k, v in sorted(answers.items())))\n"
    )
}

/// The client loop's output: the answers per load balancer, and the failures.
fn answers(out: &str) -> (BTreeMap<String, usize>, usize) {
    let mut words = out.split_whitespace();
    let failed = words
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or(usize::MAX);
    let answers = words
        .filter_map(|w| w.split_once('='))
        .filter_map(|(name, count)| Some((name.to_owned(), count.parse().ok()?)))
        .collect();
    (answers, failed)
}

/// Waits for a background client loop to end and reads what it printed.
fn finish_client(mut client: Child) -> (BTreeMap<String, usize>, usize) {
    let stdout = client.inner_mut().stdout.take();
    let mut out = String::new();
    if let Some(mut stdout) = stdout {
        let _ = stdout.read_to_string(&mut out);
    }
    let _ = client.wait_timeout(Duration::from_secs(10));
    answers(&out)
}

#[test]
fn three_load_balancers_share_an_anycast_address_through_bgp_ecmp() {
    let test = "three_load_balancers_share_an_anycast_address_through_bgp_ecmp";
    let Some(mut anycast) = AnycastLab::start(test, Announcer::ByHand) else {
        return;
    };

    // Traffic: every connection answered, by more than one load balancer.
    let (answers, failed) = anycast.spread(ANYCAST, APP_PORT);
    eprintln!("{CONNECTIONS} connections over three nexthops: {answers:?}, {failed} failed");
    if failed > 0 || answers.len() < 2 {
        anycast.fail(&format!(
            "{failed} of {CONNECTIONS} connections failed, answers {answers:?}: ECMP should \
             spread them over the load balancers"
        ));
    }

    // A route withdrawn by hand (what baton does when the frontend fails) leaves the router.
    anycast.withdraw(1);
    let took = anycast.wait_nexthops(&[0, 2], WITHDRAWN, "lb2's route removed");
    eprintln!("lb2's route removed: gone from the router's kernel after {took:?}");
    let (answers, failed) = anycast.spread(ANYCAST, APP_PORT);
    if failed > 0 || answers.contains_key("lb2") {
        anycast.fail(&format!(
            "with lb2 withdrawn: {failed} failed, answers {answers:?}"
        ));
    }
    anycast.announce(1);
    let took = anycast.wait_nexthops(&[0, 1, 2], WITHDRAWN, "lb2's route added back");
    eprintln!("lb2's route added back: in the router's kernel after {took:?}");

    // lb3's bird crashes: its kernel closes the BGP connection, the router drops it at once.
    let killed = Instant::now();
    anycast.load_balancers[2].kill();
    anycast.wait_nexthops(&[0, 1], BFD_BOUND, "lb3's bird killed");
    eprintln!(
        "lb3's bird killed (SIGKILL): gone from the router's kernel after {:?} ({})",
        killed.elapsed(),
        last_error(&anycast.router, "lb3")
    );
    anycast.load_balancers[2] = anycast.start_load_balancer_bird(2);
    let took = anycast.wait_nexthops(&[0, 1, 2], CONVERGED, "lb3's bird restarted");
    eprintln!("lb3's bird restarted: back in the router's kernel after {took:?}");

    // lb1 silently cut off: only BFD can tell.
    let cut = Instant::now();
    anycast.host(0).isolate().expect("isolating lb1");
    anycast.wait_nexthops(&[1, 2], BFD_BOUND, "lb1 cut off");
    let detected = cut.elapsed();
    let reason = last_error(&anycast.router, "lb1");
    eprintln!("lb1 cut off: gone from the router's kernel after {detected:?} ({reason})");
    if !reason.contains("BFD session down") {
        anycast.fail(&format!(
            "the router dropped lb1 for another reason than BFD: {reason}"
        ));
    }
    let (answers, failed) = anycast.spread(ANYCAST, APP_PORT);
    eprintln!("{CONNECTIONS} connections with lb1 cut off: {answers:?}, {failed} failed");
    if failed > 0 || answers.contains_key("lb1") || answers.is_empty() {
        anycast.fail(&format!(
            "with lb1 cut off: {failed} failed, answers {answers:?}"
        ));
    }
    anycast.host(0).rejoin().expect("lb1 back");
    let took = anycast.wait_nexthops(&[0, 1, 2], CONVERGED, "lb1 back");
    eprintln!("lb1 back on the bridge: in the router's kernel again after {took:?}");
}

/// baton on the load balancers instead of the hand-made routes: each has `[[anycast]]`
/// tracking its frontend on the anycast address (port 80, in front of the load balancer's
/// own app). The router gets three nexthops and the client's connections spread; lb2's app
/// killed makes its frontend unable to serve, baton withdraws and the router follows, and
/// no connection fails after that; SIGTERM on lb3's baton withdraws first and serves
/// through `withdraw_delay` before draining, so a client connecting all along sees no
/// failure; `kill -9` of lb1's baton leaves its route announced (connections to lb1 fail:
/// nothing listens there any more) until the systemd unit's ExecStopPost lines, run as
/// systemd runs them after any stop, flush it.
#[test]
fn baton_announces_through_bird_while_its_frontend_can_serve() {
    let test = "baton_announces_through_bird_while_its_frontend_can_serve";
    let Some(mut anycast) = AnycastLab::start(test, Announcer::Baton) else {
        return;
    };
    for address in [ANYCAST, ANYCAST6] {
        let (answers, failed) = anycast.spread(address, FRONTEND_PORT);
        eprintln!(
            "baton: {CONNECTIONS} connections to {address} over three nexthops: {answers:?}, \
             {failed} failed"
        );
        if failed > 0 || answers.len() < 2 {
            anycast.fail(&format!(
                "to {address}: {failed} of {CONNECTIONS} connections failed, answers {answers:?}"
            ));
        }
    }

    // lb2's frontend loses its only server: baton withdraws, bird and the router follow.
    let killed = Instant::now();
    anycast.apps[1].kill();
    anycast.wait_nexthops(&[0, 2], FRONTEND_DOWN, "lb2's app killed");
    eprintln!(
        "baton: lb2's app killed: lb2 gone from the router's kernel after {:?}",
        killed.elapsed()
    );
    let (answers, failed) = anycast.spread(ANYCAST, FRONTEND_PORT);
    if failed > 0 || answers.contains_key("lb2") {
        anycast.fail(&format!(
            "with lb2's frontend down: {failed} failed, answers {answers:?}"
        ));
    }
    anycast.apps[1] = common::start_app(anycast.host(1), APP_PORT);
    let took = anycast.wait_nexthops(&[0, 1, 2], CONVERGED, "lb2's app back");
    eprintln!("baton: lb2's app back: lb2 in the router's kernel again after {took:?}");

    // SIGTERM on lb3's baton while the client goes on connecting.
    let client = anycast.start_client(FRONTEND_PORT, 3.0);
    // Let it connect a while to all three before the stop.
    std::thread::sleep(Duration::from_millis(500));
    let signalled = Instant::now();
    anycast.batons[2]
        .child
        .signal(Signal::SIGTERM)
        .expect("SIGTERM to lb3's baton");
    let withdrawn = anycast.wait_nexthops(&[0, 1], WITHDRAWN, "SIGTERM to lb3's baton");
    let (answers, failed) = finish_client(client);
    let exited = anycast.batons[2]
        .child
        .wait_timeout(Duration::from_secs(20))
        .expect("waiting for lb3's baton");
    eprintln!(
        "baton: SIGTERM to lb3's baton: gone from the router's kernel after {withdrawn:?}, \
         baton exited after {:?}; the client meanwhile: {answers:?}, {failed} failed",
        signalled.elapsed()
    );
    if failed > 0 || exited.is_none() {
        anycast.fail(&format!(
            "lb3's stop: {failed} connections failed (answers {answers:?}), baton exited: {}",
            exited.is_some()
        ));
    }

    // kill -9 of lb1's baton: nothing withdraws, so the router goes on sending lb1
    // connections that nothing accepts, until the unit's stop commands flush the route.
    anycast.batons[0].child.kill();
    let (answers, failed) = anycast.spread(ANYCAST, FRONTEND_PORT);
    eprintln!(
        "baton: lb1's baton killed: still announced ({:?}), {failed} of {CONNECTIONS} \
         connections failed, answers {answers:?}",
        anycast.nexthops()
    );
    if anycast.nexthops() != Ok(vec![0, 1]) || failed == 0 {
        anycast.fail(&format!(
            "after kill -9 of lb1's baton its route should stay and connections to lb1 fail: \
             {failed} failed, answers {answers:?}"
        ));
    }
    let flushed = Instant::now();
    run_unit_stop_commands(anycast.host(0));
    anycast.wait_nexthops(&[1], WITHDRAWN, "the unit's stop commands on lb1");
    eprintln!(
        "baton: the unit's ExecStopPost on lb1: gone from the router's kernel after {:?}",
        flushed.elapsed()
    );
    let (answers, failed) = anycast.spread(ANYCAST, FRONTEND_PORT);
    if failed > 0 || answers.keys().any(|name| name != "lb2") {
        anycast.fail(&format!(
            "with only lb2 left: {failed} failed, answers {answers:?}"
        ));
    }
}

/// What systemd runs after baton's process ends, whatever the reason: the unit's
/// ExecStopPost lines (`-` only tells systemd to ignore a failure).
fn run_unit_stop_commands(host: &Host) {
    let unit = include_str!("../../../dist/baton.service");
    for command in unit.lines().filter_map(|l| l.strip_prefix("ExecStopPost=")) {
        let words: Vec<&str> = command.trim_start_matches('-').split_whitespace().collect();
        if let Err(error) = host.run(words[0], &words[1..]) {
            panic!("in {}: {command}: {error}", host.name());
        }
    }
}

/// BGP's `Last error` of the router's session `name`, as bird reports it.
fn last_error(router: &Bird, name: &str) -> String {
    router
        .protocol_detail(name)
        .lines()
        .find_map(|line| line.trim().strip_prefix("Last error:"))
        .map(|error| error.trim().to_owned())
        .unwrap_or_else(|| "no error reported".to_owned())
}

/// docs/operations.md shows the configurations this file runs, word for word (lb1's and
/// the router's), and bird parses them.
#[test]
fn operations_md_shows_the_bird_configurations_the_lab_runs() {
    let page = include_str!("../../../docs/operations.md");
    let peers = load_balancer_peers();
    let documented = [
        (
            "lb1",
            load_balancer_conf(&peers[0], &router_peer(), ANYCAST_TABLE),
        ),
        ("router", router_conf(&router_peer(), &peers, RANGES)),
    ];
    let missing: Vec<String> = documented
        .iter()
        .filter(|(_, conf)| !page.contains(conf.as_str()))
        .map(|(name, conf)| format!("----- {name} -----\n{conf}"))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/operations.md lacks these bird configurations as the lab runs them:\n{}",
        missing.join("\n")
    );
    if common::bird::skip_without_bird("operations_md_shows_the_bird_configurations_the_lab_runs") {
        return;
    }
    let dir = Workdir::new("anycast-docs");
    for (name, conf) in &documented {
        if let Err(message) = common::bird::parse_check(&dir, name, conf) {
            panic!("{message}");
        }
    }
}
