//! keepalived's options for how an instance takes part in the election beyond the RFCs:
//! `lower_prio_no_advert`, `higher_prio_send_advert`, `down_timer_adverts` (each with a
//! global `vrrp_` default), `unicast_ttl` and `mcast_dst_ip`. Both front ends fill an
//! [`ElectionDraft`]; [`ElectionDraft::resolve`] applies the defaults and keepalived's checks.

use std::net::IpAddr;

use baton_vrrp::{DEFAULT_DOWN_TIMER_ADVERTS, DOWN_TIMER_ADVERTS, InstanceConfig};

use crate::diagnostic::{At, Diagnostics, Location};
use crate::values::in_range;

/// What an instance does beyond the RFCs; the defaults are the RFCs' (and keepalived's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElectionOptions {
    /// A Master does not answer a lower-priority advert.
    pub lower_prio_no_advert: bool,
    /// A Master sends one advert before it steps down for a better router.
    pub higher_prio_send_advert: bool,
    /// Master_Down_Interval in advert intervals (1..=100, default 3), plus skew.
    pub down_timer_adverts: u32,
    /// TTL / hop limit of adverts to unicast peers; `None`: 255.
    pub unicast_ttl: Option<u8>,
    /// The multicast group adverts go to; `None`: 224.0.0.18 / ff02::12.
    pub mcast_dst_ip: Option<IpAddr>,
}

impl Default for ElectionOptions {
    fn default() -> Self {
        ElectionOptions {
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            down_timer_adverts: DEFAULT_DOWN_TIMER_ADVERTS,
            unicast_ttl: None,
            mcast_dst_ip: None,
        }
    }
}

impl ElectionOptions {
    pub(crate) fn apply(&self, config: &mut InstanceConfig) {
        config.lower_priority_no_advert = self.lower_prio_no_advert;
        config.higher_priority_send_advert = self.higher_prio_send_advert;
        config.down_timer_adverts = self.down_timer_adverts;
        config.unicast_ttl = self.unicast_ttl.unwrap_or(baton_vrrp::VRRP_TTL);
        config.multicast_destination = self.mcast_dst_ip;
    }
}

/// What a front end read; `None` is "not written".
#[derive(Debug, Default, Clone)]
pub(crate) struct ElectionDraft {
    pub(crate) lower_prio_no_advert: Option<bool>,
    pub(crate) higher_prio_send_advert: Option<bool>,
    pub(crate) down_timer_adverts: Option<u32>,
    pub(crate) unicast_ttl: Option<At<u8>>,
    pub(crate) mcast_dst_ip: Option<At<IpAddr>>,
}

impl ElectionDraft {
    /// The global `vrrp_*` defaults (unicast_ttl and mcast_dst_ip are per instance only).
    pub(crate) fn defaults(&self) -> ElectionOptions {
        let base = ElectionOptions::default();
        ElectionOptions {
            lower_prio_no_advert: self.lower_prio_no_advert.unwrap_or(false),
            higher_prio_send_advert: self.higher_prio_send_advert.unwrap_or(false),
            down_timer_adverts: self.down_timer_adverts.unwrap_or(base.down_timer_adverts),
            ..base
        }
    }

    /// An instance's settings over the global defaults, with keepalived's checks:
    /// `unicast_ttl` needs unicast peers, `mcast_dst_ip` multicast and the instance's family.
    pub(crate) fn resolve(
        self,
        defaults: &ElectionOptions,
        (name, unicast, ipv6): (&str, bool, bool),
        d: &mut Diagnostics,
    ) -> ElectionOptions {
        if let Some(ttl) = &self.unicast_ttl {
            if !unicast {
                // keepalived: "Cannot use unicast_ttl without unicast peers" (an error for
                // keepalived -t).
                d.error(
                    &ttl.at,
                    format!("instance {name}: unicast_ttl needs unicast_peer (multicast adverts are sent with TTL 255)"),
                );
            }
        }
        if let Some(group) = &self.mcast_dst_ip {
            if group.value.is_ipv6() != ipv6 {
                d.error(
                    &group.at,
                    format!(
                        "instance {name}: mcast_dst_ip {} is not of the instance's address family",
                        group.value
                    ),
                );
            }
        }
        ElectionOptions {
            lower_prio_no_advert: self
                .lower_prio_no_advert
                .unwrap_or(defaults.lower_prio_no_advert),
            higher_prio_send_advert: self
                .higher_prio_send_advert
                .unwrap_or(defaults.higher_prio_send_advert),
            down_timer_adverts: self
                .down_timer_adverts
                .unwrap_or(defaults.down_timer_adverts),
            unicast_ttl: self.unicast_ttl.filter(|_| unicast).map(|t| t.value),
            mcast_dst_ip: self.mcast_dst_ip.map(|g| g.value),
        }
    }
}

/// `down_timer_adverts` / `vrrp_down_timer_adverts`: keepalived reads 1..=100.
pub(crate) fn down_timer_adverts(what: &str, value: i64) -> Result<u32, String> {
    let (low, high) = (DOWN_TIMER_ADVERTS.start(), DOWN_TIMER_ADVERTS.end());
    in_range(what, value, i64::from(*low), i64::from(*high)).map(|v| v as u32)
}

/// `unicast_ttl`: keepalived reads 0..=255.
pub(crate) fn unicast_ttl(value: i64) -> Result<u8, String> {
    in_range("unicast_ttl", value, 0, 255).map(|v| v as u8)
}

/// `mcast_dst_ip`: an IPv4 multicast address, or an IPv6 link-local multicast one (ff02::/16),
/// as keepalived's `vrrp_mcast_dstip_handler` checks.
pub(crate) fn mcast_dst_ip(text: &str, at: Location) -> Result<At<IpAddr>, String> {
    let group = crate::values::parse_ip(text).map_err(|e| format!("mcast_dst_ip: {e}"))?;
    let fits = match group {
        IpAddr::V4(v4) => v4.is_multicast(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xff0f == 0xff02,
    };
    if fits {
        Ok(At::new(group, at))
    } else {
        Err(format!(
            "mcast_dst_ip {group} is not a multicast address (IPv6: link-local, ff02::/16)"
        ))
    }
}
