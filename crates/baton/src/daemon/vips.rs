//! Virtual addresses on the host: added and removed over rtnetlink, announced with
//! gratuitous ARP / unsolicited NA.
//!
//! Additions and announcements wait for [`Vips::flush`], which the daemon calls once it has
//! taken every action the engine had for one wake-up: a new master of 100 instances then
//! adds the 100 addresses with pipelined netlink requests (one index lookup, then every
//! request before the first acknowledgement) instead of two awaited round trips each, reads
//! each interface's MAC once instead of once per message, and sends the first gratuitous
//! ARP of every address before any repetition, so that the last address is announced a few
//! milliseconds after the takeover rather than after the others' whole bursts.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context as _;
use baton_config::{AnnouncePacing, Config, VirtualAddress, VrrpInstance};
use baton_vrrp::VipAction;

use super::routes::{self, Routes};

#[derive(Debug)]
pub(crate) struct Vips {
    addresses: baton_net::Addresses,
    /// The namespace's announcement sockets.
    announcer: baton_net::Announcer,
    /// Every virtual address of the configuration, to clean up after a crash.
    all: Vec<(String, VirtualAddress)>,
    /// Virtual and static routes and rules, static addresses, promote_secondaries.
    routes: Routes,
    /// While the old master of a switchover keeps its addresses (see `switchover`): the
    /// instances whose removal waits.
    held: Mutex<Option<Vec<(VrrpInstance, VipAction)>>>,
    /// Additions and announcements asked for since the last [`Vips::flush`].
    pending: Mutex<Pending>,
}

/// What [`Vips::flush`] does, in the order it was asked for within each kind.
#[derive(Debug, Default)]
struct Pending {
    /// Instances that became master: their addresses, then their routes and rules.
    adds: Vec<VrrpInstance>,
    /// Instances to announce, and how many messages per address.
    announces: Vec<(VrrpInstance, u32)>,
}

impl Vips {
    pub(crate) async fn new(config: &Config) -> anyhow::Result<Vips> {
        let addresses = baton_net::Addresses::new().context("opening rtnetlink")?;
        let announcer = baton_net::Announcer::new()?;
        let all = config
            .instances
            .iter()
            .flat_map(|instance| {
                instance
                    .all_addresses()
                    .map(move |vip| (device(instance, vip).to_owned(), vip.clone()))
            })
            .collect();
        let routes = Routes::new()?;
        Ok(Vips {
            addresses,
            announcer,
            all,
            routes,
            held: Mutex::new(None),
            pending: Mutex::new(Pending::default()),
        })
    }

    /// A previous run that was killed may have left its VIPs behind; starting as BACKUP
    /// with them still configured would answer ARP for addresses the master holds.
    pub(crate) async fn remove_leftovers(&self) {
        for (dev, vip) in &self.all {
            let listed = self.addresses.list(dev).await.unwrap_or_default();
            // The kernel matches address and prefix length: remove with the prefix it has.
            for (address, prefix_len, _) in listed.into_iter().filter(|(a, _, _)| *a == vip.address)
            {
                tracing::warn!(%address, %dev, "removing a virtual address left over from an earlier run");
                if let Err(error) = self.addresses.remove(dev, address, prefix_len).await {
                    tracing::error!(%address, %dev, "{error}");
                }
            }
        }
    }

    /// At start: a backup holds no virtual routes or rules (a killed run may have left
    /// them); the static ones are added; promote_secondaries is set.
    pub(crate) async fn start_routing(&self, config: &Config) {
        for instance in &config.instances {
            self.routes.leave(instance).await;
        }
        self.routes.start(config, &self.addresses).await;
    }

    /// At stop, after the instances have given their addresses up.
    pub(crate) async fn stop_routing(&self, config: &Config) {
        self.routes.stop(config, &self.addresses).await;
    }

    /// A reload from `old` (whose addresses `previous` managed) to `new`.
    pub(crate) async fn take_over_routing(&self, previous: &Vips, old: &Config, new: &Config) {
        previous.routes.hand_over(&self.routes);
        self.routes.reload(old, new, &self.addresses).await;
    }

