//! Two baton nodes on the guide's lab (real kernel, raw sockets, netlink): election,
//! failover on a cut link, preemption, SIGTERM hand-over, kill -9 and restart.
//! VRRPv3 with a 100 ms interval keeps the test short; every bound is the RFC's own plus
//! 100 ms of slack for process scheduling on a shared machine.

mod common;

use std::time::Duration;

use common::{
    Daemon, VIP, Workdir, assert_holders, fail, guide_lab, holds, keepalived_conf, start_baton,
    wait_for,
};

const INTERVAL: Duration = Duration::from_millis(100);
const SLACK: Duration = Duration::from_millis(100);

fn master_down(priority: u32) -> Duration {
    INTERVAL * 3 + INTERVAL * (256 - priority) / 256
}

fn skew(priority: u32) -> Duration {
    INTERVAL * (256 - priority) / 256
}

/// lb1 (priority 100) and lb2 (priority 150), VRRPv3 every 0.1 s, settled with lb2 master:
/// (backup on lb1, master on lb2).
fn settled_pair(lab: &baton_lab::Lab, dir: &Workdir) -> (Daemon, Daemon) {
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    let backup = start_baton(lb1, dir, &keepalived_conf("lb1", 3, 100, "0.1", ""));
    let master = start_baton(lb2, dir, &keepalived_conf("lb2", 3, 150, "0.1", ""));
    if wait_for(Duration::from_secs(10), || holds(lb2, VIP)).is_none() {
        fail("lb2 (priority 150) never took the VIP", &[&backup, &master]);
    }
    std::thread::sleep(INTERVAL * 5);
    (backup, master)
}

#[test]
fn higher_priority_wins_then_a_cut_link_fails_over_and_preempts_back() {
    let Some(lab) = guide_lab("failover") else {
        return;
    };
    let dir = Workdir::new("failover");
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    let (backup, master) = settled_pair(&lab, &dir);
    let daemons = [&backup, &master];
    assert_holders(&lab, &["lb2"], &daemons);

    lb2.cut_link().expect("cut");
    let Some(took) = wait_for(Duration::from_secs(5), || holds(lb1, VIP)) else {
        fail("lb1 never took over after the cut", &daemons)
    };
    if took > master_down(100) + SLACK {
        fail(
            &format!("takeover after {took:?}, beyond Master_Down_Interval + 100 ms"),
            &daemons,
        );
    }

    lb2.restore_link().expect("restore");
    // lb2 discards lb1's lower-priority adverts and preempts after its own Master_Down_Interval.
    let Some(back) = wait_for(Duration::from_secs(5), || !holds(lb1, VIP)) else {
        fail("lb1 kept the VIP after lb2 came back", &daemons)
    };
    if back > master_down(150) + INTERVAL + SLACK {
        fail(&format!("preempted back after {back:?}"), &daemons);
    }
    std::thread::sleep(INTERVAL * 5);
    assert_holders(&lab, &["lb2"], &daemons);
}

#[test]
fn nopreempt_keeps_the_new_master_after_the_link_returns() {
    let Some(lab) = guide_lab("nopreempt") else {
        return;
    };
    let dir = Workdir::new("nopreempt");
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    // With nopreempt, whoever's Master_Down_Interval ends first keeps the VIP, and the two
    // differ by 20 ms: lb2 starts alone so that the test begins from a known master.
    let master = start_baton(
        lb2,
        &dir,
        &keepalived_conf("lb2", 3, 150, "0.1", "    nopreempt\n"),
    );
    if wait_for(Duration::from_secs(10), || holds(lb2, VIP)).is_none() {
        fail("lb2 never took the VIP", &[&master]);
    }
    let backup = start_baton(
        lb1,
        &dir,
        &keepalived_conf("lb1", 3, 100, "0.1", "    nopreempt\n"),
    );
    let daemons = [&backup, &master];
    std::thread::sleep(INTERVAL * 5);
    assert_holders(&lab, &["lb2"], &daemons);
    lb2.cut_link().expect("cut");
    if wait_for(Duration::from_secs(5), || holds(lb1, VIP)).is_none() {
        fail("lb1 never took over", &daemons);
    }
    lb2.restore_link().expect("restore");
    std::thread::sleep(Duration::from_secs(2));
    assert_holders(&lab, &["lb1"], &daemons);
}

