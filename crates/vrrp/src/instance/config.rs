//! What one virtual router instance is told by its configuration, and the checks that make an
//! instance impossible to build in a state the RFCs forbid.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::RangeInclusive;
use std::time::Duration;

use crate::checksum::ChecksumMode;
use crate::packet::{Auth, VersionFields};
use crate::units::{Centiseconds, Priority, Seconds, Version, Vrid};

/// 224.0.0.18, RFC 5798 §5.1.1.2.
pub const VRRP_MULTICAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// ff02::12, RFC 5798 §5.1.2.2.
pub const VRRP_MULTICAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// Configuration of one virtual router on one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceConfig {
    /// Operator-facing name (keepalived's `vrrp_instance NAME`).
    pub name: String,
    /// Interface the instance runs on; received packets are matched on it.
    pub interface: String,
    pub vrid: Vrid,
    pub version: Version,
    /// Configured priority, 1..=255; 255 makes this router the address owner.
    pub priority: Priority,
    /// Advertisement_Interval: whole seconds for v2, centiseconds for v3.
    pub advert_interval: Duration,
    /// Our primary address on the interface: the source of adverts and the tie-breaker.
    pub primary_address: IpAddr,
    pub virtual_addresses: Vec<IpAddr>,
    pub peers: Peers,
    pub preempt: bool,
    /// After start or leaving FAULT, wait this long before preempting a lower-priority master.
    pub preempt_delay: Duration,
    /// RFC 5798 §6.1 Accept_Mode: a non-owner master accepts packets addressed to the VIPs.
    pub accept_mode: bool,
    /// VRRPv2 only.
    pub auth: Auth,
    pub checksum_mode: ChecksumMode,
    /// Tracked objects (interfaces, scripts, files) in the order the caller numbers them.
    pub tracks: Vec<TrackConfig>,
    pub announce: AnnounceConfig,
    /// keepalived's `skip_check_adv_addr`: adverts from the master already seen are not
    /// checked against our address list (adverts from anyone else still are).
    pub skip_check_advert_addresses: bool,
    /// keepalived's `lower_prio_no_advert`: a Master does not answer a lower-priority
    /// advert with one of its own (RFC 5798 §6.4.3 discards it; baton and keepalived answer
    /// by default so that a rival master steps down at once).
    pub lower_priority_no_advert: bool,
    /// keepalived's `higher_prio_send_advert`: a Master that hears a router that wins the
    /// election sends one advert of its own before it becomes Backup, so a third router that
    /// missed the winner's advert learns of the change.
    pub higher_priority_send_advert: bool,
    /// keepalived's `down_timer_adverts` (1..=100): Master_Down_Interval is this many
    /// Master_Adver_Intervals plus Skew_Time. The RFCs' 3 by default.
    pub down_timer_adverts: u32,
    /// keepalived's `unicast_ttl`: TTL / hop limit of adverts sent to unicast peers (255 by
    /// default; multicast adverts are always sent with 255).
    pub unicast_ttl: u8,
    /// keepalived's `mcast_dst_ip`: the group adverts are sent to, instead of 224.0.0.18 or
    /// ff02::12. The driver must join it.
    pub multicast_destination: Option<IpAddr>,
    /// keepalived's `unicast_peer { ADDRESS min_ttl N max_ttl M }`: the TTLs accepted from
    /// that peer. Peers not listed here are accepted with any TTL, as keepalived does.
    pub unicast_peer_ttl: BTreeMap<IpAddr, RangeInclusive<u8>>,
    /// keepalived's default for VRRPv3 over IPv4 to unicast peers (without
    /// `old_unicast_checksum`): an advert from a peer whose checksum adds up only with this
    /// multicast group in the pseudo-header (keepalived before 1.3.6) switches the instance
    /// to [`ChecksumMode::PseudoHeaderGroup`] for good. `None`: never (`old_unicast_checksum
    /// never`, or the mode is set already).
    pub detect_old_unicast_checksum: Option<Ipv4Addr>,
    /// keepalived's `unicast_fault_no_peer` without any `unicast_peer`: the configuration
    /// leaves the instance nothing to run, so it stays in FAULT (and its sync group with it).
    pub config_fault: bool,
}

