//! Decoding untrusted bytes: never panics, and whatever decodes re-encodes to an equal advert.
//!
//! The first input byte picks the IP header the bytes claimed to arrive with, the rest is the
//! VRRP message (the IP payload):
//!
//! - bits 0-1: address families of (src, dst): v4/v4, v6/v6, and the two mixed pairs, which
//!   cannot come off the wire but must not panic either;
//! - bit 2: checksum mode, `Standard` or `V3AsV2`;
//! - bits 3-4: which of four address pairs (multicast, unicast, unspecified, all-ones);
//! - bit 5: fix the checksum up before decoding. A random mutation almost never keeps the
//!   checksum right, so without this the fuzzer would rarely get past it; the fix uses the
//!   `computed` value of the `BadChecksum` error, which also checks that value is right.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use baton_vrrp::{Advertisement, ChecksumMode, DecodeError, EncodeError};

fn v4_pair(which: u8) -> (IpAddr, IpAddr) {
    let (src, dst) = match which {
        0 => (Ipv4Addr::new(10, 0, 3, 5), Ipv4Addr::new(224, 0, 0, 18)),
        1 => (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2)),
        2 => (Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED),
        _ => (Ipv4Addr::BROADCAST, Ipv4Addr::BROADCAST),
    };
    (src.into(), dst.into())
}

fn v6_pair(which: u8) -> (IpAddr, IpAddr) {
    let (src, dst) = match which {
        0 => (
            Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 5),
            Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12),
        ),
        1 => (
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2),
        ),
        2 => (Ipv6Addr::UNSPECIFIED, Ipv6Addr::UNSPECIFIED),
        _ => (Ipv6Addr::from([0xff; 16]), Ipv6Addr::from([0xff; 16])),
    };
    (src.into(), dst.into())
}

/// One input: panics when a check fails.
pub fn check(data: &[u8]) {
    let Some((&selector, message)) = data.split_first() else {
        return;
    };
    let which = (selector >> 3) & 0b11;
    let (src, dst) = match selector & 0b11 {
        0 => v4_pair(which),
        1 => v6_pair(which),
        2 => (v4_pair(which).0, v6_pair(which).1),
        _ => (v6_pair(which).0, v4_pair(which).1),
    };
    let mode = if selector & 0b100 == 0 {
        ChecksumMode::Standard
    } else {
        ChecksumMode::V3AsV2
    };

    let mut message = message.to_vec();
    let mut decoded = Advertisement::decode(&message, src, dst, mode);
    if selector & 0b10_0000 != 0
        && let Err(DecodeError::BadChecksum { computed, .. }) = decoded
    {
        message[6..8].copy_from_slice(&computed.to_be_bytes());
        decoded = Advertisement::decode(&message, src, dst, mode);
        assert!(
            !matches!(decoded, Err(DecodeError::BadChecksum { .. })),
            "the checksum BadChecksum reported as computed is rejected: {decoded:?}"
        );
    }
    let Ok(advert) = decoded else {
        return;
    };

    if src.is_ipv6() != dst.is_ipv6() {
        assert_eq!(
            advert.emit(src, dst, mode),
            Err(EncodeError::MixedHeaderFamilies {
                vrid: advert.vrid.get()
            })
        );
        return;
    }
    let emitted = advert
        .emit(src, dst, mode)
        .expect("a decoded advert re-encodes");
    assert_eq!(emitted.len(), message.len(), "re-encoded length");
    let again = Advertisement::decode(&emitted, src, dst, mode).expect("re-encoded decodes");
    assert_eq!(again, advert);
}