    /// From now on an instance's removal (its addresses, routes and rules) is noted
    /// instead of done, until [`Vips::take_held`].
    pub(crate) fn hold_removals(&self) {
        *self.held.lock().unwrap_or_else(|e| e.into_inner()) = Some(Vec::new());
    }

    /// The removals held so far; from now on they are done again.
    pub(crate) fn take_held(&self) -> Vec<(VrrpInstance, VipAction)> {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_default()
    }

    /// Carries out `action` for `instance`. A removal is done at once (after what is pending:
    /// see [`Vips::flush`]); an addition or an announcement waits for the next
    /// [`Vips::flush`], so that those of one wake-up go out together.
    pub(crate) async fn apply(&self, instance: &VrrpInstance, action: VipAction) {
        if matches!(action, VipAction::Remove { .. }) {
            if let Some(held) = self.held.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                held.push((instance.clone(), action));
                return;
            }
        }
        match action {
            VipAction::Add { .. } => {
                self.pending().adds.push(instance.clone());
            }
            VipAction::Announce { repeat, .. } => {
                self.pending().announces.push((instance.clone(), repeat));
            }
            VipAction::Remove { .. } => {
                // An addition or announcement asked for before goes first, as it did when
                // each action was carried out at once.
                self.flush().await;
                // keepalived: rules, then routes, before the addresses.
                self.routes.leave(instance).await;
                for vip in instance.all_addresses() {
                    let dev = device(instance, vip);
                    match self
                        .addresses
                        .remove(dev, vip.address, vip.prefix_len)
                        .await
                    {
                        Ok(()) => {
                            tracing::info!(instance = %instance.name, address = %vip.address, %dev, "removed")
                        }
                        Err(error) => {
                            tracing::error!(instance = %instance.name, address = %vip.address, %dev, "removing: {error}")
                        }
                    }
                }
            }
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether [`Vips::apply`] kept anything for [`Vips::flush`]: after most adverts not,
    /// and then the flush's future is not even made.
    pub(crate) fn has_pending(&self) -> bool {
        let pending = self.pending();
        !pending.adds.is_empty() || !pending.announces.is_empty()
    }

    /// Carries out the additions and announcements [`Vips::apply`] kept: every address with
    /// pipelined requests, then each instance's routes and rules (keepalived: routes, then
    /// rules, after the addresses), then the announcements.
    pub(crate) async fn flush(&self) {
        let Pending { adds, announces } = std::mem::take(&mut *self.pending());
        // The common case, after every advert: nothing became master.
        if adds.is_empty() && announces.is_empty() {
            return;
        }
        let vips: Vec<(&VrrpInstance, &VirtualAddress)> = adds
            .iter()
            .flat_map(|instance| instance.all_addresses().map(move |vip| (instance, vip)))
            .collect();
        let requests: Vec<baton_net::AddRequest<'_>> = vips
            .iter()
            .map(|(instance, vip)| baton_net::AddRequest {
                interface: device(instance, vip),
                address: vip.address,
                prefix_len: vip.prefix_len,
                options: routes::add_options(vip),
            })
            .collect();
        let results = self.addresses.add_all(&requests).await;
        for ((instance, vip), result) in vips.iter().zip(results) {
            let dev = device(instance, vip);
            match result {
                Ok(()) => {
                    tracing::info!(instance = %instance.name, address = %vip.address, %dev, "added")
                }
                Err(error) => {
                    tracing::error!(instance = %instance.name, address = %vip.address, %dev, "adding: {error}")
                }
            }
        }
        for instance in &adds {
            self.routes.master(instance).await;
        }
        if !announces.is_empty() {
            announce_all(&self.announcer, &announces).await;
        }
    }
}

fn device<'a>(instance: &'a VrrpInstance, vip: &'a VirtualAddress) -> &'a str {
    instance.device_of(vip)
}

/// An address to announce: the device, the address, the pause after each message there.
type Target = (String, IpAddr, Duration);

/// The pause after each gratuitous ARP (IPv4) or unsolicited NA (IPv6).
fn pause(pacing: AnnouncePacing, address: IpAddr) -> Duration {
    match address {
        IpAddr::V4(_) => pacing.garp_interval,
        IpAddr::V6(_) => pacing.gna_interval,
    }
}

/// The announcements of one flush: for each instance, `repeat` gratuitous ARPs (IPv4) /
/// unsolicited NAs (IPv6) per address. Without a pause (the default) they go back to back,
/// round after round, the first round of every instance before any second one, and the
/// first round before this returns; each interface's index and MAC (and for IPv6 its
/// forwarding setting, the Router flag) are read once for them all. With a pause (`vrrp_garp_interval` / `vrrp_gna_interval`, or the interface's
/// `garp_group`) each instance's interface and family is a queue, as in keepalived
/// (`send_gratuitous_arp`, `vrrp_arpna_send`): see [`paced_order`].
async fn announce_all(announcer: &baton_net::Announcer, announces: &[(VrrpInstance, u32)]) {
    let mut at_once: Vec<(String, IpAddr, u32)> = Vec::new();
    for (instance, repeat) in announces {
        let targets: Vec<Target> = instance
            .all_addresses()
            .map(|vip| {
                let dev = device(instance, vip);
                let pause = pause(instance.announce_pacing_on(dev), vip.address);
                (dev.to_owned(), vip.address, pause)
            })
            .collect();
        at_once.extend(
            paced(announcer, targets, *repeat)
                .into_iter()
                .map(|(dev, address)| (dev, address, *repeat)),
        );
    }
    if at_once.is_empty() {
        return;
    }
    let mut links: Vec<(String, Option<Link>)> = Vec::new();
    for (dev, address, _) in &at_once {
        if links.iter().any(|(known, _)| known == dev) {
            continue;
        }
        let ipv6 = at_once.iter().any(|(d, a, _)| d == dev && a.is_ipv6());
        let link = match Link::read(dev, ipv6) {
            Ok(link) => Some(link),
            Err(error) => {
                tracing::warn!(%address, %dev, "announcing: {error}");
                None
            }
        };
        links.push((dev.clone(), link));
    }
    let targets: Vec<(String, Link, IpAddr, u32)> = at_once
        .into_iter()
        .filter_map(|(dev, address, repeat)| {
            let (_, link) = links.iter().find(|(known, _)| *known == dev)?;
            Some((dev, (*link)?, address, repeat))
        })
        .collect();
    send_round(announcer, &targets, 0).await;
    let rounds = targets
        .iter()
        .map(|(.., repeat)| *repeat)
        .max()
        .unwrap_or(0);
    if rounds > 1 {
        let announcer = announcer.clone();
        tokio::spawn(async move {
            for round in 1..rounds {
                send_round(&announcer, &targets, round).await;
            }
        });
    }
}

/// What the messages of a burst out of one interface need, read once for the burst.
#[derive(Debug, Clone, Copy)]
struct Link {
    layer: baton_net::LinkLayer,
    /// IPv6 forwarding is on for the interface: NAs carry the Router flag (keepalived).
    router: bool,
    /// `router` was read (for IPv6 messages).
    ipv6: bool,
}

impl Link {
    /// Reads `dev`'s index and MAC, and its forwarding setting when `ipv6` messages go out.
    fn read(dev: &str, ipv6: bool) -> Result<Link, baton_net::Error> {
        Ok(Link {
            layer: baton_net::link_layer(dev)?,
            router: ipv6 && baton_net::ipv6_forwarding(dev),
            ipv6,
        })
    }
}

/// Round `round` of an announcement: one message for each address repeated more often.
async fn send_round(
    announcer: &baton_net::Announcer,
    targets: &[(String, Link, IpAddr, u32)],
    round: u32,
) {
    for (dev, link, address, repeat) in targets {
        if round < *repeat {
            send_on(announcer, dev, *link, *address).await;
        }
    }
}

/// Starts a queue for each paced interface and family of one instance's `targets`, and
/// returns the targets sent without a pause.
fn paced(
    announcer: &baton_net::Announcer,
    targets: Vec<Target>,
    repeat: u32,
) -> Vec<(String, IpAddr)> {
    let mut at_once = Vec::new();
    let mut queues: Vec<((String, bool), Duration, Vec<IpAddr>)> = Vec::new();
    for (dev, address, pause) in targets {
        if pause.is_zero() {
            at_once.push((dev, address));
            continue;
        }
        let key = (dev, address.is_ipv6());
        match queues.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, _, queue)) => queue.push(address),
            None => queues.push((key, pause, vec![address])),
        }
    }
    for ((dev, _), pause, addresses) in queues {
        let announcer = announcer.clone();
        tokio::spawn(async move {
            let mut link = KeptLink::new(dev);
            for (n, index) in paced_order(addresses.len(), repeat).into_iter().enumerate() {
                if n > 0 {
                    tokio::time::sleep(pause).await;
                }
                link.send(&announcer, addresses[index]).await;
            }
        });
    }
    at_once
}

