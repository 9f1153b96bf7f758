//! The processes this benchmark starts (proxies, oha), so that they never outlive it: each
//! is registered while it runs, and Ctrl-C stops whatever is registered.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::procfs::{descendants, running};

/// Child processes still running; `None` once [`cleanup`] has run, so that nothing starts
/// behind it.
static LIVE: Mutex<Option<Vec<u32>>> = Mutex::new(Some(Vec::new()));
/// The scratch directory (proxy configurations and logs).
static SCRATCH: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Starts `command` and registers it, under one lock: an interrupt either finds the child
/// registered or stops this from starting it.
pub(crate) fn spawn(command: &mut Command) -> std::io::Result<Child> {
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(live) = live.as_mut() else {
        return Err(std::io::Error::other("shutting down"));
    };
    let child = command.spawn()?;
    live.push(child.id());
    Ok(child)
}

/// Forgets a child that has been reaped, so that its pid, reused later, is not signalled.
pub(crate) fn unregister(pid: u32) {
    if let Some(live) = LIVE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        live.retain(|&p| p != pid);
    }
}

pub(crate) fn set_scratch(dir: PathBuf) {
    *SCRATCH.lock().unwrap_or_else(|e| e.into_inner()) = Some(dir);
}

/// Stops every child still registered and removes the scratch directory: on the way out,
/// normal or interrupted.
pub(crate) fn cleanup() {
    let pids = LIVE.lock().unwrap_or_else(|e| e.into_inner()).take();
    for pid in pids.into_iter().flatten() {
        stop_tree(pid);
    }
    if let Some(dir) = SCRATCH.lock().unwrap_or_else(|e| e.into_inner()).take() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// SIGTERM to a process and its descendants, SIGKILL to whatever is left after 3 s.
pub(crate) fn stop_tree(pid: u32) {
    let mut pids = descendants(pid);
    pids.push(pid);
    let signal_all = |signal| {
        for &p in &pids {
            // Linux pids fit in an i32 (pid_max is at most 2^22).
            let _ = kill(Pid::from_raw(p as i32), signal);
        }
    };
    signal_all(Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if pids.iter().all(|&p| !running(p)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_all(Signal::SIGKILL);
}
