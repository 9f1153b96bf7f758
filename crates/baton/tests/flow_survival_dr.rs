//! Flows that survive a failover with LVS direct routing (issue 16): two baton load
//! balancers (VRRP) with the same keepalived.conf, DR services on the VIP scheduled by
//! Maglev (`mh`) and by source hash (`sh`), each hashing the client's port too, so the
//! flows of one client spread over both real servers.
//!
//! DR keeps no state on the load balancer: the kernel's netdev ingress hook picks the real
//! server from a fixed hash of the flow and forwards the unchanged frame. So a flow
//! survives a failover when both load balancers build the same slot table (checked here
//! from the kernel's own tables while lb1 is still backup) and the backup's table is in
//! the kernel before it takes over.
//!
//! One lab start, then four faults of the master (lb2), each undone before the next (the
//! pair preempts back to lb2, a second failover the flows must survive too): the link cut,
//! `kill -9` of the daemon, SIGTERM, and `baton instance step-down`. Through all of it,
//! long-lived TCP connections and UDP flows from the client (a counter every 10 ms,
//! echoed with the real server's name) see no reset, no gap, no duplicate, only pauses,
//! and every flow keeps its real server. The real servers are DR ones: the VIP on lo,
//! arp_ignore=1, arp_announce=2.
//!
//! The pauses are short (tens of ms, printed) because DR needs no state: after `kill -9`
//! and step-down the old master's tables stay in its kernel and forward what still comes
//! to its MAC until the new master's gratuitous ARP moves the client; after a link cut the
//! bridge forgets the dead port's MAC and floods the client's frames, which the backup's
//! ingress hook forwards as well (a switch does the same). On SIGTERM the old master keeps
//! its DR tables for an advert interval after its VIP goes, until the backup (skew time
//! after the priority-0 advert) has announced itself.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use baton_lab::{Host, Lab};
use common::flow_stream::{self, FlowStream, Proto, Record, Streams};
use common::{Daemon, VIP, Workdir, fail, holds, start_baton, wait_for};
use nix::sys::signal::Signal;

const VIP_ADDRESS: &str = "10.0.3.100";
/// The Maglev services' port (TCP and UDP) and the source-hash ones'.
const MH_PORT: u16 = 7000;
const SH_PORT: u16 = 7001;
/// Flows per stream: enough that both real servers get some.
const TCP_FLOWS: usize = 4;
const UDP_FLOWS: usize = 4;
/// Replies every flow must get after a fault (and after its repair) before the next step:
/// the flow is moving again, through the new master.
const REPLIES_AFTER: usize = 30;

/// lb1 or lb2's keepalived.conf: VI_1 (VRRPv3 every 0.2 s, the VIP on eth0), and four DR
/// services on the VIP over app1 and app2, each real server checked by TCP_CHECK on the
/// TCP port.
fn conf(router: &str, priority: u8) -> String {
    let mut text = format!(
        "global_defs {{\n    router_id {router}\n    vrrp_version 3\n}}\n\
         vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    \
         virtual_router_id 51\n    priority {priority}\n    advert_int 0.2\n    \
         virtual_ipaddress {{\n        {VIP}\n    }}\n}}\n"
    );
    for (port, algo) in [(MH_PORT, "mh"), (SH_PORT, "sh")] {
        for protocol in ["TCP", "UDP"] {
            text.push_str(&format!(
                "virtual_server {VIP_ADDRESS} {port} {{\n    delay_loop 1\n    lb_algo {algo}\n    \
                 {algo}-port\n    lb_kind DR\n    protocol {protocol}\n"
            ));
            for server in ["10.0.3.11", "10.0.3.12"] {
                text.push_str(&format!(
                    "    real_server {server} {port} {{\n        TCP_CHECK {{\n            \
                     connect_port {port}\n            connect_timeout 1\n        }}\n    }}\n"
                ));
            }
            text.push_str("}\n");
        }
    }
    text
}

