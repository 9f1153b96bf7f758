//! Failover benchmark: baton against keepalived, same settings, same lab, same run.
//!
//! On the guide's lab a client pings the VIP every millisecond; the outage is the longest
//! gap between two replies around the event (last reply before, first reply after). Two
//! nodes (lb2 priority 150 master, lb1 priority 100), events: lb2's link cut, and SIGTERM to
//! lb2's daemon. Settings: VRRPv2 1 s, VRRPv3 100 ms, VRRPv3 10 ms, and VRRPv3 10 ms with
//! 100 instances on the one interface (VRIDs 1-100, one VIP each; the client pings the last
//! one's). Runs are interleaved (baton, keepalived, keepalived, baton, ...) and repeated;
//! each repetition places the event at a different point after an advertisement seen by
//! the client (the same points for both daemons); the table shows medians.
//!
//!     cargo build --release -p baton
//!     cargo run --release -p baton --example failover_bench [REPETITIONS] [--only TEXT] [--svg DIR]
//!     cargo run --release -p baton --example failover_bench -- --cpu [REPETITIONS] [--window SECONDS] [--baseline BATON] [--only SETTING] [--callgrind]
//!
//! `--only TEXT` runs the settings whose name contains TEXT. `--svg DIR` writes a chart per
//! setting (outage per event, baton beside keepalived); with `--svg-from REPORT` it draws
//! them from a saved report (this program's output) instead.
//!
//! `--cpu` measures the cost of fast adverts instead: with VRRPv3 adverts every 10 ms, 1 and
//! 100 instances, the CPU time the master's and the backup's daemons (every process in the
//! host's namespace, all threads, from /proc/PID/task/*/schedstat, in nanoseconds) spend over
//! `--window` seconds (20) once the election settled; interleaved and repeated as above,
//! medians. A run in which the VIPs moved during the window is reported and left out.
//! Every run also counts the backup's takeovers in the window, kept or not (its adverts as
//! the client sees them; a VRID's adverts after more than three intervals without one are
//! a new takeover), and prints the machine's load average.
//! `--baseline BATON` measures another baton binary too (an older build), in the same runs.
//! With `--cpu`, `--only` takes a setting's whole name: `--only "v3 advert 10 ms"` is one
//! instance alone.
//! `--cpu --callgrind` counts instructions instead of time: both daemons of each run under
//! valgrind's callgrind (children traced), counters zeroed once the election settled, read
//! after the window, and divided by the adverts the client saw (the watched VRID's, times
//! the instances); a count the machine's load does not change. Needs valgrind.
//!
//! Needs root; builds its own namespaces and removes them.

#[path = "common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use baton_lab::{Host, Lab};
use common::lab::{RunDir, wait_for};

#[derive(Clone, Copy, PartialEq)]
enum Daemon {
    Baton,
    Keepalived,
    /// `--baseline`: another baton binary.
    Baseline,
}

