//! promtool, Prometheus's rule checker: from `$BATON_PROMTOOL` (.ci/run takes it out of
//! Debian's prometheus package, whose installation would start a Prometheus server) or
//! from `PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::on_path;

/// promtool, or `None` after a loud SKIPPED line naming `test`. On CI, which provides it,
/// a missing promtool is a failure.
pub(crate) fn find(test: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("BATON_PROMTOOL") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "BATON_PROMTOOL={} is no file",
            path.display()
        );
        return Some(path);
    }
    if on_path("promtool") {
        return Some(PathBuf::from("promtool"));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "promtool is missing, and CI must have it (.ci/run extracts it from the prometheus package)"
    );
    eprintln!(
        "SKIPPED (needs promtool, from the prometheus package, on PATH or in BATON_PROMTOOL): {test}"
    );
    None
}

/// `promtool ARGS...` in `dir`; its output, or a failure showing it.
pub(crate) fn run(promtool: &Path, dir: &Path, args: &[&str]) -> String {
    let output = Command::new(promtool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", promtool.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "promtool {} failed in {}:\n{text}",
        args.join(" "),
        dir.display()
    );
    text
}
