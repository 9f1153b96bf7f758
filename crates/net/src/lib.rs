//! The Linux edges of baton: everything the daemon does to the kernel's network stack.
//!
//! - [`VrrpSocket`]: one raw IP protocol 112 socket per (interface, address family), with the
//!   received TTL / hop limit and destination that VRRP needs to validate advertisements, and a
//!   send that honours the source address (the VRRPv3 checksum covers it).
//! - [`Addresses`]: virtual addresses added and removed over rtnetlink, idempotently, so the
//!   daemon can clean up addresses a crashed run left behind.
//! - [`send_gratuitous_arp`] / [`send_unsolicited_na`]: the announcements a new master makes, in
//!   keepalived's format; an [`Announcer`] sends a burst of them over its namespace's sockets.
//! - Link state: [`interface_index`], [`link_is_up`], [`mac_address`], [`primary_address`] and
//!   [`LinkWatcher`] for up/down events.
//! - [`Inotify`]: file and directory watches read through tokio.
//! - Interface addresses: [`interface_has_address`] and [`AddressWatcher`] for additions and
//!   removals (keepalived's `track_src_ip`).
//!
//! This is the only crate of the workspace that may use `unsafe`, and only where no safe wrapper
//! exists (see `sys.rs`). Socket and netlink handles need a tokio runtime with I/O enabled;
//! called outside any runtime they return an error. Nothing here panics on what the network or
//! the kernel hands it.
//!
//! Everything acts in the network namespace of the calling *thread* at the time a socket or
//! handle is made, which is what lets tests (and `baton demo`) run it inside namespaces.

mod activation;
mod address_watcher;
mod addresses;
mod arp;
mod bfd_socket;
mod cmsg;
mod deadline;
mod error;
mod family;
mod inotify;
mod ipv4_header;
mod link;
mod link_watcher;
mod ndisc;
mod netlink;
mod nflog;
mod packet_sender;
mod proc_events;
pub mod protocol_loop;
mod readable;
mod routing;
mod sys;
#[cfg(test)]
mod test_support;
mod virtual_link;
mod vrrp_socket;

pub use activation::activated_unix_listener;
pub use address_watcher::{AddressChange, AddressWatcher, interface_has_address};
pub use addresses::{AddOptions, AddRequest, Addresses};
pub use arp::send_gratuitous_arp;
pub use bfd_socket::{BfdDatagram, BfdListener, BfdSender};
pub use deadline::Deadline;
pub use error::Error;
pub use family::Family;
pub use inotify::{AddWatchFlags, Inotify, InotifyEvent, WatchDescriptor};
pub use link::{
    LinkLayer, interface_index, ipv6_forwarding, link_is_up, link_layer, mac_address,
    primary_address,
};
pub use link_watcher::LinkWatcher;
pub use ndisc::send_unsolicited_na;
pub use nflog::NflogGroup;
pub use packet_sender::Announcer;
pub use proc_events::{
    DecodeError as ProcEventDecodeError, ProcEvent, ProcEvents, decode as decode_proc_event,
};
pub use routing::{
    CreateMode, NexthopSpec, RouteSpec, Routing, RuleSpec, RuleVerdict, describe_route,
    describe_rule,
};
pub use virtual_link::{LinkState, VirtualLinkKind, VirtualLinks, read_sysctl, write_sysctl};
pub use vrrp_socket::{
    DiscardReason, Discarded, Incoming, Membership, RECEIVE_BUFFER, Received, VrrpSocket,
};

/// IP protocol number of VRRP (RFC 5798 §5.1.1.4).
pub const IPPROTO_VRRP: u8 = 112;
