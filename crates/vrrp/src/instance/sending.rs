//! Sending adverts. An advert's bytes change only with the priority it carries and the
//! checksum form (keepalived's detection of an old peer can change that): they are encoded
//! once per destination and copied into each [`Transmit`], into a buffer the driver gave
//! back when it does ([`Instance::recycle`]), so that a Master's advert allocates nothing.

use std::net::IpAddr;

use super::{Instance, Peers, Transmit, VRRP_TTL};
use crate::checksum::ChecksumMode;
use crate::packet::Advertisement;
use crate::units::Priority;

/// How many sent payloads an instance keeps for reuse: one per advert in flight is enough
/// for a driver that gives each back before the next input; the bound keeps a driver that
/// gives back more than it takes from growing the pool.
const SPARE_PAYLOADS: usize = 4;

/// The adverts last encoded: for `priority` and `mode`, one payload per destination.
#[derive(Debug, Default)]
pub(super) struct Encoded {
    priority: Option<Priority>,
    mode: ChecksumMode,
    payloads: Vec<(IpAddr, Vec<u8>)>,
    /// Buffers of sent transmits given back, for the next adverts' copies.
    spare: Vec<Vec<u8>>,
}

impl Instance {
    /// Gives back a [`Transmit`] that was sent, so that its buffer carries a later advert
    /// and sending allocates nothing. Optional: a transmit that is dropped instead costs an
    /// allocation at the next advert.
    pub fn recycle(&mut self, transmit: Transmit) {
        let spare = &mut self.encoded.spare;
        if spare.len() < SPARE_PAYLOADS {
            spare.push(transmit.payload);
        }
    }

    pub(super) fn send_advert(&mut self, priority: Priority) {
        let mode = self.config.checksum_mode;
        if self.encoded.priority != Some(priority) || self.encoded.mode != mode {
            self.encode_adverts(priority, mode);
        }
        let src = self.config.primary_address;
        let ttl = match &self.config.peers {
            Peers::Multicast => VRRP_TTL,
            Peers::Unicast(_) => self.config.unicast_ttl,
        };
        let encoded = &mut self.encoded;
        for (dst, bytes) in &encoded.payloads {
            let mut payload = encoded.spare.pop().unwrap_or_default();
            payload.clear();
            payload.extend_from_slice(bytes);
            self.transmits.push_back(Transmit {
                src,
                dst: *dst,
                ttl,
                payload,
            });
        }
        self.stats.adverts_sent += 1;
        if priority == Priority::STOP {
            self.stats.priority_zero_sent += 1;
        }
    }

    /// The payloads for `priority`, one per destination: v3's checksum covers the
    /// destination in its pseudo-header, so unicast peers each get their own.
    fn encode_adverts(&mut self, priority: Priority, mode: ChecksumMode) {
        let advert = Advertisement {
            vrid: self.config.vrid,
            priority,
            addresses: self.config.virtual_addresses.clone(),
            fields: self.fields.clone(),
        };
        let src = self.config.primary_address;
        let group = [self.config.multicast_group()];
        let destinations: &[IpAddr] = match &self.config.peers {
            Peers::Multicast => &group,
            Peers::Unicast(peers) => peers,
        };
        let encoded = &mut self.encoded;
        encoded.payloads.clear();
        for &dst in destinations {
            // Cannot fail: InstanceConfig::validate checked families, count and version.
            match advert.emit(src, dst, mode) {
                Ok(payload) => encoded.payloads.push((dst, payload)),
                Err(error) => debug_assert!(false, "validated advert failed to encode: {error}"),
            }
        }
        encoded.priority = Some(priority);
        encoded.mode = mode;
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::instance::{InstanceConfig, State};
    use crate::units::{Version, Vrid};

    /// A VRRPv3 owner (priority 255): Master at Startup, an advert every 10 ms.
    fn owner(peers: Peers) -> Instance {
        let mut config = InstanceConfig::new(
            "VI_9",
            "eth0",
            Vrid::new(9).expect("non-zero"),
            Version::V3,
            IpAddr::from([10, 0, 3, 5]),
            vec![IpAddr::from([10, 0, 3, 100])],
        );
        config.priority = Priority::OWNER;
        config.advert_interval = Duration::from_millis(10);
        config.peers = peers;
        Instance::new(config).expect("valid")
    }

    fn next_adverts(instance: &mut Instance, now: &mut Instant) -> Vec<Transmit> {
        *now = instance.poll_timeout().expect("Adver_Timer armed");
        instance.handle_timeout(*now);
        std::iter::from_fn(|| instance.poll_transmit()).collect()
    }

    #[test]
    fn a_buffer_given_back_carries_the_next_advert_whole() {
        let mut now = Instant::now();
        let mut instance = owner(Peers::Multicast);
        instance.start(now);
        assert_eq!(instance.state(), State::Master);
        let first: Vec<_> = std::iter::from_fn(|| instance.poll_transmit()).collect();
        assert_eq!(first.len(), 1);
        let mut given_back = first[0].clone();
        given_back
            .payload
            .extend_from_slice(b"left over from before");
        instance.recycle(given_back);
        assert_eq!(next_adverts(&mut instance, &mut now), first);
    }

    #[test]
    fn each_unicast_peer_gets_its_own_checksum_and_a_priority_change_is_sent() {
        let peers = vec![IpAddr::from([10, 0, 3, 6]), IpAddr::from([10, 0, 3, 7])];
        let mut now = Instant::now();
        let mut instance = owner(Peers::Unicast(peers.clone()));
        instance.start(now);
        let sent: Vec<_> = std::iter::from_fn(|| instance.poll_transmit()).collect();
        let to: Vec<_> = sent.iter().map(|t| t.dst).collect();
        assert_eq!(to, peers);
        for transmit in &sent {
            let decoded = Advertisement::decode(
                &transmit.payload,
                transmit.src,
                transmit.dst,
                ChecksumMode::Standard,
            )
            .expect("each payload sums right for its own destination");
            assert_eq!(decoded.priority, Priority::OWNER);
        }
        assert_ne!(sent[0].payload, sent[1].payload);
        assert_eq!(next_adverts(&mut instance, &mut now), sent);
        instance.shutdown(now);
        let goodbye: Vec<_> = std::iter::from_fn(|| instance.poll_transmit()).collect();
        assert_eq!(goodbye.len(), 2);
        assert!(goodbye.iter().all(|t| t.payload[2] == Priority::STOP.get()));
    }
}
