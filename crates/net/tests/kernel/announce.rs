//! Gratuitous ARP and unsolicited neighbour advertisements, captured in the peer namespace
//! with an AF_PACKET socket and compared byte for byte.

use std::net::{Ipv4Addr, Ipv6Addr};

use baton_net::Addresses;

use crate::lab::{Lab, capture, first_frame};

#[test]
fn gratuitous_arp_reaches_the_peer() {
    let Some(lab) = Lab::new("gratuitous_arp_reaches_the_peer") else {
        return;
    };
    let sniffer = capture(&lab.b);
    let vip = Ipv4Addr::new(10, 99, 0, 100);
    let mac = lab.run(move |_, _| async move {
        baton_net::send_gratuitous_arp("va", vip).await.unwrap();
        baton_net::mac_address("va").unwrap()
    });
    let frame = first_frame(&sniffer, |frame| {
        frame.len() >= 42 && frame[12..14] == [0x08, 0x06]
    });
    let mut expected = vec![0xff; 6];
    expected.extend_from_slice(&mac);
    expected.extend_from_slice(&[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01]);
    expected.extend_from_slice(&mac);
    expected.extend_from_slice(&vip.octets());
    expected.extend_from_slice(&[0xff; 6]);
    expected.extend_from_slice(&vip.octets());
    assert_eq!(frame, expected);

    // The peer learned the VIP's MAC from it? Linux only updates existing entries from
    // gratuitous ARP (arp_accept=0), so the frame itself is what is checked.
}

/// Checks the frame is an unsolicited NA for `target` from `mac`, and returns its flags byte.
fn check_na(frame: &[u8], mac: [u8; 6], target: Ipv6Addr) -> u8 {
    assert_eq!(frame.len(), 14 + 40 + 32, "{frame:02x?}");
    assert_eq!(
        frame[0..6],
        [0x33, 0x33, 0, 0, 0, 1],
        "Ethernet destination for ff02::1"
    );
    assert_eq!(frame[6..12], mac, "Ethernet source");
    let ip = &frame[14..54];
    assert_eq!(ip[0] >> 4, 6);
    assert_eq!(u16::from_be_bytes([ip[4], ip[5]]), 32, "payload length");
    assert_eq!(ip[6], 58, "next header ICMPv6");
    assert_eq!(ip[7], 255, "hop limit");
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[8..24]).unwrap());
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[24..40]).unwrap());
    assert_eq!(src, target, "sent from the VIP itself, as keepalived does");
    assert_eq!(dst, "ff02::1".parse::<Ipv6Addr>().unwrap());
    let icmp = &frame[54..];
    assert_eq!(icmp[0..2], [136, 0], "type 136 code 0");
    assert_eq!(icmp[4] & 0x60, 0x20, "Override set, Solicited clear");
    assert_eq!(icmp[5..8], [0, 0, 0]);
    assert_eq!(icmp[8..24], target.octets());
    assert_eq!(icmp[24..26], [2, 1], "target link-layer address option");
    assert_eq!(icmp[26..32], mac);
    assert_eq!(
        checksum(src, dst, icmp),
        0,
        "kernel-computed ICMPv6 checksum verifies"
    );
    icmp[4]
}

/// RFC 4443 §2.3: the one's complement sum over pseudo-header and message, 0 when valid.
fn checksum(src: Ipv6Addr, dst: Ipv6Addr, message: &[u8]) -> u16 {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&src.octets());
    bytes.extend_from_slice(&dst.octets());
    bytes.extend_from_slice(&(message.len() as u32).to_be_bytes());
    bytes.extend_from_slice(&[0, 0, 0, 58]);
    bytes.extend_from_slice(message);
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], pair[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn is_na_for(frame: &[u8], target: Ipv6Addr) -> bool {
    frame.len() >= 14 + 40 + 24
        && frame[12..14] == [0x86, 0xdd]
        && frame[14 + 6] == 58
        && frame[54] == 136
        && frame[54 + 8..54 + 24] == target.octets()
}

#[test]
fn unsolicited_na_reaches_the_peer() {
    let Some(lab) = Lab::new("unsolicited_na_reaches_the_peer") else {
        return;
    };
    let sniffer = capture(&lab.b);
    let vip: Ipv6Addr = "fd00:99::100".parse().unwrap();
    let mac = lab.run(move |_, _| async move {
        // As the daemon does it: the VIP first, then the announcement.
        Addresses::new()
            .unwrap()
            .add("va", vip.into(), 64, None)
            .await
            .unwrap();
        baton_net::send_unsolicited_na("va", vip).await.unwrap();
        baton_net::mac_address("va").unwrap()
    });
    let frame = first_frame(&sniffer, |frame| is_na_for(frame, vip));
    assert_eq!(
        check_na(&frame, mac, vip) & 0x80,
        0,
        "Router clear: forwarding is off"
    );

    // With IPv6 forwarding on for the interface, the Router flag is set (keepalived too).
    lab.a.sysctl("net/ipv6/conf/va/forwarding", "1");
    lab.run(move |_, _| async move { baton_net::send_unsolicited_na("va", vip).await.unwrap() });
    let frame = first_frame(&sniffer, |frame| {
        is_na_for(frame, vip) && frame[58] & 0x80 != 0
    });
    assert_eq!(check_na(&frame, mac, vip), 0xa0);
}

/// RFC 5798 §5.2.9: an IPv6 virtual router's first address is link-local; its NA must come
/// from it too, which needs the interface as scope.
#[test]
fn unsolicited_na_for_a_link_local_vip() {
    let Some(lab) = Lab::new("unsolicited_na_for_a_link_local_vip") else {
        return;
    };
    let sniffer = capture(&lab.b);
    let vip: Ipv6Addr = "fe80::100".parse().unwrap();
    let mac = lab.run(move |_, _| async move {
        Addresses::new()
            .unwrap()
            .add("va", vip.into(), 64, None)
            .await
            .unwrap();
        baton_net::send_unsolicited_na("va", vip).await.unwrap();
        baton_net::mac_address("va").unwrap()
    });
    let frame = first_frame(&sniffer, |frame| is_na_for(frame, vip));
    check_na(&frame, mac, vip);
}
