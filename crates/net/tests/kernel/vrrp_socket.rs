//! VRRP advertisements between two namespaces over real raw sockets.

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use baton_net::{DiscardReason, Family, Incoming, Membership, Received, VrrpSocket};
use baton_vrrp::{Advertisement, Centiseconds, ChecksumMode, Priority, VersionFields, Vrid};

use crate::lab::{A_V4, A_V6, B_V4, B_V6, Lab, capture, first_frame, within};

const GROUP_V4: &str = "224.0.0.18";
const GROUP_V6: &str = "ff02::12";

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// A VRRPv3 advertisement for `vip`, emitted for `src` -> `dst`: its checksum covers both, so
/// the receiver's decode only succeeds when the packet really left from `src`.
fn advert(vip: &str, src: IpAddr, dst: IpAddr) -> Vec<u8> {
    Advertisement {
        vrid: Vrid::new(51).unwrap(),
        priority: Priority::new(150),
        addresses: vec![ip(vip)],
        fields: VersionFields::V3 {
            max_interval: Centiseconds::new(100).unwrap(),
        },
    }
    .emit(src, dst, ChecksumMode::Standard)
    .unwrap()
}

fn vip_for(src: IpAddr) -> &'static str {
    if src.is_ipv4() {
        "10.99.0.100"
    } else {
        "fd00:99::100"
    }
}

/// Receives one packet and checks its addressing, TTL and bytes, and that it decodes as the
/// advertisement that was sent (so the v3 checksum over src and dst is right).
async fn expect(socket: &VrrpSocket, src: IpAddr, dst: IpAddr, sent: &[u8]) -> Received {
    let mut buf = [0u8; baton_net::RECEIVE_BUFFER];
    let incoming = within("a VRRP packet", socket.recv(&mut buf))
        .await
        .unwrap();
    let Incoming::Packet(received) = incoming else {
        panic!("expected a packet, got {incoming:?}");
    };
    assert_eq!(received.src, src, "source");
    assert_eq!(received.dst, dst, "destination");
    assert_eq!(received.ttl, 255, "TTL / hop limit");
    let payload = &buf[received.payload.clone()];
    assert_eq!(payload, sent);
    Advertisement::decode(payload, received.src, received.dst, ChecksumMode::Standard)
        .expect("decodes with the received addresses");
    received
}

/// Asserts nothing arrives on `socket` for a while.
async fn expect_silence(socket: &VrrpSocket, why: &str) {
    let mut buf = [0u8; 1500];
    let result = tokio::time::timeout(Duration::from_millis(300), socket.recv(&mut buf)).await;
    assert!(result.is_err(), "{why}, but received {result:?}");
}

/// Sends `a -> b` and `b -> a`, checking each arrives as sent and the sender never hears
/// itself (multicast loop is off).
async fn exchange(
    a: &VrrpSocket,
    b: &VrrpSocket,
    (a_src, b_src): (IpAddr, IpAddr),
    dst: [IpAddr; 2],
) {
    let payload = advert(vip_for(a_src), a_src, dst[0]);
    a.send(a_src, dst[0], &payload).await.unwrap();
    expect(b, a_src, dst[0], &payload).await;
    expect_silence(a, "the sender must not hear itself").await;

    let payload = advert(vip_for(b_src), b_src, dst[1]);
    b.send(b_src, dst[1], &payload).await.unwrap();
    expect(a, b_src, dst[1], &payload).await;
}

#[test]
fn ipv4_multicast() {
    let Some(lab) = Lab::new("ipv4_multicast") else {
        return;
    };
    lab.run(|a, b| async move {
        let sock_a = VrrpSocket::open("va", Family::Ipv4, Membership::Multicast).unwrap();
        let src_a = baton_net::primary_address("va", Family::Ipv4).unwrap();
        b.enter();
        let sock_b = VrrpSocket::open("vb", Family::Ipv4, Membership::Multicast).unwrap();
        let src_b = baton_net::primary_address("vb", Family::Ipv4).unwrap();
        a.enter();
        assert_eq!((src_a, src_b), (ip(A_V4), ip(B_V4)));
        exchange(
            &sock_a,
            &sock_b,
            (src_a, src_b),
            [ip(GROUP_V4), ip(GROUP_V4)],
        )
        .await;
    });
}

#[test]
fn ipv4_unicast() {
    let Some(lab) = Lab::new("ipv4_unicast") else {
        return;
    };
    lab.run(|a, b| async move {
        let sock_a = VrrpSocket::open("va", Family::Ipv4, Membership::Unicast).unwrap();
        b.enter();
        let sock_b = VrrpSocket::open("vb", Family::Ipv4, Membership::Unicast).unwrap();
        a.enter();
        exchange(&sock_a, &sock_b, (ip(A_V4), ip(B_V4)), [ip(B_V4), ip(A_V4)]).await;
    });
}

