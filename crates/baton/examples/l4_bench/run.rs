//! The whole run: the lab, the apps, then rounds of every variant in a rotating order,
//! then the tables.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::apps;
use crate::client::{self, Job, Mode, Tally};
use crate::common;
use crate::common::lab::RunDir;
use crate::common::programs::version;
use crate::cpu::Ticks;
use crate::options::Options;
use crate::report::{self, Results};
use crate::topology::{self, CLIENT, Topology};
use crate::variants::{Programs, Running, Variant};

/// Above this share of the machine busy while the bench itself is idle, someone else is
/// working: wait before measuring. A run during which others took more is repeated.
const QUIET: f64 = 0.10;
/// Runs of one kind of load for one variant, at most, before a noisy one is kept anyway.
const ATTEMPTS: usize = 3;
const QUIET_SAMPLE: Duration = Duration::from_millis(500);

pub(crate) fn all(options: Options) -> Result<()> {
    let programs = Programs {
        baton: common::baton::release_binary(),
        haproxy: common::programs::find("haproxy"),
    };
    if let Some(baton) = &programs.baton {
        common::baton::warn_if_stale(baton);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let run_dir = RunDir::prepare("l4_bench").map_err(anyhow::Error::msg)?;
    let topology = Topology::build()?;
    let dir = run_dir.fresh().map_err(anyhow::Error::msg)?;
    // Kept to the end: dropping them stops the apps.
    let app_servers = topology
        .apps()
        .iter()
        .zip(1..)
        .map(|(host, n)| apps::start(host, n, &dir))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    for app in topology::app_addresses() {
        let probe = Job {
            mode: Mode::Probe,
            source: CLIENT,
            targets: vec![app],
            workers: 1,
            warmup: Duration::ZERO,
            seconds: Duration::from_secs(5),
            watch: Vec::new(),
            daemon: None,
        };
        if client::run(topology.client(), &probe)?.done == 0 {
            bail!("app {app} never answered");
        }
    }

    let context = context(&programs, &options, cores);
    eprintln!("{context}");
    let started = Instant::now();
    let mut results: Vec<Results> = options.only.iter().map(|&v| Results::new(v)).collect();
    let mut bench = Bench {
        apps: app_servers.iter().map(baton_lab::Child::id).collect(),
        topology: &topology,
        programs: &programs,
        options: &options,
        noise: Noise::default(),
    };
    for round in 0..options.rounds {
        eprintln!("round {}", round + 1);
        let n = results.len();
        for i in (0..n).map(|i| (i + round) % n) {
            let cell = &mut results[i];
            let idle = bench.noise.wait_quiet(options.patience);
            bench.noise.idle_load = bench.noise.idle_load.max(idle);
            let dir = run_dir.fresh().map_err(anyhow::Error::msg)?;
            let outcome = bench.measure(cell.variant, &dir, options.show_rules && round == 0);
            common::interrupt::wait_if_interrupted();
            match outcome {
                Ok([connections, requests]) => {
                    eprintln!(
                        "  {:<20} {:>7.0} conn/s {:>6.1} µs/conn ({} errors), \
                         {:>7.0} req/s {:>6.1} µs/req ({} errors), split {:?} / {:?}, \
                         lb daemon {:.0}% / {:.0}% of a core, others {:.0}% / {:.0}%",
                        cell.variant.name(),
                        connections.rate(),
                        connections.cpu_us().unwrap_or(f64::NAN),
                        connections.errors,
                        requests.rate(),
                        requests.cpu_us().unwrap_or(f64::NAN),
                        requests.errors,
                        connections.split,
                        requests.split,
                        connections.daemon_busy() * 100.0,
                        requests.daemon_busy() * 100.0,
                        connections.others() * 100.0,
                        requests.others() * 100.0,
                    );
                    cell.connections.push(connections);
                    cell.requests.push(requests);
                }
                Err(error) => {
                    eprintln!("  {}: run failed: {error:#}", cell.variant.name());
                    let first = format!("{error:#}");
                    cell.failures
                        .push(first.lines().next().unwrap_or("").to_owned());
                }
            }
        }
    }
    let noise = bench.noise;
    let mut text = context;
    let _ = writeln!(
        text,
        "{} round(s), {:.1} min in all. Others' work: the machine was at most {:.0}% busy \
         while the bench idled before a run; other processes used at most {:.0}% of it \
         during a kept run ({} run(s) repeated for over {:.0}%, {:.0} s spent waiting for \
         quiet)\n",
        options.rounds,
        started.elapsed().as_secs_f64() / 60.0,
        noise.idle_load * 100.0,
        noise.worst * 100.0,
        noise.repeated,
        QUIET * 100.0,
        noise.waited.as_secs_f64()
    );
    text.push_str(&report::tables(&results));
    println!("\n{text}");
    if let Some(path) = &options.markdown {
        std::fs::write(path, &text).with_context(|| path.display().to_string())?;
    }
    if let Some(dir) = &options.svg {
        let note = format!("live run of l4_bench, {} round(s)", options.rounds);
        crate::common::svg::write_all(dir, &crate::charts::charts(&text, &note))
            .with_context(|| dir.display().to_string())?;
    }
    Ok(())
}

/// What every run needs.
#[derive(Debug)]
struct Bench<'a> {
    topology: &'a Topology,
    programs: &'a Programs,
    options: &'a Options,
    /// The apps' process ids.
    apps: Vec<u32>,
    noise: Noise,
}

