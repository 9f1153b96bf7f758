//! L4 DR with Maglev behind BGP (issue 12, item 4): three load balancers announce
//! 10.0.9.100/32 through bird2, the router spreads the client's connections over them with
//! ECMP, and each forwards its share to two real servers with the same Maglev table. When
//! a load balancer leaves (SIGTERM: its route is withdrawn first) the router's hash sends
//! its flows to the others, and when it comes back some move to it again; Maglev gives
//! every flow the same real server on every load balancer, so no long-lived connection
//! breaks or changes server.
//!
//! The lab: the router (10.0.3.1), lb1-lb3 (10.0.3.5-7) and the real servers app1 and app2
//! (10.0.3.11-12, the VIP on lo, answering the client through the router) on the bridge;
//! the client (10.0.5.50) behind the router on a cable of its own.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use baton_lab::{Child, Host, Lab};
use common::bird::{
    ANYCAST_TABLE, AnycastRanges, Bird, CLIENT_SIDE, Peer, address_of, cable_client, ip,
    ipv4_load_balancers, ipv4_router, load_balancer_conf, nexthop_indexes, router_conf,
    router_forwards,
};
use common::flow_stream::{self, FlowStream, Proto};
use common::{Daemon, Workdir, start_baton_toml, wait_for};
use nix::sys::signal::Signal;

const VIP: &str = "10.0.9.100";
const PORT: u16 = 7000;
const ROUTER: (&str, &str) = ("router", "10.0.3.1/24");
const LOAD_BALANCERS: [(&str, &str); 3] = [
    ("lb1", "10.0.3.5/24"),
    ("lb2", "10.0.3.6/24"),
    ("lb3", "10.0.3.7/24"),
];
const APPS: [(&str, &str); 2] = [("app1", "10.0.3.11/24"), ("app2", "10.0.3.12/24")];
const CLIENT: (&str, &str) = ("client", "10.0.3.50/24");
/// What the router accepts from the load balancers.
const RANGES: AnycastRanges = AnycastRanges {
    ipv4: "10.0.9.0/24",
    ipv6: None,
};
const FLOWS: usize = 24;
/// Replies every flow must have after a change before the next one.
const REPLIES_AFTER: usize = 20;

fn router_peer() -> Peer {
    ipv4_router(ROUTER.1)
}

fn load_balancer_peers() -> Vec<Peer> {
    ipv4_load_balancers(&LOAD_BALANCERS)
}

/// Every load balancer's baton.toml: the DR service (mh, the port in the hash) over both
/// apps, announced while its quorum is up, forwarding out of eth0. `app1_weight` other
/// than 1 gives that load balancer another Maglev table (the control).
fn baton_config(app1_weight: u32) -> String {
    let servers: String = APPS
        .iter()
        .zip([app1_weight, 1])
        .map(|((_, address), weight)| {
            format!(
                "\n[[virtual_server.real_server]]\naddress = \"{}:{PORT}\"\nweight = {weight}\n\
                 [virtual_server.real_server.TCP_CHECK]\nconnect_timeout = 1\n",
                address_of(address)
            )
        })
        .collect();
    format!(
        r#"[[virtual_server]]
name = "echo"
address = "{VIP}:{PORT}"
protocol = "TCP"
lb_kind = "DR"
lb_algo = "mh"
mh-port = true
delay_loop = 1
{servers}
[[anycast]]
name = "echo"
prefixes = ["{VIP}/32"]
table = {ANYCAST_TABLE}
interface = "eth0"
track_virtual_server = ["echo"]
withdraw_delay = 0.5
"#
    )
}

