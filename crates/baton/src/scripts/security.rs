//! keepalived's script security (`check_script_secure` and `check_security` in
//! keepalived 2.2.7's lib/notify.c), checked before every run of a script:
//!
//! - a bare program name is looked up in `PATH`, and the path resolved (symlinks, `..`);
//! - the file must be executable by the user the script runs as;
//! - a script that runs as root (uid or gid 0, or a set-uid/set-gid root file) must not be
//!   changeable by anyone but root: the file and every directory above it must be owned by
//!   root, and neither group-writable (unless the group is root's) nor world-writable; a
//!   directory with the sticky bit (such as /tmp) may be writable, as keepalived allows.
//!
//! With `enable_script_security` a script that fails the last check does not run; without
//! it, keepalived only logs "Unsafe permissions found", and so does baton (once per script).
//! keepalived checks when it loads the configuration; baton checks at every run, so a
//! script made writable later is refused too.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use super::Credentials;

/// What to do with a script about to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Run `path` (the script's program, resolved).
    Run(PathBuf),
    /// Run `path`, after logging the reason (once): keepalived would run it and warn.
    Warn(PathBuf, String),
    /// Do not run it, for this reason: keepalived would disable it.
    Refuse(String),
}

/// The verdict on running `program` as `runs_as` (`uid`, `gid`); `security` is
/// `enable_script_security`, `path_var` the `PATH` to search for a bare name.
pub(crate) fn verdict(
    program: &str,
    runs_as: Credentials,
    security: bool,
    path_var: Option<&std::ffi::OsStr>,
) -> Verdict {
    let (uid, gid) = (runs_as.uid.as_raw(), runs_as.gid.as_raw());
    let found = match find(program, path_var) {
        Ok(found) => found,
        Err(reason) => return Verdict::Refuse(reason),
    };
    let resolved = match std::fs::canonicalize(&found) {
        Ok(resolved) => resolved,
        Err(error) => return Verdict::Refuse(format!("{}: {error}", found.display())),
    };
    let file = match std::fs::metadata(&resolved) {
        Ok(file) => file,
        Err(error) => return Verdict::Refuse(format!("{}: {error}", resolved.display())),
    };
    if !file.is_file() {
        return Verdict::Refuse(format!("{}: not a regular file", resolved.display()));
    }
    if !executable(&file, uid, gid) {
        return Verdict::Refuse(format!(
            "{} is not executable for uid:gid {uid}:{gid}",
            resolved.display()
        ));
    }
    let mode = file.permissions().mode();
    let as_root = uid == 0
        || gid == 0
        || (file.uid() == 0 && mode & 0o4100 == 0o4100)
        || (file.gid() == 0 && mode & 0o2010 == 0o2010);
    if !as_root {
        return Verdict::Run(resolved);
    }
    // The path as written (a symlink's own directory) and the file it resolves to.
    let mut unsafe_reason = unsafe_component(&resolved);
    if unsafe_reason.is_none() && found.is_absolute() && found != resolved {
        unsafe_reason = unsafe_component(&found);
    }
    match unsafe_reason {
        None => Verdict::Run(resolved),
        Some(reason) if security => Verdict::Refuse(format!(
            "unsafe permissions, refused by enable_script_security: {reason}"
        )),
        Some(reason) => Verdict::Warn(
            resolved,
            format!(
                "unsafe permissions (keepalived: \"Unsafe permissions found for script\"), run \
                 anyway because enable_script_security is off: {reason}"
            ),
        ),
    }
}

