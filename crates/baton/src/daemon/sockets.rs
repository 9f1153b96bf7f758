//! One raw VRRP socket per (interface, address family), read by the protocol task itself,
//! and sending adverts through the right one.
//!
//! The protocol task polls the sockets in the same `select!` as its timer: a packet goes
//! from the socket to the engine without a task or a channel between, so an advert wakes
//! one task once (a reader task and a channel cost a second task poll and a wake-up per
//! advert, as much again as the engine's own work with adverts every 10 ms).
//!
//! Anyone on the link can send IP protocol 112, so reading must not be the weak point. A
//! packet that cannot be an advert (oversized, malformed) is discarded at the socket at the
//! cost of one read. When the protocol task falls behind (a socket read [`SHED_FROM`] times
//! in a row without running empty), only packets that could be an advert for one of the
//! socket's instances reach the engine, so junk cannot crowd out the master's adverts; the
//! rest waits in the socket's large receive queue, whose overflow the kernel counts. Every
//! drop is counted by reason (`baton status`, `baton_vrrp_receive_dropped_packets_total`)
//! and logged at most once per reason every [`LOG_EVERY`], with how many were not logged.
//!
//! A protocol task that was not scheduled for a while (a loaded machine, a stopped process)
//! wakes with its timer expired and the master's adverts of the whole pause queued here.
//! Those adverts say the master was alive: they are read before the timer is acted on (a
//! catch-up, [`Sockets::start_catch_up`]), and one that waited in the queue counts from
//! when the kernel received it ([`Inbound::arrived`]) while no instance is Master (see
//! `Running::received`), not from when it was read. keepalived does the first (its
//! scheduler hands a readable socket to its reader before it looks for timers that
//! expired, lib/scheduler.c `thread_fetch_next_queue`, and reads until the queue is empty,
//! vrrp/vrrp_scheduler.c `vrrp_dispatcher_read`), but counts each advert from the moment
//! it is read, so a stall also lengthens a dead master's life by the stall. RFC 5798
//! §6.4.2 resets the Master_Down_Timer when an advert "is received": by the arrival time,
//! a master that kept advertising through the pause is alive (its last advert arrived
//! within Master_Down_Interval), and one that stopped before it is down at once, not one
//! Master_Down_Interval after the reader woke.

use std::collections::{BTreeSet, HashMap};
use std::future::Future as _;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use baton_config::{Config, Family, VrrpInstance};
use baton_vrrp::Transmit;

use super::net_family;

/// Packets read from one socket in a row, without finding it empty, from which on only
/// what [`plausible`] accepts goes to the engine: the protocol task is falling behind.
const SHED_FROM: u32 = 512;
/// At most one log line per drop reason and socket this often.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// Packets that go nowhere (discarded, shed, errors) read in one poll before the protocol
/// task lets its timer and other inputs be polled.
const READ_BATCH: u32 = 64;
/// Socket errors in a row (no packet between) after which a socket is left alone briefly, so
/// a socket that fails at once forever does not spin a core. Packets wait in the socket's
/// queue meanwhile; a packet never causes an error (see `baton_net::Incoming`).
const ERRORS_BEFORE_PAUSE: u32 = 100;
const ERROR_PAUSE: Duration = Duration::from_millis(10);
/// At most this many packets read in one catch-up (see [`Sockets::start_catch_up`]), should
/// the kernel not stamp them: 100 instances' adverts every 10 ms over a 200 ms pause, twice.
const CATCH_UP_MAX: u32 = 4096;

/// A received packet, for the engine.
#[derive(Debug)]
pub(crate) struct Inbound {
    /// Shared with the socket's reader: a packet costs no copy of the name.
    pub(crate) interface: Arc<str>,
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    pub(crate) ttl: u8,
    pub(crate) payload: Vec<u8>,
    /// When the kernel received it (see `baton_net::Received::arrived`).
    pub(crate) arrived: Option<Instant>,
}

#[derive(Debug)]
pub(crate) struct Sockets {
    /// One per (interface, family); an instance sends on the one of its advert interface
    /// and family, found by a look along them (a few per host: no map, and no key to
    /// build per advert).
    readers: Vec<Reader>,
    /// The reader [`Sockets::poll_next`] tries first: each in turn, so that a flood on one
    /// link does not keep the others waiting.
    next: usize,
    /// Where every read lands: [`baton_net::RECEIVE_BUFFER`] bytes hold any advert.
    buffer: Vec<u8>,
    /// The control messages' scratch space.
    control: Vec<u8>,
    /// A payload's buffer handed back after use ([`Sockets::recycle`]), for the next packet:
    /// an advert read allocates nothing.
    spare: Vec<u8>,
    /// A catch-up under way (see [`Sockets::start_catch_up`]).
    catch_up: Option<CatchUp>,
}

/// What is left of a catch-up: it reads what arrived before `since`, up to `left` packets.
#[derive(Debug, Clone, Copy)]
struct CatchUp {
    since: Instant,
    left: u32,
}