#[test]
fn ipv6_multicast() {
    let Some(lab) = Lab::new("ipv6_multicast") else {
        return;
    };
    lab.run(|a, b| async move {
        let sock_a = VrrpSocket::open("va", Family::Ipv6, Membership::Multicast).unwrap();
        let src_a = baton_net::primary_address("va", Family::Ipv6).unwrap();
        b.enter();
        let sock_b = VrrpSocket::open("vb", Family::Ipv6, Membership::Multicast).unwrap();
        let src_b = baton_net::primary_address("vb", Family::Ipv6).unwrap();
        a.enter();
        // RFC 5798 §5.1.2.2: IPv6 advertisements come from the link-local address.
        for src in [src_a, src_b] {
            assert!(
                matches!(src, IpAddr::V6(v6) if v6.segments()[0] == 0xfe80),
                "{src}"
            );
        }
        exchange(
            &sock_a,
            &sock_b,
            (src_a, src_b),
            [ip(GROUP_V6), ip(GROUP_V6)],
        )
        .await;
    });
}

#[test]
fn ipv6_unicast() {
    let Some(lab) = Lab::new("ipv6_unicast") else {
        return;
    };
    lab.run(|a, b| async move {
        let sock_a = VrrpSocket::open("va", Family::Ipv6, Membership::Unicast).unwrap();
        b.enter();
        let sock_b = VrrpSocket::open("vb", Family::Ipv6, Membership::Unicast).unwrap();
        a.enter();
        exchange(&sock_a, &sock_b, (ip(A_V6), ip(B_V6)), [ip(B_V6), ip(A_V6)]).await;
    });
}

/// keepalived's `unicast_src_ip`, and any source that is not the kernel's first choice: the
/// packet must leave from exactly the address given.
#[test]
fn source_address_is_honoured() {
    let Some(lab) = Lab::new("source_address_is_honoured") else {
        return;
    };
    lab.a.ip("addr add 10.99.0.50/24 dev va");
    lab.a.ip("addr add fd00:99::50/64 dev va nodad");
    lab.run(|a, b| async move {
        let v4_a = VrrpSocket::open("va", Family::Ipv4, Membership::Multicast).unwrap();
        let v6_a = VrrpSocket::open("va", Family::Ipv6, Membership::Unicast).unwrap();
        b.enter();
        let v4_b = VrrpSocket::open("vb", Family::Ipv4, Membership::Multicast).unwrap();
        let v6_b = VrrpSocket::open("vb", Family::Ipv6, Membership::Unicast).unwrap();
        a.enter();
        for (src, dst, from, to) in [
            ("10.99.0.50", GROUP_V4, &v4_a, &v4_b),
            ("10.99.0.50", B_V4, &v4_a, &v4_b),
            ("fd00:99::50", B_V6, &v6_a, &v6_b),
        ] {
            let payload = advert(vip_for(ip(src)), ip(src), ip(dst));
            from.send(ip(src), ip(dst), &payload).await.unwrap();
            expect(to, ip(src), ip(dst), &payload).await;
        }
    });
}

/// IP_MULTICAST_ALL off: a unicast socket does not get the multicast that another socket on
/// the same host joined.
#[test]
fn unicast_socket_hears_no_multicast() {
    let Some(lab) = Lab::new("unicast_socket_hears_no_multicast") else {
        return;
    };
    lab.run(|a, b| async move {
        let sender = VrrpSocket::open("va", Family::Ipv4, Membership::Multicast).unwrap();
        b.enter();
        let joined = VrrpSocket::open("vb", Family::Ipv4, Membership::Multicast).unwrap();
        let unicast = VrrpSocket::open("vb", Family::Ipv4, Membership::Unicast).unwrap();
        a.enter();
        let payload = advert("10.99.0.100", ip(A_V4), ip(GROUP_V4));
        sender.send(ip(A_V4), ip(GROUP_V4), &payload).await.unwrap();
        expect(&joined, ip(A_V4), ip(GROUP_V4), &payload).await;
        expect_silence(&unicast, "a unicast socket must not get multicast").await;
    });
}

