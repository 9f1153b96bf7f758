//! The sockets of the handoff offer (see `handoff_offer`): one listener per VRRP interface
//! on UDP port [`PORT`], and the old master's sends to its peers (the unicast peers, or the
//! VRRP multicast group, from the instance's interface).

use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use baton_config::{Config, VrrpInstance};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::handoff;
use super::handoff_offer::{self, Offer, PORT};
use super::quiet_vips;

/// VRRP's IPv4 multicast group (RFC 5798 §5.1.1.2): its members are the instance's peers.
const VRRP_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

/// Sends of one offer: it cannot know whether one is lost.
const SENDS: u32 = 3;
const BETWEEN_SENDS: Duration = Duration::from_millis(50);

/// A datagram that came in on the offer port.
pub(super) struct Datagram {
    pub(super) interface: String,
    pub(super) from: IpAddr,
    pub(super) bytes: Vec<u8>,
}

/// The listeners of one configuration; dropping it closes them.
pub(super) struct Listeners {
    received: mpsc::Receiver<Datagram>,
    readers: Vec<JoinHandle<()>>,
}

impl Listeners {
    /// A listener on each interface of the configuration's IPv4 instances. One that cannot
    /// open is logged: its instances never arm the handoff (the safe side).
    pub(super) fn open(config: &Config) -> Listeners {
        let interfaces: BTreeSet<&str> = config
            .instances
            .iter()
            .filter(|instance| instance.all_addresses().any(|vip| vip.address.is_ipv4()))
            .map(|instance| instance.interface.as_str())
            .collect();
        let (sender, received) = mpsc::channel(64);
        let mut readers = Vec::new();
        for interface in interfaces {
            match listen(interface) {
                Ok(socket) => {
                    let sender = sender.clone();
                    let interface = interface.to_owned();
                    readers.push(tokio::spawn(read(socket, interface, sender)));
                }
                Err(error) => tracing::warn!(
                    interface,
                    "handoff offer: cannot listen on UDP port {PORT}; a resigning master's \
                     connections will not be handed back to it: {error}"
                ),
            }
        }
        Listeners { received, readers }
    }

    /// The next datagram. Cancel-safe.
    pub(super) async fn next(&mut self) -> Datagram {
        match self.received.recv().await {
            Some(datagram) => datagram,
            // No listener (or all ended): nothing ever comes.
            None => std::future::pending().await,
        }
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        for reader in &self.readers {
            reader.abort();
        }
    }
}

async fn read(socket: UdpSocket, interface: String, sender: mpsc::Sender<Datagram>) {
    let mut buffer = vec![0u8; 2048];
    loop {
        match socket.recv_from(&mut buffer).await {
            Ok((length, from)) => {
                let datagram = Datagram {
                    interface: interface.clone(),
                    from: from.ip(),
                    bytes: buffer[..length].to_vec(),
                };
                // Full: the protocol loop is behind; an offer is sent thrice.
                if let Err(mpsc::error::TrySendError::Closed(_)) = sender.try_send(datagram) {
                    return;
                }
            }
            Err(error) => {
                tracing::debug!(%interface, "handoff offer: receiving: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// UDP port [`PORT`] on `interface` only, a member of the VRRP group there.
fn listen(interface: &str) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    // A reload opens the next configuration's listeners before closing these.
    socket.set_reuse_address(true)?;
    socket.bind_device(Some(interface.as_bytes()))?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, PORT)).into())?;
    if let Some(address) = quiet_vips::primary(interface) {
        // The VRRP socket's membership would do (IP_MULTICAST_ALL), but not without it.
        if let Err(error) = socket.join_multicast_v4(&VRRP_GROUP, &address) {
            tracing::debug!(interface, "handoff offer: joining {VRRP_GROUP}: {error}");
        }
    }
    UdpSocket::from_std(socket.into())
}

/// `instance` hands over with its IPv4 VIPs kept quietly (see `switchover`, `step_down`):
/// its peers may hand packets back for as long as `config`'s frontends drain, plus the
/// takeover.
pub(super) async fn offer_hand_back(config: &Config, instance: &VrrpInstance) {
    let vips = handoff_offer::ipv4_vips(instance);
    if vips.is_empty() {
        return;
    }
    let offer = Offer {
        vrid: instance.vrid.get(),
        window: handoff::window(config),
        vips,
    };
    send(instance, &offer).await;
}

/// Sends `offer` for `instance` to its peers, [`SENDS`] times; the first before this
/// returns (before the priority-0 advertisement that follows), the others in the background.
async fn send(instance: &VrrpInstance, offer: &Offer) {
    let socket = match sender(instance) {
        Ok(socket) => socket,
        Err(error) => {
            tracing::warn!(
                instance = %instance.name,
                "handoff offer: cannot send; the new master will not hand packets back: {error}"
            );
            return;
        }
    };
    let peers: Vec<SocketAddr> = if instance.unicast_peers.is_empty() {
        vec![SocketAddr::V4(SocketAddrV4::new(VRRP_GROUP, PORT))]
    } else {
        instance
            .unicast_peers
            .iter()
            .filter(|peer| peer.address.is_ipv4())
            .map(|peer| SocketAddr::new(peer.address, PORT))
            .collect()
    };
    let datagram = offer.encode();
    send_once(&socket, &peers, &datagram, &instance.name).await;
    let name = instance.name.clone();
    tokio::spawn(async move {
        for _ in 1..SENDS {
            tokio::time::sleep(BETWEEN_SENDS).await;
            send_once(&socket, &peers, &datagram, &name).await;
        }
    });
    tracing::info!(
        instance = %instance.name,
        vips = ?offer.vips,
        window = ?offer.window,
        "handoff offer: sent to the peers (UDP port {PORT})"
    );
}

async fn send_once(socket: &UdpSocket, peers: &[SocketAddr], datagram: &[u8], name: &str) {
    for peer in peers {
        if let Err(error) = socket.send_to(datagram, peer).await {
            tracing::debug!(instance = name, %peer, "handoff offer: sending: {error}");
        }
    }
}

/// From the instance's interface and advertisement source, as its adverts: the new master
/// checks that the offer comes from the address the priority 0 came from.
fn sender(instance: &VrrpInstance) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.bind_device(Some(instance.interface.as_bytes()))?;
    socket.set_nonblocking(true)?;
    let source = match instance.source_address {
        Some(IpAddr::V4(address)) => Some(address),
        _ => quiet_vips::primary(&instance.interface),
    };
    if let Some(source) = source {
        socket.bind(&SocketAddr::from((source, 0)).into())?;
        socket.set_multicast_if_v4(&source)?;
    }
    socket.set_multicast_loop_v4(false)?;
    socket.set_multicast_ttl_v4(1)?;
    UdpSocket::from_std(socket.into())
}
