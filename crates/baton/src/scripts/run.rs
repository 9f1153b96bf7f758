//! Running one script with a timeout. A script that outlives its timeout is killed with its
//! whole process group (a shell script's children too) and counts as failed.
//!
//! Before each run, the script passes keepalived's security checks ([`super::security`])
//! under the policy of the running configuration ([`super::policy`]); a refused script
//! does not start, and its outcome says why.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use super::Credentials;
use super::outcome::Outcome;
use super::policy;
use super::security::{Verdict, verdict};
use super::via_helper;

/// A command line as keepalived takes it: program and arguments, no shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Script {
    pub(crate) argv: Vec<String>,
    pub(crate) credentials: Option<Credentials>,
}

impl Script {
    pub(crate) fn new(argv: Vec<String>, credentials: Option<Credentials>) -> Script {
        Script { argv, credentials }
    }

    /// Runs the script with `extra` arguments appended, waiting at most `timeout`.
    pub(crate) async fn run(&self, extra: &[String], timeout: Option<Duration>) -> Outcome {
        if let Some(other) = via_helper::other_user(self.credentials) {
            return via_helper::run(&self.argv, other, extra, timeout).await;
        }
        let mut child = match self.spawn(extra) {
            Ok(child) => child,
            Err(reason) => return Outcome::SpawnFailed(reason),
        };
        let wait = child.wait();
        let status = match timeout {
            None => wait.await,
            Some(limit) => match tokio::time::timeout(limit, wait).await {
                Ok(status) => status,
                Err(_) => {
                    if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
                        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                    }
                    let _ = child.wait().await;
                    return Outcome::TimedOut;
                }
            },
        };
        match status {
            Ok(status) => match (status.code(), status.signal()) {
                (Some(code), _) => Outcome::Exited(code),
                (None, Some(signal)) => Outcome::Signalled(signal),
                (None, None) => Outcome::Exited(-1),
            },
            Err(error) => Outcome::SpawnFailed(error.to_string()),
        }
    }
}

impl Script {
    /// Starts the script here, with `extra` arguments appended, after the security checks:
    /// in its own process group (so a timeout kills the script's children as well), as its
    /// user, killed if the returned child is dropped. For a script that runs as another
    /// user than an unprivileged daemon's, see [`needs_helper`](Self::needs_helper).
    pub(crate) fn spawn(&self, extra: &[String]) -> Result<Child, String> {
        let Some((program, args)) = self.argv.split_first() else {
            return Err("empty command line".into());
        };
        self.permitted(program)?;
        let mut command = Command::new(program);
        command
            .args(args)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true);
        // Not for baton's own user: a user switch needs no call, and the unit's system call
        // filter refuses setuid() and setgroups() even to oneself.
        if let Some(credentials) = self.credentials.filter(|c| *c != Credentials::daemon()) {
            command
                .uid(credentials.uid.as_raw())
                .gid(credentials.gid.as_raw());
        }
        command
            .spawn()
            .map_err(|error| format!("{program}: {error}"))
    }

    /// Whether only the script helper can start it: it runs as another user, and the
    /// daemon is not root.
    pub(crate) fn needs_helper(&self) -> bool {
        via_helper::other_user(self.credentials).is_some()
    }
}

impl Script {
    /// keepalived's checks for running `program` as this script's user; the refusal's
    /// reason, logged once per script and reason.
    pub(crate) fn permitted(&self, program: &str) -> Result<(), String> {
        if let Some(other) = via_helper::other_user(self.credentials) {
            // The helper checks what it runs, as the user it runs it as.
            return via_helper::vet(&self.argv, other)
                .map_err(|reason| once(program, reason, true));
        }
        self.permitted_under(program, policy::security(), policy::default_refused())
    }

    /// [`permitted`](Self::permitted) under the given policy.
    fn permitted_under(
        &self,
        program: &str,
        security: bool,
        default_refused: Option<String>,
    ) -> Result<(), String> {
        let runs_as = match self.credentials {
            Some(credentials) => credentials,
            None => {
                if let Some(reason) = default_refused {
                    return Err(once(program, format!("refused: {reason}"), true));
                }
                let daemon = Credentials::daemon();
                // Never silently as root: keepalived runs it so, and says so.
                once(
                    program,
                    format!(
                        "runs as baton's own user (uid {}): no script_user is set and no \
                         keepalived_script user exists; set script_user to run it as another",
                        daemon.uid
                    ),
                    false,
                );
                daemon
            }
        };
        if !security {
            once(
                "",
                "scripts are run but enable_script_security is off: one run as root that \
                 others can change runs anyway, with a warning (keepalived: \"SECURITY \
                 VIOLATION - scripts are being executed but script_security not enabled\")"
                    .to_owned(),
                false,
            );
        }
        let path = std::env::var_os("PATH");
        match verdict(program, runs_as, security, path.as_deref()) {
            Verdict::Run(_) => Ok(()),
            Verdict::Warn(_, reason) => {
                once(program, reason, false);
                Ok(())
            }
            Verdict::Refuse(reason) => Err(once(program, format!("refused: {reason}"), true)),
        }
    }
}

