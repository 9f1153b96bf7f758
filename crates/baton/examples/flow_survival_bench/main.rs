//! Flow-survival benchmark (issue 16): N long-lived TCP connections through the VIP, the
//! master's link cut; how many connections survive and how long they pause, per way of
//! running the load balancers, side by side in one run.
//!
//! The lab (namespaces this run creates and removes, on one bridge): `client` 10.0.3.50
//! and 10.0.4.50, `lb1` 10.0.3.5 (priority 100) and `lb2` 10.0.3.6 (150, the master), `app1`
//! 10.0.3.11 and `app2` 10.0.3.12. One VRRP instance (v3, advert 100 ms) holds the service
//! address 10.0.3.100 and the apps' gateway 10.0.3.254; the service is 10.0.3.100:7000
//! over both apps' port 7000. The apps are this program again (`echo-app`), answering each
//! 8-byte counter with the counter and their number; the client is this program too
//! (`client`), run in the client namespace: it opens N connections, sends each connection's
//! counter every `interval` and checks every answer (same app, next number).
//!
//! A run: fresh daemons on both load balancers, the N connections up and answering, then
//! lb2 fails and the client watches for `--window` seconds. Two faults (`topology.rs`):
//! `link-cut`, lb2's switch port goes down (the bridge forgets its MAC and floods frames
//! sent to it), and `silent`, the switch drops lb2's frames while its port stays up (its
//! MAC stays learned, frames sent to it are lost until the gratuitous ARP). A connection
//! **survived** when it saw no reset or close, no missing or repeated number, no change of
//! app, and answers again after the fault. Its **pause** is its longest silence between two
//! answers around the fault; the table gives the longest over all connections and the
//! median connection's, beside the **takeover** (the fault to the VIP on lb1, seen by
//! `ip monitor`).
//!
//! Variants (see `variants.rs`): `baton-dr` (baton, LVS-DR, Maglev over the client's
//! address and port: no state to lose), `nat-no-sync` (keepalived-style NAT without
//! connection sync: baton NAT with conntrack's mid-flow pick-up off on the load balancers,
//! which is what IPVS does with a packet of a flow it does not know: the new master does not
//! schedule it and its own stack resets the connection), `baton-nat-conntrackd` (baton NAT
//! with keepalived's `lvs_sync_daemon`, which baton runs as conntrackd in FTFW mode: the
//! backup holds the master's flows and commits them when it takes over; needs conntrackd
//! installed, else skipped with the reason).
//!
//!     cargo build --release -p baton --bin baton
//!     cargo run --release -p baton --example flow_survival_bench -- [--quick]
//!
//! Options: `--rounds N` (default 3; every fault, N and variant once per round, the
//! variants' order rotating), `--connections 100,1000`, `--faults link-cut,silent`,
//! `--window S` (after the fault; default 5),
//! `--only baton-dr,nat-no-sync,...`, `--markdown PATH` (the table as markdown), `--svg DIR` (charts of the table;
//! with `--svg-from REPORT`, drawn from a saved report instead of measuring), `--quick`
//! (1 round, window 4 s). `BATON_BIN` overrides where the daemon is found. Needs root.
//! Ctrl-C removes the lab and every process in it.

#[path = "../common/mod.rs"]
mod common;

mod apps;
mod charts;
mod client;
mod options;
mod report;
mod run;
mod topology;
mod variants;
mod wire;

use std::process::ExitCode;

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some(apps::ECHO_APP) => return apps::serve(),
        Some(client::CLIENT) => return client::main(),
        _ => {}
    }
    let result = options::Options::parse().and_then(|options| match &options.svg_from {
        Some(report) => {
            let dir = options.svg.as_deref().unwrap_or(std::path::Path::new("."));
            common::svg::from_saved(report, dir, charts::charts).map_err(anyhow::Error::from)
        }
        None => run::all(options),
    });
    common::interrupt::wait_if_interrupted();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("flow_survival_bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}
