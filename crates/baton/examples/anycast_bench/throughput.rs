//! Item 3: requests per second through the frontends with 1, 2 and 3 load balancers
//! announcing (the others stopped), oha in the client namespace: 64 keep-alive
//! connections, which the router's hash spreads over the announced LBs.
//!
//! Every namespace shares the machine's cores: oha, the router's forwarding, each LB's
//! proxy and both apps. More LBs add proxies, not cores, so this shows what the cores
//! allow, not what the LBs could do on hosts of their own.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::common::oha::Report;
use crate::configs::FRONTEND_PORT;
use crate::topology::{ANYCAST, BgpLab};

const CONNECTIONS: usize = 64;

pub(crate) fn measure(
    lab: &mut BgpLab,
    oha: &Path,
    load_balancers: usize,
    seconds: u64,
) -> Result<Report> {
    lab.restore()?;
    lab.only_first(load_balancers)?;
    // The sessions and checks of a just-started LB settle before the load.
    std::thread::sleep(Duration::from_millis(500));
    let mut command = lab.client().command(oha);
    command
        .args(["--no-tui", "--output-format", "json", "-c"])
        .arg(CONNECTIONS.to_string())
        .arg("-z")
        .arg(format!("{seconds}s"))
        .arg(format!("http://{ANYCAST}:{FRONTEND_PORT}/"));
    let output = command.output().context("running oha in the client")?;
    if !output.status.success() {
        bail!("oha: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Report::parse(&output.stdout)
}