/// Logs `reason` about `program` the first time it comes up (a track script runs every
/// few seconds), and returns it.
fn once(program: &str, reason: String, error: bool) -> String {
    static SAID: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    let key = (program.to_owned(), reason.clone());
    if !said.contains(&key) {
        if error {
            tracing::error!(script = program, "script not run: {reason}");
        } else if program.is_empty() {
            tracing::warn!("{reason}");
        } else {
            tracing::warn!(script = program, "{reason}");
        }
        said.push(key);
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(code: &str) -> Script {
        Script::new(vec!["/bin/sh".into(), "-c".into(), code.into()], None)
    }

    #[tokio::test]
    async fn reports_exit_codes_and_missing_programs() {
        assert_eq!(sh("exit 0").run(&[], None).await, Outcome::Exited(0));
        assert_eq!(sh("exit 3").run(&[], None).await, Outcome::Exited(3));
        let missing = Script::new(vec!["/nonexistent/baton-script".into()], None);
        assert!(matches!(
            missing.run(&[], None).await,
            Outcome::SpawnFailed(_)
        ));
        let empty = Script::new(Vec::new(), None);
        assert!(matches!(
            empty.run(&[], None).await,
            Outcome::SpawnFailed(_)
        ));
    }

    #[test]
    fn the_policy_decides_before_anything_runs() {
        // No user of its own and none to run as: refused, never run as root instead.
        let script = sh("exit 0");
        let refused = script
            .permitted_under("/bin/sh", true, Some("no keepalived_script user".into()))
            .expect_err("refused");
        assert_eq!(refused, "refused: no keepalived_script user");
        assert_eq!(script.permitted_under("/bin/sh", true, None), Ok(()));
        if nix::unistd::geteuid().is_root() {
            // Root runs it: a world-writable script is refused with security, run without.
            let dir = std::env::temp_dir().join(format!("baton-run-sec-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("dir");
            let path = dir.join("open.sh");
            std::fs::write(&path, "#!/bin/sh\nexit 0\n").expect("script");
            std::fs::set_permissions(
                &path,
                <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o757),
            )
            .expect("chmod");
            let program = path.to_str().expect("utf-8");
            let open = Script::new(vec![program.to_owned()], None);
            let refused = open
                .permitted_under(program, true, None)
                .expect_err("refused");
            assert!(refused.contains("writable by everyone"), "{refused}");
            assert_eq!(open.permitted_under(program, false, None), Ok(()));
            std::fs::remove_dir_all(&dir).ok();
        }
    }

    #[tokio::test]
    async fn passes_extra_arguments() {
        let script = sh("test \"$0 $1\" = \"a b\"");
        assert_eq!(
            script.run(&["a".into(), "b".into()], None).await,
            Outcome::Exited(0)
        );
    }

    #[tokio::test]
    async fn a_hanging_script_and_its_children_are_killed_at_the_timeout() {
        let marker = std::env::temp_dir().join(format!("baton-hang-{}", std::process::id()));
        let code = format!("sleep 30 & echo $! > {}; wait", marker.display());
        let started = std::time::Instant::now();
        let outcome = sh(&code).run(&[], Some(Duration::from_millis(300))).await;
        assert_eq!(outcome, Outcome::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(5));
        let child: i32 = std::fs::read_to_string(&marker)
            .expect("pid")
            .trim()
            .parse()
            .expect("pid");
        std::fs::remove_file(&marker).ok();
        // The background `sleep` went with the group.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let alive = nix::sys::signal::kill(Pid::from_raw(child), None).is_ok();
        let zombie_or_gone = !alive
            || std::fs::read_to_string(format!("/proc/{child}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true);
        assert!(
            zombie_or_gone,
            "child {child} of the timed-out script survived"
        );
    }
}
