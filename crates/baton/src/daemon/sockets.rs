//! One raw VRRP socket per (interface, address family), a reader task for each, and sending
//! adverts through the right one.
//!
//! Anyone on the link can send IP protocol 112, so the reader must not be the weak point: it
//! never sleeps and never blocks on the protocol task. A packet that cannot be an advert
//! (oversized, malformed) is discarded at the socket at the cost of one read; when the
//! protocol task falls behind, the excess is dropped at the bounded queue, and once the queue
//! is half full only packets that could be an advert for one of the socket's instances are
//! queued, so junk cannot crowd out the master's adverts. Every drop is
//! counted by reason (`baton status`, `baton_vrrp_receive_dropped_packets_total`) and logged
//! at most once per reason every [`LOG_EVERY`], with how many were not logged.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use baton_config::{Config, Family, VrrpInstance};
use baton_vrrp::Transmit;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::net_family;

/// Packets waiting for the protocol task; beyond this a flood is dropped at the reader.
/// At most 1024 x [`baton_net::RECEIVE_BUFFER`] bytes, whatever is sent.
const INBOUND_QUEUE: usize = 1024;
/// From this many packets queued, the reader sheds what [`plausible`] refuses.
const SHED_FROM: usize = INBOUND_QUEUE / 2;
/// At most one log line per drop reason and socket this often.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// Packets a reader takes in a row before it lets other tasks of its thread run.
const READ_BATCH: u32 = 64;
/// Socket errors in a row (no packet between) after which the reader pauses briefly, so a
/// socket that fails at once forever does not spin a core. Packets wait in the socket's queue
/// meanwhile; a packet never causes an error (see `baton_net::Incoming`).
const ERRORS_BEFORE_PAUSE: u32 = 100;
const ERROR_PAUSE: Duration = Duration::from_millis(10);

/// A received packet, handed to the protocol task.
#[derive(Debug)]
pub(crate) struct Inbound {
    pub(crate) interface: String,
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    pub(crate) ttl: u8,
    pub(crate) payload: Vec<u8>,
}

#[derive(Debug)]
pub(crate) struct Sockets {
    by_key: HashMap<(String, Family), Arc<baton_net::VrrpSocket>>,
}

impl Sockets {
    /// Opens the sockets `config`'s instances need, except on the `missing` interfaces
    /// (`dynamic_interfaces`: their instances wait in FAULT and send nothing).
    pub(crate) async fn open(
        config: &Config,
        missing: &BTreeSet<String>,
    ) -> anyhow::Result<(Sockets, mpsc::Receiver<Inbound>, Vec<JoinHandle<()>>)> {
        let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
        let mut by_key = HashMap::new();
        let mut tasks = Vec::new();
        // A use_vmac link is made only once its base exists: no socket on it before.
        let waiting: BTreeSet<&str> = config
            .instances
            .iter()
            .filter(|i| missing.contains(&i.interface))
            .map(|i| i.advert_interface())
            .collect();
        let keys = multicast_groups(config).into_iter();
        let open_now = |i: &String| !missing.contains(i) && !waiting.contains(i.as_str());
        for ((interface, family), groups) in keys.filter(|((i, _), _)| open_now(i)) {
            let rfc_group = match family {
                Family::Ipv4 => IpAddr::from(baton_vrrp::VRRP_MULTICAST_V4),
                Family::Ipv6 => IpAddr::from(baton_vrrp::VRRP_MULTICAST_V6),
            };
            let membership = if groups.contains(&rfc_group) {
                baton_net::Membership::Multicast
            } else {
                baton_net::Membership::Unicast
            };
            let socket = baton_net::VrrpSocket::open(&interface, net_family(family), membership)
                .with_context(|| format!("opening the {family} VRRP socket on {interface}"))?;
            // keepalived's mcast_dst_ip: the other groups adverts are sent to here.
            for group in groups.iter().filter(|&&g| g != rfc_group) {
                socket
                    .join(*group)
                    .with_context(|| format!("joining {group} on {interface}"))?;
            }
            let socket = Arc::new(socket);
            let vrids = config
                .instances
                .iter()
                .filter(|i| i.advert_interface() == interface && i.family() == family)
                .map(|i| i.vrid.get())
                .collect();
            tasks.push(spawn_reader(
                (interface.clone(), vrids),
                Arc::clone(&socket),
                tx.clone(),
            ));
            by_key.insert((interface, family), socket);
        }
        Ok((Sockets { by_key }, rx, tasks))
    }

    pub(crate) async fn send(
        &self,
        instance: &VrrpInstance,
        transmit: &Transmit,
    ) -> anyhow::Result<()> {
        let key = (instance.advert_interface().to_owned(), instance.family());
        let socket = self
            .by_key
            .get(&key)
            .context("no socket for the instance")?;
        socket
            .send_with_ttl(transmit.src, transmit.dst, transmit.ttl, &transmit.payload)
            .await?;
        Ok(())
    }
}

