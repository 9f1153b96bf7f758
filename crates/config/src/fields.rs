//! Ranges and units of individual settings, as keepalived's parser checks them
//! (`vrrp_parser.c`), shared so both front ends accept and refuse the same values with the
//! same words.

use std::time::Duration;

use baton_vrrp::{Version, Vrid};

use crate::values::in_range;

/// keepalived: `read_int_strvec(..., -253, 253)` for scripts and interfaces.
pub(crate) const TRACK_WEIGHT: i64 = 253;
/// keepalived.conf(5): `track_file` entries of an instance take `weight <-254..254>`.
pub(crate) const TRACK_FILE_REF_WEIGHT: i64 = 254;
/// keepalived.conf(5): a `track_file` block takes `weight <-2147483647..2147483647>`.
pub(crate) const TRACK_FILE_WEIGHT: i64 = i32::MAX as i64;
/// keepalived.conf(5): `preempt_delay` "Range: 0 (default) to 1000".
const MAX_PREEMPT_DELAY: Duration = Duration::from_secs(1000);

pub(crate) fn vrid(value: i64) -> Result<Vrid, String> {
    in_range("virtual_router_id", value, 1, 255)
        .map(|v| Vrid::new(v as u8).expect("range excludes 0"))
}

pub(crate) fn priority(value: i64) -> Result<u8, String> {
    in_range("priority", value, 1, 255).map(|v| v as u8)
}

pub(crate) fn version(what: &str, value: i64) -> Result<Version, String> {
    match value {
        2 => Ok(Version::V2),
        3 => Ok(Version::V3),
        _ => Err(format!("{what} must be 2 or 3, not {value}")),
    }
}

pub(crate) fn weight(what: &str, value: i64, max: i64) -> Result<i32, String> {
    in_range(what, value, -max, max).map(|v| v as i32)
}

/// `rise`, `fall`, GARP repeat counts: 1 or more.
pub(crate) fn count(what: &str, value: i64) -> Result<u32, String> {
    in_range(what, value, 1, i64::from(i32::MAX)).map(|v| v as u32)
}

/// `garp_lower_prio_delay`: keepalived keeps it in microseconds in 32 bits, so whole
/// seconds up to 4294; 0 is no second burst.
pub(crate) fn lower_prio_delay(what: &str, value: i64) -> Result<u32, String> {
    in_range(what, value, 0, i64::from(u32::MAX / 1_000_000)).map(|v| v as u32)
}

/// `garp_lower_prio_repeat`: 0 (no announcement at all) up to `INT_MAX`.
pub(crate) fn lower_prio_repeat(what: &str, value: i64) -> Result<u32, String> {
    in_range(what, value, 0, i64::from(i32::MAX)).map(|v| v as u32)
}

/// GARP delays and refresh periods: whole seconds, 0 meaning "none".
pub(crate) fn garp_seconds(what: &str, value: i64) -> Result<u32, String> {
    in_range(what, value, 0, 86_400).map(|v| v as u32)
}

pub(crate) fn preempt_delay(value: Duration) -> Result<Duration, String> {
    if value > MAX_PREEMPT_DELAY {
        Err(format!(
            "preempt_delay {} is out of range 0..=1000 seconds",
            crate::validate::seconds(value)
        ))
    } else {
        Ok(value)
    }
}

/// `vrrp_garp_interval` / `vrrp_gna_interval`: keepalived keeps them in a 32-bit count of
/// microseconds.
pub(crate) fn announce_interval(what: &str, value: Duration) -> Result<Duration, String> {
    if value.as_micros() > u128::from(u32::MAX) {
        Err(format!(
            "{what} {} is more than 4294.967295 seconds",
            crate::validate::seconds(value)
        ))
    } else {
        Ok(value)
    }
}

/// Script `interval` and `timeout`: more than nothing.
pub(crate) fn script_period(what: &str, value: Duration) -> Result<Duration, String> {
    if value.is_zero() {
        Err(format!("{what} must be more than 0 seconds"))
    } else {
        Ok(value)
    }
}

/// `auth_type`: PASS is VRRPv2's simple password; AH will never be.
pub(crate) fn auth_type(value: &str) -> Result<(), String> {
    match value {
        "PASS" => Ok(()),
        "AH" => Err(
            "auth_type AH (IPsec AH) is not supported and never will be: RFC 3768 \
             removed it from VRRP in 2004 and implementations disagree on it; use auth_type \
             PASS or no authentication"
                .into(),
        ),
        other => Err(format!("auth_type '{other}': expected PASS")),
    }
}

