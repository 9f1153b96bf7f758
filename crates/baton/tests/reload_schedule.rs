//! keepalived's `reload_time_file` / `reload_repeat`, baton beside keepalived 2.2.7 on the
//! same keepalived.conf: a time written into the file makes the daemon reload then (a second
//! instance added to the file meanwhile gets its VIP, never before that time) and delete the
//! file; with `reload_repeat` a time of day stays in the file and is scheduled again for the
//! next day; writing another time moves the reload and deleting the file cancels it.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_lab::{Host, Lab};
use common::{Daemon, KINDS, Kind, Workdir, fail, holds, wait_for};
use jiff::{SignedDuration, Timestamp};

const FIRST_VIP: &str = "10.0.3.100/24";
const SECOND_VIP: &str = "10.0.3.101/24";

/// One load balancer is enough: what is tested is when it reloads.
fn lab(test: &str) -> Option<Lab> {
    if baton_lab::handled_elsewhere(test) {
        return None;
    }
    Some(
        Lab::builder()
            .host("lb1", "10.0.3.5/24")
            .build()
            .expect("lab"),
    )
}

/// keepalived.conf with `reload_time_file FILE` (and `reload_repeat`): VI_1 and, with
/// `second`, VI_2 with its own VIP. Both alone on the link, so both become master.
fn conf(file: &Path, repeat: bool, second: bool) -> String {
    let instance = |name: &str, vrid: u8, vip: &str| {
        format!(
            "vrrp_instance {name} {{\n    state BACKUP\n    interface eth0\n    \
             virtual_router_id {vrid}\n    priority 150\n    advert_int 0.1\n    \
             virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
        )
    };
    let mut text = format!(
        "global_defs {{\n    router_id lb1\n    vrrp_version 3\n    reload_time_file {}\n{}}}\n",
        file.display(),
        if repeat { "    reload_repeat\n" } else { "" }
    );
    text.push_str(&instance("VI_1", 51, FIRST_VIP));
    if second {
        text.push_str(&instance("VI_2", 52, SECOND_VIP));
    }
    text
}

/// The file `Kind::start` wrote the configuration to, which a reload reads again.
fn conf_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Baton => "lb1.conf",
        Kind::Keepalived => "lb1-keepalived.conf",
    }
}

/// A UTC time of day `seconds` from now, in whole seconds (what the file can say), as the
/// file's line, and as a timestamp.
fn time_ahead(seconds: i64) -> (String, Timestamp) {
    let now = Timestamp::now().as_second();
    let at = Timestamp::from_second(now + seconds).expect("time");
    (format!("{}\n", at.strftime("%H:%M:%SZ")), at)
}

/// One daemon with its files.
struct Run {
    /// First, so that it stops before its directory goes.
    daemon: Daemon,
    kind: Kind,
    dir: Workdir,
    file: PathBuf,
}

impl Run {
    fn start(kind: Kind, host: &Host, test: &str, repeat: bool) -> Run {
        let dir = Workdir::new(test);
        let watched = dir.path("schedule");
        std::fs::create_dir(&watched).expect("dir");
        let file = watched.join("reload_at");
        let daemon = kind.start(host, &dir, &conf(&file, repeat, false));
        let run = Run {
            daemon,
            kind,
            dir,
            file,
        };
        if wait_for(Duration::from_secs(15), || holds(host, FIRST_VIP)).is_none() {
            run.fail("VI_1 never took its VIP");
        }
        run
    }

    fn fail(&self, message: &str) -> ! {
        fail(&format!("{:?}: {message}", self.kind), &[&self.daemon]);
    }

    /// The configuration file changes; the daemon reads it at its next reload.
    fn rewrite(&self, repeat: bool, second: bool) {
        self.dir
            .write(conf_name(self.kind), &conf(&self.file, repeat, second));
    }

    /// baton's `scheduled_reload` in `baton status --json` (baton only).
    fn scheduled(&self) -> serde_json::Value {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["status", "--json", "--control"])
            .arg(self.dir.path("lb1.sock"))
            .output()
            .expect("baton status");
        let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        status["scheduled_reload"].clone()
    }

    /// Waits until the daemon says it scheduled a reload for `at` (baton: the status;
    /// keepalived: `Scheduling reload for AT` or `Reload time updated from ... to AT`).
    fn wait_scheduled(&self, at: Timestamp) {
        let local = keepalived_time(at);
        let seen = wait_for(Duration::from_secs(10), || match self.kind {
            Kind::Baton => {
                let scheduled = self.scheduled();
                scheduled["at"]
                    .as_str()
                    .and_then(|text| text.parse::<Timestamp>().ok())
                    == Some(at)
                    && scheduled["file"].as_str() == Some(&self.file.display().to_string())
            }
            Kind::Keepalived => {
                let log = self.daemon.log_text();
                log.contains(&format!("for {local}")) || log.contains(&format!("to {local}"))
            }
        });
        if seen.is_none() {
            self.fail(&format!("no reload scheduled for {at}"));
        }
    }

    /// Whether keepalived logged the reload for `at` as scheduled twice (it fired early, and
    /// the re-read file still named a time ahead today).
    fn keepalived_rescheduled(&self, at: Timestamp) -> bool {
        let local = keepalived_time(at);
        self.daemon
            .log_text()
            .matches(&format!("Scheduling reload for {local}"))
            .count()
            >= 2
    }

    /// Writes a time of day `seconds` ahead into the file and waits until the daemon has
    /// scheduled the reload for it.
    fn schedule_in(&self, seconds: i64) -> Timestamp {
        let (line, due) = time_ahead(seconds);
        std::fs::write(&self.file, line).expect("write");
        self.wait_scheduled(due);
        due
    }

    /// Waits until the second instance's VIP is here, which only a reload brings, and
    /// checks that it did not come before `due`.
    fn wait_reloaded(&self, host: &Host, due: Timestamp) {
        if wait_for(Duration::from_secs(15), || holds(host, SECOND_VIP)).is_none() {
            self.fail(&format!("no reload at {due}: VI_2 never took its VIP"));
        }
        let seen = Timestamp::now();
        if seen < due {
            self.fail(&format!(
                "reloaded at {seen}, before the time in the file ({due})"
            ));
        }
    }
}