/// The (interface, family) sockets the instances share, each with the multicast groups its
/// instances send to (none: unicast only).
fn multicast_groups(config: &Config) -> HashMap<(String, Family), BTreeSet<IpAddr>> {
    let mut keys: HashMap<_, BTreeSet<IpAddr>> = HashMap::new();
    for instance in &config.instances {
        let groups = keys
            .entry((instance.advert_interface().to_owned(), instance.family()))
            .or_default();
        if instance.unicast_peers.is_empty() {
            let group = instance
                .election
                .mcast_dst_ip
                .unwrap_or(match instance.family() {
                    Family::Ipv4 => baton_vrrp::VRRP_MULTICAST_V4.into(),
                    Family::Ipv6 => baton_vrrp::VRRP_MULTICAST_V6.into(),
                });
            groups.insert(group);
        }
    }
    keys
}

/// Why a reader dropped a packet, beyond what the socket discards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Reason {
    Discarded(baton_net::DiscardReason),
    /// The protocol task's queue was full.
    QueueFull,
    /// The kernel dropped it: the socket's receive queue was full (SO_RXQ_OVFL).
    KernelOverflow,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Discarded(reason) => reason.as_str(),
            Reason::QueueFull => "queue_full",
            Reason::KernelOverflow => "kernel_overflow",
        }
    }
}

/// One reader's drop counters and rate-limited log.
struct Drops {
    interface: String,
    family: &'static str,
    counters: HashMap<Reason, Arc<AtomicU64>>,
    /// Per reason: when the last line was logged, and drops since that were not.
    logged: HashMap<Reason, (Instant, u64)>,
}

impl Drops {
    fn new(interface: &str, family: baton_net::Family) -> Drops {
        Drops {
            interface: interface.to_owned(),
            family: match family {
                baton_net::Family::Ipv4 => "ipv4",
                baton_net::Family::Ipv6 => "ipv6",
            },
            counters: HashMap::new(),
            logged: HashMap::new(),
        }
    }

    /// Counts `count` drops and logs, unless this reason was logged less than
    /// [`LOG_EVERY`] ago.
    fn count(&mut self, reason: Reason, count: u64, detail: impl FnOnce() -> String) {
        let (interface, family) = (&self.interface, self.family);
        self.counters
            .entry(reason)
            .or_insert_with(|| {
                crate::status::RECEIVE_DROPS.counter(interface, family, reason.as_str())
            })
            .fetch_add(count, Ordering::Relaxed);
        let now = Instant::now();
        match self.logged.get_mut(&reason) {
            Some((at, suppressed)) if now.duration_since(*at) < LOG_EVERY => {
                *suppressed += count;
            }
            entry => {
                let suppressed = entry.map_or(0, |(_, suppressed)| *suppressed);
                tracing::warn!(
                    interface = %self.interface,
                    family = self.family,
                    reason = reason.as_str(),
                    "dropped VRRP packet: {}; {suppressed} more dropped for this reason \
                     since the last line (at most one line per {}s)",
                    detail(),
                    LOG_EVERY.as_secs(),
                );
                self.logged.insert(reason, (now, 0));
            }
        }
    }
}

/// Whether `packet` could be an advert for one of `vrids`, by what costs nothing to check:
/// TTL 255 if multicast (RFC 5798 §7.1; unicast peers may send another, as the engine
/// accepts), version 2 or 3, type ADVERTISEMENT, a VRID of ours, and room for the addresses
/// it counts (and VRRPv2's authentication data). The engine checks it all again, and the
/// rest; this only decides what to shed while the queue is filling.
fn plausible(packet: &Inbound, vrids: &[u8]) -> bool {
    let bytes = &packet.payload;
    let [version_type, vrid, _, count, ..] = bytes[..] else {
        return false;
    };
    let address_len = if packet.src.is_ipv6() { 16 } else { 4 };
    let needed = 8 + usize::from(count) * address_len;
    let needed = match version_type {
        0x21 => needed + 8,
        0x31 => needed,
        _ => return false,
    };
    let ttl_ok = packet.ttl == 255 || !packet.dst.is_multicast();
    ttl_ok && vrids.contains(&vrid) && bytes.len() >= needed
}

