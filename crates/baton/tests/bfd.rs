//! BFD between baton and keepalived 2.2.7's bfd process, on two lab hosts: the session comes
//! Up on both sides; when the link between them silently drops everything (the bridge port
//! disabled: both keep carrier, so only BFD can tell) both detect Down within
//! multiplier x interval (plus a generous margin), baton's instance tracking the session
//! unweighted goes FAULT and the weighted one loses its weight; when the link is back, the
//! session comes Up again and so does the instance. A second session over IPv6 (hop limit 64,
//! keepalived's default) comes Up and goes Down alongside. The detection times both sides
//! measured are printed.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use baton_lab::{Host, Lab};
use common::chaos::status;
use common::{Daemon, Workdir, fail, on_path, wait_for};

/// 100 ms both ways, multiplier 3: 300 ms to detect.
const INTERVAL_MS: u64 = 100;
const MULTIPLIER: u64 = 3;
/// Far beyond the protocol's 300 ms, for a loaded machine; the figures are printed.
const DETECTION_BOUND: Duration = Duration::from_secs(3);
/// Coming Up takes a few idle_tx (1 s) packets.
const UP_WITHIN: Duration = Duration::from_secs(20);

/// Session B over IPv4 (tracked by the instances) and B6 over IPv6 (keepalived's default
/// hop limit 64 on both sides), from `me` to `peer` (the host part of the lab addresses).
fn bfd_blocks(me: u8, peer: u8) -> String {
    let block = |name: &str, neighbor: String, source: String| {
        format!(
            "bfd_instance {name} {{\n    neighbor_ip {neighbor}\n    source_ip {source}\n    \
             min_rx {INTERVAL_MS}\n    min_tx {INTERVAL_MS}\n    multiplier {MULTIPLIER}\n}}\n"
        )
    };
    block("B", format!("10.0.3.{peer}"), format!("10.0.3.{me}"))
        + &block(
            "B6",
            format!("fd00:0:0:3::{peer}"),
            format!("fd00:0:0:3::{me}"),
        )
}

fn baton_conf() -> String {
    let instance = |name: &str, vrid: u8, vip: &str, track: &str| {
        format!(
            "vrrp_instance {name} {{\n    state BACKUP\n    interface eth0\n    \
             virtual_router_id {vrid}\n    priority 100\n    advert_int 0.1\n    \
             track_bfd {{\n        {track}\n    }}\n    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
        )
    };
    format!(
        "global_defs {{\n    router_id lb1\n    vrrp_version 3\n}}\n{}{}{}",
        bfd_blocks(11, 12),
        instance("VI_1", 51, "10.0.3.100/24", "B"),
        instance("VI_2", 52, "10.0.3.101/24", "B weight -50"),
    )
}

/// keepalived with its BFD process (the common helper runs VRRP only).
fn start_keepalived_bfd(host: &Host, dir: &Workdir) -> Daemon {
    let conf = format!(
        "global_defs {{\n    router_id lb2\n}}\n{}",
        bfd_blocks(12, 11)
    );
    let conf_path = dir.write("keepalived.conf", &conf);
    let log = dir.path("keepalived.log");
    let file = || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        Stdio::from(file)
    };
    let mut command = host.command("keepalived");
    command
        .arg("-f")
        .arg(&conf_path)
        .args(["-n", "-l", "-D"])
        .arg("-p")
        .arg(dir.path("keepalived.pid"))
        .arg("-r")
        .arg(dir.path("vrrp.pid"))
        .arg("-c")
        .arg(dir.path("checkers.pid"))
        .arg("-b")
        .arg(dir.path("bfd.pid"))
        .stdin(Stdio::null())
        .stdout(file())
        .stderr(file());
    let child = host.spawn(command).expect("starting keepalived");
    Daemon {
        child,
        log,
        name: "keepalived@lb2".into(),
    }
}

/// The states of sessions B and B6 as baton reports them.
fn baton_bfd_states(socket: &Path) -> [String; 2] {
    let status = status(socket);
    ["B", "B6"].map(|name| {
        status["bfd"]
            .as_array()
            .and_then(|all| all.iter().find(|s| s["name"] == name))
            .and_then(|s| s["state"].as_str())
            .unwrap_or("?")
            .to_owned()
    })
}

fn instance<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["vrrp"]
        .as_array()
        .and_then(|all| all.iter().find(|i| i["name"] == name))
        .unwrap_or(&serde_json::Value::Null)
}

/// The instances' (state, effective priority) as baton reports them.
fn instances(socket: &Path) -> [(String, u64); 2] {
    let status = status(socket);
    ["VI_1", "VI_2"].map(|name| {
        let i = instance(&status, name);
        (
            i["state"].as_str().unwrap_or("?").to_owned(),
            i["effective_priority"].as_u64().unwrap_or(0),
        )
    })
}

/// baton's log line for session B going down (without colours).
fn is_baton_down(line: &str) -> bool {
    line.contains("BFD session Up -> Down") && line.contains("bfd=B ")
}