impl Daemon {
    fn name(self) -> &'static str {
        match self {
            Daemon::Baton => "baton",
            Daemon::Keepalived => "keepalived",
            Daemon::Baseline => "baton (baseline)",
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Trigger {
    LinkCut,
    Sigterm,
}

struct Setting {
    name: &'static str,
    version: u8,
    advert_int: &'static str,
    interval: Duration,
    /// VRRP instances on lb1's and lb2's eth0.
    instances: u8,
}

const SETTINGS: [Setting; 4] = [
    Setting {
        name: "v2 advert 1 s",
        version: 2,
        advert_int: "1",
        interval: Duration::from_secs(1),
        instances: 1,
    },
    Setting {
        name: "v3 advert 100 ms",
        version: 3,
        advert_int: "0.1",
        interval: Duration::from_millis(100),
        instances: 1,
    },
    Setting {
        name: "v3 advert 10 ms",
        version: 3,
        advert_int: "0.01",
        interval: Duration::from_millis(10),
        instances: 1,
    },
    Setting {
        name: "v3 advert 10 ms, 100 instances",
        version: 3,
        advert_int: "0.01",
        interval: Duration::from_millis(10),
        instances: 100,
    },
];

/// What the command line asks for.
struct Options {
    repetitions: usize,
    /// Where to write charts, and a saved report to draw instead of measuring.
    svg: Option<PathBuf>,
    svg_from: Option<PathBuf>,
    /// Settings whose name contains this, or all.
    only: Option<String>,
    /// The CPU table instead of the outages, over windows this long.
    cpu: bool,
    window: Duration,
    baseline: Option<PathBuf>,
    /// `--callgrind`: instructions per advert instead of CPU time.
    callgrind: bool,
}

fn arguments() -> Options {
    let mut options = Options {
        repetitions: 5,
        svg: None,
        svg_from: None,
        only: None,
        cpu: false,
        window: Duration::from_secs(20),
        baseline: None,
        callgrind: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--svg" => options.svg = args.next().map(PathBuf::from),
            "--svg-from" => options.svg_from = args.next().map(PathBuf::from),
            "--only" => options.only = args.next(),
            "--cpu" => options.cpu = true,
            "--callgrind" => options.callgrind = true,
            "--baseline" => options.baseline = args.next().map(PathBuf::from),
            "--window" => match args.next().and_then(|w| w.parse().ok()) {
                Some(seconds) => options.window = Duration::from_secs_f64(seconds),
                None => usage(),
            },
            other => match other.parse() {
                Ok(n) => options.repetitions = n,
                Err(_) => usage(),
            },
        }
    }
    options
}

fn usage() -> ! {
    eprintln!(
        "usage: failover_bench [REPETITIONS] [--only TEXT] [--svg DIR [--svg-from REPORT]]\n       \
         failover_bench --cpu [REPETITIONS] [--window SECONDS] [--baseline BATON] [--only SETTING] [--callgrind]"
    );
    std::process::exit(2);
}

fn main() {
    let options = arguments();
    let (repetitions, svg, svg_from) = (options.repetitions, options.svg, options.svg_from);
    if let Some(report) = svg_from {
        let dir = svg.unwrap_or_else(|| PathBuf::from("."));
        if let Err(error) = common::svg::from_saved(&report, &dir, charts) {
            eprintln!("{}: {error}", report.display());
            std::process::exit(1);
        }
        return;
    }
    let Some(baton) = common::baton::release_binary() else {
        eprintln!("build the daemon first: cargo build --release -p baton");
        std::process::exit(2);
    };
    common::baton::warn_if_stale(&baton);
    let run_dir = match RunDir::prepare("failover_bench") {
        Ok(dir) => dir,
        Err(reason) => {
            eprintln!("{reason}");
            std::process::exit(2);
        }
    };
    let binaries = Binaries {
        baton,
        baseline: options.baseline,
        callgrind: options.callgrind && options.cpu,
    };
    if options.cpu {
        cpu::table(
            &run_dir,
            &binaries,
            repetitions,
            options.window,
            options.only.as_deref(),
        );
        return;
    }
    let baton = &binaries;
    let chosen = SETTINGS.iter().filter(|setting| {
        options
            .only
            .as_deref()
            .is_none_or(|only| setting.name.contains(only))
    });
    let mut rows = Vec::new();
    for setting in chosen {
        for trigger in [Trigger::LinkCut, Trigger::Sigterm] {
            let mut results = [Vec::new(), Vec::new()];
            for rep in 0..repetitions {
                // Alternate who goes first so drift in machine load hits both alike.
                let order = if rep % 2 == 0 {
                    [Daemon::Baton, Daemon::Keepalived]
                } else {
                    [Daemon::Keepalived, Daemon::Baton]
                };
                // The outage depends on where in the advert interval the event falls; both
                // daemons get the same spread of phases.
                let phase = setting
                    .interval
                    .mul_f64((rep as f64 + 0.5) / repetitions as f64);
                for daemon in order {
                    let outage = measure(&run_dir, baton, daemon, setting, trigger, phase);
                    common::interrupt::wait_if_interrupted();
                    match outage {
                        Ok(outage) => results[daemon as usize].push(outage),
                        Err(error) => eprintln!("  run failed: {error}"),
                    }
                }
            }
            let event = if trigger == Trigger::LinkCut {
                "link cut"
            } else {
                "SIGTERM"
            };
            let (b, k) = (median(&results[0]), median(&results[1]));
            eprintln!(
                "{} / {event}: baton {:?} keepalived {:?}",
                setting.name, results[0], results[1]
            );
            rows.push((setting.name, event, b, k));
        }
    }
    let mut table = String::from(
        "| setting | event | baton median outage | keepalived median outage | baton / keepalived |\n",
    );
    table.push_str("|---|---|---|---|---|\n");
    for (setting, event, b, k) in rows {
        let fmt = |d: Option<Duration>| {
            d.map_or("n/a".to_owned(), |d| {
                format!("{:.1} ms", d.as_secs_f64() * 1e3)
            })
        };
        let ratio = match (b, k) {
            (Some(b), Some(k)) if !k.is_zero() => {
                format!("{:.2}", b.as_secs_f64() / k.as_secs_f64())
            }
            _ => "n/a".into(),
        };
        let _ = writeln!(
            table,
            "| {setting} | {event} | {} | {} | {ratio} |",
            fmt(b),
            fmt(k)
        );
    }
    println!("\n{table}");
    println!(
        "{repetitions} repetitions per cell, interleaved; outage = longest gap between ping replies (1 ms probes)."
    );
    if let Some(dir) = svg {
        let note =
            format!("live run of failover_bench, {repetitions} repetitions per cell, medians");
        if let Err(error) = common::svg::write_all(&dir, &charts(&table, &note)) {
            eprintln!("{}: {error}", dir.display());
        }
    }
}

/// One chart per setting: the outage per event, baton beside keepalived.
fn charts(report: &str, note: &str) -> Vec<(String, String)> {
    use common::svg::{Bars, columns, slug, tables};
    let Some(table) = tables(report)
        .into_iter()
        .find(|t| t.has("baton median outage"))
    else {
        return Vec::new();
    };
    let mut settings: Vec<String> = Vec::new();
    for row in &table.rows {
        let setting = table.cell(row, "setting").unwrap_or("").to_owned();
        if !settings.contains(&setting) {
            settings.push(setting);
        }
    }
    settings
        .into_iter()
        .map(|setting| {
            let mut one = common::svg::Table {
                header: table.header.clone(),
                rows: table.rows.clone(),
            };
            one.rows
                .retain(|row| table.cell(row, "setting") == Some(setting.as_str()));
            let bars = Bars::of(columns(
                &one,
                |row| table.cell(row, "event").unwrap_or("").to_owned(),
                &[
                    ("baton median outage", "baton"),
                    ("keepalived median outage", "keepalived"),
                ],
            ));
            let svg = Bars {
                title: format!("Failover outage, {setting} (median; lower is better)"),
                unit: "ms".into(),
                note: note.into(),
                ..bars
            }
            .render();
            (format!("failover-{}", slug(&setting)), svg)
        })
        .collect()
}

fn median(values: &[Duration]) -> Option<Duration> {
    let seconds: Vec<f64> = values.iter().map(Duration::as_secs_f64).collect();
    common::stats::median(&seconds).map(Duration::from_secs_f64)
}

/// The baton binaries measured: the current one, and `--baseline`.
struct Binaries {
    baton: PathBuf,
    baseline: Option<PathBuf>,
    /// Every daemon started under callgrind (`--cpu --callgrind`).
    callgrind: bool,
}

impl Binaries {
    /// The daemons to measure side by side.
    fn daemons(&self) -> Vec<Daemon> {
        let mut daemons = vec![Daemon::Baton, Daemon::Keepalived];
        if self.baseline.is_some() {
            daemons.push(Daemon::Baseline);
        }
        daemons
    }

