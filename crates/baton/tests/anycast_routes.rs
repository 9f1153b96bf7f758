//! `[[anycast]]` on one load balancer, without a routing daemon (issue 12): baton puts the
//! prefix on `lo`, writes its route into table 100 with protocol 201 while the tracked
//! frontend can serve, withdraws it when the frontend's servers fail and announces it again
//! when they come back. On SIGTERM the route goes first, and the frontend drains only
//! after `withdraw_delay`; the address leaves `lo` at the very end. The operator's
//! `baton anycast withdraw|drain|announce` holds a section withdrawn, across a reload and a
//! restart; a tracked script that fails and a tracked file that reads non-zero withdraw it
//! too. With `local_route` the prefix is a local route instead of an address on `lo`.
//! (`anycast_bgp.rs` puts bird2 and routers around it.)

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use baton_lab::Host;
use common::{Daemon, Workdir, start_app, start_baton_toml, status_of, wait_for};
use nix::sys::signal::Signal;

const APP_PORT: u16 = 8080;

/// The frontend the sections track, and its backend checked every 0.2 s.
fn service() -> String {
    format!(
        r#"[[frontend]]
name = "web"
listen = "10.0.9.100:80"
backend = "app"

{}"#,
        common::bird::checked_backend(&format!("10.0.3.11:{APP_PORT}"))
    )
}

fn config() -> String {
    service()
        + r#"
[[anycast]]
name = "web"
prefixes = ["10.0.9.100/32", "fd00:9::100/128"]
track_frontend = ["web"]
withdraw_delay = 0.8
"#
}

/// Baton's routes in table 100, one line each, as `ip route` shows them.
fn routes(lb: &Host) -> Vec<String> {
    routes_in(lb, "100")
}

/// baton's routes (protocol 201) in `table`, IPv4 then IPv6.
fn routes_in(lb: &Host, table: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for family in ["-4", "-6"] {
        let out = lb
            .run(
                "ip",
                &[family, "route", "show", "table", table, "proto", "201"],
            )
            .unwrap_or_default();
        lines.extend(out.lines().map(str::to_owned));
    }
    lines
}

fn on_lo(lb: &Host) -> bool {
    lb.run("ip", &["address", "show", "dev", "lo"])
        .unwrap_or_default()
        .contains("10.0.9.100/32")
}

fn wait_routes(lb: &Host, baton: &Daemon, count: usize, after: &str) {
    let expected = format!("{count} anycast routes after {after}");
    settle(
        baton,
        &expected,
        || routes(lb),
        |routes| routes.len() == count,
    );
}

/// Waits (10 s at most) until what `read` reads is `done`; fails with the last reading.
fn settle<T: std::fmt::Debug>(
    baton: &Daemon,
    expected: &str,
    mut read: impl FnMut() -> T,
    done: impl Fn(&T) -> bool,
) {
    let mut last = None;
    let settled = wait_for(Duration::from_secs(10), || {
        let now = read();
        let is_done = done(&now);
        last = Some(now);
        is_done
    });
    if settled.is_none() {
        common::fail(&format!("expected {expected}, found {last:?}"), &[baton]);
    }
}

