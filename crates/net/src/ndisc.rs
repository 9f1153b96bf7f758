//! Unsolicited neighbour advertisement (RFC 4861 §4.4, §7.2.6), the IPv6 counterpart of
//! gratuitous ARP (RFC 5798 §6.4.2 "send an Unsolicited Neighbor Advertisement with the Router
//! Flag (R) set to 1 if it is a router").
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Type      |     Code      |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |R|S|O|                     Reserved                            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Target Address (16 bytes)               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Type = 2     |  Length = 1   |  Target Link-Layer Address    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 (6 bytes, RFC 4861 §4.6.1)                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! As keepalived (vrrp_ndisc.c) sends it: to ff02::1, hop limit 255, Override set, Solicited
//! clear (§7.2.4: never to a multicast address), Router set when IPv6 forwarding is on for the
//! interface, from the VIP itself. keepalived builds the whole Ethernet frame on an AF_PACKET
//! socket; here a raw ICMPv6 socket lets the kernel build the IPv6 header and compute the
//! ICMPv6 checksum, which it always does on IPPROTO_ICMPV6 raw sockets.

use std::io;
use std::net::{Ipv6Addr, SocketAddrV6};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::Interest;

use crate::error::Error;
use crate::link::{LinkLayer, ipv6_forwarding, link_layer};

const TYPE_NEIGHBOR_ADVERTISEMENT: u8 = 136;
const FLAG_ROUTER: u8 = 0x80;
const FLAG_OVERRIDE: u8 = 0x20;
const OPTION_TARGET_LINK_LAYER_ADDRESS: u8 = 2;
/// RFC 4861 §7.1.2: receivers drop neighbour discovery that did not come with hop limit 255.
const HOP_LIMIT: u32 = 255;
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// ICMPv6 header and flags (8) + target (16) + one 8-byte option.
pub(crate) const MESSAGE_LEN: usize = 32;

/// The ICMPv6 message, checksum left zero for the kernel to fill in.
pub(crate) fn neighbour_advertisement(
    target: Ipv6Addr,
    mac: [u8; 6],
    router: bool,
) -> [u8; MESSAGE_LEN] {
    let mut message = [0; MESSAGE_LEN];
    message[0] = TYPE_NEIGHBOR_ADVERTISEMENT;
    message[4] = FLAG_OVERRIDE | if router { FLAG_ROUTER } else { 0 };
    message[8..24].copy_from_slice(&target.octets());
    message[24] = OPTION_TARGET_LINK_LAYER_ADDRESS;
    message[25] = 1; // in units of 8 bytes
    message[26..32].copy_from_slice(&mac);
    message
}

/// Sends one unsolicited neighbour advertisement for `target` to all nodes on `interface`,
/// from `target` itself when it is a usable address of this host (as keepalived), else from
/// the source the kernel picks (the link-local address). Must be called from within a tokio
/// runtime.
pub async fn send_unsolicited_na(interface: &str, target: Ipv6Addr) -> Result<(), Error> {
    let link = link_layer(interface)?;
    send_unsolicited_na_on(interface, link, target).await
}

/// [`send_unsolicited_na`] with the interface's index and MAC already known (a burst reads
/// them once: see [`LinkLayer`]).
pub async fn send_unsolicited_na_on(
    interface: &str,
    link: LinkLayer,
    target: Ipv6Addr,
) -> Result<(), Error> {
    let LinkLayer { index, mac } = link;
    let message = neighbour_advertisement(target, mac, ipv6_forwarding(interface));
    let error = |operation| {
        move |source| Error::Address {
            interface: interface.to_owned(),
            address: target.into(),
            operation,
            source,
        }
    };
    let socket = open(interface, index).map_err(error("opening ICMPv6 socket for"))?;
    // A tentative or foreign address cannot be bound (EADDRNOTAVAIL); the kernel's choice of
    // source is still a valid advertisement, only not keepalived's. A link-local VIP (RFC 5798
    // §5.2.9's first IPv6 address) needs a scope: the bound device gives it, the id says it.
    let _ = socket.bind(&SockAddr::from(SocketAddrV6::new(target, 0, 0, index)));
    let destination = SockAddr::from(SocketAddrV6::new(ALL_NODES, 0, 0, index));
    let socket = crate::sys::register(socket, Interest::WRITABLE)
        .map_err(error("registering ICMPv6 socket for"))?;
    let sent = socket
        .async_io(Interest::WRITABLE, |socket| {
            socket.send_to(&message, &destination)
        })
        .await
        .map_err(error("sending neighbour advertisement for"))?;
    if sent != message.len() {
        let short = io::Error::other(format!("sent {sent} of {} bytes", message.len()));
        return Err(error("sending neighbour advertisement for")(short));
    }
    Ok(())
}

fn open(interface: &str, index: u32) -> io::Result<Socket> {
    let socket = Socket::new(
        Domain::IPV6,
        Type::RAW.nonblocking(),
        Some(Protocol::ICMPV6),
    )?;
    socket.bind_device(Some(interface.as_bytes()))?;
    socket.set_multicast_if_v6(index)?;
    socket.set_multicast_hops_v6(HOP_LIMIT)?;
    socket.set_unicast_hops_v6(HOP_LIMIT)?;
    socket.set_multicast_loop_v6(false)?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_is_bit_exact() {
        let target: Ipv6Addr = "2001:db8::100".parse().unwrap();
        let mac = [0x02, 0x00, 0x5e, 0x10, 0x20, 0x30];
        #[rustfmt::skip]
        let expected: [u8; 32] = [
            // Type 136, code 0, checksum (the kernel's).
            136, 0, 0, 0,
            // R=0 S=0 O=1, reserved.
            0x20, 0, 0, 0,
            // Target address.
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00,
            // Option 2 (target link-layer address), length 1 (8 bytes), the MAC.
            2, 1, 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30,
        ];
        assert_eq!(neighbour_advertisement(target, mac, false), expected);

        let mut as_router = expected;
        as_router[4] = 0xa0; // R=1 O=1
        assert_eq!(neighbour_advertisement(target, mac, true), as_router);
    }
}
