use std::time::Duration;

use baton_health::{Failure, MiscCheck, Outcome, ProbeKind, Weight, probe};

use crate::support::{fails, passes, probe_of};

fn sh(script: &str, dynamic: bool) -> ProbeKind {
    ProbeKind::Misc(MiscCheck {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        dynamic,
        uid: None,
        gid: None,
    })
}

fn unused() -> std::net::SocketAddr {
    "127.0.0.1:9".parse().unwrap()
}

#[tokio::test]
async fn exit_codes_are_the_verdict() {
    passes(&probe_of(sh("exit 0", false), unused())).await;
    let failure = fails(&probe_of(sh("exit 3", false), unused())).await;
    assert!(matches!(failure, Failure::Exit(3)), "{failure}");
    let failure = fails(&probe_of(sh("kill -9 $$", false), unused())).await;
    assert!(matches!(failure, Failure::Signal(9)), "{failure}");
}

#[tokio::test]
async fn misc_dynamic_sets_the_weight_to_the_code_less_two() {
    let outcome = probe(&probe_of(sh("exit 12", true), unused())).await;
    assert!(
        matches!(outcome, Outcome::Up(Weight::Set(10))),
        "{outcome:?}"
    );
    let failure = fails(&probe_of(sh("exit 1", true), unused())).await;
    assert!(matches!(failure, Failure::Exit(1)), "{failure}");
}

#[tokio::test]
async fn a_program_that_cannot_start_fails() {
    let mut kind = sh("", false);
    if let ProbeKind::Misc(check) = &mut kind {
        check.argv = vec!["/nonexistent/check".into()];
    }
    let failure = fails(&probe_of(kind, unused())).await;
    assert!(matches!(failure, Failure::Spawn(_)), "{failure}");
}

#[tokio::test]
async fn it_runs_as_the_given_user() {
    if baton_lab::handled_elsewhere("it_runs_as_the_given_user") {
        return;
    }
    if baton_lab::skip_without_other_users("it_runs_as_the_given_user", "a check as nobody") {
        return;
    }
    let script = r#"[ "$(id -u):$(id -g)" = "65534:65534" ]"#;
    let failure = fails(&probe_of(sh(script, false), unused())).await;
    assert!(
        matches!(failure, Failure::Exit(1)),
        "not as root: {failure}"
    );
    let mut kind = sh(script, false);
    if let ProbeKind::Misc(check) = &mut kind {
        check.uid = Some(65534);
        check.gid = Some(65534);
    }
    passes(&probe_of(kind, unused())).await;
}

#[tokio::test]
async fn a_timeout_kills_the_program_and_its_children() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("pid");
    let script = format!("sleep 30 & echo $! > {}; wait", pid_file.display());
    let mut target = probe_of(sh(&script, false), unused());
    target.timeout = Duration::from_millis(300);
    let failure = fails(&target).await;
    assert!(matches!(failure, Failure::Timeout(_)), "{failure}");

    let pid = std::fs::read_to_string(&pid_file).expect("the script ran");
    let stat = format!("/proc/{}/stat", pid.trim());
    // Killed, then reaped by whoever inherited it: gone, or a zombie for a moment.
    for _ in 0..100 {
        match std::fs::read_to_string(&stat) {
            Err(_) => return,
            Ok(stat) if stat.split(' ').nth(2) == Some("Z") => return,
            Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    panic!("the script's child {} outlived the timeout", pid.trim());
}
