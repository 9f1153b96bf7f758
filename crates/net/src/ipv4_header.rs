//! The IPv4 header that Linux raw sockets hand back with every packet (raw(7): "the IPv4 header
//! is included in the received datagram"). VRRP needs three things from it that no socket option
//! gives as cheaply: the TTL (must be 255, RFC 5798 §7.1), the source and the destination.
//!
//! RFC 791 §3.1:
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version|  IHL  |Type of Service|          Total Length         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Identification        |Flags|      Fragment Offset    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Time to Live |    Protocol   |         Header Checksum       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Source Address                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Destination Address                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Options                    |    Padding    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! Linux, unlike the BSDs, leaves Total Length in network byte order, and reassembles fragments
//! before raw delivery, so the header read here is the one on the wire.

use std::net::Ipv4Addr;
use std::ops::Range;

mod field {
    use std::ops::Range;

    pub(super) const MIN_HEADER_LEN: usize = 20;
    pub(super) const TOTAL_LENGTH: Range<usize> = 2..4;
    pub(super) const TTL: usize = 8;
    pub(super) const PROTOCOL: usize = 9;
    pub(super) const SOURCE: Range<usize> = 12..16;
    pub(super) const DESTINATION: Range<usize> = 16..20;
}

/// What a received IPv4 packet says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ipv4Header {
    pub(crate) src: Ipv4Addr,
    pub(crate) dst: Ipv4Addr,
    pub(crate) ttl: u8,
    pub(crate) protocol: u8,
    /// Where the payload lies in the buffer that was parsed.
    pub(crate) payload: Range<usize>,
}

/// Why bytes are not an IPv4 packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HeaderError {
    #[error("{len} bytes are too few for an IPv4 header")]
    TooShort { len: usize },
    #[error("IP version {version}, expected 4")]
    NotIpv4 { version: u8 },
    #[error("IPv4 header length {header_len} is invalid for a {len}-byte packet")]
    BadHeaderLength { header_len: usize, len: usize },
    #[error("IPv4 total length {total_len} does not fit header {header_len} and {len} bytes read")]
    BadTotalLength {
        total_len: usize,
        header_len: usize,
        len: usize,
    },
}

/// The source address of a packet that was cut short (a truncated read), when at least the
/// fixed header is there and says IPv4.
pub(crate) fn source(packet: &[u8]) -> Option<Ipv4Addr> {
    let header = packet.get(..field::MIN_HEADER_LEN)?;
    let octets: [u8; 4] = header[field::SOURCE].try_into().ok()?;
    (header[0] >> 4 == 4).then(|| Ipv4Addr::from(octets))
}

/// Parses the IPv4 header at the start of `packet`. Checks every length before reading, so no
/// input makes it panic. Bytes past Total Length (there should be none) are not payload.
pub(crate) fn parse(packet: &[u8]) -> Result<Ipv4Header, HeaderError> {
    let len = packet.len();
    if len < field::MIN_HEADER_LEN {
        return Err(HeaderError::TooShort { len });
    }
    let version = packet[0] >> 4;
    if version != 4 {
        return Err(HeaderError::NotIpv4 { version });
    }
    let header_len = usize::from(packet[0] & 0x0f) * 4;
    if header_len < field::MIN_HEADER_LEN || header_len > len {
        return Err(HeaderError::BadHeaderLength { header_len, len });
    }
    let [high, low] = [
        packet[field::TOTAL_LENGTH.start],
        packet[field::TOTAL_LENGTH.end - 1],
    ];
    let total_len = usize::from(u16::from_be_bytes([high, low]));
    if total_len < header_len || total_len > len {
        return Err(HeaderError::BadTotalLength {
            total_len,
            header_len,
            len,
        });
    }
    Ok(Ipv4Header {
        src: ipv4_at(packet, field::SOURCE),
        dst: ipv4_at(packet, field::DESTINATION),
        ttl: packet[field::TTL],
        protocol: packet[field::PROTOCOL],
        payload: header_len..total_len,
    })
}

