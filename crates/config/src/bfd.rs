//! keepalived's `bfd_instance`: a BFD session (RFC 5880/5881) to one neighbour, which
//! VRRP instances and sync groups track with `track_bfd`.

use std::net::IpAddr;
use std::time::Duration;

use crate::diagnostic::{Diagnostics, WrittenAt};

/// One `bfd_instance`, with keepalived 2.2.7's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BfdInstance {
    /// At most 31 characters (keepalived's `BFD_INAME_MAX`).
    pub name: String,
    /// `neighbor_ip` / `neighbour_ip`: where control packets go, and whose are ours.
    pub neighbor: IpAddr,
    /// `source_ip`: the address packets leave from (and must arrive at); `None`: any.
    pub source: Option<IpAddr>,
    /// `min_rx`: Required Min RX Interval (default 10 ms).
    pub min_rx: Duration,
    /// `min_tx`: Desired Min TX Interval while Up (default 10 ms).
    pub min_tx: Duration,
    /// `idle_tx`: Desired Min TX Interval while not Up (default 1 s, at least 1 s).
    pub idle_tx: Duration,
    /// `multiplier`: Detect Mult (1..=255, default 5).
    pub multiplier: u8,
    /// `passive`: send nothing until the neighbour has.
    pub passive: bool,
    /// `ttl` / `hoplimit`: sent with it; default 255 for IPv4, 64 for IPv6 (keepalived's).
    pub ttl: u8,
    /// `max_hops`: a packet is taken if its TTL plus this reaches [`BfdInstance::ttl`]
    /// (default 0: only packets that crossed no router). `None` (`max_hops -1` or 255):
    /// no TTL check.
    pub max_hops: Option<u8>,
    /// `weight`: the default weight of `track_bfd` entries (-253..=253, default 0: the
    /// session down means FAULT).
    pub weight: i32,
    /// False when only `checker` was named: keepalived then sends the session's changes to
    /// its checker process alone, and VRRP cannot track it.
    pub for_vrrp: bool,
    pub location: WrittenAt,
}

/// An entry of `track_bfd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackBfdRef {
    /// A [`BfdInstance`] by name.
    pub name: String,
    /// Overrides the instance's own weight (-253..=253).
    pub weight: Option<i32>,
    pub location: WrittenAt,
}

impl BfdInstance {
    /// keepalived's GTSM check (`bfd_check_packet_ttl`): true if a packet that arrived with
    /// `ttl` may be taken. A packet whose TTL could not be read is taken, as in keepalived.
    pub fn accepts_ttl(&self, ttl: Option<u8>) -> bool {
        match (self.max_hops, ttl) {
            (None, _) | (_, None) => true,
            (Some(hops), Some(ttl)) => u16::from(ttl) + u16::from(hops) >= u16::from(self.ttl),
        }
    }
}

/// Every `track_bfd` must name a `bfd_instance` VRRP hears of, once per instance or group.
/// `owners` are the instances' and groups' entries, with how messages name them.
pub(crate) fn check_references<'a>(
    instances: &[BfdInstance],
    owners: impl Iterator<Item = (String, &'a [TrackBfdRef])>,
    d: &mut Diagnostics,
) {
    for (owner, refs) in owners {
        for (position, t) in refs.iter().enumerate() {
            match instances.iter().find(|b| b.name == t.name) {
                None => d.error(
                    &t.location,
                    format!(
                        "{owner}: track_bfd {}: no bfd_instance of that name",
                        t.name
                    ),
                ),
                Some(bfd) if !bfd.for_vrrp => d.error(
                    &t.location,
                    format!(
                        "{owner}: track_bfd {}: that bfd_instance names only 'checker', so VRRP \
                         does not hear of it (add 'vrrp')",
                        t.name
                    ),
                ),
                Some(_) => {}
            }
            if refs[..position]
                .iter()
                .any(|earlier| earlier.name == t.name)
            {
                d.error(
                    &t.location,
                    format!("{owner}: track_bfd {} is listed twice", t.name),
                );
            }
        }
    }
}
