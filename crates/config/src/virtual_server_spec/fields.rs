//! Values of the LVS family as keepalived's `check_parser.c` and the checkers read them,
//! shared so that keepalived.conf and baton.toml accept and refuse the same words.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;

use crate::basics::Family;
use crate::values::{in_range, parse_integer, parse_ip};
use crate::virtual_server::{DnsType, HttpVersion, L4Protocol, LbAlgo, LbKind, ServiceMatch};

/// keepalived's `IPVS_WEIGHT_LIMIT` (INT32_MAX): real server and FILE_CHECK weights.
pub(crate) const MAX_WEIGHT: i64 = i32::MAX as i64;
/// keepalived's `LVS_MAX_TIMEOUT`: 31 days of persistence at most.
pub(crate) const MAX_PERSISTENCE: i64 = 86_400 * 31;
/// keepalived.conf(5): "persistence_timeout [<INTEGER>] ... default 6 minutes".
pub(crate) const DEFAULT_PERSISTENCE: u64 = 360;

/// Why TUN is refused wherever it is written.
pub(crate) const TUN_REFUSED: &str = "TUN is not supported and will not be: IP-in-IP \
     (and GUE, GRE) forwarding needs a tunnel device per real server, and nf_tables cannot \
     encapsulate packets; use NAT, or DR with the real servers on this host's network";

/// `protocol`: keepalived compares without case.
pub(crate) fn protocol(text: &str) -> Result<L4Protocol, String> {
    match text.to_ascii_uppercase().as_str() {
        "TCP" => Ok(L4Protocol::Tcp),
        "UDP" => Ok(L4Protocol::Udp),
        "SCTP" => Ok(L4Protocol::Sctp),
        _ => Err(format!("protocol '{text}': expected TCP, UDP or SCTP")),
    }
}

/// `lb_algo` / `lvs_sched`: the names IPVS's schedulers have.
pub(crate) fn lb_algo(text: &str) -> Result<LbAlgo, String> {
    let all = [
        LbAlgo::Rr,
        LbAlgo::Wrr,
        LbAlgo::Lc,
        LbAlgo::Wlc,
        LbAlgo::Lblc,
        LbAlgo::Sh,
        LbAlgo::Mh,
        LbAlgo::Dh,
        LbAlgo::Fo,
        LbAlgo::Ovf,
        LbAlgo::Lblcr,
        LbAlgo::Sed,
        LbAlgo::Nq,
        LbAlgo::Twos,
    ];
    all.into_iter().find(|a| a.as_str() == text).ok_or_else(|| {
        format!(
            "lb_algo '{text}': expected rr, wrr, lc, wlc, lblc, lblcr, sh, dh, mh, sed, nq, fo, \
             ovf or twos"
        )
    })
}

/// `lb_kind` / `lvs_method` / `sorry_server_lvs_method`, its first word (tunnel options
/// follow TUN only, which is refused).
pub(crate) fn lb_kind(text: &str) -> Result<LbKind, String> {
    match text {
        "NAT" => Ok(LbKind::Nat),
        "DR" => Ok(LbKind::Dr),
        "TUN" => Err(TUN_REFUSED.into()),
        other => Err(format!(
            "lvs_method '{other}': expected NAT or DR (upper case, as keepalived)"
        )),
    }
}

/// `ip_family inet|inet6`.
pub(crate) fn ip_family(text: &str) -> Result<Family, String> {
    match text {
        "inet" => Ok(Family::Ipv4),
        "inet6" => Ok(Family::Ipv6),
        other => Err(format!("ip_family '{other}': expected inet or inet6")),
    }
}

/// A port written after an address: keepalived takes 0 (or none) as "no port".
pub(crate) fn port(what: &str, text: &str) -> Result<u16, String> {
    in_range(what, parse_integer(text)?, 0, 65_535).map(|p| p as u16)
}

/// `connect_port`, `bind_port`: 1..=65535.
pub(crate) fn nonzero_port(what: &str, value: i64) -> Result<u16, String> {
    in_range(what, value, 1, 65_535).map(|p| p as u16)
}

