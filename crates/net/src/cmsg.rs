//! Ancillary data of a received packet. IPv6 raw sockets do not deliver the IP header
//! (raw(7), ipv6(7)), so the hop limit and the destination come as control messages, asked for
//! with IPV6_RECVHOPLIMIT and IPV6_RECVPKTINFO. Both families ask for SO_RXQ_OVFL (socket(7)):
//! how many packets the kernel dropped so far because the socket's receive queue was full,
//! and SO_TIMESTAMPNS: when the packet arrived (see `Received::arrived`).
//!
//! nix 0.29 decodes IPV6_PKTINFO but not IPV6_HOPLIMIT, so the control buffer is read here, as
//! bytes: a sequence of `struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; }`
//! each followed by its data, every header aligned to `size_t` (CMSG_ALIGN). The caller zeroes
//! the buffer before `recvmsg`, so a `cmsg_len` of 0 marks the end of what the kernel wrote.

use std::net::Ipv6Addr;
use std::time::Duration;

/// `sizeof(size_t)`: both the width of `cmsg_len` and the alignment of each message.
const ALIGN: usize = std::mem::size_of::<usize>();
/// `CMSG_ALIGN(sizeof(struct cmsghdr))`: where the data starts.
const HEADER_LEN: usize = (ALIGN + 4 + 4).div_ceil(ALIGN) * ALIGN;
/// `struct in6_pktinfo { struct in6_addr ipi6_addr; unsigned int ipi6_ifindex; }`
const PKTINFO_LEN: usize = 16 + 4;

/// What the kernel told about a received packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Ancillary {
    pub(crate) hop_limit: Option<u8>,
    pub(crate) dst: Option<Ipv6Addr>,
    pub(crate) ifindex: Option<u32>,
    /// SO_RXQ_OVFL: packets dropped on this socket since it was opened (sent only once the
    /// count is not zero).
    pub(crate) overflow: Option<u32>,
    /// SO_TIMESTAMPNS: when the kernel received the packet, on the realtime clock, since
    /// the epoch.
    pub(crate) arrived: Option<Duration>,
}

/// Reads IPV6_HOPLIMIT, IPV6_PKTINFO, SO_RXQ_OVFL and SCM_TIMESTAMPNS out of a control
/// buffer; skips every other message.
/// Stops at the first header that is zero, short or runs past the buffer, so no input makes it
/// panic or read out of bounds.
pub(crate) fn parse(control: &[u8]) -> Ancillary {
    let mut found = Ancillary::default();
    let mut offset = 0;
    while let Some(header) = control
        .get(offset..)
        .filter(|rest| rest.len() >= HEADER_LEN)
    {
        let len = native_usize(&header[..ALIGN]);
        if len < HEADER_LEN || len > header.len() {
            break;
        }
        let level = native_i32(&header[ALIGN..ALIGN + 4]);
        let kind = native_i32(&header[ALIGN + 4..ALIGN + 8]);
        let data = &header[HEADER_LEN..len];
        match (level, kind) {
            // IP_TTL: an IPv4 packet's TTL (IP_RECVTTL), also on a dual-stack IPv6 socket.
            (libc::IPPROTO_IP, libc::IP_TTL) | (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT)
                if data.len() >= 4 =>
            {
                // An int, -1..=255 by ipv6(7); anything else is not a hop limit.
                found.hop_limit = u8::try_from(native_i32(&data[..4])).ok();
            }
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) if data.len() >= PKTINFO_LEN => {
                let mut octets = [0; 16];
                octets.copy_from_slice(&data[..16]);
                found.dst = Some(Ipv6Addr::from(octets));
                found.ifindex = Some(native_u32(&data[16..20]));
            }
            // struct in_pktinfo { int ipi_ifindex; struct in_addr ipi_spec_dst, ipi_addr; }:
            // the destination as an IPv4-mapped address.
            (libc::IPPROTO_IP, libc::IP_PKTINFO) if data.len() >= 12 => {
                let mut octets = [0; 4];
                octets.copy_from_slice(&data[8..12]);
                found.dst = Some(std::net::Ipv4Addr::from(octets).to_ipv6_mapped());
                found.ifindex = Some(native_u32(&data[..4]));
            }
            (libc::SOL_SOCKET, libc::SO_RXQ_OVFL) if data.len() >= 4 => {
                found.overflow = Some(native_u32(&data[..4]));
            }
            // struct timespec { time_t tv_sec; long tv_nsec; }, both a `long` on Linux.
            (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS) if data.len() >= 2 * LONG => {
                let seconds = u64::try_from(native_long(&data[..LONG])).ok();
                let nanos = u32::try_from(native_long(&data[LONG..2 * LONG])).ok();
                found.arrived = seconds
                    .zip(nanos.filter(|&n| n < 1_000_000_000))
                    .map(|(s, n)| Duration::new(s, n));
            }
            _ => {}
        }
        // The next header starts at CMSG_ALIGN(cmsg_len); past the end means we are done.
        offset += len.div_ceil(ALIGN) * ALIGN;
    }
    found
}

