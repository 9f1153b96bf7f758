//! keepalived's election keywords, each run by baton and by Debian's keepalived 2.2.7 from
//! the same keepalived.conf, with the LAN captured at the lab's switch where the effect is
//! on the wire: lower_prio_no_advert (a master answers a lower-priority advert, or with the
//! keyword does not), higher_prio_send_advert (one advert before stepping down),
//! unicast_ttl (the TTL of unicast adverts), mcast_dst_ip and vrrp_mcast_group4 (the group
//! adverts go to, and a peer that listens there); and down_timer_adverts,
//! vrrp_startup_delay, dynamic_interfaces, notify_master_rx_lower_pri and notify_deleted,
//! by what each changes in the VIP's holder and the notify scripts' lines.

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use baton_lab::Lab;
use common::pcap::Capture;
use common::{
    Daemon, KINDS, Kind, Workdir, assert_holders, fail, guide_lab, holds, keepalived_conf,
    skip_without_tcpdump, skip_without_tool, wait_for,
};

const LB1: Ipv4Addr = Ipv4Addr::new(10, 0, 3, 5);
const LB2: Ipv4Addr = Ipv4Addr::new(10, 0, 3, 6);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 3, 50);
const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

/// Waits (15 s at most) until `host` holds the guide's VIP, or fails with the logs.
fn await_master(host: &baton_lab::Host, label: &str, daemons: &[&Daemon]) {
    if wait_for(Duration::from_secs(15), || holds(host, common::VIP)).is_none() {
        fail(
            &format!("{label}: {} never became master", host.name()),
            daemons,
        );
    }
}

/// Stops `daemon` and checks that it gave the guide's VIP on `host` up.
fn stop_and_check_released(daemon: Daemon, host: &baton_lab::Host, label: &str) {
    drop(daemon);
    let gone = wait_for(Duration::from_secs(10), || !holds(host, common::VIP));
    assert!(gone.is_some(), "{label}: the VIP stayed on {}", host.name());
}

/// The lab, or `None` after a loud SKIPPED line when root, namespaces, keepalived or
/// tcpdump are missing.
fn lab_for(test: &str) -> Option<Lab> {
    if skip_without_tool("keepalived", "keepalived", test) || skip_without_tcpdump(test) {
        return None;
    }
    guide_lab(test)
}

/// One VRRP packet seen at the switch.
#[derive(Debug, Clone, Copy)]
struct Seen {
    /// Capture time in microseconds.
    at: u64,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    priority: u8,
}

/// The VRRP packets of a capture (tcpdump's filter `ip proto 112`).
trait VrrpPackets {
    fn packets(&self) -> Vec<Seen>;

    fn from(&self, src: Ipv4Addr) -> Vec<Seen> {
        self.packets()
            .into_iter()
            .filter(|p| p.src == src)
            .collect()
    }
}

impl VrrpPackets for Capture {
    fn packets(&self) -> Vec<Seen> {
        self.frames()
            .iter()
            .filter_map(|f| seen(f.at, &f.bytes))
            .collect()
    }
}

/// An Ethernet frame captured at `at` (µs), if it is IPv4 VRRP.
fn seen(at: u64, packet: &[u8]) -> Option<Seen> {
    if packet.len() < 14 + 20 || packet[12..14] != [0x08, 0x00] {
        return None;
    }
    let ip = &packet[14..];
    let header = usize::from(ip[0] & 0x0f) * 4;
    if ip[9] != 112 || ip.len() < header + 4 {
        return None;
    }
    let address = |i: usize| Ipv4Addr::new(ip[i], ip[i + 1], ip[i + 2], ip[i + 3]);
    Some(Seen {
        at,
        src: address(12),
        dst: address(16),
        ttl: ip[8],
        priority: ip[header + 2],
    })
}