/// Runs `scenario` with baton, then with keepalived, each from its own files; each must
/// give its VIPs up when it stops.
fn with_each_kind(test: &str, repeat: bool, scenario: impl Fn(&Run, &Host)) {
    let Some(lab) = lab(test) else { return };
    let host = lab.host("lb1");
    for kind in KINDS {
        if kind == Kind::Keepalived && common::skip_without_tool("keepalived", "keepalived", test) {
            continue;
        }
        let run = Run::start(kind, host, test, repeat);
        scenario(&run, host);
        drop(run);
        if wait_for(Duration::from_secs(10), || !holds(host, FIRST_VIP)).is_none() {
            panic!("{kind:?} left its VIP behind");
        }
    }
}

#[test]
fn a_scheduled_reload_comes_at_its_time_and_deletes_the_file() {
    let test = "a_scheduled_reload_comes_at_its_time_and_deletes_the_file";
    with_each_kind(test, false, |run, host| {
        run.rewrite(false, true);
        let due = run.schedule_in(3);
        // Scheduled, not done: the file changed, the instances did not.
        if Timestamp::now() < due - SignedDuration::from_millis(300) && holds(host, SECOND_VIP) {
            run.fail("reloaded as soon as the file was written");
        }
        run.wait_reloaded(host, due);
        if wait_for(Duration::from_secs(5), || !run.file.exists()).is_none() {
            run.fail("the file is still there after its reload");
        }
        if run.kind == Kind::Baton {
            let log = run.daemon.log_text();
            if !log.contains("reload scheduled for") || !log.contains("reloading as scheduled") {
                run.fail("the log does not say when the reload was scheduled and done");
            }
            if !run.scheduled().is_null() {
                run.fail("the status still shows a reload after it was done");
            }
        }
    });
}

#[test]
fn reload_repeat_keeps_a_time_of_day_and_deleting_the_file_cancels() {
    let test = "reload_repeat_keeps_a_time_of_day_and_deleting_the_file_cancels";
    with_each_kind(test, true, |run, host| {
        run.rewrite(true, true);
        let due = run.schedule_in(3);
        run.wait_reloaded(host, due);
        // A time of day with reload_repeat: the file stays, and the same time tomorrow is
        // scheduled when the watch restarts after the reload.
        if !run.file.exists() {
            run.fail("reload_repeat: the file was deleted");
        }
        if run.kind == Kind::Keepalived && run.keepalived_rescheduled(due) {
            // keepalived 2.2.7's timer can fire up to a second early (it rounds to whole
            // seconds); the file, re-read after that reload, then names a time still ahead
            // today, scheduled again instead of tomorrow's. Its quirk, not what this test
            // measures of baton: say so and go on.
            eprintln!(
                "keepalived 2.2.7 reloaded before {due} and scheduled the same time again; \
                 tomorrow's reload not awaited"
            );
        } else {
            run.wait_scheduled(due + SignedDuration::from_hours(24));
        }
        if run.kind == Kind::Baton && run.scheduled()["daily"] != true {
            run.fail("the status does not say the reload repeats daily");
        }

        // Another time moves the reload; deleting the file cancels it: the file now without
        // VI_2 is not read, so VI_2 keeps its VIP.
        run.rewrite(true, false);
        let due = run.schedule_in(3);
        std::fs::remove_file(&run.file).expect("delete");
        let cancelled = wait_for(Duration::from_secs(5), || match run.kind {
            Kind::Baton => run.scheduled().is_null(),
            Kind::Keepalived => run
                .daemon
                .log_text()
                .contains("Cancelling reload scheduled for"),
        });
        if cancelled.is_none() {
            run.fail("deleting the file did not cancel the reload");
        }
        let after = (due + SignedDuration::from_secs(2)).duration_since(Timestamp::now());
        std::thread::sleep(Duration::try_from(after).unwrap_or_default());
        if !holds(host, SECOND_VIP) {
            run.fail("reloaded after the file was deleted");
        }
    });
}

/// `at` as keepalived logs a scheduled reload: local time, to the second.
fn keepalived_time(at: Timestamp) -> String {
    at.to_zoned_datetime(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}
