//! Taking labs down: stopping the processes inside a namespace, deleting namespaces, the
//! process-wide registry used on Ctrl-C, and removal of what crashed runs left behind.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::cmd;
use crate::error::{Error, Result};

/// How long processes get between SIGTERM and SIGKILL when a lab is torn down. Daemons
/// under test (baton, keepalived) leave in milliseconds; the bound is for hung ones.
pub(crate) const TEARDOWN_GRACE: Duration = Duration::from_secs(2);
/// After SIGKILL, how long to wait for the kernel to finish the processes off.
const KILL_WAIT: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(10);

/// Where `ip netns add` puts the namespace handles (iproute2's NETNS_RUN_DIR).
fn netns_path(namespace: &str) -> PathBuf {
    PathBuf::from("/var/run/netns").join(namespace)
}

/// Namespaces this process created and has not deleted yet. `closed` is set by
/// [`cleanup_all`]: creation checks it under the same lock, so a namespace is either
/// created before the Ctrl-C clean-up (and then removed by it) or not at all.
#[derive(Debug, Default)]
struct Registry {
    namespaces: BTreeSet<String>,
    closed: bool,
}

fn registry() -> MutexGuard<'static, Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY
        .get_or_init(Mutex::default)
        .lock()
        // The registry holds plain names; a panic elsewhere cannot leave it inconsistent.
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A fresh `<base><pid>x<n>-` for a lab (or the environment probe): the pid keeps runs
/// apart and lets [`remove_stale`] tell a dead run's leftovers, `n` keeps labs apart.
pub(crate) fn unique_prefix(base: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{base}{}x{n}-", std::process::id())
}

/// `ip netns add`, recorded in the registry so Ctrl-C can find it.
pub(crate) fn create_namespace(namespace: &str) -> Result<()> {
    let mut registry = registry();
    if registry.closed {
        return Err(Error::ShuttingDown);
    }
    cmd::ip(&["netns", "add", namespace])?;
    registry.namespaces.insert(namespace.to_owned());
    Ok(())
}

/// Stops every process in `namespaces`, then deletes them. Already-deleted namespaces
/// are skipped, so this may race with [`cleanup_all`].
pub(crate) fn remove_namespaces(namespaces: &[String]) -> Result<()> {
    stop_processes(namespaces, TEARDOWN_GRACE);
    let mut first_error = None;
    for namespace in namespaces {
        if let Err(error) = delete_namespace(namespace) {
            first_error.get_or_insert(error);
        }
    }
    let mut registry = registry();
    for namespace in namespaces {
        registry.namespaces.remove(namespace);
    }
    first_error.map_or(Ok(()), Err)
}

fn delete_namespace(namespace: &str) -> Result<()> {
    if !netns_path(namespace).exists() {
        return Ok(());
    }
    match cmd::ip(&["netns", "del", namespace]) {
        Err(_) if !netns_path(namespace).exists() => Ok(()),
        other => other.map(drop),
    }
}

/// Pids of the processes whose network namespace is `namespace`: the same scan as
/// `ip netns pids`, without running it on every poll. Zombies have no namespace any more,
/// so processes that exited but are not reaped yet are not listed.
pub(crate) fn pids_in_namespace(namespace: &str) -> Vec<Pid> {
    let Ok(handle) = netns_path(namespace).metadata() else {
        return Vec::new();
    };
    let (dev, ino) = (handle.dev(), handle.ino());
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            // Processes come and go during the scan; a vanished one is simply not ours.
            std::fs::metadata(format!("/proc/{pid}/ns/net"))
                .is_ok_and(|ns| ns.dev() == dev && ns.ino() == ino)
        })
        .filter_map(|pid| i32::try_from(pid).ok().map(Pid::from_raw))
        .collect()
}

/// SIGTERM to every process in `namespaces`, SIGKILL to whatever is left after `grace`.
/// Returns how many processes were signalled, once none is left in the namespaces (a
/// process leaves its namespace early in its exit, so it may take a moment more to end).
///
/// Processes that turn up while waiting (a daemon's forks, or an `ip netns exec` that was
/// still on its way in) get their SIGTERM when first seen.
pub(crate) fn stop_processes(namespaces: &[String], grace: Duration) -> usize {
    let running = || -> Vec<Pid> {
        namespaces
            .iter()
            .flat_map(|ns| pids_in_namespace(ns))
            .collect()
    };
    let mut signalled = BTreeSet::new();
    let deadline = Instant::now() + grace;
    let mut signal = Signal::SIGTERM;
    loop {
        let now_running = running();
        if now_running.is_empty() {
            return signalled.len();
        }
        if signal == Signal::SIGTERM && Instant::now() >= deadline {
            signal = Signal::SIGKILL;
            for &pid in &now_running {
                let _ = kill(pid, Signal::SIGKILL);
            }
        }
        for pid in now_running {
            if signalled.insert(pid) {
                let _ = kill(pid, signal);
            }
        }
        if Instant::now() >= deadline + KILL_WAIT {
            eprintln!(
                "baton-lab: processes still running in {namespaces:?} after SIGKILL: {:?}",
                running()
            );
            return signalled.len();
        }
        thread::sleep(POLL);
    }
}

