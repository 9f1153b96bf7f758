//! Probes and servers for the tests.

use std::net::SocketAddr;
use std::time::Duration;

use baton_health::{Failure, Outcome, Probe, ProbeKind, probe};
use tokio::net::{TcpListener, TcpSocket};

/// Long enough for a loaded machine; tests that wait for a timeout set their own.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn probe_of(kind: ProbeKind, connect: SocketAddr) -> Probe {
    Probe::new(kind, connect, TIMEOUT)
}

pub(crate) async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    (listener, address)
}

/// A port that refuses connections: bound, never listened on, kept bound so that no
/// other test takes it.
pub(crate) fn closed_tcp_port() -> (TcpSocket, SocketAddr) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    let address = socket.local_addr().expect("address");
    (socket, address)
}

/// Runs the probe and returns its failure, failing the test if it passed.
pub(crate) async fn fails(target: &Probe) -> Failure {
    match probe(target).await {
        Outcome::Down(failure) => failure,
        Outcome::Up(weight) => panic!("expected a failure, got up with {weight:?}"),
    }
}

/// Runs the probe and fails the test unless it passed with the configured weight.
pub(crate) async fn passes(target: &Probe) {
    match probe(target).await {
        Outcome::Up(baton_health::Weight::Configured) => {}
        other => panic!("expected up, got {other:?}"),
    }
}
