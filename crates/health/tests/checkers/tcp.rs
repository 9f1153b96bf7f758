use baton_health::{Failure, ProbeKind};

use crate::support::{closed_tcp_port, fails, listener, passes, probe_of};

#[tokio::test]
async fn an_open_port_passes_and_a_closed_one_is_refused() {
    let (_listener, open) = listener().await;
    passes(&probe_of(ProbeKind::Tcp, open)).await;

    let (_socket, closed) = closed_tcp_port();
    let failure = fails(&probe_of(ProbeKind::Tcp, closed)).await;
    assert!(matches!(failure, Failure::Connect(_)), "{failure}");
    assert!(failure.to_string().contains("refused"), "{failure}");
}

#[tokio::test]
async fn the_probe_leaves_from_bindto_and_bind_port() {
    let (listener, open) = listener().await;
    // A free port to bind the probe to.
    let (source_socket, source) = closed_tcp_port();
    drop(source_socket);
    let mut probe = probe_of(ProbeKind::Tcp, open);
    probe.bind = Some(source);
    passes(&probe).await;
    let (_, peer) = listener.accept().await.expect("accept");
    assert_eq!(peer, source);
}

#[tokio::test]
async fn bind_if_and_fwmark_are_applied() {
    if baton_lab::handled_elsewhere("bind_if_and_fwmark_are_applied") {
        return;
    }
    let (_listener, open) = listener().await;
    let mut probe = probe_of(ProbeKind::Tcp, open);
    probe.bind_interface = Some("lo".into());
    probe.fwmark = Some(7);
    passes(&probe).await;

    probe.bind_interface = Some("nosuchif0".into());
    let failure = fails(&probe).await;
    assert!(matches!(failure, Failure::Socket(_)), "{failure}");
}
