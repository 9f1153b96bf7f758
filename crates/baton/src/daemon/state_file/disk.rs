//! The state file on disk: read once at start-up, replaced whole after each change.
//!
//! A replacement is atomic: the new text goes to a temporary file in the same directory,
//! which is synced and renamed over the old one, and the directory is synced so the rename
//! itself survives a crash. A reader (the next start, after a `kill -9` or a power cut) sees
//! the old file or the new one, never a mix.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use super::saved::Overrides;

/// The overrides saved at `path`; none when there is no file yet. A file that cannot be
/// read or is not a state file is logged, naming it, and set aside as `<path>.bad` for
/// inspection: the daemon starts without overrides rather than not at all.
pub(crate) fn load(path: &Path) -> Overrides {
    match read(path) {
        Ok(Some(overrides)) => overrides,
        Ok(None) => {
            tracing::debug!(state_file = %path.display(), "no state file yet");
            Overrides::default()
        }
        Err(problem) => {
            let bad = bad_path(path);
            let kept = match std::fs::rename(path, &bad) {
                Ok(()) => format!("it is kept as {} for inspection", bad.display()),
                Err(error) => format!("it could not be set aside as {}: {error}", bad.display()),
            };
            tracing::error!(
                "state file {}: {problem}; starting without the operator's saved drains, \
                 weights and step-downs; {kept}",
                path.display()
            );
            Overrides::default()
        }
    }
}

/// The overrides at `path`, `None` when there is no file, or what is wrong with it.
fn read(path: &Path) -> Result<Option<Overrides>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("cannot be read: {error}")),
    };
    Overrides::from_json(&text)
        .map(Some)
        .map_err(|error| format!("not a valid state file: {error}"))
}

/// Where a bad state file is set aside: `state.json.bad` beside it.
pub(crate) fn bad_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".bad");
    path.with_file_name(name)
}

/// Replaces `path` with `contents` atomically (see the module doc), mode 0600, making its
/// directory (mode 0700) when missing.
pub(crate) fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".tmp.{}", std::process::id()));
    let temporary = dir.join(name);
    let written = write_and_rename(&temporary, path, contents);
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written?;
    File::open(dir)?.sync_all()
}

fn write_and_rename(temporary: &Path, path: &Path, contents: &[u8]) -> std::io::Result<()> {
    // One left by a daemon that died mid-write may have any mode: start afresh.
    let _ = std::fs::remove_file(temporary);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(temporary)?;
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(temporary, path)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;
    use crate::daemon::state_file::saved::ServerKey;

    /// A directory of its own per test, removed at the end.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("baton-state-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777
    }

    fn sample() -> Overrides {
        let mut overrides = Overrides::default();
        overrides.servers.insert(
            ServerKey::new("app", "10.0.3.11:8080".parse().expect("address")),
            crate::daemon::state_file::saved::ServerOverride {
                admin: Some(baton_proxy::AdminState::Drain),
                weight: None,
                configured_weight: None,
            },
        );
        overrides.stepped_down.insert("VI_1".to_owned());
        overrides
    }

    #[test]
    fn an_atomic_write_replaces_the_file_whole_and_leaves_nothing_else() {
        let scratch = Scratch::new("write");
        let path = scratch.0.join("lib").join("state.json");
        write_atomically(&path, sample().to_json().as_bytes()).expect("written");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().expect("dir")), 0o700, "made private");
        assert_eq!(load(&path), sample());

        // A file someone made readable is replaced by a private one.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        write_atomically(&path, Overrides::default().to_json().as_bytes()).expect("written");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(load(&path), Overrides::default());
        let names: Vec<String> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["state.json"], "no temporary file left");
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let scratch = Scratch::new("failed");
        let path = scratch.0.join("state.json");
        write_atomically(&path, sample().to_json().as_bytes()).expect("written");
        // The temporary file's name taken by a directory: the write fails before the rename.
        let mut name = std::ffi::OsString::from(".state.json.tmp.");
        name.push(std::process::id().to_string());
        let blocker = scratch.0.join(name);
        std::fs::create_dir(&blocker).expect("dir");
        std::fs::write(blocker.join("x"), "x").expect("file");
        assert!(write_atomically(&path, b"{}").is_err());
        assert_eq!(load(&path), sample(), "the old file is whole");
    }

    #[test]
    fn a_missing_file_is_no_overrides() {
        let scratch = Scratch::new("missing");
        assert_eq!(load(&scratch.0.join("state.json")), Overrides::default());
        assert!(!scratch.0.exists(), "reading makes nothing");
    }

    #[test]
    fn a_corrupt_file_is_set_aside_and_ignored() {
        let scratch = Scratch::new("corrupt");
        std::fs::create_dir_all(&scratch.0).expect("dir");
        let path = scratch.0.join("state.json");
        std::fs::write(&path, "{\"version\": 1, \"servers\": [").expect("write");
        assert_eq!(load(&path), Overrides::default());
        assert!(!path.exists(), "moved away");
        let bad = scratch.0.join("state.json.bad");
        assert_eq!(
            std::fs::read_to_string(&bad).expect("kept"),
            "{\"version\": 1, \"servers\": ["
        );
        // The next write makes a good file; the bad one stays for the operator.
        write_atomically(&path, sample().to_json().as_bytes()).expect("written");
        assert_eq!(load(&path), sample());
        assert!(bad.exists());
    }

    #[test]
    fn an_unreadable_file_is_set_aside_too() {
        let scratch = Scratch::new("unreadable");
        // A directory where the file should be: reading it fails, as an I/O error would.
        let path = scratch.0.join("state.json");
        std::fs::create_dir_all(&path).expect("dir");
        assert_eq!(load(&path), Overrides::default());
        assert!(scratch.0.join("state.json.bad").is_dir());
    }
}
