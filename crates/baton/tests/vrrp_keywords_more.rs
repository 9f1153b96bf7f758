//! More keepalived VRRP keywords, each run by baton and by Debian's keepalived 2.2.7 from the
//! same keepalived.conf, with the LAN captured at the lab's switch:
//! - garp_lower_prio_repeat / garp_lower_prio_delay: a master that hears a lower-priority
//!   advert sends that many gratuitous ARPs at once and as many again after the delay;
//! - old_unicast_checksum: VRRPv3 unicast adverts summed with 224.0.0.18 in the
//!   pseudo-header (keepalived before 1.3.6), and a peer without the keyword that detects
//!   them and stays backup;
//! - unicast_fault_no_peer: with no unicast peer the instance stays in FAULT, sending
//!   nothing and holding no address;
//! - interface_up_down_delays: a link down for less than the delay changes nothing, one
//!   down for longer puts the instance in FAULT only once the delay is over.

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use baton_lab::{Host, Lab};
use common::pcap::Capture;
use common::{
    Daemon, KINDS, Kind, Workdir, assert_holders, fail, guide_lab, holds, keepalived_conf,
    skip_without_tcpdump, skip_without_tool, wait_for,
};

const LB1: Ipv4Addr = Ipv4Addr::new(10, 0, 3, 5);
const LB2: Ipv4Addr = Ipv4Addr::new(10, 0, 3, 6);
const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

/// The lab, or `None` after a loud SKIPPED line when root, namespaces, keepalived, tcpdump
/// or python3 are missing.
fn lab_for(test: &str) -> Option<Lab> {
    if skip_without_tool("keepalived", "keepalived", test)
        || skip_without_tcpdump(test)
        || skip_without_tool("python3", "python3", test)
    {
        return None;
    }
    guide_lab(test)
}

fn await_master(host: &Host, label: &str, daemons: &[&Daemon]) {
    if wait_for(Duration::from_secs(15), || holds(host, common::VIP)).is_none() {
        fail(
            &format!("{label}: {} never became master", host.name()),
            daemons,
        );
    }
}

/// VRRP packets from `src` in `capture`: (capture time in µs, destination, IP payload).
fn vrrp_from(capture: &Capture, src: Ipv4Addr) -> Vec<(u64, Ipv4Addr, Vec<u8>)> {
    capture
        .frames()
        .into_iter()
        .filter_map(|f| {
            let ip = f
                .bytes
                .get(14..)
                .filter(|_| f.bytes[12..14] == [0x08, 0x00])?;
            let header = usize::from(ip.first()? & 0x0f) * 4;
            let address = |i: usize| Ipv4Addr::new(ip[i], ip[i + 1], ip[i + 2], ip[i + 3]);
            (ip.len() > header && ip[9] == 112 && address(12) == src)
                .then(|| (f.at, address(16), ip[header..].to_vec()))
        })
        .collect()
}

/// Capture times (µs) of the gratuitous ARPs (request or reply) for `vip` in `capture`.
fn garps_for(capture: &Capture, vip: Ipv4Addr) -> Vec<u64> {
    capture
        .frames()
        .into_iter()
        .filter(|f| f.bytes.len() >= 42 && f.bytes[12..14] == [0x08, 0x06])
        .filter(|f| {
            let arp = &f.bytes[14..];
            let sender = Ipv4Addr::new(arp[14], arp[15], arp[16], arp[17]);
            let target = Ipv4Addr::new(arp[24], arp[25], arp[26], arp[27]);
            sender == vip && target == vip
        })
        .map(|f| f.at)
        .collect()
}

/// Sends one VRRP payload from the client to `dst` with TTL 255.
fn send_from_client(lab: &Lab, dst: Ipv4Addr, payload: &[u8]) {
    const SEND: &str = "import socket, sys\n\
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)\n\
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)\n\
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)\n\
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('10.0.3.50'))\n\
        s.sendto(bytes.fromhex(sys.argv[2]), (sys.argv[1], 0))\n";
    let hex = common::flood::hex(payload);
    lab.host("client")
        .run("python3", &["-c", SEND, &dst.to_string(), &hex])
        .expect("sending an advert from the client");
}

/// lb2 master (priority 150) with `extra`; a priority-50 advert from the client once the
/// start-up announcements are over. Returns the gratuitous ARPs for the VIP after it, as
/// microseconds since the rival advert.
fn garps_after_lower_advert(lab: &Lab, kind: Kind, extra: &str) -> Vec<u64> {
    let label = format!("{kind:?} with {extra:?}");
    let dir = Workdir::new("lower-prio-garp");
    let capture = Capture::start(lab, &dir, "garp", "arp or ip proto 112");
    let conf = keepalived_conf("lb2", 2, 150, "1", extra);
    let master = kind.start(lab.host("lb2"), &dir, &conf);
    await_master(lab.host("lb2"), &label, &[&master]);
    // The start-up burst (garp_master_delay 0: no second one) is over well within 1 s.
    std::thread::sleep(Duration::from_millis(1500));
    let vip = Ipv4Addr::new(10, 0, 3, 100);
    let before = garps_for(&capture, vip).len();
    if before == 0 {
        fail(
            &format!("{label}: no start-up gratuitous ARP seen"),
            &[&master],
        );
    }
    send_from_client(
        lab,
        GROUP,
        &common::flood::advert(0x21, 50, 1, b"baton12\0"),
    );
    std::thread::sleep(Duration::from_millis(4500));
    let rival = vrrp_from(&capture, Ipv4Addr::new(10, 0, 3, 50))
        .first()
        .map(|(at, _, _)| *at);
    let Some(rival) = rival else {
        fail(
            &format!("{label}: the rival advert was not captured"),
            &[&master],
        );
    };
    let after = garps_for(&capture, vip)
        .into_iter()
        .filter(|&at| at > rival)
        .map(|at| at - rival)
        .collect();
    assert_holders(lab, &["lb2"], &[&master]);
    drop(master);
    after
}