/// The order a paced queue of `count` addresses sends one burst in: the first message goes
/// at once; the others wait, a pause apart, and an address already waiting is not queued
/// twice. So the first address goes twice (when `repeat` > 1), then every other address
/// once, whatever `repeat` says: keepalived 2.2.7's behaviour, which the pause is there
/// for (a rate limit, for switches that drop floods of gratuitous ARPs).
fn paced_order(count: usize, repeat: u32) -> Vec<usize> {
    if count == 0 || repeat == 0 {
        return Vec::new();
    }
    let again = (repeat > 1).then_some(0);
    std::iter::once(0).chain(again).chain(1..count).collect()
}

async fn send_on(announcer: &baton_net::Announcer, dev: &str, link: Link, address: IpAddr) {
    if let Err(error) = try_send_on(announcer, dev, link, address).await {
        tracing::warn!(%address, %dev, "announcing: {error}");
    }
}

async fn try_send_on(
    announcer: &baton_net::Announcer,
    dev: &str,
    link: Link,
    address: IpAddr,
) -> Result<(), baton_net::Error> {
    let Link { layer, router, .. } = link;
    match address {
        IpAddr::V4(v4) => announcer.gratuitous_arp(dev, layer, v4).await,
        IpAddr::V6(v6) => announcer.unsolicited_na(dev, layer, router, v6).await,
    }
}

