//! Item 2: established connections broken when a load balancer leaves the set. The client
//! holds N keep-alive connections to the anycast address, a GET on each every 50 ms; one
//! LB gets SIGTERM (withdraw, `withdraw_delay`, drain, exit): lb2, the middle one of the
//! router's three nexthops, or lb3, the last. Which one matters for the plain multipath
//! route: Linux splits the hash space into one range per nexthop in their order, so when
//! the middle one goes its neighbours grow into its range and keep their own flows, while
//! when the last one goes the ranges of the others shift too. A connection is broken when a
//! GET on it errs, is closed, or is not answered within 2 s; it is not opened again.
//!
//! - L4 DR + Maglev (port 8080): each LB forwards to the app Maglev picks; the apps answer
//!   the client through the router. A flow the router moves meets the same app.
//! - L7 frontend (port 80): each connection ends on one LB's proxy. A flow the router moves
//!   reaches an LB with no such socket, which resets it.
//! - L7 frontend with the relay (`[[anycast]] peers`): the LB a moved flow reaches clones
//!   its packets to the others, and the one holding the connection takes them; the leaving
//!   LB drains its own (a complete answer, then a close). The other variants run with the
//!   relay's tables deleted; it does not touch the DR port.
//!
//! A connection the server closes between two answers is closed cleanly, not broken (a
//! drain); so is one closed as a request went out, before any byte of an answer (counted
//! apart: HTTP clients retry those).
//!
//! With the router's plain multipath route (bird's `merge paths on`) a change of the set
//! re-splits the hash space, moving flows of LBs that stay; with a resilient nexthop group
//! (installed by hand on the router and kept in step with bird's route, see
//! `topology.rs`), only the leaving LB's buckets move.

use std::time::Duration;

use anyhow::Result;

use crate::client::{HOLD, Running};
use crate::common::stats::median;
use crate::configs::{DR_PORT, FRONTEND_PORT};
use crate::topology::{ANYCAST, BGP_LBS, BgpLab};

const INTERVAL_MS: u64 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    DrEcmp,
    L7Ecmp,
    L7EcmpRelay,
    DrResilient,
    L7Resilient,
    L7ResilientRelay,
}

impl Variant {
    pub(crate) const ALL: [Variant; 6] = [
        Variant::DrEcmp,
        Variant::L7Ecmp,
        Variant::L7EcmpRelay,
        Variant::DrResilient,
        Variant::L7Resilient,
        Variant::L7ResilientRelay,
    ];

    pub(crate) fn title(self) -> &'static str {
        match self {
            Variant::DrEcmp => "L4 DR + Maglev, router multipath (bird)",
            Variant::L7Ecmp => "L7 frontend, router multipath (bird)",
            Variant::L7EcmpRelay => "L7 frontend + relay to peers, router multipath (bird)",
            Variant::DrResilient => "L4 DR + Maglev, resilient group (by hand)",
            Variant::L7Resilient => "L7 frontend, resilient group (by hand)",
            Variant::L7ResilientRelay => "L7 frontend + relay to peers, resilient group (by hand)",
        }
    }

    pub(crate) fn l7(self) -> bool {
        !matches!(self, Variant::DrEcmp | Variant::DrResilient)
    }

    fn resilient(self) -> bool {
        matches!(
            self,
            Variant::DrResilient | Variant::L7Resilient | Variant::L7ResilientRelay
        )
    }

    /// Whether the load balancers relay moved L7 connections to their owner.
    fn relay(self) -> bool {
        matches!(self, Variant::L7EcmpRelay | Variant::L7ResilientRelay)
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Outcome {
    pub(crate) held: usize,
    pub(crate) broken: usize,
    /// Closed by the server between two answers (the leaving LB's drain), not broken; of
    /// them, closed as a request went out (before any byte of its answer).
    pub(crate) closed_cleanly: usize,
    pub(crate) closed_unanswered: usize,
    /// L7 only (the answer names the proxying LB): broken connections that were on the
    /// leaving LB, and on the LBs that stayed.
    pub(crate) broken_on_leaving: Option<usize>,
    pub(crate) broken_on_staying: Option<usize>,
    /// Connections on the leaving LB before it left (L7 only).
    pub(crate) on_leaving: Option<usize>,
    /// DR only (the proxy picks an app per request): connections whose answers came from
    /// another app after the change.
    pub(crate) changed_app: Option<usize>,
    /// When the broken connections broke, seconds from the SIGTERM: the median.
    pub(crate) broke_at: Option<f64>,
}

/// The load balancers that leave, by index: lb2 (the middle nexthop) and lb3 (the last).
pub(crate) const LEAVERS: [usize; 2] = [1, 2];

pub(crate) fn measure(
    variant: Variant,
    leaver: usize,
    lab: &mut BgpLab,
    connections: usize,
    after: u64,
) -> Result<Outcome> {
    lab.restore()?;
    lab.set_relay(variant.relay())?;
    if variant.resilient() {
        lab.resilient_group(&[0, 1, 2])?;
    } else {
        lab.no_resilient_group()?;
    }
    let port = if variant.l7() { FRONTEND_PORT } else { DR_PORT };
    let args = [
        HOLD.to_owned(),
        format!("{ANYCAST}:{port}"),
        connections.to_string(),
        INTERVAL_MS.to_string(),
        after.to_string(),
    ];
    let result = run(variant, leaver, lab, &args, after);
    lab.no_resilient_group()?;
    result
}

fn run(
    variant: Variant,
    leaver: usize,
    lab: &mut BgpLab,
    args: &[String],
    after: u64,
) -> Result<Outcome> {
    let mut client = Running::start(lab.client(), args)?;
    std::thread::sleep(Duration::from_secs(1));
    client.mark()?;
    lab.sigterm(leaver)?;
    let staying: Vec<usize> = (0..BGP_LBS.len()).filter(|&i| i != leaver).collect();
    let window = Duration::from_secs(after);
    // The resilient group follows bird's route, as a daemon installing groups would.
    if variant.resilient() {
        lab.wait_nexthops(&staying, window, "the SIGTERM")?;
        lab.resilient_group(&staying)?;
    }
    let lines = client.report(window + Duration::from_secs(10))?;
    lab.reap(leaver)?;
    Ok(summarize(&lines, variant.l7(), leaver))
}

fn summarize(lines: &[String], l7: bool, leaver: usize) -> Outcome {
    let leaving = BGP_LBS[leaver].1;
    let mut outcome = Outcome::default();
    let (mut on_leaving, mut broken_leaving, mut broken_staying, mut changed) = (0, 0, 0, 0);
    let mut broke_at = Vec::new();
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let [_, _, first, broken, changes, closed, unanswered] = words[..] else {
            continue;
        };
        outcome.held += 1;
        if closed != "-" {
            outcome.closed_cleanly += 1;
            outcome.closed_unanswered += usize::from(unanswered == "1");
        }
        let was_on_leaving = first.ends_with(&format!("/{leaving}"));
        on_leaving += usize::from(was_on_leaving);
        if broken != "-" {
            outcome.broken += 1;
            broke_at.extend(broken.parse::<f64>().ok().map(|us| us / 1e6));
            if was_on_leaving {
                broken_leaving += 1;
            } else {
                broken_staying += 1;
            }
        }
        changed += usize::from(changes != "0");
    }
    outcome.broke_at = median(&broke_at);
    if l7 {
        outcome.on_leaving = Some(on_leaving);
        outcome.broken_on_leaving = Some(broken_leaving);
        outcome.broken_on_staying = Some(broken_staying);
    } else {
        outcome.changed_app = Some(changed);
    }
    outcome
}
