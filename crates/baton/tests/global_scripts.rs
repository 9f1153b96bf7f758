//! keepalived's scripts of global_defs and `reverse` tracking weights on the lab, with
//! keepalived 2.2.7 running the same file on the same host first, where both show the
//! effect: the startup_script runs before VRRP (and is killed with its children at its
//! timeout), the notify_fifo_script is started with the FIFO's path and reads keepalived's
//! lines, the shutdown_script runs once the VIP is released, fifo_write_vrrp_states_on_reload
//! writes the master's state after a reload (baton), and `weight 20 reverse` lowers the
//! priority while its script succeeds.

mod common;

use std::path::Path;
use std::time::Duration;

use baton_lab::{Host, Signal};
use common::{
    Daemon, VIP, Workdir, fail, guide_lab, holds, keepalived_conf, on_path, start_baton,
    start_keepalived, wait_for,
};

/// The lines of the events file the scripts append to (none if it is not there yet).
fn events(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn script(dir: &Workdir, name: &str, body: &str) -> String {
    let path = dir.write(name, &format!("#!/bin/sh\n{body}"));
    let mode = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755);
    std::fs::set_permissions(&path, mode).expect("chmod");
    path.display().to_string()
}

/// The reader both daemons start: every FIFO line goes to `events` as `fifo LINE`, and
/// end-of-file as `fifo-eof`.
fn reader(dir: &Workdir, events: &Path) -> String {
    let events = events.display();
    script(
        dir,
        "reader.sh",
        &format!(
            "while IFS= read -r line; do echo \"fifo $line\" >> {events}; done < \"$1\"\n\
             echo fifo-eof >> {events}\n"
        ),
    )
}

/// Whether a process of process group `group` is still alive (zombies count as gone).
fn group_alive(group: i32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // pid (comm) state ppid pgrp ...: the fields after the last ')'.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        fields.first().is_some_and(|state| *state != "Z")
            && fields.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(group)
    })
}

struct Run {
    events: Vec<String>,
    addresses_at_shutdown: String,
}

/// One daemon through start (startup_script killed at its 1 s timeout), mastership, a
/// reload and a stop, with every script writing to one events file.
fn start_reload_stop(host: &Host, name: &str, start: fn(&Host, &Workdir, &str) -> Daemon) -> Run {
    let dir = Workdir::new(&format!("global-scripts-{name}"));
    let log = dir.path("events");
    let reader = reader(&dir, &log);
    let pid_file = dir.path("startup.pid");
    let startup = script(
        &dir,
        "startup.sh",
        &format!(
            "echo $$ > {}\necho startup >> {}\nsleep 30\necho startup-not-killed >> {}\n",
            pid_file.display(),
            log.display(),
            log.display()
        ),
    );
    let addresses = dir.path("addresses");
    let shutdown = script(
        &dir,
        "shutdown.sh",
        &format!(
            "ip -o addr show dev eth0 > {}\necho shutdown >> {}\n",
            addresses.display(),
            log.display()
        ),
    );
    let globals = format!(
        "global_defs {{\n    script_user root\n    notify_fifo {}\n    notify_fifo_script {reader}\n    \
         startup_script {startup}\n    startup_script_timeout 1\n    shutdown_script {shutdown}\n    \
         fifo_write_vrrp_states_on_reload\n",
        dir.path("notify.fifo").display()
    );
    let conf = keepalived_conf("lb1", 3, 150, "0.1", "").replace("global_defs {\n", &globals);
    let mut daemon = start(host, &dir, &conf);
    let master_line = "fifo INSTANCE \"VI_1\" MASTER 150";
    let masters = |lines: &[String]| lines.iter().filter(|l| *l == master_line).count();
    if wait_for(Duration::from_secs(20), || masters(&events(&log)) >= 1).is_none() {
        fail(
            &format!("{name}: no MASTER line from the FIFO script"),
            &[&daemon],
        );
    }
    if !holds(host, VIP) {
        fail(&format!("{name}: master without the VIP"), &[&daemon]);
    }
    let group: i32 = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or_else(|| {
            fail(
                &format!("{name}: the startup script did not run"),
                &[&daemon],
            )
        });
    if group_alive(group) {
        fail(
            &format!("{name}: the startup script's process group outlived its timeout"),
            &[&daemon],
        );
    }
    let before_reload = events(&log).len();
    daemon.child.signal(Signal::SIGHUP).expect("SIGHUP");
    // baton writes the master's state again; keepalived 2.2.7 reopens its FIFO, which its
    // reader sees as end-of-file: both add lines, which settle within a few seconds.
    let grew = || events(&log).len() > before_reload;
    let _ = wait_for(Duration::from_secs(10), grew);
    std::thread::sleep(Duration::from_secs(1));
    daemon.child.terminate();
    if wait_for(Duration::from_secs(15), || {
        events(&log).contains(&"shutdown".to_owned())
    })
    .is_none()
    {
        fail(
            &format!("{name}: the shutdown script did not run"),
            &[&daemon],
        );
    }
    Run {
        events: events(&log),
        addresses_at_shutdown: std::fs::read_to_string(&addresses).unwrap_or_default(),
    }
}

