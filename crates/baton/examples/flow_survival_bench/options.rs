//! Command-line options.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::common::choice::named;
use crate::topology::Fault;
use crate::variants::Variant;

#[derive(Debug)]
pub(crate) struct Options {
    /// Every variant and connection count once per round, the order rotating.
    pub(crate) rounds: usize,
    pub(crate) connections: Vec<usize>,
    pub(crate) faults: Vec<Fault>,
    /// How long the client watches after the cut.
    pub(crate) window: Duration,
    pub(crate) only: Vec<Variant>,
    pub(crate) markdown: Option<PathBuf>,
    /// Where to write the SVG charts.
    pub(crate) svg: Option<PathBuf>,
    /// A saved report (this program's output) to draw instead of measuring.
    pub(crate) svg_from: Option<PathBuf>,
}

const USAGE: &str = "usage: flow_survival_bench [--rounds N] [--connections 100,1000] \
                     [--window S] [--faults link-cut,silent] [--only baton-dr,nat-no-sync,baton-nat-conntrackd] \
                     [--markdown PATH] [--svg DIR [--svg-from REPORT]] [--quick]";

impl Options {
    pub(crate) fn parse() -> Result<Self> {
        let mut options = Options {
            rounds: 3,
            connections: vec![100, 1000],
            faults: Fault::ALL.to_vec(),
            window: Duration::from_secs(5),
            only: Variant::ALL.to_vec(),
            markdown: None,
            svg: None,
            svg_from: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value =
                |name: &str| args.next().with_context(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--rounds" => options.rounds = value("--rounds")?.parse().context("--rounds")?,
                "--connections" => {
                    options.connections = value("--connections")?
                        .split(',')
                        .map(|n| n.trim().parse().context("--connections"))
                        .collect::<Result<_>>()?
                }
                "--faults" => {
                    options.faults = named("--faults", &value("--faults")?, &Fault::ALL, Fault::arg)
                        .map_err(anyhow::Error::msg)?
                }
                "--window" => {
                    let s: f64 = value("--window")?.parse().context("--window")?;
                    options.window = Duration::try_from_secs_f64(s).context("--window")?;
                }
                "--only" => {
                    options.only = named("--only", &value("--only")?, &Variant::ALL, Variant::arg)
                        .map_err(anyhow::Error::msg)?
                }
                "--markdown" => options.markdown = Some(value("--markdown")?.into()),
                "--svg" => options.svg = Some(value("--svg")?.into()),
                "--svg-from" => options.svg_from = Some(value("--svg-from")?.into()),
                "--quick" => {
                    options.rounds = 1;
                    options.window = Duration::from_secs(4);
                }
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        if options.rounds == 0
            || options.only.is_empty()
            || options.connections.is_empty()
            || options.faults.is_empty()
            || options.connections.contains(&0)
        {
            bail!("nothing to measure\n{USAGE}");
        }
        Ok(options)
    }
}
