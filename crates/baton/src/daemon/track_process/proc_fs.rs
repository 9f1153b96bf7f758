//! Reading processes from /proc for track_process, as little as the rules need: the comm
//! when a rule is on the process name, the start of the command line when one is on the
//! command line (keepalived avoids reading a whole cmdline, which may have to be swapped in).

use std::fs::File;
use std::io::Read;

use super::matching::Seen;

/// What to read of each process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Needs {
    pub(crate) comm: bool,
    /// How many bytes of `/proc/PID/cmdline`, if any.
    pub(crate) cmdline: Option<usize>,
}

/// The first `limit` bytes of a file.
fn read_start(path: &str, limit: usize) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(limit);
    File::open(path)
        .ok()?
        .take(limit as u64)
        .read_to_end(&mut bytes)
        .ok()?;
    Some(bytes)
}

/// `pid`'s comm and command line now, `None` if it is gone (or unreadable).
pub(crate) fn read(pid: u32, needs: Needs) -> Option<Seen> {
    let mut seen = Seen::default();
    if let Some(limit) = needs.cmdline {
        seen.cmdline = Some(read_start(&format!("/proc/{pid}/cmdline"), limit)?);
    }
    if needs.comm {
        let comm = read_start(&format!("/proc/{pid}/comm"), 64)?;
        let comm = String::from_utf8_lossy(&comm);
        seen.comm = Some(comm.strip_suffix('\n').unwrap_or(&comm).to_owned());
    }
    Some(seen)
}

/// The comm in `/proc/PID/stat`, or `None` for a zombie: keepalived's reading (the text
/// between the first '(' and the first ')' after it), and it leaves zombies out because
/// they no longer run.
pub(crate) fn comm_from_stat(stat: &str) -> Option<&str> {
    let open = stat.get(2..)?.find('(')? + 2;
    let close = open + stat[open..].find(')')?;
    let state = stat[close..].chars().nth(2);
    if state == Some('Z') {
        return None;
    }
    Some(&stat[open + 1..close])
}

/// Every process running now (zombies left out when the comm is read).
pub(crate) fn scan(needs: Needs) -> Vec<(u32, Seen)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut running = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let mut seen = Seen::default();
        if let Some(limit) = needs.cmdline {
            match read_start(&format!("/proc/{pid}/cmdline"), limit) {
                Some(cmdline) => seen.cmdline = Some(cmdline),
                None => continue,
            }
        }
        if needs.comm {
            let Some(stat) = read_start(&format!("/proc/{pid}/stat"), 128) else {
                continue;
            };
            let stat = String::from_utf8_lossy(&stat);
            let Some(comm) = comm_from_stat(&stat) else {
                continue;
            };
            seen.comm = Some(comm.to_owned());
        }
        running.push((pid, seen));
    }
    running
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_gives_the_comm_and_zombies_nothing() {
        assert_eq!(comm_from_stat("42 (sleep) S 1 42 42 0"), Some("sleep"));
        assert_eq!(comm_from_stat("42 (Web Content) R 1"), Some("Web Content"));
        assert_eq!(comm_from_stat("42 (sleep) Z 1 42"), None);
        assert_eq!(comm_from_stat("42 sleep"), None);
    }

    #[test]
    fn this_process_is_found_by_its_comm_and_command_line() {
        let me = std::process::id();
        let needs = Needs {
            comm: true,
            cmdline: Some(4096),
        };
        let seen = read(me, needs).expect("this process");
        let running = scan(needs);
        let scanned = running.iter().find(|(pid, _)| *pid == me).expect("scanned");
        assert_eq!(scanned.1.comm, seen.comm);
        assert!(seen.cmdline.is_some_and(|c| !c.is_empty()));
        assert!(read(u32::MAX, needs).is_none());
    }
}
