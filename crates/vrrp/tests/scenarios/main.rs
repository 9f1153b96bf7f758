//! Scenario tests: several VRRP engines on a simulated LAN with virtual time.
//! Each scenario asserts exact outcomes: who is master, and at which instant it became so.

mod sim;

mod drops;
mod election;
mod failover;
mod hostile;
mod keepalived_options;
mod loss;
mod lower_priority_garp;
mod maintenance;
mod output;
mod partition;
mod preempt;
mod reload;
mod sync_group;
mod tracking;
mod versions;

use std::net::IpAddr;
use std::time::Duration;

use baton_vrrp::{
    Advertisement, Centiseconds, InstanceConfig, Priority, Version, VersionFields, Vrid,
};

pub(crate) const INSTANCE: &str = "VI_1";
pub(crate) const VIP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 3, 100));

/// The guide's LAN: load balancers at 10.0.3.x.
pub(crate) fn lan_address(last: u8) -> IpAddr {
    IpAddr::from([10, 0, 3, last])
}

/// VRID 1 on eth0 with VIP 10.0.3.100, advert interval 1 s, preempt on: the guide's setup.
pub(crate) fn router(version: Version, last: u8, priority: u8) -> InstanceConfig {
    let vrid = Vrid::new(1).expect("non-zero");
    let mut config = InstanceConfig::new(
        INSTANCE,
        "eth0",
        vrid,
        version,
        lan_address(last),
        vec![VIP],
    );
    config.priority = Priority::new(priority);
    config
}

pub(crate) fn v3(last: u8, priority: u8) -> InstanceConfig {
    router(Version::V3, last, priority)
}

pub(crate) fn v2(last: u8, priority: u8) -> InstanceConfig {
    router(Version::V2, last, priority)
}

/// A VRRPv3 advert of the guide's instance (VRID 1, the VIP, 1 s) at `priority`.
pub(crate) fn advert(priority: u8) -> Advertisement {
    Advertisement {
        vrid: Vrid::new(1).expect("non-zero"),
        priority: Priority::new(priority),
        addresses: vec![VIP],
        fields: VersionFields::V3 {
            max_interval: Centiseconds::new(100).expect("valid"),
        },
    }
}

pub(crate) fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

pub(crate) fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

/// RFC 5798 §6.1 Skew_Time for VRRPv3: ((256 - Priority) * Master_Adver_Interval) / 256.
pub(crate) fn v3_skew(priority: u32, interval: Duration) -> Duration {
    interval * (256 - priority) / 256
}

/// RFC 3768 §6.1 Skew_Time for VRRPv2: (256 - Priority) / 256 seconds, whatever the interval.
pub(crate) fn v2_skew(priority: u32) -> Duration {
    secs(1) * (256 - priority) / 256
}

/// Master_Down_Interval, both versions: 3 * interval + Skew_Time.
pub(crate) fn master_down(interval: Duration, skew: Duration) -> Duration {
    interval * 3 + skew
}
