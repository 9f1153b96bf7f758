//! `baton check` and friends, as an operator runs them: exit codes and messages.

use std::process::Command;

fn baton() -> Command {
    Command::new(env!("CARGO_BIN_EXE_baton"))
}

fn scratch(name: &str, contents: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("baton-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write");
    path
}

#[test]
fn check_accepts_a_valid_keepalived_conf_with_a_summary() {
    let path = scratch(
        "good.conf",
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    priority 150\n    \
         advert_int 1\n    virtual_ipaddress {\n        10.0.3.100/24\n    }\n}\n",
    );
    let output = baton()
        .arg("check")
        .arg("--keepalived-conf")
        .arg(&path)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("ok: 1 VRRP instance(s)"), "{stdout}");
}

#[test]
fn check_lists_every_error_with_file_and_line_and_exits_1() {
    let path = scratch(
        "bad.conf",
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 300\n    priority 150\n    \
         virtual_server_group x\n    virtual_ipaddress {\n        10.0.3.100/24\n    }\n}\n",
    );
    let output = baton()
        .arg("check")
        .arg("--keepalived-conf")
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let file = path.display().to_string();
    assert!(
        stderr.contains(&format!("{file}:3:")),
        "the bad VRID on line 3: {stderr}"
    );
    assert!(
        stderr.contains(&format!("{file}:5:")),
        "the unsupported keyword on line 5: {stderr}"
    );
    assert!(stderr.contains("virtual_server_group"), "{stderr}");
}

