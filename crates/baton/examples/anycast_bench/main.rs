//! Anycast benchmark (issue 12, item 6): baton behind BGP with bird2 and BFD against a VRRP
//! pair, on the same machine, in labs of network namespaces this run creates and removes.
//!
//! 1. **From a failure to the last failed request**, at the client: a GET on a new
//!    connection every 10 ms to the frontend on the service address while a load balancer
//!    fails. VRRP: lb1 and lb2 share 10.0.3.100 (VRRPv3, 100 ms adverts, lb2 master). BGP:
//!    lb1-lb3 announce 10.0.9.100/32 through `[[anycast]]` and bird2 (BGP, BFD 100 ms x 3)
//!    to a router whose bird merges the paths into one ECMP route (L4 hash). Failures: the
//!    LB's link cut (its switch port down), and `kill -9` of its baton (for BGP with and
//!    without the systemd unit's ExecStopPost route flush).
//! 2. **Established connections broken when an LB leaves** (SIGTERM of one of three):
//!    N keep-alive connections through L4 DR + Maglev against through an L7 frontend (with
//!    and without the relay of moved connections to their LB, `[[anycast]] peers`), with
//!    bird's multipath route on the router and with a resilient nexthop group made by hand;
//!    broken connections, and those the leaving LB's drain closed cleanly.
//! 3. **Requests per second with 1, 2 and 3 LBs** announcing, oha in the client.
//!
//! Every measurement runs once per round, the order rotating; the tables give medians and
//! every run's figure. No figure is checked against a bound: this measures, it does not test.
//!
//!     apt-get install -y bird2            # its own service stays stopped: the bench runs its own
//!     cargo install oha --locked          # for part 3
//!     cargo build --release -p baton --bin baton
//!     cargo run --release -p baton --example anycast_bench -- [--quick]
//!
//! Options: `--rounds N` (default 3), `--connections N` (default 60), `--window S` (seconds
//! the clients watch after the fault, default 4), `--load-seconds S` (per throughput run,
//! default 5), `--only failover,connections,throughput`, `--quick` (1 round, shorter
//! windows). `BATON_BIN` overrides where the daemon is found, `OHA` where oha is. Needs
//! root. Ctrl-C removes the labs and every process in them.
//!
//! The bird configurations are the lab tests' (`tests/common/bird.rs`, included through
//! `bird_host.rs`), which docs/operations.md shows.

#[path = "../common/mod.rs"]
mod common;

mod bird_host;
mod client;
mod configs;
mod connections;
mod failover;
mod http1;
mod options;
mod report;
mod run;
mod throughput;
mod topology;

use std::process::ExitCode;

fn main() -> ExitCode {
    if matches!(
        std::env::args().nth(1).as_deref(),
        Some(client::PROBE | client::HOLD)
    ) {
        return client::main();
    }
    let result = options::Options::parse().and_then(run::all);
    common::interrupt::wait_if_interrupted();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("anycast_bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}
