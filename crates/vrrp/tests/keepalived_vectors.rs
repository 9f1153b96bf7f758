//! The codec against advertisements sent by a real keepalived.
//!
//! The vectors in `tests/vectors/*.hex` were captured from keepalived 2.2.7 (Debian 12) by
//! `scripts/capture-keepalived-vectors.sh`: it runs keepalived in one throw-away network
//! namespace, tcpdump on the veth peer in another, and stores the first VRRP packet as the
//! whole IP packet in hex (Ethernet header stripped). Each file's `#` header records the
//! keepalived.conf, versions and capture date; re-run the script as root to regenerate them.
//!
//! Each test strips the IP header here (so the codec only ever sees the IP payload, as it does
//! from the raw socket), decodes, checks every field, and re-encodes bit-exact: if baton and
//! keepalived disagree on a single bit, one of them would drop the other's adverts.

mod common;

use common::internet_checksum;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use baton_vrrp::{
    Advertisement, Auth, Centiseconds, ChecksumMode, DecodeError, Password, Priority, Seconds,
    Version, VersionFields, Vrid,
};

const V2_PASS: &str = include_str!("vectors/keepalived-v2-pass.hex");
const V3_IPV4: &str = include_str!("vectors/keepalived-v3-ipv4.hex");
const V3_IPV6: &str = include_str!("vectors/keepalived-v3-ipv6.hex");

/// IANA protocol number of VRRP.
const IP_PROTO_VRRP: u8 = 112;
/// RFC 5798 §5.1.1.3 / §5.1.2.3: sent with TTL / hop limit 255.
const VRRP_TTL: u8 = 255;

/// The bytes of a vector file: `#` lines are comments, the rest is hex, whitespace ignored.
fn parse_hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .flat_map(|line| line.bytes())
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            other => panic!("not a hex digit: {:?}", char::from(other)),
        })
        .collect();
    assert!(digits.len() % 2 == 0, "odd number of hex digits");
    digits
        .chunks_exact(2)
        .map(|pair| pair[0] << 4 | pair[1])
        .collect()
}

/// What the raw socket would hand the daemon: the IP header fields the engine uses, and the
/// VRRP message.
#[derive(Debug)]
struct IpPacket {
    ttl: u8,
    src: IpAddr,
    dst: IpAddr,
    payload: Vec<u8>,
}

fn parse_ip(packet: &[u8]) -> IpPacket {
    match packet[0] >> 4 {
        4 => parse_ipv4(packet),
        6 => parse_ipv6(packet),
        version => panic!("IP version {version}"),
    }
}

fn parse_ipv4(packet: &[u8]) -> IpPacket {
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    assert!(ihl >= 20, "IHL {ihl}");
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    assert_eq!(total, packet.len(), "IPv4 total length");
    assert_eq!(packet[9], IP_PROTO_VRRP, "IPv4 protocol");
    // The header checksum is the kernel's, but a wrong one would mean a corrupt vector.
    assert_eq!(internet_checksum(&packet[..ihl]), 0, "IPv4 header checksum");
    let octets = |at: usize| -> [u8; 4] { packet[at..at + 4].try_into().unwrap() };
    IpPacket {
        ttl: packet[8],
        src: Ipv4Addr::from(octets(12)).into(),
        dst: Ipv4Addr::from(octets(16)).into(),
        payload: packet[ihl..].to_vec(),
    }
}