#[test]
fn routes_follow_the_frontend_and_leave_first_at_a_stop() {
    let test = "routes_follow_the_frontend_and_leave_first_at_a_stop";
    let Some(lab) = common::guide_lab(test) else {
        return;
    };
    let dir = Workdir::new("anycast-routes");
    let lb = lab.host("lb1");
    let mut app = start_app(lab.host("app1"), APP_PORT);
    let mut baton = start_baton_toml(lb, &dir, &config());

    wait_routes(lb, &baton, 2, "the start");
    let shown = routes(lb);
    assert!(
        shown.iter().any(|r| r.starts_with("10.0.9.100 dev lo")),
        "{shown:?}"
    );
    assert!(
        shown.iter().any(|r| r.starts_with("fd00:9::100 dev lo")),
        "{shown:?}"
    );
    assert!(on_lo(lb), "the address is on lo");

    let anycast = |dir: &Workdir| status_of(lb, dir)["anycast"][0].clone();
    assert_eq!(anycast(&dir)["announced"], true, "{}", anycast(&dir));

    // The only server fails: the frontend cannot serve, the routes go.
    drop(app);
    wait_routes(lb, &baton, 0, "the server's failure");
    assert!(on_lo(lb), "the address stays while baton runs");
    let shown = anycast(&dir);
    assert_eq!(shown["announced"], false, "{shown}");
    assert_eq!(shown["waiting_on"][0], "frontend web: down", "{shown}");
    app = start_app(lab.host("app1"), APP_PORT);
    wait_routes(lb, &baton, 2, "the server's return");

    // SIGTERM: the routes go at once; the daemon goes on for withdraw_delay (and the
    // drain) before it exits, and takes the address from lo last.
    let signalled = Instant::now();
    baton.child.signal(Signal::SIGTERM).expect("SIGTERM");
    wait_routes(lb, &baton, 0, "SIGTERM");
    let withdrawn = signalled.elapsed();
    let exited = baton
        .child
        .wait_timeout(Duration::from_secs(20))
        .expect("wait");
    let stopped = signalled.elapsed();
    assert!(exited.is_some(), "baton did not stop");
    eprintln!("  routes withdrawn {withdrawn:?} after SIGTERM; baton exited after {stopped:?}");
    assert!(
        stopped >= Duration::from_millis(800),
        "baton exited {stopped:?} after SIGTERM, before its withdraw_delay of 0.8 s"
    );
    let log = baton.log_text();
    let waited = log.find("waiting 800ms for the routers before draining");
    let drained = log.find("stopping: draining frontends");
    assert!(
        matches!((waited, drained), (Some(w), Some(d)) if w < d),
        "the withdrawal must come before the drain:\n{log}"
    );
    assert!(!on_lo(lb), "the address left lo at the end");
    drop(app);
}

/// baton's local routes for the host prefixes (`local_route`), as `ip route` shows them.
fn local_routes(lb: &Host) -> Vec<String> {
    routes_in(lb, "local")
}

/// `local_route = true` (what FRR needs, docs/operations.md "FRR"): the host prefixes are
/// local routes, not addresses on `lo`; the frontend binds to the address all the same,
/// serves and is announced, and the routes go at the end of a stop.
#[test]
fn local_route_holds_the_address_without_putting_it_on_lo() {
    let test = "local_route_holds_the_address_without_putting_it_on_lo";
    let Some(lab) = common::guide_lab(test) else {
        return;
    };
    let dir = Workdir::new("anycast-local-route");
    let lb = lab.host("lb1");
    let _app = start_app(lab.host("app1"), APP_PORT);
    let mut baton = start_baton_toml(lb, &dir, &(config() + "local_route = true\n"));
    wait_routes(lb, &baton, 2, "the start");
    let held = local_routes(lb);
    assert!(
        held.iter()
            .any(|r| r.starts_with("local 10.0.9.100 dev lo")),
        "{held:?}"
    );
    assert!(
        held.iter()
            .any(|r| r.starts_with("local fd00:9::100 dev lo")),
        "{held:?}"
    );
    assert!(!on_lo(lb), "no address on lo with local_route");
    // The frontend, bound to the address, answers through it.
    let answer = lb
        .run(
            "python3",
            &[
                "-c",
                "import urllib.request; print(urllib.request.urlopen('http://10.0.9.100/', timeout=5).status)",
            ],
        )
        .unwrap_or_else(|e| panic!("the frontend on 10.0.9.100 did not answer: {e}"));
    assert_eq!(answer.trim(), "200");
    baton.child.signal(Signal::SIGTERM).expect("SIGTERM");
    let exited = baton
        .child
        .wait_timeout(Duration::from_secs(20))
        .expect("wait");
    assert!(exited.is_some(), "baton did not stop");
    assert_eq!(
        local_routes(lb),
        Vec::<String>::new(),
        "the local routes stayed after the stop"
    );
}

