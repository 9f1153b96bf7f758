//! Other people's work on a shared machine: how much of the CPU the rest of the machine
//! used during a run, and waiting for it to pass before measuring.

use std::time::{Duration, Instant};

use crate::procfs;

/// CPU use by processes outside the benchmark, across all runs.
#[derive(Debug, Default)]
pub(crate) struct Noise {
    /// The largest share of the machine others used during a run that was kept.
    pub(crate) worst: f64,
    pub(crate) waited: Duration,
    pub(crate) repeated: usize,
}

/// CPU ticks of the machine (busy, all) from /proc/stat, and of this process with its
/// reaped children (oha) from /proc/self/stat.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticks {
    busy: u64,
    all: u64,
    own: u64,
}

impl Ticks {
    pub(crate) fn now() -> Self {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal. Busy is user, nice, system and
        // steal (the hypervisor running someone else: noise all the same). irq and softirq
        // are left out: on loopback, most of it is the benchmark's own traffic, received in
        // softirq context and charged to no process, so it would read as someone else's.
        let field = |i: usize| fields.get(i).copied().unwrap_or(0);
        let all: u64 = fields.iter().take(8).sum();
        Ticks {
            busy: field(0) + field(1) + field(2) + field(7),
            all,
            own: procfs::cpu_ticks_with_reaped(std::process::id()),
        }
    }

    /// Share of the machine used since `self` by anything but this process, its reaped
    /// children and `ours` (ticks of still-running children: the proxy).
    pub(crate) fn foreign_since(self, later: Ticks, ours: u64) -> f64 {
        let all = later.all.saturating_sub(self.all);
        let busy = later.busy.saturating_sub(self.busy);
        let own = later.own.saturating_sub(self.own) + ours;
        if all == 0 {
            0.0
        } else {
            busy.saturating_sub(own) as f64 / all as f64
        }
    }
}

/// Waits (up to two minutes) until other processes leave the machine mostly idle, so that
/// runs on a shared machine do not land on someone else's build.
pub(crate) fn wait_quiet(noise: &mut Noise) {
    let start = Instant::now();
    let mut told = false;
    loop {
        let before = Ticks::now();
        std::thread::sleep(Duration::from_millis(500));
        let foreign = before.foreign_since(Ticks::now(), 0);
        if foreign < 0.05 {
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            eprintln!(
                "  (still {:.0}% other load after 2 min: going ahead)",
                foreign * 100.0
            );
            break;
        }
        if !told {
            eprintln!(
                "  (waiting for other load, {:.0}% of the machine, to pass)",
                foreign * 100.0
            );
            told = true;
        }
    }
    noise.waited += start.elapsed().saturating_sub(Duration::from_millis(500));
}
