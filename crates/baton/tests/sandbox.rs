//! baton inside the shipped unit's sandbox without a running systemd: as `nobody`, with only
//! the unit's three capabilities, under the unit's own `SystemCallFilter=` lines (expanded
//! by `systemd-analyze syscall-filter`, applied with libseccomp's Python binding, EPERM for
//! the rest as `SystemCallErrorNumber=EPERM`). VRRP, an L4 NAT service (nft, conntrack),
//! TCP and MISC checks, track and notify scripts, a reload and a stop must all work there.
//! And `baton run --user`, started as root, ends up with that same user and capabilities.

mod common;
#[path = "unprivileged/launch.rs"]
mod launch;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;
use std::time::Duration;

use baton_lab::Lab;
use common::{Daemon, Workdir, holds, wait_for};
use nix::sys::signal::Signal;

const UNIT: &str = include_str!("../../../dist/baton.service");

/// Loads a filter that allows the system calls named in the file `argv[1]` and fails every
/// other with EPERM, then runs `argv[2..]` under it (libseccomp sets no_new_privs first, as
/// the unit's NoNewPrivileges=yes).
const APPLY_FILTER: &str = r#"
import os, sys, seccomp
f = seccomp.SyscallFilter(defaction=seccomp.ERRNO(1))
for name in open(sys.argv[1]).read().split():
    try:
        f.add_rule(seccomp.ALLOW, name)
    except Exception:
        pass  # not a system call of this architecture
f.load()
os.execv(sys.argv[2], sys.argv[2:])
"#;

/// The system calls in `set` (`@system-service`, or a name), nested sets expanded.
fn expand(set: &str, into: &mut BTreeSet<String>) {
    let output = Command::new("systemd-analyze")
        .args(["syscall-filter", set])
        .output()
        .expect("systemd-analyze syscall-filter");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    if set.starts_with('@') {
        lines.next(); // the set's own name
    }
    for word in lines.filter_map(|line| line.split_whitespace().next()) {
        if word.starts_with('#') {
            continue;
        } else if word.starts_with('@') {
            expand(word, into);
        } else {
            into.insert(word.to_owned());
        }
    }
}

/// What the unit's `SystemCallFilter=` lines allow: the first lists, minus the `~` ones.
fn allowed_system_calls() -> BTreeSet<String> {
    let (mut allowed, mut denied) = (BTreeSet::new(), BTreeSet::new());
    for value in UNIT
        .lines()
        .filter_map(|line| line.strip_prefix("SystemCallFilter="))
    {
        let (into, list) = match value.strip_prefix('~') {
            Some(list) => (&mut denied, list),
            None => (&mut allowed, value),
        };
        for set in list.split_whitespace() {
            expand(set, into);
        }
    }
    assert!(
        allowed.len() > 100,
        "the unit allows too little: {allowed:?}"
    );
    allowed.difference(&denied).cloned().collect()
}

/// The unit's capabilities, as setpriv spells them: `+net_admin,+net_raw,...`.
fn unit_capabilities() -> String {
    let line = UNIT
        .lines()
        .find_map(|line| line.strip_prefix("AmbientCapabilities="))
        .expect("AmbientCapabilities=");
    line.split_whitespace()
        .map(|cap| format!("+{}", cap.trim_start_matches("CAP_").to_lowercase()))
        .collect::<Vec<_>>()
        .join(",")
}

fn config(open: &std::path::Path, priority: u8) -> String {
    let dir = open.display();
    format!(
        r#"vrrp_script chk {{
    script "/bin/sh -c 'id -u > {dir}/track'"
    interval 1
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int 1
    virtual_ipaddress {{
        10.0.3.100/24
    }}
    track_script {{
        chk
    }}
    notify "/bin/sh -c 'echo $3 > {dir}/notified' notify"
}}
virtual_server 10.0.3.100 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.0.3.11 80 {{
        TCP_CHECK {{
            connect_timeout 1
        }}
    }}
    real_server 10.0.3.12 80 {{
        MISC_CHECK {{
            misc_path "/bin/sh -c 'id -u > {dir}/misc'"
        }}
    }}
}}
"#
    )
}

/// A lab with one host, lb1, and a directory with one everyone may write in (where the
/// daemon, as nobody, keeps its control socket and its scripts write); `None` after a
/// SKIPPED line where namespaces cannot be made.
fn one_host_lab(test: &str, name: &str) -> Option<(Lab, Workdir, std::path::PathBuf)> {
    if baton_lab::handled_elsewhere(test)
        || baton_lab::skip_without_other_users(test, "baton as nobody")
    {
        return None;
    }
    let lab = Lab::builder()
        .host("lb1", "10.0.3.5/24")
        .build()
        .expect("lab");
    let dir = Workdir::new(name);
    let open = dir.path("open");
    std::fs::create_dir(&open).expect("dir");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    Some((lab, dir, open))
}

fn fail(message: &str, daemon: &Daemon) -> ! {
    panic!("{message}\n----- baton -----\n{}", daemon.log_text());
}

/// Waits until the daemon is master with its VIP and nft rules, and has run its track,
/// notify and MISC_CHECK scripts as nobody.
fn wait_until_serving(lb1: &baton_lab::Host, open: &std::path::Path, daemon: &Daemon) {
    let nobody =
        |file: &str| std::fs::read_to_string(open.join(file)).is_ok_and(|t| t.trim() == "65534");
    let up = wait_for(Duration::from_secs(20), || {
        holds(lb1, common::VIP)
            && nobody("track")
            && nobody("misc")
            && std::fs::read_to_string(open.join("notified")).is_ok_and(|t| t.trim() == "MASTER")
            && lb1
                .run("nft", &["list", "tables"])
                .is_ok_and(|tables| tables.contains("baton"))
    });
    if up.is_none() {
        fail(
            "not master with its VIP, nft rules, track, notify and MISC_CHECK scripts run",
            daemon,
        );
    }
}

