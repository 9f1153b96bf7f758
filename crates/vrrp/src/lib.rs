//! A sans-IO VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798 / RFC 9568) engine.
//!
//! This crate does no I/O and reads no clock. It is deterministic: the same inputs at the same
//! instants give the same outputs. A driver (the `baton` daemon, or a simulated LAN in tests)
//! feeds it received packets, timer expiries and tracked-object changes, each with `now`, and
//! after each input pulls what to do:
//!
//! - [`Router::poll_transmit`]: advertisements to send (TTL 255, payload ready);
//! - [`Router::poll_action`]: add or remove virtual addresses, send gratuitous ARP / NA;
//! - [`Router::poll_event`]: state changes with their reason, for logs and notify scripts;
//! - [`Router::poll_timeout`]: when to call [`Router::handle_timeout`] next.
//!
//! The wire codec ([`Advertisement::decode`] / [`Advertisement::emit`]) is usable on its own.

mod checksum;
mod instance;
mod packet;
mod router;
mod units;

pub use checksum::ChecksumMode;
pub use instance::{
    AnnounceConfig, ConfigError, DEFAULT_DOWN_TIMER_ADVERTS, DOWN_TIMER_ADVERTS, DropReason, Event,
    Instance, InstanceConfig, Peers, Reason, State, Stats, TrackConfig, TrackStatus, Transmit,
    VRRP_MULTICAST_V4, VRRP_MULTICAST_V6, VRRP_TTL, VipAction,
};
pub use packet::{Advertisement, Auth, DecodeError, EncodeError, Password, VersionFields};
pub use router::{Dropped, InstanceId, Received, Router, SyncGroupConfig};
pub use units::{Centiseconds, Priority, Seconds, Version, Vrid};
