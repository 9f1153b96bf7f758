//! The programs a benchmark runs: where they are and which versions they are.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `name` on PATH, or in the sbin directories where Debian puts haproxy, nginx and
/// keepalived (not on a normal user's PATH).
pub(crate) fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The first line `program arg` prints (on stdout or, like nginx and keepalived, on stderr).
pub(crate) fn version(program: &Path, arg: &str) -> String {
    Command::new(program)
        .arg(arg)
        .stdin(Stdio::null())
        .output()
        .ok()
        .map(|out| {
            let text = [out.stdout, out.stderr].concat();
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_owned()
        })
        .unwrap_or_default()
}
