//! The rounds: both labs built once, every measurement once per round, the order rotating
//! from round to round; a run that fails is reported and left out, and the next goes on.

use std::time::Duration;

use anyhow::{Context, Result};

use crate::common::lab::RunDir;
use crate::common::programs::version;
use crate::connections::Variant;
use crate::failover::Fault;
use crate::options::Options;
use crate::report::{self, Results};
use crate::topology::{BgpLab, VrrpLab};
use crate::{common, connections, failover, throughput};

/// How long before the fault the clients run.
const BEFORE: Duration = Duration::from_secs(1);

fn rotated<T: Copy>(items: &[T], round: usize) -> Vec<T> {
    let mut items = items.to_vec();
    let len = items.len();
    if len > 0 {
        items.rotate_left(round % len);
    }
    items
}

pub(crate) fn all(options: Options) -> Result<()> {
    let baton = common::baton::release_binary()
        .context("build the daemon first: cargo build --release -p baton")?;
    common::baton::warn_if_stale(&baton);
    let oha = if options.throughput {
        Some(common::oha::find()?)
    } else {
        None
    };
    let bird =
        common::programs::find("bird").context("bird2 is not installed (apt-get install bird2)")?;
    let run_dir = RunDir::prepare("anycast_bench").map_err(anyhow::Error::msg)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "machine: {}\nkernel: {}\n{}\n{}\nload generator: {}\n",
        common::machine::describe(cores),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
        version(&baton, "--version"),
        version(&bird, "--version"),
        oha.as_deref()
            .map_or("none".into(), |o| version(o, "--version")),
    );
    let fresh = || run_dir.fresh().map_err(anyhow::Error::msg);
    let mut vrrp = if options.failover {
        Some(VrrpLab::build(&baton, fresh()?)?)
    } else {
        None
    };
    let mut bgp = BgpLab::build(&baton, fresh()?)?;
    println!(
        "the router's route, as bird installs it: {}\n",
        bgp.route_text()
    );
    let mut results = Results::default();
    for round in 0..options.rounds {
        println!("round {} of {}", round + 1, options.rounds);
        if let Some(vrrp) = vrrp.as_mut() {
            for fault in rotated(&Fault::ALL, round) {
                match failover::measure(fault, vrrp, &mut bgp, BEFORE, options.window) {
                    Ok(outcome) => {
                        println!("  {}: {outcome:?}", fault.title());
                        results.failover.push((fault, outcome));
                    }
                    Err(error) => println!("  !!! {}: {error:#}", fault.title()),
                }
            }
        }
        if options.connections_part {
            let cases: Vec<(Variant, usize)> = Variant::ALL
                .iter()
                .flat_map(|&v| connections::LEAVERS.map(|leaver| (v, leaver)))
                .collect();
            for (variant, leaver) in rotated(&cases, round) {
                let title = format!("{}, lb{} leaves", variant.title(), leaver + 1);
                let measured = connections::measure(
                    variant,
                    leaver,
                    &mut bgp,
                    options.connections,
                    options.window,
                );
                match measured {
                    Ok(outcome) => {
                        println!("  {title}: {outcome:?}");
                        results.connections.push(((variant, leaver), outcome));
                    }
                    Err(error) => println!("  !!! {title}: {error:#}"),
                }
            }
        }
        if let Some(oha) = oha.as_deref() {
            for n in rotated(&[1, 2, 3], round) {
                match throughput::measure(&mut bgp, oha, n, options.load_seconds) {
                    Ok(report) => {
                        println!(
                            "  {n} LB(s): {:.0} requests/s{}",
                            report.rps(),
                            report.failure_note()
                        );
                        results.throughput.push((n, report));
                    }
                    Err(error) => println!("  !!! {n} LB(s): {error:#}"),
                }
            }
        }
    }
    println!();
    if options.failover {
        println!(
            "### From a failure to the last disrupted request, at the client (a GET on a new \
             connection every 10 ms; {} round(s), median (each run))\n\n{}",
            options.rounds,
            report::failover_table(&results, options.window)
        );
    }
    if options.connections_part {
        println!(
            "### Long-lived connections when an LB leaves (SIGTERM of one LB of 3; {} keep-alive \
             connections, a GET on each every 50 ms; {} round(s))\n\n{}",
            options.connections,
            options.rounds,
            report::connections_table(&results)
        );
    }
    if options.throughput {
        println!(
            "### Requests per second through 1, 2 and 3 LBs (oha, 64 keep-alive connections, \
             {} s per run; {} round(s))\n\n{}",
            options.load_seconds,
            options.rounds,
            report::throughput_table(&results)
        );
    }
    Ok(())
}