#[test]
fn sigterm_hands_over_within_skew_time() {
    let Some(lab) = guide_lab("sigterm") else {
        return;
    };
    let dir = Workdir::new("sigterm");
    let lb1 = lab.host("lb1");
    let (backup, mut master) = settled_pair(&lab, &dir);
    let stopped_at = std::time::Instant::now();
    master.child.terminate();
    let took = wait_for(Duration::from_secs(5), || holds(lb1, VIP)).map(|_| stopped_at.elapsed());
    let daemons = [&backup, &master];
    match took {
        None => fail("lb1 never took over after SIGTERM", &daemons),
        Some(took) if took > skew(100) + SLACK => fail(
            &format!("takeover {took:?} after SIGTERM, beyond Skew_Time + 100 ms"),
            &daemons,
        ),
        Some(_) => {}
    }
    // The stopped master removed its VIP.
    assert_holders(&lab, &["lb1"], &daemons);
}

#[test]
fn killed_and_restarted_master_leaves_exactly_one_holder() {
    let Some(lab) = guide_lab("kill9") else {
        return;
    };
    let dir = Workdir::new("kill9");
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    let conf2 = keepalived_conf("lb2", 3, 150, "0.1", "");
    let backup = start_baton(lb1, &dir, &keepalived_conf("lb1", 3, 100, "0.1", ""));
    let mut master = start_baton(lb2, &dir, &conf2);
    if wait_for(Duration::from_secs(10), || holds(lb2, VIP)).is_none() {
        fail("lb2 never took the VIP", &[&backup, &master]);
    }
    master.child.kill();
    if wait_for(Duration::from_secs(5), || holds(lb1, VIP)).is_none() {
        fail("lb1 never took over after kill -9", &[&backup, &master]);
    }
    // kill -9 left lb2's VIP behind; the new process must clear it before anything else.
    assert!(
        holds(lb2, VIP),
        "the VIP should still be on lb2 after kill -9"
    );
    let restarted = start_baton(lb2, &dir, &conf2);
    let daemons = [&backup, &restarted];
    if wait_for(Duration::from_secs(5), || !holds(lb1, VIP)).is_none() {
        fail("the restarted lb2 never preempted", &daemons);
    }
    std::thread::sleep(INTERVAL * 10);
    assert_holders(&lab, &["lb2"], &daemons);
    if !restarted.log_text().contains("left over") {
        fail(
            "the restarted daemon did not report removing the leftover VIP",
            &daemons,
        );
    }
}

/// `baton instance ...` against the daemon in `host`; its stdout.
fn instance_command(host: &baton_lab::Host, dir: &Workdir, action: &str) -> String {
    let socket = dir.path(&format!("{}.sock", host.name()));
    host.run(
        env!("CARGO_BIN_EXE_baton"),
        &[
            "instance",
            action,
            "VI_1",
            "--control",
            socket.to_str().expect("utf-8"),
        ],
    )
    .unwrap_or_else(|error| panic!("baton instance {action}: {error}"))
}

#[test]
fn step_down_moves_the_vip_away_and_resume_brings_it_back() {
    let Some(lab) = guide_lab("step-down") else {
        return;
    };
    let dir = Workdir::new("step-down");
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    let (backup, master) = settled_pair(&lab, &dir);
    let daemons = [&backup, &master];

    let stepped_at = std::time::Instant::now();
    let out = instance_command(lb2, &dir, "step-down");
    assert!(out.contains("VI_1: BACKUP, stepped down"), "{out}");
    let took = wait_for(Duration::from_secs(5), || holds(lb1, VIP)).map(|_| stepped_at.elapsed());
    match took {
        // The priority-0 advert: lb1 waits Skew_Time, not Master_Down_Interval.
        Some(took) if took <= skew(100) + SLACK * 2 => {}
        Some(took) => fail(&format!("lb1 took over after {took:?}"), &daemons),
        None => fail("lb1 never took over after the step-down", &daemons),
    }
    // lb2 has the higher priority and preempt, yet stays backup while stepped down.
    std::thread::sleep(master_down(150) * 5);
    assert_holders(&lab, &["lb1"], &daemons);

    let resumed_at = std::time::Instant::now();
    let out = instance_command(lb2, &dir, "resume");
    assert!(
        out.contains("VI_1: BACKUP") && !out.contains("stepped down"),
        "{out}"
    );
    let back = wait_for(Duration::from_secs(5), || holds(lb2, VIP)).map(|_| resumed_at.elapsed());
    match back {
        Some(back) if back <= master_down(150) + SLACK * 2 => {}
        Some(back) => fail(&format!("lb2 preempted back after {back:?}"), &daemons),
        None => fail("lb2 never came back after resume", &daemons),
    }
    std::thread::sleep(INTERVAL * 5);
    assert_holders(&lab, &["lb2"], &daemons);
}
