//! The L4 story's own steps: forwarding turned on in the load balancers, and app2 stopped
//! and started again while the client goes on, with what lb2's checker made of it.

use std::time::Duration;

use anyhow::Context as _;

use super::Demo;
use crate::demo::app_down::Times;
use crate::demo::timeline::Served;
use crate::status::RealServerEntry;

/// app2 as lb2's virtual server lists it.
const APP2: &str = "10.0.3.12:8080";

impl Demo {
    /// `net.ipv4.ip_forward=1` in lb1 and lb2: their kernels forward the connections the
    /// virtual server rewrites (NAT). Set in their namespaces only, never on the machine.
    pub(super) fn enable_forwarding(&mut self) -> anyhow::Result<()> {
        for lb in ["lb1", "lb2"] {
            let host = self.host(lb);
            let mut command = host.command("sysctl");
            command.args(["-qw", "net.ipv4.ip_forward=1"]);
            host.run_command(command)
                .with_context(|| format!("turning IPv4 forwarding on in {lb}"))?;
        }
        self.note("IPv4 forwarding on in lb1 and lb2 (NAT forwards the connections)".into());
        Ok(())
    }

    /// app2's process ends without a word to the load balancers; lb2's checker takes it
    /// out and app1 answers everything; app2 starts again and the checker brings it back.
    pub(super) fn app2_fails_and_returns(&mut self) -> anyhow::Result<Times> {
        let stopped =
            self.note("stopping app2 (its process ends: new connections are refused)".into());
        self.stop_app2();
        let mut down = None;
        self.wait_until("lb2's checker taking app2 out", |demo| {
            down = demo.real_server("lb2", APP2).filter(|server| !server.up);
            down.is_some()
        })?;
        let taken_out = self.now();
        if let Some(server) = down {
            self.note(format!(
                "baton status on lb2: app2 {APP2} down, weight {}, last check: {}",
                server.weight, server.last_check
            ));
        }
        self.steady();

        let started = self.note("starting app2 again".into());
        self.start_app("app2")?;
        let mut up = None;
        self.wait_until("lb2's checker bringing app2 back", |demo| {
            up = demo.real_server("lb2", APP2).filter(|server| server.up);
            up.is_some()
        })?;
        if let Some(server) = up {
            self.note(format!(
                "baton status on lb2: app2 {APP2} up again, weight {}, last check: {}",
                server.weight, server.last_check
            ));
        }
        self.wait_until("app2 answering through lb2 again", |demo| {
            demo.answered_by_app(started, "app2") > 0
        })?;
        self.steady();
        Ok(Times {
            stopped,
            taken_out,
            started,
            ended: self.now(),
        })
    }

    /// Ends app2's process (SIGTERM, whose default action ends it at once) and forgets it.
    fn stop_app2(&mut self) {
        if let Some(index) = self.processes.iter().position(|p| p.name == "app2") {
            self.processes.remove(index).child.terminate();
        }
    }

    /// The real server `address` of the first virtual server, as `baton status` on `lb`
    /// shows it; `None` while the daemon does not answer.
    fn real_server(&self, lb: &str, address: &str) -> Option<RealServerEntry> {
        let status = self.status(lb).ok()?;
        status
            .virtual_servers
            .into_iter()
            .flat_map(|service| service.real_servers)
            .find(|server| server.address == address)
    }

    /// Requests sent at or after `since` that `app` answered.
    fn answered_by_app(&self, since: Duration, app: &str) -> usize {
        self.requests
            .iter()
            .filter(|request| request.sent >= since)
            .filter(|request| matches!(&request.served, Served::By { app: by, .. } if by == app))
            .count()
    }
}