#[test]
fn garp_lower_prio_repeat_and_delay_as_in_keepalived() {
    let test = "vrrp_keywords_more garp_lower_prio";
    let Some(lab) = lab_for(test) else { return };
    let extra = "    garp_master_repeat 1\n    garp_master_delay 0\n    \
                 garp_lower_prio_repeat 2\n    garp_lower_prio_delay 2\n";
    for kind in KINDS {
        let after = garps_after_lower_advert(&lab, kind, extra);
        // Two at once, two more after 2 s; generous bounds around both.
        let at_once = after.iter().filter(|&&t| t < 1_000_000).count();
        let delayed = after
            .iter()
            .filter(|&&t| (1_500_000..3_500_000).contains(&t))
            .count();
        assert_eq!(
            (at_once, delayed, after.len()),
            (2, 2, 4),
            "{kind:?}: gratuitous ARPs at {after:?} µs after the lower-priority advert"
        );
        // With repeat 0 (here from the global default) none at all.
        let none =
            "    garp_master_repeat 1\n    garp_master_delay 0\n    garp_lower_prio_repeat 0\n";
        let after = garps_after_lower_advert(&lab, kind, none);
        assert_eq!(
            after,
            Vec::<u64>::new(),
            "{kind:?} with garp_lower_prio_repeat 0"
        );
    }
}

/// The checksum of a VRRPv3 message from `src` to `dst` with the IPv4 pseudo-header: zero
/// when the message's own checksum is right for that pseudo-header.
fn v3_sum(message: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> u16 {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&src.octets());
    bytes.extend_from_slice(&dst.octets());
    bytes.extend_from_slice(&[0, 112]);
    bytes.extend_from_slice(&(message.len() as u16).to_be_bytes());
    bytes.extend_from_slice(message);
    common::flood::checksum(&bytes)
}

fn unicast_conf(
    router_id: &str,
    priority: u8,
    src: Ipv4Addr,
    peer: Ipv4Addr,
    extra: &str,
) -> String {
    let unicast =
        format!("    unicast_src_ip {src}\n    unicast_peer {{\n        {peer}\n    }}\n{extra}");
    keepalived_conf(router_id, 3, priority, "1", &unicast)
}

/// lb2 alone as a VRRPv3 unicast master with `extra`: which pseudo-header destination its
/// adverts' checksums are right for (the peer's address, or the group).
fn checksum_of_lone_master(lab: &Lab, kind: Kind, extra: &str) -> Vec<&'static str> {
    let label = format!("{kind:?} with {extra:?}");
    let dir = Workdir::new("old-checksum");
    let capture = Capture::start(lab, &dir, "adverts", "ip proto 112");
    let master = kind.start(
        lab.host("lb2"),
        &dir,
        &unicast_conf("lb2", 150, LB2, LB1, extra),
    );
    await_master(lab.host("lb2"), &label, &[&master]);
    if wait_for(Duration::from_secs(10), || {
        vrrp_from(&capture, LB2).len() >= 3
    })
    .is_none()
    {
        fail(&format!("{label}: fewer than 3 adverts seen"), &[&master]);
    }
    drop(master);
    vrrp_from(&capture, LB2)
        .iter()
        .filter(|(_, _, message)| message.get(2) != Some(&0))
        .map(
            |(_, dst, message)| match (v3_sum(message, LB2, *dst), v3_sum(message, LB2, GROUP)) {
                (0, _) => "peer",
                (_, 0) => "group",
                _ => "neither",
            },
        )
        .collect()
}

/// `backup_kind` on lb1 (100, no keyword) and the other on lb2 (150, `old_unicast_checksum`):
/// the backup detects the old checksums and stays backup for several intervals.
fn old_checksum_is_detected(lab: &Lab, backup_kind: Kind) {
    let label = format!("backup {backup_kind:?} without old_unicast_checksum");
    let dir = Workdir::new("old-checksum-pair");
    let backup = backup_kind.start(
        lab.host("lb1"),
        &dir,
        &unicast_conf("lb1", 100, LB1, LB2, ""),
    );
    let master = backup_kind.other().start(
        lab.host("lb2"),
        &dir,
        &unicast_conf("lb2", 150, LB2, LB1, "    old_unicast_checksum\n"),
    );
    await_master(lab.host("lb2"), &label, &[&backup, &master]);
    std::thread::sleep(Duration::from_secs(5));
    assert_holders(lab, &["lb2"], &[&backup, &master]);
    let logged = match backup_kind {
        Kind::Baton => "the old unicast checksum from now on",
        Kind::Keepalived => "Setting unicast VRRPv3 checksum to old version",
    };
    if !backup.log_text().contains(logged) {
        fail(
            &format!("{label}: no '{logged}' in its log"),
            &[&backup, &master],
        );
    }
}

