//! The active-active story's own steps: the crossed election (lb2 master of 10.0.3.100,
//! lb1 of 10.0.3.101), both load balancers serving, then lb2's cable cut, lb1 serving both
//! addresses, and the cable back with 10.0.3.100 going home to lb2.

use std::time::Duration;

use super::{Demo, Story, VIP};
use crate::status::Status;

/// lb1's address, which stays with it all along.
const LB1_VIP: &str = "10.0.3.101";

impl Demo {
    /// Waits until lb2 holds 10.0.3.100, lb1 holds 10.0.3.101, and both daemons agree on
    /// that and find both apps up; says so.
    pub(super) fn wait_for_crossed_election(&mut self) -> anyhow::Result<()> {
        self.wait_to_say("lb2 MASTER of 10.0.3.100 and lb1 of 10.0.3.101", |demo| {
            demo.settled_crossed()
                .then(|| demo.crossed_election())
                .flatten()
        })
    }

    /// Each VIP held by its own master and by no one else, as `ip monitor` last said.
    fn settled_crossed(&self) -> bool {
        self.holders.len() == 2 && self.holds(VIP, "lb2") && self.holds(LB1_VIP, "lb1")
    }

    /// What `baton status --json` says on both load balancers once each is MASTER of its
    /// own VIP and BACKUP of the other's, and both find every app up.
    fn crossed_election(&self) -> Option<String> {
        let lb1 = self.status("lb1").ok()?;
        let lb2 = self.status("lb2").ok()?;
        let all_up = |status: &Status| {
            let servers = self.mode.servers(status);
            !servers.is_empty() && servers.iter().all(|(_, up)| *up)
        };
        let ready = states(&lb2) == ["MASTER", "BACKUP"]
            && states(&lb1) == ["BACKUP", "MASTER"]
            && all_up(&lb1)
            && all_up(&lb2);
        ready.then(|| {
            format!(
                "baton status: lb2 is {}; lb1 is {}",
                instances(&lb2),
                instances(&lb1)
            )
        })
    }

    /// Both load balancers serving, lb2's cable cut until lb1 serves both VIPs, then plugged
    /// back in until lb2 serves 10.0.3.100 again.
    pub(super) fn both_serve_then_lb2_fails(&mut self) -> anyhow::Result<Story> {
        self.wait_until("answers through both load balancers", |demo| {
            demo.answered_to(Duration::ZERO, VIP, "lb2") >= 5
                && demo.answered_to(Duration::ZERO, LB1_VIP, "lb1") >= 5
        })?;
        self.steady();

        let cut = self.note("cutting lb2's cable (its switch port goes down)".into());
        self.host("lb2").cut_link()?;
        self.wait_until(
            "an answer to 10.0.3.100 through lb1 after the cut",
            |demo| demo.answered_to(cut, VIP, "lb1") > 0,
        )?;
        self.wait_to_say("lb1 MASTER of both VIPs", |demo| {
            let lb1 = demo.status("lb1").ok()?;
            (states(&lb1) == ["MASTER", "MASTER"]).then(|| {
                format!(
                    "baton status on lb1: {}: lb1 serves both VIPs",
                    instances(&lb1)
                )
            })
        })?;
        self.steady();

        let restore = self.note("plugging lb2's cable back in".into());
        self.host("lb2").restore_link()?;
        self.wait_until("lb2 taking 10.0.3.100 back and answering", |demo| {
            demo.answered_to(restore, VIP, "lb2") > 0 && demo.settled_crossed()
        })?;
        self.steady();
        Ok(Story {
            cut,
            restore,
            app2: None,
        })
    }

    /// Requests to `vip` sent at or after `since` that `lb` answered.
    fn answered_to(&self, since: Duration, vip: &str, lb: &str) -> usize {
        self.requests
            .iter()
            .filter(|request| request.sent >= since && request.vip == vip)
            .filter(|request| request.lb() == Some(lb))
            .count()
    }
}

/// Each VRRP instance's state, in the config's order.
fn states(status: &Status) -> Vec<&str> {
    status
        .vrrp
        .iter()
        .map(|instance| instance.state.as_str())
        .collect()
}

/// `MASTER of VI_1 10.0.3.100 (priority 150), BACKUP of VI_2 10.0.3.101 (priority 100)`.
fn instances(status: &Status) -> String {
    status
        .vrrp
        .iter()
        .map(|instance| {
            format!(
                "{} of {} {} (priority {})",
                instance.state,
                instance.name,
                instance
                    .vips
                    .iter()
                    .map(|vip| vip.split('/').next().unwrap_or(vip))
                    .collect::<Vec<_>>()
                    .join(" "),
                instance.priority
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The client's line in the story.
pub(super) fn client_note() -> String {
    format!(
        "client: GET http://{VIP}/ and http://{LB1_VIP}/ in turn, one every 50 ms \
         (each VIP every 100 ms), each on a new connection"
    )
}

/// The introduction: what the story shows and how to read it.
pub(super) fn print_intro(per_vip_interval: Duration) {
    println!(
        "baton demo --active-active: two load balancers, both serving, in network namespaces \
         on this machine.\n  \
         lb1 10.0.3.5 and lb2 10.0.3.6 share two addresses over VRRPv3 (an advertisement every\n  \
         0.1 s) with their priorities crossed: lb2 is master of {VIP} (150 to lb1's 100) and\n  \
         lb1 of {LB1_VIP} (150 to lb2's 100), each the other's backup. Each proxies both\n  \
         addresses' port 80 to app1 10.0.3.11:8080 and app2 10.0.3.12:8080. The client\n  \
         10.0.3.50 sends GET to {VIP} and {LB1_VIP} in turn, each every {} ms, as clients\n  \
         that DNS spreads over both addresses would. When lb2's cable is cut its address\n  \
         moves to lb1, which serves both until lb2 is back. Each request line shows the\n  \
         address, the LB that proxied it and the app that answered; times are seconds since\n  \
         the start. The load balancers' config: baton demo --active-active --print-config\n",
        per_vip_interval.as_millis()
    );
}
