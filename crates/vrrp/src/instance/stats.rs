//! Counters. Every dropped packet is counted by reason: drops double as monitoring data.

use crate::packet::DecodeError;

/// Why a received packet was not acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DropReason {
    /// TTL / hop limit not 255: it came from off-link (RFC 5798 §7.1).
    Ttl,
    /// Shorter than the header, or its length disagrees with its address count.
    Length,
    Checksum,
    /// A version we do not speak, or not the instance's version.
    Version,
    /// Not an ADVERTISEMENT.
    Type,
    /// VRID 0, or no instance for this VRID on this interface and family.
    Vrid,
    /// Authentication type or password differs from ours (VRRPv2).
    Auth,
    /// Interval zero, or (VRRPv2) not the configured interval (RFC 3768 §7.1).
    Interval,
    /// Unicast mode and the source is not a configured peer.
    UnknownPeer,
    /// Our own advertisement looped back.
    FromSelf,
    /// Received while in INIT or FAULT, where adverts are not processed.
    Inactive,
    /// The advertised addresses are not ours: another count, or one of ours missing
    /// (keepalived's `addr_list_err`). Two routers of one VRID that disagree on the VIPs
    /// are misconfigured, and must not elect each other.
    AddressList,
}

impl DropReason {
    pub const ALL: [DropReason; 12] = [
        DropReason::Ttl,
        DropReason::Length,
        DropReason::Checksum,
        DropReason::Version,
        DropReason::Type,
        DropReason::Vrid,
        DropReason::Auth,
        DropReason::Interval,
        DropReason::UnknownPeer,
        DropReason::FromSelf,
        DropReason::Inactive,
        DropReason::AddressList,
    ];

    /// Stable label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Ttl => "ttl",
            DropReason::Length => "length",
            DropReason::Checksum => "checksum",
            DropReason::Version => "version",
            DropReason::Type => "type",
            DropReason::Vrid => "vrid",
            DropReason::Auth => "auth",
            DropReason::Interval => "interval",
            DropReason::UnknownPeer => "unknown_peer",
            DropReason::FromSelf => "from_self",
            DropReason::Inactive => "inactive",
            DropReason::AddressList => "address_list",
        }
    }

    fn index(self) -> usize {
        DropReason::ALL.iter().position(|&r| r == self).unwrap_or(0)
    }
}

impl From<&DecodeError> for DropReason {
    fn from(error: &DecodeError) -> DropReason {
        match error {
            DecodeError::TooShort { .. } | DecodeError::LengthMismatch { .. } => DropReason::Length,
            DecodeError::UnknownVersion { .. } | DecodeError::V2OverIpv6 { .. } => {
                DropReason::Version
            }
            DecodeError::UnknownType { .. } => DropReason::Type,
            DecodeError::ZeroVrid { .. } => DropReason::Vrid,
            DecodeError::BadChecksum { .. } => DropReason::Checksum,
            DecodeError::ZeroInterval { .. } => DropReason::Interval,
            DecodeError::UnsupportedAuthType { .. } => DropReason::Auth,
            // DecodeError is non_exhaustive; a new kind is at least a malformed packet.
            #[allow(unreachable_patterns)]
            _ => DropReason::Length,
        }
    }
}

/// Per-instance (or, for packets no instance claims, per-router) counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub priority_zero_sent: u64,
    pub priority_zero_received: u64,
    pub became_master: u64,
    pub transitions: u64,
    /// Adverts a Master would have answered at once (RFC 5798 §6.4.3) but did not, because
    /// it had answered less than an Advertisement_Interval before: a flood of rival or
    /// priority-0 adverts cannot make it send more than about two adverts per interval.
    pub answers_rate_limited: u64,
    drops: [u64; DropReason::ALL.len()],
}

impl Stats {
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason.index()]
    }

    pub fn dropped_total(&self) -> u64 {
        self.drops.iter().sum()
    }

    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        self.drops[reason.index()] += 1;
    }
}