    fn path(&self, daemon: Daemon) -> &Path {
        match daemon {
            Daemon::Baseline => self.baseline.as_deref().unwrap_or(&self.baton),
            _ => &self.baton,
        }
    }
}

/// The same configuration for both daemons: the guide's VI_1, or with several instances
/// VRIDs 1..=N on eth0 with VIPs 10.0.3.100 and up.
fn conf(router_id: &str, setting: &Setting, priority: u8) -> String {
    if setting.instances == 1 {
        return common::keepalived::conf(router_id, setting.version, setting.advert_int, priority);
    }
    let mut conf = format!(
        "global_defs {{\n    router_id {router_id}\n    vrrp_version {}\n}}\n",
        setting.version
    );
    for vrid in 1..=setting.instances {
        let _ = write!(
            conf,
            "vrrp_instance VI_{vrid} {{\n    state BACKUP\n    interface eth0\n    \
             virtual_router_id {vrid}\n    priority {priority}\n    advert_int {}\n    \
             virtual_ipaddress {{\n        {}/24\n    }}\n}}\n",
            setting.advert_int,
            vip(vrid)
        );
    }
    conf
}

fn vip(vrid: u8) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::new(10, 0, 3, 99 + vrid)
}

/// The instance the client watches and pings: the guide's VI_1 (VRID 51), or of several
/// the last one, which each daemon handles last.
fn watched(setting: &Setting) -> (u8, std::net::Ipv4Addr) {
    if setting.instances == 1 {
        (51, vip(1))
    } else {
        (setting.instances, vip(setting.instances))
    }
}