#[test]
fn start_stop_and_fifo_scripts_run_as_keepalived_runs_them() {
    let test = "global scripts";
    if !on_path("keepalived") {
        eprintln!("SKIPPED (needs keepalived on PATH, from the keepalived package): {test}");
        return;
    }
    let Some(lab) = guide_lab(test) else {
        return;
    };
    let host = lab.host("lb1");
    let keepalived = start_reload_stop(host, "keepalived", start_keepalived);
    let baton = start_reload_stop(host, "baton", start_baton);
    let vip = VIP.split('/').next().unwrap_or(VIP);
    eprintln!(
        "keepalived's events:\n{}\nbaton's events:\n{}",
        keepalived.events.join("\n"),
        baton.events.join("\n")
    );
    for (name, run) in [("keepalived", &keepalived), ("baton", &baton)] {
        let all = run.events.join("\n");
        let said = format!("{name}'s events:\n{all}");
        // The startup script runs first: nothing reaches the FIFO before it ended.
        assert_eq!(
            run.events.first().map(String::as_str),
            Some("startup"),
            "{said}"
        );
        assert!(!all.contains("startup-not-killed"), "{said}");
        let backup = run
            .events
            .iter()
            .position(|l| l == "fifo INSTANCE \"VI_1\" BACKUP 150");
        let master = run
            .events
            .iter()
            .position(|l| l == "fifo INSTANCE \"VI_1\" MASTER 150");
        assert!(
            backup.is_some() && backup < master,
            "BACKUP then MASTER: {said}"
        );
        assert_eq!(
            run.events.iter().filter(|l| *l == "shutdown").count(),
            1,
            "{said}"
        );
        // The shutdown script runs after the VIP is released.
        assert!(
            !run.addresses_at_shutdown.contains(&format!(" {vip}/")),
            "{name}: the VIP was still there when the shutdown script ran: {}",
            run.addresses_at_shutdown
        );
    }
    // baton's reader reads end-of-file when the FIFO closes at stop (keepalived 2.2.7's
    // dies with the VRRP process, which is its parent, before it reads one).
    let said = format!("baton's events:\n{}", baton.events.join("\n"));
    assert!(baton.events.contains(&"fifo-eof".to_owned()), "{said}");
    // fifo_write_vrrp_states_on_reload: baton's reload writes the master's state again, to
    // the reader that keeps running. (keepalived 2.2.7 writes it only for instances that
    // are not master: its vrrp_init_state skips a master that stays master.)
    let masters = baton
        .events
        .iter()
        .filter(|l| *l == "fifo INSTANCE \"VI_1\" MASTER 150")
        .count();
    assert_eq!(
        masters,
        2,
        "baton: {}\n(keepalived 2.2.7: {})",
        baton.events.join("\n"),
        keepalived.events.join("\n")
    );
}

/// `weight 20 reverse` on a script that succeeds while a flag file exists: the master's
/// priority is 130 while it does, 150 while it fails, as the FIFO's priority lines tell.
fn reversed_weight(host: &Host, name: &str, start: fn(&Host, &Workdir, &str) -> Daemon) {
    let dir = Workdir::new(&format!("reverse-{name}"));
    let log = dir.path("events");
    let reader = reader(&dir, &log);
    let flag = dir.write("flag", "");
    let globals = format!(
        "vrrp_script chk {{\n    script \"/usr/bin/test -e {}\"\n    interval 1\n    weight 20 reverse\n}}\n\
         global_defs {{\n    script_user root\n    notify_fifo {}\n    notify_fifo_script {reader}\n    \
         vrrp_notify_priority_changes\n",
        flag.display(),
        dir.path("notify.fifo").display()
    );
    let track = "    track_script {\n        chk\n    }\n";
    let conf = keepalived_conf("lb2", 3, 150, "0.1", track).replace("global_defs {\n", &globals);
    let mut daemon = start(host, &dir, &conf);
    let has = |line: &str| events(&log).iter().any(|l| l == line);
    let at_130 = || {
        events(&log).iter().any(|l| l.ends_with(" 130"))
            && events(&log).iter().any(|l| l.contains(" MASTER "))
    };
    if wait_for(Duration::from_secs(20), at_130).is_none() {
        fail(
            &format!(
                "{name}: not master at 130 while the script succeeds: {:?}",
                events(&log)
            ),
            &[&daemon],
        );
    }
    std::fs::remove_file(&flag).expect("remove the flag");
    if wait_for(Duration::from_secs(10), || {
        has("fifo INSTANCE \"VI_1\" MASTER_PRIORITY 150")
    })
    .is_none()
    {
        fail(
            &format!(
                "{name}: a failing script did not give 150: {:?}",
                events(&log)
            ),
            &[&daemon],
        );
    }
    let before = events(&log).len();
    std::fs::write(&flag, "").expect("flag");
    let back = || {
        events(&log)[before..]
            .iter()
            .any(|l| l == "fifo INSTANCE \"VI_1\" MASTER_PRIORITY 130")
    };
    if wait_for(Duration::from_secs(10), back).is_none() {
        fail(
            &format!(
                "{name}: a succeeding script did not give 130 again: {:?}",
                events(&log)
            ),
            &[&daemon],
        );
    }
    daemon.child.terminate();
}

#[test]
fn a_reversed_weight_lowers_the_priority_while_its_script_succeeds() {
    let test = "reversed track weight";
    if !on_path("keepalived") {
        eprintln!("SKIPPED (needs keepalived on PATH, from the keepalived package): {test}");
        return;
    }
    let Some(lab) = guide_lab(test) else {
        return;
    };
    let host = lab.host("lb2");
    reversed_weight(host, "keepalived", start_keepalived);
    reversed_weight(host, "baton", start_baton);
}