impl Sockets {
    /// Opens the sockets `config`'s instances need, except on the `missing` interfaces
    /// (`dynamic_interfaces`: their instances wait in FAULT and send nothing). Nothing is
    /// read before [`Sockets::poll_next`] is: packets wait in the sockets' queues.
    pub(crate) async fn open(
        config: &Config,
        missing: &BTreeSet<String>,
    ) -> anyhow::Result<Sockets> {
        let mut readers = Vec::new();
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
            let vrids = config
                .instances
                .iter()
                .filter(|i| i.advert_interface() == interface && i.family() == family)
                .map(|i| i.vrid.get())
                .collect();
            readers.push(Reader::new(interface, family, vrids, socket));
        }
        Ok(Sockets {
            readers,
            next: 0,
            buffer: vec![0; baton_net::RECEIVE_BUFFER],
            control: Vec::new(),
            spare: Vec::new(),
            catch_up: None,
        })
    }

    /// Sends `transmit` on `instance`'s socket, waiting a little while the send buffer is
    /// full (see `baton_net::VrrpSocket::send_with_ttl`).
    pub(crate) async fn send(
        &self,
        instance: &VrrpInstance,
        transmit: &Transmit,
    ) -> io::Result<()> {
        self.socket_of(instance)?
            .send_with_ttl(transmit.src, transmit.dst, transmit.ttl, &transmit.payload)
            .await
    }

    /// [`Sockets::send`] without waiting: `WouldBlock` when the send buffer is full.
    pub(crate) fn try_send(&self, instance: &VrrpInstance, transmit: &Transmit) -> io::Result<()> {
        self.socket_of(instance)?.try_send_with_ttl(
            transmit.src,
            transmit.dst,
            transmit.ttl,
            &transmit.payload,
        )
    }

    fn socket_of(&self, instance: &VrrpInstance) -> io::Result<&baton_net::VrrpSocket> {
        let (interface, family) = (instance.advert_interface(), instance.family());
        self.readers
            .iter()
            .find(|reader| *reader.interface == *interface && reader.family == family)
            .map(|reader| &reader.socket)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no socket for the instance"))
    }

    /// The next packet for the engine, from any socket; what goes nowhere (discarded, shed)
    /// is counted on the way. `Pending` when every socket is empty (or paused after
    /// errors), and also after [`READ_BATCH`] packets that went nowhere, with the task woken
    /// again at once: a flood of junk leaves the timer its turn. Cancel-safe: a packet is
    /// taken off a socket only by a poll that returns it or counts it as dropped.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Inbound> {
        let count = self.readers.len();
        let mut budget = READ_BATCH;
        for turn in 0..count {
            let index = (self.next + turn) % count;
            let reader = &mut self.readers[index];
            while let Poll::Ready(result) =
                reader.poll_recv(cx, &mut self.buffer, &mut self.control)
            {
                if let Some(packet) = reader.take(result, &self.buffer, &mut self.spare) {
                    self.next = (index + 1) % count;
                    return Poll::Ready(packet);
                }
                budget -= 1;
                if budget == 0 {
                    self.next = index;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
        }
        Poll::Pending
    }

    /// Takes back a payload read by [`Sockets::poll_next`] once the engine is done with it.
    pub(crate) fn recycle(&mut self, payload: Vec<u8>) {
        self.spare = payload;
    }
}

impl Sockets {
    /// The protocol timer expired: before it is acted on, what the sockets hold now is read
    /// ([`Sockets::poll_queued`]), so that adverts queued while the protocol task was not
    /// running count (see the module's doc). Bounded three ways: it ends at the first
    /// packet that arrived after it started, when the sockets run empty, and after
    /// [`CATCH_UP_MAX`] packets; and a flood of junk still ends it after [`READ_BATCH`]
    /// packets that went nowhere, as [`Sockets::poll_next`] lets the timer run. Nothing
    /// when one is under way already.
    pub(crate) fn start_catch_up(&mut self) {
        if self.catch_up.is_none() {
            self.catch_up = Some(CatchUp {
                since: Instant::now(),
                left: CATCH_UP_MAX,
            });
        }
    }

    /// Whether a catch-up is under way.
    pub(crate) fn catching_up(&self) -> bool {
        self.catch_up.is_some()
    }

    /// Ends the catch-up: the timer is no longer due (the packets read moved it).
    pub(crate) fn end_catch_up(&mut self) {
        self.catch_up = None;
    }

    /// The next packet of the catch-up, or `Pending` once it has ended (see
    /// [`Sockets::start_catch_up`]); the timer's turn then.
    pub(crate) fn poll_queued(&mut self, cx: &mut Context<'_>) -> Poll<Inbound> {
        let Some(catch_up) = &mut self.catch_up else {
            return Poll::Pending;
        };
        let since = catch_up.since;
        catch_up.left = catch_up.left.saturating_sub(1);
        let last = catch_up.left == 0;
        let polled = self.poll_next(cx);
        let fresh = match &polled {
            Poll::Ready(packet) => packet.arrived.is_some_and(|at| at >= since),
            Poll::Pending => true,
        };
        if last || fresh {
            self.catch_up = None;
        }
        polled
    }
}

