use std::net::SocketAddr;
use std::time::Duration;

use baton_health::{Failure, ProbeKind};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::support::{fails, passes, probe_of};

/// A DNS server answering each query with `rcode` (after an answer with another id when
/// `decoy`); the queries come out of the receiver.
async fn dns_server(rcode: u8, decoy: bool) -> (SocketAddr, mpsc::UnboundedReceiver<Vec<u8>>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let address = socket.local_addr().expect("address");
    let (queries, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        loop {
            let (n, peer) = socket.recv_from(&mut buf).await.expect("recv");
            let query = buf[..n].to_vec();
            // The query's header and question, with QR set and the RCODE.
            let mut answer = query.clone();
            answer[2] |= 0x80;
            answer[3] = 0x80 | rcode;
            if decoy {
                let mut other = answer.clone();
                other[1] ^= 0xff;
                socket.send_to(&other, peer).await.expect("send");
            }
            socket.send_to(&answer, peer).await.expect("send");
            let _ = queries.send(query);
        }
    });
    (address, received)
}

fn dns(name: &str) -> ProbeKind {
    ProbeKind::Dns {
        qtype: 6,
        name: name.into(),
    }
}

#[tokio::test]
async fn a_noerror_answer_passes() {
    let (address, mut queries) = dns_server(0, false).await;
    passes(&probe_of(dns("example.org"), address)).await;
    let query = queries.recv().await.unwrap();
    assert_eq!(query[2..4], [0x01, 0x00], "RD set, a query");
    assert_eq!(query[4..6], [0, 1], "one question");
    assert_eq!(&query[12..], b"\x07example\x03org\x00\x00\x06\x00\x01");
}

#[tokio::test]
async fn answers_to_other_queries_are_skipped() {
    let (address, _queries) = dns_server(0, true).await;
    passes(&probe_of(dns(""), address)).await;
}

#[tokio::test]
async fn an_error_code_fails() {
    let (address, _queries) = dns_server(2, false).await;
    let failure = fails(&probe_of(dns("."), address)).await;
    assert!(matches!(failure, Failure::Rcode(2)), "{failure}");
}

#[tokio::test]
async fn silence_and_a_closed_port_fail() {
    let silent = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let mut probe = probe_of(dns("."), silent.local_addr().unwrap());
    probe.timeout = Duration::from_millis(200);
    let failure = fails(&probe).await;
    assert!(matches!(failure, Failure::Timeout(_)), "{failure}");

    let closed = silent.local_addr().unwrap();
    drop(silent);
    let failure = fails(&probe_of(dns("."), closed)).await;
    assert!(matches!(failure, Failure::PortUnreachable), "{failure}");
}