/// `fwmark N` of a service or group (keepalived: 0..=UINT32_MAX), and a checker's
/// `fwmark`.
pub(crate) fn fwmark(value: i64) -> Result<u32, String> {
    in_range("fwmark", value, 0, i64::from(u32::MAX)).map(|m| m as u32)
}

/// A real server's `weight`: keepalived's 0..=IPVS_WEIGHT_LIMIT.
pub(crate) fn weight(value: i64) -> Result<u32, String> {
    in_range("weight", value, 0, MAX_WEIGHT).map(|w| w as u32)
}

/// A virtual server's `weight`, the default of its real servers: 1..=IPVS_WEIGHT_LIMIT.
pub(crate) fn default_weight(value: i64) -> Result<u32, String> {
    in_range("weight", value, 1, MAX_WEIGHT).map(|w| w as u32)
}

/// `quorum` (1..), `hysteresis`, `uthreshold`, `lthreshold` (0..), `retry` (per `min`).
pub(crate) fn unsigned(what: &str, value: i64, min: i64) -> Result<u32, String> {
    in_range(what, value, min, i64::from(u32::MAX)).map(|v| v as u32)
}

/// `persistence_timeout`: 1 second to 31 days.
pub(crate) fn persistence_timeout(value: i64) -> Result<u32, String> {
    in_range("persistence_timeout", value, 1, MAX_PERSISTENCE).map(|v| v as u32)
}

/// `persistence_granularity`: an IPv4 netmask (`255.255.255.0`) or a prefix length. The
/// family is checked against the service's when it is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Granularity {
    pub(crate) prefix: u8,
    /// Written as an IPv4 netmask.
    pub(crate) netmask: bool,
}

pub(crate) fn granularity(text: &str) -> Result<Granularity, String> {
    if text.contains('.') {
        let mask: Ipv4Addr = text
            .parse()
            .map_err(|_| format!("persistence_granularity '{text}' is not a netmask"))?;
        let bits = u32::from(mask);
        // nf_tables could mask with any bits, but the model keeps a prefix: a netmask with
        // holes is almost certainly a typo.
        if bits.leading_ones() + bits.trailing_zeros() != 32 || bits == 0 {
            return Err(format!(
                "persistence_granularity '{text}' is not a contiguous netmask"
            ));
        }
        return Ok(Granularity {
            prefix: bits.leading_ones() as u8,
            netmask: true,
        });
    }
    let prefix = in_range("persistence_granularity", parse_integer(text)?, 1, 128)?;
    Ok(Granularity {
        prefix: prefix as u8,
        netmask: false,
    })
}

/// `http_protocol`.
pub(crate) fn http_protocol(text: &str) -> Result<HttpVersion, String> {
    match text {
        "1.0" => Ok(HttpVersion::Http10),
        "1.0C" | "1.0c" => Ok(HttpVersion::Http10Close),
        "1.1" => Ok(HttpVersion::Http11),
        other => Err(format!(
            "http_protocol '{other}': expected 1.0, 1.0C or 1.1"
        )),
    }
}

/// One `status_code` word: `200` or `200-299`, within 100..=599.
pub(crate) fn status_code(text: &str) -> Result<RangeInclusive<u16>, String> {
    let (low, high) = text.split_once('-').unwrap_or((text, text));
    let code = |s: &str| s.parse::<u16>().ok().filter(|c| (100..=599).contains(c));
    match (code(low), code(high)) {
        (Some(low), Some(high)) if low <= high => Ok(low..=high),
        _ => Err(format!(
            "status_code '{text}': expected a status like 200 or a range like 200-299, within \
             100..=599"
        )),
    }
}

/// `digest`: 32 hexadecimal digits (an MD5), kept in lower case.
pub(crate) fn digest(text: &str) -> Result<String, String> {
    if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "digest '{text}' must be 32 hexadecimal digits (the MD5 genhash prints)"
        ));
    }
    Ok(text.to_ascii_lowercase())
}

/// A url `path`: goes into the request line as it is.
pub(crate) fn url_path(text: &str) -> Result<String, String> {
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "path '{text}' must not be empty or contain spaces; percent-encode them"
        ));
    }
    Ok(text.to_owned())
}