impl Bench<'_> {
    /// One variant: set up, probed, both kinds of load, taken down. `show_rules`: print
    /// the lb's ruleset once it answers.
    fn measure(&mut self, variant: Variant, dir: &Path, show_rules: bool) -> Result<[Tally; 2]> {
        let running = Running::start(variant, self.topology, self.programs, dir)?;
        let measured = self.load(variant, &running, show_rules);
        let stopped = running.stop();
        let tallies = measured?;
        stopped?;
        Ok(tallies)
    }

    fn load(
        &mut self,
        variant: Variant,
        running: &Running<'_>,
        show_rules: bool,
    ) -> Result<[Tally; 2]> {
        let client = self.topology.client();
        let job = |mode, warmup, seconds| Job {
            mode,
            source: variant.source(),
            targets: variant.targets(),
            workers: self.options.workers,
            warmup,
            seconds,
            watch: self
                .apps
                .iter()
                .copied()
                .chain(running.daemon_pid())
                .collect(),
            daemon: running.daemon_pid(),
        };
        let probe = client::run(
            client,
            &job(Mode::Probe, Duration::ZERO, Duration::from_secs(10)),
        )?;
        if probe.done == 0 {
            bail!(
                "no answer through {} in 10 s\n{}",
                variant.name(),
                running.log_tail()
            );
        }
        if show_rules {
            let rules = self.topology.lb().run("nft", &["list", "ruleset"])?;
            eprintln!("  {}: the lb's ruleset\n{rules}", variant.name());
        }
        let mut tallies = Vec::new();
        for mode in [Mode::Connections, Mode::Requests] {
            let job = job(mode, self.options.warmup, self.options.seconds);
            for attempt in 1..=ATTEMPTS {
                let tally = client::run(client, &job)?;
                let others = tally.others();
                if others <= QUIET
                    || attempt == ATTEMPTS
                    || !self.noise.patience_left(self.options.patience)
                {
                    self.noise.worst = self.noise.worst.max(others);
                    tallies.push(tally);
                    break;
                }
                eprintln!(
                    "  (others used {:.0}% of the machine during the run: again)",
                    others * 100.0
                );
                self.noise.repeated += 1;
                self.noise.wait_quiet(self.options.patience);
            }
        }
        tallies
            .try_into()
            .map_err(|_| anyhow::anyhow!("a kind of load was not measured"))
    }
}

impl Noise {
    /// Waits until the machine is quiet while the bench idles, for as long as the run's
    /// waiting budget lasts, and returns the busy share it measured last.
    fn wait_quiet(&mut self, budget: Duration) -> f64 {
        let mut told = false;
        loop {
            let before = Ticks::now();
            std::thread::sleep(QUIET_SAMPLE);
            let busy = Ticks::now().since(before).busy_share();
            if busy < QUIET || !self.patience_left(budget) {
                return busy;
            }
            self.waited += QUIET_SAMPLE;
            if !self.patience_left(budget) {
                eprintln!(
                    "  (the {:.0} s of waiting for quiet are used up: measuring from now on \
                     whatever the load)",
                    budget.as_secs_f64()
                );
            } else if !told {
                eprintln!(
                    "  (waiting for other load, {:.0}% of the machine, to pass)",
                    busy * 100.0
                );
                told = true;
            }
        }
    }

    fn patience_left(&self, budget: Duration) -> bool {
        self.waited < budget
    }
}

/// Other people's work on a shared machine, across the whole run.
#[derive(Debug, Default)]
struct Noise {
    /// The busiest the machine was while the bench idled before a run.
    idle_load: f64,
    /// The largest share of the machine others used during a kept run.
    worst: f64,
    repeated: usize,
    /// Time spent waiting for quiet, which [`Options::patience`] bounds.
    waited: Duration,
}

/// Machine, versions and settings.
fn context(programs: &Programs, options: &Options, cores: usize) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "machine: {}", common::machine::describe(cores));
    if let Some(baton) = &programs.baton {
        let _ = writeln!(text, "{}", version(baton, "--version"));
    }
    if let Some(haproxy) = &programs.haproxy {
        let _ = writeln!(text, "{}", version(haproxy, "-v"));
    }
    let _ = writeln!(
        text,
        "{} client workers, {:.1} s warm-up + {:.1} s measured per run and kind of load",
        options.workers,
        options.warmup.as_secs_f64(),
        options.seconds.as_secs_f64()
    );
    text
}