/// One message for `address` out of `dev`, its link read for it alone (`garp_extra_if`
/// sends one message per interface at a time).
pub(super) async fn send(announcer: &baton_net::Announcer, dev: &str, address: IpAddr) {
    match Link::read(dev, address.is_ipv6()) {
        Ok(link) => send_on(announcer, dev, link, address).await,
        Err(error) => tracing::warn!(%address, %dev, "announcing: {error}"),
    }
}

/// One interface's [`Link`], kept for the messages of a burst that goes out over time (a
/// paced queue): read before the first message, and read again after a send that found no
/// interface at the index (deleted, or replaced by one of the same name, which has another
/// index). While the interface is missing nothing is kept, so its return is read afresh.
/// A MAC changed in place (same index) shows from the next burst on, as in
/// [`announce_all`].
#[derive(Debug)]
pub(super) struct KeptLink {
    dev: String,
    link: Option<Link>,
}

impl KeptLink {
    pub(super) fn new(dev: String) -> KeptLink {
        KeptLink { dev, link: None }
    }

    /// Sends one message for `address`; a failure is logged, as every announcement's.
    pub(super) async fn send(&mut self, announcer: &baton_net::Announcer, address: IpAddr) {
        let dev = self.dev.as_str();
        let ipv6 = address.is_ipv6();
        let kept = self.link.filter(|link| !ipv6 || link.ipv6);
        let link = match kept.map_or_else(|| Link::read(dev, ipv6), Ok) {
            Ok(link) => link,
            Err(error) => {
                self.link = None;
                tracing::warn!(%address, %dev, "announcing: {error}");
                return;
            }
        };
        self.link = Some(link);
        let error = match try_send_on(announcer, dev, link, address).await {
            Ok(()) => return,
            Err(error) if kept.is_some() && interface_gone(&error) => error,
            Err(error) => {
                tracing::warn!(%address, %dev, "announcing: {error}");
                return;
            }
        };
        // Kept from an earlier message, the index names no interface now: read it again,
        // and send again if the name has another index (the interface was replaced).
        self.link = None;
        match Link::read(dev, ipv6) {
            Ok(fresh) if fresh.layer.index != link.layer.index => {
                self.link = Some(fresh);
                send_on(announcer, dev, fresh, address).await;
            }
            Ok(_) => tracing::warn!(%address, %dev, "announcing: {error}"),
            Err(error) => tracing::warn!(%address, %dev, "announcing: {error}"),
        }
    }
}

