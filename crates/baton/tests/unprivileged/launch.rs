//! Shared by the tests that run baton unprivileged (tests/sandbox.rs,
//! tests/script_helper.rs), which include it with `#[path]`.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{Daemon, Workdir};

/// `command` (baton, or what runs it) in lb1: `run EXTRA --keepalived-conf CONF --control CONTROL`,
/// logging at debug to NAME.log in `dir`.
pub(crate) fn start_daemon(
    lb1: &baton_lab::Host,
    dir: &Workdir,
    mut command: Command,
    extra: &[&str],
    conf: &Path,
    control: &Path,
    name: &str,
) -> Daemon {
    let log_path = dir.path(&format!("{name}.log"));
    let log = std::fs::File::create(&log_path).expect("log");
    command
        .arg("run")
        .args(extra)
        .arg("--keepalived-conf")
        .arg(conf)
        .arg("--control")
        .arg(control)
        .args(["--admin", "none"])
        .env("BATON_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
    Daemon {
        child: lb1.spawn(command).expect("baton run"),
        log: log_path,
        name: name.to_owned(),
    }
}
