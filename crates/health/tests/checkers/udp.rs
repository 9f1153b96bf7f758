use std::net::SocketAddr;
use std::time::Duration;

use baton_health::{Failure, ProbeKind, ReplyPattern, UdpCheck};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::support::{fails, passes, probe_of};

/// A UDP server answering each datagram with `reply(datagram)` (None: silence); the
/// datagrams come out of the receiver.
async fn udp_server(
    reply: fn(&[u8]) -> Option<Vec<u8>>,
) -> (SocketAddr, mpsc::UnboundedReceiver<Vec<u8>>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let address = socket.local_addr().expect("address");
    let (datagrams, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        loop {
            let (n, peer) = socket.recv_from(&mut buf).await.expect("recv");
            if let Some(answer) = reply(&buf[..n]) {
                socket.send_to(&answer, peer).await.expect("send");
            }
            let _ = datagrams.send(buf[..n].to_vec());
        }
    });
    (address, received)
}

fn udp(payload: &[u8], require_reply: Option<ReplyPattern>) -> ProbeKind {
    ProbeKind::Udp(UdpCheck {
        payload: payload.to_vec(),
        require_reply,
    })
}

fn echo(datagram: &[u8]) -> Option<Vec<u8>> {
    Some(datagram.to_vec())
}

fn silence(_: &[u8]) -> Option<Vec<u8>> {
    None
}

#[tokio::test]
async fn an_echo_passes_and_keepalived_s_payload_is_the_default() {
    let (address, mut datagrams) = udp_server(echo).await;
    passes(&probe_of(udp(b"", None), address)).await;
    assert_eq!(
        datagrams.recv().await.unwrap(),
        b"keepalived check - keepalived ch"
    );

    let pattern = ReplyPattern::starting_with(b"ping".to_vec());
    passes(&probe_of(udp(b"ping?", Some(pattern)), address)).await;
    assert_eq!(datagrams.recv().await.unwrap(), b"ping?");
}

#[tokio::test]
async fn a_reply_that_does_not_match_fails() {
    let (address, _datagrams) = udp_server(echo).await;
    let pattern = ReplyPattern::starting_with(b"pong".to_vec());
    let failure = fails(&probe_of(udp(b"ping", Some(pattern)), address)).await;
    assert!(matches!(failure, Failure::ReplyMismatch(4)), "{failure}");
}

#[tokio::test]
async fn silence_passes_unless_a_reply_is_required() {
    let (address, _datagrams) = udp_server(silence).await;
    let mut probe = probe_of(udp(b"x", None), address);
    probe.timeout = Duration::from_millis(200);
    passes(&probe).await;

    probe.kind = udp(b"x", Some(ReplyPattern::any()));
    let failure = fails(&probe).await;
    assert!(matches!(failure, Failure::Timeout(_)), "{failure}");
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let closed = socket.local_addr().unwrap();
    drop(socket);
    let failure = fails(&probe_of(udp(b"x", None), closed)).await;
    assert!(matches!(failure, Failure::PortUnreachable), "{failure}");
    assert_eq!(failure.to_string(), "ICMP port unreachable");
}