/// Whether `host` holds every VIP of `setting` (none: `all` false, whether it holds any).
fn holds_vips(host: &Host, setting: &Setting, all: bool) -> bool {
    let Ok(addresses) = host.addresses() else {
        return false;
    };
    let held = |vrid: u8| addresses.contains(&format!("{}/24", vip(vrid)));
    if all {
        (1..=setting.instances).all(held)
    } else {
        (1..=setting.instances).any(held)
    }
}

fn start(
    host: &Host,
    baton: &Binaries,
    daemon: Daemon,
    dir: &Path,
    conf: &str,
) -> Result<baton_lab::Child, String> {
    let path = dir.join(format!("{}.conf", host.name()));
    std::fs::write(&path, conf).map_err(|e| e.to_string())?;
    let mut command = match daemon {
        Daemon::Baton | Daemon::Baseline => {
            let mut c = host.command(baton.path(daemon));
            c.arg("run")
                .arg("--keepalived-conf")
                .arg(&path)
                .arg("--control")
                .arg(dir.join(format!("{}.sock", host.name())));
            c
        }
        Daemon::Keepalived => common::keepalived::command(host, &path, dir),
    };
    if baton.callgrind {
        command = common::host_cpu::under_callgrind(host, &command);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    host.spawn(command).map_err(|e| e.to_string())
}

/// The guide's lab with `daemon` on lb1 (priority 100) and lb2 (priority 150).
struct Pair {
    lab: Lab,
    backup: baton_lab::Child,
    master: baton_lab::Child,
}

impl Pair {
    fn start(
        run_dir: &RunDir,
        baton: &Binaries,
        daemon: Daemon,
        setting: &Setting,
    ) -> Result<Pair, String> {
        let lab = Lab::guide().map_err(|e| e.to_string())?;
        let dir = run_dir.fresh()?;
        let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
        let backup = start(lb1, baton, daemon, &dir, &conf("lb1", setting, 100))?;
        let master = start(lb2, baton, daemon, &dir, &conf("lb2", setting, 150))?;
        Ok(Pair {
            lab,
            backup,
            master,
        })
    }
}

fn measure(
    run_dir: &RunDir,
    baton: &Binaries,
    daemon: Daemon,
    setting: &Setting,
    trigger: Trigger,
    phase: Duration,
) -> Result<Duration, String> {
    let Pair {
        lab,
        backup: _backup,
        mut master,
    } = Pair::start(run_dir, baton, daemon, setting)?;
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    if !wait_for(Duration::from_secs(15), || holds_vips(lb2, setting, true)) {
        return Err("lb2 never became master".into());
    }
    // The client watches the adverts, so the event can be placed `phase` after one of them
    // whatever each daemon's own timing from start to election.
    let (vrid, target) = watched(setting);
    let adverts = watch_adverts(lab.host("client"), vrid)?;
    // At least five intervals and 500 ms of pings before the event.
    let lead = (setting.interval * 5).max(Duration::from_millis(500)) + Duration::from_millis(500);
    let earliest = Instant::now() + lead;

    let mut ping = lab
        .host("client")
        .command("ping")
        .args(["-D", "-n", "-i", "0.001", &target.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("ping: {e}"))?;
    let stdout = ping.stdout.take().ok_or("ping stdout")?;
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter(|line| line.contains("bytes from"))
            .filter_map(|line| {
                line.strip_prefix('[')?
                    .split(']')
                    .next()?
                    .parse::<f64>()
                    .ok()
            })
            .collect::<Vec<f64>>()
    });
    std::thread::sleep(earliest.saturating_duration_since(Instant::now()));
    let seen = adverts.count();
    if !wait_for(setting.interval * 3, || adverts.count() > seen) {
        return Err("the client saw no advertisement".into());
    }
    let last_advert = adverts.last().ok_or("no advertisement")?;
    std::thread::sleep((last_advert + phase).saturating_duration_since(Instant::now()));
    match trigger {
        Trigger::LinkCut => lb2.cut_link().map_err(|e| e.to_string())?,
        Trigger::Sigterm => master.terminate(),
    }
    let took_over = wait_for(Duration::from_secs(10), || holds_vips(lb1, setting, true));
    std::thread::sleep(Duration::from_millis(1000));
    let _ = Command::new("kill")
        .arg("-INT")
        .arg(ping.id().to_string())
        .status();
    let _ = ping.wait();
    let replies = reader.join().map_err(|_| "ping reader panicked")?;
    if !took_over {
        return Err("lb1 never took over".into());
    }
    let gap = replies.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    if replies.len() < 100 {
        return Err(format!("only {} ping replies", replies.len()));
    }
    Ok(Duration::from_secs_f64(gap))
}

