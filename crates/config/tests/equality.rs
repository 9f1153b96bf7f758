//! Two configurations are equal exactly when they say the same: where an item was written
//! never counts, and every value does. A reload decides what changed with this equality
//! (the daemon compares the new configuration, and each item of it, with what runs), so a
//! value the model's `PartialEq` missed would be a change a reload never applies, and a
//! moved line a change it applies for nothing.
//!
//! The model's equality is derived, with locations held as `WrittenAt`, which equals every
//! other: these tests fail if a field stops being compared (a hand-written `PartialEq`, a
//! value kept in a `WrittenAt`) or a location starts to be (a `Location` in the model).

use std::path::{Path, PathBuf};

use baton_config::{Config, Errors, load_keepalived, load_toml};

/// The fixture trees, each with the file to load and the files that configuration is read
/// from (the others in the tree belong to other tests).
const CASES: [(&str, &str, &[&str]); 8] = [
    (
        "production",
        "keepalived.conf",
        &[
            "keepalived.conf",
            "conf.d/10-scripts.conf",
            "conf.d/20-web.conf",
            "conf.d/30-internal.conf",
            "extra/groups.conf",
            "extra/tracking.conf",
        ],
    ),
    ("production", "baton.toml", &["baton.toml"]),
    ("lvs", "keepalived.conf", &["keepalived.conf"]),
    ("lvs", "baton.toml", &["baton.toml"]),
    ("guide", "lb1.conf", &["lb1.conf"]),
    ("blocks", "keepalived.conf", &["keepalived.conf"]),
    ("proxy", "full.toml", &["full.toml"]),
    ("anycast", "baton.toml", &["baton.toml"]),
];

fn load(path: &Path) -> Result<Config, Errors> {
    let loaded = if path.extension().is_some_and(|e| e == "toml") {
        load_toml(path)
    } else {
        load_keepalived(path)
    };
    loaded.map(|l| l.config)
}

/// A copy of the fixture tree `case` in a fresh directory.
fn copy(case: &str, test: &str) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(case);
    let to = std::env::temp_dir().join(format!(
        "baton-equality-{}-{test}-{case}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&to);
    copy_tree(&from, &to);
    to
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("temporary directory");
    for entry in std::fs::read_dir(from).expect("fixture directory") {
        let entry = entry.expect("fixture entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copied");
        }
    }
}

/// A copy of the fixture tree `case` for `test`, its file `main`, and what that loads as.
fn loaded_copy(case: &str, main: &str, test: &str) -> (PathBuf, PathBuf, Config) {
    let dir = copy(case, test);
    let main = dir.join(main);
    let config = load(&main).unwrap_or_else(|e| panic!("{case}/{main:?}: {e}"));
    (dir, main, config)
}

/// Every line of every file of a configuration moved (a comment line more above each):
/// the configuration is equal to what it was, though every location differs.
#[test]
fn moving_every_line_changes_nothing() {
    for (case, main, files) in CASES {
        let (dir, main, before) = loaded_copy(case, main, "moved");
        for file in files.iter().map(|f| dir.join(f)) {
            let text = std::fs::read_to_string(&file).expect("readable");
            let moved: String = text
                .lines()
                .map(|line| format!("# moved\n{line}\n"))
                .collect();
            std::fs::write(&file, moved).expect("written");
        }
        let after = load(&main).unwrap_or_else(|e| panic!("{case}/{main:?} moved: {e}"));
        assert_eq!(after, before, "{case}/{main:?}");
        // The locations are there, and did change: only equality leaves them out.
        let (before, after) = (format!("{before:?}"), format!("{after:?}"));
        assert_ne!(after, before, "{case}");
        // Each is a `WrittenAt`: a `Location` in the model would count in its equality.
        assert!(!before.contains("Location {"), "{case}: {before}");
        std::fs::remove_dir_all(&dir).ok();
    }
}

/// The first number of `line` plus one, if the line has a number outside a comment.
fn bumped(line: &str) -> Option<String> {
    let code = line.split(['#', '!']).next().unwrap_or_default();
    let start = code.find(|c: char| c.is_ascii_digit())?;
    let end = code[start..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(code.len(), |n| start + n);
    let number: u64 = code[start..end].parse().ok()?;
    Some(format!("{}{}{}", &line[..start], number + 1, &line[end..]))
}

/// Each number of each file changed in turn, everything else as it was: every change that
/// still loads is a different configuration. This covers every block of the fixtures:
/// global settings and scripts, instances (with routes, rules and a virtual MAC), scripts,
/// tracked files and processes, BFD, sync groups, static addresses, routes and rules, link
/// delays, garp groups, virtual and real servers and their checkers, frontends, backends,
/// health checks, anycast.
#[test]
fn changing_any_value_is_a_change() {
    for (case, main, files) in CASES {
        let (dir, main, before) = loaded_copy(case, main, "changed");
        let (mut changed, mut refused) = (0, 0);
        for file in files.iter().map(|f| dir.join(f)) {
            let text = std::fs::read_to_string(&file).expect("readable");
            let lines: Vec<&str> = text.lines().collect();
            for (index, line) in lines.iter().enumerate() {
                let Some(line) = bumped(line) else { continue };
                let mut edited = lines.clone();
                edited[index] = &line;
                std::fs::write(&file, edited.join("\n") + "\n").expect("written");
                match load(&main) {
                    Ok(after) => {
                        changed += 1;
                        assert!(
                            after != before,
                            "{}:{}: '{line}' loads as the same configuration",
                            file.display(),
                            index + 1
                        );
                    }
                    // An out-of-range value, say: nothing to compare.
                    Err(_) => refused += 1,
                }
            }
            std::fs::write(&file, &text).expect("restored");
        }
        assert!(
            changed > refused,
            "{case}: {changed} changes loaded, {refused} refused"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