fn parse_ipv6(packet: &[u8]) -> IpPacket {
    const FIXED_HEADER: usize = 40;
    let payload_len = usize::from(u16::from_be_bytes([packet[4], packet[5]]));
    assert_eq!(
        FIXED_HEADER + payload_len,
        packet.len(),
        "IPv6 payload length"
    );
    // keepalived sends no extension headers, so the VRRP message follows the fixed header.
    assert_eq!(packet[6], IP_PROTO_VRRP, "IPv6 next header");
    let octets = |at: usize| -> [u8; 16] { packet[at..at + 16].try_into().unwrap() };
    IpPacket {
        ttl: packet[7],
        src: Ipv6Addr::from(octets(8)).into(),
        dst: Ipv6Addr::from(octets(24)).into(),
        payload: packet[FIXED_HEADER..].to_vec(),
    }
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn v6(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn checksum_field(payload: &[u8]) -> u16 {
    u16::from_be_bytes([payload[6], payload[7]])
}

/// Decodes `ip`'s payload, asserts it equals `expected`, and re-encodes it bit-exact.
fn assert_vector(ip: &IpPacket, expected: &Advertisement) {
    let decoded = Advertisement::decode(&ip.payload, ip.src, ip.dst, ChecksumMode::Standard)
        .expect("keepalived's advert decodes");
    assert_eq!(&decoded, expected);
    let emitted = decoded
        .emit(ip.src, ip.dst, ChecksumMode::Standard)
        .expect("re-encodes");
    assert_eq!(
        emitted, ip.payload,
        "re-encoded bytes differ from keepalived's"
    );
}

#[test]
fn hex_parser_skips_comments_and_whitespace() {
    assert_eq!(parse_hex("# 0102\n0a Ff\n\n# x\n 10\n"), [0x0a, 0xff, 0x10]);
}

#[test]
fn v2_simple_text_password() {
    let ip = parse_ip(&parse_hex(V2_PASS));
    assert_eq!(ip.ttl, VRRP_TTL);
    assert_eq!(ip.src, v4(10, 0, 3, 5));
    assert_eq!(ip.dst, v4(224, 0, 0, 18));
    assert_eq!(ip.payload.len(), 8 + 2 * 4 + 8);

    let expected = Advertisement {
        vrid: Vrid::new(51).unwrap(),
        priority: Priority::new(150),
        addresses: vec![v4(10, 0, 3, 100), v4(10, 0, 3, 101)],
        fields: VersionFields::V2 {
            interval: Seconds::new(1).unwrap(),
            auth: Auth::SimpleText(Password::new("baton12")),
        },
    };
    assert_vector(&ip, &expected);

    // Spelled out, since Password's Debug hides the text: "baton12" plus one zero pad byte.
    let Auth::SimpleText(password) = expected.auth() else {
        unreachable!()
    };
    assert_eq!(password.as_bytes(), b"baton12\0");
    assert_eq!(&ip.payload[16..], b"baton12\0");
    assert_eq!(expected.version(), Version::V2);
    assert_eq!(expected.interval(), std::time::Duration::from_secs(1));
}

#[test]
fn v3_ipv4() {
    let ip = parse_ip(&parse_hex(V3_IPV4));
    assert_eq!(ip.ttl, VRRP_TTL);
    assert_eq!(ip.src, v4(10, 0, 3, 5));
    assert_eq!(ip.dst, v4(224, 0, 0, 18));
    assert_eq!(ip.payload.len(), 8 + 2 * 4);

    let expected = Advertisement {
        vrid: Vrid::new(52).unwrap(),
        priority: Priority::new(200),
        addresses: vec![v4(10, 0, 3, 100), v4(10, 0, 3, 102)],
        fields: VersionFields::V3 {
            max_interval: Centiseconds::new(50).unwrap(),
        },
    };
    assert_vector(&ip, &expected);
    assert_eq!(expected.interval(), std::time::Duration::from_millis(500));
    assert_eq!(expected.auth(), Auth::None);
}

#[test]
fn v3_ipv6() {
    let ip = parse_ip(&parse_hex(V3_IPV6));
    assert_eq!(ip.ttl, VRRP_TTL, "hop limit");
    assert_eq!(ip.src, v6("fe80::5"));
    assert_eq!(ip.dst, v6("ff02::12"));
    assert_eq!(ip.payload.len(), 8 + 2 * 16);

    let expected = Advertisement {
        vrid: Vrid::new(53).unwrap(),
        priority: Priority::new(100),
        addresses: vec![v6("fe80::53"), v6("2001:db8::100")],
        fields: VersionFields::V3 {
            max_interval: Centiseconds::new(100).unwrap(),
        },
    };
    assert_vector(&ip, &expected);
}

#[test]
fn v3_checksum_covers_the_pseudo_header() {
    let ip = parse_ip(&parse_hex(V3_IPV4));
    // Same bytes, claimed to come from another router: only the pseudo-header changed.
    let wrong_src = v4(10, 0, 3, 6);
    let err = Advertisement::decode(&ip.payload, wrong_src, ip.dst, ChecksumMode::Standard)
        .expect_err("the pseudo-header includes the source address");
    let DecodeError::BadChecksum {
        version,
        vrid,
        received,
        computed,
    } = err
    else {
        panic!("expected BadChecksum, got {err:?}");
    };
    assert_eq!((version, vrid), (Version::V3, 52));
    assert_eq!(received, checksum_field(&ip.payload));
    assert_ne!(computed, received);

    // The same holds for IPv6, and for the destination address.
    let ip6 = parse_ip(&parse_hex(V3_IPV6));
    let err = Advertisement::decode(&ip6.payload, ip6.src, v6("ff02::1"), ChecksumMode::Standard)
        .unwrap_err();
    assert!(
        matches!(err, DecodeError::BadChecksum { vrid: 53, .. }),
        "{err:?}"
    );
}

#[test]
fn v3_checksum_as_v2_over_ipv4() {
    let ip = parse_ip(&parse_hex(V3_IPV4));
    let advert =
        Advertisement::decode(&ip.payload, ip.src, ip.dst, ChecksumMode::Standard).unwrap();

    // keepalived's `v3_checksum_as_v2`: the checksum leaves out the pseudo-header, so only
    // the checksum field differs from the standard packet keepalived sent.
    let as_v2 = advert.emit(ip.src, ip.dst, ChecksumMode::V3AsV2).unwrap();
    assert_ne!(checksum_field(&as_v2), checksum_field(&ip.payload));
    assert_eq!(as_v2[..6], ip.payload[..6]);
    assert_eq!(as_v2[8..], ip.payload[8..]);
    assert_eq!(
        internet_checksum(&as_v2),
        0,
        "sums to zero without a pseudo-header"
    );

    // A standard receiver rejects it; a lenient one takes it, and still takes the standard form.
    let err = Advertisement::decode(&as_v2, ip.src, ip.dst, ChecksumMode::Standard).unwrap_err();
    assert!(
        matches!(err, DecodeError::BadChecksum { vrid: 52, .. }),
        "{err:?}"
    );
    assert_eq!(
        Advertisement::decode(&as_v2, ip.src, ip.dst, ChecksumMode::V3AsV2),
        Ok(advert.clone())
    );
    assert_eq!(
        Advertisement::decode(&ip.payload, ip.src, ip.dst, ChecksumMode::V3AsV2),
        Ok(advert)
    );
}

#[test]
fn checksum_mode_changes_nothing_for_ipv6_or_v2() {
    // The lenient mode only concerns v3 over IPv4 (keepalived has no v2-style v3 checksum for
    // IPv6), and v2 never had a pseudo-header.
    for vector in [V3_IPV6, V2_PASS] {
        let ip = parse_ip(&parse_hex(vector));
        let advert =
            Advertisement::decode(&ip.payload, ip.src, ip.dst, ChecksumMode::V3AsV2).unwrap();
        assert_eq!(
            advert.emit(ip.src, ip.dst, ChecksumMode::V3AsV2).unwrap(),
            ip.payload
        );
    }
}