pub(crate) fn state(value: &str) -> Result<crate::model::InitialState, String> {
    use crate::model::InitialState;
    match value {
        "MASTER" => Ok(InitialState::Master),
        "BACKUP" => Ok(InitialState::Backup),
        other => Err(format!(
            "state '{other}': expected MASTER or BACKUP (upper case, as keepalived)"
        )),
    }
}

/// `down_timer_adverts` / `vrrp_down_timer_adverts`: keepalived reads 1..=100.
pub(crate) fn down_timer_adverts(what: &str, value: i64) -> Result<u32, String> {
    let (low, high) = (
        baton_vrrp::DOWN_TIMER_ADVERTS.start(),
        baton_vrrp::DOWN_TIMER_ADVERTS.end(),
    );
    in_range(what, value, i64::from(*low), i64::from(*high)).map(|v| v as u32)
}

/// `unicast_ttl`: keepalived reads 0..=255.
pub(crate) fn unicast_ttl(value: i64) -> Result<u8, String> {
    in_range("unicast_ttl", value, 0, 255).map(|v| v as u8)
}

/// A `unicast_peer` entry's options after its address: `min_ttl N` and `max_ttl N`
/// (0..=255, in any order), the TTLs accepted from that peer; keepalived's defaults 0 and
/// 255.
pub(crate) fn unicast_peer_ttl(args: &[String]) -> Result<std::ops::RangeInclusive<u8>, String> {
    let (mut min, mut max) = (0, u8::MAX);
    for pair in args.chunks(2) {
        let [option, value] = pair else {
            return Err(format!("{} is missing a value", pair[0]));
        };
        let value = crate::values::parse_integer(value)
            .and_then(|v| in_range(option, v, 0, 255))
            .map(|v| v as u8)?;
        match option.as_str() {
            "min_ttl" => min = value,
            "max_ttl" => max = value,
            _ => return Err(format!("unknown option '{option}'")),
        }
    }
    if min > max {
        return Err(format!(
            "min_ttl {min} > max_ttl {max}: every advert would be discarded"
        ));
    }
    Ok(min..=max)
}

/// `vrrp_mcast_group4` / `vrrp_mcast_group6`: a multicast address of that family (any
/// scope: keepalived only warns about an IPv6 group that is not link-local).
pub(crate) fn mcast_group(what: &str, text: &str, ipv6: bool) -> Result<std::net::IpAddr, String> {
    let group = crate::values::parse_ip(text).map_err(|e| format!("{what}: {e}"))?;
    if group.is_ipv6() != ipv6 {
        let family = if ipv6 { "IPv6" } else { "IPv4" };
        return Err(format!("{what} {group} is not {family}"));
    }
    if !group.is_multicast() {
        return Err(format!("{what} {group} is not multicast"));
    }
    Ok(group)
}

/// IPv4 multicast, or IPv6 multicast of link-local scope (ff02::/16 and its flag variants).
pub(crate) fn link_local_multicast(group: std::net::IpAddr) -> bool {
    match group {
        std::net::IpAddr::V4(v4) => v4.is_multicast(),
        std::net::IpAddr::V6(v6) => v6.segments()[0] & 0xff0f == 0xff02,
    }
}

/// `mcast_dst_ip`: an IPv4 multicast address, or an IPv6 link-local multicast one (ff02::/16),
/// as keepalived's `vrrp_mcast_dstip_handler` checks.
pub(crate) fn mcast_dst_ip(
    text: &str,
    at: crate::diagnostic::Location,
) -> Result<crate::diagnostic::At<std::net::IpAddr>, String> {
    let group = crate::values::parse_ip(text).map_err(|e| format!("mcast_dst_ip: {e}"))?;
    if link_local_multicast(group) {
        Ok(crate::diagnostic::At::new(group, at))
    } else {
        Err(format!(
            "mcast_dst_ip {group} is not a multicast address (IPv6: link-local, ff02::/16)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_match_keepalived() {
        assert!(vrid(0).is_err());
        assert_eq!(vrid(255).map(Vrid::get), Ok(255));
        assert_eq!(
            priority(0),
            Err("priority 0 is out of range 1..=255".into())
        );
        assert_eq!(priority(255), Ok(255));
        assert!(priority(256).is_err());
        assert!(weight("weight", 254, TRACK_WEIGHT).is_err());
        assert_eq!(weight("weight", -254, TRACK_FILE_REF_WEIGHT), Ok(-254));
        assert!(count("rise", 0).is_err());
        assert!(version("version", 1).is_err());
        assert!(preempt_delay(Duration::from_secs(1001)).is_err());
        assert!(auth_type("AH").expect_err("never").contains("never"));
        assert!(state("master").is_err());
    }
}
