//! VRRP advertisements on the wire, VRRPv2 (RFC 3768 §5.1) and VRRPv3 (RFC 5798 §5.1).
//!
//! The codec knows the IP header only through the source and destination addresses the caller
//! passes in: they give the address family and feed the v3 pseudo-header checksum. TTL checks
//! belong to the state machine, which gets the TTL with each received packet.
//!
//! VRRPv2 (RFC 3768 §5.1), IPv4 only:
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Auth Type   |   Adver Int   |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         IP Address (1)                        |
//! |                            .....                              |
//! |                         IP Address (n)                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     Authentication Data (1)                   |
//! |                     Authentication Data (2)                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! VRRPv3 (RFC 5798 §5.1), IPv4 or IPv6 addresses after the header, no authentication:
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |(rsvd) |     Max Adver Int     |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       IPvX Address(es)                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

mod decode;
mod encode;
mod error;
mod view;

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::units::{Centiseconds, Priority, Seconds, Version, Vrid};

pub use error::{DecodeError, EncodeError};
pub(crate) use view::{Addresses, AdvertRef};

/// Byte offsets and sizes shared by the decoder and the encoder.
mod field {
    pub(super) const HEADER_LEN: usize = 8;
    pub(super) const V2_AUTH_DATA_LEN: usize = 8;
    pub(super) const CHECKSUM: std::ops::Range<usize> = 6..8;
    /// The only packet type either version defines (RFC 5798 §5.2.2).
    pub(super) const TYPE_ADVERTISEMENT: u8 = 1;
    pub(super) const AUTH_NONE: u8 = 0;
    pub(super) const AUTH_SIMPLE_TEXT: u8 = 1;
}

/// One VRRP ADVERTISEMENT, either version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertisement {
    pub vrid: Vrid,
    pub priority: Priority,
    /// The virtual addresses; all IPv4 or all IPv6, matching the IP header.
    pub addresses: Vec<IpAddr>,
    pub fields: VersionFields,
}

/// What differs between the versions, so a v2 packet cannot carry centiseconds or a v3 one
/// a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionFields {
    V2 { interval: Seconds, auth: Auth },
    V3 { max_interval: Centiseconds },
}

/// VRRPv2 authentication (RFC 3768 §5.3.6; type 2, IP AH, was removed by RFC 3768).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Auth {
    #[default]
    None,
    /// keepalived's `auth_type PASS`: up to 8 bytes of clear text, zero padded.
    SimpleText(Password),
}

/// An 8-byte, zero-padded VRRPv2 simple-text password.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Password([u8; 8]);

impl Password {
    /// keepalived keeps the first 8 bytes of a longer `auth_pass`; so do we, so that both
    /// sides of a mixed pair agree on the bytes sent.
    pub fn new(text: &str) -> Password {
        let mut bytes = [0; 8];
        let len = text.len().min(8);
        bytes[..len].copy_from_slice(&text.as_bytes()[..len]);
        Password(bytes)
    }

    pub fn from_bytes(bytes: [u8; 8]) -> Password {
        Password(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret into logs; its length is enough to debug a mismatch.
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(8);
        write!(f, "Password(<{len} bytes>)")
    }
}

impl Advertisement {
    pub fn version(&self) -> Version {
        self.fields.version()
    }

    /// The advertised interval as a duration, whichever unit the version uses.
    pub fn interval(&self) -> Duration {
        self.fields.interval()
    }

    /// Authentication carried by the packet; always [`Auth::None`] for v3.
    pub fn auth(&self) -> Auth {
        match self.fields {
            VersionFields::V2 { auth, .. } => auth,
            VersionFields::V3 { .. } => Auth::None,
        }
    }
}

impl VersionFields {
    fn version(&self) -> Version {
        match self {
            VersionFields::V2 { .. } => Version::V2,
            VersionFields::V3 { .. } => Version::V3,
        }
    }

    fn interval(&self) -> Duration {
        match *self {
            VersionFields::V2 { interval, .. } => interval.into(),
            VersionFields::V3 { max_interval } => max_interval.into(),
        }
    }
}
