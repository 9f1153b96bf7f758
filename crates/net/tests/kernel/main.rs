//! Tests against the real kernel: raw sockets, rtnetlink, AF_PACKET, link events.
//!
//! Each test builds its own pair of network namespaces joined by a veth (see `lab.rs`) and
//! touches nothing outside them. They need root; as anyone else they print
//! `SKIPPED (needs root): ...` and pass.

mod address_watcher;
mod addresses;
mod announce;
mod lab;
mod link;
mod nflog;
mod proc_events;
mod vrrp_socket;
