//! baton as the shipped unit runs it, as an unprivileged user with only its network
//! capabilities, and the script helper (`baton script-helper`, root) running the scripts
//! whose configured user is root: the track, notify and MISC_CHECK scripts write files only
//! root can write, which proves the helper ran them. Whatever the configuration does not have, and
//! anyone but root and baton's user, the helper refuses; without a helper, a daemon that
//! needs one refuses to start, saying why.

mod common;
#[path = "unprivileged/launch.rs"]
mod launch;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use baton_lab::Lab;
use common::{Workdir, wait_for};
use nix::sys::signal::Signal;

const BATON: &str = env!("CARGO_BIN_EXE_baton");

/// `setpriv` arguments that make the rest run as `nobody` with the unit's capabilities.
const AS_NOBODY: &[&str] = &[
    "--reuid=nobody",
    "--regid=nogroup",
    "--clear-groups",
    "--inh-caps=-all,+net_admin,+net_raw,+net_bind_service",
    "--ambient-caps=-all,+net_admin,+net_raw,+net_bind_service",
    "--bounding-set=-all,+net_admin,+net_raw,+net_bind_service",
    "--",
];

/// A process outside the lab (the helper runs in no namespace: it speaks over a unix
/// socket), killed at the end of the test whatever happens.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `command` (baton, or what starts it) `script-helper` for `conf`, binding `socket`
/// unless given one, answering root and `allow`, logging to `log`.
fn start_helper(
    mut command: Command,
    conf: &Path,
    socket: &Path,
    allow: &str,
    log: &Path,
) -> Killed {
    let log = std::fs::File::create(log).expect("log");
    let helper = command
        .args(["script-helper", "--keepalived-conf"])
        .arg(conf)
        .arg("--socket")
        .arg(socket)
        .args(["--allow-user", allow])
        .env("BATON_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("baton script-helper");
    Killed(helper)
}

fn config(root_only: &Path) -> String {
    let dir = root_only.display();
    format!(
        r#"global_defs {{
    enable_script_security
    script_user root
}}
vrrp_script chk {{
    script "/bin/sh -c 'id -u > {dir}/ran'"
    interval 1
    timeout 5
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {{
        10.0.3.100/24
    }}
    track_script {{
        chk
    }}
    notify "/bin/sh -c 'echo $1 $2 $3 > {dir}/notified' notify"
}}
virtual_server 10.0.3.100 80 {{
    delay_loop 1
    lb_kind NAT
    protocol TCP
    real_server 10.0.3.11 80 {{
        MISC_CHECK {{
            misc_path "/bin/sh -c 'id -u > {dir}/misc'"
            misc_timeout 5
        }}
    }}
}}
"#
    )
}

