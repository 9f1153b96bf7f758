//! System calls, context switches and wake-ups per request (`--syscalls RATE`): what each
//! proxy asks of the kernel for one proxied request, counted rather than timed, so that a
//! shared machine's noise does not change it.
//!
//! Each proxy, warmed up, is traced with `perf trace -s` (every thread of every process:
//! nginx's workers too) while oha sends RATE req/s over the connection count for one run;
//! the counts are divided by the requests the upstreams served in the same window. Context
//! switches come from /proc/PID/task/*/status. Requests per `epoll_wait` call says how many
//! requests a proxy serves per look at its sockets: more is fewer wake-ups.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::Bench;
use crate::children;
use crate::load::measure;
use crate::proxies::{Proxy, Variant};
use crate::quiet::Noise;
use crate::upstream::SERVED;

/// One proxy at one connection count.
#[derive(Debug)]
pub(crate) struct Counts {
    variant: Variant,
    conns: usize,
    /// Requests the upstreams served while the proxy was traced.
    requests: u64,
    /// System call name -> (calls, failed calls).
    calls: BTreeMap<String, (u64, u64)>,
    switches: u64,
}

pub(crate) fn measure_all(
    bench: &Bench,
    kinds: &[Variant],
    rate: f64,
    noise: &mut Noise,
) -> Result<Vec<Counts>> {
    let mut counts = Vec::new();
    for &conns in &bench.options.connections {
        for &variant in kinds {
            let mut proxy = bench.start(variant)?;
            // Warm: connections to the upstreams open, pages touched.
            measure(bench, &mut proxy, conns, Some(rate), noise)?;
            counts.push(traced(bench, &mut proxy, conns, rate, noise)?);
        }
    }
    Ok(counts)
}

/// One fixed-rate run with `perf trace -s` attached to every process of `proxy`.
fn traced(
    bench: &Bench,
    proxy: &mut Proxy,
    conns: usize,
    rate: f64,
    noise: &mut Noise,
) -> Result<Counts> {
    let pids = proxy.pids();
    let list = pids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let out = std::env::temp_dir().join(format!("proxy-bench-trace-{}", std::process::id()));
    let mut perf = Command::new("perf");
    perf.args(["trace", "-s", "-o"])
        .arg(&out)
        .args(["-p", &list])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let perf = children::spawn(&mut perf).context("starting `perf trace` (is perf installed?)")?;
    // perf needs a moment to attach to every thread.
    std::thread::sleep(Duration::from_millis(1500));
    let served = || {
        SERVED
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let switches_before = pids.iter().map(|&p| switches(p)).sum::<u64>();
    let before = served();
    let run = measure(bench, proxy, conns, Some(rate), noise)?;
    let requests = served() - before;
    let switches_after = pids.iter().map(|&p| switches(p)).sum::<u64>();
    let pid = perf.id();
    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGINT);
    let output = perf.wait_with_output();
    children::unregister(pid);
    output.context("waiting for perf")?;
    let text = std::fs::read_to_string(&out).context("reading perf's summary")?;
    let _ = std::fs::remove_file(&out);
    let calls = parse_summary(&text);
    if calls.is_empty() {
        bail!("perf trace counted nothing for {}", proxy.variant.label());
    }
    eprintln!(
        "  syscalls {}, {conns} conns @ {rate:.0} req/s: {} requests ({:.0} req/s by oha)",
        proxy.variant.label(),
        requests,
        run.load.rps()
    );
    Ok(Counts {
        variant: proxy.variant,
        conns,
        requests,
        calls,
        switches: switches_after.saturating_sub(switches_before),
    })
}

/// Voluntary and involuntary context switches of every thread of `pid`.
fn switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// `perf trace -s`'s per-thread tables summed by system call: rows of name, calls,
/// errors, then times.
fn parse_summary(text: &str) -> BTreeMap<String, (u64, u64)> {
    let mut calls = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, count, errors, ..] = fields[..] else {
            continue;
        };
        let (Ok(count), Ok(errors)) = (count.parse::<u64>(), errors.parse::<u64>()) else {
            continue;
        };
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let entry: &mut (u64, u64) = calls.entry(name.to_owned()).or_default();
        entry.0 += count;
        entry.1 += errors;
    }
    calls
}

pub(crate) fn print(counts: &[Counts], rate: f64, run: Duration) {
    println!(
        "\nPer request, at {rate:.0} req/s for {:.0} s (perf trace -s; failed calls in \
         brackets, mostly EAGAIN):\n",
        run.as_secs_f64()
    );
    println!(
        "| connections | proxy | system calls | reads | writes | epoll_wait | other \
         | context switches | requests per epoll_wait |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for c in counts {
        let per = |n: u64| n as f64 / c.requests.max(1) as f64;
        let sum = |names: &[&str]| {
            names.iter().fold((0, 0), |(n, e), name| {
                let (cn, ce) = c.calls.get(*name).copied().unwrap_or_default();
                (n + cn, e + ce)
            })
        };
        let cell = |(n, e): (u64, u64)| format!("{:.2} ({:.2})", per(n), per(e));
        let reads = sum(&["read", "recvfrom", "readv", "recvmsg"]);
        let writes = sum(&["write", "writev", "sendto", "sendmsg"]);
        let epoll = sum(&["epoll_wait", "epoll_pwait", "epoll_pwait2"]);
        let total = c
            .calls
            .values()
            .fold((0, 0), |(n, e), &(cn, ce)| (n + cn, e + ce));
        let other = (
            total.0 - reads.0 - writes.0 - epoll.0,
            total.1 - reads.1 - writes.1 - epoll.1,
        );
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.3} | {:.1} |",
            c.conns,
            c.variant.label(),
            cell(total),
            cell(reads),
            cell(writes),
            cell(epoll),
            cell(other),
            per(c.switches),
            c.requests as f64 / epoll.0.max(1) as f64
        );
    }
    println!("\nEvery system call seen, per request:\n");
    for c in counts {
        let per = |n: u64| n as f64 / c.requests.max(1) as f64;
        let mut rows: Vec<_> = c.calls.iter().collect();
        rows.sort_by_key(|&(_, &(n, _))| std::cmp::Reverse(n));
        let list = rows
            .iter()
            .filter(|(_, (n, _))| per(*n) >= 0.005)
            .map(|&(name, &(n, e))| {
                if e > 0 {
                    format!("{name} {:.2} ({:.2} failed)", per(n), per(e))
                } else {
                    format!("{name} {:.2}", per(n))
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        println!("- {} at {}: {list}", c.variant.label(), c.conns);
    }
}
