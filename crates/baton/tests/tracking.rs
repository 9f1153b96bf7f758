//! Track scripts on the lab: a failing script lowers the master's priority and moves the
//! VIP; a hanging one is killed at its timeout and counts as failed.

mod common;

use std::time::Duration;

use common::{VIP, Workdir, fail, guide_lab, holds, keepalived_conf, start_baton, wait_for};

fn with_script(router_id: &str, priority: u8, script: &str, timeout: u32) -> String {
    let script_block = format!(
        "vrrp_script chk {{\n    script \"{script}\"\n    interval 1\n    timeout {timeout}\n    weight -100\n    fall 1\n    rise 1\n}}\n"
    );
    let track = "    track_script {\n        chk\n    }\n";
    format!(
        "{script_block}{}",
        keepalived_conf(router_id, 3, priority, "0.1", track)
    )
}

#[test]
fn failing_track_script_moves_the_vip_and_recovering_moves_it_back() {
    let Some(lab) = guide_lab("track script") else {
        return;
    };
    let dir = Workdir::new("track");
    let flag = dir.path("fail");
    let script = format!("/bin/sh -c 'test ! -e {}'", flag.display());
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    let master = start_baton(lb1, &dir, &with_script("lb1", 150, &script, 1));
    let backup = start_baton(lb2, &dir, &keepalived_conf("lb2", 3, 100, "0.1", ""));
    let daemons = [&master, &backup];
    if wait_for(Duration::from_secs(10), || holds(lb1, VIP)).is_none() {
        fail("lb1 never became master", &daemons);
    }
    std::fs::write(&flag, "").expect("flag");
    if wait_for(Duration::from_secs(5), || {
        holds(lb2, VIP) && !holds(lb1, VIP)
    })
    .is_none()
    {
        fail(
            "a failing script (150 - 100 = 50 < 100) did not move the VIP to lb2",
            &daemons,
        );
    }
    std::fs::remove_file(&flag).expect("flag");
    if wait_for(Duration::from_secs(5), || {
        holds(lb1, VIP) && !holds(lb2, VIP)
    })
    .is_none()
    {
        fail(
            "the VIP did not come back when the script recovered",
            &daemons,
        );
    }
}

#[test]
fn hanging_track_script_is_killed_and_counts_as_failed() {
    let Some(lab) = guide_lab("hanging script") else {
        return;
    };
    let dir = Workdir::new("hang");
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    let master = start_baton(lb1, &dir, &with_script("lb1", 150, "/bin/sleep 30", 1));
    let backup = start_baton(lb2, &dir, &keepalived_conf("lb2", 3, 100, "0.1", ""));
    let daemons = [&master, &backup];
    // The script starts "up" (no init_fail) and times out after 1 s: the VIP ends on lb2.
    if wait_for(Duration::from_secs(10), || {
        holds(lb2, VIP) && !holds(lb1, VIP)
    })
    .is_none()
    {
        fail("a hanging script did not count as failed", &daemons);
    }
    if !master.log_text().contains("timed out and was killed") {
        fail("the hanging script was not reported killed", &daemons);
    }
    // Only lb1's own: a network namespace does not hide other processes from pgrep, and
    // other tests (or anything else on the machine) may run `sleep` too.
    let sleeping = lb1
        .processes()
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
        })
        .count();
    if sleeping > 1 {
        fail(
            &format!("killed scripts pile up: {sleeping} sleep processes"),
            &daemons,
        );
    }
}