/// After `kill -9` the routes stay in the kernel (nothing is left to withdraw them): the
/// systemd unit's ExecStopPost lines, run as systemd runs them after any stop, remove them.
#[test]
fn after_a_crash_the_units_stop_commands_withdraw_the_routes() {
    let test = "after_a_crash_the_units_stop_commands_withdraw_the_routes";
    let Some(lab) = common::guide_lab(test) else {
        return;
    };
    let dir = Workdir::new("anycast-crash");
    let lb = lab.host("lb1");
    let _app = start_app(lab.host("app1"), APP_PORT);
    let mut baton = start_baton_toml(lb, &dir, &config());
    wait_routes(lb, &baton, 2, "the start");
    baton.child.signal(Signal::SIGKILL).expect("SIGKILL");
    let _ = baton.child.wait_timeout(Duration::from_secs(5));
    assert_eq!(routes(lb).len(), 2, "a killed baton leaves its routes");
    let unit = include_str!("../../../dist/baton.service");
    let stop_commands: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("ExecStopPost="))
        .map(|l| l.trim_start_matches('-'))
        .collect();
    assert!(!stop_commands.is_empty(), "the unit has no ExecStopPost");
    for command in stop_commands {
        let words: Vec<&str> = command.split_whitespace().collect();
        lb.run(words[0], &words[1..])
            .unwrap_or_else(|e| panic!("{command}: {e}"));
    }
    assert_eq!(
        routes(lb),
        Vec::<String>::new(),
        "the stop commands left routes"
    );
}

/// One section tracking a frontend, a script (fails while `DIR/fail` exists) and a file;
/// `withdraw_delay` in seconds (changed to make a reload apply something).
fn tracked_config(dir: &Workdir, withdraw_delay: f64) -> String {
    let fail = dir.path("fail");
    let maint = dir.path("maint");
    let checks = format!(
        r#"
[[vrrp_script]]
name = "chk"
script = ["/bin/sh", "-c", "test ! -e {fail}"]
interval = 0.2
timeout = 1
rise = 1
fall = 1

[[track_file]]
name = "maint"
file = "{maint}"

[[anycast]]
name = "web"
prefixes = ["10.0.9.100/32"]
track_frontend = ["web"]
track_script = ["chk"]
track_file = ["maint"]
withdraw_delay = {withdraw_delay}
"#,
        fail = fail.display(),
        maint = maint.display()
    );
    service() + &checks
}

