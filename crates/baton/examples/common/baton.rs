//! The daemon under test: the release binary built next to the running example.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// `target/release/baton` beside `target/release/examples/<bench>`, or `BATON_BIN`.
pub(crate) fn release_binary() -> Option<PathBuf> {
    std::env::var_os("BATON_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.parent()?.join("baton"))
        })
        .filter(|path| path.is_file())
}

/// `cargo run --example` rebuilds the example, not the daemon: say so when the binary is
/// older than the sources it would be measuring.
pub(crate) fn warn_if_stale(binary: &Path) {
    let built = std::fs::metadata(binary).and_then(|m| m.modified()).ok();
    if let (Some(built), Some(source)) = (built, newest_source())
        && source > built
    {
        eprintln!(
            "!!! {} is older than the sources in crates/: measuring it anyway; \
             `cargo build --release -p baton` first to measure the current code",
            binary.display()
        );
    }
}

/// When a Rust file under some `crates/*/src` was last changed.
fn newest_source() -> Option<SystemTime> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    let mut newest = None;
    let mut dirs = vec![crates.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.components().any(|c| c.as_os_str() == "src")
            {
                let modified = entry.metadata().and_then(|m| m.modified()).ok();
                newest = newest.max(modified);
            }
        }
    }
    newest
}
