//! The old master's offer to take packets back, and the new master's pairing of it with
//! the resignation (sans-IO; the sockets are `handoff_offer_socket`'s).
//!
//! A priority-0 advertisement alone does not say that the old master keeps its VIPs: a
//! keepalived master sends one on shutdown too, and removes them. Packets handed back to
//! such a host are lost, or, with IP forwarding on, routed back to the VIP, a loop until
//! their TTL runs out. So a baton master that hands over (SIGTERM or step-down, with VIPs it
//! keeps quietly: see `switchover`, `step_down`) also sends this offer to its VRRP peers, a
//! few times, on UDP port [`PORT`]; the new master arms `handoff` only for an instance whose
//! offer and priority 0 came from the same address within [`PAIRING`] of each other, in
//! either order.
//!
//! The datagram: magic `BATONHO` and version 1 (8 bytes), the VRID, the number of VIPs, the
//! window in seconds (big-endian u16), then each VIP's IPv4 address.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use baton_config::VrrpInstance;

/// The UDP port of offers (docs/operations.md, docs/security.md).
pub(super) const PORT: u16 = 7798;

/// How long an offer waits for its priority 0, and a priority 0 for its offer.
pub(super) const PAIRING: Duration = Duration::from_secs(1);

const MAGIC: &[u8; 7] = b"BATONHO";
const VERSION: u8 = 1;
const HEADER: usize = MAGIC.len() + 1 + 1 + 1 + 2;

/// The most VIPs one offer carries (keepalived's limit per instance is far lower in
/// practice; the datagram stays under a small MTU).
const MAX_VIPS: usize = 255;

/// An old master's offer for one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Offer {
    pub(super) vrid: u8,
    /// How long it takes packets back (its drain plus the takeover).
    pub(super) window: Duration,
    /// The VIPs it keeps quietly.
    pub(super) vips: Vec<Ipv4Addr>,
}

/// Why a datagram on the offer port was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rejected {
    Truncated,
    WrongMagic,
    UnknownVersion,
    /// No instance of this VRID on the interface it came in on.
    UnknownVrid,
    /// A VIP that is not one of the instance's.
    NotItsAddress,
    /// Not from the instance's last advertiser.
    NotTheMaster,
}

impl Offer {
    pub(super) fn encode(&self) -> Vec<u8> {
        let vips = &self.vips[..self.vips.len().min(MAX_VIPS)];
        let seconds = u16::try_from(self.window.as_secs()).unwrap_or(u16::MAX);
        let mut datagram = Vec::with_capacity(HEADER + 4 * vips.len());
        datagram.extend_from_slice(MAGIC);
        datagram.push(VERSION);
        datagram.push(self.vrid);
        // At most MAX_VIPS (255): fits.
        datagram.push(u8::try_from(vips.len()).unwrap_or(u8::MAX));
        datagram.extend_from_slice(&seconds.to_be_bytes());
        for vip in vips {
            datagram.extend_from_slice(&vip.octets());
        }
        datagram
    }

    pub(super) fn decode(datagram: &[u8]) -> Result<Offer, Rejected> {
        let Some((magic, rest)) = datagram.split_first_chunk::<7>() else {
            return Err(Rejected::Truncated);
        };
        if magic != MAGIC {
            return Err(Rejected::WrongMagic);
        }
        let [version, rest @ ..] = rest else {
            return Err(Rejected::Truncated);
        };
        if *version != VERSION {
            return Err(Rejected::UnknownVersion);
        }
        let [vrid, count, high, low, addresses @ ..] = rest else {
            return Err(Rejected::Truncated);
        };
        if addresses.len() != 4 * usize::from(*count) {
            return Err(Rejected::Truncated);
        }
        let vips = addresses
            .chunks_exact(4)
            .map(|a| Ipv4Addr::new(a[0], a[1], a[2], a[3]))
            .collect();
        Ok(Offer {
            vrid: *vrid,
            window: Duration::from_secs(u64::from(u16::from_be_bytes([*high, *low]))),
            vips,
        })
    }
}

/// One instance's old master: the interface, the VRID and the address it advertised from.
pub(super) type Key = (String, u8, IpAddr);

/// Offers and resignations heard lately, each waiting [`PAIRING`] for the other.
#[derive(Debug, Default)]
pub(super) struct Pairing {
    /// The window each offer asked for.
    offers: BTreeMap<Key, (Instant, Duration)>,
    resignations: BTreeMap<Key, Instant>,
    /// Datagrams dropped on the offer port, for the log.
    pub(super) rejected: u64,
}

impl Pairing {
    /// An offer from `key` (checked: see [`check`]): the window to arm for, if its
    /// priority 0 came already.
    pub(super) fn offered(&mut self, now: Instant, key: Key, window: Duration) -> Option<Duration> {
        self.forget_old(now);
        if self.resignations.remove(&key).is_some() {
            return Some(window);
        }
        self.offers.insert(key, (now, window));
        None
    }

    /// A priority 0 from `key`: the window to arm for, if its offer came already.
    pub(super) fn resigned(&mut self, now: Instant, key: Key) -> Option<Duration> {
        self.forget_old(now);
        if let Some((_, window)) = self.offers.remove(&key) {
            return Some(window);
        }
        self.resignations.insert(key, now);
        None
    }

    /// Whether `key` resigned within [`PAIRING`]: an offer after the priority 0 comes from
    /// an instance that is no longer that address's backup.
    pub(super) fn recently_resigned(&self, now: Instant, key: &Key) -> bool {
        self.resignations
            .get(key)
            .is_some_and(|at| now.duration_since(*at) <= PAIRING)
    }

