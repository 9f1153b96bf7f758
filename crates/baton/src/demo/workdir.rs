//! The demo's private directory: the load balancers' baton.toml files, control sockets
//! and logs. Removed when the demo ends; one left by a killed demo is removed by the next.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

const PREFIX: &str = "baton-demo-";

#[derive(Debug)]
pub(crate) struct Workdir(PathBuf);

impl Workdir {
    /// `$TMPDIR/baton-demo-<pid>`, after removing those of demos that are no longer
    /// running (Ctrl-C ends the process without running destructors).
    pub(crate) fn create() -> std::io::Result<Workdir> {
        let parent = std::env::temp_dir();
        remove_stale(&parent);
        let dir = parent.join(format!("{PREFIX}{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Workdir(dir))
    }

    pub(crate) fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.0
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn remove_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(owner) else {
            continue;
        };
        // ESRCH: no such process. A live pid (even a reused one) keeps its directory.
        if kill(pid, None) == Err(Errno::ESRCH) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The pid in `baton-demo-<pid>`.
fn owner(name: &str) -> Option<Pid> {
    let pid: i32 = name.strip_prefix(PREFIX)?.parse().ok()?;
    (pid > 0).then(|| Pid::from_raw(pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_demo_directories_have_an_owner() {
        assert_eq!(owner("baton-demo-42"), Some(Pid::from_raw(42)));
        assert_eq!(owner("baton-demo-0"), None);
        assert_eq!(owner("baton-demo-x"), None);
        assert_eq!(owner("baton-test-42"), None);
    }
}