/// `baton script-helper-run` as `who` (setpriv arguments, or none for root): exit code and
/// stderr.
fn ask_helper(who: &[&str], socket: &Path, argv: &[&str]) -> (Option<i32>, String) {
    let mut command = if who.is_empty() {
        Command::new(BATON)
    } else {
        let mut setpriv = Command::new("setpriv");
        setpriv.args(who).arg(BATON);
        setpriv
    };
    command
        .arg("script-helper-run")
        .arg("--socket")
        .arg(socket)
        .args(["--uid", "0", "--gid", "0", "--timeout-ms", "5000", "--"])
        .args(argv)
        .stdin(Stdio::null());
    let output = command.output().expect("baton script-helper-run");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn an_unprivileged_daemon_runs_root_scripts_through_the_helper_only() {
    let test = "an_unprivileged_daemon_runs_root_scripts_through_the_helper_only";
    if baton_lab::handled_elsewhere(test)
        || baton_lab::skip_without_other_users(test, "baton as nobody")
        || baton_lab::skip_in_rootless_lab(test, baton_lab::SCRIPT_SECURITY_NEEDS_REAL_ROOT)
        || common::skip_without_tool("setpriv", "util-linux", test)
        || common::skip_without_tool("nft", "nftables", test)
    {
        return;
    }
    let lab = Lab::builder()
        .host("lb1", "10.0.3.5/24")
        .build()
        .expect("lab");
    let lb1 = lab.host("lb1");
    let dir = Workdir::new("script-helper");
    // Where only root may write; and where the daemon (nobody) keeps its control socket.
    let root_only = dir.path("root-only");
    let open = dir.path("open");
    for (path, mode) in [(&root_only, 0o755), (&open, 0o777)] {
        std::fs::create_dir(path).expect("dir");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    let conf = dir.write("keepalived.conf", &config(&root_only));
    let socket = dir.path("scripts.sock");
    let helper_log = dir.path("helper.log");
    let _helper = start_helper(Command::new(BATON), &conf, &socket, "nobody", &helper_log);
    let helper_text = || std::fs::read_to_string(&helper_log).unwrap_or_default();
    if wait_for(Duration::from_secs(10), || socket.exists()).is_none() {
        panic!("the helper never listened:\n{}", helper_text());
    }
    // The helper made it root:nogroup 0660; opened up here so that another user reaches
    // the SO_PEERCRED check.
    let mode = std::fs::metadata(&socket)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o660, "the helper's socket mode");
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).expect("chmod");

    // Refused: a program the configuration does not have, even asked by root; and any
    // request from a user other than root and the allowed one.
    let evil = root_only.join("evil");
    let touch = format!("touch {}", evil.display());
    let (code, stderr) = ask_helper(&[], &socket, &["/bin/sh", "-c", &touch]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("not a script of the configuration"),
        "{stderr}"
    );
    let configured = format!("id -u > {}/ran", root_only.display());
    let as_daemon = ["--reuid=daemon", "--regid=daemon", "--clear-groups"];
    let (code, stderr) = ask_helper(&as_daemon, &socket, &["/bin/sh", "-c", &configured]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("may not use the script helper"), "{stderr}");
    assert!(!evil.exists() && !root_only.join("ran").exists());

    // Without a helper, the daemon refuses to start and says why.
    let run = |helper_socket: &Path, name: &str| {
        let mut command = lb1.command("setpriv");
        command.args(AS_NOBODY).arg(BATON);
        let helper = helper_socket.to_str().expect("utf-8");
        let extra = ["--script-helper", helper];
        let control = open.join(format!("{name}.sock"));
        launch::start_daemon(lb1, &dir, command, &extra, &conf, &control, name)
    };
    let mut orphan = run(&dir.path("no-helper.sock"), "no-helper");
    let exited = orphan
        .child
        .wait_timeout(Duration::from_secs(20))
        .expect("wait");
    let text = orphan.log_text();
    assert!(
        exited.is_some_and(|status| !status.success()),
        "started without its helper: {exited:?}\n{text}"
    );
    assert!(
        text.contains("vrrp_script chk") && text.contains("script helper"),
        "{text}"
    );

    let daemon = run(&socket, "baton");
    let ran = root_only.join("ran");
    let notified = root_only.join("notified");
    let misc = root_only.join("misc");
    let done = wait_for(Duration::from_secs(20), || {
        std::fs::read_to_string(&notified).is_ok_and(|n| n.contains("MASTER"))
            && [&ran, &misc]
                .iter()
                .all(|file| std::fs::read_to_string(file).is_ok_and(|r| !r.is_empty()))
    });
    if done.is_none() {
        panic!(
            "the track, notify and MISC_CHECK scripts did not run as root\n----- baton -----\n{}\n\
             ----- script helper -----\n{}",
            daemon.log_text(),
            helper_text()
        );
    }
    assert_eq!(std::fs::read_to_string(&ran).expect("ran").trim(), "0");
    assert_eq!(std::fs::read_to_string(&misc).expect("misc").trim(), "0");
    assert_eq!(
        std::fs::read_to_string(&notified).expect("notified").trim(),
        "INSTANCE VI_1 MASTER"
    );
    // And the daemon itself is nobody, with the three capabilities only.
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.child.id()))
        .expect("daemon status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(str::trim)
            .unwrap_or_default()
            .to_owned()
    };
    assert!(field("Uid:").starts_with("65534"), "{status}");
    assert_eq!(field("CapEff:"), "0000000000003400", "{status}");

    // The file changes: until baton reloads, the helper still runs the scripts baton
    // runs (a track script refused now would count as failing and could move the VIP);
    // after the reload, the new one.
    std::fs::write(&conf, config(&root_only).replace("/ran'", "/ran2'")).expect("edit");
    std::fs::remove_file(&ran).expect("rm ran");
    if wait_for(Duration::from_secs(10), || ran.exists()).is_none() {
        panic!(
            "an edited file stopped the running track script before the reload:\n{}",
            helper_text()
        );
    }
    let mut daemon = daemon;
    daemon.child.signal(Signal::SIGHUP).expect("SIGHUP");
    let ran2 = root_only.join("ran2");
    if wait_for(Duration::from_secs(15), || ran2.exists()).is_none() {
        panic!(
            "the reloaded track script did not run:\n----- baton -----\n{}\n\
             ----- script helper -----\n{}",
            daemon.log_text(),
            helper_text()
        );
    }
}

/// Started by systemd's socket activation (here `systemd-socket-activate`, which passes
/// fd 3 as baton-scripts.socket does), the helper answers on the socket it was given and
/// binds none of its own.
#[test]
fn the_helper_answers_on_the_socket_systemd_passes_it() {
    let test = "the_helper_answers_on_the_socket_systemd_passes_it";
    if common::skip_without_tool("systemd-socket-activate", "systemd", test) {
        return;
    }
    let dir = Workdir::new("activation");
    let conf = dir.write("keepalived.conf", &config(&dir.path("nowhere")));
    let activated = dir.path("activated.sock");
    let own = dir.path("own.sock");
    let me = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .expect("passwd")
        .expect("this user has a name");
    let log_path = dir.path("helper.log");
    let mut activate = Command::new("systemd-socket-activate");
    activate.arg("-l").arg(&activated).arg(BATON);
    let _helper = start_helper(activate, &conf, &own, &me.name, &log_path);
    let log_text = || std::fs::read_to_string(&log_path).unwrap_or_default();
    if wait_for(Duration::from_secs(10), || activated.exists()).is_none() {
        panic!("systemd-socket-activate never listened:\n{}", log_text());
    }
    // The first connection starts the helper, which takes fd 3 and answers on it.
    let (code, stderr) = ask_helper(&[], &activated, &["/bin/false"]);
    assert_eq!(code, Some(1), "{stderr}\n{}", log_text());
    assert!(
        stderr.contains("not a script of the configuration"),
        "{stderr}\n{}",
        log_text()
    );
    assert!(log_text().contains("listening on the socket systemd passed"));
    assert!(!own.exists(), "the helper bound a socket of its own");
}