/// The guide's lab with app1 and app2 as DR real servers running the echo app on both
/// ports, or `None` after a loud skip line.
fn dr_lab(test: &str) -> Option<(Lab, Vec<baton_lab::Child>)> {
    // Four Maglev services: one transaction too large for nft without real root.
    if baton_lab::skip_in_rootless_lab(test, baton_lab::NFT_TRANSACTIONS_ABOVE_212_KB) {
        return None;
    }
    for tool in ["nft", "python3"] {
        if !common::on_path(tool) {
            eprintln!("SKIPPED (needs {tool}): {test}");
            return None;
        }
    }
    let lab = common::guide_lab(test)?;
    let mut apps = Vec::new();
    for app in ["app1", "app2"] {
        let host = lab.host(app);
        flow_stream::make_dr_real_server(host, VIP_ADDRESS);
        apps.push(flow_stream::start_echo(host, MH_PORT));
        apps.push(flow_stream::start_echo(host, SH_PORT));
    }
    Some((lab, apps))
}

/// The two load balancers, lb2 (150) the master.
struct Pair<'a> {
    lab: &'a Lab,
    dir: &'a Workdir,
    lb1: Daemon,
    lb2: Daemon,
}

impl<'a> Pair<'a> {
    fn start(lab: &'a Lab, dir: &'a Workdir) -> Pair<'a> {
        let lb1 = start_baton(lab.host("lb1"), dir, &conf("lb1", 100));
        let lb2 = start_baton(lab.host("lb2"), dir, &conf("lb2", 150));
        let pair = Pair { lab, dir, lb1, lb2 };
        pair.wait_settled("the start");
        pair
    }

    fn fail(&self, message: &str) -> ! {
        fail(message, &[&self.lb1, &self.lb2])
    }

    fn status(&self, lb: &str) -> serde_json::Value {
        common::pair::host_status(self.dir, lb)
    }

    fn state(&self, lb: &str) -> String {
        common::chaos::first_state(&self.dir.path(&format!("{lb}.sock")))
    }

    /// lb2 MASTER holding the VIP, lb1 BACKUP without it, and every real server up on
    /// both (a restarted daemon's checkers have spoken).
    fn wait_settled(&self, after: &str) {
        let all_up = |lb: &str| {
            let status = self.status(lb);
            status["virtual_servers"]
                .as_array()
                .is_some_and(|services| {
                    services.len() == 4
                        && services.iter().all(|s| {
                            s["real_servers"]
                                .as_array()
                                .is_some_and(|rs| rs.iter().all(|r| r["check"] == "up"))
                        })
                })
        };
        let settled = wait_for(Duration::from_secs(20), || {
            self.state("lb2") == "MASTER"
                && self.state("lb1") == "BACKUP"
                && holds(self.lab.host("lb2"), VIP)
                && !holds(self.lab.host("lb1"), VIP)
                && all_up("lb1")
                && all_up("lb2")
        });
        if settled.is_none() {
            self.fail(&format!("the pair never settled on lb2 after {after}"));
        }
    }

    fn wait_master(&self, lb: &str, after: &str) {
        let master = wait_for(Duration::from_secs(10), || {
            self.state(lb) == "MASTER" && holds(self.lab.host(lb), VIP)
        });
        if master.is_none() {
            self.fail(&format!("{lb} never took over after {after}"));
        }
    }

    fn restart_lb2(&mut self) {
        self.lb2 = start_baton(self.lab.host("lb2"), self.dir, &conf("lb2", 150));
    }

    fn instance(&self, lb: &str, command: &str) {
        let socket = self.dir.path(&format!("{lb}.sock"));
        let host = self.lab.host(lb);
        if let Err(error) = common::chaos::instance_command(host, &socket, command, "VI_1") {
            self.fail(&format!("on {lb}: {error}"));
        }
    }
}

/// Per DR service, slot -> real server address, as the kernel of `host` has it: the
/// slot map (slot -> mark) resolved through the forwarding map (mark -> address).
fn kernel_slots(host: &Host) -> BTreeMap<String, Vec<String>> {
    let json = host
        .run("nft", &["-j", "list", "table", "netdev", "baton"])
        .unwrap_or_default();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    let mut maps: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for item in value["nftables"].as_array().into_iter().flatten() {
        let Some(map) = item.get("map") else { continue };
        let name = map["name"].as_str().unwrap_or_default().to_owned();
        let elements = map["elem"].as_array().into_iter().flatten();
        let pairs = elements.filter_map(|e| {
            let pair = e.as_array()?;
            Some((scalar(pair.first()?), scalar(pair.get(1)?)))
        });
        maps.insert(name, pairs.collect());
    }
    let mut services = BTreeMap::new();
    for (name, slots) in &maps {
        let Some(service) = name.strip_suffix("_slots") else {
            continue;
        };
        let to = maps
            .get(&format!("{service}_to"))
            .cloned()
            .unwrap_or_default();
        let mut table: Vec<(u32, String)> = slots
            .iter()
            .map(|(slot, mark)| {
                let address = to.get(mark).cloned().unwrap_or_else(|| format!("?{mark}"));
                (slot.parse().unwrap_or(u32::MAX), address)
            })
            .collect();
        table.sort();
        services.insert(
            service.to_owned(),
            table.into_iter().map(|(_, a)| a).collect(),
        );
    }
    services
}

