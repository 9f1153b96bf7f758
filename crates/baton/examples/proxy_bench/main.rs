//! Proxy benchmark (issue 4): `baton proxy` against HAProxy and nginx, same run, same
//! upstreams, same job.
//!
//! Everything runs on 127.0.0.1. Two upstream HTTP/1.1 servers (inside this process) answer
//! every request with a small fixed body. Each proxy gets one worker (`baton proxy --threads
//! 1`, HAProxy `nbthread 1`, nginx `worker_processes 1`), keep-alive on both sides, round
//! robin, X-Forwarded-For/-Proto and Via, and no logging. With two or more cores each proxy
//! is pinned to the last core, and this process, its upstreams and the load generator to the
//! first one.
//!
//! For each client connection count (50 and 500):
//! 1. throughput: an unthrottled `oha` run per proxy gives the maximum req/s, together with
//!    the proxy's own CPU time per request (read from /proc, so it holds even where the client
//!    is the bottleneck);
//! 2. latency: a fixed-rate run at one rate for all (70% of the slowest proxy's maximum) with
//!    `oha --latency-correction`, so that a stall counts against every request scheduled
//!    during it (no coordinated omission); p50 and p99.
//!
//! Proxies are interleaved and the order rotates every round; the tables give medians.
//!
//! Then memory: 10,000 client connections that each send one request and stay open idle,
//! and the proxy's resident memory (PSS summed over its processes: nginx master + worker).
//!
//!     apt-get install -y haproxy nginx     # then stop their services: they are run here
//!     cargo install oha --locked
//!     cargo build --release -p baton
//!     cargo run --release -p baton --example proxy_bench -- [--quick]
//!
//! Options: `--quick` (1 round of 3 s runs), `--rounds N` (default 3), `--seconds S` (per run,
//! default 10), `--connections 50,500`, `--idle N` (default 10000), `--rate-fraction F`
//! (default 0.7), `--no-pin`, `--only baton,haproxy,nginx` (a `:N` after a name: N worker
//! threads, e.g. `--only baton:1,baton:2,haproxy:2,nginx:2`), `--threads N` (worker threads of
//! every proxy `--only` gives no count for; more than one are not pinned, and share the
//! client's core), `--syscalls RATE` (instead of the speed and memory phases: system calls,
//! context switches and requests per wake-up at RATE req/s, counted with `perf trace -s`; see
//! `syscalls.rs`), `--ignore-load` (measure even while other processes load the machine: for
//! smoke runs), `--svg DIR` (charts of the speed table; with
//! `--svg-from REPORT`, drawn from a saved report instead of measuring). `BATON_BIN` and `OHA` override
//! where the two binaries are found. Ctrl-C stops every process it started.

#[path = "../common/mod.rs"]
mod common;

mod charts;
mod children;
mod configs;
mod load;
mod memory;
mod options;
mod procfs;
mod proxies;
mod quiet;
mod report;
mod setup;
mod syscalls;
mod throughput;
mod tools;
mod upstream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use options::Options;
use proxies::{Proxy, Variant};
use quiet::Noise;
use tools::Tools;

fn main() -> ExitCode {
    let result = Options::parse().and_then(|options| match &options.svg_from {
        Some(report) => {
            let dir = options.svg.as_deref().unwrap_or(std::path::Path::new("."));
            common::svg::from_saved(report, dir, charts::charts).map_err(anyhow::Error::from)
        }
        None => run(options),
    });
    common::interrupt::wait_if_interrupted();
    children::cleanup();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("proxy_bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// What every phase needs.
#[derive(Debug)]
pub(crate) struct Bench {
    options: Options,
    tools: Tools,
    dir: PathBuf,
    upstreams: Vec<SocketAddr>,
}

impl Bench {
    pub(crate) fn start(&self, variant: Variant) -> Result<Proxy> {
        Proxy::start(
            variant,
            &self.tools,
            &self.dir,
            &self.upstreams,
            self.options.idle,
        )
    }
}

fn run(options: Options) -> Result<()> {
    setup::ensure_fd_limit(options.idle + 2_000)?;
    // Read before pinning: afterwards this process sees one core.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpus = setup::pin(cores, options.pin)?;
    common::interrupt::on_interrupt(children::cleanup).context("installing Ctrl-C clean-up")?;
    let tools = Tools::find(&options, cpus)?;
    let kinds: Vec<Variant> = options
        .only
        .iter()
        .copied()
        .filter(|v| tools.binary(v.kind).is_some())
        .collect();
    if kinds.is_empty() {
        bail!("no proxy to measure");
    }

    let dir = std::env::temp_dir().join(format!("baton-proxy-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    children::set_scratch(dir.clone());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(if cpus.is_some() { 1 } else { 2 })
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let upstreams = runtime.block_on(upstream::start())?;

    let context = report::context(&tools, &options, cores, &upstreams);
    eprintln!("{context}");
    let bench = Bench {
        options,
        tools,
        dir,
        upstreams,
    };
    let mut noise = Noise::default();
    if let Some(rate) = bench.options.syscalls {
        let counts = syscalls::measure_all(&bench, &kinds, rate, &mut noise)?;
        println!("\n{context}");
        syscalls::print(&counts, rate, bench.options.run);
        runtime.shutdown_timeout(Duration::from_secs(1));
        return Ok(());
    }
    let rows = throughput::measure_all(&bench, &kinds, &mut noise)?;
    let memory = memory::measure(&bench, &kinds, &runtime)?;
    println!("\n{context}");
    report::print(&bench.options, &kinds, &rows, &memory, &noise);
    if let Some(dir) = &bench.options.svg {
        let note = format!(
            "live run of proxy_bench, {} round(s) of {:.0} s",
            bench.options.rounds,
            bench.options.run.as_secs_f64()
        );
        common::svg::write_all(dir, &charts::charts(&report::speed_table(&rows), &note))
            .with_context(|| dir.display().to_string())?;
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}