/// Removes every namespace this process created and has not removed yet, and stops the
/// processes inside them. After this no new lab can be built in this process.
pub(crate) fn cleanup_all() {
    let mut registry = registry();
    registry.closed = true;
    let namespaces: Vec<String> = std::mem::take(&mut registry.namespaces)
        .into_iter()
        .collect();
    // Deliberately done under the lock: a lab being built waits instead of adding
    // namespaces behind our back.
    stop_processes(&namespaces, TEARDOWN_GRACE);
    for namespace in &namespaces {
        if let Err(error) = delete_namespace(namespace) {
            eprintln!("baton-lab: clean-up: {error}");
        }
    }
}

/// Spawns a thread that waits for SIGINT or SIGTERM, runs [`cleanup_all`], then lets the
/// signal take its default effect (the process ends as killed by that signal).
pub(crate) fn install_ctrlc_cleanup() -> Result<()> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            use signal_hook::consts::{SIGINT, SIGTERM};
            let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
                .map_err(|e| e.to_string())?;
            thread::Builder::new()
                .name("baton-lab-signals".into())
                .spawn(move || {
                    if let Some(signal) = signals.forever().next() {
                        eprintln!("baton-lab: signal {signal}: removing lab namespaces");
                        cleanup_all();
                        let _ = signal_hook::low_level::emulate_default_handler(signal);
                        std::process::exit(128 + signal);
                    }
                })
                .map(drop)
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|message| Error::Io {
            context: "installing the Ctrl-C clean-up handler".into(),
            source: std::io::Error::other(message),
        })
}

/// Deletes namespaces named `<base><pid>x<n>-...` whose `<pid>` is no longer running,
/// after stopping any process still inside them.
pub(crate) fn remove_stale(base: &str) -> Result<Vec<String>> {
    let output = cmd::ip(&["netns", "list"])?;
    let listing = String::from_utf8_lossy(&output.stdout);
    let stale: Vec<String> = listing
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| owner_pid(name, base).is_some_and(|pid| !is_alive(pid)))
        .map(str::to_owned)
        .collect();
    stop_processes(&stale, TEARDOWN_GRACE);
    for namespace in &stale {
        delete_namespace(namespace)?;
    }
    Ok(stale)
}

/// The pid in `<base><pid>x<n>-<rest>`, if `name` has that shape.
pub(crate) fn owner_pid(name: &str, base: &str) -> Option<Pid> {
    let rest = name.strip_prefix(base)?;
    let (pid, rest) = rest.split_once('x')?;
    let (counter, _) = rest.split_once('-')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(pid) || !all_digits(counter) {
        return None;
    }
    pid.parse::<i32>()
        .ok()
        .filter(|&p| p > 0)
        .map(Pid::from_raw)
}

/// Signal 0 checks existence; EPERM means it exists but belongs to someone else. A reused
/// pid makes a stale lab look alive: it is then left alone, which is the safe mistake.
fn is_alive(pid: Pid) -> bool {
    !matches!(kill(pid, None), Err(Errno::ESRCH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_pid_parses_only_the_lab_shape() {
        assert_eq!(owner_pid("bl123x0-lb1", "bl"), Some(Pid::from_raw(123)));
        assert_eq!(owner_pid("bl123x45-switch", "bl"), Some(Pid::from_raw(123)));
        assert_eq!(owner_pid("demo9x1-lb1", "demo"), Some(Pid::from_raw(9)));
        assert_eq!(owner_pid("bls123x0-lb1", "bl"), None);
        assert_eq!(owner_pid("bl123x0", "bl"), None);
        assert_eq!(owner_pid("blx0-lb1", "bl"), None);
        assert_eq!(owner_pid("bl12ax0-lb1", "bl"), None);
        assert_eq!(owner_pid("bl0x0-lb1", "bl"), None);
        assert_eq!(owner_pid("other", "bl"), None);
    }
}