/// Arrival times of VRRP advertisements at a host, read from tcpdump as they come.
struct Adverts {
    _tcpdump: baton_lab::Child,
    seen: Lines<()>,
}

impl Adverts {
    fn count(&self) -> usize {
        self.seen.lock().map(|s| s.len()).unwrap_or(0)
    }

    fn last(&self) -> Option<Instant> {
        self.seen.lock().ok()?.last().map(|(at, _)| *at)
    }
}

/// What tcpdump in `host` prints with `args`, a line at a time, parsed by `parse` and kept
/// with when it was read.
type Lines<T> = std::sync::Arc<std::sync::Mutex<Vec<(Instant, T)>>>;

fn tcpdump_lines<T: Send + 'static>(
    host: &Host,
    args: &[&str],
    parse: impl Fn(&str) -> Option<T> + Send + 'static,
) -> Result<(baton_lab::Child, Lines<T>), String> {
    let mut command = host.command("tcpdump");
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut tcpdump = host.spawn(command).map_err(|e| format!("tcpdump: {e}"))?;
    let stdout = tcpdump.inner_mut().stdout.take().ok_or("tcpdump stdout")?;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&seen);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let (Some(parsed), Ok(mut seen)) = (parse(&line), sink.lock()) {
                seen.push((Instant::now(), parsed));
            }
        }
    });
    Ok((tcpdump, seen))
}

/// VRID `vrid`'s adverts (byte 1 of the VRRP header, after a 20-byte IPv4 header).
fn watch_adverts(host: &Host, vrid: u8) -> Result<Adverts, String> {
    let filter = format!("ip proto 112 and ip[21] = {vrid}");
    let (tcpdump, seen) = tcpdump_lines(host, &["-i", "eth0", "-l", "-n", "-q", &filter], |_| {
        Some(())
    })?;
    Ok(Adverts {
        _tcpdump: tcpdump,
        seen,
    })
}

/// The adverts one host sends, by VRID, as the client sees them: how often the backup took
/// over (flapped) during a window.
struct Takeovers {
    _tcpdump: baton_lab::Child,
    seen: Lines<u8>,
}

impl Takeovers {
    /// Every advert `host` sends (tcpdump at the client prints `vrid N` in each line).
    fn watch(client: &Host, host: &Host) -> Result<Takeovers, String> {
        let filter = format!("ip proto 112 and src {}", host.address());
        let (tcpdump, seen) =
            tcpdump_lines(client, &["-i", "eth0", "-l", "-n", &filter], |line| {
                line.split_once("vrid ")
                    .and_then(|(_, rest)| rest.split(',').next()?.trim().parse::<u8>().ok())
            })?;
        Ok(Takeovers {
            _tcpdump: tcpdump,
            seen,
        })
    }

    /// Takeovers since `from`: adverts of a VRID after none for more than three intervals
    /// (a master advertises every interval; a new burst is a new time as master).
    fn since(&self, from: Instant, interval: Duration) -> (usize, usize) {
        let Ok(seen) = self.seen.lock() else {
            return (0, 0);
        };
        let mut last: std::collections::HashMap<u8, Instant> = std::collections::HashMap::new();
        let (mut takeovers, mut adverts) = (0, 0);
        for &(at, vrid) in seen.iter().filter(|(at, _)| *at >= from) {
            adverts += 1;
            if last
                .insert(vrid, at)
                .is_none_or(|before| at.duration_since(before) > interval * 3)
            {
                takeovers += 1;
            }
        }
        (takeovers, adverts)
    }
}