/// The rules of `host`'s netdev table that pick a slot (the hash key and its seed).
fn kernel_hash_rules(host: &Host) -> Vec<String> {
    let text = host
        .run("nft", &["list", "table", "netdev", "baton"])
        .unwrap_or_default();
    let mut rules: Vec<String> = text
        .lines()
        .filter(|l| l.contains("jhash"))
        .map(|l| l.trim().to_owned())
        .collect();
    rules.sort();
    rules
}

fn scalar(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The four streams: TCP and UDP through the Maglev and the source-hash services.
fn start_streams(client: &Host) -> Streams {
    let target = |port: u16| SocketAddr::from(([10, 0, 3, 100], port));
    Streams(vec![
        (
            "mh tcp",
            FlowStream::start(client, Proto::Tcp, target(MH_PORT), TCP_FLOWS),
        ),
        (
            "mh udp",
            FlowStream::start(client, Proto::Udp, target(MH_PORT), UDP_FLOWS),
        ),
        (
            "sh tcp",
            FlowStream::start(client, Proto::Tcp, target(SH_PORT), TCP_FLOWS),
        ),
        (
            "sh udp",
            FlowStream::start(client, Proto::Udp, target(SH_PORT), UDP_FLOWS),
        ),
    ])
}

/// Every flow of every stream moving again after `mark`, or a failure with what the
/// first stuck stream saw.
fn wait_moving(pair: &Pair, streams: &Streams, mark: &str) {
    let moving = streams.wait_replies(Some(mark), REPLIES_AFTER, Duration::from_secs(20));
    if let Err(stuck) = moving {
        pair.fail(&stuck);
    }
}

/// Packets `host`'s DR services forwarded so far (the per-server counters).
fn forwarded(host: &Host) -> u64 {
    let text = host
        .run("nft", &["list", "table", "netdev", "baton"])
        .unwrap_or_default();
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| w[0] == "packets")
        .filter_map(|w| w[1].trim_end_matches(',').parse::<u64>().ok())
        .sum()
}

/// One fault of the master: lb1 takes over, the flows move again, and lb1 forwards them
/// (its counters grow: not only the old master's leftover tables carried them).
fn survive<'a>(
    pair: &mut Pair<'a>,
    streams: &mut Streams,
    fault: &str,
    act: impl FnOnce(&mut Pair<'a>),
) {
    streams.mark(fault);
    act(pair);
    pair.wait_master("lb1", fault);
    let before = forwarded(pair.lab.host("lb1"));
    wait_moving(pair, streams, fault);
    let lb1 = pair.lab.host("lb1");
    if wait_for(Duration::from_secs(5), || forwarded(lb1) > before + 100).is_none() {
        pair.fail(&format!("lb1, master after {fault}, forwarded nothing"));
    }
    eprintln!("  {fault}: longest pauses {:?}", streams.pauses(fault));
}

/// The fault undone: lb2 master again (preempting), the flows moving again.
fn repair<'a>(
    pair: &mut Pair<'a>,
    streams: &mut Streams,
    fault: &str,
    act: impl FnOnce(&mut Pair<'a>),
) {
    let mark = format!("{fault}-repaired");
    streams.mark(&mark);
    act(pair);
    pair.wait_settled(&mark);
    wait_moving(pair, streams, &mark);
    eprintln!("  {mark}: longest pauses {:?}", streams.pauses(&mark));
}

