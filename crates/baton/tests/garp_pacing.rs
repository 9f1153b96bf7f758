//! keepalived's vrrp_garp_interval on the wire: the same keepalived.conf run by baton and by
//! Debian's keepalived 2.2.7, the gratuitous ARPs of the new master captured at the lab's
//! switch. With `vrrp_garp_interval 0.3`, `garp_master_repeat 3` and two addresses, both
//! send the first address twice and the second once (repeats already waiting merge), each
//! at least the interval after the one before; without the setting, 3 x 2 go back to back.
//! The same with the interval set for eth0 by a `garp_group` instead.

mod common;

use std::process::Stdio;
use std::time::Duration;

use baton_lab::Lab;
use common::{
    Daemon, Workdir, fail, guide_lab, holds, skip_without_tcpdump, skip_without_tool, start_baton,
    start_keepalived, wait_for,
};

const INTERVAL: f64 = 0.3;
const REPEAT: usize = 3;

/// The pacing set globally, or by a garp_group for eth0.
#[derive(Clone, Copy, Debug)]
enum Pacing {
    Global,
    GarpGroup,
}

fn conf(pacing: Pacing) -> String {
    let (global, group) = match pacing {
        Pacing::Global => (
            format!("    vrrp_garp_interval {INTERVAL}\n"),
            String::new(),
        ),
        Pacing::GarpGroup => (
            String::new(),
            format!("garp_group {{\n    garp_interval {INTERVAL}\n    interface eth0\n}}\n"),
        ),
    };
    format!(
        "global_defs {{\n    router_id lb1\n{global}}}\n{group}\
         vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    \
         priority 150\n    advert_int 1\n    garp_master_repeat {REPEAT}\n    garp_master_delay 0\n    \
         virtual_ipaddress {{\n        10.0.3.100/24\n        10.0.3.101/24\n    }}\n}}\n"
    )
}

/// The capture times, in seconds, of the gratuitous ARPs for the VIP in tcpdump's `-tt`
/// text.
fn garp_times(text: &str) -> Vec<(f64, String)> {
    text.lines()
        .filter(|l| l.contains("ARP") && l.contains("10.0.3.10"))
        .filter_map(|l| {
            let time = l.split_whitespace().next()?.parse().ok()?;
            let vip = l.split_whitespace().find(|w| w.starts_with("10.0.3.10"))?;
            Some((time, vip.trim_end_matches(',').to_owned()))
        })
        .collect()
}

fn run(lab: &Lab, kind: &str, pacing: Pacing) {
    let kind = &format!("{kind} ({pacing:?})");
    let dir = Workdir::new("garp");
    let capture = dir.path("arp.txt");
    let mut command = lab.switch_command("tcpdump");
    command
        .args(["-i", lab.bridge(), "-n", "-l", "-tt", "arp"])
        .stdout(Stdio::from(
            std::fs::File::create(&capture).expect("capture file"),
        ))
        .stderr(Stdio::null());
    let _tcpdump = lab.host("client").spawn(command).expect("starting tcpdump");
    // tcpdump says nothing on stdout until a packet comes: give it time to listen.
    std::thread::sleep(Duration::from_secs(1));
    let lb1 = lab.host("lb1");
    let daemon: Daemon = if kind.starts_with("baton") {
        start_baton(lb1, &dir, &conf(pacing))
    } else {
        start_keepalived(lb1, &dir, &conf(pacing))
    };
    if wait_for(Duration::from_secs(20), || holds(lb1, "10.0.3.100/24")).is_none() {
        fail(&format!("{kind} never took the VIP"), &[&daemon]);
    }
    let read = || garp_times(&std::fs::read_to_string(&capture).unwrap_or_default());
    if wait_for(Duration::from_secs(10), || read().len() >= 3).is_none() {
        fail(
            &format!("{kind}: fewer than 3 gratuitous ARPs: {:?}", read()),
            &[&daemon],
        );
    }
    // Anything more (there should be nothing) would come within a few intervals.
    std::thread::sleep(Duration::from_secs(2));
    let times = read();
    let order: Vec<&str> = times.iter().map(|(_, vip)| vip.as_str()).collect();
    // keepalived's queue: the first address at once and again, then the other one.
    if order != ["10.0.3.100", "10.0.3.100", "10.0.3.101"] {
        fail(&format!("{kind}: gratuitous ARPs {times:?}"), &[&daemon]);
    }
    for pair in times.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        // A lower bound only: the sender waits at least the interval between messages.
        assert!(
            gap >= INTERVAL * 0.8,
            "{kind}: gratuitous ARPs {gap:.6} s apart, less than vrrp_garp_interval {INTERVAL}: {times:?}"
        );
    }
}

#[test]
fn garp_interval_spaces_the_announcements_as_keepalived_does() {
    let test = "garp_interval_spaces_the_announcements_as_keepalived_does";
    if skip_without_tcpdump(test) {
        return;
    }
    for pacing in [Pacing::Global, Pacing::GarpGroup] {
        for kind in ["baton", "keepalived"] {
            if kind == "keepalived" && skip_without_tool("keepalived", "keepalived", test) {
                continue;
            }
            let Some(lab) = guide_lab(test) else {
                return;
            };
            run(&lab, kind, pacing);
        }
    }
}
