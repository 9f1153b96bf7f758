//! keepalived's `track_src_ip` and instances without an `interface`, beside Debian's
//! keepalived 2.2.7 in the guide's lab.
//!
//! - baton with `track_src_ip` is in FAULT while its `unicast_src_ip` is not on its
//!   interface (at start, and when the address is removed), `baton status` names the
//!   missing address, and a keepalived backup takes over; the address back, baton is master
//!   again.
//! - keepalived 2.2.7 documents the same but does not do it: with the same file it stays
//!   MASTER advertising from the vanished address (its netlink handler compares the removed
//!   address with the start of its sockaddr). The test records that, so the compatibility
//!   note stays true.
//! - An instance without `interface` (unicast, with unicast_src_ip and a VIP naming its
//!   `dev`): keepalived 2.2.7 refuses it ("Unknown interface!") and does not start; baton
//!   refuses it too, naming the instance's line.

mod common;

use std::time::Duration;

use baton_lab::Host;
use common::chaos::status;
use common::{
    Daemon, VIP, Workdir, fail, guide_lab, holds, skip_without_tool, start_baton, start_keepalived,
    wait_for,
};

/// lb1's advertising address, an extra one on its eth0 that the tests take away.
const SOURCE: &str = "10.0.3.15";

/// A unicast pair: lb1 (priority 150, advertising from [`SOURCE`], with `track_src_ip`)
/// and lb2 (priority 100).
fn conf(host: &str, extra: &str) -> String {
    let (priority, source, peer) = match host {
        "lb1" => (150, SOURCE, "10.0.3.6"),
        _ => (100, "10.0.3.6", SOURCE),
    };
    format!(
        "global_defs {{\n    router_id {host}\n}}\nvrrp_instance VI_1 {{\n    state BACKUP\n    \
         interface eth0\n    virtual_router_id 51\n    priority {priority}\n    advert_int 1\n    \
         unicast_src_ip {source}\n    unicast_peer {{\n        {peer}\n    }}\n{extra}    \
         virtual_ipaddress {{\n        {VIP}\n    }}\n}}\n"
    )
}

/// The guide's lab, or `None` after a loud SKIPPED line when root, namespaces or
/// keepalived are missing.
fn lab_for(test: &str) -> Option<baton_lab::Lab> {
    if skip_without_tool("keepalived", "keepalived", test) {
        return None;
    }
    guide_lab(test)
}

fn source_address(host: &Host, action: &str) {
    host.run(
        "ip",
        &["address", action, &format!("{SOURCE}/24"), "dev", "eth0"],
    )
    .unwrap_or_else(|error| panic!("ip address {action} {SOURCE}: {error}"));
}

/// Waits (15 s at most) until exactly `holder` of lb1 and lb2 holds the VIP.
fn await_holder(lab: &baton_lab::Lab, holder: &str, label: &str, daemons: &[&Daemon]) {
    let only = || {
        ["lb1", "lb2"]
            .iter()
            .all(|h| holds(lab.host(h), VIP) == (*h == holder))
    };
    if wait_for(Duration::from_secs(15), only).is_none() {
        fail(
            &format!("{label}: {holder} never held the VIP alone"),
            daemons,
        );
    }
}

/// lb1's instance as `baton status --json` shows it, once `state` is reached (10 s at most).
fn await_state(dir: &Workdir, state: &str, daemons: &[&Daemon]) -> serde_json::Value {
    let socket = dir.path("lb1.sock");
    let mut last = serde_json::Value::Null;
    let reached = wait_for(Duration::from_secs(10), || {
        last = status(&socket)["vrrp"][0].clone();
        last["state"] == state
    });
    if reached.is_none() {
        fail(&format!("lb1 never reached {state}: {last}"), daemons);
    }
    last
}

#[test]
fn baton_is_in_fault_while_its_source_address_is_missing() {
    let test = "baton_is_in_fault_while_its_source_address_is_missing";
    let Some(lab) = lab_for(test) else { return };
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    let dir = Workdir::new("src-ip");
    // Started without its source address: FAULT from the start, and the backup is master.
    let baton = start_baton(lb1, &dir, &conf("lb1", "    track_src_ip\n"));
    let keepalived = start_keepalived(lb2, &dir, &conf("lb2", ""));
    let daemons = [&baton, &keepalived];
    let fault = await_state(&dir, "FAULT", &daemons);
    assert_eq!(
        fault["faults"][0],
        format!("source address {SOURCE} not on eth0"),
        "{fault}"
    );
    await_holder(&lab, "lb2", "address missing at start", &daemons);

    // The address comes: lb1 is master (its priority is higher), and nothing holds FAULT.
    source_address(lb1, "add");
    let master = await_state(&dir, "MASTER", &daemons);
    assert!(master.get("faults").is_none(), "{master}");
    await_holder(&lab, "lb1", "address added", &daemons);

    // Removed: FAULT at once (priority 0 sent), keepalived takes over.
    source_address(lb1, "del");
    await_state(&dir, "FAULT", &daemons);
    await_holder(&lab, "lb2", "address removed", &daemons);
    if !baton.log_text().contains("source address is gone") {
        fail("baton did not log why it went to FAULT", &daemons);
    }

    // Back again: master again.
    source_address(lb1, "add");
    await_state(&dir, "MASTER", &daemons);
    await_holder(&lab, "lb1", "address back", &daemons);
}

