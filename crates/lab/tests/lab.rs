//! The testbed against the real kernel: these build network namespaces, so they need root
//! (CI runs as root) and skip loudly without it.

use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use baton_lab::{Error, Lab, handled_elsewhere};

/// Names of all network namespaces on the machine.
fn namespaces() -> Vec<String> {
    let output = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect()
}

fn namespaces_with_prefix(prefix: &str) -> Vec<String> {
    namespaces()
        .into_iter()
        .filter(|ns| ns.starts_with(prefix))
        .collect()
}

fn reaches(lab: &Lab, from: &str, to: &str) -> bool {
    lab.host(from)
        .ping(lab.host(to).address())
        .expect("running ping")
}

/// After a cut or 100% loss the neighbour entries have failed, and ARP retries on its own
/// 1 s timer: the first ping after a repair can be lost, as on a real LAN.
fn recovers(lab: &Lab, from: &str, to: &str) -> bool {
    (0..3).any(|_| reaches(lab, from, to))
}

#[test]
fn guide_topology_comes_up() {
    if handled_elsewhere("guide_topology_comes_up") {
        return;
    }
    let lab = Lab::guide().expect("building the guide's lab");
    let mut expected: Vec<String> = ["switch", "lb1", "lb2", "app1", "app2", "client"]
        .iter()
        .map(|name| format!("{}{name}", lab.prefix()))
        .collect();
    expected.sort();
    let mut present = namespaces_with_prefix(lab.prefix());
    present.sort();
    assert_eq!(present, expected);

    let lb1 = lab.host("lb1");
    assert_eq!(lb1.address().to_string(), "10.0.3.5");
    assert_eq!(lb1.prefix_len(), 24);
    assert_eq!(lb1.interface(), "eth0");
    assert_eq!(lb1.namespace(), format!("{}lb1", lab.prefix()));
    assert_eq!(lb1.mac_string(), "02:00:00:00:03:05");
    assert_eq!(lab.host("client").ipv6_link_local().to_string(), "fe80::50");
    assert_eq!(
        lb1.addresses().unwrap(),
        ["10.0.3.5/24", "fd00:0:0:3::5/64", "fe80::5/64"]
    );
    let link = lb1
        .run("ip", &["-o", "link", "show", "dev", "eth0"])
        .unwrap();
    assert!(link.contains("02:00:00:00:03:05"), "{link}");
    assert!(link.contains("state UP"), "{link}");

    for host in lab.hosts() {
        let lo = host
            .run("ip", &["-o", "link", "show", "dev", "lo"])
            .unwrap();
        assert!(lo.contains(",UP"), "lo down in {}: {lo}", host.name());
        for family in ["-4", "-6"] {
            let routes = host
                .run("ip", &[family, "route", "show", "default"])
                .unwrap();
            assert_eq!(routes.trim(), "", "{} has a default route", host.name());
        }
    }

    assert!(reaches(&lab, "lb1", "app1"), "lb1 cannot ping app1");
    assert!(reaches(&lab, "client", "lb2"), "client cannot ping lb2");
    let lb2 = lab.host("lb2");
    assert!(lb1.ping(lb2.ipv6_link_local()).unwrap(), "IPv6 link-local");
    assert!(lb1.ping(lb2.ipv6_address()).unwrap(), "IPv6 ULA");
}

#[test]
fn cut_link_and_restore() {
    if handled_elsewhere("cut_link_and_restore") {
        return;
    }
    let lab = Lab::guide().unwrap();
    let lb2 = lab.host("lb2");
    assert!(reaches(&lab, "client", "lb2"));

    lb2.cut_link().unwrap();
    let link = lb2
        .run("ip", &["-o", "link", "show", "dev", "eth0"])
        .unwrap();
    assert!(
        link.contains("NO-CARRIER") && link.contains(",UP"),
        "pulled cable: admin up, no carrier: {link}"
    );
    assert!(
        !reaches(&lab, "client", "lb2"),
        "ping went through a cut link"
    );
    lb2.restore_link().unwrap();
    assert!(
        recovers(&lab, "client", "lb2"),
        "restored link does not carry"
    );

    lb2.isolate().unwrap();
    let link = lb2
        .run("ip", &["-o", "link", "show", "dev", "eth0"])
        .unwrap();
    assert!(link.contains("LOWER_UP"), "isolation keeps carrier: {link}");
    assert!(
        !reaches(&lab, "client", "lb2"),
        "ping went through an isolated port"
    );
    lb2.rejoin().unwrap();
    assert!(recovers(&lab, "client", "lb2"));

    lb2.set_interface_down().unwrap();
    assert!(
        !reaches(&lab, "client", "lb2"),
        "ping reached a downed interface"
    );
    lb2.set_interface_up().unwrap();
    assert_eq!(
        lb2.addresses().unwrap(),
        ["10.0.3.6/24", "fd00:0:0:3::6/64", "fe80::6/64"],
        "addresses survive down/up"
    );
    assert!(recovers(&lab, "client", "lb2"));
    let client = lab.host("client");
    assert!((0..3).any(|_| client.ping(lb2.ipv6_address()).unwrap()));
}

