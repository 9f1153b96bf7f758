//! keepalived's `vrrp_track_process` on the lab: a `sleep` with a number no other process
//! has, started and killed by the test inside lb2's namespace, puts baton's instance in
//! FAULT (weight 0) or lowers its priority below lb1's (weight -20), and back.
//!
//! keepalived 2.2.7 runs the same file beside it, but the kernel's process events connector
//! exists only in the initial network namespace: keepalived inside a lab namespace is
//! refused the subscription (errno 111) and stays in FAULT even while the process runs,
//! which the last test pins down. baton makes its connector socket in the initial
//! namespace (it runs as root here), so the figures printed are baton's; keepalived's
//! path is the same (it acts on the exit event at once, with no delay configured).

mod common;

use std::time::{Duration, Instant};

use baton_lab::{Child, Host};
use common::{
    Daemon, VIP, Workdir, fail, guide_lab, holds, keepalived_conf, skip_without_tool, start_baton,
    start_keepalived, wait_for,
};

/// A number of seconds for `sleep` that no other run uses.
fn marker() -> String {
    format!("{}", 7_000_000 + std::process::id())
}

/// The file both daemons run: `tracks` (the instance's track_process block) of the
/// guide's VRRPv3 instance, and the tracked process block.
fn conf(host: &str, priority: u8, weight: i32, marker: &str, tracked: bool) -> String {
    let track = if tracked {
        "    track_process {\n        chk_sleep\n    }\n"
    } else {
        ""
    };
    format!(
        "vrrp_track_process chk_sleep {{\n    process sleep {marker}\n    weight {weight}\n}}\n{}",
        keepalived_conf(host, 3, priority, "0.1", track)
    )
}

fn start_sleep(host: &Host, marker: &str) -> Child {
    let mut command = host.command("sleep");
    command.arg(marker);
    host.spawn(command).expect("starting sleep")
}

fn kill(mut sleep: Child) -> Instant {
    let at = Instant::now();
    let child = sleep.inner_mut();
    child.kill().expect("kill sleep");
    let _ = child.wait();
    at
}

/// Waits `within` for `condition`; the time from `since`, or a failure with the logs.
fn settle(
    what: &str,
    since: Instant,
    within: Duration,
    daemons: &[&Daemon],
    mut condition: impl FnMut() -> bool,
) -> Duration {
    if wait_for(within, &mut condition).is_none() {
        fail(&format!("{what} did not happen within {within:?}"), daemons);
    }
    since.elapsed()
}

fn state(dir: &Workdir, host: &str) -> String {
    let status = common::chaos::status(&dir.path(&format!("{host}.sock")));
    status["vrrp"][0]["state"]
        .as_str()
        .unwrap_or("?")
        .to_owned()
}

#[test]
fn a_killed_process_puts_the_instance_in_fault_and_its_return_lifts_it() {
    let Some(lab) = guide_lab("track_process fault") else {
        return;
    };
    let dir = Workdir::new("track-process-fault");
    let marker = marker();
    let lb2 = lab.host("lb2");
    let sleep = start_sleep(lb2, &marker);
    let daemon = start_baton(lb2, &dir, &conf("lb2", 150, 0, &marker, true));
    let started = Instant::now();
    settle(
        "lb2 becoming master",
        started,
        Duration::from_secs(15),
        &[&daemon],
        || holds(lb2, VIP),
    );

    let killed = kill(sleep);
    let to_fault = settle(
        "FAULT after the kill",
        killed,
        Duration::from_secs(10),
        &[&daemon],
        || !holds(lb2, VIP),
    );
    let fault = state(&dir, "lb2");
    if fault != "FAULT" {
        fail(
            &format!("lb2 is {fault} after the kill, not FAULT"),
            &[&daemon],
        );
    }
    if !daemon
        .log_text()
        .contains("Quorum lost for tracked process chk_sleep")
    {
        fail("no 'Quorum lost' line in the log", &[&daemon]);
    }

    let restarted = Instant::now();
    let _sleep = start_sleep(lb2, &marker);
    let to_master = settle(
        "MASTER after the restart",
        restarted,
        Duration::from_secs(10),
        &[&daemon],
        || holds(lb2, VIP),
    );
    let source = if daemon
        .log_text()
        .contains("following the kernel's process events")
    {
        "process events connector"
    } else {
        "/proc read every second (no connector)"
    };
    eprintln!(
        "track_process (baton, weight 0, {source}): kill -> VIP removed (FAULT) in \
         {to_fault:?}; restart -> VIP back (MASTER, after the down timer of 3 x 0.1 s) in \
         {to_master:?}"
    );
}

#[test]
fn a_weighted_process_hands_the_vip_to_the_peer_and_takes_it_back() {
    let Some(lab) = guide_lab("track_process weight") else {
        return;
    };
    let dir = Workdir::new("track-process-weight");
    let marker = marker();
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    let sleep = start_sleep(lb2, &marker);
    let backup = start_baton(lb1, &dir, &conf("lb1", 140, -20, &marker, false));
    let master = start_baton(lb2, &dir, &conf("lb2", 150, -20, &marker, true));
    let daemons = [&master, &backup];
    let started = Instant::now();
    settle(
        "lb2 becoming master",
        started,
        Duration::from_secs(15),
        &daemons,
        || holds(lb2, VIP) && !holds(lb1, VIP),
    );

    let killed = kill(sleep);
    let to_peer = settle(
        "lb1 taking the VIP",
        killed,
        Duration::from_secs(10),
        &daemons,
        || holds(lb1, VIP) && !holds(lb2, VIP),
    );
    if !master.log_text().contains("effective priority 150 -> 130") {
        fail("lb2's priority did not go from 150 to 130", &daemons);
    }
    let restarted = Instant::now();
    let _sleep = start_sleep(lb2, &marker);
    let to_back = settle(
        "lb2 taking the VIP back",
        restarted,
        Duration::from_secs(10),
        &daemons,
        || holds(lb2, VIP) && !holds(lb1, VIP),
    );
    eprintln!(
        "track_process (baton, weight -20): kill -> priority 130, VIP on the peer in \
         {to_peer:?}; restart -> priority 150, VIP back in {to_back:?}"
    );
}

#[test]
fn keepalived_inside_a_namespace_cannot_subscribe_and_stays_in_fault() {
    let test = "track_process keepalived";
    if skip_without_tool("keepalived", "keepalived", test) {
        return;
    }
    let Some(lab) = guide_lab(test) else {
        return;
    };
    let dir = Workdir::new("track-process-keepalived");
    let marker = marker();
    let lb2 = lab.host("lb2");
    let _sleep = start_sleep(lb2, &marker);
    let daemon = start_keepalived(lb2, &dir, &conf("lb2", 150, 0, &marker, true));
    let refused = wait_for(Duration::from_secs(10), || {
        daemon.log_text().contains("quorum not achieved")
    });
    if refused.is_none() {
        fail("keepalived did not report the process quorum", &[&daemon]);
    }
    // Three seconds is 30 advert intervals: a master would long have taken the VIP.
    std::thread::sleep(Duration::from_secs(3));
    let log = daemon.log_text();
    if holds(lb2, VIP) || !log.contains("errno 111") {
        fail(
            "keepalived 2.2.7 tracked the process from inside a network namespace; \
             the comparison in this file's header no longer holds",
            &[&daemon],
        );
    }
    eprintln!(
        "track_process (keepalived 2.2.7 in a network namespace): subscription refused \
         (errno 111), FAULT while the process runs; baton makes its socket in the initial \
         namespace instead"
    );
}