#[test]
fn bad_calls_are_errors_not_panics() {
    let Some(lab) = Lab::new("bad_calls_are_errors_not_panics") else {
        return;
    };
    lab.run(|a, b| async move {
        assert!(matches!(
            VrrpSocket::open("nonexistent0", Family::Ipv4, Membership::Multicast),
            Err(baton_net::Error::NoSuchInterface { .. })
        ));
        let sock_a = VrrpSocket::open("va", Family::Ipv4, Membership::Unicast).unwrap();
        b.enter();
        let sock_b = VrrpSocket::open("vb", Family::Ipv4, Membership::Unicast).unwrap();
        a.enter();

        // Mixed families.
        let error = sock_a.send(ip(A_V6), ip(B_V4), b"x").await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);

        // A packet larger than the buffer is discarded, not an error, and the socket keeps
        // working.
        let payload = advert("10.99.0.100", ip(A_V4), ip(B_V4));
        sock_a.send(ip(A_V4), ip(B_V4), &payload).await.unwrap();
        let mut small = [0u8; 24];
        let incoming = within("a packet", sock_b.recv(&mut small)).await.unwrap();
        let Incoming::Discarded(discarded) = incoming else {
            panic!("expected a discard, got {incoming:?}");
        };
        assert_eq!(discarded.reason, DiscardReason::Oversized);
        assert_eq!(discarded.len, 20 + payload.len());
        assert_eq!(discarded.src, Some(ip(A_V4)));

        // Nor is a 9,000-byte packet (sent in fragments, reassembled by the kernel) with a
        // buffer that fits any advertisement.
        let jumbo = vec![0x31; 9000];
        sock_a.send(ip(A_V4), ip(B_V4), &jumbo).await.unwrap();
        let mut buf = [0u8; baton_net::RECEIVE_BUFFER];
        let incoming = within("a packet", sock_b.recv(&mut buf)).await.unwrap();
        let Incoming::Discarded(discarded) = incoming else {
            panic!("expected a discard, got {incoming:?}");
        };
        assert_eq!(discarded.reason, DiscardReason::Oversized);
        assert_eq!(discarded.len, 20 + jumbo.len());
        sock_a.send(ip(A_V4), ip(B_V4), &payload).await.unwrap();
        expect(&sock_b, ip(A_V4), ip(B_V4), &payload).await;

        // Not (or no longer) an address of this host: sent from it all the same, as
        // keepalived does, so a master whose unicast_src_ip went goes on advertising
        // (IP_TRANSPARENT; otherwise the kernel refuses the source and the backup takes the
        // VIP while this host keeps it).
        let gone = advert("10.99.0.100", ip("10.99.0.77"), ip(B_V4));
        sock_a
            .send(ip("10.99.0.77"), ip(B_V4), &gone)
            .await
            .unwrap();
        expect(&sock_b, ip("10.99.0.77"), ip(B_V4), &gone).await;
    });
}

/// Without a tokio runtime, opening is an error, not a panic.
#[test]
fn open_outside_a_runtime_is_an_error() {
    let Some(lab) = Lab::new("open_outside_a_runtime_is_an_error") else {
        return;
    };
    let result = lab
        .a
        .run(|| VrrpSocket::open("va", Family::Ipv4, Membership::Multicast).err());
    assert!(
        matches!(result, Some(baton_net::Error::NoRuntime { .. })),
        "{result:?}"
    );
}

/// The IP headers on the wire are keepalived's: TOS / traffic class 0xc0, TTL / hop limit 255,
/// protocol 112, to the multicast MAC of the group (checked against keepalived 2.2.7 captures).
#[test]
fn wire_format_matches_keepalived() {
    let Some(lab) = Lab::new("wire_format_matches_keepalived") else {
        return;
    };
    let sniffer = capture(&lab.b);
    let (v4, v6) = lab.run(|_, _| async move {
        let v4 = VrrpSocket::open("va", Family::Ipv4, Membership::Multicast).unwrap();
        let v6 = VrrpSocket::open("va", Family::Ipv6, Membership::Multicast).unwrap();
        let src_v6 = baton_net::primary_address("va", Family::Ipv6).unwrap();
        let payload_v4 = advert("10.99.0.100", ip(A_V4), ip(GROUP_V4));
        let payload_v6 = advert("fd00:99::100", src_v6, ip(GROUP_V6));
        v4.send(ip(A_V4), ip(GROUP_V4), &payload_v4).await.unwrap();
        v6.send(src_v6, ip(GROUP_V6), &payload_v6).await.unwrap();
        (payload_v4, payload_v6)
    });

    let frame = first_frame(&sniffer, |f| {
        f.len() > 34 && f[12..14] == [0x08, 0x00] && f[23] == 112
    });
    assert_eq!(
        frame[0..6],
        [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12],
        "MAC of 224.0.0.18"
    );
    let header = &frame[14..34];
    assert_eq!(header[0], 0x45, "IPv4, no options");
    assert_eq!(header[1], 0xc0, "TOS: network control");
    assert_eq!(header[8], 255, "TTL");
    assert_eq!(header[16..20], [224, 0, 0, 18]);
    assert_eq!(frame[34..], v4[..]);

    let frame = first_frame(&sniffer, |f| {
        f.len() > 54 && f[12..14] == [0x86, 0xdd] && f[20] == 112
    });
    assert_eq!(
        frame[0..6],
        [0x33, 0x33, 0x00, 0x00, 0x00, 0x12],
        "MAC of ff02::12"
    );
    let header = &frame[14..54];
    let traffic_class = (u16::from_be_bytes([header[0], header[1]]) >> 4) as u8;
    assert_eq!(header[0] >> 4, 6);
    assert_eq!(traffic_class, 0xc0, "traffic class: network control");
    assert_eq!(header[7], 255, "hop limit");
    assert_eq!(frame[54..], v6[..]);
}
