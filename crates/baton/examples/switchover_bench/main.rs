//! Switchover benchmark: what clients see when the master load balancer is stopped, for
//! baton (VRRP and proxy in one daemon) and for keepalived + nginx, on the same lab with the
//! same VRRP settings and the same app servers.
//!
//! On the guide's lab (lb1, lb2, app1, app2, client in network namespaces this run creates
//! and removes), app1 and app2 run the same small app server (this program with
//! `--app-server`): `/` answered at once, `/slow` after 200 ms. lb2 (priority 150) is master,
//! lb1 (priority 100) backup, VRRPv3 with 100 ms adverts, HTTP on the VIP 10.0.3.100:80
//! balanced round robin over the apps. A client in the client namespace runs oha against the
//! VIP, a new connection for every request, at a fixed rate; during it lb2's daemon gets
//! SIGTERM, which is what `systemctl stop` sends:
//!
//! - baton: `systemctl stop baton` on lb2.
//! - keepalived + nginx: `systemctl stop keepalived` on lb2, nginx left running: the guide's
//!   sequence ("stop keepalived on the instance that was served").
//!
//! Per run: failed requests and the longest request. Both pages, setups interleaved (the
//! order alternates) and repeated; the table gives medians, totals and baton's ratio.
//!
//!     apt-get install -y keepalived nginx   # their services stopped: the bench runs its own
//!     cargo install oha --locked
//!     cargo build --release -p baton
//!     sudo cargo run --release -p baton --example switchover_bench -- [--quick]
//!
//! Options: `--repetitions N` (default 5), `--quick` (1), `--pages quick,slow`, `--rate R`
//! (req/s, default 500; 0: each client's next request as soon as its last is answered),
//! `--connections C` (default 400; 16 is the load of issue 16), `--before S` and `--after S`
//! (seconds of load around the SIGTERM, default 1.5 and 3.5), `--capture DIR` (tcpdump on
//! the client, a file per run), `--hold-acks S` (the client's packets but SYNs dropped for
//! S seconds from the SIGTERM on: handshakes then complete late, as on a slow network).
//! Needs root. Ctrl-C removes the lab and every process in it.

#[path = "../common/mod.rs"]
mod common;

mod apps;
mod balancers;
mod client;
mod measure;
mod options;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use balancers::{Programs, Setup};
use common::lab::RunDir;
use common::programs::version;
use options::Options;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some(apps::APP_SERVER) {
        return apps::serve();
    }
    match Options::parse().and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("switchover_bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: Options) -> Result<()> {
    let programs = Programs {
        baton: common::baton::release_binary()
            .context("build the daemon first: cargo build --release -p baton")?,
        nginx: required("nginx")?,
        keepalived: required("keepalived")?,
    };
    common::baton::warn_if_stale(&programs.baton);
    let oha = common::oha::find()?;
    let run_dir = RunDir::prepare("switchover_bench").map_err(anyhow::Error::msg)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let context = format!(
        "machine: {}\n{}\n{}\n{}\nload generator: {}\n",
        common::machine::describe(cores),
        version(&programs.baton, "--version"),
        version(&programs.keepalived, "--version"),
        version(&programs.nginx, "-v"),
        version(&oha, "--version"),
    );
    eprintln!("{context}");

    let mut results: Vec<report::Cell> = options
        .pages
        .iter()
        .flat_map(|&page| Setup::ALL.map(|setup| (page, setup, Vec::new())))
        .collect();
    for rep in 0..options.repetitions {
        // Alternate who goes first so that drift in machine load hits both alike.
        let mut order = Setup::ALL;
        if rep % 2 == 1 {
            order.reverse();
        }
        eprintln!("repetition {}", rep + 1);
        for &page in &options.pages {
            for setup in order {
                let outcome = measure::run(setup, page, &programs, &oha, &options, &run_dir);
                common::interrupt::wait_if_interrupted();
                match outcome {
                    Ok(outcome) => {
                        eprintln!("{}", report::line(setup, page, &outcome));
                        if let Some((_, _, outcomes)) = results
                            .iter_mut()
                            .find(|(p, s, _)| *p == page && *s == setup)
                        {
                            outcomes.push(outcome);
                        }
                    }
                    Err(error) => {
                        eprintln!(
                            "  {} page, {}: run failed: {error}",
                            page.name(),
                            setup.name()
                        )
                    }
                }
            }
        }
    }
    println!("\n{context}");
    report::print(&options, &results);
    Ok(())
}

/// A program the setups need, by name.
fn required(name: &str) -> Result<PathBuf> {
    common::programs::find(name)
        .with_context(|| format!("{name} not found: apt-get install -y keepalived nginx"))
}