fn native_usize(bytes: &[u8]) -> usize {
    let mut raw = [0; ALIGN];
    raw.copy_from_slice(bytes);
    usize::from_ne_bytes(raw)
}

/// `sizeof(long)`, the width of `time_t` and of a timespec's nanoseconds.
const LONG: usize = std::mem::size_of::<libc::c_long>();

#[allow(
    clippy::useless_conversion,
    reason = "a `long` is an i32 on 32-bit targets"
)]
fn native_long(bytes: &[u8]) -> i64 {
    let mut raw = [0; LONG];
    raw.copy_from_slice(bytes);
    i64::from(libc::c_long::from_ne_bytes(raw))
}

fn native_i32(bytes: &[u8]) -> i32 {
    let mut raw = [0; 4];
    raw.copy_from_slice(bytes);
    i32::from_ne_bytes(raw)
}

fn native_u32(bytes: &[u8]) -> u32 {
    let mut raw = [0; 4];
    raw.copy_from_slice(bytes);
    u32::from_ne_bytes(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lays out one control message the way the kernel's `put_cmsg` does.
    fn cmsg(level: i32, kind: i32, data: &[u8]) -> Vec<u8> {
        let len = HEADER_LEN + data.len();
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&len.to_ne_bytes());
        bytes.extend_from_slice(&level.to_ne_bytes());
        bytes.extend_from_slice(&kind.to_ne_bytes());
        bytes.resize(HEADER_LEN, 0);
        bytes.extend_from_slice(data);
        bytes.resize(len.div_ceil(ALIGN) * ALIGN, 0);
        bytes
    }

    fn pktinfo(dst: Ipv6Addr, ifindex: u32) -> Vec<u8> {
        let mut data = dst.octets().to_vec();
        data.extend_from_slice(&ifindex.to_ne_bytes());
        cmsg(libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, &data)
    }

    fn hop_limit(value: i32) -> Vec<u8> {
        cmsg(
            libc::IPPROTO_IPV6,
            libc::IPV6_HOPLIMIT,
            &value.to_ne_bytes(),
        )
    }

    #[test]
    fn header_layout_matches_libc() {
        assert_eq!(HEADER_LEN, std::mem::size_of::<libc::cmsghdr>());
        assert_eq!(PKTINFO_LEN, std::mem::size_of::<libc::in6_pktinfo>());
    }

    #[test]
    fn reads_pktinfo_and_hop_limit_in_either_order() {
        let dst: Ipv6Addr = "ff02::12".parse().unwrap();
        let expected = Ancillary {
            hop_limit: Some(255),
            dst: Some(dst),
            ifindex: Some(7),
            overflow: None,
            arrived: None,
        };

        let mut buffer = pktinfo(dst, 7);
        buffer.extend(hop_limit(255));
        buffer.resize(128, 0);
        assert_eq!(parse(&buffer), expected);

        let mut buffer = hop_limit(255);
        buffer.extend(pktinfo(dst, 7));
        assert_eq!(parse(&buffer), expected);
    }

    #[test]
    fn skips_unknown_messages() {
        let mut buffer = cmsg(libc::SOL_SOCKET, libc::SCM_TIMESTAMP, &[1; 16]);
        buffer.extend(cmsg(
            libc::IPPROTO_IPV6,
            libc::IPV6_TCLASS,
            &0xc0i32.to_ne_bytes(),
        ));
        buffer.extend(hop_limit(64));
        assert_eq!(parse(&buffer).hop_limit, Some(64));
        assert_eq!(parse(&buffer).dst, None);
    }

    #[test]
    fn reads_the_overflow_count() {
        let mut buffer = cmsg(libc::SOL_SOCKET, libc::SO_RXQ_OVFL, &42u32.to_ne_bytes());
        buffer.extend(hop_limit(255));
        let parsed = parse(&buffer);
        assert_eq!(parsed.overflow, Some(42));
        assert_eq!(parsed.hop_limit, Some(255));
    }

    #[test]
    fn reads_the_arrival_time() {
        let mut data = 1_700_000_000i64.to_ne_bytes().to_vec();
        data.extend_from_slice(&123_456_789i64.to_ne_bytes());
        let mut buffer = cmsg(libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS, &data);
        buffer.extend(hop_limit(255));
        let parsed = parse(&buffer);
        assert_eq!(
            parsed.arrived,
            Some(Duration::new(1_700_000_000, 123_456_789))
        );
        assert_eq!(parsed.hop_limit, Some(255));
        // Nanoseconds out of range, or a time before the epoch: no time rather than a wrong one.
        let mut data = 1i64.to_ne_bytes().to_vec();
        data.extend_from_slice(&1_000_000_000i64.to_ne_bytes());
        let bad = cmsg(libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS, &data);
        assert_eq!(parse(&bad).arrived, None);
        let mut data = (-1i64).to_ne_bytes().to_vec();
        data.extend_from_slice(&0i64.to_ne_bytes());
        let bad = cmsg(libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS, &data);
        assert_eq!(parse(&bad).arrived, None);
    }

    #[test]
    fn missing_messages_are_none() {
        assert_eq!(parse(&[]), Ancillary::default());
        assert_eq!(parse(&[0; 64]), Ancillary::default());
    }

    #[test]
    fn out_of_range_hop_limit_is_none() {
        assert_eq!(parse(&hop_limit(-1)).hop_limit, None);
        assert_eq!(parse(&hop_limit(256)).hop_limit, None);
    }

    #[test]
    fn stops_at_truncated_or_short_messages() {
        let mut buffer = hop_limit(255);
        let mut cut = pktinfo(Ipv6Addr::LOCALHOST, 1);
        cut.truncate(HEADER_LEN + 3);
        buffer.extend(cut);
        let parsed = parse(&buffer);
        assert_eq!(parsed.hop_limit, Some(255));
        assert_eq!(parsed.dst, None);

        // A pktinfo whose cmsg_len is too small to hold the structure is skipped, not read.
        let short = cmsg(libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, &[0xff; 8]);
        assert_eq!(parse(&short).dst, None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn never_panics_on_plausible_headers(
            len in 0usize..200, level: i32, kind: i32, tail in proptest::collection::vec(proptest::num::u8::ANY, 0..64)
        ) {
            let mut bytes = len.to_ne_bytes().to_vec();
            bytes.extend_from_slice(&level.to_ne_bytes());
            bytes.extend_from_slice(&kind.to_ne_bytes());
            bytes.extend(tail);
            let _ = parse(&bytes);
        }
    }
}