fn spawn_reader(
    (interface, vrids): (String, Vec<u8>),
    socket: Arc<baton_net::VrrpSocket>,
    inbound: mpsc::Sender<Inbound>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut buffer = vec![0; baton_net::RECEIVE_BUFFER];
        let mut drops = Drops::new(&interface, socket.family());
        let mut overflow_seen = 0u32;
        let mut in_a_row = 0u32;
        let mut errors = 0u32;
        let mut error_logged: Option<Instant> = None;
        loop {
            // A flood keeps the socket readable: yield now and then, so the tasks that share
            // this thread (the protocol task among them) are not starved.
            in_a_row += 1;
            if in_a_row >= READ_BATCH {
                in_a_row = 0;
                tokio::task::yield_now().await;
            }
            let incoming = socket.recv(&mut buffer).await;
            let overflow = socket.overflow_drops();
            if overflow != overflow_seen {
                let lost = u64::from(overflow.wrapping_sub(overflow_seen));
                overflow_seen = overflow;
                drops.count(Reason::KernelOverflow, lost, || {
                    format!("{lost} dropped by the kernel: the socket's receive queue was full")
                });
            }
            match incoming {
                Ok(baton_net::Incoming::Packet(received)) => {
                    errors = 0;
                    let src = received.src;
                    let packet = Inbound {
                        interface: interface.clone(),
                        src,
                        dst: received.dst,
                        ttl: received.ttl,
                        payload: buffer[received.payload].to_vec(),
                    };
                    // A full queue means a flood; dropping here keeps the protocol task
                    // responsive, and a real master's adverts come again next interval.
                    let queued = inbound.max_capacity() - inbound.capacity();
                    if queued >= SHED_FROM && !plausible(&packet, &vrids) {
                        drops.count(Reason::QueueFull, 1, || {
                            format!("from {src}: shed while the protocol task's queue fills")
                        });
                        continue;
                    }
                    match inbound.try_send(packet) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            drops.count(Reason::QueueFull, 1, || {
                                format!("from {src}: the protocol task's queue is full")
                            });
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => return,
                    }
                }
                Ok(baton_net::Incoming::Discarded(discarded)) => {
                    errors = 0;
                    drops.count(Reason::Discarded(discarded.reason), 1, || {
                        let src = discarded.src.map_or("?".to_owned(), |s| s.to_string());
                        format!("from {src}: {}", discarded.detail)
                    });
                }
                Ok(_) => errors = 0,
                Err(error) => {
                    errors += 1;
                    let now = Instant::now();
                    if error_logged.is_none_or(|at| now.duration_since(at) >= LOG_EVERY) {
                        error_logged = Some(now);
                        tracing::warn!(%interface, "receiving: {error} (at most one line per {}s)", LOG_EVERY.as_secs());
                    }
                    if errors >= ERRORS_BEFORE_PAUSE {
                        errors = 0;
                        tokio::time::sleep(ERROR_PAUSE).await;
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(ttl: u8, payload: &[u8]) -> Inbound {
        Inbound {
            interface: "eth0".into(),
            src: "10.0.3.5".parse().expect("address"),
            dst: "224.0.0.18".parse().expect("address"),
            ttl,
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn only_what_could_be_our_advert_is_plausible() {
        let v3 = [0x31, 51, 100, 1, 0, 100, 0, 0, 10, 0, 3, 100];
        let mut v2 = vec![0x21, 51, 100, 1, 1, 1, 0, 0, 10, 0, 3, 100];
        v2.extend_from_slice(b"baton12\0");
        assert!(plausible(&packet(255, &v3), &[51]));
        assert!(plausible(&packet(255, &v2), &[7, 51]));
        assert!(!plausible(&packet(64, &v3), &[51]), "TTL");
        assert!(!plausible(&packet(255, &v3), &[52]), "VRID");
        assert!(!plausible(&packet(255, &v3[..10]), &[51]), "cut short");
        assert!(
            !plausible(&packet(255, &v2[..12]), &[51]),
            "v2 without auth"
        );
        assert!(
            !plausible(&packet(255, &[0x41, 51, 100, 0, 0, 0, 0, 0]), &[51]),
            "version"
        );
        assert!(
            !plausible(&packet(255, &[0x32, 51, 100, 0, 0, 0, 0, 0]), &[51]),
            "type"
        );
        assert!(!plausible(&packet(255, &[]), &[51]), "empty");
        // Unicast peers may send with another TTL (unicast_ttl, routed peers).
        let mut unicast = packet(64, &v3);
        unicast.dst = "10.0.3.6".parse().expect("address");
        assert!(plausible(&unicast, &[51]), "unicast TTL");
    }

    #[test]
    fn sockets_join_the_groups_their_instances_send_to() {
        let conf = r#"
vrrp_instance A {
    interface eth0
    virtual_router_id 1
    virtual_ipaddress {
        10.0.3.100
    }
}
vrrp_instance B {
    interface eth0
    virtual_router_id 2
    mcast_dst_ip 224.0.0.88
    virtual_ipaddress {
        10.0.3.101
    }
}
vrrp_instance C {
    interface eth1
    virtual_router_id 3
    unicast_src_ip 10.0.4.5
    unicast_peer {
        10.0.4.6
    }
    virtual_ipaddress {
        10.0.4.100
    }
}
"#;
        let loaded = baton_config::parse_keepalived(conf, "k.conf").expect("valid");
        let groups = multicast_groups(&loaded.config);
        let eth0: Vec<String> = groups[&("eth0".to_owned(), Family::Ipv4)]
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(eth0, ["224.0.0.18", "224.0.0.88"]);
        assert!(groups[&("eth1".to_owned(), Family::Ipv4)].is_empty());
    }
}
