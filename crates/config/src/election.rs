//! keepalived's options for how an instance takes part in the election beyond the RFCs:
//! `lower_prio_no_advert`, `higher_prio_send_advert`, `down_timer_adverts` (each with a
//! global `vrrp_` default), `unicast_ttl` and `mcast_dst_ip`. Both front ends fill an
//! [`ElectionDraft`] (their values read by `fields`); [`ElectionDraft::resolve`] applies
//! the defaults and keepalived's checks.

use std::net::{IpAddr, Ipv4Addr};

use baton_vrrp::{ChecksumMode, DEFAULT_DOWN_TIMER_ADVERTS, InstanceConfig, VRRP_MULTICAST_V4};

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
    /// `old_unicast_checksum`: how VRRPv3 adverts over IPv4 to unicast peers are summed.
    pub old_unicast_checksum: OldUnicastChecksum,
    /// The group the old checksum sums with: `vrrp_mcast_group4`, else 224.0.0.18 (what
    /// `checksum_group` gives for the global defaults).
    pub checksum_group: Ipv4Addr,
    /// `unicast_fault_no_peer` (with no unicast peer): the instance stays in FAULT.
    pub fault_no_peer: bool,
}

/// keepalived's `old_unicast_checksum` (built into Debian's keepalived, OLD_CHKSUM_COMPAT):
/// keepalived before 1.3.6 summed VRRPv3 unicast adverts over IPv4 with the multicast group
/// (`vrrp_mcast_group4`) in the pseudo-header instead of the peer's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OldUnicastChecksum {
    /// keepalived's default: RFC sums, until a unicast peer's advert adds up only the old
    /// way; from then on the old sums, for good.
    #[default]
    Detect,
    /// `old_unicast_checksum never`: RFC sums only.
    Never,
    /// `old_unicast_checksum`: the old sums from the start.
    Always,
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
            old_unicast_checksum: OldUnicastChecksum::Detect,
            checksum_group: VRRP_MULTICAST_V4,
            fault_no_peer: false,
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
        // keepalived sums with `vrrp_mcast_group4`, whatever the instance's mcast_dst_ip.
        let group = self.checksum_group;
        match self.old_unicast_checksum {
            OldUnicastChecksum::Detect => config.detect_old_unicast_checksum = Some(group),
            OldUnicastChecksum::Never => {}
            // v3_checksum_as_v2 leaves the pseudo-header out altogether.
            OldUnicastChecksum::Always if config.checksum_mode == ChecksumMode::Standard => {
                config.checksum_mode = ChecksumMode::PseudoHeaderGroup(group);
            }
            OldUnicastChecksum::Always => {}
        }
        config.config_fault = self.fault_no_peer;
    }

    /// The group of the old unicast checksum: `vrrp_mcast_group4`, else 224.0.0.18.
    fn checksum_group(&self) -> Ipv4Addr {
        match self.mcast_group4 {
            Some(IpAddr::V4(group)) => group,
            _ => VRRP_MULTICAST_V4,
        }
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
    /// Instance only, with where it was written.
    pub(crate) old_unicast_checksum: Option<At<OldUnicastChecksum>>,
    pub(crate) fault_no_peer: bool,
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
        if let Some(old) = self.old_unicast_checksum.as_ref().filter(|_| !unicast) {
            // keepalived 2.2.7 (keepalived -t fails): "A unicast keyword has been specified
            // without any unicast peers. Defaulting to multicast. This usage is deprecated".
            d.error(
                &old.at,
                format!("instance {name}: old_unicast_checksum needs unicast_peer (keepalived: \"A unicast keyword has been specified without any unicast peers\")"),
            );
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
            checksum_group: defaults.checksum_group(),
            old_unicast_checksum: self
                .old_unicast_checksum
                .map_or(OldUnicastChecksum::Detect, |o| o.value),
            // keepalived: with peers it changes nothing.
            fault_no_peer: self.fault_no_peer && !unicast,
        }
    }
}
