//! A backup that is not scheduled for longer than Master_Down_Interval while the master
//! keeps advertising (issue 13, item 5: on a loaded machine baton's backups flapped to
//! master 1,300-1,600 times in 10 s; keepalived held). Frozen with SIGSTOP for
//! [`FROZEN`], it wakes with its protocol timer expired and the master's adverts of the
//! whole pause queued on its socket. Those adverts say the master was alive all along: the
//! backup must read them before it acts on its timer, and stay backup.
//!
//! VRRPv3 every 10 ms on the guide's lab: lb2 (priority 150) is the master, lb1 (100) the
//! backup, whose Master_Down_Interval is 36 ms. What is asserted is read off the wire: no
//! advert from lb1 within 20 ms of a SIGCONT in a capture at the switch (a takeover the
//! freeze caused comes as the backup wakes; later ones are the loaded machine's and only
//! printed, with lb1's transitions from `baton status --json`). keepalived as the backup is
//! the reference, and holds the same way (asserted too: it is what baton is held to).
//! Before the fix baton's backup took over at every freeze, 0.2-0.4 ms after the SIGCONT.
//!
//! Also here: a master silent through the backup's freeze (taken over from as the backup
//! wakes), and a frozen master (the VIP taken back); both printed beside keepalived.

mod common;

use std::time::Duration;

use baton_lab::{Host, Lab};
use common::pcap::Capture;
use common::{
    Daemon, Kind, VIP, Workdir, assert_holders, fail, guide_lab, holds, keepalived_conf,
    skip_without_tcpdump, skip_without_tool, status_of, wait_for,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Well over lb1's Master_Down_Interval (36 ms), as the loaded machine's stalls were.
const FROZEN: Duration = Duration::from_millis(150);
/// Freezes per run: one may by chance end just as an advert is due; ten in a row may not.
const FREEZES: usize = 10;
const BETWEEN: Duration = Duration::from_millis(200);
const LB1: &str = "10.0.3.5";
/// An advert from lb1 this soon after a SIGCONT is a takeover the freeze caused: the last
/// of the master's queued adverts arrived at most an interval before, so its
/// Master_Down_Timer has at least 26 ms to go.
const WAKE_WINDOW_MICROS: u64 = 20_000;

/// The pid that runs the VRRP protocol: baton's own; keepalived's VRRP child, from the pid
/// file [`common::start_keepalived`] names.
fn protocol_pid(kind: Kind, daemon: &Daemon, dir: &Workdir, host: &Host) -> Pid {
    let pid = match kind {
        Kind::Baton => daemon.child.id(),
        Kind::Keepalived => {
            let file = dir.path(&format!("{}-vrrp.pid", host.name()));
            let read = || std::fs::read_to_string(&file).ok()?.trim().parse().ok();
            if wait_for(Duration::from_secs(5), || read().is_some()).is_none() {
                fail("keepalived wrote no VRRP pid file", &[daemon]);
            }
            read().expect("pid")
        }
    };
    Pid::from_raw(i32::try_from(pid).expect("pid"))
}

/// Microseconds since the epoch, as the capture's timestamps.
fn micros_now() -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock");
    u64::try_from(since.as_micros()).expect("micros")
}

/// Freezes `pid` [`FREEZES`] times for [`FROZEN`], [`BETWEEN`] apart; when each SIGCONT
/// was sent (microseconds since the epoch).
fn freeze_again_and_again(pid: Pid) -> Vec<u64> {
    let mut woken = Vec::new();
    for _ in 0..FREEZES {
        kill(pid, Signal::SIGSTOP).expect("SIGSTOP");
        std::thread::sleep(FROZEN);
        woken.push(micros_now());
        kill(pid, Signal::SIGCONT).expect("SIGCONT");
        std::thread::sleep(BETWEEN);
    }
    woken
}

/// lb1's transitions so far (`baton status`); None for keepalived.
fn transitions(kind: Kind, host: &Host, dir: &Workdir) -> Option<u64> {
    (kind == Kind::Baton).then(|| {
        status_of(host, dir)["vrrp"][0]["transitions"]
            .as_u64()
            .expect("transitions")
    })
}