/// Only called on ranges inside the checked minimum header.
fn ipv4_at(packet: &[u8], range: Range<usize>) -> Ipv4Addr {
    let mut octets = [0; 4];
    octets.copy_from_slice(&packet[range]);
    Ipv4Addr::from(octets)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VRRPv2 advertisement as keepalived sends it: TOS 0xc0, DF, TTL 255, protocol 112,
    /// from 10.0.3.2 to 224.0.0.18, with a 20-byte payload.
    fn advert() -> Vec<u8> {
        let mut packet = vec![
            0x45, 0xc0, 0x00, 0x28, // version 4, IHL 5, TOS 0xc0, total length 40
            0x12, 0x34, 0x40, 0x00, // id, DF
            0xff, 0x70, 0x00, 0x00, // TTL 255, protocol 112, checksum (not checked)
            10, 0, 3, 2, // source
            224, 0, 0, 18, // destination
        ];
        packet.extend_from_slice(&[0x21, 0x33, 0x64, 0x01, 0, 1, 0xaa, 0xbb]);
        packet.extend_from_slice(&[10, 0, 3, 100]);
        packet.extend_from_slice(&[0; 8]);
        packet
    }

    #[test]
    fn parses_a_vrrp_packet() {
        let packet = advert();
        let header = parse(&packet).unwrap();
        assert_eq!(header.src, Ipv4Addr::new(10, 0, 3, 2));
        assert_eq!(header.dst, Ipv4Addr::new(224, 0, 0, 18));
        assert_eq!(header.ttl, 255);
        assert_eq!(header.protocol, 112);
        assert_eq!(header.payload, 20..40);
        assert_eq!(packet[header.payload][0], 0x21);
    }

    #[test]
    fn skips_options() {
        let mut packet = advert();
        // IHL 6: a router-alert option (RFC 2113) before the payload.
        packet[0] = 0x46;
        packet.splice(20..20, [0x94, 0x04, 0x00, 0x00]);
        packet[2..4].copy_from_slice(&44u16.to_be_bytes());
        let header = parse(&packet).unwrap();
        assert_eq!(header.payload, 24..44);
        assert_eq!(packet[header.payload][0], 0x21);
    }

    #[test]
    fn ignores_bytes_past_total_length() {
        let mut packet = advert();
        packet.extend_from_slice(&[0xee; 6]);
        assert_eq!(parse(&packet).unwrap().payload, 20..40);
    }

    #[test]
    fn rejects_short_and_malformed_headers() {
        assert_eq!(parse(&[]), Err(HeaderError::TooShort { len: 0 }));
        assert_eq!(
            parse(&advert()[..19]),
            Err(HeaderError::TooShort { len: 19 })
        );

        let mut v6 = advert();
        v6[0] = 0x65;
        assert_eq!(parse(&v6), Err(HeaderError::NotIpv4 { version: 6 }));

        let mut small_ihl = advert();
        small_ihl[0] = 0x44;
        assert_eq!(
            parse(&small_ihl),
            Err(HeaderError::BadHeaderLength {
                header_len: 16,
                len: 40
            })
        );

        let mut huge_ihl = advert();
        huge_ihl.truncate(24);
        huge_ihl[0] = 0x4f;
        huge_ihl[2..4].copy_from_slice(&24u16.to_be_bytes());
        assert_eq!(
            parse(&huge_ihl),
            Err(HeaderError::BadHeaderLength {
                header_len: 60,
                len: 24
            })
        );

        let mut truncated = advert();
        truncated.truncate(30);
        assert_eq!(
            parse(&truncated),
            Err(HeaderError::BadTotalLength {
                total_len: 40,
                header_len: 20,
                len: 30
            })
        );

        let mut total_inside_header = advert();
        total_inside_header[2..4].copy_from_slice(&10u16.to_be_bytes());
        assert_eq!(
            parse(&total_inside_header),
            Err(HeaderError::BadTotalLength {
                total_len: 10,
                header_len: 20,
                len: 40
            })
        );
    }

    #[test]
    fn empty_payload_is_fine() {
        let mut packet = advert();
        packet.truncate(20);
        packet[2..4].copy_from_slice(&20u16.to_be_bytes());
        assert_eq!(parse(&packet).unwrap().payload, 20..20);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_payload_is_in_bounds(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..80)
        ) {
            if let Ok(header) = parse(&bytes) {
                proptest::prop_assert!(header.payload.start <= header.payload.end);
                proptest::prop_assert!(header.payload.end <= bytes.len());
                proptest::prop_assert!(header.payload.start >= 20);
            }
        }
    }
}
