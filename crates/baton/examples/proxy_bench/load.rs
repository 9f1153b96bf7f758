//! The load generator: oha against one proxy, unthrottled or at a fixed rate, and what was
//! going on around the run.

use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::Bench;
use crate::children;
use crate::common::oha::Report;
use crate::proxies::Proxy;
use crate::quiet::{Noise, Ticks, wait_quiet};
use crate::tools::Tools;
use crate::upstream::ACCEPTED;

/// /proc/PID/stat counts CPU time in USER_HZ ticks, which Linux fixes at 100 for user space.
const TICKS_PER_SECOND: f64 = 100.0;

/// One measured run and what was going on around it.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) load: Report,
    /// CPU seconds the proxy used.
    pub(crate) proxy_cpu: f64,
    /// Connections the upstreams accepted during the run.
    pub(crate) accepted: u64,
    /// Share of the whole machine used by processes outside this benchmark (other people's
    /// builds on a shared machine), 0 to 1.
    pub(crate) foreign: f64,
}

/// Waits for a quiet machine, then runs oha against `proxy`; a run that someone else's work
/// overlapped is done again, twice at most. With `ignore_load` it neither waits nor repeats,
/// and only reports the other load.
pub(crate) fn measure(
    bench: &Bench,
    proxy: &mut Proxy,
    conns: usize,
    rate: Option<f64>,
    noise: &mut Noise,
) -> Result<Run> {
    let ignore_load = bench.options.ignore_load;
    let mut attempt = 0;
    loop {
        attempt += 1;
        if !ignore_load {
            wait_quiet(noise);
        }
        let ticks = Ticks::now();
        let proxy_ticks = proxy.cpu_ticks();
        let accepted = ACCEPTED.load(Ordering::Relaxed);
        let load = oha(&bench.tools, &proxy.url(), conns, bench.options.run, rate)?;
        let proxy_ticks = proxy.cpu_ticks().saturating_sub(proxy_ticks);
        let foreign = ticks.foreign_since(Ticks::now(), proxy_ticks);
        proxy.check_alive()?;
        if foreign > 0.10 && attempt < 3 && !ignore_load {
            eprintln!(
                "  (other load {:.0}% during the run: repeating it)",
                foreign * 100.0
            );
            noise.repeated += 1;
            continue;
        }
        noise.worst = noise.worst.max(foreign);
        return Ok(Run {
            load,
            proxy_cpu: proxy_ticks as f64 / TICKS_PER_SECOND,
            accepted: ACCEPTED.load(Ordering::Relaxed) - accepted,
            foreign,
        });
    }
}

/// One oha run with `conns` keep-alive connections for `run`: unthrottled, or at a fixed
/// `rate` with latency counted from when each request was due rather than from when a busy
/// connection could send it (`--latency-correction`: no coordinated omission).
pub(crate) fn oha(
    tools: &Tools,
    url: &str,
    conns: usize,
    run: Duration,
    rate: Option<f64>,
) -> Result<Report> {
    let mut command = Command::new(&tools.oha);
    command
        .args([
            "--no-tui",
            "--output-format",
            "json",
            "--disable-compression",
        ])
        .arg("-c")
        .arg(conns.to_string())
        .arg("-z")
        .arg(format!("{}ms", run.as_millis()))
        // Pinned to one core, a second runtime thread would only add switching.
        .arg("--worker-threads")
        .arg(if tools.cpus.is_some() { "1" } else { "2" });
    if let Some(rate) = rate {
        command
            .arg("-q")
            .arg(format!("{rate:.0}"))
            .arg("--latency-correction");
    }
    command
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = children::spawn(&mut command)
        .with_context(|| format!("starting {}", tools.oha.display()))?;
    let pid = child.id();
    let output = child.wait_with_output();
    children::unregister(pid);
    let output = output.context("waiting for oha")?;
    if !output.status.success() {
        bail!(
            "oha failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Report::parse(&output.stdout)
}
