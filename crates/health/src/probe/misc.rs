//! MISC_CHECK: a program's exit code is the verdict.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Command;

use super::MiscCheck;
use crate::outcome::{Failure, Outcome, Weight};

/// Runs the program; past `timeout` its whole process group is killed and the check fails.
pub(super) async fn probe(check: &MiscCheck, timeout: Duration) -> Result<Outcome, Failure> {
    let (program, args) = check
        .argv
        .split_first()
        .ok_or(Failure::BadCheck("no program to run"))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group, so that a timeout kills what it started too (a shell
        // script's children), as keepalived does with kill(-pid).
        .process_group(0)
        .kill_on_drop(true);
    if let Some(uid) = check.uid {
        command.uid(uid);
    }
    if let Some(gid) = check.gid {
        command.gid(gid);
    }
    let mut child = command.spawn().map_err(Failure::Spawn)?;
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => status.map_err(Failure::Io)?,
        Err(_) => {
            // keepalived sends SIGTERM and SIGKILL two seconds later; the check has failed
            // either way, so the group is killed at once and nothing lingers into the next
            // probe.
            if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = child.kill().await;
            return Err(Failure::Timeout(timeout));
        }
    };
    verdict(status, check.dynamic)
}

/// keepalived's rule (check_misc.c): 0 passes with the configured weight; with
/// `misc_dynamic`, 2 to 255 pass and set the weight to `code - 2`; anything else fails.
fn verdict(status: ExitStatus, dynamic: bool) -> Result<Outcome, Failure> {
    use std::os::unix::process::ExitStatusExt as _;
    match status.code() {
        Some(0) => Ok(Outcome::UP),
        Some(code @ 2..=255) if dynamic => Ok(Outcome::Up(Weight::Set(code.unsigned_abs() - 2))),
        Some(code) => Err(Failure::Exit(code)),
        None => Err(Failure::Signal(status.signal().unwrap_or(0))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt as _;

    fn exit(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn exit_codes() {
        assert!(matches!(
            verdict(exit(0), false),
            Ok(Outcome::Up(Weight::Configured))
        ));
        assert!(matches!(
            verdict(exit(0), true),
            Ok(Outcome::Up(Weight::Configured))
        ));
        assert!(matches!(verdict(exit(1), true), Err(Failure::Exit(1))));
        assert!(matches!(verdict(exit(3), false), Err(Failure::Exit(3))));
        assert!(matches!(
            verdict(exit(2), true),
            Ok(Outcome::Up(Weight::Set(0)))
        ));
        assert!(matches!(
            verdict(exit(255), true),
            Ok(Outcome::Up(Weight::Set(253)))
        ));
        assert!(matches!(
            verdict(ExitStatus::from_raw(9), true),
            Err(Failure::Signal(9))
        ));
    }
}