#[test]
fn loss_drops_and_restores() {
    if handled_elsewhere("loss_drops_and_restores") {
        return;
    }
    // Loss is an nftables rule in the host's namespace.
    let nft = ["/usr/local/sbin", "/usr/sbin", "/sbin"]
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ))
        .any(|dir| dir.join("nft").is_file());
    if !nft {
        eprintln!("SKIPPED (needs nft, from the nftables package): loss_drops_and_restores");
        return;
    }
    let lab = Lab::guide().unwrap();
    let app1 = lab.host("app1");
    app1.set_loss(100).unwrap();
    assert!(!reaches(&lab, "lb1", "app1"), "ping through 100% loss");
    app1.set_loss(0).unwrap();
    assert!(recovers(&lab, "lb1", "app1"), "loss 0 did not restore");

    app1.set_loss_directional(0, 30).unwrap();
    let rules = app1.run("nft", &["list", "ruleset"]).unwrap();
    assert!(rules.contains("numgen random mod 100 < 30"), "{rules}");
    assert!(!rules.contains("hook ingress"), "{rules}");
    app1.set_loss(0).unwrap();
    assert_eq!(app1.run("nft", &["list", "ruleset"]).unwrap().trim(), "");

    assert!(matches!(app1.set_loss(101), Err(Error::Invalid(_))));
}

#[test]
fn drop_removes_namespaces_and_processes() {
    if handled_elsewhere("drop_removes_namespaces_and_processes") {
        return;
    }
    let lab = Lab::guide().unwrap();
    let prefix = lab.prefix().to_owned();
    // A process the lab knows nothing about: started with the plain std API, never
    // guarded. Dropping the lab must still stop it.
    let mut stray = lab
        .host("app2")
        .command("sleep")
        .arg("30")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut guarded = lab
        .host("app1")
        .spawn({
            let mut command = lab.host("app1").command("sleep");
            command.arg("30");
            command
        })
        .unwrap();
    assert!(guarded.is_running());
    assert_eq!(namespaces_with_prefix(&prefix).len(), 6);

    let started = Instant::now();
    drop(lab);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "sleep obeys SIGTERM"
    );
    assert_eq!(namespaces_with_prefix(&prefix), Vec::<String>::new());
    assert!(
        stray.try_wait().unwrap().is_some(),
        "stray process survived"
    );
    assert!(
        guarded.try_wait().unwrap().is_some(),
        "guarded process survived"
    );
}

#[test]
fn child_guard_terminates_kills_and_reaps() {
    if handled_elsewhere("child_guard_terminates_kills_and_reaps") {
        return;
    }
    let lab = Lab::builder().host("a", "10.9.0.1/24").build().unwrap();
    let host = lab.host("a");
    let sleeper = |script: &str| {
        let mut command = host.command("sh");
        command.args(["-c", script]);
        host.spawn(command).unwrap()
    };

    // Dropped: SIGTERM is enough.
    let child = sleeper("exec sleep 30");
    let pid = child.id();
    let started = Instant::now();
    drop(child);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());

    // Ignores SIGTERM: SIGKILL after the grace period.
    let mut stubborn = sleeper("trap '' TERM; exec sleep 30");
    std::thread::sleep(Duration::from_millis(100)); // let the trap be set
    stubborn.set_grace(Duration::from_millis(200));
    let started = Instant::now();
    stubborn.terminate();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(stubborn.try_wait().unwrap().unwrap().signal(), Some(9));

    // kill(): immediate SIGKILL.
    let mut crash = sleeper("exec sleep 30");
    crash.kill();
    assert_eq!(crash.try_wait().unwrap().unwrap().signal(), Some(9));
    // Both are reaped; terminating again does nothing.
    crash.terminate();

    // kill_processes() stops whatever runs in the host, guarded or not.
    let mut a = sleeper("exec sleep 30");
    let mut b = host.command("sleep").arg("30").spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    while host.processes().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(host.kill_processes(), 2);
    assert!(host.processes().is_empty());
    // Out of the namespace means exiting; the exit itself may take a moment longer.
    assert!(a.wait_timeout(Duration::from_secs(1)).unwrap().is_some());
    assert!(b.wait().is_ok());
}

