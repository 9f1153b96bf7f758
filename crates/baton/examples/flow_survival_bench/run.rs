//! The whole run: the lab and the apps, then rounds of every variant and connection count
//! in a rotating order, then the table.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::apps;
use crate::charts;
use crate::client::{Outcome, Running};
use crate::common;
use crate::common::lab::{RunDir, VipWatch, holds, spawn_logged, wait_for};
use crate::options::Options;
use crate::report::{self, Measurement, Results};
use crate::topology::{self, APPS, Fault, LBS, Topology};
use crate::variants::Variant;

/// Counters per second the client sends in all, at most: every connection sends every
/// 10 ms up to 100 connections, less often beyond (1,000 connections: every 50 ms), so the
/// client, apps and bridge stay far from busy on a small machine.
const MESSAGES_PER_SECOND: usize = 20_000;
/// Steady traffic before the cut.
const BEFORE_CUT: Duration = Duration::from_secs(1);

/// How often each of `n` connections sends.
pub(crate) fn interval(n: usize) -> Duration {
    let ms = (n * 1000).div_ceil(MESSAGES_PER_SECOND).max(10);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

pub(crate) fn all(options: Options) -> Result<()> {
    let baton = common::baton::release_binary()
        .context("build the daemon first: cargo build --release -p baton --bin baton")?;
    common::baton::warn_if_stale(&baton);
    let variants: Vec<Variant> = options
        .only
        .iter()
        .copied()
        .filter(|v| match v.unavailable() {
            Some(why) => {
                eprintln!("{}: not measured: {why}", v.arg());
                false
            }
            None => true,
        })
        .collect();
    if variants.is_empty() {
        bail!("no variant can run here");
    }
    let run_dir = RunDir::prepare("flow_survival_bench").map_err(anyhow::Error::msg)?;
    let topology = Topology::build()?;
    let dir = run_dir.fresh().map_err(anyhow::Error::msg)?;
    // Kept to the end: dropping them stops the apps.
    let _apps = APPS
        .iter()
        .zip(1..)
        .map(|((name, _), n)| apps::start(topology.host(name), n, &dir))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;

    let mut results = Results::default();
    let started = Instant::now();
    for round in 0..options.rounds {
        for (&fault, &n) in options
            .faults
            .iter()
            .flat_map(|f| options.connections.iter().map(move |n| (f, n)))
        {
            for i in 0..variants.len() {
                let variant = variants[(i + round) % variants.len()];
                let dir = run_dir.fresh().map_err(anyhow::Error::msg)?;
                let run = Run {
                    variant,
                    fault,
                    n,
                    window: options.window,
                };
                let measured = measure(&topology, &baton, &dir, run);
                match &measured {
                    Ok(m) => eprintln!(
                        "round {} {:<8} {:>4} connections {:<22} survived {}/{}, longest pause {:?}, takeover {:?}",
                        round + 1,
                        fault.arg(),
                        n,
                        variant.arg(),
                        m.outcome.survived,
                        n,
                        m.outcome.longest_pause,
                        m.takeover
                    ),
                    Err(error) => eprintln!(
                        "round {} {} {n} connections {}: failed: {error:#}",
                        round + 1,
                        fault.arg(),
                        variant.arg()
                    ),
                }
                results.add(run, measured);
            }
        }
    }
    let context = format!(
        "{}; {} round(s), the client watching {} s after the cut; {:.0} s in all",
        common::machine::describe(std::thread::available_parallelism().map_or(1, |n| n.get())),
        options.rounds,
        options.window.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let table = report::render(&results, &context);
    println!("{table}");
    if let Some(path) = &options.markdown {
        std::fs::write(path, &table).with_context(|| path.display().to_string())?;
    }
    if let Some(dir) = &options.svg {
        let note = format!("live run of flow_survival_bench: {context}");
        common::svg::write_all(dir, &charts::charts(&table, &note))
            .with_context(|| dir.display().to_string())?;
    }
    Ok(())
}

/// What one run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Run {
    pub(crate) fault: Fault,
    pub(crate) variant: Variant,
    pub(crate) n: usize,
    pub(crate) window: Duration,
}

/// One run: fresh daemons, the connections up, the fault on lb2, the client's count.
fn measure(topology: &Topology, baton: &Path, dir: &Path, run: Run) -> Result<Measurement> {
    let Run {
        variant,
        fault,
        n,
        window,
    } = run;
    for (lb, _) in LBS {
        topology.reset_lb(lb)?;
        variant.prepare(topology.host(lb))?;
    }
    let mut daemons = Vec::new();
    for ((lb, _), priority) in LBS.iter().zip([100, 150]) {
        let conf = dir.join(format!("{lb}.conf"));
        std::fs::write(&conf, variant.config(lb, priority))?;
        let host = topology.host(lb);
        let mut command = host.command(baton);
        command
            .args(["run", "--keepalived-conf"])
            .arg(&conf)
            .arg("--control")
            .arg(dir.join(format!("{lb}.sock")));
        daemons.push(
            spawn_logged(host, command, &dir.join(format!("{lb}-baton.log")))
                .map_err(anyhow::Error::msg)?,
        );
    }
    let (lb1, lb2) = (topology.host("lb1"), topology.host("lb2"));
    let tables = |lb: &baton_lab::Host| {
        lb.run("nft", &["list", "tables"])
            .is_ok_and(|t| t.contains(" baton"))
    };
    let settled = wait_for(Duration::from_secs(20), || {
        holds(lb2) && !holds(lb1) && tables(lb1) && tables(lb2)
    });
    if !settled {
        bail!(
            "the pair never settled with lb2 master (logs in {})",
            dir.display()
        );
    }
    let mut client = Running::start(
        topology.host("client"),
        variant.client_source(),
        topology::service(),
        n,
        interval(n),
    )?;
    if client.connected < n {
        bail!("only {} of {n} connections opened", client.connected);
    }
    std::thread::sleep(BEFORE_CUT);
    let watch = VipWatch::start(lb1).map_err(anyhow::Error::msg)?;
    client.mark()?;
    let cut = Instant::now();
    topology.fault(fault, "lb2", true)?;
    std::thread::sleep(window);
    let outcome: Outcome = client.finish()?;
    let takeover = watch.added().map(|t| t.saturating_duration_since(cut));
    topology.fault(fault, "lb2", false)?;
    drop(daemons);
    Ok(Measurement { outcome, takeover })
}
