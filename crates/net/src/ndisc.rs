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
//! socket; here a raw ICMPv6 socket (the namespace's one: see `packet_sender`) lets the
//! kernel build the IPv6 header and compute the ICMPv6 checksum, which it always does on
//! IPPROTO_ICMPV6 raw sockets; the hop limit is the socket's (255).

use std::io;
use std::net::Ipv6Addr;

use crate::error::Error;
use crate::link::{LinkLayer, ipv6_forwarding, link_layer};
use crate::packet_sender::Announcer;

const TYPE_NEIGHBOR_ADVERTISEMENT: u8 = 136;
const FLAG_ROUTER: u8 = 0x80;
const FLAG_OVERRIDE: u8 = 0x20;
const OPTION_TARGET_LINK_LAYER_ADDRESS: u8 = 2;
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
/// runtime. Reads the interface, its forwarding setting and the thread's namespace each
/// time: a burst uses an [`Announcer`] and reads the others once.
pub async fn send_unsolicited_na(interface: &str, target: Ipv6Addr) -> Result<(), Error> {
    let link = link_layer(interface)?;
    let router = ipv6_forwarding(interface);
    Announcer::new()?
        .unsolicited_na(interface, link, router, target)
        .await
}

impl Announcer {
    /// [`send_unsolicited_na`] with the interface's index and MAC already known (a burst
    /// reads them once: see [`LinkLayer`]), and whether to set the Router flag: whether IPv6
    /// forwarding is on for the interface ([`ipv6_forwarding`]), as keepalived sets it.
    /// `interface` only names it in errors.
    pub async fn unsolicited_na(
        &self,
        interface: &str,
        link: LinkLayer,
        router: bool,
        target: Ipv6Addr,
    ) -> Result<(), Error> {
        let LinkLayer { index, mac } = link;
        let message = neighbour_advertisement(target, mac, router);
        let error = |source| Error::Address {
            interface: interface.to_owned(),
            address: target.into(),
            operation: "sending neighbour advertisement for",
            source,
        };
        // From the VIP itself; a tentative or foreign address is refused as a source
        // (EINVAL): the kernel's choice is still a valid advertisement, only not
        // keepalived's. A link-local VIP (RFC 5798 §5.2.9's first IPv6 address) is looked
        // for on the interface the message names.
        let sent = match self
            .send_icmpv6(&message, index, Some(target), ALL_NODES)
            .await
        {
            Err(refused) if refused.raw_os_error() == Some(libc::EINVAL) => {
                self.send_icmpv6(&message, index, None, ALL_NODES).await
            }
            other => other,
        }
        .map_err(error)?;
        if sent != message.len() {
            let short = io::Error::other(format!("sent {sent} of {} bytes", message.len()));
            return Err(error(short));
        }
        Ok(())
    }
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
