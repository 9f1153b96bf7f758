//! Item 1: from a load balancer's failure to the last failed request, at the client. A
//! probe sends a GET on a new connection every 10 ms to the frontend on the service
//! address; the fault hits the load balancer that serves (VRRP: the master lb2) or one of
//! the three (BGP: lb2). A request is disrupted when it fails (refused, reset, no answer
//! within 3 s) or takes over 0.5 s (a lost SYN is sent again after 1 s and then answered
//! by a survivor: late, not failed). The figure is when the last disrupted request
//! started, from the fault.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::client::{PROBE, Running};
use crate::configs::FRONTEND_PORT;
use crate::topology::{ANYCAST, BgpLab, VRRP_VIP, VrrpLab};

/// Probes this far apart.
const PROBE_INTERVAL_MS: u64 = 10;
/// A request slower than this is disrupted.
const SLOW: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// VRRP: the master's switch port down.
    VrrpLinkCut,
    /// VRRP: `kill -9` of the master's baton (its VIP stays on its eth0).
    VrrpKill,
    /// BGP: lb2's switch port down; only BFD can tell the router.
    BgpLinkCut,
    /// BGP: `kill -9` of lb2's baton, then the unit's ExecStopPost flush at once, as
    /// systemd runs it when the process is gone.
    BgpKillFlush,
    /// BGP: `kill -9` of lb2's baton and nothing else: the route stays (no unit).
    BgpKillNoFlush,
}

impl Fault {
    pub(crate) const ALL: [Fault; 5] = [
        Fault::VrrpLinkCut,
        Fault::BgpLinkCut,
        Fault::VrrpKill,
        Fault::BgpKillFlush,
        Fault::BgpKillNoFlush,
    ];

    pub(crate) fn title(self) -> &'static str {
        match self {
            Fault::VrrpLinkCut => "VRRP, 2 LBs, adverts 0.1 s: master's link cut",
            Fault::VrrpKill => "VRRP, 2 LBs, adverts 0.1 s: kill -9 of the master's baton",
            Fault::BgpLinkCut => "BGP + BFD 100 ms x 3, 3 LBs: an LB's link cut",
            Fault::BgpKillFlush => {
                "BGP, 3 LBs: kill -9 of an LB's baton, unit's ExecStopPost flush"
            }
            Fault::BgpKillNoFlush => "BGP, 3 LBs: kill -9 of an LB's baton, no flush",
        }
    }

    fn is_bgp(self) -> bool {
        !matches!(self, Fault::VrrpLinkCut | Fault::VrrpKill)
    }
}

/// One run.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Outcome {
    pub(crate) sent: usize,
    pub(crate) failed: usize,
    pub(crate) slow: usize,
    /// When the last disrupted request started, seconds from the fault; `None`: none was.
    pub(crate) last_disrupted: Option<f64>,
    /// Disrupted requests until the end of the window: the service never recovered.
    pub(crate) unrecovered: bool,
    /// The routing change (lb2 gone from the router's route, the VIP on lb1), seconds
    /// from the fault; `None`: not within the window.
    pub(crate) rerouted: Option<f64>,
}

pub(crate) fn measure(
    fault: Fault,
    vrrp: &mut VrrpLab,
    bgp: &mut BgpLab,
    before: Duration,
    after: u64,
) -> Result<Outcome> {
    let target = if fault.is_bgp() {
        bgp.restore()?;
        format!("{ANYCAST}:{FRONTEND_PORT}")
    } else {
        vrrp.restore()?;
        let vip = VRRP_VIP.split('/').next().unwrap_or(VRRP_VIP);
        format!("{vip}:{FRONTEND_PORT}")
    };
    let client = if fault.is_bgp() {
        bgp.client()
    } else {
        vrrp.client()
    };
    let args = [
        PROBE.to_owned(),
        target,
        PROBE_INTERVAL_MS.to_string(),
        after.to_string(),
    ];
    let mut probe = Running::start(client, &args)?;
    std::thread::sleep(before);
    probe.mark()?;
    let at = Instant::now();
    match fault {
        Fault::VrrpLinkCut => vrrp.lb(1).cut_link()?,
        Fault::VrrpKill => vrrp.kill_baton(1),
        Fault::BgpLinkCut => bgp.lb(1).cut_link()?,
        Fault::BgpKillFlush => {
            bgp.kill_baton(1);
            bgp.unit_stop_commands(1)?;
        }
        Fault::BgpKillNoFlush => bgp.kill_baton(1),
    }
    let window = Duration::from_secs(after);
    let rerouted = if fault.is_bgp() {
        bgp.wait_nexthops(&[0, 2], window, "the fault").ok()
    } else {
        vrrp.wait_backup_holds(window)
    }
    .map(|_| at.elapsed().as_secs_f64());
    let lines = probe.report(window + Duration::from_secs(10))?;
    Ok(summarize(&lines, after, rerouted))
}

fn summarize(lines: &[String], after: u64, rerouted: Option<f64>) -> Outcome {
    let mut outcome = Outcome {
        rerouted,
        ..Outcome::default()
    };
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let [_, start, latency, state, _] = words[..] else {
            continue;
        };
        let (Ok(start), Ok(latency)) = (start.parse::<i64>(), latency.parse::<u64>()) else {
            continue;
        };
        outcome.sent += 1;
        let failed = state != "ok";
        let slow = !failed && Duration::from_micros(latency) > SLOW;
        outcome.failed += usize::from(failed);
        outcome.slow += usize::from(slow);
        if failed || slow {
            let start = start as f64 / 1e6;
            outcome.last_disrupted =
                Some(outcome.last_disrupted.map_or(start, |l: f64| l.max(start)));
        }
    }
    // Still disrupted in the window's last half second: it never recovered.
    outcome.unrecovered = outcome
        .last_disrupted
        .is_some_and(|last| last > after as f64 - 0.5);
    outcome
}