/// RFC 5798 §6.1 and RFC 3768 §6.1: Master_Down_Interval is 3 Master_Adver_Intervals plus
/// Skew_Time.
pub const DEFAULT_DOWN_TIMER_ADVERTS: u32 = 3;
/// keepalived's range for `down_timer_adverts`.
pub const DOWN_TIMER_ADVERTS: std::ops::RangeInclusive<u32> = 1..=100;

/// Where adverts go and whom they are accepted from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peers {
    /// 224.0.0.18 or ff02::12; adverts are accepted from anyone on the link.
    Multicast,
    /// keepalived's `unicast_peer`: one copy per peer; only these sources are accepted.
    Unicast(Vec<IpAddr>),
}

/// A tracked object and what it does to the instance (keepalived semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackConfig {
    /// 0: the instance goes to FAULT while the object is down. Positive: added to the priority
    /// while up. Negative: added to the priority while down.
    pub weight: i32,
    /// State assumed until the first report.
    pub initially_up: bool,
}

/// What a tracked object last reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackStatus {
    Up,
    Down,
    /// keepalived's `track_file`: the file's value already multiplied by the weight. It is
    /// added to the priority; at or below -254 it means FAULT.
    Offset(i32),
    /// No verdict yet (a frontend whose servers have not been checked once). While any
    /// tracked object is Unknown the instance may be Backup but never becomes Master, so
    /// that it does not take the VIP on a guess and hand it over a moment later. The driver
    /// bounds the wait by reporting a real status in time. It moves the priority neither
    /// way.
    Unknown,
}

/// What one tracked object does to its instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrackEffect {
    Adjust(i32),
    Fault,
}

impl From<bool> for TrackStatus {
    /// `true` is up.
    fn from(up: bool) -> TrackStatus {
        TrackStatus::from_up(up)
    }
}

impl TrackStatus {
    pub(crate) fn from_up(up: bool) -> TrackStatus {
        if up {
            TrackStatus::Up
        } else {
            TrackStatus::Down
        }
    }

    /// keepalived semantics: weight 0 and down is FAULT; a positive weight counts while up,
    /// a negative one while down.
    pub(crate) fn effect(self, weight: i32) -> TrackEffect {
        match self {
            TrackStatus::Up if weight > 0 => TrackEffect::Adjust(weight),
            TrackStatus::Down if weight == 0 => TrackEffect::Fault,
            TrackStatus::Down if weight < 0 => TrackEffect::Adjust(weight),
            TrackStatus::Up | TrackStatus::Down => TrackEffect::Adjust(0),
            TrackStatus::Offset(offset) if offset <= -254 => TrackEffect::Fault,
            TrackStatus::Offset(offset) => TrackEffect::Adjust(offset),
            TrackStatus::Unknown => TrackEffect::Adjust(0),
        }
    }
}

/// Gratuitous ARP / unsolicited NA schedule after becoming master (keepalived's `garp_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnounceConfig {
    /// `garp_master_repeat`: announcements per burst.
    pub repeat: u32,
    /// `garp_master_delay`: second burst this long after becoming master.
    pub second_burst_delay: Option<Duration>,
    /// `garp_master_refresh`: periodic bursts while master.
    pub refresh: Option<Duration>,
    /// `garp_master_refresh_repeat`.
    pub refresh_repeat: u32,
    /// `garp_lower_prio_repeat`: announcements per burst when a Master hears a lower-priority
    /// advert (0: none).
    pub lower_priority_repeat: u32,
    /// `garp_lower_prio_delay`: a second such burst this long after the first.
    pub lower_priority_delay: Option<Duration>,
}

impl Default for AnnounceConfig {
    /// keepalived's defaults: 5 at once, 5 more after 5 s, no refresh; the same after a
    /// lower-priority advert.
    fn default() -> Self {
        AnnounceConfig {
            repeat: 5,
            second_burst_delay: Some(Duration::from_secs(5)),
            refresh: None,
            refresh_repeat: 1,
            lower_priority_repeat: 5,
            lower_priority_delay: Some(Duration::from_secs(5)),
        }
    }
}

