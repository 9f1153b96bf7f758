//! One run: a fresh lab, the app servers, one setup on lb1 and lb2, load from the client,
//! and the master stopped the way an operator stops it.

use std::time::{Duration, Instant};

use baton_lab::{Host, Lab};

use crate::apps::{self, Page};
use crate::balancers::{Balancer, Programs, Setup};
use crate::client::{self, Load};
use crate::common::lab::{RunDir, VipWatch, holds, wait_for};
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
    let load = Load::start(client, oha, page, options)?;
    std::thread::sleep(options.before);
    master.stop_as_operator()?;
    let stopped = Instant::now();
    let report = load.finish(options.after + Duration::from_secs(20))?;
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

/// Something listens on TCP port 80 in `host`.
fn listening(host: &Host) -> bool {
    host.run("ss", &["-Hltn", "sport = :80"])
        .is_ok_and(|out| !out.trim().is_empty())
}

/// `why`, followed by the end of every daemon's log.
fn logs(backup: &Balancer, master: &Balancer, why: &str) -> String {
    format!("{why}\n{}\n{}", backup.log_tails(), master.log_tails())
}