/// `program` as is when it holds a '/', else the first executable regular file of that
/// name in `path_var` (keepalived warns to give the full path, and so do the docs).
fn find(program: &str, path_var: Option<&std::ffi::OsStr>) -> Result<PathBuf, String> {
    if program.is_empty() {
        return Err("empty command line".to_owned());
    }
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    let default =
        std::ffi::OsStr::new("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    std::env::split_paths(path_var.unwrap_or(default))
        .map(|dir| dir.join(program))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .ok_or_else(|| format!("{program}: not found in PATH"))
}

/// keepalived's `is_executable`: the bits that apply to `uid`/`gid` (root: any x bit).
fn executable(file: &std::fs::Metadata, uid: u32, gid: u32) -> bool {
    let mode = file.permissions().mode();
    if uid == 0 {
        mode & 0o111 != 0
    } else if uid == file.uid() {
        mode & 0o100 != 0
    } else if gid == file.gid() {
        mode & 0o010 != 0
    } else {
        mode & 0o001 != 0
    }
}

/// The first part of `path`, from `/` down, that someone other than root could change, and
/// why; `None` when there is none. Symlinks are not followed (their owner counts), so
/// [`verdict`] checks both the path as written and the file it resolves to, where keepalived
/// checks the resolved one (and runs that).
pub(crate) fn unsafe_component(path: &Path) -> Option<String> {
    let mut parts: Vec<&Path> = path.ancestors().collect();
    parts.reverse();
    let last = parts.len().saturating_sub(1);
    for (index, part) in parts.into_iter().enumerate() {
        let meta = match std::fs::symlink_metadata(part) {
            Ok(meta) => meta,
            Err(error) => return Some(format!("{}: {error}", part.display())),
        };
        let kind = meta.file_type();
        // A symlink on the way (/bin -> usr/bin) counts by its owner: a path as written
        // must not be swappable either, since it is what runs.
        let wrong_type = if index < last {
            !kind.is_dir() && !kind.is_symlink()
        } else {
            !kind.is_file() && !kind.is_symlink()
        };
        if wrong_type {
            return Some(format!(
                "{}: wrong file type in the script's path",
                part.display()
            ));
        }
        let mode = meta.permissions().mode();
        let sticky_dir = kind.is_dir() && mode & 0o1000 != 0;
        let checked = (kind.is_dir() && !sticky_dir) || kind.is_file();
        let reason = if meta.uid() != 0 {
            Some(format!("owned by uid {}, not root", meta.uid()))
        } else if checked && meta.gid() != 0 && mode & 0o020 != 0 {
            Some(format!("writable by group {}", meta.gid()))
        } else if checked && mode & 0o002 != 0 {
            Some("writable by everyone".to_owned())
        } else {
            None
        };
        if let Some(reason) = reason {
            return Some(format!("{}: {reason}", part.display()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use nix::unistd::{Gid, Uid, chown};

    use super::*;

    const ROOT: Credentials = Credentials {
        uid: Uid::from_raw(0),
        gid: Gid::from_raw(0),
    };

    /// A directory of root's, mode 0755, for one test (under /tmp, which is sticky).
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Option<Scratch> {
            if !nix::unistd::geteuid().is_root() {
                eprintln!("SKIPPED (needs root): {name}: files owned by root and by others");
                return None;
            }
            let dir = std::env::temp_dir().join(format!("baton-sec-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).expect("dir");
            set_mode(&dir, 0o755);
            Some(Scratch(dir))
        }

        /// An executable script `name` with `mode`.
        fn script(&self, name: &str, mode: u32) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, "#!/bin/sh\nexit 0\n").expect("script");
            set_mode(&path, mode);
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    fn give_to(path: &Path, uid: u32, gid: u32) {
        chown(path, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid))).expect("chown");
    }

    fn refused(verdict: &Verdict) -> &str {
        match verdict {
            Verdict::Refuse(reason) => reason,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn a_root_owned_script_in_root_owned_directories_runs() {
        let Some(dir) = Scratch::new("secure") else {
            return;
        };
        let script = dir.script("check.sh", 0o755);
        let resolved = std::fs::canonicalize(&script).expect("resolved");
        let program = script.to_str().expect("utf-8");
        assert_eq!(verdict(program, ROOT, true, None), Verdict::Run(resolved));
        assert_eq!(unsafe_component(&script), None);
    }

    #[test]
    fn writable_by_others_is_refused_with_security_and_warned_without() {
        let Some(dir) = Scratch::new("writable") else {
            return;
        };
        for (name, mode, owner, why) in [
            ("world.sh", 0o757, (0, 0), "writable by everyone"),
            ("group.sh", 0o775, (0, 100), "writable by group 100"),
            (
                "owned.sh",
                0o755,
                (65534, 65534),
                "owned by uid 65534, not root",
            ),
        ] {
            let script = dir.script(name, mode);
            give_to(&script, owner.0, owner.1);
            let program = script.to_str().expect("utf-8");
            let reason = refused(&verdict(program, ROOT, true, None)).to_owned();
            assert!(reason.contains(why), "{name}: {reason}");
            assert!(reason.contains(name), "{reason}");
            assert!(reason.contains("enable_script_security"), "{reason}");
            let Verdict::Warn(_, warning) = verdict(program, ROOT, false, None) else {
                panic!("{name}: keepalived runs it and warns");
            };
            assert!(warning.contains(why), "{warning}");
        }
        // Root's group may write: only root is in it.
        let script = dir.script("root-group.sh", 0o775);
        let program = script.to_str().expect("utf-8");
        assert!(matches!(
            verdict(program, ROOT, true, None),
            Verdict::Run(_)
        ));
    }

    #[test]
    fn a_directory_above_the_script_counts_unless_it_is_sticky() {
        let Some(dir) = Scratch::new("dirs") else {
            return;
        };
        let sub = dir.0.join("scripts");
        std::fs::create_dir(&sub).expect("sub");
        let script = sub.join("check.sh");
        std::fs::write(&script, "#!/bin/sh\n").expect("script");
        set_mode(&script, 0o755);
        let program = script.to_str().expect("utf-8");

        set_mode(&sub, 0o777);
        let reason = refused(&verdict(program, ROOT, true, None)).to_owned();
        assert!(reason.contains("scripts: writable by everyone"), "{reason}");
        // Sticky, as /tmp: others may add files but not replace root's.
        set_mode(&sub, 0o1777);
        assert!(matches!(
            verdict(program, ROOT, true, None),
            Verdict::Run(_)
        ));
        set_mode(&sub, 0o755);
        give_to(&sub, 1000, 1000);
        let reason = refused(&verdict(program, ROOT, true, None)).to_owned();
        assert!(reason.contains("scripts: owned by uid 1000"), "{reason}");
    }

    #[test]
    fn a_symlink_is_checked_where_it_points_and_where_it_is() {
        let Some(dir) = Scratch::new("symlink") else {
            return;
        };
        let target = dir.script("real.sh", 0o755);
        let open = dir.0.join("open");
        std::fs::create_dir(&open).expect("open");
        set_mode(&open, 0o777);
        let link = open.join("check.sh");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let program = link.to_str().expect("utf-8");
        let reason = refused(&verdict(program, ROOT, true, None)).to_owned();
        assert!(reason.contains("open: writable by everyone"), "{reason}");
    }

    #[test]
    fn a_script_that_does_not_run_as_root_is_not_checked_for_writers() {
        let Some(dir) = Scratch::new("unprivileged") else {
            return;
        };
        let script = dir.script("check.sh", 0o757);
        let nobody = Credentials {
            uid: Uid::from_raw(65534),
            gid: Gid::from_raw(65534),
        };
        let program = script.to_str().expect("utf-8");
        assert!(matches!(
            verdict(program, nobody, true, None),
            Verdict::Run(_)
        ));
        // But it must be executable by that user.
        let private = dir.script("private.sh", 0o750);
        let program = private.to_str().expect("utf-8");
        let reason = refused(&verdict(program, nobody, true, None)).to_owned();
        assert!(
            reason.contains("not executable for uid:gid 65534:65534"),
            "{reason}"
        );
    }

    #[test]
    fn bare_names_are_found_in_path_and_missing_ones_refused() {
        let Verdict::Run(found) = verdict("sh", ROOT, true, Some("/bin".as_ref())) else {
            panic!("/bin/sh");
        };
        assert!(found.ends_with("sh") || found.ends_with("dash") || found.ends_with("bash"));
        let reason = refused(&verdict("no-such-baton-script", ROOT, true, None)).to_owned();
        assert_eq!(reason, "no-such-baton-script: not found in PATH");
        assert!(refused(&verdict("/nonexistent/x.sh", ROOT, true, None)).contains("x.sh"));
    }
}
