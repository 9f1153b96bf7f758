//! Reloads that fail change nothing (issue 14): on the guide's lab lb2 is master (150) and
//! lb1 backup (100), adverts every 100 ms. A reload of lb2 that cannot apply (a tracked
//! interface that does not exist, a script user unknown on the host, a track file in a
//! directory that does not exist, a listener that cannot bind, a DR virtual server without
//! an interface) is refused before anything is torn down: lb2 keeps the VIP and keeps
//! advertising (lb1 never becomes master), `baton reload` fails and says nothing changed,
//! and a good reload afterwards applies.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use baton_lab::{Child, Host, Lab};
use common::{
    Daemon, VIP, Workdir, fail, guide_lab, holds, keepalived_conf, start_baton, wait_for,
};

/// A second instance for the good reload: its own VRID and VIP.
const SECOND: &str = "vrrp_instance VI_2 {\n    interface eth0\n    virtual_router_id 52\n    \
                      priority 150\n    advert_int 0.1\n    virtual_ipaddress {\n        \
                      10.0.3.101/24\n    }\n}\n";

struct Pair {
    lab: Lab,
    dir: Workdir,
    lb1: Daemon,
    lb2: Daemon,
}

impl Pair {
    /// Both load balancers, from keepalived.conf files; lb2's is `lb2_conf`.
    fn start(test: &str, lb2_conf: &str) -> Option<Pair> {
        let lab = guide_lab(test)?;
        let dir = Workdir::new(test);
        let lb1 = start_baton(
            lab.host("lb1"),
            &dir,
            &keepalived_conf("lb1", 3, 100, "0.1", ""),
        );
        let lb2 = start_baton(lab.host("lb2"), &dir, lb2_conf);
        let pair = Pair { lab, dir, lb1, lb2 };
        pair.wait_settled();
        Some(pair)
    }

    /// Both from TOML files (`lb2` is lb2's).
    fn start_toml(test: &str, lb2: &str) -> Option<Pair> {
        let lab = guide_lab(test)?;
        let dir = Workdir::new(test);
        let lb1 = common::start_baton_toml(lab.host("lb1"), &dir, &toml_instance(100, ""));
        let lb2 = common::start_baton_toml(lab.host("lb2"), &dir, lb2);
        let pair = Pair { lab, dir, lb1, lb2 };
        pair.wait_settled();
        Some(pair)
    }

    fn wait_settled(&self) {
        let settled = wait_for(Duration::from_secs(10), || {
            holds(self.lab.host("lb2"), VIP) && !holds(self.lab.host("lb1"), VIP)
        });
        if settled.is_none() {
            fail("lb2 never became master", &self.daemons());
        }
    }

    fn daemons(&self) -> [&Daemon; 2] {
        [&self.lb1, &self.lb2]
    }

    /// `baton reload` on lb2: whether it succeeded, and what it printed.
    fn reload(&self) -> (bool, String) {
        let lb2 = self.lab.host("lb2");
        let mut command = lb2.command(env!("CARGO_BIN_EXE_baton"));
        command
            .args(["reload", "--control"])
            .arg(self.dir.path("lb2.sock"));
        let output = command.output().expect("baton reload");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    }

