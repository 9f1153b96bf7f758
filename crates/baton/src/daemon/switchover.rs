//! SIGTERM on a master: how the VIPs and the frontends' connections change hands.
//! (`baton instance step-down` hands one instance over the same way while the daemon runs:
//! see `step_down`, which shares the choice, the takeover time and the quiet table.)
//!
//! With frontends on IPv4 VIPs the master hands over at once, without a stall: a priority-0
//! advertisement first, so that a backup takes the VIPs after Skew_Time and serves every new
//! connection from then on, while this host keeps the VIPs quietly (`quiet_vips`: no ARP
//! answers, no announcements) and answers the connections it has, whose packets the new
//! master hands back to it (`handoff`). New SYNs still reach this host until the new
//! master's gratuitous ARP, so the frontends keep taking connections for one advertisement
//! interval more; then the SYN gate closes, the handshakes still half done complete
//! (`handshakes`), the listeners close and the connections drain (each frontend within its
//! drain_timeout). Only then do the addresses go.
//!
//! Otherwise (no frontend, or an IPv6 VIP, whose neighbour discovery `quiet_vips` does not
//! silence, or nftables refusing the table) the master drains first while it still holds
//! the VIPs and advertises, new connections dropped at the SYN gate and retried by their
//! clients a second later, and gives the VIPs up after.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use baton_config::{Config, VrrpInstance};
use baton_vrrp::{Router, State};

use super::frontends::Frontends;
use super::handoff;
use super::handoff_offer::{self, Key, Offer, Pairing, Rejected};
use super::handoff_offer_socket::{self, Datagram};
use super::quiet_vips::{self, Kept, QuietVips};
use super::sockets::Inbound;
use super::vips::Vips;

/// After the priority-0 advertisement: how long beyond the longest advertisement interval
/// new connections may still arrive (the backup's Skew_Time is shorter than one interval;
/// its gratuitous ARP and the clients' caches need a moment more).
const TAKEOVER_MARGIN: Duration = Duration::from_millis(100);

/// What the sequence needs of the running VRRP instances (the daemon's `Running`).
pub(super) trait Instances {
    type Input;
    /// The next protocol input; cancel-safe.
    async fn next_input(&mut self) -> Self::Input;
    /// Carries `input` out; to be run to completion.
    async fn handle(&mut self, input: Self::Input);
    /// The configuration of each instance that is master now.
    fn masters(&self) -> Vec<&VrrpInstance>;
    /// Instances stepped down whose addresses are still kept quietly (see `step_down`):
    /// kept on with the masters' until the drain ends.
    fn stepping_down(&self) -> Vec<&VrrpInstance>;
    fn config(&self) -> &Config;
    /// Stops every instance (priority-0 advertisements), the masters' addresses removed or,
    /// with [`Addresses::Keep`], held for the caller.
    async fn stop(self, addresses: Addresses) -> Option<Held>;
}

/// Whether [`Instances::stop`] removes the masters' addresses or keeps them for [`Held`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Addresses {
    Remove,
    Keep,
}

/// Addresses, routes and rules of the instances that were master, kept after their stop
/// until [`Held::release`].
pub(super) struct Held {
    pub(super) vips: Vips,
    pub(super) config: Config,
}

impl Held {
    async fn release(self) {
        for (instance, action) in self.vips.take_held() {
            self.vips.apply(&instance, action).await;
        }
        self.vips.stop_routing(&self.config).await;
    }
}

/// The SIGTERM sequence after the main loop: see the module's doc.
pub(super) async fn stop(running: impl Instances, frontends: Frontends) {
    let listening = !frontends.listeners().is_empty();
    let kept = if listening {
        kept_quietly(running.masters().into_iter().chain(running.stepping_down()))
    } else {
        None
    };
    let quiet = match kept {
        Some(kept) => match QuietVips::install(&kept).await {
            Ok(quiet) => Some(quiet),
            Err(error) => {
                tracing::warn!(
                    "cannot keep the virtual addresses without announcing them, draining \
                     before the handover instead: {error:#}"
                );
                None
            }
        },
        None => None,
    };
    match quiet {
        Some(quiet) => hand_over_then_drain(running, frontends, quiet).await,
        None => drain_then_hand_over(running, frontends).await,
    }
}

async fn hand_over_then_drain(running: impl Instances, frontends: Frontends, quiet: QuietVips) {
    let takeover = takeover_time(running.config());
    tracing::info!(
        "stopping: priority 0 advertisements now; the virtual addresses stay here, unannounced, \
         while the frontends drain"
    );
    // The offer first: the backup that hears the priority 0 arms the hand-back only with it.
    for instance in running.masters() {
        handoff_offer_socket::offer_hand_back(running.config(), instance).await;
    }
    let held = running.stop(Addresses::Keep).await;
    // Until the new master's gratuitous ARP, clients still send their SYNs here.
    tokio::time::sleep(takeover).await;
    tracing::info!("stopping: draining frontends");
    let gate = frontends.drain().await;
    tracing::info!("stopping: removing virtual addresses");
    if let Some(held) = held {
        held.release().await;
    }
    quiet.remove().await;
    if let Some(gate) = gate {
        gate.open().await;
    }
}

