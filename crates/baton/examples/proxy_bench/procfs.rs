//! What /proc says about processes: state, parent, CPU time and memory.

/// The fields of /proc/PID/stat after the command name (which may hold spaces): index 0 is
/// field 3 of proc(5), the state.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Alive and not a zombie.
pub(crate) fn running(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|state| state != "Z"))
}

/// Children, grandchildren and so on (nginx's worker under its master).
pub(crate) fn descendants(pid: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            // Field 4 is the parent.
            if let Some(ppid) = stat_fields(p).and_then(|f| f.get(1)?.parse::<u32>().ok()) {
                parents.push((p, ppid));
            }
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for &(p, ppid) in &parents {
            if ppid == parent && !found.contains(&p) {
                found.push(p);
                frontier.push(p);
            }
        }
    }
    found
}

/// utime + stime of all threads of `pid`, in ticks.
pub(crate) fn cpu_ticks(pid: u32) -> u64 {
    stat_ticks(pid, 2)
}

/// utime + stime + cutime + cstime: a process with the children it has reaped.
pub(crate) fn cpu_ticks_with_reaped(pid: u32) -> u64 {
    stat_ticks(pid, 4)
}

/// The sum of `n` CPU time fields from utime (field 14) on.
fn stat_ticks(pid: u32, n: usize) -> u64 {
    stat_fields(pid)
        .map(|f| {
            f.iter()
                .skip(11)
                .take(n)
                .filter_map(|t| t.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0)
}

/// Resident memory in KiB, `(RSS, PSS)`. PSS splits each page shared by several processes
/// among them, so that nginx's master and worker summed count their common pages once; RSS
/// summed counts them twice.
pub(crate) fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let field = |name: &str| {
        rollup
            .lines()
            .find_map(|l| l.strip_prefix(name))?
            .split_whitespace()
            .next()?
            .parse::<u64>()
            .ok()
    };
    Some((field("Rss:")?, field("Pss:")?))
}