/// The guide's lab for `test` with lb2 (`master`, priority 150) holding the VIP and lb1
/// (`backup`, 100) started after it, VRRPv3 every 10 ms; None (after a loud SKIPPED line)
/// without namespaces, tcpdump or keepalived.
fn lab_with_pair(test: &str, backup: Kind, master: Kind) -> Option<(Lab, Workdir, [Daemon; 2])> {
    let uses_keepalived = backup == Kind::Keepalived || master == Kind::Keepalived;
    if uses_keepalived && skip_without_tool("keepalived", "keepalived", test) {
        return None;
    }
    if skip_without_tcpdump(test) {
        return None;
    }
    let lab = guide_lab(test)?;
    let dir = Workdir::new("stalled-backup");
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    let master_daemon = master.start(lb2, &dir, &keepalived_conf("lb2", 3, 150, "0.01", ""));
    if wait_for(Duration::from_secs(10), || holds(lb2, VIP)).is_none() {
        fail("lb2 (priority 150) never took the VIP", &[&master_daemon]);
    }
    let backup_daemon = backup.start(lb1, &dir, &keepalived_conf("lb1", 3, 100, "0.01", ""));
    Some((lab, dir, [backup_daemon, master_daemon]))
}

/// Freezes lb1 (`backup`) [`FREEZES`] times for [`FROZEN`] with lb2 (`master`) advertising
/// every 10 ms, and checks that lb1 never took over.
fn frozen_backup_stays_backup(test: &str, backup: Kind, master: Kind) {
    let Some((lab, dir, [backup_daemon, master_daemon])) = lab_with_pair(test, backup, master)
    else {
        return;
    };
    let lb1 = lab.host("lb1");
    let daemons = [&backup_daemon, &master_daemon];
    // Started: baton answers its status; keepalived wrote its VRRP child's pid.
    let pid = protocol_pid(backup, &backup_daemon, &dir, lb1);
    if backup == Kind::Baton
        && wait_for(Duration::from_secs(10), || {
            lb1.run(
                env!("CARGO_BIN_EXE_baton"),
                &[
                    "status",
                    "--json",
                    "--control",
                    dir.path("lb1.sock").to_str().expect("utf-8"),
                ],
            )
            .is_ok_and(|out| out.contains("\"BACKUP\""))
        })
        .is_none()
    {
        fail("lb1 never became backup", &daemons);
    }
    std::thread::sleep(Duration::from_secs(1));
    assert_holders(&lab, &["lb2"], &daemons);

    let capture = Capture::start(&lab, &dir, "lb1", &format!("ip proto 112 and src {LB1}"));
    let before = transitions(backup, lb1, &dir);
    let woken = freeze_again_and_again(pid);
    std::thread::sleep(Duration::from_millis(300));
    let frames = capture.frames();
    let sent = frames.len();
    let after = transitions(backup, lb1, &dir);
    // When each of lb1's adverts went out, after the SIGCONT before it: at once means the
    // freeze made it take over; anywhere else, the loaded machine did.
    let after_wake: Vec<String> = frames
        .iter()
        .map(|frame| {
            woken
                .iter()
                .rev()
                .find(|&&at| at <= frame.at)
                .map_or("before the first".to_owned(), |&at| {
                    format!("{:.1} ms", (frame.at - at) as f64 / 1000.0)
                })
        })
        .collect();
    println!(
        "{test}: {FREEZES} freezes of {FROZEN:?}: {sent} adverts from lb1 on the wire \
         (after a SIGCONT by {after_wake:?}), transitions {before:?} -> {after:?}"
    );
    // A takeover the freeze caused comes as the backup wakes; later ones are the loaded
    // machine's (its master not scheduled for Master_Down_Interval), printed only.
    let at_wake = frames
        .iter()
        .filter(|frame| {
            woken
                .iter()
                .any(|&at| frame.at >= at && frame.at - at <= WAKE_WINDOW_MICROS)
        })
        .count();
    if at_wake != 0 {
        fail(
            &format!(
                "lb1 ({backup:?}) took over as it woke with the master's adverts queued: \
                 {at_wake} of its {sent} adverts on the wire within {WAKE_WINDOW_MICROS} µs \
                 of a SIGCONT, transitions {before:?} -> {after:?}"
            ),
            &daemons,
        );
    }
    if wait_for(Duration::from_secs(2), || !holds(lb1, VIP)).is_none() {
        assert_holders(&lab, &["lb2"], &daemons);
    }
}

