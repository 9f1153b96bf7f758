//! Anycast behind BGP with bird2 (issue 12), the harness on its own: three load balancers
//! announce 10.0.9.100/32 to a router over BGP with BFD, and the router's kernel spreads
//! the clients' connections over all three with one ECMP route.
//!
//! The lab: lb1, lb2 and lb3 (10.0.3.5-7) and the router (10.0.3.1) on the lab's bridge;
//! the client (10.0.5.50) behind the router on a cable of its own (eth1 on both, the
//! router 10.0.5.1), its bridge port unused, so every packet to the anycast address crosses
//! the router. Each load balancer has the address on lo, an HTTP app answering with its
//! name on port 8080, and bird2 learning kernel table 100 (the routes baton writes, route
//! protocol 201) and announcing them; the router's bird merges the equal paths
//! (`merge paths on`) and its kernel hashes on ports (`fib_multipath_hash_policy=1`).
//!
//! Here the routes are added and removed by hand, as baton will: `ip route add
//! 10.0.9.100/32 dev lo table 100 proto 201`. One lab, in order: the router's kernel gets
//! the route with three nexthops and the client's connections reach more than one load
//! balancer; a route removed on lb2 is withdrawn from the router (two nexthops) and comes
//! back when re-added; lb3's bird killed (SIGKILL) drops lb3 at once (its kernel closes
//! the BGP connection), and restarted it is back; lb1 cut off silently (its bridge port
//! disabled: carrier stays, TCP hears nothing) is dropped by BFD (100 ms x 3) well within
//! 3 s, while every client connection keeps working through lb2 and lb3. The figures are
//! printed. The bird configurations are the ones docs/operations.md shows, and a second
//! test holds the page to them.

mod common;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use baton_lab::{Child, Host, Lab};
use common::bird::{
    ANYCAST_TABLE, BATON_ROUTE_PROTOCOL, Bird, Peer, kernel_nexthops, load_balancer_conf,
    router_conf,
};
use common::{Workdir, wait_for};

const ANYCAST: &str = "10.0.9.100";
/// What the router accepts from the load balancers.
const ANYCAST_RANGE: &str = "10.0.9.0/24";
const ROUTER: (&str, &str) = ("router", "10.0.3.1/24");
const LOAD_BALANCERS: [(&str, &str); 3] = [
    ("lb1", "10.0.3.5/24"),
    ("lb2", "10.0.3.6/24"),
    ("lb3", "10.0.3.7/24"),
];
/// A lab host like the others (its bridge address is unused: eth0 goes down).
const CLIENT: (&str, &str) = ("client", "10.0.3.50/24");
/// The cable between the router and the client.
const CLIENT_SIDE: &str = "10.0.5.0/24";
const ROUTER_CLIENT_SIDE: &str = "10.0.5.1";
const CLIENT_ADDRESS: &str = "10.0.5.50/24";
const ROUTER_ASN: u32 = 65000;
/// lb1 is AS 65001, lb2 65002, ...: each its own private AS (one shared AS works too).
const FIRST_LB_ASN: u32 = 65001;
const APP_PORT: u16 = 8080;
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
        asn: ROUTER_ASN,
    }
}

fn load_balancer_peers() -> Vec<Peer> {
    (0u32..)
        .zip(LOAD_BALANCERS)
        .map(|(index, (name, address))| Peer {
            name: name.to_owned(),
            address: address_of(address),
            asn: FIRST_LB_ASN + index,
        })
        .collect()
}

fn address_of(cidr: &str) -> Ipv4Addr {
    let (address, _) = cidr.split_once('/').expect("a CIDR address");
    address.parse().expect("an IPv4 address")
}

/// The route baton writes while the load balancer may serve, as `ip route` has it.
fn anycast_route() -> String {
    format!("{ANYCAST}/32 dev lo table {ANYCAST_TABLE} proto {BATON_ROUTE_PROTOCOL}")
}

/// The lab, its birds and apps; dropped in this order, the lab (which stops whatever is
/// left in its namespaces) last but for the directory holding the logs.
struct AnycastLab {
    router: Bird,
    load_balancers: Vec<Bird>,
    _apps: Vec<Child>,
    lab: Lab,
    dir: Workdir,
}