/// Sends one VRRP payload from the client to `dst` with TTL 255 at `at` (microseconds
/// since the epoch, the clock of the capture's timestamps), and returns when it is sent.
fn send_from_client_at(lab: &Lab, dst: Ipv4Addr, payload: &[u8], at: u64) {
    const SEND: &str = "import socket, sys, time\n\
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)\n\
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)\n\
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)\n\
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('10.0.3.50'))\n\
        time.sleep(max(0.0, int(sys.argv[3]) / 1e6 - time.time()))\n\
        s.sendto(bytes.fromhex(sys.argv[2]), (sys.argv[1], 0))\n";
    let hex = common::flood::hex(payload);
    lab.host("client")
        .run(
            "python3",
            &["-c", SEND, &dst.to_string(), &hex, &at.to_string()],
        )
        .expect("sending an advert from the client");
}

/// A master (priority 150, on lb2) hears a priority-50 advert from the client 400 ms after
/// one of its own (on the capture's clock), three times. Returns, for each, whether the master sent an advert within
/// 250 ms of it: an answer, as its regular adverts are a second apart.
fn answers_to_lower_priority(lab: &Lab, kind: Kind, extra: &str) -> Vec<bool> {
    let label = format!("{kind:?} with {extra:?}");
    let dir = Workdir::new("lower-prio");
    let capture = Capture::start(lab, &dir, "lower-prio", "ip proto 112");
    let conf = keepalived_conf("lb2", 2, 150, "1", extra);
    let master = kind.start(lab.host("lb2"), &dir, &conf);
    await_master(lab.host("lb2"), &label, &[&master]);
    let rival = common::flood::advert(0x21, 50, 1, b"baton12\0");
    for _ in 0..3 {
        let before = capture.from(LB2).len();
        let advert_seen = wait_for(Duration::from_secs(5), || capture.from(LB2).len() > before);
        let last = capture.from(LB2).last().copied();
        let Some(last) = last.filter(|_| advert_seen.is_some()) else {
            fail(
                &format!("{label}: the master stopped advertising"),
                &[&master],
            );
        };
        // 400 ms after the next regular advert (a second after this one): the sender has
        // time to start, and an answer cannot be mistaken for a regular advert.
        send_from_client_at(lab, GROUP, &rival, last.at + 1_400_000);
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let packets = capture.packets();
    let rivals: Vec<u64> = packets
        .iter()
        .filter(|p| p.src == CLIENT)
        .map(|p| p.at)
        .collect();
    if rivals.len() != 3 {
        fail(
            &format!("{label}: captured {} rival adverts, sent 3", rivals.len()),
            &[&master],
        );
    }
    let answered = rivals
        .iter()
        .map(|&t| {
            packets
                .iter()
                .any(|p| p.src == LB2 && p.at > t && p.at < t + 250_000 && p.priority == 150)
        })
        .collect();
    assert_holders(lab, &["lb2"], &[&master]);
    stop_and_check_released(master, lab.host("lb2"), &label);
    answered
}

#[test]
fn lower_prio_no_advert_silences_the_answer_as_in_keepalived() {
    let test = "vrrp_keywords lower_prio_no_advert";
    let Some(lab) = lab_for(test) else { return };
    for kind in KINDS {
        // Without the keyword both answer a lower-priority advert at once (keepalived's
        // "forcing new election"); with it neither does.
        let answers = answers_to_lower_priority(&lab, kind, "");
        assert_eq!(answers, [true; 3], "{kind:?} without lower_prio_no_advert");
        let answers = answers_to_lower_priority(&lab, kind, "    lower_prio_no_advert\n");
        assert_eq!(answers, [false; 3], "{kind:?} with lower_prio_no_advert");
    }
}

/// The adverts lb2 sends alone as master from `extra`, after it took the VIP.
fn adverts_of_lone_master(lab: &Lab, kind: Kind, (globals, extra): (&str, &str)) -> Vec<Seen> {
    let label = format!("{kind:?} with {globals:?} {extra:?}");
    let dir = Workdir::new("wire");
    let capture = Capture::start(lab, &dir, "wire", "ip proto 112");
    let conf = keepalived_conf("lb2", 2, 150, "1", extra).replace(
        "    vrrp_version 2\n",
        &format!("    vrrp_version 2\n{globals}"),
    );
    let master = kind.start(lab.host("lb2"), &dir, &conf);
    await_master(lab.host("lb2"), &label, &[&master]);
    if wait_for(Duration::from_secs(10), || capture.from(LB2).len() >= 3).is_none() {
        fail(&format!("{label}: fewer than 3 adverts seen"), &[&master]);
    }
    let adverts = capture.from(LB2);
    stop_and_check_released(master, lab.host("lb2"), &label);
    // The priority-0 goodbye is not what is compared.
    adverts.into_iter().filter(|a| a.priority != 0).collect()
}

#[test]
fn unicast_ttl_and_mcast_dst_ip_are_on_the_wire_as_keepalived_sends_them() {
    let test = "vrrp_keywords unicast_ttl mcast_dst_ip";
    let Some(lab) = lab_for(test) else { return };
    let unicast = "    unicast_src_ip 10.0.3.6\n    unicast_peer {\n        10.0.3.5\n    }\n";
    for kind in KINDS {
        let plain = adverts_of_lone_master(&lab, kind, ("", unicast));
        assert!(
            plain.iter().all(|a| a.dst == LB1 && a.ttl == 255),
            "{kind:?}: {plain:?}"
        );
        let ttl = format!("{unicast}    unicast_ttl 7\n");
        let adverts = adverts_of_lone_master(&lab, kind, ("", &ttl));
        assert!(
            adverts.iter().all(|a| a.dst == LB1 && a.ttl == 7),
            "{kind:?} unicast_ttl 7: {adverts:?}"
        );
        let group = Ipv4Addr::new(224, 0, 0, 88);
        let adverts = adverts_of_lone_master(&lab, kind, ("", "    mcast_dst_ip 224.0.0.88\n"));
        assert!(
            adverts.iter().all(|a| a.dst == group && a.ttl == 255),
            "{kind:?} mcast_dst_ip: {adverts:?}"
        );
        // vrrp_mcast_group4 is the default of every IPv4 instance.
        let group = Ipv4Addr::new(224, 0, 0, 77);
        let adverts =
            adverts_of_lone_master(&lab, kind, ("    vrrp_mcast_group4 224.0.0.77\n", ""));
        assert!(
            adverts.iter().all(|a| a.dst == group && a.ttl == 255),
            "{kind:?} vrrp_mcast_group4: {adverts:?}"
        );
    }
}

/// `backup_kind` on lb1 (100) and the other kind on lb2 (150), both with `extra`: the
/// backup hears the master's adverts (it stays backup for several intervals) and takes
/// over when the master stops.
fn pair_agrees(lab: &Lab, backup_kind: Kind, extra: &str) {
    let label = format!("backup {backup_kind:?} with {extra:?}");
    let master_kind = if backup_kind == Kind::Baton {
        Kind::Keepalived
    } else {
        Kind::Baton
    };
    let dir = Workdir::new("pair");
    let backup = backup_kind.start(
        lab.host("lb1"),
        &dir,
        &keepalived_conf("lb1", 2, 100, "1", &extra.replace("10.0.3.X", "10.0.3.6")),
    );
    let mut master = master_kind.start(
        lab.host("lb2"),
        &dir,
        &keepalived_conf("lb2", 2, 150, "1", &extra.replace("10.0.3.X", "10.0.3.5")),
    );
    await_master(lab.host("lb2"), &label, &[&backup, &master]);
    std::thread::sleep(Duration::from_secs(5));
    assert_holders(lab, &["lb2"], &[&backup, &master]);
    master.child.terminate();
    if wait_for(Duration::from_secs(10), || {
        holds(lab.host("lb1"), common::VIP)
    })
    .is_none()
    {
        fail(
            &format!("{label}: lb1 never took over"),
            &[&backup, &master],
        );
    }
    stop_and_check_released(backup, lab.host("lb1"), &label);
}

#[test]
fn baton_and_keepalived_share_an_mcast_dst_ip_group_and_a_unicast_ttl() {
    let test = "vrrp_keywords pairs";
    let Some(lab) = lab_for(test) else { return };
    let unicast_ttl = "    unicast_peer {\n        10.0.3.X\n    }\n    unicast_ttl 7\n";
    for backup in KINDS {
        pair_agrees(&lab, backup, "    mcast_dst_ip 224.0.0.88\n");
        pair_agrees(&lab, backup, unicast_ttl);
    }
}

/// The lines the notify script of `conf` wrote while `kind` ran it on lb2: it becomes
/// master, hears one lower-priority advert, and a reload removes its instance.
fn notify_lines(lab: &Lab, kind: Kind) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt as _;
    let label = format!("{kind:?} notify");
    let dir = Workdir::new("notify");
    let log = dir.write("notify.log", "");
    let script = dir.write(
        "notify.sh",
        &format!("#!/bin/sh\necho \"$*\" >> {}\n", log.display()),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let extra = format!(
        "    notify \"{s}\"\n    notify_master_rx_lower_pri \"{s} rx_lower\"\n    notify_deleted\n",
        s = script.display()
    );
    let conf = keepalived_conf("lb2", 2, 150, "1", &extra);
    let lb2 = lab.host("lb2");
    let mut daemon = kind.start(lb2, &dir, &conf);
    await_master(lb2, &label, &[&daemon]);
    let written = |text: &str| {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains(text)
    };
    let rival = common::flood::advert(0x21, 50, 1, b"baton12\0");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock");
    send_from_client_at(lab, GROUP, &rival, now.as_micros() as u64);
    if wait_for(Duration::from_secs(5), || written("rx_lower")).is_none() {
        fail(
            &format!("{label}: notify_master_rx_lower_pri never ran"),
            &[&daemon],
        );
    }
    // The reload replaces VI_1 by VI_2: VI_1 is deleted.
    let replaced = keepalived_conf("lb2", 2, 150, "1", "")
        .replace("VI_1", "VI_2")
        .replace("virtual_router_id 51", "virtual_router_id 52")
        .replace("10.0.3.100/24", "10.0.3.101/24");
    let file = match kind {
        Kind::Baton => "lb2.conf",
        Kind::Keepalived => "lb2-keepalived.conf",
    };
    dir.write(file, &replaced);
    daemon
        .child
        .signal(nix::sys::signal::Signal::SIGHUP)
        .expect("SIGHUP");
    if wait_for(Duration::from_secs(10), || {
        written("DELETED") || written("FAULT")
    })
    .is_none()
    {
        fail(
            &format!("{label}: no notify for the removed instance"),
            &[&daemon],
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    if holds(lb2, common::VIP) {
        fail(
            &format!("{label}: the removed instance's VIP stayed"),
            &[&daemon],
        );
    }
    drop(daemon);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    text.lines().map(str::to_owned).collect()
}

#[test]
fn notify_master_rx_lower_pri_and_notify_deleted_run_as_in_keepalived() {
    let test = "vrrp_keywords notify";
    let Some(lab) = lab_for(test) else { return };
    let expected = [
        "INSTANCE VI_1 BACKUP 150",
        "INSTANCE VI_1 MASTER 150",
        "rx_lower",
        "INSTANCE VI_1 DELETED 150",
    ];
    for kind in KINDS {
        assert_eq!(notify_lines(&lab, kind), expected, "{kind:?}");
    }
}

/// lb1 (priority 100, `extra`) is master alone; lb2 (150) starts and preempts it. Returns
/// the adverts of priority 100 lb1 sent after lb2's first advert as master.
fn adverts_of_preempted_master(lab: &Lab, kind: Kind, extra: &str) -> Vec<Seen> {
    let label = format!("{kind:?} with {extra:?}");
    let dir = Workdir::new("higher-prio");
    let capture = Capture::start(lab, &dir, "higher-prio", "ip proto 112");
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    let low = kind.start(lb1, &dir, &keepalived_conf("lb1", 2, 100, "1", extra));
    await_master(lb1, &label, &[&low]);
    let high = kind.start(lb2, &dir, &keepalived_conf("lb2", 2, 150, "1", ""));
    if wait_for(Duration::from_secs(15), || {
        holds(lb2, common::VIP) && !holds(lb1, common::VIP)
    })
    .is_none()
    {
        fail(&format!("{label}: lb2 never took over"), &[&low, &high]);
    }
    std::thread::sleep(Duration::from_millis(1500));
    let packets = capture.packets();
    let Some(taken) = packets.iter().find(|p| p.src == LB2 && p.priority == 150) else {
        fail(
            &format!("{label}: no advert of lb2 captured"),
            &[&low, &high],
        );
    };
    let after: Vec<Seen> = packets
        .iter()
        .filter(|p| p.src == LB1 && p.priority == 100 && p.at > taken.at)
        .copied()
        .collect();
    stop_and_check_released(high, lb2, &label);
    stop_and_check_released(low, lb1, &label);
    if let Some(first) = after.first() {
        // The advert answers lb2's at once: not a regular one that happened to follow.
        assert!(
            first.at - taken.at < 100_000,
            "{label}: {first:?} after {taken:?}"
        );
    }
    after
}

#[test]
fn higher_prio_send_advert_sends_one_advert_before_stepping_down_as_in_keepalived() {
    let test = "vrrp_keywords higher_prio_send_advert";
    let Some(lab) = lab_for(test) else { return };
    for kind in KINDS {
        let without = adverts_of_preempted_master(&lab, kind, "");
        assert_eq!(without.len(), 0, "{kind:?} without: {without:?}");
        let with = adverts_of_preempted_master(&lab, kind, "    higher_prio_send_advert\n");
        assert_eq!(
            with.len(),
            1,
            "{kind:?} with higher_prio_send_advert: {with:?}"
        );
    }
}

/// How long after its start `kind` alone on lb2 took the VIP, with `globals` in
/// global_defs; fails if it took it within `not_before`.
fn time_to_master(lab: &Lab, kind: Kind, globals: &str, not_before: Duration) -> Duration {
    let label = format!("{kind:?} with {globals:?}");
    let dir = Workdir::new("startup-delay");
    let conf = keepalived_conf("lb2", 2, 150, "1", "").replace(
        "    vrrp_version 2\n",
        &format!("    vrrp_version 2\n{globals}"),
    );
    let lb2 = lab.host("lb2");
    let started = std::time::Instant::now();
    let daemon = kind.start(lb2, &dir, &conf);
    if wait_for(not_before, || holds(lb2, common::VIP)).is_some() {
        fail(
            &format!("{label}: master before {not_before:?}"),
            &[&daemon],
        );
    }
    if wait_for(Duration::from_secs(30), || holds(lb2, common::VIP)).is_none() {
        fail(&format!("{label}: never became master"), &[&daemon]);
    }
    let took = started.elapsed();
    stop_and_check_released(daemon, lb2, &label);
    took
}

#[test]
fn vrrp_startup_delay_holds_off_the_first_master_as_in_keepalived() {
    let test = "vrrp_keywords vrrp_startup_delay";
    let Some(lab) = lab_for(test) else { return };
    for kind in KINDS {
        // Alone, a backup becomes master after 3 intervals and skew (3.4 s); with a delay of
        // 6 s, that is counted from the end of the delay (9.4 s). The bounds are generous.
        let plain = time_to_master(&lab, kind, "", Duration::ZERO);
        let delayed = time_to_master(
            &lab,
            kind,
            "    vrrp_startup_delay 6\n",
            Duration::from_secs(8),
        );
        assert!(
            plain < Duration::from_secs(7) && delayed > plain + Duration::from_secs(4),
            "{kind:?}: {plain:?} without, {delayed:?} with vrrp_startup_delay 6"
        );
    }
}

/// `kind` on lb2 with `dynamic_interfaces` and an instance on `dyn0`, which does not exist
/// yet: it starts (in FAULT), and takes its VIP once dyn0 is made, addressed and up.
fn waits_for_its_interface(lab: &Lab, kind: Kind) {
    let label = format!("{kind:?} dynamic_interfaces");
    let dir = Workdir::new("dynamic");
    let conf = keepalived_conf("lb2", 2, 150, "1", "")
        .replace(
            "    vrrp_version 2\n",
            "    vrrp_version 2\n    dynamic_interfaces\n",
        )
        .replace("interface eth0", "interface dyn0")
        .replace("10.0.3.100/24", "10.0.9.100/24");
    let lb2 = lab.host("lb2");
    let on_dyn0 = || {
        lb2.run("ip", &["-o", "address", "show", "dev", "dyn0"])
            .is_ok_and(|text| text.contains("10.0.9.100/24"))
    };
    let mut daemon = kind.start(lb2, &dir, &conf);
    std::thread::sleep(Duration::from_secs(3));
    if !daemon.child.is_running() {
        fail(&format!("{label}: did not start without dyn0"), &[&daemon]);
    }
    for command in [
        "link add dyn0 type veth peer name dyn0p",
        "address add 10.0.9.5/24 dev dyn0",
        "link set dyn0p up",
        "link set dyn0 up",
    ] {
        let args: Vec<&str> = command.split(' ').collect();
        lb2.run("ip", &args).expect("making dyn0");
    }
    if wait_for(Duration::from_secs(20), on_dyn0).is_none() {
        let _ = lb2.run("ip", &["link", "del", "dyn0"]);
        fail(&format!("{label}: never became master on dyn0"), &[&daemon]);
    }
    drop(daemon);
    let gone = wait_for(Duration::from_secs(10), || !on_dyn0());
    lb2.run("ip", &["link", "del", "dyn0"])
        .expect("removing dyn0");
    assert!(gone.is_some(), "{label}: the VIP stayed on dyn0");
}

#[test]
fn dynamic_interfaces_waits_for_the_interface_as_keepalived_does() {
    let test = "vrrp_keywords dynamic_interfaces";
    let Some(lab) = lab_for(test) else { return };
    for kind in KINDS {
        waits_for_its_interface(&lab, kind);
    }
}

/// `kind` as backup on lb1 and as master on lb2, both with `extra`: how long after the
/// master is cut off (its switch port drops everything: it goes on advertising into the
/// void) the backup takes the VIP.
fn takeover_after_cut(lab: &Lab, kind: Kind, extra: &str) -> Duration {
    let label = format!("{kind:?} with {extra:?}");
    let dir = Workdir::new("down-timer");
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    let backup = kind.start(lb1, &dir, &keepalived_conf("lb1", 2, 100, "1", extra));
    let master = kind.start(lb2, &dir, &keepalived_conf("lb2", 2, 150, "1", extra));
    await_master(lb2, &label, &[&backup, &master]);
    std::thread::sleep(Duration::from_secs(3));
    assert_holders(lab, &["lb2"], &[&backup, &master]);
    lb2.isolate().expect("cutting lb2 off");
    let took = wait_for(Duration::from_secs(30), || holds(lb1, common::VIP));
    lb2.rejoin().expect("plugging lb2 back");
    let Some(took) = took else {
        fail(
            &format!("{label}: lb1 never took over"),
            &[&backup, &master],
        );
    };
    stop_and_check_released(master, lb2, &label);
    stop_and_check_released(backup, lb1, &label);
    took
}

#[test]
fn down_timer_adverts_sets_how_long_a_backup_waits_as_in_keepalived() {
    let test = "vrrp_keywords down_timer_adverts";
    let Some(lab) = lab_for(test) else { return };
    for kind in KINDS {
        // The RFC's 3 intervals and skew (3.6 s) less the time since the last advert
        // (under 1 s), against 10 intervals and skew (10.6 s) less the same.
        let default = takeover_after_cut(&lab, kind, "");
        let ten = takeover_after_cut(&lab, kind, "    down_timer_adverts 10\n");
        assert!(
            default < Duration::from_secs(6)
                && ten > Duration::from_secs(8)
                && ten < Duration::from_secs(16),
            "{kind:?}: {default:?} with 3, {ten:?} with down_timer_adverts 10"
        );
    }
}