/// One socket as the protocol task reads it: what it drops and why, and its errors.
struct Reader {
    interface: Arc<str>,
    family: Family,
    /// The VRIDs of the instances that advertise on this socket.
    vrids: Vec<u8>,
    socket: baton_net::VrrpSocket,
    drops: Drops,
    /// The kernel's overflow count as last seen.
    overflow_seen: u32,
    /// Packets read in a row without the socket running empty (see [`SHED_FROM`]).
    in_a_row: u32,
    /// Errors in a row, and when one was logged last.
    errors: u32,
    error_logged: Option<Instant>,
    /// Left alone until this fires, after [`ERRORS_BEFORE_PAUSE`] errors in a row.
    paused: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("socket", &self.socket)
            .field("vrids", &self.vrids)
            .finish_non_exhaustive()
    }
}

impl Reader {
    fn new(
        interface: String,
        family: Family,
        vrids: Vec<u8>,
        socket: baton_net::VrrpSocket,
    ) -> Reader {
        Reader {
            drops: Drops::new(&interface, socket.family()),
            interface: interface.into(),
            family,
            vrids,
            socket,
            overflow_seen: 0,
            in_a_row: 0,
            errors: 0,
            error_logged: None,
            paused: None,
        }
    }

    /// One read, unless the socket is empty or paused after errors.
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buffer: &mut [u8],
        control: &mut Vec<u8>,
    ) -> Poll<std::io::Result<baton_net::Incoming>> {
        if let Some(pause) = &mut self.paused {
            if pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.paused = None;
        }
        let read = self.socket.poll_recv(cx, buffer, control);
        if read.is_pending() {
            // Behind a flood the queue may have overflowed after the last packet that
            // carried the kernel's count: ask for it, so that every drop is counted now.
            if self.in_a_row >= SHED_FROM && self.socket.refresh_overflow_drops().is_ok() {
                self.count_overflow();
            }
            self.in_a_row = 0;
        }
        read
    }

    /// Counts what the kernel dropped since the last look (SO_RXQ_OVFL). The count only
    /// grows (modulo 2^32), but a packet queued before the last look carries an older,
    /// smaller one: a step back is not a drop.
    fn count_overflow(&mut self) {
        let ahead = self
            .socket
            .overflow_drops()
            .wrapping_sub(self.overflow_seen);
        if ahead != 0 && ahead < u32::MAX / 2 {
            let lost = u64::from(ahead);
            self.overflow_seen = self.overflow_seen.wrapping_add(ahead);
            self.drops.count(Reason::KernelOverflow, lost, || {
                format!("{lost} dropped by the kernel: the socket's receive queue was full")
            });
        }
    }

    /// What a read gave: a packet for the engine, or None when it went nowhere (counted).
    fn take(
        &mut self,
        read: std::io::Result<baton_net::Incoming>,
        buffer: &[u8],
        spare: &mut Vec<u8>,
    ) -> Option<Inbound> {
        self.count_overflow();
        match read {
            Ok(baton_net::Incoming::Packet(received)) => {
                self.errors = 0;
                self.in_a_row = self.in_a_row.saturating_add(1);
                let src = received.src;
                let packet = Inbound {
                    interface: Arc::clone(&self.interface),
                    src,
                    dst: received.dst,
                    ttl: received.ttl,
                    payload: {
                        let mut payload = std::mem::take(spare);
                        payload.clear();
                        payload.extend_from_slice(&buffer[received.payload]);
                        payload
                    },
                    arrived: received.arrived,
                };
                // Behind a flood: the engine gets what could be an advert of ours, and a
                // real master's adverts come again next interval if the kernel drops one.
                if self.in_a_row >= SHED_FROM && !plausible(&packet, &self.vrids) {
                    self.drops.count(Reason::QueueFull, 1, || {
                        format!("from {src}: shed while the protocol task falls behind")
                    });
                    return None;
                }
                Some(packet)
            }
            Ok(baton_net::Incoming::Discarded(discarded)) => {
                self.errors = 0;
                self.drops
                    .count(Reason::Discarded(discarded.reason), 1, || {
                        let src = discarded.src.map_or("?".to_owned(), |s| s.to_string());
                        format!("from {src}: {}", discarded.detail)
                    });
                None
            }
            Ok(_) => {
                self.errors = 0;
                None
            }
            Err(error) => {
                self.errors += 1;
                let now = Instant::now();
                if self
                    .error_logged
                    .is_none_or(|at| now.duration_since(at) >= LOG_EVERY)
                {
                    self.error_logged = Some(now);
                    tracing::warn!(
                        interface = %self.interface,
                        "receiving: {error} (at most one line per {}s)",
                        LOG_EVERY.as_secs()
                    );
                }
                if self.errors >= ERRORS_BEFORE_PAUSE {
                    self.errors = 0;
                    self.paused = Some(Box::pin(tokio::time::sleep(ERROR_PAUSE)));
                }
                None
            }
        }
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
    /// Shed while the protocol task fell behind (see [`SHED_FROM`]); the name is the one
    /// the counter has always had.
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

/// One socket's drop counters and rate-limited log.
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
/// rest; this only decides what to shed while the protocol task falls behind.
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
            arrived: None,
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
