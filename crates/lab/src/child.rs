//! A process started in a lab namespace, stopped and reaped when its guard is dropped.

use std::process::ExitStatus;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::error::{Error, Result};

/// Default time between SIGTERM and SIGKILL when a [`Child`] is terminated or dropped.
const DEFAULT_GRACE: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(5);

/// A process running inside a lab namespace, from [`Host::spawn`](crate::Host::spawn).
///
/// Dropping it does what [`terminate`](Self::terminate) does: SIGTERM, up to the grace
/// period (2 s unless [`set_grace`](Self::set_grace) changed it) to exit, SIGKILL if it is
/// still there, then reap. The pid is the program's own: `ip netns exec` enters the
/// namespace and then execs the program.
#[derive(Debug)]
pub struct Child {
    child: std::process::Child,
    command: String,
    grace: Duration,
}

impl Child {
    pub(crate) fn new(child: std::process::Child, command: String) -> Self {
        Self {
            child,
            command,
            grace: DEFAULT_GRACE,
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The command line it was started with.
    pub fn command_line(&self) -> &str {
        &self.command
    }

    /// The underlying [`std::process::Child`], for piped stdin/stdout/stderr. Waiting on it
    /// directly is fine: the guard then knows the process is gone and signals nothing.
    pub fn inner_mut(&mut self) -> &mut std::process::Child {
        &mut self.child
    }

    /// Changes the time between SIGTERM and SIGKILL for [`terminate`](Self::terminate)
    /// and drop.
    pub fn set_grace(&mut self, grace: Duration) {
        self.grace = grace;
    }

    /// The exit status if the process has ended (reaping it), `None` while it runs.
    /// After [`terminate`](Self::terminate) or [`kill`](Self::kill) this is the status the
    /// process ended with.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        self.child
            .try_wait()
            .map_err(|source| self.io_error(source))
    }

    /// Waits up to `timeout` for the process to end by itself.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            thread::sleep(POLL);
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.try_wait(), Ok(None))
    }

    /// Sends `signal` (SIGHUP to reload a daemon, SIGSTOP to freeze one, ...). Does nothing
    /// once the process has ended, so a recycled pid is never hit.
    pub fn signal(&mut self, signal: Signal) -> Result<()> {
        if self.try_wait()?.is_some() {
            return Ok(());
        }
        kill(self.pid(), signal).map_err(|errno| self.io_error(errno.into()))
    }

    /// A graceful stop: SIGTERM, SIGKILL if it has not exited after the grace period, then
    /// reap. Returns when the process is gone; [`try_wait`](Self::try_wait) has its status.
    /// Does nothing if it has already ended.
    pub fn terminate(&mut self) {
        if let Err(error) = self.stop(Signal::SIGTERM, self.grace) {
            eprintln!("baton-lab: terminating `{}`: {error}", self.command);
        }
    }

    /// A crash: SIGKILL straight away, then reap. The process gets no chance to clean up
    /// (a VRRP master sends no priority-0 advertisement and leaves its VIP behind), which
    /// is what failover tests want.
    pub fn kill(&mut self) {
        if let Err(error) = self.stop(Signal::SIGKILL, Duration::ZERO) {
            eprintln!("baton-lab: killing `{}`: {error}", self.command);
        }
    }

    fn stop(&mut self, first: Signal, grace: Duration) -> Result<ExitStatus> {
        self.signal(first)?;
        if let Some(status) = self.wait_timeout(grace)? {
            return Ok(status);
        }
        self.signal(Signal::SIGKILL)?;
        self.child.wait().map_err(|source| self.io_error(source))
    }

    fn pid(&self) -> Pid {
        // Linux pids fit in an i32 (pid_max is at most 2^22).
        Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX))
    }

    fn io_error(&self, source: std::io::Error) -> Error {
        Error::Spawn {
            command: self.command.clone(),
            source,
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.terminate();
    }
}
