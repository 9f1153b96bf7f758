//! The whole machine's CPU time from /proc/stat. Every part of a run (client, apps, the
//! load balancer's process if any, and the kernel's packet work in softirq, which no
//! process is charged for) lands on this one machine, so the machine's busy time over a run,
//! divided by what the run did, is the cost of one connection end to end.

/// Clock ticks per second of /proc/stat (USER_HZ, 100 on every Linux architecture that
/// matters here; sysconf would need unsafe or a crate for one constant).
pub(crate) const TICKS_PER_SECOND: f64 = 100.0;

/// Cumulative ticks of all CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ticks {
    /// user + nice + system + irq + softirq: work done on this machine. Steal (the
    /// hypervisor running someone else) and idle and iowait are not.
    pub(crate) busy: u64,
    /// Everything, steal included: the time the CPUs were there.
    pub(crate) all: u64,
    /// irq + softirq (inside `busy`). Without IRQ_TIME_ACCOUNTING the kernel also
    /// charges a tick in softirq to the process it interrupted, so this overlaps the
    /// processes' own time.
    pub(crate) irq: u64,
}

impl Ticks {
    pub(crate) fn now() -> Ticks {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        Ticks::parse(&stat)
    }

    /// The `cpu` line of /proc/stat: user nice system idle iowait irq softirq steal
    /// (guest time is already inside user).
    fn parse(stat: &str) -> Ticks {
        let fields: Vec<u64> = stat
            .lines()
            .find(|l| l.starts_with("cpu "))
            .unwrap_or("")
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        let field = |i: usize| fields.get(i).copied().unwrap_or(0);
        Ticks {
            busy: field(0) + field(1) + field(2) + field(5) + field(6),
            all: fields.iter().take(8).sum(),
            irq: field(5) + field(6),
        }
    }

    /// The ticks from `earlier` to `self`.
    pub(crate) fn since(self, earlier: Ticks) -> Ticks {
        Ticks {
            busy: self.busy.saturating_sub(earlier.busy),
            all: self.all.saturating_sub(earlier.all),
            irq: self.irq.saturating_sub(earlier.irq),
        }
    }

    /// Busy CPU seconds.
    pub(crate) fn busy_seconds(self) -> f64 {
        self.busy as f64 / TICKS_PER_SECOND
    }

    /// The busy share of the machine, 0 to 1.
    pub(crate) fn busy_share(self) -> f64 {
        if self.all == 0 {
            0.0
        } else {
            self.busy as f64 / self.all as f64
        }
    }
}

/// utime + stime of a process (all its threads), in the same ticks; 0 once it is gone.
pub(crate) fn process_ticks(pid: u32) -> u64 {
    stat_ticks(pid, 2)
}

/// The same plus cutime + cstime: the children it has waited for, such as the `nft` and
/// `conntrack` runs with which baton reads its counters.
pub(crate) fn process_ticks_with_children(pid: u32) -> u64 {
    stat_ticks(pid, 4)
}

/// `n` CPU time fields from utime (field 14 of proc(5)) on.
fn stat_ticks(pid: u32, n: usize) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name, in parentheses, may hold spaces: count fields after its end.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0;
    };
    // proc(5): utime, stime, cutime, cstime are fields 14 to 17; the rest starts at field 3.
    rest.split_whitespace()
        .skip(11)
        .take(n)
        .filter_map(|t| t.parse::<u64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::Ticks;

    #[test]
    fn busy_counts_softirq_not_steal() {
        let stat = "cpu  10 1 5 100 2 3 4 7 0 0\ncpu0 5 0 2 50 1 1 2 3 0 0\n";
        assert_eq!(
            Ticks::parse(stat),
            Ticks {
                busy: 10 + 1 + 5 + 3 + 4,
                all: 10 + 1 + 5 + 100 + 2 + 3 + 4 + 7,
                irq: 3 + 4,
            }
        );
    }
}