/// `--cpu`: what fast adverts cost each daemon, master and backup.
mod cpu {
    use std::fmt::Write as _;
    use std::time::Duration;

    use crate::common::host_cpu::{cpu_time, instructions, load_average, zero_instructions};

    use super::{
        Binaries, Daemon, Pair, SETTINGS, Setting, Takeovers, holds_vips, wait_for, watch_adverts,
        watched,
    };
    use crate::common;
    use crate::common::lab::RunDir;

    /// How long the election gets to settle before the window opens.
    const SETTLE: Duration = Duration::from_secs(3);

    /// CPU time of the master's and the backup's daemons over one window, in milliseconds
    /// (with `--callgrind`: instructions per advert).
    struct Spent {
        master: f64,
        backup: f64,
    }

    /// One window's outcome: what it cost (None: the VIPs moved, left out), and how often
    /// the backup took over, with how many adverts it sent.
    struct Window {
        spent: Result<Spent, String>,
        takeovers: usize,
        backup_adverts: usize,
    }

    pub(super) fn table(
        run_dir: &RunDir,
        baton: &Binaries,
        repetitions: usize,
        window: Duration,
        only: Option<&str>,
    ) {
        let daemons = baton.daemons();
        // `--only`: the settings whose name is this exactly (one instance: "v3 advert 10 ms").
        let settings = SETTINGS
            .iter()
            .filter(|s| s.interval == Duration::from_millis(10))
            .filter(|s| only.is_none_or(|only| s.name == only));
        let mut report = if baton.callgrind {
            "| instances | daemon | master instructions per advert | backup instructions per advert | runs kept | backup's takeovers per run |\n|---|---|---|---|---|---|\n".to_owned()
        } else {
            format!(
                "| instances | daemon | master CPU per {0:.0} s | backup CPU per {0:.0} s | runs kept | backup's takeovers per run |\n|---|---|---|---|---|---|\n",
                window.as_secs_f64()
            )
        };
        let mut ratios = String::from(
            "| instances | master: baton / keepalived | backup: baton / keepalived |\n|---|---|---|\n",
        );
        for setting in settings {
            let mut spent: Vec<Vec<Spent>> = daemons.iter().map(|_| Vec::new()).collect();
            let mut flaps: Vec<Vec<f64>> = daemons.iter().map(|_| Vec::new()).collect();
            for rep in 0..repetitions {
                // Each daemon goes first as often as the others.
                let mut order: Vec<usize> = (0..daemons.len()).collect();
                order.rotate_left(rep % daemons.len());
                for index in order {
                    let daemon = daemons[index];
                    let outcome = measure(run_dir, baton, daemon, setting, window);
                    common::interrupt::wait_if_interrupted();
                    let (takeovers, adverts) = outcome.as_ref().map_or((None, None), |w| {
                        (Some(w.takeovers), Some(w.backup_adverts))
                    });
                    eprintln!(
                        "  {} instance(s), {}: backup took over {} times, sent {} adverts \
                         (load average {})",
                        setting.instances,
                        daemon.name(),
                        takeovers.map_or("?".to_owned(), |t| t.to_string()),
                        adverts.map_or("?".to_owned(), |t| t.to_string()),
                        load_average(),
                    );
                    if let Some(takeovers) = takeovers {
                        flaps[index].push(takeovers as f64);
                    }
                    match outcome.and_then(|w| w.spent) {
                        Ok(one) => {
                            eprintln!(
                                "  {} instance(s), {}: master {:.1}, backup {:.1}",
                                setting.instances,
                                daemon.name(),
                                one.master,
                                one.backup
                            );
                            spent[index].push(one);
                        }
                        Err(error) => eprintln!("  {}: run left out: {error}", daemon.name()),
                    }
                }
            }
            let medians: Vec<(Option<f64>, Option<f64>)> = spent
                .iter()
                .map(|runs| {
                    let master: Vec<f64> = runs.iter().map(|s| s.master).collect();
                    let backup: Vec<f64> = runs.iter().map(|s| s.backup).collect();
                    (
                        common::stats::median(&master),
                        common::stats::median(&backup),
                    )
                })
                .collect();
            let unit = if baton.callgrind { "" } else { " ms" };
            let ms = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.0}{unit}"));
            for ((daemon, (master, backup)), flaps) in daemons.iter().zip(&medians).zip(&flaps) {
                let counted: Vec<String> = flaps.iter().map(|f| format!("{f:.0}")).collect();
                let _ = writeln!(
                    report,
                    "| {} | {} | {} | {} | {} of {} | {} |",
                    setting.instances,
                    daemon.name(),
                    ms(*master),
                    ms(*backup),
                    spent_runs(&spent, daemon, &daemons),
                    flaps.len(),
                    counted.join(", "),
                );
            }
            let ratio = |b: Option<f64>, k: Option<f64>| match (b, k) {
                (Some(b), Some(k)) if k > 0.0 => format!("{:.2}", b / k),
                _ => "n/a".to_owned(),
            };
            let _ = writeln!(
                ratios,
                "| {} | {} | {} |",
                setting.instances,
                ratio(medians[0].0, medians[1].0),
                ratio(medians[0].1, medians[1].1)
            );
        }
        println!("\n{report}\n{ratios}");
        println!(
            "VRRPv3, adverts every 10 ms; {repetitions} repetitions per cell, interleaved, medians; \
             CPU = user + system time of every thread of the daemon's processes (schedstat)."
        );
    }

    /// How many of `daemon`'s runs were kept (the VIPs did not move).
    fn spent_runs(spent: &[Vec<Spent>], daemon: &Daemon, daemons: &[Daemon]) -> usize {
        daemons
            .iter()
            .position(|d| d == daemon)
            .map_or(0, |index| spent[index].len())
    }

    /// Starts both daemons, lets lb2 win, then reads what each spends over `window`, and
    /// counts the backup's takeovers in it.
    fn measure(
        run_dir: &RunDir,
        baton: &Binaries,
        daemon: Daemon,
        setting: &Setting,
        window: Duration,
    ) -> Result<Window, String> {
        let pair = Pair::start(run_dir, baton, daemon, setting)?;
        let (lb1, lb2) = (pair.lab.host("lb1"), pair.lab.host("lb2"));
        let settled = || holds_vips(lb2, setting, true) && !holds_vips(lb1, setting, false);
        // Under valgrind a daemon takes seconds to start.
        let start = if baton.callgrind { 60 } else { 15 };
        if !wait_for(Duration::from_secs(start), settled) {
            return Err("lb2 never became the only master".into());
        }
        std::thread::sleep(SETTLE);
        let takeovers = Takeovers::watch(pair.lab.host("client"), lb1)?;
        std::thread::sleep(Duration::from_millis(300));
        let opened = std::time::Instant::now();
        let spent = spend(&pair, baton, setting, window, settled);
        let (takeovers, backup_adverts) = takeovers.since(opened, setting.interval);
        Ok(Window {
            spent,
            takeovers,
            backup_adverts,
        })
    }

    /// What the master (lb2) and the backup (lb1) spend over `window`; an error if the VIPs
    /// moved meanwhile.
    fn spend(
        pair: &Pair,
        baton: &Binaries,
        setting: &Setting,
        window: Duration,
        settled: impl Fn() -> bool,
    ) -> Result<Spent, String> {
        let (lb1, lb2) = (pair.lab.host("lb1"), pair.lab.host("lb2"));
        if baton.callgrind {
            let (vrid, _) = watched(setting);
            let adverts = watch_adverts(pair.lab.host("client"), vrid)?;
            std::thread::sleep(Duration::from_millis(500));
            zero_instructions(lb2);
            zero_instructions(lb1);
            let seen = adverts.count();
            std::thread::sleep(window);
            let counted = (instructions(lb2), instructions(lb1));
            let sent = (adverts.count() - seen) * usize::from(setting.instances);
            if !settled() {
                return Err("the VIPs moved during the window".into());
            }
            if sent == 0 {
                return Err("the client saw no advert".into());
            }
            return Ok(Spent {
                master: counted.0 as f64 / sent as f64,
                backup: counted.1 as f64 / sent as f64,
            });
        }
        let before = (cpu_time(lb2), cpu_time(lb1));
        std::thread::sleep(window);
        let after = (cpu_time(lb2), cpu_time(lb1));
        if !settled() {
            return Err("the VIPs moved during the window".into());
        }
        Ok(Spent {
            master: (after.0 - before.0) * 1e3,
            backup: (after.1 - before.1) * 1e3,
        })
    }
}
