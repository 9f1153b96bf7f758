//! keepalived's options for how an instance takes part in the election beyond the RFCs:
//! `lower_prio_no_advert`, `higher_prio_send_advert`, `down_timer_adverts` (each with a
//! global `vrrp_` default), `unicast_ttl` and `mcast_dst_ip`. Both front ends fill an
//! [`ElectionDraft`] (their values read by `fields`); [`ElectionDraft::resolve`] applies
//! the defaults and keepalived's checks.

use std::net::IpAddr;

use baton_vrrp::{DEFAULT_DOWN_TIMER_ADVERTS, InstanceConfig};

use crate::diagnostic::{At, Diagnostics};

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
    /// `vrrp_mcast_group4` / `vrrp_mcast_group6`, in [`crate::Global::election`] only: the
    /// default `mcast_dst_ip` of IPv4 / IPv6 instances (already resolved into theirs).
    pub mcast_group4: Option<IpAddr>,
    pub mcast_group6: Option<IpAddr>,
}

impl Default for ElectionOptions {
    fn default() -> Self {
        ElectionOptions {
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            down_timer_adverts: DEFAULT_DOWN_TIMER_ADVERTS,
            unicast_ttl: None,
            mcast_dst_ip: None,
            mcast_group4: None,
            mcast_group6: None,
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
    /// Global only.
    pub(crate) mcast_group4: Option<IpAddr>,
    pub(crate) mcast_group6: Option<IpAddr>,
}

impl ElectionDraft {
    /// The global `vrrp_*` defaults (unicast_ttl and mcast_dst_ip are per instance only).
    pub(crate) fn defaults(&self) -> ElectionOptions {
        let base = ElectionOptions::default();
        ElectionOptions {
            lower_prio_no_advert: self.lower_prio_no_advert.unwrap_or(false),
            higher_prio_send_advert: self.higher_prio_send_advert.unwrap_or(false),
            down_timer_adverts: self.down_timer_adverts.unwrap_or(base.down_timer_adverts),
            mcast_group4: self.mcast_group4,
            mcast_group6: self.mcast_group6,
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
            mcast_dst_ip: self.mcast_dst_ip.map(|g| g.value).or(if ipv6 {
                defaults.mcast_group6
            } else {
                defaults.mcast_group4
            }),
            mcast_group4: None,
            mcast_group6: None,
        }
    }
}
