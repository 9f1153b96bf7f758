//! Hostile or broken input never panics: every prefix of the fixtures, random text, and
//! random arrangements of keepalived.conf's own words and punctuation.

use std::path::{Path, PathBuf};

use baton_config::{parse_keepalived, parse_toml};
use proptest::prelude::*;

fn fixture_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("fixture dir")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
        &mut files,
    );
    files
}

fn parse_any(text: &str, path: &Path) {
    if path.extension().is_some_and(|e| e == "toml") {
        let _ = parse_toml(text, path);
    }
    // keepalived.conf is tried on everything, TOML included: it must not panic either.
    let _ = parse_keepalived(text, path);
}

#[test]
fn every_truncation_of_every_fixture() {
    let files = fixture_files();
    assert!(files.len() >= 10, "{files:?}");
    for path in files {
        let text = std::fs::read_to_string(&path).expect("fixture is text");
        for (end, _) in text.char_indices() {
            parse_any(&text[..end], &path);
        }
        parse_any(&text, &path);
    }
}

/// Words and punctuation that make keepalived.conf, TOML and values.
fn vocabulary() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "{",
        "}",
        "\n",
        " ",
        "\"",
        "'",
        "\\",
        "#",
        "!",
        "=",
        "[",
        "]",
        "[[vrrp]]",
        "include",
        "include nothing-here/*",
        "includea nothing-here",
        "vrrp_instance",
        "vrrp_script",
        "vrrp_sync_group",
        "track_file",
        "global_defs",
        "group",
        "state",
        "MASTER",
        "interface",
        "eth0",
        "virtual_router_id",
        "priority",
        "advert_int",
        "version",
        "authentication",
        "auth_type",
        "PASS",
        "AH",
        "auth_pass",
        "virtual_ipaddress",
        "10.0.0.1/24",
        "2001:db8::1",
        "fe80::1",
        "dev",
        "brd",
        "+",
        "label",
        "scope",
        "unicast_peer",
        "track_script",
        "weight",
        "-254",
        "253",
        "0",
        "1",
        "255",
        "256",
        "0.01",
        "1.5",
        "99999999999999999999",
        "nopreempt",
        "preempt_delay",
        "notify_master",
        "script",
        "\"/bin/x 'a b'\"",
        "name = \"A\"",
        "priority = 1",
        "$X=1",
        "$X=",
        "$X",
        "${X}",
        "$X=$X",
        "${_RANDOM 1 2}",
        "$_PWD",
        "@id",
        "@^id",
        "~SEQ(",
        "~SEQx(",
        "~LST(",
        "~LST({",
        "X, 1, 3)",
        ",",
        ")",
        "include_check",
        "-match",
        "\u{feff}",
        "é",
    ])
    .prop_map(str::to_owned)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = parse_keepalived(&text, "fuzz.conf");
        let _ = parse_toml(&text, "fuzz.toml");
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_keepalived(&text, "fuzz.conf");
        let _ = parse_toml(&text, "fuzz.toml");
    }

    #[test]
    fn shuffled_keywords_never_panic(words in prop::collection::vec(vocabulary(), 0..200)) {
        let text = words.join(" ");
        let _ = parse_keepalived(&text, "fuzz.conf");
        let _ = parse_toml(&text, "fuzz.toml");
        let text = words.join("\n");
        let _ = parse_keepalived(&text, "fuzz.conf");
        let _ = parse_toml(&text, "fuzz.toml");
    }
}
