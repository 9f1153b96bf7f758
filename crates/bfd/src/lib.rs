//! A sans-IO BFD engine: RFC 5880 asynchronous mode as RFC 5881 uses it between two
//! directly connected systems, the way keepalived's `bfd_instance` speaks it.
//!
//! This crate does no I/O and reads no clock; randomness (discriminators, jitter) comes in
//! as a seed. A driver feeds each [`Session`] the control packets it received (already
//! decoded with [`ControlPacket::decode`], which applies RFC 5880 6.8.6's checks) and the
//! expiry of its timer, each with `now`, and after each input pulls what to do:
//!
//! - [`Session::poll_transmit`]: control packets to send (to UDP port 3784, TTL 255);
//! - [`Session::poll_event`]: state changes with their diagnostic;
//! - [`Session::poll_timeout`]: when to call [`Session::handle_timeout`] next.
//!
//! Not implemented, as in keepalived: authentication (packets with the A bit are dropped),
//! demand mode (never asked for; a peer's D bit is ignored), the echo function.

mod config;
mod jitter;
mod packet;
mod session;

pub use config::{ConfigError, SessionConfig};
pub use packet::{CONTROL_PACKET_LEN, ControlPacket, DecodeError, Diagnostic, State};
pub use session::{Dropped, Session, StateChange, Stats};

/// RFC 5881 4: the destination port of single-hop control packets.
pub const CONTROL_PORT: u16 = 3784;
/// RFC 5881 4: source ports MUST be in this range.
pub const SOURCE_PORTS: std::ops::RangeInclusive<u16> = 49152..=65535;
/// RFC 5881 5: sent with TTL / hop limit 255, and (GTSM) received only with 255.
pub const TTL: u8 = 255;