impl InstanceConfig {
    /// A configuration with the RFC / keepalived defaults: priority 100, interval 1 s,
    /// multicast, preempt on, no delay, accept mode off, no auth, no tracking.
    pub fn new(
        name: impl Into<String>,
        interface: impl Into<String>,
        vrid: Vrid,
        version: Version,
        primary_address: IpAddr,
        virtual_addresses: Vec<IpAddr>,
    ) -> InstanceConfig {
        InstanceConfig {
            name: name.into(),
            interface: interface.into(),
            vrid,
            version,
            priority: Priority::DEFAULT,
            advert_interval: Duration::from_secs(1),
            primary_address,
            virtual_addresses,
            peers: Peers::Multicast,
            preempt: true,
            preempt_delay: Duration::ZERO,
            accept_mode: false,
            auth: Auth::None,
            checksum_mode: ChecksumMode::Standard,
            tracks: Vec::new(),
            announce: AnnounceConfig::default(),
            skip_check_advert_addresses: false,
            lower_priority_no_advert: false,
            higher_priority_send_advert: false,
            down_timer_adverts: DEFAULT_DOWN_TIMER_ADVERTS,
            unicast_ttl: crate::instance::VRRP_TTL,
            multicast_destination: None,
            unicast_peer_ttl: BTreeMap::new(),
            detect_old_unicast_checksum: None,
            config_fault: false,
        }
    }

    pub(crate) fn ipv6(&self) -> bool {
        self.primary_address.is_ipv6()
    }

    /// Where multicast adverts go: `mcast_dst_ip`, else the RFC's group.
    pub fn multicast_group(&self) -> IpAddr {
        match self.multicast_destination {
            Some(group) => group,
            None if self.ipv6() => VRRP_MULTICAST_V6.into(),
            None => VRRP_MULTICAST_V4.into(),
        }
    }

    /// Checks everything the RFCs constrain and returns the per-version advert fields.
    pub(crate) fn validate(&self) -> Result<VersionFields, ConfigError> {
        let name = || self.name.clone();
        if self.priority == Priority::STOP {
            return Err(ConfigError::ZeroPriority { name: name() });
        }
        if self.version == Version::V2 && self.ipv6() {
            return Err(ConfigError::V2OverIpv6 { name: name() });
        }
        let family_mismatch = self
            .virtual_addresses
            .iter()
            .chain(match &self.peers {
                Peers::Multicast => [].iter(),
                Peers::Unicast(peers) => peers.iter(),
            })
            .find(|a| a.is_ipv6() != self.ipv6());
        if let Some(&address) = family_mismatch {
            return Err(ConfigError::AddressFamilyMismatch {
                name: name(),
                address,
                primary: self.primary_address,
            });
        }
        if self.virtual_addresses.len() > 255 {
            return Err(ConfigError::TooManyAddresses { name: name() });
        }
        if matches!(self.peers, Peers::Unicast(ref p) if p.is_empty()) {
            return Err(ConfigError::NoUnicastPeers { name: name() });
        }
        if !DOWN_TIMER_ADVERTS.contains(&self.down_timer_adverts) {
            return Err(ConfigError::DownTimerAdverts {
                name: name(),
                adverts: self.down_timer_adverts,
            });
        }
        if let Some(group) = self.multicast_destination {
            let fits = group.is_multicast() && group.is_ipv6() == self.ipv6();
            if !fits {
                return Err(ConfigError::MulticastDestination {
                    name: name(),
                    group,
                });
            }
        }
        let interval = self.advert_interval;
        match self.version {
            Version::V2 => {
                let interval = Seconds::from_duration(interval).ok_or(ConfigError::V2Interval {
                    name: name(),
                    interval,
                })?;
                Ok(VersionFields::V2 {
                    interval,
                    auth: self.auth,
                })
            }
            Version::V3 => {
                if self.auth != Auth::None {
                    return Err(ConfigError::V3Auth { name: name() });
                }
                let max_interval =
                    Centiseconds::from_duration(interval).ok_or(ConfigError::V3Interval {
                        name: name(),
                        interval,
                    })?;
                Ok(VersionFields::V3 { max_interval })
            }
        }
    }
}