async fn drain_then_hand_over(mut running: impl Instances, frontends: Frontends) {
    tracing::info!("stopping: draining frontends");
    let drain = frontends.drain();
    tokio::pin!(drain);
    // The instances keep advertising while connections drain: the VIP must stay here until
    // the last response is out.
    let gate = loop {
        tokio::select! {
            gate = &mut drain => break gate,
            input = running.next_input() => running.handle(input).await,
        }
    };
    tracing::info!("stopping: priority 0 advertisements, removing virtual addresses");
    running.stop(Addresses::Remove).await;
    if let Some(gate) = gate {
        gate.open().await;
    }
}

/// The addresses of `instances` (those that resign), if all of them can be kept quietly
/// (IPv4: see the module's doc); None when there are none.
pub(super) fn kept_quietly<'a>(
    instances: impl IntoIterator<Item = &'a VrrpInstance>,
) -> Option<Vec<Kept>> {
    let mut kept = Vec::new();
    for instance in instances {
        for vip in instance.all_addresses() {
            let IpAddr::V4(address) = vip.address else {
                return None;
            };
            let device = instance.device_of(vip);
            kept.push((device.to_owned(), address, quiet_vips::primary(device)));
        }
    }
    (!kept.is_empty()).then_some(kept)
}

/// How long new connections may still arrive after the priority-0 advertisement.
pub(super) fn takeover_time(config: &Config) -> Duration {
    let longest = config
        .instances
        .iter()
        .map(|instance| instance.advert_interval)
        .max()
        .unwrap_or_default();
    longest + TAKEOVER_MARGIN
}

/// A priority-0 advertisement in `packet` from the master of one of our backup instances:
/// that master (see `handoff_offer`).
pub(super) fn resigned_master(router: &Router, packet: &Inbound) -> Option<Key> {
    let vrid = handoff::resigned(&packet.payload)?;
    router
        .instances()
        .map(|(_, engine)| engine)
        .find(|engine| {
            let config = engine.config();
            config.vrid.get() == vrid
                && *config.interface == *packet.interface
                && engine.state() == State::Backup
                && engine.master() == Some(packet.src)
        })
        .map(|_| (packet.interface.to_string(), vrid, packet.src))
}

/// A datagram on the offer port: the old master that offers to take packets back and the
/// window it asks for, if it is a valid offer for one of `config`'s instances from its
/// last advertiser (the master `router` knows, or one that resigned just now).
pub(super) fn offered_by_master(
    router: &Router,
    config: &Config,
    pairing: &Pairing,
    datagram: &Datagram,
    now: Instant,
) -> Result<(Key, Duration), Rejected> {
    let offer = Offer::decode(&datagram.bytes)?;
    let addresses = config
        .instances
        .iter()
        .find(|i| i.vrid.get() == offer.vrid && i.interface == datagram.interface)
        .map(handoff_offer::ipv4_vips);
    let key = (datagram.interface.clone(), offer.vrid, datagram.from);
    let advertiser = router
        .instances()
        .find(|(_, engine)| {
            let engine = engine.config();
            engine.vrid.get() == offer.vrid && engine.interface == datagram.interface
        })
        .and_then(|(_, engine)| engine.master());
    let from_master = advertiser == Some(datagram.from) || pairing.recently_resigned(now, &key);
    handoff_offer::check(&offer, addresses.as_deref(), from_master)?;
    Ok((key, offer.window))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    /// The instances of a configuration, master or not, that do nothing else.
    struct Fake {
        config: Config,
        master: bool,
    }

    impl Instances for Fake {
        type Input = ();

        async fn next_input(&mut self) {}

        async fn handle(&mut self, (): ()) {}

        fn masters(&self) -> Vec<&VrrpInstance> {
            if self.master {
                self.config.instances.iter().collect()
            } else {
                Vec::new()
            }
        }

        fn stepping_down(&self) -> Vec<&VrrpInstance> {
            Vec::new()
        }

        fn config(&self) -> &Config {
            &self.config
        }

        async fn stop(self, _: Addresses) -> Option<Held> {
            None
        }
    }

    fn master_of(vips: &str) -> Fake {
        let text = format!(
            "[[vrrp]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvirtual_router_id = 51\n\
             version = 3\npriority = 150\nadvert_int = 0.1\nvirtual_ipaddress = [{vips}]\n"
        );
        let config = baton_config::parse_toml(&text, "test.toml")
            .expect("valid")
            .config;
        Fake {
            config,
            master: true,
        }
    }

    #[test]
    fn a_master_with_ipv4_vips_keeps_them_quietly() {
        let master = master_of("\"10.0.3.100\", \"10.0.3.101\"");
        let kept = kept_quietly(master.masters()).expect("IPv4");
        let addresses: Vec<Ipv4Addr> = kept.iter().map(|(_, address, _)| *address).collect();
        assert_eq!(
            addresses,
            [Ipv4Addr::new(10, 0, 3, 100), Ipv4Addr::new(10, 0, 3, 101)]
        );
        assert!(kept.iter().all(|(device, _, _)| device == "eth0"));
    }

    #[test]
    fn an_ipv6_vip_or_no_master_means_draining_first() {
        assert!(kept_quietly(master_of("\"2001:db8::1\"").masters()).is_none());
        let backup = Fake {
            master: false,
            ..master_of("\"10.0.3.100\"")
        };
        assert!(kept_quietly(backup.masters()).is_none());
    }

    #[test]
    fn new_connections_may_come_for_one_advertisement_interval_more() {
        let fake = master_of("\"10.0.3.100\"");
        assert_eq!(
            takeover_time(&fake.config),
            Duration::from_millis(100) + TAKEOVER_MARGIN
        );
    }
}
