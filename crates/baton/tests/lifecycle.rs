//! The daemon's life on the lab: reload, link state, notify scripts, unicast, quick start.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use baton_lab::Signal;
use common::{VIP, Workdir, fail, guide_lab, holds, keepalived_conf, start_baton, wait_for};

#[test]
fn sighup_with_an_unchanged_config_changes_nothing() {
    let Some(lab) = guide_lab("sighup") else {
        return;
    };
    let dir = Workdir::new("sighup");
    let lb2 = lab.host("lb2");
    let mut master = start_baton(lb2, &dir, &keepalived_conf("lb2", 3, 150, "0.1", ""));
    if wait_for(Duration::from_secs(10), || holds(lb2, VIP)).is_none() {
        fail("lb2 never became master", &[&master]);
    }
    // The VIP goes on before the transition is logged: count once the line is there.
    let logged = || master.log_text().contains("-> MASTER");
    if wait_for(Duration::from_secs(5), logged).is_none() {
        fail(
            "lb2 holds the VIP but never logged becoming master",
            &[&master],
        );
    }
    let transitions_before = master.log_text().matches("-> MASTER").count();
    master.child.signal(Signal::SIGHUP).expect("SIGHUP");
    std::thread::sleep(Duration::from_secs(1));
    let log = master.log_text();
    if !log.contains("configuration unchanged")
        || log.matches("-> MASTER").count() != transitions_before
    {
        fail("SIGHUP with the same file changed state", &[&master]);
    }
    if !holds(lb2, VIP) || !master.child.is_running() {
        fail("the daemon lost its VIP or died on SIGHUP", &[&master]);
    }
}

#[test]
fn own_interface_down_means_fault_and_the_backup_takes_over() {
    let Some(lab) = guide_lab("link fault") else {
        return;
    };
    let dir = Workdir::new("linkfault");
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    let backup = start_baton(lb1, &dir, &keepalived_conf("lb1", 3, 100, "0.1", ""));
    let master = start_baton(lb2, &dir, &keepalived_conf("lb2", 3, 150, "0.1", ""));
    let daemons = [&backup, &master];
    if wait_for(Duration::from_secs(10), || holds(lb2, VIP)).is_none() {
        fail("lb2 never became master", &daemons);
    }
    lb2.set_interface_down().expect("down");
    if wait_for(Duration::from_secs(5), || holds(lb1, VIP)).is_none() {
        fail(
            "lb1 did not take over from a master whose link went down",
            &daemons,
        );
    }
    if wait_for(Duration::from_secs(2), || {
        master.log_text().contains("-> FAULT")
    })
    .is_none()
    {
        fail("lb2 did not enter FAULT", &daemons);
    }
    lb2.set_interface_up().expect("up");
    if wait_for(Duration::from_secs(5), || {
        holds(lb2, VIP) && !holds(lb1, VIP)
    })
    .is_none()
    {
        fail("lb2 did not come back from FAULT and preempt", &daemons);
    }
}

