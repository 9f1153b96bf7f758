//! One run: a fresh lab, the app servers, one setup on lb1 and lb2, load from the client,
//! and the master stopped the way an operator stops it.

use std::time::{Duration, Instant};

use std::path::Path;

use baton_lab::{Child, Host, Lab};

use crate::apps::{self, Page};
use crate::balancers::{Balancer, Programs, Setup};
use crate::client::{self, Load};
use crate::common::lab::{RunDir, VipWatch, holds, spawn_logged, wait_for};
use crate::common::oha::Report;
use crate::options::Options;

/// What the client saw in one run.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) report: Report,
    /// From the SIGTERM until lb1 held the VIP.
    pub(crate) takeover: Option<Duration>,
}

pub(crate) fn run(
    setup: Setup,
    page: Page,
    programs: &Programs,
    oha: &std::path::Path,
    options: &Options,
    run_dir: &RunDir,
) -> Result<Outcome, String> {
    let lab = Lab::guide().map_err(|e| e.to_string())?;
    let dir = run_dir.fresh()?;
    let _apps = [
        apps::start(lab.host("app1"), &dir)?,
        apps::start(lab.host("app2"), &dir)?,
    ];
    let (lb1, lb2, client) = (lab.host("lb1"), lab.host("lb2"), lab.host("client"));
    let backup = Balancer::start(setup, programs, lb1, 100, &dir)?;
    let mut master = Balancer::start(setup, programs, lb2, 150, &dir)?;
    if !wait_for(Duration::from_secs(15), || holds(lb2)) {
        return Err(logs(&backup, &master, "lb2 never became master"));
    }
    // Both proxies listening (nginx on lb1 too, baton on lb1 on the VIP it does not hold
    // yet) and the VIP answering: the backup could serve from its first moment as master.
    if !wait_for(Duration::from_secs(10), || listening(lb1) && listening(lb2)) {
        return Err(logs(
            &backup,
            &master,
            "the proxies never listened on port 80",
        ));
    }
    if !wait_for(Duration::from_secs(10), || client::probe(client, oha)) {
        return Err(logs(&backup, &master, "the VIP never answered"));
    }
    if holds(lb1) {
        return Err(logs(&backup, &master, "lb1 holds the VIP as well"));
    }

    let watch = VipWatch::start(lb1)?;
    let capture = match &options.capture {
        Some(dir) => Some(capture(client, dir, setup, page)?),
        None => None,
    };
    let load = Load::start(client, oha, page, options)?;
    std::thread::sleep(options.before);
    if let Some(hold) = options.hold_acks {
        hold_client_acks(client, hold)?;
    }
    master.stop_as_operator()?;
    let stopped = Instant::now();
    if let Some(hold) = options.hold_acks {
        std::thread::sleep(hold);
        client
            .run("nft", &["delete", "table", "ip", HOLD_TABLE])
            .map_err(|e| format!("releasing the client's ACKs: {e}"))?;
    }
    let report = load.finish(options.after + Duration::from_secs(20))?;
    if let Some(mut capture) = capture {
        let _ = capture.signal(baton_lab::Signal::SIGINT);
        let _ = capture.wait_timeout(Duration::from_secs(5));
    }
    if !holds(lb1) || holds(lb2) {
        return Err(logs(
            &backup,
            &master,
            "lb1 did not take the VIP over from lb2",
        ));
    }
    Ok(Outcome {
        report,
        takeover: watch
            .added()
            .map(|added| added.saturating_duration_since(stopped)),
    })
}

/// tcpdump on the client's interface, TCP to and from port 80, into a file of `dir` named
/// after the run.
fn capture(client: &Host, dir: &Path, setup: Setup, page: Page) -> Result<Child, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.as_secs());
    let name = format!(
        "{stamp}-{}-{}",
        setup.name().replace([' ', '+'], ""),
        page.name()
    );
    let file = dir.join(format!("{name}.pcap"));
    let mut command = client.command("tcpdump");
    command
        .args(["-i", "eth0", "-n", "-s", "128", "-U", "-w"])
        .arg(&file)
        .args(["tcp port 80 or arp"]);
    let child = spawn_logged(client, command, &dir.join(format!("{name}.log")))?;
    // tcpdump says "listening on" once it captures; a moment is enough in a namespace.
    std::thread::sleep(Duration::from_millis(300));
    eprintln!("  capturing into {}", file.display());
    Ok(child)
}

/// The client's table for `--hold-acks`.
const HOLD_TABLE: &str = "switchover_hold";

/// Drops every packet the client sends to port 80 but bare SYNs, until the table goes:
/// handshakes answered meanwhile complete only when TCP retransmits (200 ms and more
/// later), as over a slow or loaded network, which makes a window that a client round
/// trip opens as wide as `hold`.
fn hold_client_acks(client: &Host, hold: Duration) -> Result<(), String> {
    let rules = format!(
        "add table ip {HOLD_TABLE}; \
         add chain ip {HOLD_TABLE} output {{ type filter hook output priority 0; }}; \
         add rule ip {HOLD_TABLE} output tcp dport 80 tcp flags & (syn | ack) != syn drop"
    );
    client
        .run("nft", &[&rules])
        .map(|_| ())
        .map_err(|e| format!("holding the client's ACKs for {hold:?}: {e}"))
}

/// Something listens on TCP port 80 in `host`.
fn listening(host: &Host) -> bool {
    host.run("ss", &["-Hltn", "sport = :80"])
        .is_ok_and(|out| !out.trim().is_empty())
}

/// `why`, followed by the end of every daemon's log.
fn logs(backup: &Balancer, master: &Balancer, why: &str) -> String {
    format!("{why}\n{}\n{}", backup.log_tails(), master.log_tails())
}
