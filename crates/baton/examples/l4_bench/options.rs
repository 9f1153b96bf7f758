//! Command-line options.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::common::choice::named;
use crate::variants::Variant;

#[derive(Debug)]
pub(crate) struct Options {
    /// Measured time of each run (after [`warmup`](Self::warmup)).
    pub(crate) seconds: Duration,
    /// Unmeasured load before each measured window: ARP, conntrack, HAProxy's first
    /// connections, the apps' first tasks.
    pub(crate) warmup: Duration,
    /// Every variant once per round, the order rotating.
    pub(crate) rounds: usize,
    /// Concurrent client connections.
    pub(crate) workers: usize,
    pub(crate) only: Vec<Variant>,
    pub(crate) markdown: Option<PathBuf>,
    /// Where to write the SVG charts.
    pub(crate) svg: Option<PathBuf>,
    /// A saved report (this program's output) to draw instead of measuring.
    pub(crate) svg_from: Option<PathBuf>,
    /// Print the lb's nft ruleset of every variant (in its first round), to see what a
    /// daemon installed.
    pub(crate) show_rules: bool,
    /// How long the whole run may wait for other people's load to pass (before runs, and
    /// to repeat a run they disturbed), so that a busy machine delays it but never stalls it.
    pub(crate) patience: Duration,
}

const USAGE: &str = "usage: l4_bench [--seconds S] [--rounds N] [--workers N] [--quick] \
                     [--only direct,static-nat,static-dr,baton-nat,baton-dr,haproxy] \
                     [--markdown PATH] [--svg DIR [--svg-from REPORT]] [--show-rules] [--patience S]";

impl Options {
    pub(crate) fn parse() -> Result<Self> {
        let mut options = Options {
            seconds: Duration::from_secs(4),
            warmup: Duration::from_secs(1),
            rounds: 5,
            workers: 64,
            only: Variant::ALL.to_vec(),
            markdown: None,
            svg: None,
            svg_from: None,
            show_rules: false,
            patience: Duration::from_secs(300),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value =
                |name: &str| args.next().with_context(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--seconds" => {
                    let s: f64 = value("--seconds")?.parse().context("--seconds")?;
                    options.seconds = Duration::try_from_secs_f64(s).context("--seconds")?;
                }
                "--rounds" => options.rounds = value("--rounds")?.parse().context("--rounds")?,
                "--workers" => {
                    options.workers = value("--workers")?.parse().context("--workers")?
                }
                "--quick" => {
                    options.rounds = 1;
                    options.seconds = Duration::from_secs(2);
                    options.warmup = Duration::from_millis(500);
                }
                "--only" => {
                    options.only = named("--only", &value("--only")?, &Variant::ALL, Variant::arg)
                        .map_err(anyhow::Error::msg)?
                }
                "--markdown" => options.markdown = Some(value("--markdown")?.into()),
                "--svg" => options.svg = Some(value("--svg")?.into()),
                "--svg-from" => options.svg_from = Some(value("--svg-from")?.into()),
                "--show-rules" => options.show_rules = true,
                "--patience" => {
                    let s: f64 = value("--patience")?.parse().context("--patience")?;
                    options.patience = Duration::try_from_secs_f64(s).context("--patience")?;
                }
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        if options.rounds == 0
            || options.workers == 0
            || options.only.is_empty()
            || options.seconds.is_zero()
        {
            bail!("nothing to measure\n{USAGE}");
        }
        Ok(options)
    }
}