#[test]
fn notify_scripts_run_in_order_with_keepalived_arguments_as_script_user() {
    let test = "notify_scripts_run_in_order_with_keepalived_arguments_as_script_user";
    if baton_lab::skip_without_other_users(test, "script_user nobody") {
        return;
    }
    let Some(lab) = guide_lab("notify") else {
        return;
    };
    let dir = Workdir::new("notify");
    let log = dir.path("notify.log");
    std::fs::write(&log, "").expect("log");
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let script = dir.write(
        "notify.sh",
        &format!("#!/bin/sh\necho \"$(id -u) $*\" >> {}\n", log.display()),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(dir.path(""), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let extra = format!(
        "    notify_master \"{s} master\"\n    notify \"{s}\"\n",
        s = script.display()
    );
    let conf = format!(
        "global_defs {{\n    script_user nobody\n}}\n{}",
        keepalived_conf("lb2", 3, 150, "0.1", &extra).replace(
            "global_defs {\n    router_id lb2\n    vrrp_version 3\n}\n",
            ""
        )
    );
    let conf = conf.replace(
        "vrrp_instance VI_1 {\n",
        "vrrp_instance VI_1 {\n    version 3\n",
    );
    let lb2 = lab.host("lb2");
    let mut master = start_baton(lb2, &dir, &conf);
    if wait_for(Duration::from_secs(10), || holds(lb2, VIP)).is_none() {
        fail("lb2 never became master", &[&master]);
    }
    master.child.terminate();
    let nobody = "65534";
    let expected = [
        format!("{nobody} INSTANCE VI_1 BACKUP 150"),
        format!("{nobody} master"),
        format!("{nobody} INSTANCE VI_1 MASTER 150"),
        format!("{nobody} INSTANCE VI_1 STOP 150"),
    ];
    let written = std::fs::read_to_string(&log).unwrap_or_default();
    let lines: Vec<&str> = written.lines().collect();
    if lines != expected {
        fail(
            &format!("notify log {lines:?}, expected {expected:?}"),
            &[&master],
        );
    }
}

#[test]
fn unicast_peers_elect_and_fail_over() {
    let Some(lab) = guide_lab("unicast") else {
        return;
    };
    let dir = Workdir::new("unicast");
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    let unicast = |me: &str, peer: &str| {
        format!("    unicast_src_ip {me}\n    unicast_peer {{\n        {peer}\n    }}\n")
    };
    let backup = start_baton(
        lb1,
        &dir,
        &keepalived_conf("lb1", 3, 100, "0.1", &unicast("10.0.3.5", "10.0.3.6")),
    );
    let mut master = start_baton(
        lb2,
        &dir,
        &keepalived_conf("lb2", 3, 150, "0.1", &unicast("10.0.3.6", "10.0.3.5")),
    );
    if wait_for(Duration::from_secs(10), || holds(lb2, VIP)).is_none() {
        fail("lb2 never became master over unicast", &[&backup, &master]);
    }
    std::thread::sleep(Duration::from_secs(1));
    if holds(lb1, VIP) {
        fail(
            "lb1 did not hear lb2's unicast adverts",
            &[&backup, &master],
        );
    }
    master.child.kill();
    if wait_for(Duration::from_secs(5), || holds(lb1, VIP)).is_none() {
        fail("lb1 did not take over", &[&backup, &master]);
    }
}

#[test]
fn vrrpd_style_quick_start_takes_the_vip() {
    let Some(lab) = guide_lab("quick start") else {
        return;
    };
    let lb1 = lab.host("lb1");
    let dir = Workdir::new("quick");
    let log = dir.path("quick.log");
    let mut command = lb1.command(env!("CARGO_BIN_EXE_baton"));
    command
        .args([
            "vrrp",
            "-i",
            "eth0",
            "-v",
            "7",
            "-p",
            "120",
            "-d",
            "0.1",
            "--version",
            "3",
            VIP,
        ])
        .arg("--control")
        .arg(dir.path("quick.sock"))
        .stdout(std::fs::File::create(&log).expect("log"))
        .stderr(std::fs::File::create(dir.path("quick.err")).expect("log"));
    let mut child = lb1.spawn(command).expect("spawn");
    let took = wait_for(Duration::from_secs(5), || holds(lb1, VIP));
    child.terminate();
    assert!(
        took.is_some(),
        "baton vrrp never took the VIP: {}",
        std::fs::read_to_string(dir.path("quick.err")).unwrap_or_default()
    );
    assert!(!holds(lb1, VIP), "SIGTERM must remove the VIP");
}

fn two_instances(second_priority: u8) -> String {
    let instance = |name: &str, vrid: u8, priority: u8, vip: &str| {
        format!(
            "vrrp_instance {name} {{\n    version 3\n    interface eth0\n    virtual_router_id {vrid}\n    \
             priority {priority}\n    advert_int 0.1\n    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
        )
    };
    format!(
        "{}{}",
        instance("VI_1", 51, 150, VIP),
        instance("VI_2", 52, second_priority, "10.0.3.101/24")
    )
}

#[test]
fn sighup_restarts_only_the_instances_whose_config_changed() {
    let Some(lab) = guide_lab("sighup partial") else {
        return;
    };
    let dir = Workdir::new("sighup-partial");
    let lb2 = lab.host("lb2");
    let mut daemon = start_baton(lb2, &dir, &two_instances(150));
    let second = "10.0.3.101/24";
    if wait_for(Duration::from_secs(10), || {
        holds(lb2, VIP) && holds(lb2, second)
    })
    .is_none()
    {
        fail("lb2 never took both VIPs", &[&daemon]);
    }
    let vi1_changes = |log: &str| {
        log.lines()
            .filter(|l| l.contains("VI_1") && l.contains(" -> "))
            .count()
    };
    let before = vi1_changes(&daemon.log_text());

    dir.write("lb2.conf", &two_instances(120));
    daemon.child.signal(Signal::SIGHUP).expect("SIGHUP");
    // VI_1 must hold its VIP throughout the reload.
    let watch = std::time::Instant::now();
    while watch.elapsed() < Duration::from_secs(1) {
        if !holds(lb2, VIP) {
            fail(
                "VI_1 (unchanged) lost its VIP during the reload",
                &[&daemon],
            );
        }
    }
    if wait_for(Duration::from_secs(5), || holds(lb2, second)).is_none() {
        fail("VI_2 (changed) did not come back", &[&daemon]);
    }
    let log = daemon.log_text();
    if vi1_changes(&log) != before {
        fail("the unchanged VI_1 changed state on reload", &[&daemon]);
    }
    let vi2_stopped = log
        .lines()
        .any(|l| l.contains("VI_2") && l.contains("-> INIT"));
    if !vi2_stopped || !log.contains("reload: restarting") {
        fail("the changed VI_2 was not restarted", &[&daemon]);
    }
}

#[test]
fn status_reports_the_instances_as_json_and_as_a_table() {
    let Some(lab) = guide_lab("status") else {
        return;
    };
    let dir = Workdir::new("status");
    let lb2 = lab.host("lb2");
    let daemon = start_baton(lb2, &dir, &keepalived_conf("lb2", 3, 150, "0.1", ""));
    if wait_for(Duration::from_secs(10), || holds(lb2, VIP)).is_none() {
        fail("lb2 never became master", &[&daemon]);
    }
    let socket = dir.path("lb2.sock");
    let mode = std::fs::metadata(&socket).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode.ok(), Some(0o600), "control socket must be private");
    let status = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
            .arg("status")
            .args(args)
            .arg("--control")
            .arg(&socket)
            .output()
            .expect("baton status runs")
    };
    let json = status(&["--json"]);
    assert!(json.status.success(), "{json:?}");
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let instance = &value["vrrp"][0];
    assert_eq!(instance["name"], "VI_1");
    assert_eq!(instance["vrid"], 51);
    assert_eq!(instance["interface"], "eth0");
    assert_eq!(instance["state"], "MASTER");
    assert_eq!(instance["priority"], 150);
    assert_eq!(instance["effective_priority"], 150);
    assert_eq!(instance["master"], "10.0.3.6");
    assert_eq!(instance["vips"][0], "10.0.3.100");
    assert!(instance["transitions"].as_u64().is_some_and(|n| n >= 2));

    let table = status(&[]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("VI_1") && text.contains("MASTER") && text.contains("10.0.3.100"),
        "{text}"
    );

    let nobody = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["status", "--control"])
        .arg(dir.path("nobody-here.sock"))
        .output()
        .expect("runs");
    assert_eq!(nobody.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("is baton running?"));
}
