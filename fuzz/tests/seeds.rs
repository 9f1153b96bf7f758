//! Replays the checked-in inputs in `seeds/<target>/` (real inputs, and any input that once
//! failed, kept as a regression) through the targets' checks. Runs on stable without
//! libFuzzer: `cargo test --no-default-features` (CI does, see `.ci/run`).

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    paths.sort();
    assert!(paths.len() >= 3, "{target}: only {} seeds", paths.len());
    for path in paths {
        // Shown with the failure, to name the input that failed.
        eprintln!("replaying {}", path.display());
        let data = std::fs::read(&path).expect("seed");
        check(&data);
    }
}

/// One test a target, named after it, replaying `seeds/<target>/` through
/// `baton_fuzz::<target>::check`.
macro_rules! replay_each {
    ($($target:ident),* $(,)?) => {
        $(
            #[test]
            fn $target() {
                replay(stringify!($target), baton_fuzz::$target::check);
            }
        )*
    };
}

replay_each!(
    decode,
    keepalived_conf,
    toml_config,
    http1_request,
    http1_chunked,
    control_request,
    server_response,
);