/// Takes lb1's source address away while lb1 is master, and waits longer than the backup's
/// master down interval (3 adverts and a skew): lb1 must still be the only holder, so it
/// went on advertising from the vanished address.
fn lb1_keeps_the_vip_without_its_source_address(
    lab: &baton_lab::Lab,
    daemons: &[&Daemon],
    failure: &str,
) {
    await_holder(lab, "lb1", "lb1 master", daemons);
    source_address(lab.host("lb1"), "del");
    std::thread::sleep(Duration::from_secs(5));
    let holders: Vec<&str> = ["lb1", "lb2"]
        .into_iter()
        .filter(|h| holds(lab.host(h), VIP))
        .collect();
    if holders != ["lb1"] {
        fail(&format!("{failure} (holders {holders:?})"), daemons);
    }
}

/// keepalived 2.2.7 with the same file does not go to FAULT: the compatibility note says
/// baton differs from it here, and this is the measurement behind that sentence.
#[test]
fn keepalived_2_2_7_stays_master_when_its_source_address_goes() {
    let test = "keepalived_2_2_7_stays_master_when_its_source_address_goes";
    let Some(lab) = lab_for(test) else { return };
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    let dir = Workdir::new("src-ip-keepalived");
    source_address(lb1, "add");
    let keepalived = start_keepalived(lb1, &dir, &conf("lb1", "    track_src_ip\n"));
    let baton = start_baton(lb2, &dir, &conf("lb2", ""));
    let daemons = [&keepalived, &baton];
    lb1_keeps_the_vip_without_its_source_address(
        &lab,
        &daemons,
        "keepalived 2.2.7 now acts on track_src_ip: update the track_src_ip note",
    );
    if keepalived.log_text().contains("Entering FAULT STATE") {
        fail("keepalived 2.2.7 went to FAULT", &daemons);
    }
}

/// Without track_src_ip a baton master whose source address goes keeps advertising from
/// it, as keepalived does (its VRRP socket may send from an address the host no longer
/// has): otherwise the kernel refuses the adverts, the backup takes over, and both hold
/// the VIP.
#[test]
fn baton_without_track_src_ip_keeps_advertising_when_its_source_address_goes() {
    let test = "baton_without_track_src_ip_keeps_advertising_when_its_source_address_goes";
    let Some(lab) = lab_for(test) else { return };
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    let dir = Workdir::new("src-ip-untracked");
    source_address(lb1, "add");
    let baton = start_baton(lb1, &dir, &conf("lb1", ""));
    let keepalived = start_keepalived(lb2, &dir, &conf("lb2", ""));
    let daemons = [&baton, &keepalived];
    lb1_keeps_the_vip_without_its_source_address(
        &lab,
        &daemons,
        "baton stopped advertising when its source address went",
    );
    if baton.log_text().contains("sending advertisement") {
        fail(
            "baton's adverts failed after its source address went",
            &daemons,
        );
    }
}

/// What keepalived 2.2.7 accepts without an interface: nothing. Both refuse the file.
#[test]
fn an_instance_without_an_interface_is_refused_by_both() {
    let test = "an_instance_without_an_interface_is_refused_by_both";
    let Some(lab) = lab_for(test) else { return };
    let lb1 = lab.host("lb1");
    let dir = Workdir::new("no-interface");
    let conf = format!(
        "vrrp_instance VI_1 {{\n    virtual_router_id 51\n    priority 150\n    \
         unicast_src_ip 10.0.3.5\n    unicast_peer {{\n        10.0.3.6\n    }}\n    \
         virtual_ipaddress {{\n        {VIP} dev eth0\n    }}\n}}\n"
    );
    let mut keepalived = start_keepalived(lb1, &dir, &conf);
    let exited = keepalived.child.wait_timeout(Duration::from_secs(15));
    if !matches!(exited, Ok(Some(_))) {
        fail(
            "keepalived ran an instance without an interface",
            &[&keepalived],
        );
    }
    if !keepalived.log_text().contains("(VI_1) Unknown interface!") {
        fail("keepalived's refusal changed", &[&keepalived]);
    }

    let mut baton = start_baton(lb1, &dir, &conf);
    let exited = baton.child.wait_timeout(Duration::from_secs(15));
    match exited {
        Ok(Some(status)) if !status.success() => {}
        other => fail(&format!("baton run: {other:?}"), &[&baton]),
    }
    let expected = format!(
        "{}:1: instance VI_1: no interface",
        dir.path("lb1.conf").display()
    );
    if !baton.log_text().contains(&expected) {
        fail(
            &format!("baton's refusal does not say {expected:?}"),
            &[&baton],
        );
    }
    assert!(!holds(lb1, VIP), "the VIP went on lb1");
}
