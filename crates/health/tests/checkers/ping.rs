use std::time::Duration;

use baton_health::{Failure, ProbeKind};

use crate::support::{fails, passes, probe_of};

#[tokio::test]
async fn the_loopback_answers() {
    if baton_lab::handled_elsewhere("the_loopback_answers") {
        return;
    }
    passes(&probe_of(ProbeKind::Ping, "127.0.0.1:0".parse().unwrap())).await;
}

#[tokio::test]
async fn the_ipv6_loopback_answers() {
    if baton_lab::handled_elsewhere("the_ipv6_loopback_answers") {
        return;
    }
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    }
    passes(&probe_of(ProbeKind::Ping, "[::1]:0".parse().unwrap())).await;
}

#[tokio::test]
async fn an_address_nobody_holds_fails() {
    // TEST-NET-2 (RFC 5737), documentation only: unroutable, refused by a router, or
    // dropped. (TEST-NET-1 will not do: some sandboxes put their gateway there.)
    let mut probe = probe_of(ProbeKind::Ping, "198.51.100.7:0".parse().unwrap());
    probe.timeout = Duration::from_millis(300);
    let failure = fails(&probe).await;
    assert!(
        matches!(
            failure,
            Failure::Timeout(_) | Failure::Unreachable(_) | Failure::Socket(_)
        ),
        "{failure}"
    );
}

#[tokio::test]
async fn a_missing_interface_fails() {
    let mut probe = probe_of(ProbeKind::Ping, "127.0.0.1:0".parse().unwrap());
    probe.bind_interface = Some("nosuchif0".into());
    let failure = fails(&probe).await;
    assert!(matches!(failure, Failure::Socket(_)), "{failure}");
}