/// DNS_CHECK's `type`, as keepalived's `DNS_TYPE` table spells them.
pub(crate) fn dns_type(text: &str) -> Result<DnsType, String> {
    Ok(match text {
        "A" => DnsType::A,
        "NS" => DnsType::Ns,
        "CNAME" => DnsType::Cname,
        "SOA" => DnsType::Soa,
        "MX" => DnsType::Mx,
        "TXT" => DnsType::Txt,
        "AAAA" => DnsType::Aaaa,
        "RRSIG" => DnsType::Rrsig,
        "DNSKEY" => DnsType::Dnskey,
        other => {
            return Err(format!(
                "type '{other}': expected A, NS, CNAME, SOA, MX, TXT, AAAA, RRSIG or DNSKEY"
            ));
        }
    })
}

/// DNS_CHECK's `name`: no empty label (keepalived refuses `a..b` and `.a`).
pub(crate) fn dns_name(text: &str) -> Result<String, String> {
    if (text.starts_with('.') && text != ".") || text.contains("..") {
        return Err(format!("name '{text}' has an empty label"));
    }
    Ok(text.to_owned())
}

/// keepalived's `read_hex_str`: hexadecimal digits, spaces between bytes allowed (a lone
/// digit before a space is one byte). With `mask`, `x` / `X` is a nibble to ignore; the
/// mask returned has those bits set, and is empty when there are none.
pub(crate) fn hex(text: &str, mask: bool) -> Result<(Vec<u8>, Vec<u8>), String> {
    let bad = || {
        if mask {
            format!("'{text}' is not a hex string (digits, spaces, and x for a nibble to ignore)")
        } else {
            format!("'{text}' is not a hex string")
        }
    };
    let nibble = |c: char| -> Option<(u8, u8)> {
        match c {
            'x' | 'X' if mask => Some((0, 0x0f)),
            _ => c.to_digit(16).map(|d| (d as u8, 0)),
        }
    };
    let (mut bytes, mut masks) = (Vec::new(), Vec::new());
    for word in text.split([' ', '\t']).filter(|w| !w.is_empty()) {
        let chars: Vec<char> = word.chars().collect();
        for pair in chars.chunks(2) {
            let (high, high_mask) = nibble(pair[0]).ok_or_else(bad)?;
            let (byte, byte_mask) = match pair.get(1) {
                Some(&c) => {
                    let (low, low_mask) = nibble(c).ok_or_else(bad)?;
                    (high << 4 | low, high_mask << 4 | low_mask)
                }
                None => (high, high_mask),
            };
            bytes.push(byte);
            masks.push(byte_mask);
        }
    }
    if bytes.is_empty() {
        return Err(bad());
    }
    if masks.iter().all(|m| *m == 0) {
        masks.clear();
    }
    Ok((bytes, masks))
}

/// An address range of a `virtual_server_group`: `10.0.3.1-20` (last component),
/// `10.0.3.250-10.0.4.10`, `10.0.3.0/29`, and their IPv6 forms (the range end in hex, of
/// the last 16 bits), as keepalived's `alloc_vsg_entry` reads them. A plain address is a
/// range of one.
pub(crate) fn address_range(text: &str) -> Result<(IpAddr, IpAddr), String> {
    if let Some((address, prefix)) = text.split_once('/') {
        let first = parse_ip(address)?;
        let bits = if first.is_ipv6() { 128 } else { 32 };
        let prefix = prefix
            .parse::<u32>()
            .ok()
            .filter(|p| (1..=bits).contains(p))
            .ok_or_else(|| format!("'{text}': the prefix length must be 1..={bits}"))?;
        let host = u128::MAX.checked_shr(prefix + 128 - bits).unwrap_or(0);
        let value = ip_value(first);
        if value & host != 0 {
            return Err(format!(
                "'{text}': the address has bits set beyond the prefix (write the network address)"
            ));
        }
        return Ok((first, ip_from(first, value | host)));
    }
    let Some((start, end)) = text.split_once('-') else {
        return parse_ip(text).map(|ip| (ip, ip));
    };
    let first = parse_ip(start)?;
    let last = match (first, end.parse::<IpAddr>()) {
        (_, Ok(last)) if last.is_ipv6() == first.is_ipv6() => last,
        (_, Ok(_)) => return Err(format!("'{text}': the two ends are of different families")),
        (IpAddr::V4(v4), Err(_)) => {
            let end: u8 = end
                .parse()
                .map_err(|_| format!("'{text}': the range end must be 0..=255"))?;
            let o = v4.octets();
            IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], end))
        }
        (IpAddr::V6(v6), Err(_)) => {
            let end = u16::from_str_radix(end, 16)
                .map_err(|_| format!("'{text}': the range end must be hex 0..=ffff"))?;
            let mut s = v6.segments();
            s[7] = end;
            IpAddr::V6(Ipv6Addr::from(s))
        }
    };
    if ip_value(last) <= ip_value(first) {
        return Err(format!(
            "'{text}': the range end must be greater than its start"
        ));
    }
    Ok((first, last))
}

