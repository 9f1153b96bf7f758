//! Command-line options.

use anyhow::{Context, Result, bail};

#[derive(Debug)]
pub(crate) struct Options {
    /// Every measurement once per round, the variants' order rotating.
    pub(crate) rounds: usize,
    /// Long-lived connections for item 2.
    pub(crate) connections: usize,
    /// Seconds the clients watch after the fault.
    pub(crate) window: u64,
    /// Seconds of load per throughput run.
    pub(crate) load_seconds: u64,
    pub(crate) failover: bool,
    pub(crate) connections_part: bool,
    pub(crate) throughput: bool,
}

const USAGE: &str = "usage: anycast_bench [--rounds N] [--connections N] [--window S] \
                     [--load-seconds S] [--only failover,connections,throughput] [--quick]";

impl Options {
    pub(crate) fn parse() -> Result<Self> {
        let mut options = Options {
            rounds: 3,
            connections: 60,
            window: 4,
            load_seconds: 5,
            failover: true,
            connections_part: true,
            throughput: true,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value =
                |name: &str| args.next().with_context(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--rounds" => options.rounds = value("--rounds")?.parse().context("--rounds")?,
                "--connections" => {
                    options.connections =
                        value("--connections")?.parse().context("--connections")?
                }
                "--window" => options.window = value("--window")?.parse().context("--window")?,
                "--load-seconds" => {
                    options.load_seconds =
                        value("--load-seconds")?.parse().context("--load-seconds")?
                }
                "--only" => {
                    let parts = value("--only")?;
                    let parts: Vec<&str> = parts.split(',').map(str::trim).collect();
                    if let Some(unknown) = parts
                        .iter()
                        .find(|p| !["failover", "connections", "throughput"].contains(p))
                    {
                        bail!("--only: unknown part {unknown}\n{USAGE}");
                    }
                    options.failover = parts.contains(&"failover");
                    options.connections_part = parts.contains(&"connections");
                    options.throughput = parts.contains(&"throughput");
                }
                "--quick" => {
                    options.rounds = 1;
                    options.window = 3;
                    options.load_seconds = 3;
                }
                "--help" | "-h" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other}\n{USAGE}"),
            }
        }
        if options.rounds == 0 || options.window < 2 || options.connections == 0 {
            bail!("--rounds and --connections at least 1, --window at least 2\n{USAGE}");
        }
        Ok(options)
    }
}
