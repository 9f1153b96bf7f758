//! This process's own environment: enough file descriptors, and the client side pinned to
//! its own core.

use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::{Context, Result, anyhow, bail};
use nix::sched::{CpuSet, sched_setaffinity};
use nix::unistd::Pid;

/// Ten thousand idle clients need ten thousand descriptors here and in the proxy: raise the
/// soft limit to the hard one by re-running this program under `prlimit` (no unsafe here).
pub(crate) fn ensure_fd_limit(need: usize) -> Result<()> {
    let limits = std::fs::read_to_string("/proc/self/limits").context("/proc/self/limits")?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .context("no open-files line in /proc/self/limits")?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    let parse = |s: &str| {
        if s == "unlimited" {
            Ok(usize::MAX)
        } else {
            s.parse::<usize>().context("open-files limit")
        }
    };
    let (soft, hard) = match fields[..] {
        [_, _, _, soft, hard, ..] => (parse(soft)?, parse(hard)?),
        _ => bail!("unexpected /proc/self/limits line {line:?}"),
    };
    if soft >= need {
        return Ok(());
    }
    if hard < need {
        bail!(
            "{need} file descriptors are needed but the hard limit is {hard}; run as root with \
             `prlimit --nofile={need}:{need} cargo run ...`, or pass a smaller --idle"
        );
    }
    if std::env::var_os("PROXY_BENCH_REEXEC").is_some() {
        bail!("prlimit did not raise the open-files limit ({soft} < {need})");
    }
    let exe = std::env::current_exe().context("current_exe")?;
    let error = Command::new("prlimit")
        .arg(format!("--nofile={hard}:{hard}"))
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env("PROXY_BENCH_REEXEC", "1")
        .exec();
    Err(anyhow!(error).context(format!(
        "re-running under prlimit to raise the open-files limit from {soft} (or run `ulimit -n \
         {hard}` first)"
    )))
}

/// With two cores or more: this process (and so the upstreams and every oha it starts) on
/// the first core, the proxies on the last one, so that each proxy gets the same whole core
/// and does not fight the client for it. Must run before any thread exists, so that every
/// thread inherits it. Returns `(client CPU, proxy CPU)`.
pub(crate) fn pin(cores: usize, wanted: bool) -> Result<Option<(usize, usize)>> {
    if !wanted || cores < 2 {
        return Ok(None);
    }
    let (client, proxy) = (0, cores - 1);
    let mut set = CpuSet::new();
    set.set(client).context("CPU set")?;
    sched_setaffinity(Pid::from_raw(0), &set).context("pinning the client side")?;
    Ok(Some((client, proxy)))
}