fn ip_value(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn ip_from(like: IpAddr, value: u128) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(value as u32)),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(value)),
    }
}

/// A group entry's address part and port as a [`ServiceMatch`]: a range of one is an
/// address.
pub(crate) fn group_match(range: &str, port: u16) -> Result<ServiceMatch, String> {
    let (first, last) = address_range(range)?;
    Ok(if first == last {
        ServiceMatch::Address(SocketAddr::new(first, port))
    } else {
        ServiceMatch::Range { first, last, port }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("literal")
    }

    #[test]
    fn ranges_read_as_keepalived_writes_them() {
        assert_eq!(
            address_range("10.0.3.1-20"),
            Ok((ip("10.0.3.1"), ip("10.0.3.20")))
        );
        assert_eq!(
            address_range("10.0.3.250-10.0.4.10"),
            Ok((ip("10.0.3.250"), ip("10.0.4.10")))
        );
        assert_eq!(
            address_range("10.0.3.8/29"),
            Ok((ip("10.0.3.8"), ip("10.0.3.15")))
        );
        assert_eq!(
            address_range("2001:db8::1-ff"),
            Ok((ip("2001:db8::1"), ip("2001:db8::ff")))
        );
        assert_eq!(
            address_range("2001:db8::/126"),
            Ok((ip("2001:db8::"), ip("2001:db8::3")))
        );
        assert!(address_range("10.0.3.9/29").is_err());
        assert!(address_range("10.0.3.20-1").is_err());
        assert!(address_range("10.0.3.1-256").is_err());
        assert!(address_range("10.0.3.1-2001:db8::1").is_err());
        assert_eq!(
            address_range("10.0.3.1"),
            Ok((ip("10.0.3.1"), ip("10.0.3.1")))
        );
    }

    #[test]
    fn hex_strings_as_read_hex_str() {
        assert_eq!(
            hex("Ab12f 3 456 546443123", false),
            Ok((
                vec![
                    0xab, 0x12, 0x0f, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03
                ],
                vec![]
            ))
        );
        assert_eq!(hex("1x", true), Ok((vec![0x10], vec![0x0f])));
        assert!(hex("1x", false).is_err());
        assert!(hex("", false).is_err());
    }

    #[test]
    fn granularity_is_a_contiguous_netmask_or_a_prefix() {
        assert_eq!(
            granularity("255.255.255.0"),
            Ok(Granularity {
                prefix: 24,
                netmask: true
            })
        );
        assert!(granularity("255.0.255.0").is_err());
        assert_eq!(granularity("64").map(|g| g.prefix), Ok(64));
        assert!(granularity("129").is_err());
    }

    #[test]
    fn values_match_keepalived() {
        assert_eq!(protocol("tcp"), Ok(L4Protocol::Tcp));
        assert_eq!(lb_algo("twos"), Ok(LbAlgo::Twos));
        assert!(lb_algo("WRR").is_err());
        assert!(lb_kind("TUN").expect_err("refused").contains("nf_tables"));
        assert_eq!(status_code("200-299"), Ok(200..=299));
        assert!(status_code("600").is_err());
        assert!(digest("640205b7b0fc66c1ea91c463fac6334").is_err());
        assert!(dns_name("a..b").is_err());
        assert_eq!(dns_type("SOA"), Ok(DnsType::Soa));
        assert_eq!(http_protocol("1.0C"), Ok(HttpVersion::Http10Close));
    }
}