/// keepalived's -i: one file for several hosts, each reading the lines of its config id.
#[test]
fn check_reads_the_lines_of_its_config_id() {
    let path = scratch(
        "per-host.conf",
        "@lb1 $N=2\n@^lb1 $N=3\n$VI= \\\nvrrp_instance VI_${I} { \\\n  interface eth0 \\\n  \
         virtual_router_id ${I} \\\n  virtual_ipaddress { \\\n    10.0.3.${I}/24 \\\n  } \\\n\
         }\n~SEQ(I, $N) $VI\n",
    );
    for (id, instances) in [("lb1", 2), ("lb2", 3)] {
        let output = baton()
            .args(["check", "--config-id", id, "--keepalived-conf"])
            .arg(&path)
            .output()
            .expect("runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{output:?}");
        assert!(
            stdout.contains(&format!("ok: {instances} VRRP instance(s)")),
            "{id}: {stdout}"
        );
    }
    // Still exactly one source.
    let output = baton()
        .args(["check", "--config-id", "lb1"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}

#[test]
fn check_reads_toml_too_and_names_a_missing_file() {
    let output = baton()
        .args(["check", "--config", "/nonexistent/baton.toml"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/baton.toml"));
}

#[test]
fn version_and_bad_flags() {
    let output = baton().arg("--version").output().expect("runs");
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("baton "));
    let output = baton()
        .args(["vrrp", "-i", "eth0", "-v", "0", "10.0.3.100"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2), "clap rejects VRID 0");
    let output = baton()
        .args(["vrrp", "-i", "eth0", "-v", "1", "-d", "0.5", "10.0.3.100"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("whole seconds"));
}

/// The reproduction of issue 14: two `baton vrrp` one-liners on one host (here a lab
/// namespace) used to want the same control socket, and the second exited. Now each has
/// its own, per interface and VRID (with the namespace's inode, outside the host's), and
/// `baton status --control` reaches either; a third for a VRID already served is refused
/// with the socket's name and how to pick another.
#[test]
fn two_vrrp_one_liners_on_one_host_each_have_a_control_socket() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    if baton_lab::handled_elsewhere("two_vrrp_one_liners_on_one_host_each_have_a_control_socket") {
        return;
    }
    let lab = baton_lab::Lab::guide().expect("the guide's lab");
    let host = lab.host("lb1");
    let bin = env!("CARGO_BIN_EXE_baton");
    let vrrp = |vrid: &str, vip: &str| {
        let mut command = host.command(bin);
        command
            .args(["vrrp", "-i", "eth0", "-v", vrid, vip])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    };
    let _first = host.spawn(vrrp("51", "10.0.3.100/24")).expect("first");
    let _second = host.spawn(vrrp("52", "10.0.3.101/24")).expect("second");
    let inode = host
        .run("stat", &["-L", "-c", "%i", "/proc/self/ns/net"])
        .expect("the namespace's inode");
    let socket = |vrid: u8| format!("/run/baton/vrrp-eth0-{vrid}-net{}.sock", inode.trim());
    let status = |vrid: u8| {
        host.run(bin, &["status", "--json", "--control", &socket(vrid)])
            .ok()
            .and_then(|json| serde_json::from_str::<serde_json::Value>(&json).ok())
    };
    for vrid in [51, 52] {
        let started = Instant::now();
        let json = loop {
            // The socket answers from the start; the instance shows once it runs.
            if let Some(json) = status(vrid).filter(|json| !json["vrrp"][0].is_null()) {
                break json;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no answer at {}",
                socket(vrid)
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(json["vrrp"][0]["vrid"], vrid, "{json}");
    }
    let third = vrrp("51", "10.0.3.102/24").output().expect("third runs");
    assert!(!third.status.success());
    let stderr = String::from_utf8_lossy(&third.stderr);
    assert!(stderr.contains(&socket(51)), "{stderr}");
    assert!(stderr.contains("--control PATH"), "{stderr}");
}

/// The other half of that reproduction: two `baton run` in two network namespaces of one
/// host share /run/baton. Each default socket carries its namespace's inode, and a
/// `baton status` run in the same namespace finds its own daemon without `--control`.
#[test]
fn two_daemons_in_two_network_namespaces_have_their_own_default_sockets() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let test = "two_daemons_in_two_network_namespaces_have_their_own_default_sockets";
    if baton_lab::handled_elsewhere(test) {
        return;
    }
    let lab = baton_lab::Lab::guide().expect("the guide's lab");
    let bin = env!("CARGO_BIN_EXE_baton");
    let config = scratch("empty.toml", "");
    let mut daemons = Vec::new();
    for name in ["lb1", "lb2"] {
        let host = lab.host(name);
        let mut command = host.command(bin);
        command
            .args(["run", "--admin", "none", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        daemons.push(host.spawn(command).expect("baton run"));
    }
    for name in ["lb1", "lb2"] {
        let host = lab.host(name);
        let inode = host
            .run("stat", &["-L", "-c", "%i", "/proc/self/ns/net"])
            .expect("the namespace's inode");
        let socket = format!("/run/baton/baton-net{}.sock", inode.trim());
        let started = Instant::now();
        while host.run(bin, &["status", "--json"]).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{name}: no daemon at the default socket"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(std::path::Path::new(&socket).exists(), "{socket}");
    }
    for daemon in &mut daemons {
        daemon.terminate();
    }
}

/// The file is valid, but this host could not run it: `check` still says ok (the file may be
/// checked on another machine), and names each host problem the daemon would refuse.
#[test]
fn check_warns_of_what_this_host_lacks() {
    let test = "check_warns_of_what_this_host_lacks";
    // A host with one interface with an IPv4 address (eth0, the instance's primary), and
    // root to switch to the script's user: a lab host.
    if baton_lab::handled_elsewhere(test) {
        return;
    }
    let lab = baton_lab::Lab::builder()
        .host("lb1", "10.0.3.5/24")
        .build()
        .expect("lab");
    let lb1 = lab.host("lb1");
    let link = lb1.interface();
    let baton = || {
        let mut command = lb1.command(env!("CARGO_BIN_EXE_baton"));
        command.args(["check", "--keepalived-conf"]);
        command
    };
    let instance = |track: &str| {
        format!(
            "vrrp_script chk {{\n    script \"/bin/true\"\n    user {track}\n}}\n\
             vrrp_instance VI_1 {{\n    interface {link}\n    virtual_router_id 51\n    \
             priority 150\n    virtual_ipaddress {{\n        10.0.3.100/24\n    }}\n    \
             track_script {{\n        chk\n    }}\n"
        )
    };
    let typos = scratch(
        "typos.conf",
        &format!(
            "{}    track_interface {{\n        eht9\n    }}\n}}\n",
            instance("no-such-user-baton")
        ),
    );
    let output = baton().arg(&typos).output().expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stderr.contains("would refuse it: track_interface: interface \"eht9\": no such interface"),
        "{stderr}"
    );
    assert!(
        stderr.contains("would refuse it: vrrp_script chk: user:")
            && stderr.contains("no-such-user-baton"),
        "{stderr}"
    );

    let good = scratch("host-good.conf", &format!("{}}}\n", instance("root")));
    let output = baton().arg(&good).output().expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{output:?}");
    assert!(!stderr.contains("on this host"), "{stderr}");
}

/// conn_sync without conntrackd, or on a missing link: `baton run` would start and NAT would
/// balance, but no flow would be synced, so `check` says so (the file still checks ok).
#[test]
fn check_warns_when_conn_sync_cannot_sync_here() {
    let file = |conntrackd: &str, interface: &str| {
        format!(
            "[conn_sync]\ninterface = \"{interface}\"\npeer = \"10.0.9.2\"\n\
             conntrackd = \"{conntrackd}\"\n\n[[vrrp]]\nname = \"VI_1\"\n\
             interface = \"eth0\"\nvirtual_router_id = 51\n\
             virtual_ipaddress = [\"10.0.3.100/24\"]\n\n[[virtual_server]]\nname = \"web\"\n\
             address = \"10.0.3.100:80\"\nlb_kind = \"NAT\"\n\n\
             [[virtual_server.real_server]]\naddress = \"10.0.3.11:8080\"\n"
        )
    };
    let check = |name: &str, contents: &str| {
        let path = scratch(name, contents);
        let output = baton()
            .args(["check", "--config"])
            .arg(&path)
            .output()
            .expect("runs");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = check(
        "sync-missing.toml",
        &file("/baton-no-such-dir/conntrackd", "baton-nosync0"),
    );
    assert!(
        stderr.contains(
            "sync-missing.toml:1: conn_sync: /baton-no-such-dir/conntrackd is not an \
             executable file (apt-get install conntrackd)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "sync-missing.toml:1: conn_sync: interface \"baton-nosync0\": no such interface"
        ),
        "{stderr}"
    );
    // An executable and an interface this host has: no such warning.
    let link = std::fs::read_dir("/sys/class/net")
        .expect("/sys/class/net")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .next()
        .expect("an interface");
    let stderr = check("sync-fine.toml", &file("/bin/sh", &link));
    assert!(!stderr.contains("conn_sync:"), "{stderr}");
}
