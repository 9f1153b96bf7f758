//! Throughput and latency: per client connection count, unthrottled runs for the maximum
//! rate, then runs at one fixed rate common to all proxies for p50/p99. Proxies are
//! interleaved and the order rotates every round.

use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::Bench;
use crate::common::stats::{median, ms};
use crate::load::{measure, oha};
use crate::proxies::{Proxy, Variant};
use crate::quiet::Noise;
use crate::report::Row;
use crate::upstream::{ACCEPTED, SERVED};

/// All proxies stay up through both steps, since idle ones cost nothing.
pub(crate) fn measure_all(bench: &Bench, kinds: &[Variant], noise: &mut Noise) -> Result<Vec<Row>> {
    let mut proxies = Vec::new();
    for &kind in kinds {
        let proxy = bench.start(kind)?;
        warm_up(bench, &proxy)?;
        proxies.push(proxy);
    }
    let mut rows = Vec::new();
    for &conns in &bench.options.connections {
        rows.extend(at(bench, &mut proxies, conns, noise)?);
    }
    Ok(rows)
}

/// Both steps at `conns` client connections: one row per proxy.
fn at(bench: &Bench, proxies: &mut [Proxy], conns: usize, noise: &mut Noise) -> Result<Vec<Row>> {
    let options = &bench.options;
    let n = proxies.len();
    let mut max = vec![Vec::new(); n];
    let mut cpu_us = vec![Vec::new(); n];
    let mut busy = vec![Vec::new(); n];
    for round in 0..options.rounds {
        for i in rotated(n, round) {
            let proxy = &mut proxies[i];
            let run = measure(bench, proxy, conns, None, noise)?;
            let load = &run.load;
            eprintln!(
                "  {conns} conns, round {}, {}: {:.0} req/s, proxy CPU {:.0}%, \
                 new upstream connections {}, other load {:.0}%{}",
                round + 1,
                proxy.variant.label(),
                load.rps(),
                100.0 * run.proxy_cpu / load.seconds,
                run.accepted,
                100.0 * run.foreign,
                load.failure_note()
            );
            max[i].push(load.rps());
            busy[i].push(run.proxy_cpu / load.seconds);
            if load.ok > 0 {
                cpu_us[i].push(run.proxy_cpu / load.ok as f64 * 1e6);
            }
        }
    }
    let max: Vec<f64> = max.iter().map(|v| median(v).unwrap_or(0.0)).collect();
    // The same offered load for every proxy, below what the slowest can do, so that the
    // latencies compare service at equal work, not who queued the most. Rounded to 100
    // req/s so that the figure reads as the setting it is.
    let slowest = max.iter().copied().fold(f64::INFINITY, f64::min);
    let rate = ((slowest * options.rate_fraction / 100.0).floor() * 100.0).max(100.0);
    eprintln!("  {conns} conns: common rate {rate:.0} req/s");
    let mut p50 = vec![Vec::new(); n];
    let mut p99 = vec![Vec::new(); n];
    let mut achieved = vec![Vec::new(); n];
    for round in 0..options.rounds {
        for i in rotated(n, round) {
            let proxy = &mut proxies[i];
            let run = measure(bench, proxy, conns, Some(rate), noise)?;
            let load = &run.load;
            eprintln!(
                "  {conns} conns @ {rate:.0} req/s, round {}, {}: {:.0} req/s, p50 {}, \
                 p99 {}, other load {:.0}%{}",
                round + 1,
                proxy.variant.label(),
                load.rps(),
                ms(load.p50),
                ms(load.p99),
                100.0 * run.foreign,
                load.failure_note()
            );
            p50[i].extend(load.p50);
            p99[i].extend(load.p99);
            achieved[i].push(load.rps());
        }
    }
    Ok((0..n)
        .map(|i| Row {
            variant: proxies[i].variant,
            conns,
            max: max[i],
            busy: median(&busy[i]).unwrap_or(0.0),
            cpu_us: median(&cpu_us[i]),
            rate,
            achieved: median(&achieved[i]).unwrap_or(0.0),
            p50: median(&p50[i]),
            p99: median(&p99[i]),
        })
        .collect())
}

/// Connections, pools and page faults before anything is measured; also shows that the
/// proxy spreads requests over both upstreams.
fn warm_up(bench: &Bench, proxy: &Proxy) -> Result<()> {
    let conns = bench
        .options
        .connections
        .iter()
        .copied()
        .max()
        .unwrap_or(50);
    let served = SERVED.each_ref().map(|s| s.load(Ordering::Relaxed));
    let accepted = ACCEPTED.load(Ordering::Relaxed);
    let load = oha(
        &bench.tools,
        &proxy.url(),
        conns,
        Duration::from_secs(2),
        None,
    )
    .with_context(|| format!("warming up {}", proxy.variant.label()))?;
    let split = [0, 1].map(|i| SERVED[i].load(Ordering::Relaxed) - served[i]);
    eprintln!(
        "  warm-up {}: {:.0} req/s, upstream split {} / {}, upstream connections {}{}",
        proxy.variant.label(),
        load.rps(),
        split[0],
        split[1],
        ACCEPTED.load(Ordering::Relaxed) - accepted,
        load.failure_note()
    );
    Ok(())
}

/// Indices `0..n` starting at `round % n`, so that every proxy goes first in some round.
fn rotated(n: usize, round: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |i| (i + round) % n)
}