#[test]
fn old_unicast_checksum_on_the_wire_and_detected_as_in_keepalived() {
    let test = "vrrp_keywords_more old_unicast_checksum";
    let Some(lab) = lab_for(test) else { return };
    for kind in KINDS {
        let standard = checksum_of_lone_master(&lab, kind, "");
        assert!(
            !standard.is_empty() && standard.iter().all(|&s| s == "peer"),
            "{kind:?} without old_unicast_checksum: {standard:?}"
        );
        let old = checksum_of_lone_master(&lab, kind, "    old_unicast_checksum\n");
        assert!(
            !old.is_empty() && old.iter().all(|&s| s == "group"),
            "{kind:?} with old_unicast_checksum: {old:?}"
        );
    }
    for backup in KINDS {
        old_checksum_is_detected(&lab, backup);
    }
}

#[test]
fn unicast_fault_no_peer_stays_in_fault_as_in_keepalived() {
    let test = "vrrp_keywords_more unicast_fault_no_peer";
    let Some(lab) = lab_for(test) else { return };
    let extra = "    unicast_src_ip 10.0.3.6\n    unicast_fault_no_peer\n";
    for kind in KINDS {
        let label = format!("{kind:?} with unicast_fault_no_peer and no peer");
        let dir = Workdir::new("fault-no-peer");
        let capture = Capture::start(&lab, &dir, "adverts", "ip proto 112");
        let daemon = kind.start(
            lab.host("lb2"),
            &dir,
            &keepalived_conf("lb2", 2, 150, "1", extra),
        );
        let entered = match kind {
            Kind::Baton => "-> FAULT",
            // It starts in FAULT without an "Entering FAULT STATE" line.
            Kind::Keepalived => "Cannot use unicast without any peers - going to fault state",
        };
        if wait_for(Duration::from_secs(10), || {
            daemon.log_text().contains(entered)
        })
        .is_none()
        {
            fail(&format!("{label}: never entered FAULT"), &[&daemon]);
        }
        // Without the keyword it would be master after about 3.4 s: wait longer.
        std::thread::sleep(Duration::from_secs(5));
        if holds(lab.host("lb2"), common::VIP) || !vrrp_from(&capture, LB2).is_empty() {
            fail(
                &format!(
                    "{label}: it holds the VIP or advertised: {:?}",
                    vrrp_from(&capture, LB2).len()
                ),
                &[&daemon],
            );
        }
    }
}

fn set_link(host: &Host, up: bool) {
    let state = if up { "up" } else { "down" };
    host.run("ip", &["link", "set", "eth0", state])
        .expect("setting eth0's link");
}

#[test]
fn interface_up_down_delays_hold_link_changes_back_as_in_keepalived() {
    let test = "vrrp_keywords_more interface_up_down_delays";
    let Some(lab) = lab_for(test) else { return };
    let lb2 = lab.host("lb2");
    for kind in KINDS {
        let label = format!("{kind:?} with interface_up_down_delays eth0 1.8");
        let dir = Workdir::new("link-delays");
        let conf = keepalived_conf("lb2", 2, 150, "1", "").replace(
            "global_defs {",
            "interface_up_down_delays {\n    eth0 1.8\n}\nglobal_defs {",
        );
        let daemon = kind.start(lb2, &dir, &conf);
        await_master(lb2, &label, &[&daemon]);
        let fault = |daemon: &Daemon| {
            let log = daemon.log_text();
            match kind {
                Kind::Baton => log.contains("-> FAULT"),
                Kind::Keepalived => log.contains("Entering FAULT STATE"),
            }
        };
        // Down for half a second: nothing happens.
        set_link(lb2, false);
        std::thread::sleep(Duration::from_millis(500));
        set_link(lb2, true);
        std::thread::sleep(Duration::from_secs(3));
        if fault(&daemon) {
            fail(
                &format!("{label}: a 0.5 s flap put it in FAULT"),
                &[&daemon],
            );
        }
        // Down for good: FAULT once 1.8 s are over, not before (1.2 s leaves room).
        set_link(lb2, false);
        std::thread::sleep(Duration::from_millis(1200));
        if fault(&daemon) {
            fail(
                &format!("{label}: FAULT before the delay was over"),
                &[&daemon],
            );
        }
        if wait_for(Duration::from_secs(8), || fault(&daemon)).is_none() {
            set_link(lb2, true);
            fail(
                &format!("{label}: never entered FAULT with eth0 down"),
                &[&daemon],
            );
        }
        set_link(lb2, true);
        drop(daemon);
    }
}