/// The other half: the master falls silent (SIGSTOP) while the backup is frozen, so the
/// backup wakes with only adverts older than Master_Down_Interval queued. Counted from
/// when they arrived, they say the master is down: baton takes over as it wakes; counted
/// from when they are read (keepalived), one Master_Down_Interval later. Printed, not
/// asserted (a time); asserted is that the backup takes over at all.
fn backup_wakes_after_the_master_fell_silent(test: &str, kind: Kind) {
    let Some((lab, dir, [backup_daemon, master_daemon])) = lab_with_pair(test, kind, kind) else {
        return;
    };
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    let daemons = [&backup_daemon, &master_daemon];
    let backup_pid = protocol_pid(kind, &backup_daemon, &dir, lb1);
    let master_pid = protocol_pid(kind, &master_daemon, &dir, lb2);
    std::thread::sleep(Duration::from_secs(2));
    assert_holders(&lab, &["lb2"], &daemons);
    let capture = Capture::start(&lab, &dir, "lb1", &format!("ip proto 112 and src {LB1}"));
    kill(backup_pid, Signal::SIGSTOP).expect("SIGSTOP");
    std::thread::sleep(Duration::from_millis(20));
    kill(master_pid, Signal::SIGSTOP).expect("SIGSTOP");
    std::thread::sleep(FROZEN);
    let woke = micros_now();
    kill(backup_pid, Signal::SIGCONT).expect("SIGCONT");
    let took = wait_for(Duration::from_secs(2), || !capture.frames().is_empty());
    kill(master_pid, Signal::SIGCONT).expect("SIGCONT");
    let Some(_) = took else {
        fail("lb1 never took over from a silent master", &daemons);
    };
    let first = capture.frames()[0].at;
    println!(
        "{test}: the backup's first advert {:.1} ms after it woke (Master_Down_Interval 36 ms)",
        first.saturating_sub(woke) as f64 / 1000.0
    );
}

#[test]
fn frozen_baton_backup_reads_the_queued_adverts_before_its_timer() {
    frozen_backup_stays_backup("stalled baton backup", Kind::Baton, Kind::Baton);
}

#[test]
fn frozen_baton_backup_of_a_keepalived_master_stays_backup() {
    frozen_backup_stays_backup(
        "stalled baton backup, keepalived master",
        Kind::Baton,
        Kind::Keepalived,
    );
}

/// The reference: keepalived's scheduler hands a readable socket to its reader before it
/// looks for timers that expired (lib/scheduler.c, `thread_fetch_next_queue`).
#[test]
fn frozen_keepalived_backup_stays_backup() {
    frozen_backup_stays_backup(
        "stalled keepalived backup",
        Kind::Keepalived,
        Kind::Keepalived,
    );
}

#[test]
fn baton_backup_takes_over_from_a_master_silent_through_its_freeze() {
    backup_wakes_after_the_master_fell_silent("silent master, baton", Kind::Baton);
}

#[test]
fn keepalived_backup_takes_over_from_a_master_silent_through_its_freeze() {
    backup_wakes_after_the_master_fell_silent("silent master, keepalived", Kind::Keepalived);
}

/// The master's side: lb2 frozen for [`FROZEN`], so lb1 rightly takes over meanwhile. As it
/// wakes, lb2 has lb1's lower-priority adverts queued and its Adver_Timer long expired. It
/// should advertise at once and send none of the adverts it missed. baton answers the
/// queued lower-priority adverts at most once per interval by the time they are read (one
/// advert within 10 ms of the wake); keepalived answers each ("forcing new election"),
/// about a dozen within 2 ms. Printed; asserted is that lb2 alone holds the VIP at the end
/// (preempt).
fn frozen_master_takes_the_vip_back(test: &str, kind: Kind) {
    let Some((lab, dir, [backup_daemon, master_daemon])) = lab_with_pair(test, kind, kind) else {
        return;
    };
    let lb2 = lab.host("lb2");
    let daemons = [&backup_daemon, &master_daemon];
    let pid = protocol_pid(kind, &master_daemon, &dir, lb2);
    std::thread::sleep(Duration::from_secs(2));
    assert_holders(&lab, &["lb2"], &daemons);
    let capture = Capture::start(&lab, &dir, "lb2", "ip proto 112 and src 10.0.3.6");
    let woken = freeze_again_and_again(pid);
    let frames = capture.frames();
    let after_wake: Vec<String> = woken
        .iter()
        .map(|&at| {
            let sent: Vec<u64> = frames
                .iter()
                .filter(|f| f.at >= at && f.at < at + 10_000)
                .map(|f| f.at - at)
                .collect();
            format!("{sent:?}")
        })
        .collect();
    println!("{test}: lb2's adverts within 10 ms of each wake, µs after it: {after_wake:?}");
    wait_for(Duration::from_secs(2), || !holds(lab.host("lb1"), VIP));
    assert_holders(&lab, &["lb2"], &daemons);
}

/// Both daemons in one test, one after the other, so that their lines print together.
#[test]
fn frozen_master_takes_the_vip_back_baton_and_keepalived() {
    frozen_master_takes_the_vip_back("stalled baton master", Kind::Baton);
    frozen_master_takes_the_vip_back("stalled keepalived master", Kind::Keepalived);
}
