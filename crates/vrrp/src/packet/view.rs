//! A decoded advertisement that borrows the packet: what the engine reads from every received
//! advert, with nothing allocated. [`Advertisement`] is its owned form.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::slice::ChunksExact;
use std::time::Duration;

use super::{Advertisement, VersionFields};
use crate::units::{Priority, Version, Vrid};

/// [`Advertisement`] with its addresses left in the packet.
#[derive(Debug, Clone)]
pub(crate) struct AdvertRef<'a> {
    pub(crate) vrid: Vrid,
    pub(crate) priority: Priority,
    pub(crate) addresses: Addresses<'a>,
    pub(crate) fields: VersionFields,
}

impl AdvertRef<'_> {
    pub(crate) fn version(&self) -> Version {
        self.fields.version()
    }

    pub(crate) fn interval(&self) -> Duration {
        self.fields.interval()
    }

    pub(crate) fn to_advertisement(&self) -> Advertisement {
        Advertisement {
            vrid: self.vrid,
            priority: self.priority,
            addresses: self.addresses.iter().collect(),
            fields: self.fields.clone(),
        }
    }
}

impl Advertisement {
    pub(crate) fn view(&self) -> AdvertRef<'_> {
        AdvertRef {
            vrid: self.vrid,
            priority: self.priority,
            addresses: Addresses::List(&self.addresses),
            fields: self.fields.clone(),
        }
    }
}

/// The virtual addresses of an advertisement: read in place from the packet, or a decoded
/// list.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Addresses<'a> {
    /// 4-byte (IPv4) or 16-byte (IPv6) addresses back to back, as on the wire; the decoder
    /// checked that `bytes` is a whole number of them.
    Wire {
        bytes: &'a [u8],
        ipv6: bool,
    },
    List(&'a [IpAddr]),
}

impl<'a> Addresses<'a> {
    pub(crate) fn len(&self) -> usize {
        match *self {
            Addresses::Wire { bytes, ipv6 } => bytes.len() / address_len(ipv6),
            Addresses::List(list) => list.len(),
        }
    }

    pub(crate) fn contains(&self, address: IpAddr) -> bool {
        match (*self, address) {
            (Addresses::Wire { bytes, ipv6: false }, IpAddr::V4(v4)) => bytes
                .chunks_exact(4)
                .any(|raw| <[u8; 4]>::try_from(raw).ok() == Some(v4.octets())),
            (Addresses::Wire { bytes, ipv6: true }, IpAddr::V6(v6)) => bytes
                .chunks_exact(16)
                .any(|raw| <[u8; 16]>::try_from(raw).ok() == Some(v6.octets())),
            (Addresses::Wire { .. }, _) => false,
            (Addresses::List(list), address) => list.contains(&address),
        }
    }

    pub(crate) fn iter(&self) -> AddressIter<'a> {
        match *self {
            Addresses::Wire { bytes, ipv6 } => {
                AddressIter::Wire(bytes.chunks_exact(address_len(ipv6)), ipv6)
            }
            Addresses::List(list) => AddressIter::List(list.iter()),
        }
    }
}

fn address_len(ipv6: bool) -> usize {
    if ipv6 { 16 } else { 4 }
}

/// The addresses of [`Addresses::iter`], in packet order.
pub(crate) enum AddressIter<'a> {
    Wire(ChunksExact<'a, u8>, bool),
    List(std::slice::Iter<'a, IpAddr>),
}

impl Iterator for AddressIter<'_> {
    type Item = IpAddr;

    fn next(&mut self) -> Option<IpAddr> {
        match self {
            AddressIter::Wire(chunks, ipv6) => chunks.next().map(|raw| read_address(raw, *ipv6)),
            AddressIter::List(list) => list.next().copied(),
        }
    }
}

fn read_address(raw: &[u8], ipv6: bool) -> IpAddr {
    if ipv6 {
        let octets: [u8; 16] = raw.try_into().unwrap_or([0; 16]);
        IpAddr::V6(Ipv6Addr::from(octets))
    } else {
        let octets: [u8; 4] = raw.try_into().unwrap_or([0; 4]);
        IpAddr::V4(Ipv4Addr::from(octets))
    }
}