/// A configuration the engine refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("instance {name}: priority 0 is reserved for a master that is stopping")]
    ZeroPriority { name: String },
    #[error("instance {name}: VRRPv2 is IPv4 only; use version 3 for IPv6")]
    V2OverIpv6 { name: String },
    #[error(
        "instance {name}: address {address} is not of the same family as the primary \
         address {primary}"
    )]
    AddressFamilyMismatch {
        name: String,
        address: IpAddr,
        primary: IpAddr,
    },
    #[error("instance {name}: more than 255 virtual addresses do not fit in an advertisement")]
    TooManyAddresses { name: String },
    #[error("instance {name}: unicast mode needs at least one peer")]
    NoUnicastPeers { name: String },
    #[error(
        "instance {name}: VRRPv2 advert interval must be whole seconds 1..=255, not {interval:?}"
    )]
    V2Interval { name: String, interval: Duration },
    #[error(
        "instance {name}: VRRPv3 advert interval must be a multiple of 10 ms from 10 ms to \
         40.95 s, not {interval:?}"
    )]
    V3Interval { name: String, interval: Duration },
    #[error("instance {name}: VRRPv3 has no authentication (RFC 5798 §9)")]
    V3Auth { name: String },
    #[error("instance {name}: down_timer_adverts must be 1..=100, not {adverts}")]
    DownTimerAdverts { name: String, adverts: u32 },
    #[error("instance {name}: {group} is not a multicast group of the instance's family")]
    MulticastDestination { name: String, group: IpAddr },
    #[error("instances {first} and {second} use the same VRID, interface and address family")]
    DuplicateVirtualRouter { first: String, second: String },
    #[error("sync group {group}: instance {instance} is unknown or already in another group")]
    SyncGroupMember { group: String, instance: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::Password;

    fn config(version: Version, primary: &str) -> InstanceConfig {
        let primary: IpAddr = primary.parse().expect("literal");
        let vip = if primary.is_ipv6() {
            "2001:db8::1"
        } else {
            "10.0.3.100"
        };
        let vrid = Vrid::new(7).expect("non-zero");
        InstanceConfig::new(
            "VI_7",
            "eth0",
            vrid,
            version,
            primary,
            vec![vip.parse().expect("literal")],
        )
    }

    #[test]
    fn refuses_what_the_rfcs_forbid() {
        let mut c = config(Version::V3, "10.0.3.5");
        c.priority = Priority::STOP;
        assert!(matches!(
            c.validate(),
            Err(ConfigError::ZeroPriority { .. })
        ));

        let c = config(Version::V2, "fe80::5");
        assert!(matches!(c.validate(), Err(ConfigError::V2OverIpv6 { .. })));

        let mut c = config(Version::V3, "10.0.3.5");
        c.virtual_addresses
            .push("2001:db8::1".parse().expect("literal"));
        assert!(matches!(
            c.validate(),
            Err(ConfigError::AddressFamilyMismatch { .. })
        ));

        let mut c = config(Version::V2, "10.0.3.5");
        c.advert_interval = Duration::from_millis(1500);
        assert!(matches!(c.validate(), Err(ConfigError::V2Interval { .. })));

        let mut c = config(Version::V3, "10.0.3.5");
        c.advert_interval = Duration::from_millis(5);
        assert!(matches!(c.validate(), Err(ConfigError::V3Interval { .. })));

        let mut c = config(Version::V3, "10.0.3.5");
        c.auth = Auth::SimpleText(Password::new("secret"));
        assert!(matches!(c.validate(), Err(ConfigError::V3Auth { .. })));

        let mut c = config(Version::V3, "10.0.3.5");
        c.peers = Peers::Unicast(Vec::new());
        assert!(matches!(
            c.validate(),
            Err(ConfigError::NoUnicastPeers { .. })
        ));
    }

    #[test]
    fn accepts_the_smallest_v3_interval_and_names_the_instance_in_errors() {
        let mut c = config(Version::V3, "fe80::5");
        c.advert_interval = Duration::from_millis(10);
        assert!(c.validate().is_ok());
        c.advert_interval = Duration::from_millis(15);
        let message = c
            .validate()
            .expect_err("not a multiple of 10 ms")
            .to_string();
        assert!(
            message.contains("VI_7") && message.contains("15ms"),
            "{message}"
        );
    }
}
