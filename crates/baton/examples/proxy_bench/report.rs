//! What the run prints: the machine and versions, then the tables.

use std::fmt::Write as _;
use std::net::SocketAddr;

use crate::common::machine;
use crate::common::programs::version;
use crate::common::stats::{ms, ratio};
use crate::memory::Memory;
use crate::options::Options;
use crate::proxies::{Kind, Variant};
use crate::quiet::Noise;
use crate::tools::Tools;

/// One proxy at one connection count.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) variant: Variant,
    pub(crate) conns: usize,
    pub(crate) max: f64,
    /// Share of one core the proxy used during the unthrottled run: near 1 means the proxy,
    /// not the client, set the maximum.
    pub(crate) busy: f64,
    pub(crate) cpu_us: Option<f64>,
    /// The fixed rate asked for, and the rate the proxy answered at.
    pub(crate) rate: f64,
    pub(crate) achieved: f64,
    pub(crate) p50: Option<f64>,
    pub(crate) p99: Option<f64>,
}

/// Machine, versions and settings: printed at the start and again above the tables.
pub(crate) fn context(
    tools: &Tools,
    options: &Options,
    cores: usize,
    upstreams: &[SocketAddr],
) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "machine: {}", machine::describe(cores));
    let _ = match tools.cpus {
        Some((client, proxy)) => writeln!(
            text,
            "pinning: proxy on CPU {proxy}; upstreams, this process and oha on CPU {client}"
        ),
        None => writeln!(text, "pinning: off"),
    };
    let _ = writeln!(text, "load generator: {}", version(&tools.oha, "--version"));
    for kind in [Kind::Haproxy, Kind::Nginx] {
        if let Some(program) = tools.binary(kind) {
            let _ = writeln!(text, "{}", version(program, "-v"));
        }
    }
    let _ = writeln!(
        text,
        "upstreams: {} and {}; {} round(s) of {:.0} s runs; connections {:?}",
        upstreams[0],
        upstreams[1],
        options.rounds,
        options.run.as_secs_f64(),
        options.connections
    );
    text
}

pub(crate) fn print(
    options: &Options,
    kinds: &[Variant],
    rows: &[Row],
    memory: &[Memory],
    noise: &Noise,
) {
    print_speed(rows);
    if kinds.iter().any(|v| v.kind == Kind::Baton) && kinds.len() > 1 {
        print_ratios(options, kinds, rows);
    } else {
        println!("\n(no baton figures or no peer: no ratios)");
    }
    print_memory(options, memory);
    println!(
        "\n{} round(s) of {:.0} s per cell, proxies interleaved, medians shown. Latency from oha \
         at the fixed rate with --latency-correction.",
        options.rounds,
        options.run.as_secs_f64()
    );
    println!(
        "Other processes used at most {:.0}% of the machine during a kept run ({} run(s) repeated \
         for other load over 10%, {:.0} s spent waiting for quiet).",
        noise.worst * 100.0,
        noise.repeated,
        noise.waited.as_secs_f64()
    );
}

fn print_speed(rows: &[Row]) {
    print!("{}", speed_table(rows));
}

/// The speed table as markdown (printed, and the source of the charts).
pub(crate) fn speed_table(rows: &[Row]) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "\n| connections | proxy | max req/s | proxy core busy | proxy CPU per request \
         | fixed rate (achieved) | p50 | p99 |"
    );
    let _ = writeln!(text, "|---|---|---|---|---|---|---|---|");
    for row in rows {
        let _ = writeln!(
            text,
            "| {} | {} | {:.0} | {:.0}% | {} | {:.0} ({:.0}) req/s | {} | {} |",
            row.conns,
            row.variant.label(),
            row.max,
            row.busy * 100.0,
            row.cpu_us.map_or("n/a".into(), |us| format!("{us:.1} µs")),
            row.rate,
            row.achieved,
            ms(row.p50),
            ms(row.p99)
        );
    }
    text
}

/// Each baton against each peer with as many threads.
fn print_ratios(options: &Options, kinds: &[Variant], rows: &[Row]) {
    let find = |conns, variant| {
        rows.iter()
            .find(|r| r.conns == conns && r.variant == variant)
    };
    println!("\n| connections | ratio | max req/s | CPU per request | p50 | p99 |");
    println!("|---|---|---|---|---|---|");
    for &conns in &options.connections {
        for &baton in kinds.iter().filter(|v| v.kind == Kind::Baton) {
            let Some(b) = find(conns, baton) else {
                continue;
            };
            let peers = kinds
                .iter()
                .filter(|v| v.kind != Kind::Baton && v.threads == baton.threads);
            for &peer in peers {
                let Some(p) = find(conns, peer) else {
                    continue;
                };
                println!(
                    "| {conns} | {} / {} | {} | {} | {} | {} |",
                    baton.label(),
                    peer.label(),
                    ratio(Some(b.max), Some(p.max)),
                    ratio(b.cpu_us, p.cpu_us),
                    ratio(b.p50, p.p50),
                    ratio(b.p99, p.p99)
                );
            }
        }
    }
    println!(
        "\nmax req/s: above 1 means baton is faster; CPU per request and latency: below 1 \
         means baton is cheaper or quicker."
    );
}

fn print_memory(options: &Options, memory: &[Memory]) {
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "\n| proxy | processes | PSS at start | PSS with {} idle keep-alive clients \
         | per connection | RSS with clients (sum) | still open |",
        options.idle
    );
    println!("|---|---|---|---|---|---|---|");
    for m in memory {
        println!(
            "| {} | {} | {:.1} MiB | {:.1} MiB | {:.1} KiB | {:.1} MiB | {} |",
            m.variant.label(),
            m.loaded.processes,
            mib(m.base.pss),
            mib(m.loaded.pss),
            m.loaded.pss.saturating_sub(m.base.pss) as f64 / m.open.max(1) as f64,
            mib(m.loaded.rss),
            m.open
        );
    }
    if let Some(b) = memory.iter().find(|m| m.variant.kind == Kind::Baton) {
        for p in memory.iter().filter(|m| m.variant.kind != Kind::Baton) {
            println!(
                "{} / {} PSS with clients: {}",
                b.variant.label(),
                p.variant.label(),
                ratio(Some(b.loaded.pss as f64), Some(p.loaded.pss as f64))
            );
        }
    }
    println!(
        "PSS (proportional set size) sums all of a proxy's processes (nginx: master + worker) \
         and counts the pages they share once; RSS summed counts them once per process."
    );
}