#[test]
fn run_errors_name_the_command_and_its_stderr() {
    if handled_elsewhere("run_errors_name_the_command_and_its_stderr") {
        return;
    }
    let lab = Lab::builder().host("a", "10.9.0.1/24").build().unwrap();
    let error = lab
        .host("a")
        .run("ip", &["link", "show", "dev", "nosuchdev"])
        .unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, Error::Command { .. }),
        "not a Command error: {error:?}"
    );
    assert!(message.contains("ip link show dev nosuchdev"), "{message}");
    assert!(message.contains("does not exist"), "{message}");
    assert!(message.contains(lab.host("a").namespace()), "{message}");

    let missing = lab.host("a").run("no-such-program-xyz", &[]);
    assert!(missing.is_err());
}

#[test]
fn two_labs_in_parallel_do_not_collide() {
    if handled_elsewhere("two_labs_in_parallel_do_not_collide") {
        return;
    }
    let build = || {
        std::thread::spawn(|| {
            let lab = Lab::guide().unwrap();
            // The same addresses exist in both labs; each only sees its own.
            assert!(reaches(&lab, "lb1", "app1"));
            lab.host("app1").cut_link().unwrap();
            assert!(!reaches(&lab, "lb1", "app1"));
            lab.prefix().to_owned()
        })
    };
    let (one, two) = (build(), build());
    let one = one.join().expect("lab one");
    let two = two.join().expect("lab two");
    assert_ne!(one, two);
    assert!(namespaces_with_prefix(&one).is_empty());
    assert!(namespaces_with_prefix(&two).is_empty());
}

#[test]
fn a_panic_still_cleans_up() {
    if handled_elsewhere("a_panic_still_cleans_up") {
        return;
    }
    let prefix = std::sync::Mutex::new(String::new());
    let result = std::panic::catch_unwind(|| {
        let lab = Lab::guide().unwrap();
        *prefix.lock().unwrap() = lab.prefix().to_owned();
        let _sleeper = lab.host("lb1").spawn({
            let mut command = lab.host("lb1").command("sleep");
            command.arg("30");
            command
        });
        panic!("a failing test");
    });
    assert!(result.is_err());
    let prefix = prefix.into_inner().unwrap();
    assert!(prefix.starts_with("bl"));
    assert_eq!(namespaces_with_prefix(&prefix), Vec::<String>::new());
}

