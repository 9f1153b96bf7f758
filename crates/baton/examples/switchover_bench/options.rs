//! Command-line options.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::apps::Page;

#[derive(Debug)]
pub(crate) struct Options {
    /// Runs per setup and page.
    pub(crate) repetitions: usize,
    pub(crate) pages: Vec<Page>,
    /// Requests per second the client sends, each on a new connection; 0: as fast as the
    /// connections go, each client's next request once its last is answered.
    pub(crate) rate: u32,
    /// Requests the client may have open at once: room for the slow page's 100 in flight
    /// plus as many hung ones, so that hung requests do not hold back new ones.
    pub(crate) connections: u32,
    /// Load before the master is stopped.
    pub(crate) before: Duration,
    /// Load after it: long enough for a SYN retransmitted twice (1 s, then 2 s more).
    pub(crate) after: Duration,
    /// Where to keep a packet capture of each run, taken on the client (tcpdump), to see
    /// who reset a failed request and when.
    pub(crate) capture: Option<PathBuf>,
    /// From the SIGTERM on, the client's packets other than SYNs are dropped for this
    /// long (see `measure::hold_client_acks`).
    pub(crate) hold_acks: Option<Duration>,
}

const USAGE: &str = "usage: switchover_bench [--quick] [--repetitions N] [--pages quick,slow] \
                     [--rate R] [--connections C] [--before S] [--after S] [--capture DIR] [--hold-acks S]";

impl Options {
    pub(crate) fn parse() -> Result<Self> {
        let mut options = Options {
            repetitions: 5,
            pages: Page::ALL.to_vec(),
            rate: 500,
            connections: 400,
            before: Duration::from_millis(1500),
            after: Duration::from_millis(3500),
            capture: None,
            hold_acks: None,
        };
        let seconds = |text: String, name: &str| -> Result<Duration> {
            Duration::try_from_secs_f64(text.parse().context(name.to_owned())?)
                .context(name.to_owned())
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value =
                |name: &str| args.next().with_context(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--quick" => options.repetitions = 1,
                "--repetitions" => {
                    options.repetitions =
                        value("--repetitions")?.parse().context("--repetitions")?
                }
                "--pages" => {
                    options.pages = value("--pages")?
                        .split(',')
                        .map(|name| {
                            Page::ALL
                                .into_iter()
                                .find(|p| p.name() == name.trim())
                                .with_context(|| format!("--pages: unknown page {name:?}"))
                        })
                        .collect::<Result<_>>()?
                }
                "--rate" => options.rate = value("--rate")?.parse().context("--rate")?,
                "--connections" => {
                    options.connections =
                        value("--connections")?.parse().context("--connections")?
                }
                "--before" => options.before = seconds(value("--before")?, "--before")?,
                "--after" => options.after = seconds(value("--after")?, "--after")?,
                "--capture" => options.capture = Some(value("--capture")?.into()),
                "--hold-acks" => {
                    options.hold_acks = Some(seconds(value("--hold-acks")?, "--hold-acks")?)
                }
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        if options.repetitions == 0 || options.pages.is_empty() || options.connections == 0 {
            bail!("nothing to measure");
        }
        Ok(options)
    }
}