/// `baton ARGS --control` against lb1's daemon: success, stdout, stderr.
fn cli(lb: &Host, dir: &Workdir, args: &[&str]) -> (bool, String, String) {
    let socket = dir.path(&format!("{}.sock", lb.name()));
    let mut command = lb.command(env!("CARGO_BIN_EXE_baton"));
    command
        .args(args)
        .arg("--control")
        .arg(socket)
        .stdin(Stdio::null());
    let out = command.output().expect("running baton");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(lb: &Host, dir: &Workdir, args: &[&str], baton: &Daemon) -> String {
    let (success, out, err) = cli(lb, dir, args);
    if !success {
        common::fail(&format!("baton {args:?} failed: {err}"), &[baton]);
    }
    out
}

/// Waits until the section's `waiting_on` names `what` (or, with `None`, nothing).
fn wait_waiting_on(lb: &Host, dir: &Workdir, baton: &Daemon, what: Option<&str>) {
    let read = || status_of(lb, dir)["anycast"][0]["waiting_on"].clone();
    let expected = format!("waiting_on {what:?}");
    settle(baton, &expected, read, |last| match what {
        Some(what) => last.as_array().is_some_and(|l| l.iter().any(|w| w == what)),
        None => last.as_array().is_some_and(Vec::is_empty),
    });
}

#[test]
fn the_operator_scripts_and_files_withdraw_and_reloads_and_restarts_keep_the_hold() {
    let test = "the_operator_scripts_and_files_withdraw_and_reloads_and_restarts_keep_the_hold";
    let Some(lab) = common::guide_lab(test) else {
        return;
    };
    let dir = Workdir::new("anycast-operator");
    let lb = lab.host("lb1");
    let _app = start_app(lab.host("app1"), APP_PORT);
    dir.write("maint", "0\n");
    let mut baton = start_baton_toml(lb, &dir, &tracked_config(&dir, 0.5));
    wait_routes(lb, &baton, 1, "the start");
    let anycast = |dir: &Workdir| status_of(lb, dir)["anycast"][0].clone();

    // withdraw: the route is gone when the command returns, and stays gone.
    let out = ok(lb, &dir, &["anycast", "withdraw", "web"], &baton);
    assert!(out.contains("withdrawn by the operator"), "{out}");
    assert_eq!(
        routes(lb),
        Vec::<String>::new(),
        "gone when withdraw returns"
    );
    let shown = anycast(&dir);
    assert_eq!(shown["withdrawn_by_operator"], true, "{shown}");
    assert_eq!(shown["announced"], false, "{shown}");

    // A reload that changes the section keeps it withdrawn.
    dir.write(&format!("{}.toml", lb.name()), &tracked_config(&dir, 0.6));
    let out = ok(lb, &dir, &["reload"], &baton);
    assert!(out.contains("configuration reloaded"), "{out}");
    // Everything it tracks is up: without the hold it would be announced again at once.
    wait_waiting_on(lb, &dir, &baton, None);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        routes(lb),
        Vec::<String>::new(),
        "re-announced by the reload"
    );
    assert_eq!(anycast(&dir)["withdrawn_by_operator"], true);

    // And a restart: the state file brings the hold back before anything is announced.
    baton.child.signal(Signal::SIGTERM).expect("SIGTERM");
    let _ = baton.child.wait_timeout(Duration::from_secs(20));
    let state = std::fs::read_to_string(dir.path(&format!("{}.state/state.json", lb.name())))
        .unwrap_or_default();
    assert!(
        state.contains("\"anycast_withdrawn\""),
        "state file: {state}"
    );
    baton = start_baton_toml(lb, &dir, &tracked_config(&dir, 0.6));
    if wait_for(Duration::from_secs(10), || cli(lb, &dir, &["status"]).0).is_none() {
        common::fail("the restarted baton does not answer", &[&baton]);
    }
    wait_waiting_on(lb, &dir, &baton, None);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        routes(lb),
        Vec::<String>::new(),
        "announced after the restart"
    );
    assert_eq!(anycast(&dir)["withdrawn_by_operator"], true);

    // An unknown name: a specific error, and the daemon goes on answering.
    let (success, _, err) = cli(lb, &dir, &["anycast", "withdraw", "nope"]);
    assert!(!success, "an unknown section must fail");
    assert!(
        err.contains("unknown anycast \"nope\"; anycast sections: web"),
        "{err}"
    );

    // announce: back to its health, which is good.
    let out = ok(lb, &dir, &["anycast", "announce", "web"], &baton);
    assert!(out.contains("announced"), "{out}");
    wait_routes(lb, &baton, 1, "announce");
    assert_eq!(anycast(&dir)["withdrawn_by_operator"], false);

    // The track file says 1: withdrawn; 0 again: announced.
    dir.write("maint", "1\n");
    wait_routes(lb, &baton, 0, "the track file's 1");
    wait_waiting_on(lb, &dir, &baton, Some("file maint: down"));
    dir.write("maint", "0\n");
    wait_routes(lb, &baton, 1, "the track file's 0");

    // The script fails: withdrawn; passes again: announced.
    dir.write("fail", "");
    wait_routes(lb, &baton, 0, "the script's failure");
    wait_waiting_on(lb, &dir, &baton, Some("script chk: down"));
    std::fs::remove_file(dir.path("fail")).expect("rm fail");
    wait_routes(lb, &baton, 1, "the script passing again");

    // drain: withdrawn, and answered only after withdraw_delay (0.6 s since the reload).
    let started = Instant::now();
    let out = ok(lb, &dir, &["anycast", "drain", "web"], &baton);
    let took = started.elapsed();
    assert!(out.contains("drained"), "{out}");
    assert_eq!(routes(lb), Vec::<String>::new());
    assert!(
        took >= Duration::from_millis(600),
        "drain answered after {took:?}, before withdraw_delay"
    );
    baton.child.signal(Signal::SIGTERM).expect("SIGTERM");
    let _ = baton.child.wait_timeout(Duration::from_secs(20));
}
