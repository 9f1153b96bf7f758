//! Gratuitous ARP (RFC 5798 §6.4.2 "broadcast a gratuitous ARP request"), in keepalived's format
//! so that switches and hosts treat baton exactly like the keepalived it replaces:
//!
//! ```text
//! Ethernet: dst ff:ff:ff:ff:ff:ff  src <interface MAC>  type 0x0806
//! ARP (RFC 826): htype 1 (Ethernet)  ptype 0x0800  hlen 6  plen 4  op 1 (request)
//!                sender MAC = interface MAC   sender IP = VIP
//!                target MAC = ff:ff:ff:ff:ff:ff   target IP = VIP
//! ```
//! keepalived (vrrp_arp.c) sends a request, not a reply, with the target MAC all ones, and the
//! 42 bytes unpadded (Ethernet drivers pad to 60 on the wire; veth does not).

use std::net::Ipv4Addr;

use crate::error::Error;
use crate::link::{LinkLayer, link_layer};
use crate::packet_sender::Announcer;
use crate::sys;

const BROADCAST: [u8; 6] = [0xff; 6];
const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_IPV4: u16 = 0x0800;
const HTYPE_ETHERNET: u16 = 1;
const OP_REQUEST: u16 = 1;

/// Ethernet header (14) + ARP for Ethernet/IPv4 (28).
pub(crate) const FRAME_LEN: usize = 42;

/// The frame keepalived sends to announce `address` at `mac`.
pub(crate) fn gratuitous_arp_frame(mac: [u8; 6], address: Ipv4Addr) -> [u8; FRAME_LEN] {
    let mut frame = [0; FRAME_LEN];
    frame[0..6].copy_from_slice(&BROADCAST);
    frame[6..12].copy_from_slice(&mac);
    frame[12..14].copy_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    frame[14..16].copy_from_slice(&HTYPE_ETHERNET.to_be_bytes());
    frame[16..18].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    frame[18] = 6;
    frame[19] = 4;
    frame[20..22].copy_from_slice(&OP_REQUEST.to_be_bytes());
    frame[22..28].copy_from_slice(&mac);
    frame[28..32].copy_from_slice(&address.octets());
    frame[32..38].copy_from_slice(&BROADCAST);
    frame[38..42].copy_from_slice(&address.octets());
    frame
}

/// Broadcasts one gratuitous ARP request for `address` out of `interface`, from the interface's
/// MAC. Must be called from within a tokio runtime. Reads the interface and the thread's
/// namespace each time: a burst uses an [`Announcer`] and a [`LinkLayer`] read once.
pub async fn send_gratuitous_arp(interface: &str, address: Ipv4Addr) -> Result<(), Error> {
    let link = link_layer(interface)?;
    Announcer::new()?
        .gratuitous_arp(interface, link, address)
        .await
}

impl Announcer {
    /// [`send_gratuitous_arp`] with the interface's index and MAC already known (a burst
    /// reads them once: see [`LinkLayer`]). `interface` only names it in errors. Must be
    /// called from within a tokio runtime.
    pub async fn gratuitous_arp(
        &self,
        interface: &str,
        link: LinkLayer,
        address: Ipv4Addr,
    ) -> Result<(), Error> {
        let frame = gratuitous_arp_frame(link.mac, address);
        let send_error = |source| Error::Address {
            interface: interface.to_owned(),
            address: address.into(),
            operation: "sending gratuitous ARP for",
            source,
        };
        let destination =
            sys::link_layer_address(link.index, ETHERTYPE_ARP, BROADCAST).map_err(send_error)?;
        let sent = self
            .send_frame(&frame, &destination)
            .await
            .map_err(send_error)?;
        if sent != frame.len() {
            return Err(send_error(std::io::Error::other(format!(
                "sent {sent} of {} bytes",
                frame.len()
            ))));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_is_bit_exact() {
        let mac = [0x02, 0x00, 0x5e, 0x10, 0x20, 0x30];
        let frame = gratuitous_arp_frame(mac, Ipv4Addr::new(10, 0, 3, 100));
        #[rustfmt::skip]
        let expected: [u8; 42] = [
            // Ethernet: broadcast destination, our source, ARP.
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30,
            0x08, 0x06,
            // RFC 826: ar$hrd = 1, ar$pro = 0x0800, ar$hln = 6, ar$pln = 4, ar$op = REQUEST.
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
            // ar$sha, ar$spa: our MAC, the VIP.
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, 10, 0, 3, 100,
            // ar$tha (keepalived: all ones), ar$tpa: the VIP again.
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 10, 0, 3, 100,
        ];
        assert_eq!(frame, expected);
    }
}