#[test]
fn invalid_topologies_create_nothing() {
    if handled_elsewhere("invalid_topologies_create_nothing") {
        return;
    }
    // Other tests build labs meanwhile, so look only for this test's prefix.
    let error = Lab::builder()
        .prefix("blinv")
        .host("a", "10.0.3.5/24")
        .host("a", "10.0.3.6/24")
        .host("b", "not-an-address")
        .build()
        .unwrap_err();
    assert!(matches!(error, Error::Invalid(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("listed twice") && message.contains("not-an-address"),
        "{message}"
    );
    assert!(Lab::builder().prefix("Bad1").build().is_err());
    assert_eq!(namespaces_with_prefix("blinv"), Vec::<String>::new());
}

#[test]
fn custom_topology_and_prefix() {
    if handled_elsewhere("custom_topology_and_prefix") {
        return;
    }
    let lab = Lab::builder()
        .prefix("blc")
        .host("r1", "192.168.77.1/24")
        .host("r2", "192.168.77.2/24")
        .build()
        .unwrap();
    assert!(
        lab.prefix()
            .starts_with(&format!("blc{}x", std::process::id()))
    );
    assert_eq!(lab.hosts().len(), 2);
    let r2: IpAddr = lab.host("r2").address().into();
    assert!(lab.host("r1").ping(r2).unwrap());
    assert!(lab.try_host("r3").is_none());
    // The bridge sees every frame: tcpdump would attach here.
    let bridge = lab
        .switch_command("ip")
        .args(["-o", "link", "show", "dev", lab.bridge()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bridge.stdout).contains("br0"));
    lab.shutdown().unwrap();
}

#[test]
fn stale_namespaces_of_dead_runs_are_removed() {
    if handled_elsewhere("stale_namespaces_of_dead_runs_are_removed") {
        return;
    }
    // A pid that is certainly dead: a child we started and reaped.
    let mut gone = Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    let dead = gone.id();
    let me = std::process::id();
    let stale = format!("bls{dead}x0-lb1");
    let live = format!("bls{me}x999-lb1");
    for ns in [&stale, &live] {
        let status = Command::new("ip").args(["netns", "add", ns]).status();
        assert!(status.unwrap().success());
    }
    // A leftover daemon inside the stale namespace.
    let mut leftover = Command::new("ip")
        .args(["netns", "exec", &stale, "sleep", "30"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));

    let removed = Lab::remove_stale("bls").unwrap();
    assert_eq!(removed, std::slice::from_ref(&stale));
    let left = namespaces();
    assert!(!left.contains(&stale));
    assert!(left.contains(&live), "a live run's lab was removed");
    assert!(leftover.wait().is_ok());
    assert!(!leftover.try_wait().unwrap().unwrap().success());
    let _ = Command::new("ip").args(["netns", "del", &live]).status();
    assert!(Lab::remove_stale("no-digits-1").is_err());
}

#[test]
fn environment_is_usable_as_root() {
    if handled_elsewhere("environment_is_usable_as_root") {
        return;
    }
    Lab::check_environment().expect("root with iproute2 should be able to build labs");
}

/// Ctrl-C: a child process (this test binary, re-run on the helper below) builds a lab,
/// installs the clean-up, and is sent SIGINT.
#[test]
fn ctrl_c_removes_the_labs() {
    if handled_elsewhere("ctrl_c_removes_the_labs") {
        return;
    }
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "ctrl_c_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("BATON_LAB_CTRL_C_HELPER", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let prefix = lines
        .by_ref()
        .map_while(Result::ok)
        // libtest prints "test ctrl_c_helper ... " on the same line first.
        .find_map(|line| line.split_once("LAB ").map(|(_, prefix)| prefix.to_owned()))
        .expect("the helper printed its lab prefix");
    assert_eq!(namespaces_with_prefix(&prefix).len(), 3);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(2), "died of SIGINT: {status:?}");
    assert_eq!(namespaces_with_prefix(&prefix), Vec::<String>::new());
}

/// Only does something when started by `ctrl_c_removes_the_labs`.
#[test]
fn ctrl_c_helper() {
    if std::env::var_os("BATON_LAB_CTRL_C_HELPER").is_none() {
        return;
    }
    Lab::install_ctrlc_cleanup().unwrap();
    Lab::install_ctrlc_cleanup().unwrap(); // idempotent
    let lab = Lab::builder()
        .host("a", "10.9.0.1/24")
        .host("b", "10.9.0.2/24")
        .build()
        .unwrap();
    let _sleeper = lab.host("a").spawn({
        let mut command = lab.host("a").command("sleep");
        command.arg("30");
        command
    });
    println!("LAB {}", lab.prefix());
    std::thread::sleep(Duration::from_secs(30));
    panic!("no SIGINT arrived");
}

/// The rootless lab: a user without root runs the lab tests instead of skipping them. This
/// binary runs two of its own tests as such a user (`nobody` under root, as in CI); each
/// re-runs itself as root of a user namespace, where the guide's topology comes up and the
/// netdev-family nftables rules of `set_loss` work, and passes.
#[test]
fn a_user_without_root_runs_the_lab_tests_in_a_user_namespace() {
    let tests = ["guide_topology_comes_up", "loss_drops_and_restores"];
    let output = baton_lab::run_tests_without_root(&tests);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let all = format!(
        "{}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    if !nix::unistd::geteuid().is_root()
        && stderr.contains("SKIPPED (needs root or user namespaces)")
    {
        eprintln!("SKIPPED (the kernel forbids user namespaces): {all}");
        return;
    }
    assert!(output.status.success(), "{all}");
    assert!(stdout.contains("test result: ok. 2 passed"), "{all}");
    for test in tests {
        assert!(
            stderr.contains(&format!(
                "{test}: ran as root of a user namespace (rootless lab): passed"
            )),
            "{test} did not run in a user namespace:\n{all}"
        );
    }
}
