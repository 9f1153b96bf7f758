//! Why a packet could not be decoded or encoded. Every variant says which version and VRID it
//! concerns when the bytes got that far, because operators grep logs by VRID.

use crate::units::Version;

/// A received packet that is not a valid VRRP advertisement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("packet of {len} bytes is shorter than the 8-byte VRRP header")]
    TooShort { len: usize },
    #[error("unsupported VRRP version {version} (vrid {vrid})")]
    UnknownVersion { version: u8, vrid: u8 },
    #[error("{version} vrid {vrid}: packet type {kind} is not ADVERTISEMENT (1)")]
    UnknownType {
        version: Version,
        vrid: u8,
        kind: u8,
    },
    #[error("{version}: virtual router id 0 is invalid")]
    ZeroVrid { version: Version },
    #[error("{version} vrid {vrid}: VRRPv2 is IPv4 only, but this came over IPv6")]
    V2OverIpv6 { version: Version, vrid: u8 },
    #[error(
        "{version} vrid {vrid}: {count} addresses make a {expected}-byte message, \
         but the packet has {actual} bytes"
    )]
    LengthMismatch {
        version: Version,
        vrid: u8,
        count: u8,
        expected: usize,
        actual: usize,
    },
    #[error("{version} vrid {vrid}: checksum {received:#06x} is wrong, expected {computed:#06x}")]
    BadChecksum {
        version: Version,
        vrid: u8,
        received: u16,
        computed: u16,
    },
    #[error("{version} vrid {vrid}: advertisement interval is zero")]
    ZeroInterval { version: Version, vrid: u8 },
    #[error(
        "{version} vrid {vrid}: authentication type {auth_type} is not supported \
         (0 = none, 1 = simple text password)"
    )]
    UnsupportedAuthType {
        version: Version,
        vrid: u8,
        auth_type: u8,
    },
}

impl DecodeError {
    /// The VRID the packet claimed, when the header was readable.
    pub fn vrid(&self) -> Option<u8> {
        match *self {
            DecodeError::TooShort { .. } | DecodeError::ZeroVrid { .. } => None,
            DecodeError::UnknownVersion { vrid, .. }
            | DecodeError::UnknownType { vrid, .. }
            | DecodeError::V2OverIpv6 { vrid, .. }
            | DecodeError::LengthMismatch { vrid, .. }
            | DecodeError::BadChecksum { vrid, .. }
            | DecodeError::ZeroInterval { vrid, .. }
            | DecodeError::UnsupportedAuthType { vrid, .. } => Some(vrid),
        }
    }

    /// The version the packet claimed, when it was one we speak.
    pub fn version(&self) -> Option<Version> {
        match *self {
            DecodeError::TooShort { .. } | DecodeError::UnknownVersion { .. } => None,
            DecodeError::UnknownType { version, .. }
            | DecodeError::ZeroVrid { version }
            | DecodeError::V2OverIpv6 { version, .. }
            | DecodeError::LengthMismatch { version, .. }
            | DecodeError::BadChecksum { version, .. }
            | DecodeError::ZeroInterval { version, .. }
            | DecodeError::UnsupportedAuthType { version, .. } => Some(version),
        }
    }
}

/// An advertisement that cannot be put on the wire as built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    #[error("vrid {vrid}: VRRPv2 cannot be sent over IPv6")]
    V2OverIpv6 { vrid: u8 },
    #[error("vrid {vrid}: source and destination addresses are of different families")]
    MixedHeaderFamilies { vrid: u8 },
    #[error("vrid {vrid}: virtual address {address} is not of the packet's address family")]
    AddressFamilyMismatch { vrid: u8, address: std::net::IpAddr },
    #[error("vrid {vrid}: {count} virtual addresses, at most 255 fit in one advertisement")]
    TooManyAddresses { vrid: u8, count: usize },
}
