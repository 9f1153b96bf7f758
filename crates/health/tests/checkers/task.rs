use std::time::Duration;

use baton_health::{CheckHandle, FileCheck, Probe, ProbeKind, Schedule, Verdict, Weight, spawn};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::support::{listener, probe_of};

fn schedule(start_down: bool) -> Schedule {
    Schedule {
        interval: Duration::from_millis(40),
        retry_interval: Duration::from_millis(10),
        fall: 2,
        rise: 1,
        warmup: Some(Duration::from_millis(20)),
        start_down,
    }
}

fn start(probe: Probe, schedule: Schedule) -> (CheckHandle, mpsc::UnboundedReceiver<Verdict>) {
    let (verdicts, received) = mpsc::unbounded_channel();
    let handle = spawn(probe, schedule, move |verdict| {
        let _ = verdicts.send(verdict);
    });
    (handle, received)
}

async fn next(verdicts: &mut mpsc::UnboundedReceiver<Verdict>) -> Verdict {
    tokio::time::timeout(Duration::from_secs(10), verdicts.recv())
        .await
        .expect("a verdict in time")
        .expect("the check is running")
}

const UP: Verdict = Verdict::Up {
    weight: Weight::Configured,
};

#[tokio::test]
async fn a_server_goes_down_and_comes_back() {
    let (listener, address) = listener().await;
    let (handle, mut verdicts) = start(probe_of(ProbeKind::Tcp, address), schedule(false));
    assert_eq!(next(&mut verdicts).await, UP);

    drop(listener);
    let Verdict::Down { reason } = next(&mut verdicts).await else {
        panic!("expected down");
    };
    assert!(reason.starts_with("connect failed"), "{reason}");
    let status = handle.status();
    assert!(
        status.failures >= 2 && status.probes > status.failures,
        "{status:?}"
    );
    assert!(matches!(status.verdict, Some(Verdict::Down { .. })));
    assert!(status.last_latency.is_some(), "{status:?}");

    let _listener = TcpListener::bind(address)
        .await
        .expect("the same port again");
    assert_eq!(next(&mut verdicts).await, UP);
    assert_eq!(handle.status().verdict, Some(UP));
}

#[tokio::test]
async fn started_down_it_says_so_at_once_then_rises() {
    let (_listener, address) = listener().await;
    let mut schedule = schedule(true);
    schedule.warmup = Some(Duration::from_secs(3600));
    let (handle, mut verdicts) = start(probe_of(ProbeKind::Tcp, address), schedule.clone());
    assert!(matches!(next(&mut verdicts).await, Verdict::Down { .. }));
    assert_eq!(
        handle.status().probes,
        0,
        "the warmup holds the first probe"
    );
    assert_eq!(handle.status().last_latency, None);

    schedule.warmup = None;
    let (_handle, mut verdicts) = start(probe_of(ProbeKind::Tcp, address), schedule);
    assert!(matches!(next(&mut verdicts).await, Verdict::Down { .. }));
    assert_eq!(next(&mut verdicts).await, UP);
}

#[tokio::test]
async fn a_new_weight_is_reported_and_dropping_the_handle_stops_the_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("weight");
    std::fs::write(&path, "1").unwrap();
    let kind = ProbeKind::File(FileCheck {
        path: path.clone(),
        weight: 10,
        reverse: false,
    });
    let (handle, mut verdicts) = start(
        probe_of(kind, "127.0.0.1:9".parse().unwrap()),
        schedule(false),
    );
    assert_eq!(
        next(&mut verdicts).await,
        Verdict::Up {
            weight: Weight::Offset(10)
        }
    );
    std::fs::write(&path, "2").unwrap();
    assert_eq!(
        next(&mut verdicts).await,
        Verdict::Up {
            weight: Weight::Offset(20)
        }
    );

    drop(handle);
    // The aborted task drops the callback, and with it the sender.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while verdicts.recv().await.is_some() {}
    })
    .await;
    assert!(
        closed.is_ok(),
        "the check still runs after its handle was dropped"
    );
}
