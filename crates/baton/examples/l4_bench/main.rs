//! L4 benchmark: baton's `[[virtual_server]]` on nf_tables (NAT and DR) against HAProxy
//! `mode tcp`, a hand-written static nftables rule doing the same forwarding, and no load
//! balancer at all, side by side in one run.
//!
//! The lab (namespaces this run creates and removes, on one bridge): `client` 10.0.3.50 and
//! 10.0.4.50, `lb` 10.0.3.5, `app1` 10.0.3.11 and `app2` 10.0.3.12. The service is
//! 10.0.3.100:8080 on the lb, balanced over the apps' port 8080. The apps are this program
//! again (`app-server`), a small tokio responder; the load comes from this program too
//! (`client`), run in the client namespace.
//!
//! - NAT replies must come back through the lb, so NAT clients use the second subnet
//!   (10.0.4.50): the apps route 10.0.4.0/24 via the lb, which forwards (ip_forward, ICMP
//!   redirects off: client and apps share its one interface). No source NAT.
//! - DR: the apps hold the VIP on lo (arp_ignore=1, arp_announce=2) and answer the client
//!   (10.0.3.50) directly; the lb only rewrites the destination MAC.
//!
//! Variants (see `variants.rs` for exactly what each one runs): direct (client to the apps,
//! no lb), the static NAT rule, the static DR rule, baton NAT, baton DR, HAProxy.
//! Two kinds of load, each its own run: a new connection per request (connections/s) and
//! persistent connections with many requests (requests/s). Every round runs every variant
//! once, the order rotating from round to round; the tables give medians. CPU is the whole
//! machine's (/proc/stat: user, nice, system, irq, softirq) over the measured window, per
//! connection or request, and the extra over the direct path.
//!
//!     apt-get install -y haproxy
//!     cargo build --release -p baton --bin baton
//!     cargo run --release -p baton --example l4_bench -- [--seconds S] [--rounds N]
//!
//! Options: `--seconds S` (per measured run, after 1 s of warm-up; default 4), `--rounds N`
//! (default 5), `--workers N` (concurrent client connections, default 64), `--only a,b,...`
//! (variant names: direct, static-nat, static-dr, baton-nat, baton-dr, haproxy),
//! `--markdown PATH` (the tables as markdown), `--svg DIR` (charts of the table; with
//! `--svg-from REPORT`, drawn from a saved report instead of measuring), `--quick` (1 round
//! of 2 s), `--show-rules` (print the lb's nft ruleset of each variant once). `BATON_BIN` overrides where the daemon
//! is found. Needs root. Ctrl-C removes the lab and every process in it.
//!
//! On a shared machine a run waits for others' load to pass before each measurement, and
//! repeats (up to twice) a measurement during which other processes used more than 10% of
//! the machine, for at most `--patience S` seconds of waiting in all (default 300); the
//! report says how much they used.

#[path = "../common/mod.rs"]
mod common;

mod apps;
mod charts;
mod client;
mod configs;
mod cpu;
mod options;
mod report;
mod run;
mod topology;
mod variants;
mod wire;

use std::process::ExitCode;

use options::Options;

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some(apps::APP_SERVER) => return apps::serve(),
        Some(client::CLIENT) => return client::main(),
        _ => {}
    }
    let result = Options::parse().and_then(|options| match &options.svg_from {
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
            eprintln!("l4_bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}