#[test]
fn dr_flows_survive_every_failover_of_the_master() {
    let test = "dr_flows_survive_every_failover_of_the_master";
    let Some((lab, _apps)) = dr_lab(test) else {
        return;
    };
    let dir = Workdir::new("flow-dr");
    let mut pair = Pair::start(&lab, &dir);

    // Item 1 in the kernel: the backup's tables are there, and equal to the master's.
    let (lb1, lb2) = (kernel_slots(lab.host("lb1")), kernel_slots(lab.host("lb2")));
    if lb1.len() != 4 || lb1 != lb2 {
        pair.fail(&format!(
            "slot tables differ or are missing: lb1 has {} services, lb2 {}, equal: {}",
            lb1.len(),
            lb2.len(),
            lb1 == lb2
        ));
    }
    let (lb1, lb2) = (
        kernel_hash_rules(lab.host("lb1")),
        kernel_hash_rules(lab.host("lb2")),
    );
    if lb1.len() != 4 || lb1 != lb2 || !lb1.iter().all(|r| r.contains("seed 0xba704c34")) {
        pair.fail(&format!("hash rules differ: lb1 {lb1:?}, lb2 {lb2:?}"));
    }
    assert_eq!(pair.state("lb1"), "BACKUP");

    let mut streams = start_streams(lab.host("client"));
    if let Err(stuck) = streams.wait_replies(None, REPLIES_AFTER, Duration::from_secs(10)) {
        pair.fail(&format!("no flow through the VIP: {stuck}"));
    }

    survive(&mut pair, &mut streams, "link-cut", |pair| {
        pair.lab.host("lb2").cut_link().expect("cut lb2's link");
    });
    repair(&mut pair, &mut streams, "link-cut", |pair| {
        pair.lab
            .host("lb2")
            .restore_link()
            .expect("restore lb2's link");
    });

    survive(&mut pair, &mut streams, "kill-9", |pair| {
        let pid = nix::unistd::Pid::from_raw(pair.lb2.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
        let _ = pair.lb2.child.wait_timeout(Duration::from_secs(5));
    });
    repair(&mut pair, &mut streams, "kill-9", Pair::restart_lb2);

    survive(&mut pair, &mut streams, "sigterm", |pair| {
        let _ = pair.lb2.child.signal(Signal::SIGTERM);
        let _ = pair.lb2.child.wait_timeout(Duration::from_secs(10));
        // Its DR tables outlived its VIP, forwarding until lb1 had announced itself.
        if !pair.lb2.log_text().contains("DR forwarding kept") {
            pair.fail("lb2 removed its DR tables with its VIP");
        }
    });
    repair(&mut pair, &mut streams, "sigterm", Pair::restart_lb2);

    survive(&mut pair, &mut streams, "step-down", |pair| {
        pair.instance("lb2", "step-down");
    });
    repair(&mut pair, &mut streams, "step-down", |pair| {
        pair.instance("lb2", "resume");
    });

    // The whole run, eight failovers: no reset, gap or duplicate, one server per flow.
    let (failures, used) = streams.finish();
    if !failures.is_empty() {
        pair.fail(&failures.join("\n"));
    }
    // The flows spread over both real servers: the hash, not a single path, was tested.
    assert_eq!(used.len(), 2, "flows used {used:?}");
}

#[test]
fn a_record_sees_gaps_duplicates_switches_and_resets() {
    let clean = Record::from_lines(
        Proto::Tcp,
        1,
        [
            "READY",
            "R 10.0 0 1 app1",
            "M 15.0 cut",
            "R 20.0 0 2 app1",
            "R 900.0 0 3 app1",
            "END 0 3",
        ],
    );
    assert!(clean.survived(), "{}", clean.summary());
    assert_eq!(clean.longest_pause_after("cut"), Duration::from_millis(880));
    assert_eq!(
        clean.flows[0].pauses(flow_stream::PAUSE, 0.0),
        vec![(20.0, 880.0)]
    );
    assert_eq!(clean.flows[0].sent, Some(3));

    let broken = Record::from_lines(
        Proto::Tcp,
        1,
        [
            "R 1 0 1 app1",
            "R 2 0 3 app1",
            "R 3 0 3 app1",
            "R 4 0 4 app2",
        ],
    );
    assert_eq!(broken.flows[0].gaps(), vec![(2, 3)]);
    assert_eq!(broken.flows[0].duplicates(), 1);
    assert_eq!(broken.flows[0].switches(), 1);
    assert!(!broken.survived());
    let reset = Record::from_lines(Proto::Tcp, 1, ["R 1 0 1 app1", "E 2 0 reset"]);
    assert!(!reset.survived());
    assert_eq!(reset.flows_survived(), 0);
    // UDP: a lost datagram is no failure, a change of server is.
    let lossy = Record::from_lines(Proto::Udp, 1, ["R 1 0 1 app1", "R 900 0 80 app1"]);
    assert!(lossy.survived(), "{}", lossy.summary());
}