/// Whether a send failed because no interface has the index any more: ENXIO from the
/// AF_PACKET socket (packet_snd), ENODEV from the ICMPv6 one (the IPV6_PKTINFO index).
fn interface_gone(error: &baton_net::Error) -> bool {
    match error {
        baton_net::Error::Address { source, .. } => {
            use nix::errno::Errno;
            let gone = [Errno::ENXIO as i32, Errno::ENODEV as i32];
            source
                .raw_os_error()
                .is_some_and(|code| gone.contains(&code))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{IpAddr, KeptLink, paced_order};

    #[test]
    fn a_paced_burst_merges_what_is_already_waiting() {
        assert_eq!(paced_order(1, 5), [0, 0]);
        assert_eq!(paced_order(1, 1), [0]);
        assert_eq!(paced_order(3, 3), [0, 0, 1, 2]);
        assert_eq!(paced_order(3, 1), [0, 1, 2]);
        assert!(paced_order(0, 3).is_empty());
        assert!(paced_order(2, 0).is_empty());
    }

    /// A paced queue keeps its interface's link between messages, reads it again when the
    /// interface is replaced (same name, new index), and keeps nothing while it is missing.
    #[test]
    fn a_kept_link_follows_a_replaced_interface_and_forgets_a_missing_one() {
        let outcome = std::thread::spawn(|| {
            // A namespace of this thread's own (the `ip` children start in it too).
            if nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).is_err() {
                return None; // not root
            }
            let ip = |args: &str| {
                let status = std::process::Command::new("ip")
                    .args(args.split_whitespace())
                    .status()
                    .expect("ip");
                assert!(status.success(), "ip {args}");
            };
            let make = || {
                ip("link add d0 type veth peer name d1");
                ip("link set d1 up");
                ip("link set d0 up");
            };
            make();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let announcer = baton_net::Announcer::new().expect("announcer");
                let address: IpAddr = "10.0.3.100".parse().expect("address");
                let mut kept = KeptLink::new("d0".to_owned());
                kept.send(&announcer, address).await;
                let first = kept.link.expect("read for the first message").layer;
                kept.send(&announcer, address).await;
                assert_eq!(kept.link.map(|l| l.layer), Some(first), "kept");

                ip("link del d0");
                make();
                kept.send(&announcer, address).await;
                let second = kept.link.expect("read again").layer;
                assert_ne!(second.index, first.index, "the new interface's index");

                ip("link del d0");
                kept.send(&announcer, address).await;
                assert!(
                    kept.link.is_none(),
                    "nothing kept while the interface is missing"
                );
                make();
                kept.send(&announcer, address).await;
                assert!(kept.link.is_some_and(|l| l.layer.index != second.index));
            });
            Some(())
        })
        .join()
        .expect("test thread");
        if outcome.is_none() {
            eprintln!("skipped: no network namespace (needs root)");
        }
    }
}
