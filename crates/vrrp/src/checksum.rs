//! The Internet checksum (RFC 1071) as VRRP uses it.
//!
//! VRRPv2 sums the VRRP message alone (RFC 3768 §5.3.8). VRRPv3 prepends the IPv4 or IPv6
//! pseudo-header (RFC 5798 §5.2.8), except that keepalived's `v3_checksum_as_v2` (and some
//! vendors) leave the pseudo-header out for IPv4.

use std::net::IpAddr;

/// IANA protocol number of VRRP, used in the pseudo-header.
pub(crate) const IP_PROTO_VRRP: u8 = 112;

/// One's-complement accumulator over 16-bit big-endian words. The carries are folded back
/// in once, at the end (RFC 1071 §2 (B): the sum is independent of when they are added):
/// a 64-bit accumulator cannot overflow on any message that fits in memory. For the same
/// reason two words can be added as one 32-bit word (2^16 is 1 modulo 0xffff), which
/// halves the additions.
#[derive(Debug, Default)]
struct Sum(u64);

impl Sum {
    /// `bytes` starts on a 16-bit word boundary; an odd last byte is padded with zero.
    fn add_bytes(&mut self, bytes: &[u8]) {
        let mut pairs = bytes.chunks_exact(4);
        for pair in &mut pairs {
            self.0 += u64::from(u32::from_be_bytes([pair[0], pair[1], pair[2], pair[3]]));
        }
        match *pairs.remainder() {
            [a, b, c] => self.0 += u64::from(u32::from_be_bytes([a, b, c, 0])),
            [a, b] => self.add_word(u16::from_be_bytes([a, b])),
            [a] => self.add_word(u16::from_be_bytes([a, 0])),
            _ => {}
        }
    }

    fn add_word(&mut self, word: u16) {
        self.0 += u64::from(word);
    }

    fn finish(self) -> u16 {
        let mut sum = self.0;
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }
}

/// Which bytes the checksum covers. Only matters for VRRPv3 over IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumMode {
    /// As the RFCs say: v2 over the message, v3 with the pseudo-header.
    #[default]
    Standard,
    /// keepalived's `v3_checksum_as_v2`: v3 over IPv4 without the pseudo-header. On receive
    /// both forms are accepted, as keepalived does with the option set.
    V3AsV2,
    /// keepalived before 1.3.6 (and later ones with `old_unicast_checksum`): v3 over IPv4
    /// with the pseudo-header's destination set to this multicast group (keepalived's
    /// `vrrp_mcast_group4`) whatever the packet's destination, also on unicast.
    PseudoHeaderGroup(std::net::Ipv4Addr),
}

impl ChecksumMode {
    /// The pseudo-header of a v3 message from `src` to `dst`; `None` when the sum leaves
    /// it out.
    pub(crate) fn v3_pseudo_header(self, src: IpAddr, dst: IpAddr) -> Option<(IpAddr, IpAddr)> {
        match (self, src, dst) {
            (ChecksumMode::V3AsV2, IpAddr::V4(_), _) => None,
            (ChecksumMode::PseudoHeaderGroup(group), IpAddr::V4(_), IpAddr::V4(_)) => {
                Some((src, IpAddr::V4(group)))
            }
            _ => Some((src, dst)),
        }
    }
}

/// The checksum of `message` (whose checksum field must already be zero or be included
/// as-is when verifying), optionally with the pseudo-header for `src` -> `dst`.
pub(crate) fn compute(message: &[u8], pseudo_header: Option<(IpAddr, IpAddr)>) -> u16 {
    let mut sum = Sum::default();
    if let Some((src, dst)) = pseudo_header {
        add_pseudo_header(&mut sum, src, dst, message.len());
    }
    sum.add_bytes(message);
    sum.finish()
}

/// [`compute`] of `message` with the bytes of `field` (which starts at an even offset)
/// taken as zero: the checksum a message should carry, without copying it to clear its own.
pub(crate) fn compute_zeroed(
    message: &[u8],
    field: std::ops::Range<usize>,
    pseudo_header: Option<(IpAddr, IpAddr)>,
) -> u16 {
    debug_assert!(
        field.start % 2 == 0,
        "an odd offset would shift the words after it"
    );
    let mut sum = Sum::default();
    if let Some((src, dst)) = pseudo_header {
        add_pseudo_header(&mut sum, src, dst, message.len());
    }
    sum.add_bytes(message.get(..field.start).unwrap_or(message));
    sum.add_bytes(message.get(field.end..).unwrap_or(&[]));
    sum.finish()
}

fn add_pseudo_header(sum: &mut Sum, src: IpAddr, dst: IpAddr, length: usize) {
    match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            // RFC 768-style: src, dst, zero, protocol, 16-bit length.
            sum.add_bytes(&src.octets());
            sum.add_bytes(&dst.octets());
            sum.add_word(u16::from(IP_PROTO_VRRP));
            sum.add_word(length as u16);
        }
        (src, dst) => {
            // RFC 8200 §8.1: src, dst, 32-bit length, three zero bytes, next header.
            // A mixed pair cannot come off the wire; treat it as IPv6-mapped so the function
            // stays total rather than panicking.
            sum.add_bytes(&to_v6_octets(src));
            sum.add_bytes(&to_v6_octets(dst));
            sum.add_bytes(&(length as u32).to_be_bytes());
            sum.add_word(u16::from(IP_PROTO_VRRP));
        }
    }
}

fn to_v6_octets(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 sums 00 01 f2 03 f4 f5 f6 f7 to 0xddf2; the checksum is its complement.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(compute(&bytes, None), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(compute(&[0x12], None), compute(&[0x12, 0x00], None));
    }

    #[test]
    fn message_with_its_checksum_sums_to_zero() {
        let mut bytes = vec![
            0x31, 0x01, 0x64, 0x01, 0x00, 0x64, 0x00, 0x00, 10, 0, 3, 100,
        ];
        let src = IpAddr::from([10, 0, 3, 5]);
        let dst = IpAddr::from([224, 0, 0, 18]);
        let sum = compute(&bytes, Some((src, dst)));
        bytes[6..8].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(compute(&bytes, Some((src, dst))), 0);
    }

    #[test]
    fn zeroed_field_sums_as_a_zeroed_copy() {
        let message = [
            0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0xab, 0xcd, 10, 0, 3, 100, 7,
        ];
        let pair = Some((IpAddr::from([10, 0, 3, 5]), IpAddr::from([224, 0, 0, 18])));
        let mut zeroed = message;
        zeroed[6..8].fill(0);
        for pseudo_header in [None, pair] {
            assert_eq!(
                compute_zeroed(&message, 6..8, pseudo_header),
                compute(&zeroed, pseudo_header)
            );
        }
    }
}