    fn forget_old(&mut self, now: Instant) {
        self.offers
            .retain(|_, (at, _)| now.duration_since(*at) <= PAIRING);
        self.resignations
            .retain(|_, at| now.duration_since(*at) <= PAIRING);
    }
}

/// The IPv4 VIPs of `instance` (excluded ones too): those an old master keeps quietly and
/// offers.
pub(super) fn ipv4_vips(instance: &VrrpInstance) -> Vec<Ipv4Addr> {
    instance
        .all_addresses()
        .filter_map(|vip| match vip.address {
            IpAddr::V4(address) => Some(address),
            IpAddr::V6(_) => None,
        })
        .collect()
}

/// Whether `offer` fits the instance it names: `addresses` are that instance's IPv4 VIPs
/// (None: no instance of that VRID on the interface), `from_master` whether it came from
/// the instance's last advertiser.
pub(super) fn check(
    offer: &Offer,
    addresses: Option<&[Ipv4Addr]>,
    from_master: bool,
) -> Result<(), Rejected> {
    let Some(addresses) = addresses else {
        return Err(Rejected::UnknownVrid);
    };
    if offer.vips.is_empty() || offer.vips.iter().any(|vip| !addresses.contains(vip)) {
        return Err(Rejected::NotItsAddress);
    }
    if !from_master {
        return Err(Rejected::NotTheMaster);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer() -> Offer {
        Offer {
            vrid: 51,
            window: Duration::from_secs(7),
            vips: vec![Ipv4Addr::new(10, 0, 3, 100), Ipv4Addr::new(10, 0, 3, 101)],
        }
    }

    fn key() -> Key {
        ("eth0".to_owned(), 51, "10.0.3.6".parse().expect("address"))
    }

    #[test]
    fn an_offer_survives_its_encoding() {
        let datagram = offer().encode();
        assert_eq!(&datagram[..8], b"BATONHO\x01");
        assert_eq!(datagram.len(), HEADER + 8);
        assert_eq!(Offer::decode(&datagram), Ok(offer()));
    }

    #[test]
    fn bad_datagrams_are_rejected_not_panicked_on() {
        let good = offer().encode();
        for length in 0..good.len() {
            assert_eq!(
                Offer::decode(&good[..length]),
                Err(Rejected::Truncated),
                "{length} bytes"
            );
        }
        let mut longer = good.clone();
        longer.push(0);
        assert_eq!(Offer::decode(&longer), Err(Rejected::Truncated));
        let mut magic = good.clone();
        magic[0] = b'X';
        assert_eq!(Offer::decode(&magic), Err(Rejected::WrongMagic));
        let mut version = good;
        version[7] = 2;
        assert_eq!(Offer::decode(&version), Err(Rejected::UnknownVersion));
        // Every byte string of a few lengths: decoded or rejected, nothing else.
        for length in 0..24 {
            for fill in [0u8, 0xff, 7] {
                let _ = Offer::decode(&vec![fill; length]);
            }
        }
    }

    #[test]
    fn an_offer_must_name_the_instances_own_vips_and_come_from_its_master() {
        let own = [
            Ipv4Addr::new(10, 0, 3, 100),
            Ipv4Addr::new(10, 0, 3, 101),
            Ipv4Addr::new(10, 0, 3, 102),
        ];
        assert_eq!(check(&offer(), Some(&own), true), Ok(()));
        assert_eq!(check(&offer(), None, true), Err(Rejected::UnknownVrid));
        assert_eq!(
            check(&offer(), Some(&own[..1]), true),
            Err(Rejected::NotItsAddress)
        );
        let empty = Offer {
            vips: Vec::new(),
            ..offer()
        };
        assert_eq!(
            check(&empty, Some(&own), true),
            Err(Rejected::NotItsAddress)
        );
        assert_eq!(
            check(&offer(), Some(&own), false),
            Err(Rejected::NotTheMaster)
        );
    }

    #[test]
    fn an_offer_and_a_priority_0_pair_in_either_order() {
        let now = Instant::now();
        let window = Duration::from_secs(7);
        let mut pairing = Pairing::default();
        assert_eq!(pairing.offered(now, key(), window), None);
        let later = now + Duration::from_millis(300);
        assert_eq!(pairing.resigned(later, key()), Some(window));
        // Used up: the next priority 0 alone arms nothing.
        assert_eq!(pairing.resigned(later, key()), None);
        assert!(pairing.recently_resigned(later, &key()));
        assert_eq!(
            pairing.offered(later + Duration::from_millis(100), key(), window),
            Some(window)
        );
    }

    #[test]
    fn a_priority_0_alone_or_too_late_arms_nothing() {
        let now = Instant::now();
        let window = Duration::from_secs(7);
        let mut pairing = Pairing::default();
        // keepalived: priority 0, no offer.
        assert_eq!(pairing.resigned(now, key()), None);
        assert!(!pairing.recently_resigned(now + Duration::from_secs(2), &key()));
        let late = now + PAIRING + Duration::from_millis(1);
        assert_eq!(pairing.offered(late, key(), window), None);
        let much_later = late + PAIRING + Duration::from_millis(1);
        assert_eq!(pairing.resigned(much_later, key()), None);
        // Another instance's or another address's offer does not pair.
        let mut pairing = Pairing::default();
        pairing.offered(now, key(), window);
        let other_vrid = ("eth0".to_owned(), 52, key().2);
        assert_eq!(pairing.resigned(now, other_vrid), None);
        let other_host = ("eth0".to_owned(), 51, "10.0.3.7".parse().expect("address"));
        assert_eq!(pairing.resigned(now, other_host), None);
    }
}