impl AnycastLab {
    /// The lab with every load balancer announcing, settled (three sessions up, three
    /// nexthops), or `None` after a loud skip line.
    fn start(test: &str) -> Option<AnycastLab> {
        if common::bird::skip_without_bird(test)
            || common::skip_without_tool("python3", "python3", test)
            || baton_lab::handled_elsewhere(test)
        {
            return None;
        }
        let mut builder = Lab::builder().host(ROUTER.0, ROUTER.1);
        for (name, address) in LOAD_BALANCERS.into_iter().chain([CLIENT]) {
            builder = builder.host(name, address);
        }
        let lab = builder.build().expect("building the anycast lab");
        let dir = Workdir::new("anycast-bgp");
        cable_client(&lab);
        let router = lab.host(ROUTER.0);
        router
            .run(
                "sysctl",
                &[
                    "-qw",
                    "net.ipv4.ip_forward=1",
                    "net.ipv4.fib_multipath_hash_policy=1",
                ],
            )
            .expect("forwarding and L4 multipath hashing on the router");
        let mut apps = Vec::new();
        for (name, _) in LOAD_BALANCERS {
            let host = lab.host(name);
            ip(host, &format!("address add {ANYCAST}/32 dev lo"));
            let router_address = address_of(ROUTER.1);
            ip(
                host,
                &format!("route add {CLIENT_SIDE} via {router_address}"),
            );
            apps.push(common::start_app(host, APP_PORT));
        }
        let router_bird = Bird::start(
            router,
            &dir,
            &router_conf(&router_peer(), &load_balancer_peers(), ANYCAST_RANGE),
        );
        let mut anycast = AnycastLab {
            router: router_bird,
            load_balancers: Vec::new(),
            _apps: apps,
            lab,
            dir,
        };
        for index in 0..LOAD_BALANCERS.len() {
            anycast.announce(index);
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

    /// What baton does while the load balancer may serve: the route in table 100.
    fn announce(&self, index: usize) {
        ip(self.host(index), &format!("route add {}", anycast_route()));
    }

    /// What baton does when it may not: the route gone.
    fn withdraw(&self, index: usize) {
        ip(self.host(index), &format!("route del {}", anycast_route()));
    }

    /// The load balancers the router's kernel sends the anycast address to, by index.
    fn nexthops(&self) -> Vec<usize> {
        let router = self.lab.host(ROUTER.0);
        let peers = load_balancer_peers();
        let mut indexes: Vec<usize> = kernel_nexthops(router, ANYCAST)
            .into_iter()
            .filter_map(|gateway| peers.iter().position(|p| p.address == gateway))
            .collect();
        indexes.sort_unstable();
        indexes
    }

    /// Waits until the router's kernel route has exactly the nexthops `expected`; how long
    /// that took, or a failure with everything bird and the kernel say.
    fn wait_nexthops(&self, expected: &[usize], timeout: Duration, after: &str) -> Duration {
        match wait_for(timeout, || self.nexthops() == expected) {
            Some(took) => took,
            None => self.fail(&format!(
                "after {after}: the router's nexthops to {ANYCAST} are {:?}, not {expected:?} \
                 (lb1 = 0), within {timeout:?}",
                self.nexthops()
            )),
        }
    }

    /// `CONNECTIONS` HTTP GETs from the client to the anycast address, each on a new
    /// connection: how many each load balancer answered, and how many failed.
    fn spread(&self) -> (BTreeMap<String, usize>, usize) {
        let script = format!(
            "import http.client\nanswers, failed = {{}}, 0\n\
             for _ in range({CONNECTIONS}):\n    try:\n        \
             c = http.client.HTTPConnection('{ANYCAST}', {APP_PORT}, timeout=3)\n        \
             c.request('GET', '/')\n        name = c.getresponse().read().decode().split()[0]\n        \
             answers[name] = answers.get(name, 0) + 1\n        c.close()\n    \
             except Exception:\n        failed += 1\n\
             print(failed, *(f'{{k}}={{v}}' for k, v in sorted(answers.items())))\n"
        );
        let client = self.lab.host(CLIENT.0);
        let out = client
            .run("python3", &["-c", &script])
            .unwrap_or_else(|error| self.fail(&format!("the client did not run: {error}")));
        let mut words = out.split_whitespace();
        let failed = words
            .next()
            .and_then(|w| w.parse().ok())
            .unwrap_or(CONNECTIONS);
        let answers = words
            .filter_map(|w| w.split_once('='))
            .filter_map(|(name, count)| Some((name.to_owned(), count.parse().ok()?)))
            .collect();
        (answers, failed)
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
        common::fail(&view, &daemons)
    }
}

/// The client's own cable to the router (eth1 on both), made inside the router's
/// namespace with its peer put straight into the client's, like the lab's other cables;
/// the client's bridge interface goes down, so the router is its only way to the LBs.
fn cable_client(lab: &Lab) {
    let router = lab.host(ROUTER.0);
    let client = lab.host(CLIENT.0);
    let peer_namespace = client.namespace();
    ip(
        router,
        &format!("link add eth1 type veth peer name eth1 netns {peer_namespace}"),
    );
    ip(
        router,
        &format!("address add {ROUTER_CLIENT_SIDE}/24 dev eth1"),
    );
    ip(router, "link set dev eth1 up");
    ip(client, &format!("address add {CLIENT_ADDRESS} dev eth1"));
    ip(client, "link set dev eth1 up");
    ip(
        client,
        &format!("route add {ANYCAST_RANGE} via {ROUTER_CLIENT_SIDE}"),
    );
    client
        .set_interface_down()
        .expect("the client's bridge interface down");
}

/// `ip WORDS...` in `host`, from one line (no word of it has a space).
fn ip(host: &Host, line: &str) {
    let args: Vec<&str> = line.split_whitespace().collect();
    if let Err(error) = host.run("ip", &args) {
        panic!("in {}: ip {line}: {error}", host.name());
    }
}

#[test]
fn three_load_balancers_share_an_anycast_address_through_bgp_ecmp() {
    let test = "three_load_balancers_share_an_anycast_address_through_bgp_ecmp";
    let Some(mut anycast) = AnycastLab::start(test) else {
        return;
    };

    // Traffic: every connection answered, by more than one load balancer.
    let (answers, failed) = anycast.spread();
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
    let (answers, failed) = anycast.spread();
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
    let (answers, failed) = anycast.spread();
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
        ("router", router_conf(&router_peer(), &peers, ANYCAST_RANGE)),
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
