//! Address ranges written as CIDR (`10.0.0.0/8`, `2001:db8::/32`), for the proxies whose
//! X-Forwarded-For a frontend trusts.

use std::net::IpAddr;
use std::str::FromStr;

/// An address range: an address and how many of its leading bits a match must share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    address: IpAddr,
    prefix_len: u8,
}

/// Why a CIDR did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an address or a CIDR range (such as 10.0.0.0/8 or 2001:db8::/32)")]
pub struct BadCidr(String);

impl Cidr {
    /// The range of `prefix_len` leading bits of `address`; `None` when `prefix_len` is
    /// longer than the address.
    pub fn new(address: IpAddr, prefix_len: u8) -> Option<Cidr> {
        let bits = if address.is_ipv4() { 32 } else { 128 };
        (prefix_len <= bits).then_some(Cidr {
            address,
            prefix_len,
        })
    }

    /// True when `ip` is in the range. An IPv4-mapped IPv6 address (what a dual-stack
    /// listener sees for an IPv4 client) matches as the IPv4 address it carries.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => same_prefix(
                u128::from(net.to_bits()) << 96,
                u128::from(ip.to_bits()) << 96,
                self.prefix_len,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                same_prefix(net.to_bits(), ip.to_bits(), self.prefix_len)
            }
            _ => false,
        }
    }
}

/// True when the first `len` bits of `a` and `b` (left-aligned) agree.
fn same_prefix(a: u128, b: u128, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    a & mask == b & mask
}

impl FromStr for Cidr {
    type Err = BadCidr;

    /// `ADDRESS/LEN`, or a bare address (a range of one).
    fn from_str(text: &str) -> Result<Cidr, BadCidr> {
        let bad = || BadCidr(text.to_owned());
        let (address, len) = match text.split_once('/') {
            Some((address, len)) => (address, Some(len)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().map_err(|_| bad())?;
        let len = match len {
            Some(len) => len.parse().map_err(|_| bad())?,
            None if address.is_ipv4() => 32,
            None => 128,
        };
        Cidr::new(address, len).ok_or_else(bad)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        text.parse().expect("cidr")
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn ranges_match_their_addresses_only() {
        let private = cidr("10.0.0.0/8");
        assert!(private.contains(ip("10.200.1.2")));
        assert!(!private.contains(ip("11.0.0.1")));
        assert!(private.contains(ip("::ffff:10.1.2.3")), "v4-mapped");
        assert!(!private.contains(ip("2001:db8::1")));
        let one = cidr("192.0.2.7");
        assert!(one.contains(ip("192.0.2.7")));
        assert!(!one.contains(ip("192.0.2.8")));
        let v6 = cidr("2001:db8::/32");
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(cidr("0.0.0.0/0").contains(ip("203.0.113.1")));
        assert!(cidr("::/0").contains(ip("::1")));
    }

    #[test]
    fn bad_ranges_are_refused() {
        for text in ["10.0.0.0/33", "::/129", "10.0.0/8", "x", "10.0.0.0/", "/8"] {
            assert!(text.parse::<Cidr>().is_err(), "{text}");
        }
        assert_eq!(cidr("10.0.0.0/8").to_string(), "10.0.0.0/8");
    }
}
