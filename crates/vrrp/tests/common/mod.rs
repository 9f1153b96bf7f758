//! Helpers shared by the codec test files: an independent RFC 1071 implementation, so the
//! tests do not lean on the crate's own checksum code.
// Each test binary uses a different subset.
#![allow(dead_code)]

use std::net::IpAddr;

/// RFC 1071 Internet checksum of `bytes`.
pub(crate) fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// RFC 1071 over an optional RFC 5798 §5.2.8 pseudo-header and `message`.
pub(crate) fn checksum(message: &[u8], pseudo_header: Option<(IpAddr, IpAddr)>) -> u16 {
    let mut bytes = Vec::new();
    match pseudo_header {
        None => {}
        Some((IpAddr::V4(src), IpAddr::V4(dst))) => {
            bytes.extend_from_slice(&src.octets());
            bytes.extend_from_slice(&dst.octets());
            bytes.extend_from_slice(&[0, 112]);
            bytes.extend_from_slice(&(message.len() as u16).to_be_bytes());
        }
        Some((IpAddr::V6(src), IpAddr::V6(dst))) => {
            bytes.extend_from_slice(&src.octets());
            bytes.extend_from_slice(&dst.octets());
            bytes.extend_from_slice(&(message.len() as u32).to_be_bytes());
            bytes.extend_from_slice(&[0, 0, 0, 112]);
        }
        Some(_) => panic!("mixed pseudo-header"),
    }
    bytes.extend_from_slice(message);
    internet_checksum(&bytes)
}