    /// Writes `conf` as lb2's file (`file`: lb2.conf or lb2.toml), reloads, and checks that
    /// the reload failed with `expected` in its message and changed nothing: lb2 keeps the
    /// VIP and keeps advertising for the next 1.5 s (lb1 would take over after 0.34 s of
    /// silence), and its instance did not change state.
    fn assert_refused(&self, file: &str, conf: &str, expected: &str) {
        let daemons = self.daemons();
        let transitions = |daemon: &Daemon| daemon.log_text().matches(" -> ").count();
        let before = transitions(&self.lb2);
        let lb1_before = transitions(&self.lb1);
        let path = self.dir.write(file, conf);
        // The file itself is valid: only the host it runs on says it cannot apply.
        let flag = if file.ends_with(".toml") {
            "--config"
        } else {
            "--keepalived-conf"
        };
        let check = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["check", flag])
            .arg(&path)
            .output()
            .expect("baton check");
        if !check.status.success() {
            fail(
                &format!(
                    "baton check refused the file: {}",
                    String::from_utf8_lossy(&check.stderr)
                ),
                &daemons,
            );
        }
        let (ok, reply) = self.reload();
        if ok || !reply.contains("nothing changed") || !reply.contains(expected) {
            fail(
                &format!("a bad reload answered ok={ok}: {reply:?}; expected {expected:?}"),
                &daemons,
            );
        }
        let watch = Instant::now();
        while watch.elapsed() < Duration::from_millis(1500) {
            if !holds(self.lab.host("lb2"), VIP) || holds(self.lab.host("lb1"), VIP) {
                fail(
                    &format!("the VIP moved {:?} after a failed reload", watch.elapsed()),
                    &daemons,
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if transitions(&self.lb1) != lb1_before {
            fail("lb1 changed state during a failed reload", &daemons);
        }
        if transitions(&self.lb2) != before {
            fail("lb2's instance changed state on a failed reload", &daemons);
        }
        if !self
            .lb2
            .log_text()
            .contains("reload failed, nothing changed")
        {
            fail("the failed reload was not logged as such", &daemons);
        }
    }

    /// After a refused reload: the file as it runs is "unchanged", and a good change
    /// applies (a new instance takes its VIP) without touching the running VI_1.
    fn assert_good_reload_applies(&self, file: &str, original: &str, good: &str) {
        let daemons = self.daemons();
        let masters = |daemon: &Daemon| daemon.log_text().matches("-> MASTER").count();
        let lb1_before = masters(&self.lb1);
        self.dir.write(file, original);
        let (ok, reply) = self.reload();
        if !ok || !reply.contains("unchanged") {
            fail(
                &format!("reverting the file answered ok={ok}: {reply:?}"),
                &daemons,
            );
        }
        self.dir.write(file, good);
        let (ok, reply) = self.reload();
        if !ok || !reply.contains("reloaded") {
            fail(
                &format!("the good reload answered ok={ok}: {reply:?}"),
                &daemons,
            );
        }
        let second = "10.0.3.101/24";
        if wait_for(Duration::from_secs(5), || {
            holds(self.lab.host("lb2"), second)
        })
        .is_none()
        {
            fail(
                "the good reload's new instance never took its VIP",
                &daemons,
            );
        }
        if !holds(self.lab.host("lb2"), VIP) || masters(&self.lb1) != lb1_before {
            fail("the good reload moved VI_1's VIP", &daemons);
        }
    }
}

fn lb2_conf(extra_instance: &str, top: &str) -> String {
    format!(
        "{top}{}",
        keepalived_conf("lb2", 3, 150, "0.1", extra_instance)
    )
}

/// A failing reload of a keepalived.conf that adds `extra_instance` to VI_1 and `top`
/// blocks before it, then the way back and a good reload.
fn refused_then_good(test: &str, extra_instance: &str, top: &str, expected: &str) {
    let original = lb2_conf("", "");
    let Some(pair) = Pair::start(test, &original) else {
        return;
    };
    pair.assert_refused("lb2.conf", &lb2_conf(extra_instance, top), expected);
    pair.assert_good_reload_applies("lb2.conf", &original, &format!("{original}{SECOND}"));
}

#[test]
fn a_tracked_interface_that_does_not_exist_is_refused() {
    // The typo: eht0 for eth0.
    refused_then_good(
        "reload-bad-interface",
        "    track_interface {\n        eht0\n    }\n",
        "",
        "eht0",
    );
}

#[test]
fn a_script_user_that_does_not_exist_is_refused() {
    refused_then_good(
        "reload-bad-user",
        "    track_script {\n        chk\n    }\n",
        "vrrp_script chk {\n    script \"/bin/true\"\n    interval 1\n    \
         user baton-no-such-user\n}\n",
        "baton-no-such-user",
    );
}

#[test]
fn a_track_file_in_a_directory_that_does_not_exist_is_refused() {
    refused_then_good(
        "reload-bad-track-file",
        "    track_file {\n        state\n    }\n",
        "track_file state {\n    file \"/baton-no-such-dir/state\"\n    init_file 0\n}\n",
        "/baton-no-such-dir",
    );
}

#[test]
fn a_dr_virtual_server_without_an_interface_is_refused() {
    // No vrrp_instance has 10.0.3.200: DR has no interface to forward frames on.
    refused_then_good(
        "reload-bad-dr",
        "",
        "virtual_server 10.0.3.200 80 {\n    lb_kind DR\n    protocol TCP\n    \
         real_server 10.0.3.11 80 {\n        weight 1\n    }\n}\n",
        "no vrrp_instance has it",
    );
}

/// lb's baton.toml: VI_1 and whatever `rest` adds (frontends, backends).
fn toml_instance(priority: u8, rest: &str) -> String {
    format!(
        "[[vrrp]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvirtual_router_id = 51\nversion = 3\n\
         priority = {priority}\nadvert_int = 0.1\nvirtual_ipaddress = [\"{VIP}\"]\n\n{rest}"
    )
}

fn frontend(name: &str, listen: &str) -> String {
    format!("[[frontend]]\nname = \"{name}\"\nlisten = \"{listen}\"\nbackend = \"app\"\n\n")
}

const BACKEND: &str = "[[backend]]\nname = \"app\"\nservers = [\"10.0.3.11:8080\"]\n\n";

/// A plain listener (no SO_REUSEPORT) on every address of `host`'s port `port`.
fn occupy(host: &Host, port: u16) -> Child {
    let mut command = host.command("python3");
    command
        .args([
            "-c",
            "import socket, sys, time\n\
             s = socket.socket()\n\
             s.bind(('0.0.0.0', int(sys.argv[1])))\n\
             s.listen()\n\
             time.sleep(600)\n",
            &port.to_string(),
        ])
        .stdin(Stdio::null());
    host.spawn(command).expect("python3 listener")
}

#[test]
fn a_listener_that_cannot_bind_is_refused() {
    let original = toml_instance(
        150,
        &format!("{}{BACKEND}", frontend("web", "10.0.3.100:80")),
    );
    let Some(pair) = Pair::start_toml("reload-bad-listener", &original) else {
        return;
    };
    let lb2 = pair.lab.host("lb2");
    let _blocker = occupy(lb2, 9000);
    let listening = wait_for(Duration::from_secs(5), || {
        lb2.run("ss", &["-Htln", "sport = :9000"])
            .is_ok_and(|out| !out.trim().is_empty())
    });
    if listening.is_none() {
        fail("the blocking listener never opened", &pair.daemons());
    }
    let bad = toml_instance(
        150,
        &format!(
            "{}{}{BACKEND}",
            frontend("web", "10.0.3.100:80"),
            frontend("api", "10.0.3.100:9000")
        ),
    );
    pair.assert_refused("lb2.toml", &bad, "10.0.3.100:9000");
    // The running frontend kept serving its listener all along.
    let status = lb2
        .run(
            env!("CARGO_BIN_EXE_baton"),
            &[
                "status",
                "--json",
                "--control",
                pair.dir.path("lb2.sock").to_str().expect("utf-8"),
            ],
        )
        .expect("baton status");
    if status.contains("\"api\"") {
        fail(
            &format!("the refused frontend shows in the status: {status}"),
            &pair.daemons(),
        );
    }
    let good = format!(
        "{original}[[vrrp]]\nname = \"VI_2\"\ninterface = \"eth0\"\nvirtual_router_id = 52\n\
         version = 3\npriority = 150\nadvert_int = 0.1\nvirtual_ipaddress = [\"10.0.3.101/24\"]\n"
    );
    pair.assert_good_reload_applies("lb2.toml", &original, &good);
}
