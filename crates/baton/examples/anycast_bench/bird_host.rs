//! bird2 for the bench: the lab tests' `tests/common/bird.rs` (the router's and the load
//! balancers' configurations, bird started in a host, `birdc`), included as it is, so the
//! bench runs exactly the bird setup the tests and docs/operations.md use.
//!
//! That file takes five small helpers from its parent module, which in the tests is
//! `tests/common/mod.rs`. The bench cannot include that module: it starts baton through
//! `CARGO_BIN_EXE_baton`, which cargo sets for tests only. So this module is the parent
//! here, with the same five helpers (a daemon with its log, a work directory, waiting,
//! failing with logs, skipping without a tool).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use baton_lab::Child;

#[path = "../../tests/common/bird.rs"]
#[allow(dead_code)] // the bench uses the start and the router's view, not every question
pub(crate) mod bird;

/// A daemon running in a lab host, with its log.
pub(crate) struct Daemon {
    pub(crate) child: Child,
    pub(crate) log: PathBuf,
    pub(crate) name: String,
}

/// The directory bird's configurations, sockets and logs go to (one of the run's).
pub(crate) struct Workdir(pub(crate) PathBuf);

impl Workdir {
    pub(crate) fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }

    pub(crate) fn write(&self, file: &str, contents: &str) -> PathBuf {
        let path = self.path(file);
        if let Err(error) = std::fs::write(&path, contents) {
            panic!("{}: {error}", path.display());
        }
        path
    }
}

/// Appends to `path`, for a daemon's stdout and stderr.
pub(crate) fn log_file(path: &Path) -> Stdio {
    match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        Ok(file) => Stdio::from(file),
        Err(error) => panic!("{}: {error}", path.display()),
    }
}

/// Polls every 5 ms until `condition` holds (how long that took) or `timeout` passes.
pub(crate) fn wait_for(timeout: Duration, condition: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    crate::common::lab::wait_for(timeout, condition).then(|| start.elapsed())
}

/// Gives up with `message` and the daemons' logs. A panic: the lab's guards remove the
/// namespaces and processes on the way out.
pub(crate) fn fail(message: &str, daemons: &[&Daemon]) -> ! {
    let mut text = format!("{message}\n");
    for daemon in daemons {
        let log = std::fs::read_to_string(&daemon.log).unwrap_or_default();
        text.push_str(&format!("----- {} -----\n{log}\n", daemon.name));
    }
    panic!("{text}");
}

/// `true`, after a line saying so, when `program` is not installed.
pub(crate) fn skip_without_tool(program: &str, package: &str, what: &str) -> bool {
    if crate::common::programs::find(program).is_some() {
        return false;
    }
    eprintln!("SKIPPED (needs {program}, from the {package} package): {what}");
    true
}
