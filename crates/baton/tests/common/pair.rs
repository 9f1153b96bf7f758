//! The guide's pair for fault tests: lb1 (priority 100) and lb2 (150, the master) on
//! VRRPv3 every 0.2 s, running baton or keepalived from the same keepalived.conf, that a
//! test can kill -9 and restart, and whose roles, liveness and memory it can check.

use std::time::{Duration, Instant};

use baton_lab::{Host, Lab};

use super::chaos::{rss_kib, status};
use super::holders::holders_now;
use super::{Daemon, Workdir, fail, keepalived_conf, start_baton, start_keepalived, wait_for};

pub(crate) const INTERVAL: Duration = Duration::from_millis(200);
/// A daemon may grow by this much over a fault (issue 14: "bounded memory").
pub(crate) const MEMORY_GROWTH_KIB: u64 = 20 * 1024;
pub(crate) const LB1: &str = "10.0.3.5";
pub(crate) const LB2: &str = "10.0.3.6";

/// RFC 5798 §6.1: Master_Down_Interval of a backup of `priority`.
pub(crate) fn master_down(priority: u32) -> Duration {
    INTERVAL * 3 + INTERVAL * (256 - priority) / 256
}

/// Which VRRP daemon runs on both load balancers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vrrpd {
    Baton,
    Keepalived,
}

impl Vrrpd {
    pub(crate) fn start(self, host: &Host, dir: &Workdir, conf: &str) -> Daemon {
        match self {
            Vrrpd::Baton => start_baton(host, dir, conf),
            Vrrpd::Keepalived => start_keepalived(host, dir, conf),
        }
    }
}

/// The pair: lb1 (priority 100) and lb2 (150), settled with lb2 holding the VIP alone.
pub(crate) struct Pair {
    pub(crate) kind: Vrrpd,
    pub(crate) lb1: Daemon,
    pub(crate) lb2: Daemon,
    confs: [String; 2],
}

impl Pair {
    /// `extra` lines go into lb1's and lb2's instance.
    pub(crate) fn start(lab: &Lab, dir: &Workdir, kind: Vrrpd, extra: [&str; 2]) -> Pair {
        let confs = [
            keepalived_conf("lb1", 3, 100, "0.2", extra[0]),
            keepalived_conf("lb2", 3, 150, "0.2", extra[1]),
        ];
        let lb1 = kind.start(lab.host("lb1"), dir, &confs[0]);
        let lb2 = kind.start(lab.host("lb2"), dir, &confs[1]);
        let pair = Pair {
            kind,
            lb1,
            lb2,
            confs,
        };
        let settled = || holders_now(lab) == ["lb2"];
        if wait_for(Duration::from_secs(10), settled).is_none() {
            fail(
                "lb2 (priority 150) never held the VIP alone",
                &pair.daemons(),
            );
        }
        std::thread::sleep(INTERVAL * 5);
        if !settled() {
            fail("the pair did not stay settled on lb2", &pair.daemons());
        }
        if kind == Vrrpd::Baton {
            pair.expect_roles(dir, "lb2");
        }
        pair
    }

    pub(crate) fn daemons(&self) -> [&Daemon; 2] {
        [&self.lb1, &self.lb2]
    }

    pub(crate) fn daemon_mut(&mut self, host: &str) -> &mut Daemon {
        if host == "lb1" {
            &mut self.lb1
        } else {
            &mut self.lb2
        }
    }

