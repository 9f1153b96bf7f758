//! baton and Debian's keepalived 2.2.7 in the same VRID, started from the same kind of
//! keepalived.conf: each is master with the other as backup, and each takes over when the
//! other stops. VRRPv2 with PASS authentication, VRRPv3 over IPv4 and over IPv6.

mod common;

use std::time::Duration;

use common::{
    Daemon, Workdir, assert_holders_of, fail, guide_lab, holds, keepalived_conf_for, start_baton,
    start_keepalived, wait_for,
};

struct Case {
    name: &'static str,
    version: u8,
    advert_int: &'static str,
    vip: &'static str,
}

const CASES: [Case; 3] = [
    Case {
        name: "v2-pass",
        version: 2,
        advert_int: "1",
        vip: "10.0.3.100/24",
    },
    Case {
        name: "v3-ipv4",
        version: 3,
        advert_int: "0.1",
        vip: "10.0.3.100/24",
    },
    Case {
        name: "v3-ipv6",
        version: 3,
        advert_int: "0.1",
        vip: "2001:db8::100/64",
    },
];

#[derive(Clone, Copy, PartialEq)]
enum Peer {
    Baton,
    Keepalived,
}

fn start(peer: Peer, host: &baton_lab::Host, dir: &Workdir, conf: &str) -> Daemon {
    match peer {
        Peer::Baton => start_baton(host, dir, conf),
        Peer::Keepalived => start_keepalived(host, dir, conf),
    }
}

/// `master_kind` on lb2 (priority 150) and the other on lb1 (priority 100): lb2 must win,
/// lb1 must take over on SIGTERM, and then neither may hold the VIP twice.
fn master_then_handover(case: &Case, master_kind: Peer) {
    let backup_kind = if master_kind == Peer::Baton {
        Peer::Keepalived
    } else {
        Peer::Baton
    };
    let label = format!(
        "interop {} {}",
        case.name,
        if master_kind == Peer::Baton {
            "baton-master"
        } else {
            "keepalived-master"
        }
    );
    if common::skip_without_tool("keepalived", "keepalived", &label) {
        return;
    }
    let Some(lab) = guide_lab(&label) else { return };
    let dir = Workdir::new(case.name);
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    let conf = |id, priority| {
        keepalived_conf_for(case.vip, id, case.version, priority, case.advert_int, "")
    };
    let backup = start(backup_kind, lb1, &dir, &conf("lb1", 100));
    let mut master = start(master_kind, lb2, &dir, &conf("lb2", 150));
    if wait_for(Duration::from_secs(15), || holds(lb2, case.vip)).is_none() {
        fail(
            &format!("{label}: lb2 never became master"),
            &[&backup, &master],
        );
    }
    // Several intervals with both running: the backup must stay backup (it accepts the
    // master's adverts: same version, checksum, password and interval).
    std::thread::sleep(Duration::from_secs(3));
    assert_holders_of(&lab, case.vip, &["lb2"], &[&backup, &master]);

    master.child.terminate();
    if wait_for(Duration::from_secs(10), || holds(lb1, case.vip)).is_none() {
        fail(
            &format!("{label}: lb1 never took over"),
            &[&backup, &master],
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_holders_of(&lab, case.vip, &["lb1"], &[&backup, &master]);
}

#[test]
fn v2_pass_baton_master_keepalived_backup() {
    master_then_handover(&CASES[0], Peer::Baton);
}

#[test]
fn v2_pass_keepalived_master_baton_backup() {
    master_then_handover(&CASES[0], Peer::Keepalived);
}

#[test]
fn v3_ipv4_baton_master_keepalived_backup() {
    master_then_handover(&CASES[1], Peer::Baton);
}

#[test]
fn v3_ipv4_keepalived_master_baton_backup() {
    master_then_handover(&CASES[1], Peer::Keepalived);
}

#[test]
fn v3_ipv6_baton_master_keepalived_backup() {
    master_then_handover(&CASES[2], Peer::Baton);
}

#[test]
fn v3_ipv6_keepalived_master_baton_backup() {
    master_then_handover(&CASES[2], Peer::Keepalived);
}