/// Packets `lb`'s DR services forwarded: the counters of their `_traffic` sets.
fn forwarded(lb: &Host) -> u64 {
    let ruleset = lb.run("nft", &["list", "ruleset"]).unwrap_or_default();
    ruleset
        .split("\tset ")
        .filter(|set| {
            set.split_whitespace()
                .next()
                .is_some_and(|n| n.ends_with("_traffic"))
        })
        .flat_map(|set| {
            let body = set.split("\n\t}").next().unwrap_or_default();
            body.split("counter packets ")
                .skip(1)
                .filter_map(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// The router's kernel nexthops to the VIP, as load balancer indexes.
fn nexthops(router: &Host) -> Vec<usize> {
    nexthop_indexes(router, VIP, &load_balancer_peers())
}

struct DrLab {
    lab: Lab,
    /// lb2's app1 weight (1 but in the control).
    lb2_weight: u32,
    dir: Workdir,
    _router: Bird,
    _birds: Vec<Bird>,
    batons: Vec<Daemon>,
    _apps: Vec<Child>,
}

impl DrLab {
    fn start(test: &str, lb2_weight: u32) -> Option<DrLab> {
        if common::bird::skip_anycast_lab(test) {
            return None;
        }
        let mut builder = Lab::builder().prefix("acdr").host(ROUTER.0, ROUTER.1);
        for (name, address) in LOAD_BALANCERS.iter().chain(&APPS) {
            builder = builder.host(*name, *address);
        }
        let lab = builder
            .host(CLIENT.0, CLIENT.1)
            .build()
            .expect("building the lab");
        let dir = Workdir::new("anycast-dr");
        let router = lab.host(ROUTER.0);
        let client = lab.host(CLIENT.0);
        cable_client(router, client, RANGES);
        router_forwards(router, false);
        let mut apps = Vec::new();
        for (name, _) in APPS {
            let app = lab.host(name);
            flow_stream::make_dr_real_server(app, VIP);
            ip(
                app,
                &format!("route add {CLIENT_SIDE} via {}", address_of(ROUTER.1)),
            );
            apps.push(flow_stream::start_echo(app, PORT));
        }
        let router_bird = Bird::start(
            router,
            &dir,
            &router_conf(&router_peer(), &load_balancer_peers(), RANGES),
        );
        let mut batons = Vec::new();
        let mut birds = Vec::new();
        for (index, peer) in load_balancer_peers().iter().enumerate() {
            let host = lab.host(LOAD_BALANCERS[index].0);
            let weight = if index == 1 { lb2_weight } else { 1 };
            batons.push(start_baton_toml(host, &dir, &baton_config(weight)));
            let conf = load_balancer_conf(peer, &router_peer(), ANYCAST_TABLE);
            birds.push(Bird::start(host, &dir, &conf));
        }
        let lab = DrLab {
            lab,
            lb2_weight,
            dir,
            _router: router_bird,
            _birds: birds,
            batons,
            _apps: apps,
        };
        lab.wait_nexthops(&[0, 1, 2], "the start");
        Some(lab)
    }

    fn host(&self, name: &str) -> &Host {
        self.lab.host(name)
    }

    fn wait_nexthops(&self, expected: &[usize], after: &str) {
        let router = self.host(ROUTER.0);
        let mut last = Vec::new();
        if wait_for(Duration::from_secs(30), || {
            last = nexthops(router);
            last == expected
        })
        .is_none()
        {
            let daemons: Vec<&Daemon> = self.batons.iter().collect();
            common::fail(
                &format!("after {after}: the router's nexthops are {last:?}, not {expected:?}"),
                &daemons,
            );
        }
    }
}

#[test]
fn dr_flows_keep_their_server_when_a_load_balancer_leaves_and_returns() {
    let test = "dr_flows_keep_their_server_when_a_load_balancer_leaves_and_returns";
    let Some(lab) = DrLab::start(test, 1) else {
        return;
    };
    let record = leave_and_return(lab);
    assert!(
        record.survived() && record.one_server_per_flow(),
        "a flow broke or changed its real server:\n{}",
        record.summary()
    );
}

/// The control: lb2 weighs app1 10 to 1, so its Maglev table differs from the others' in
/// about 40% of its slots. Flows that move between lb2 and the others now meet another real
/// server, which resets them: the test above can fail. (At 3 to 1 a quarter of the slots
/// differed, and in one CI run every moved flow happened to keep its server; at 10 to 1,
/// 2 to 5 of the 24 flows broke in each of 3 runs.)
#[test]
fn with_another_table_on_one_load_balancer_moved_flows_break() {
    let test = "with_another_table_on_one_load_balancer_moved_flows_break";
    let Some(lab) = DrLab::start(test, 10) else {
        return;
    };
    let record = leave_and_return(lab);
    eprintln!(
        "  control: {} of {FLOWS} flows survived with their server",
        record.flows_survived()
    );
    assert!(
        !(record.survived() && record.one_server_per_flow()),
        "every flow kept its server although lb2's table differs:\n{}",
        record.summary()
    );
}

/// lb2 leaves (SIGTERM) and comes back under FLOWS long-lived TCP flows; their record.
fn leave_and_return(mut lab: DrLab) -> flow_stream::Record {
    let target = SocketAddr::from((address_of(&format!("{VIP}/32")), PORT));
    let mut stream = FlowStream::start(lab.host(CLIENT.0), Proto::Tcp, target, FLOWS);
    if !stream.wait_replies(REPLIES_AFTER, Duration::from_secs(20)) {
        panic!("the flows never got going:\n{}", stream.record().summary());
    }
    // Which load balancer carries which flow is the router's business; lb2 must carry
    // some, or its leaving would move nothing.
    let before = forwarded(lab.host("lb2"));
    eprintln!("  DR packets forwarded by lb2 before it leaves: {before}");
    assert!(
        before > 0,
        "lb2 carried no flow: the test would prove nothing"
    );

    stream.mark("lb2-leaves");
    let lb2 = &mut lab.batons[1];
    lb2.child.signal(Signal::SIGTERM).expect("SIGTERM");
    let _ = lb2.child.wait_timeout(Duration::from_secs(20));
    lab.wait_nexthops(&[0, 2], "lb2's SIGTERM");
    // In the control, broken flows never answer again: this waits for the others only.
    let _ = stream.wait_replies_after("lb2-leaves", REPLIES_AFTER, Duration::from_secs(10));

    stream.mark("lb2-returns");
    let lb2_host = lab.lab.host(LOAD_BALANCERS[1].0);
    lab.batons[1] = start_baton_toml(lb2_host, &lab.dir, &baton_config(lab.lb2_weight));
    lab.wait_nexthops(&[0, 1, 2], "lb2's restart");
    let _ = stream.wait_replies_after("lb2-returns", REPLIES_AFTER, Duration::from_secs(10));
    // The new lb2 counts from zero: what it forwarded, it took over from the others.
    let after = forwarded(lab.host("lb2"));
    eprintln!("  DR packets forwarded by the restarted lb2: {after}");
    assert!(after > 0, "no flow moved back to lb2");
    let record = stream.stop();
    eprintln!(
        "  longest pause after lb2 left {:?}, after it came back {:?}",
        record.longest_pause_after("lb2-leaves"),
        record.longest_pause_after("lb2-returns")
    );
    record
}