    /// kill -9 of every process in `host` (keepalived's parent and VRRP child alike).
    pub(crate) fn kill_9(&mut self, lab: &Lab, host: &str) {
        use nix::sys::signal::{Signal, kill};
        let lab_host = lab.host(host);
        let pids: Vec<nix::unistd::Pid> = lab_host
            .processes()
            .into_iter()
            .map(|pid| nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX)))
            .collect();
        // Frozen first: keepalived's VRRP child gets SIGTERM when its parent dies
        // (PR_SET_PDEATHSIG) and would leave gracefully, with a priority-0 advert.
        for &signal in &[Signal::SIGSTOP, Signal::SIGKILL] {
            for &pid in &pids {
                let _ = kill(pid, signal);
            }
        }
        self.daemon_mut(host).child.kill();
        if wait_for(Duration::from_secs(5), || lab_host.processes().is_empty()).is_none() {
            fail(
                &format!("{host} kept processes after kill -9"),
                &self.daemons(),
            );
        }
    }

    /// Starts `host`'s daemon again from its file; when it is ready (baton: its control
    /// socket answers; keepalived: when spawned).
    pub(crate) fn restart(&mut self, lab: &Lab, dir: &Workdir, host: &str) -> Instant {
        let conf = self.confs[usize::from(host == "lb2")].clone();
        if self.kind == Vrrpd::Keepalived {
            // keepalived refuses to start while the pid in its files is alive, and its
            // killed VRRP child may linger as a zombie here (nothing in this container
            // reaps orphans as a host's init would): start as after a reboot.
            for file in ["keepalived", "vrrp"] {
                let _ = std::fs::remove_file(dir.path(&format!("{host}-{file}.pid")));
            }
        }
        *self.daemon_mut(host) = self.kind.start(lab.host(host), dir, &conf);
        if self.kind == Vrrpd::Baton {
            let socket = dir.path(&format!("{host}.sock"));
            let answers = || !status(&socket).is_null();
            if wait_for(Duration::from_secs(10), answers).is_none() {
                fail(
                    &format!("the restarted {host} never answered"),
                    &self.daemons(),
                );
            }
        }
        Instant::now()
    }

    /// Both daemons still run.
    pub(crate) fn expect_alive(&mut self) {
        for host in ["lb1", "lb2"] {
            if !self.daemon_mut(host).child.is_running() {
                fail(&format!("the daemon in {host} died"), &self.daemons());
            }
        }
    }

    pub(crate) fn rss(&self) -> [u64; 2] {
        [rss_kib(self.lb1.child.id()), rss_kib(self.lb2.child.id())]
    }

    /// Neither daemon grew by more than [`MEMORY_GROWTH_KIB`] since `before`.
    pub(crate) fn expect_memory_bounded(&self, before: [u64; 2]) {
        let after = self.rss();
        eprintln!(
            "  VmRSS lb1 {} -> {} KiB, lb2 {} -> {} KiB",
            before[0], after[0], before[1], after[1]
        );
        for (i, host) in ["lb1", "lb2"].into_iter().enumerate() {
            if after[i] > before[i] + MEMORY_GROWTH_KIB {
                fail(
                    &format!(
                        "{host}'s memory grew from {} to {} KiB",
                        before[i], after[i]
                    ),
                    &self.daemons(),
                );
            }
        }
    }

    /// baton's own view agrees with the addresses: `master` in MASTER, the other in
    /// BACKUP naming it as the master. Status lags the engine by one input at most, so
    /// this waits up to 2 s.
    pub(crate) fn expect_roles(&self, dir: &Workdir, master: &str) {
        let backup = if master == "lb1" { "lb2" } else { "lb1" };
        let address = if master == "lb1" { LB1 } else { LB2 };
        let agree = || {
            let (m, b) = (host_status(dir, master), host_status(dir, backup));
            m["vrrp"][0]["state"] == "MASTER"
                && b["vrrp"][0]["state"] == "BACKUP"
                && b["vrrp"][0]["master"] == address
        };
        if wait_for(Duration::from_secs(2), agree).is_none() {
            fail(
                &format!(
                    "status disagrees with {master} as master: {master}: {}, {backup}: {}",
                    host_status(dir, master),
                    host_status(dir, backup)
                ),
                &self.daemons(),
            );
        }
    }
}

/// `baton status --json` of the daemon in `host`.
pub(crate) fn host_status(dir: &Workdir, host: &str) -> serde_json::Value {
    status(&dir.path(&format!("{host}.sock")))
}

/// A counter of the first VRRP instance in a status.
pub(crate) fn counter(status: &serde_json::Value, name: &str) -> u64 {
    status["vrrp"][0][name].as_u64().unwrap_or(0)
}