/// `/proc/PID/status`'s line `name`, without the name.
fn status_field(pid: u32, name: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .map(|value| value.trim().to_owned())
        .unwrap_or_else(|| panic!("no {name} in {status}"))
}

#[test]
fn baton_works_as_nobody_under_the_units_system_call_filter() {
    let test = "baton_works_as_nobody_under_the_units_system_call_filter";
    if baton_lab::handled_elsewhere(test)
        || common::skip_without_tool("setpriv", "util-linux", test)
        || common::skip_without_tool("systemd-analyze", "systemd", test)
        || common::skip_without_tool("nft", "nftables", test)
    {
        return;
    }
    let seccomp = Command::new("/usr/bin/python3")
        .args(["-c", "import seccomp"])
        .output();
    if !seccomp.is_ok_and(|output| output.status.success()) {
        eprintln!("SKIPPED (needs /usr/bin/python3 with the python3-seccomp package): {test}");
        return;
    }
    let Some((lab, dir, open)) = one_host_lab(test, "sandbox") else {
        return;
    };
    let lb1 = lab.host("lb1");
    let conf = dir.write("keepalived.conf", &config(&open, 150));
    let filter = dir.write(
        "filter.txt",
        &allowed_system_calls()
            .into_iter()
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let caps = unit_capabilities();
    assert_eq!(caps, "+net_admin,+net_raw,+net_bind_service");
    let mut command = lb1.command("setpriv");
    command
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(format!("--inh-caps=-all,{caps}"))
        .arg(format!("--ambient-caps=-all,{caps}"))
        .arg(format!("--bounding-set=-all,{caps}"))
        .args(["--", "/usr/bin/python3", "-c", APPLY_FILTER])
        .arg(&filter)
        .arg(env!("CARGO_BIN_EXE_baton"));
    let control = open.join("baton.sock");
    let mut daemon = launch::start_daemon(lb1, &dir, command, &[], &conf, &control, "sandboxed");
    wait_until_serving(lb1, &open, &daemon);
    let pid = daemon.child.id();
    assert_eq!(
        status_field(pid, "Seccomp:"),
        "2",
        "a seccomp filter applies"
    );
    assert_eq!(status_field(pid, "CapEff:"), "0000000000003400");

    // A reload that changes the instance, then a graceful stop.
    std::fs::write(&conf, config(&open, 160)).expect("edit");
    daemon.child.signal(Signal::SIGHUP).expect("SIGHUP");
    // The changed instance restarts and becomes master again.
    if wait_for(Duration::from_secs(15), || {
        daemon.log_text().contains("reload: done") && holds(lb1, common::VIP)
    })
    .is_none()
    {
        fail("the reload did not apply", &daemon)
    }
    daemon.child.terminate();
    let exit = daemon.child.try_wait().expect("status");
    let text = daemon.log_text();
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}\n{text}");
    assert!(!holds(lb1, common::VIP), "VIP left behind\n{text}");
    for refused in ["Operation not permitted", "os error 1)", "EPERM"] {
        assert!(!text.contains(refused), "{refused}:\n{text}");
    }
}

/// `baton run --user nobody` started as root: the same user, capabilities (bounding and
/// ambient too) and no_new_privs as under the unit, and everything still works.
#[test]
fn baton_run_user_becomes_the_user_with_the_units_capabilities_only() {
    let test = "baton_run_user_becomes_the_user_with_the_units_capabilities_only";
    if baton_lab::handled_elsewhere(test) || common::skip_without_tool("nft", "nftables", test) {
        return;
    }
    let Some((lab, dir, open)) = one_host_lab(test, "run-user") else {
        return;
    };
    let lb1 = lab.host("lb1");
    let conf = dir.write("keepalived.conf", &config(&open, 150));
    // A control socket directory that does not exist yet: baton makes it for nobody.
    let run_dir = dir.path("run");
    let command = lb1.command(env!("CARGO_BIN_EXE_baton"));
    let control = run_dir.join("baton.sock");
    let user = ["--user", "nobody"];
    let mut daemon = launch::start_daemon(lb1, &dir, command, &user, &conf, &control, "run-user");
    wait_until_serving(lb1, &open, &daemon);
    let pid = daemon.child.id();
    assert_eq!(status_field(pid, "Uid:"), "65534\t65534\t65534\t65534");
    assert_eq!(status_field(pid, "Gid:"), "65534\t65534\t65534\t65534");
    for set in ["CapEff:", "CapPrm:", "CapInh:", "CapAmb:", "CapBnd:"] {
        assert_eq!(status_field(pid, set), "0000000000003400", "{set}");
    }
    assert_eq!(status_field(pid, "NoNewPrivs:"), "1");
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&run_dir).expect("run"));
    assert_eq!(
        owner, 65534,
        "the control socket's directory belongs to nobody"
    );
    daemon.child.terminate();
    let exit = daemon.child.try_wait().expect("status");
    assert!(
        exit.is_some_and(|s| s.success()),
        "{exit:?}\n{}",
        daemon.log_text()
    );
}
