//! Failover benchmark: baton against keepalived, same settings, same lab, same run.
//!
//! On the guide's lab a client pings the VIP every millisecond; the outage is the longest
//! gap between two replies around the event (last reply before, first reply after). Two
//! nodes (lb2 priority 150 master, lb1 priority 100), events: lb2's link cut, and SIGTERM to
//! lb2's daemon. Settings: VRRPv2 1 s, VRRPv3 100 ms, VRRPv3 10 ms. Runs are interleaved
//! (baton, keepalived, keepalived, baton, ...) and repeated; each repetition places the
//! event at a different point after an advertisement seen by the client (the same points
//! for both daemons); the table shows medians.
//!
//!     cargo build --release -p baton
//!     cargo run --release -p baton --example failover_bench [REPETITIONS] [--svg DIR]
//!
//! `--svg DIR` writes a chart per setting (outage per event, baton beside keepalived); with
//! `--svg-from REPORT` it draws them from a saved report (this program's output) instead.
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
use common::lab::{RunDir, holds, wait_for};

#[derive(Clone, Copy, PartialEq)]
enum Daemon {
    Baton,
    Keepalived,
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
}

const SETTINGS: [Setting; 3] = [
    Setting {
        name: "v2 advert 1 s",
        version: 2,
        advert_int: "1",
        interval: Duration::from_secs(1),
    },
    Setting {
        name: "v3 advert 100 ms",
        version: 3,
        advert_int: "0.1",
        interval: Duration::from_millis(100),
    },
    Setting {
        name: "v3 advert 10 ms",
        version: 3,
        advert_int: "0.01",
        interval: Duration::from_millis(10),
    },
];

/// Repetitions, where to write charts, and a saved report to draw instead of measuring.
fn arguments() -> (usize, Option<PathBuf>, Option<PathBuf>) {
    let (mut repetitions, mut svg, mut svg_from) = (5, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--svg" => svg = args.next().map(PathBuf::from),
            "--svg-from" => svg_from = args.next().map(PathBuf::from),
            other => match other.parse() {
                Ok(n) => repetitions = n,
                Err(_) => {
                    eprintln!(
                        "usage: failover_bench [REPETITIONS] [--svg DIR [--svg-from REPORT]]"
                    );
                    std::process::exit(2);
                }
            },
        }
    }
    (repetitions, svg, svg_from)
}

fn main() {
    let (repetitions, svg, svg_from) = arguments();
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
    let mut rows = Vec::new();
    for setting in &SETTINGS {
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
                    let outage = measure(&run_dir, &baton, daemon, setting, trigger, phase);
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

fn conf(router_id: &str, setting: &Setting, priority: u8) -> String {
    common::keepalived::conf(router_id, setting.version, setting.advert_int, priority)
}

fn start(
    host: &Host,
    baton: &Path,
    daemon: Daemon,
    dir: &Path,
    conf: &str,
) -> Result<baton_lab::Child, String> {
    let path = dir.join(format!("{}.conf", host.name()));
    std::fs::write(&path, conf).map_err(|e| e.to_string())?;
    let mut command = match daemon {
        Daemon::Baton => {
            let mut c = host.command(baton);
            c.arg("run")
                .arg("--keepalived-conf")
                .arg(&path)
                .arg("--control")
                .arg(dir.join(format!("{}.sock", host.name())));
            c
        }
        Daemon::Keepalived => common::keepalived::command(host, &path, dir),
    };
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    host.spawn(command).map_err(|e| e.to_string())
}

fn measure(
    run_dir: &RunDir,
    baton: &Path,
    daemon: Daemon,
    setting: &Setting,
    trigger: Trigger,
    phase: Duration,
) -> Result<Duration, String> {
    let lab = Lab::guide().map_err(|e| e.to_string())?;
    let dir = run_dir.fresh()?;
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    let _backup = start(lb1, baton, daemon, &dir, &conf("lb1", setting, 100))?;
    let mut master = start(lb2, baton, daemon, &dir, &conf("lb2", setting, 150))?;
    if !wait_for(Duration::from_secs(15), || holds(lb2)) {
        return Err("lb2 never became master".into());
    }
    // The client watches the adverts, so the event can be placed `phase` after one of them
    // whatever each daemon's own timing from start to election.
    let adverts = watch_adverts(lab.host("client"))?;
    // At least five intervals and 500 ms of pings before the event.
    let lead = (setting.interval * 5).max(Duration::from_millis(500)) + Duration::from_millis(500);
    let earliest = Instant::now() + lead;

    let mut ping = lab
        .host("client")
        .command("ping")
        .args(["-D", "-n", "-i", "0.001", "10.0.3.100"])
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
    let took_over = wait_for(Duration::from_secs(10), || holds(lb1));
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
    seen: std::sync::Arc<std::sync::Mutex<Vec<Instant>>>,
}

impl Adverts {
    fn count(&self) -> usize {
        self.seen.lock().map(|s| s.len()).unwrap_or(0)
    }

    fn last(&self) -> Option<Instant> {
        self.seen.lock().ok()?.last().copied()
    }
}

fn watch_adverts(host: &Host) -> Result<Adverts, String> {
    let mut command = host.command("tcpdump");
    command
        .args(["-i", "eth0", "-l", "-n", "-q", "ip proto 112"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut tcpdump = host.spawn(command).map_err(|e| format!("tcpdump: {e}"))?;
    let stdout = tcpdump.inner_mut().stdout.take().ok_or("tcpdump stdout")?;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&seen);
    std::thread::spawn(move || {
        for _ in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(mut seen) = sink.lock() {
                seen.push(Instant::now());
            }
        }
    });
    Ok(Adverts {
        _tcpdump: tcpdump,
        seen,
    })
}
