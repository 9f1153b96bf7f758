//! Command-line options.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::proxies::{Kind, Variant};

#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) rounds: usize,
    /// Length of each measured oha run.
    pub(crate) run: Duration,
    pub(crate) connections: Vec<usize>,
    /// Idle keep-alive clients for the memory phase.
    pub(crate) idle: usize,
    /// The fixed rate of the latency runs, as a share of the slowest proxy's maximum.
    pub(crate) rate_fraction: f64,
    pub(crate) pin: bool,
    /// The proxies to measure, each with its worker threads.
    pub(crate) only: Vec<Variant>,
    /// Instead of the speed and memory phases: system calls, wake-ups and context switches
    /// per request at this fixed rate.
    pub(crate) syscalls: Option<f64>,
    /// Measure at once even while other processes load the machine (for smoke runs).
    pub(crate) ignore_load: bool,
    /// Where to write the SVG charts.
    pub(crate) svg: Option<PathBuf>,
    /// A saved report (this program's output) to draw instead of measuring.
    pub(crate) svg_from: Option<PathBuf>,
}

const USAGE: &str = "usage: proxy_bench [--quick] [--rounds N] [--seconds S] \
                     [--connections 50,500] [--idle N] [--rate-fraction F] [--no-pin] \
                     [--only baton,haproxy:2,nginx] [--threads N] [--ignore-load] \
                     [--syscalls RATE] [--svg DIR [--svg-from REPORT]]";

impl Options {
    pub(crate) fn parse() -> Result<Self> {
        let mut options = Options {
            rounds: 3,
            run: Duration::from_secs(10),
            connections: vec![50, 500],
            idle: 10_000,
            rate_fraction: 0.7,
            pin: true,
            only: Vec::new(),
            syscalls: None,
            ignore_load: false,
            svg: None,
            svg_from: None,
        };
        let mut only = None;
        let mut threads = 1;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value =
                |name: &str| args.next().with_context(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--quick" => {
                    options.rounds = 1;
                    options.run = Duration::from_secs(3);
                }
                "--rounds" => options.rounds = value("--rounds")?.parse().context("--rounds")?,
                "--seconds" => {
                    let seconds: f64 = value("--seconds")?.parse().context("--seconds")?;
                    options.run = Duration::try_from_secs_f64(seconds).context("--seconds")?;
                }
                "--idle" => options.idle = value("--idle")?.parse().context("--idle")?,
                "--rate-fraction" => {
                    options.rate_fraction = value("--rate-fraction")?
                        .parse()
                        .context("--rate-fraction")?
                }
                "--connections" => {
                    options.connections = value("--connections")?
                        .split(',')
                        .map(|c| c.trim().parse().context("--connections"))
                        .collect::<Result<_>>()?
                }
                "--only" => only = Some(value("--only")?),
                "--threads" => {
                    threads = value("--threads")?.parse().context("--threads")?;
                    if threads == 0 {
                        bail!("--threads must be at least 1");
                    }
                }
                "--syscalls" => {
                    options.syscalls = Some(value("--syscalls")?.parse().context("--syscalls")?)
                }
                "--no-pin" => options.pin = false,
                "--ignore-load" => options.ignore_load = true,
                "--svg" => options.svg = Some(value("--svg")?.into()),
                "--svg-from" => options.svg_from = Some(value("--svg-from")?.into()),
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        options.only = match only {
            None => Kind::ALL
                .into_iter()
                .map(|kind| Variant { kind, threads })
                .collect(),
            Some(names) => names
                .split(',')
                .map(|name| {
                    Variant::parse(name, threads)
                        .with_context(|| format!("--only: unknown proxy {name:?}"))
                })
                .collect::<Result<_>>()?,
        };
        if options.rounds == 0 || options.connections.is_empty() || options.only.is_empty() {
            bail!("nothing to measure");
        }
        if !(options.rate_fraction > 0.0 && options.rate_fraction <= 1.0) {
            bail!("--rate-fraction must be in (0, 1]");
        }
        if options.run < Duration::from_secs(1) {
            bail!("--seconds must be at least 1");
        }
        Ok(options)
    }
}