/// A log line without its ANSI colour codes.
fn without_colours(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ ... m
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Lines of keepalived's log that say its session `session` changed.
fn keepalived_lines(daemon: &Daemon, session: &str, needle: &str) -> usize {
    let session = format!("({session})");
    daemon
        .log_text()
        .lines()
        .filter(|l| l.contains(&session) && l.contains(needle))
        .count()
}

#[test]
fn baton_and_keepalived_are_bfd_peers() {
    if baton_lab::handled_elsewhere("bfd interop") {
        return;
    }
    if !on_path("keepalived") {
        eprintln!("SKIPPED (needs keepalived on PATH): bfd interop");
        return;
    }
    let lab = match Lab::builder()
        .host("lb1", "10.0.3.11/24")
        .host("lb2", "10.0.3.12/24")
        .build()
    {
        Ok(lab) => lab,
        Err(error) => {
            eprintln!("SKIPPED (cannot build a lab here): bfd interop: {error}");
            return;
        }
    };
    let dir = Workdir::new("bfd");
    let keepalived = start_keepalived_bfd(lab.host("lb2"), &dir);
    let baton = common::start_baton(lab.host("lb1"), &dir, &baton_conf());
    let socket = dir.path("lb1.sock");
    let daemons = [&baton, &keepalived];

    // Up on both sides; the unweighted instance waits in FAULT until then.
    let up = || {
        baton_bfd_states(&socket) == ["Up", "Up"]
            && keepalived_lines(&keepalived, "B", "Entering Up state") >= 1
            && keepalived_lines(&keepalived, "B6", "Entering Up state") >= 1
    };
    if wait_for(UP_WITHIN, up).is_none() {
        let seen = status(&socket)["bfd"].clone();
        fail(
            &format!("the session did not come Up on both sides; baton's view: {seen}"),
            &daemons,
        );
    }
    let settled = || {
        let [vi_1, vi_2] = instances(&socket);
        vi_1 == ("MASTER".into(), 100) && vi_2 == ("MASTER".into(), 100)
    };
    if wait_for(Duration::from_secs(10), settled).is_none() {
        fail(
            &format!(
                "with the session Up the instances are {:?}",
                instances(&socket)
            ),
            &daemons,
        );
    }

    // Cut: the bridge drops every frame of lb2's, both keep carrier.
    let downs_before = keepalived_lines(&keepalived, "B", "Entering Down state");
    let cut = Instant::now();
    lab.host("lb2").isolate().expect("isolate lb2");
    let (mut baton_at, mut keepalived_at) = (None, None);
    let both = wait_for(DETECTION_BOUND, || {
        if baton_at.is_none()
            && baton
                .log_text()
                .lines()
                .any(|l| is_baton_down(&without_colours(l)))
        {
            baton_at = Some(cut.elapsed());
        }
        if keepalived_at.is_none()
            && keepalived_lines(&keepalived, "B", "Entering Down state") > downs_before
        {
            keepalived_at = Some(cut.elapsed());
        }
        baton_at.is_some() && keepalived_at.is_some()
    });
    let expired = keepalived
        .log_text()
        .lines()
        .rfind(|l| l.contains("(B) Expired after"))
        .map(str::to_owned);
    let baton_line = baton
        .log_text()
        .lines()
        .map(without_colours)
        .find(|l| is_baton_down(l));
    eprintln!(
        "detection (expected {} ms): baton after {baton_at:?} ({baton_line:?}); keepalived after {keepalived_at:?} ({expired:?})",
        INTERVAL_MS * MULTIPLIER
    );
    if both.is_none() {
        fail(
            &format!(
                "not both detected the cut within {DETECTION_BOUND:?}: baton {baton_at:?}, keepalived {keepalived_at:?}"
            ),
            &daemons,
        );
    }
    let faulted = || {
        let [vi_1, vi_2] = instances(&socket);
        vi_1.0 == "FAULT" && vi_2 == ("MASTER".into(), 50)
    };
    // The IPv6 session went down too, on both sides.
    let v6_down = || {
        baton_bfd_states(&socket)[1] == "Down"
            && keepalived_lines(&keepalived, "B6", "Entering Down state") >= 1
    };
    if wait_for(DETECTION_BOUND, v6_down).is_none() {
        fail("the IPv6 session did not go Down on both sides", &daemons);
    }
    if wait_for(Duration::from_secs(5), faulted).is_none() {
        fail(
            &format!(
                "with the session Down the instances are {:?}",
                instances(&socket)
            ),
            &daemons,
        );
    }

    // Restored: Up again on both, the instances back.
    let ups_before = keepalived_lines(&keepalived, "B", "Entering Up state");
    lab.host("lb2").rejoin().expect("rejoin lb2");
    let again = || {
        baton_bfd_states(&socket) == ["Up", "Up"]
            && keepalived_lines(&keepalived, "B", "Entering Up state") > ups_before
    };
    if wait_for(UP_WITHIN, again).is_none() {
        let seen = status(&socket)["bfd"].clone();
        fail(
            &format!("the session did not come back Up on both sides; baton's view: {seen}"),
            &daemons,
        );
    }
    if wait_for(Duration::from_secs(10), settled).is_none() {
        fail(
            &format!(
                "with the session Up again the instances are {:?}",
                instances(&socket)
            ),
            &daemons,
        );
    }
}
