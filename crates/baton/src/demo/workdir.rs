//! The demo's private directory: the load balancers' baton.toml files, control sockets
//! and logs. Removed when the demo ends; one left by a killed demo is removed by the next.
//!
//! It is made as mkdtemp(3) makes one: a new name with a random part, created mode 0700 by
//! this process, failing rather than reusing anything already there. The demo runs as root
//! in a shared /tmp, where anyone may have left a directory or a symlink under a name a
//! demo would pick.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

const PREFIX: &str = "baton-demo-";

#[derive(Debug)]
pub(crate) struct Workdir(PathBuf);

impl Workdir {
    /// A new `$TMPDIR/baton-demo-<pid>-XXXXXX`, after removing those of demos that are no
    /// longer running (Ctrl-C ends the process without running destructors).
    pub(crate) fn create() -> std::io::Result<Workdir> {
        Workdir::create_in(&std::env::temp_dir())
    }

    fn create_in(parent: &Path) -> std::io::Result<Workdir> {
        remove_stale(parent);
        let template = parent.join(format!("{PREFIX}{}-XXXXXX", std::process::id()));
        let dir = nix::unistd::mkdtemp(&template).map_err(std::io::Error::from)?;
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

/// Removes the directories of demos no longer running: only real directories (never
/// through a symlink) that this user owns.
fn remove_stale(parent: &Path) {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let us = nix::unistd::geteuid().as_raw();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(owner) else {
            continue;
        };
        let ours = std::fs::symlink_metadata(entry.path())
            .is_ok_and(|m| m.file_type().is_dir() && m.uid() == us);
        // ESRCH: no such process. A live pid (even a reused one) keeps its directory.
        if ours && kill(pid, None) == Err(Errno::ESRCH) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The pid in `baton-demo-<pid>-XXXXXX`.
fn owner(name: &str) -> Option<Pid> {
    let (pid, random) = name.strip_prefix(PREFIX)?.split_once('-')?;
    let pid: i32 = pid.parse().ok()?;
    (pid > 0 && random.len() == 6).then(|| Pid::from_raw(pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_demo_directories_have_an_owner() {
        assert_eq!(owner("baton-demo-42-a1B2c3"), Some(Pid::from_raw(42)));
        assert_eq!(owner("baton-demo-42"), None);
        assert_eq!(owner("baton-demo-0-a1B2c3"), None);
        assert_eq!(owner("baton-demo-x-a1B2c3"), None);
        assert_eq!(owner("baton-test-42-a1B2c3"), None);
    }

    /// A scratch parent directory for one test.
    fn parent(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("baton-workdir-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).expect("parent");
        dir
    }

    #[test]
    fn each_demo_gets_a_fresh_private_directory() {
        use std::os::unix::fs::PermissionsExt as _;
        let parent = parent("fresh");
        // What someone else could have prepared under the names a demo used to pick.
        let planted = parent.join(format!("{PREFIX}{}", std::process::id()));
        std::fs::create_dir(&planted).expect("planted");
        std::fs::write(planted.join("lb1.toml"), "planted").expect("file");
        let first = Workdir::create_in(&parent).expect("first");
        let second = Workdir::create_in(&parent).expect("second");
        assert_ne!(first.dir(), second.dir());
        for dir in [first.dir(), second.dir()] {
            assert_ne!(dir, planted);
            let meta = std::fs::symlink_metadata(dir).expect("made");
            assert!(meta.file_type().is_dir());
            assert_eq!(meta.permissions().mode() & 0o777, 0o700);
            assert_eq!(std::fs::read_dir(dir).expect("list").count(), 0, "empty");
        }
        let first_dir = first.dir().to_owned();
        drop(first);
        assert!(!first_dir.exists(), "removed at the end");
        drop(second);
        std::fs::remove_dir_all(&parent).ok();
    }

    #[test]
    fn stale_directories_are_removed_but_never_through_a_symlink() {
        let parent = parent("stale");
        // A pid that cannot be running: above the kernel's pid_max limit.
        let dead = format!("{PREFIX}{}-abcdef", 1 << 23);
        std::fs::create_dir(parent.join(&dead)).expect("stale");
        let target = parent.join("precious");
        std::fs::create_dir(&target).expect("target");
        std::fs::write(target.join("keep"), "x").expect("file");
        let link = parent.join(format!("{PREFIX}{}-ghijkl", 1 << 23));
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let live = format!("{PREFIX}{}-mnopqr", std::process::id());
        std::fs::create_dir(parent.join(&live)).expect("live");

        remove_stale(&parent);
        assert!(!parent.join(&dead).exists(), "a dead demo's directory goes");
        assert!(
            target.join("keep").exists(),
            "not followed through a symlink"
        );
        assert!(
            std::fs::symlink_metadata(&link).is_ok(),
            "not ours to remove"
        );
        assert!(parent.join(&live).exists(), "a running demo keeps its own");
        std::fs::remove_dir_all(&parent).ok();
    }
}
