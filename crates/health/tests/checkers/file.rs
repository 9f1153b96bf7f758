use baton_health::{Failure, FileCheck, Outcome, ProbeKind, Weight, probe};

use crate::support::{fails, passes, probe_of};

fn file(path: &std::path::Path, weight: i32, reverse: bool) -> ProbeKind {
    ProbeKind::File(FileCheck {
        path: path.to_owned(),
        weight,
        reverse,
    })
}

fn unused() -> std::net::SocketAddr {
    "127.0.0.1:9".parse().unwrap()
}

#[tokio::test]
async fn zero_is_up_and_anything_else_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state");
    // Missing reads as 0, as in keepalived.
    passes(&probe_of(file(&path, 0, false), unused())).await;
    std::fs::write(&path, "0\n").unwrap();
    passes(&probe_of(file(&path, 0, false), unused())).await;
    std::fs::write(&path, "1\n").unwrap();
    let failure = fails(&probe_of(file(&path, 0, false), unused())).await;
    assert!(matches!(failure, Failure::FileValue(1)), "{failure}");
    passes(&probe_of(file(&path, 0, true), unused())).await;
}

#[tokio::test]
async fn a_weight_scales_the_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state");
    std::fs::write(&path, "3").unwrap();
    let outcome = probe(&probe_of(file(&path, 10, false), unused())).await;
    assert!(
        matches!(outcome, Outcome::Up(Weight::Offset(30))),
        "{outcome:?}"
    );
    let outcome = probe(&probe_of(file(&path, 10, true), unused())).await;
    assert!(
        matches!(outcome, Outcome::Up(Weight::Offset(-30))),
        "{outcome:?}"
    );

    std::fs::write(&path, "-2147483648").unwrap();
    let failure = fails(&probe_of(file(&path, 1, false), unused())).await;
    assert!(matches!(failure, Failure::FileValue(_)), "{failure}");
    std::fs::write(&path, "4294967296").unwrap();
    let failure = fails(&probe_of(file(&path, 1, false), unused())).await;
    assert!(matches!(failure, Failure::BadFileValue(_)), "{failure}");
}
