//! Link up/down events from the kernel (RTNLGRP_LINK), for keepalived's `track_interface`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;

use futures_util::StreamExt;
use nix::ifaddrs::{InterfaceAddress, getifaddrs};
use nix::net::if_::if_nametoindex;
use rtnetlink::MulticastGroup;
use rtnetlink::packet_core::NetlinkPayload;
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};

use crate::error::Error;
use crate::link::is_up;
use crate::netlink::{self, AbortOnDrop, Notifications};

/// What the watcher last knew of each link, by index (names can change, indexes do not).
type Links = HashMap<u32, (String, bool)>;

/// Yields `(interface name, up)` each time a link's state changes, where up means what
/// [`crate::link_is_up`] means: IFF_UP and IFF_RUNNING.
///
/// The kernel sends a link notification for many reasons (MTU, statistics, promiscuity...);
/// only changes of up/down, links that appear, and up links that disappear (as down) come out.
/// The state at [`LinkWatcher::new`] is the baseline: read it with [`crate::link_is_up`].
///
/// Watches the network namespace of the thread that calls `new`.
pub struct LinkWatcher {
    notifications: Notifications,
    _task: AbortOnDrop,
    tracker: Tracker,
}

impl fmt::Debug for LinkWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkWatcher")
            .field("tracker", &self.tracker)
            .finish_non_exhaustive()
    }
}

impl LinkWatcher {
    /// Subscribes to link notifications, then reads the current states as the baseline (in that
    /// order, so no change falls between the two). Must be called from within a tokio runtime.
    pub fn new() -> Result<LinkWatcher, Error> {
        let connection = netlink::connect(&[MulticastGroup::Link], "subscribing to link events")?;
        Ok(LinkWatcher {
            notifications: connection.notifications,
            _task: connection.task,
            tracker: Tracker {
                links: snapshot()?,
                pending: VecDeque::new(),
            },
        })
    }

    /// The next change. `None` means the subscription ended (the netlink socket failed): open a
    /// new watcher and re-read the states.
    pub async fn next(&mut self) -> Option<(String, bool)> {
        loop {
            if let Some(event) = self.tracker.pending.pop_front() {
                return Some(event);
            }
            let (message, _) = self.notifications.next().await?;
            match message.payload {
                // The socket's receive buffer overflowed and notifications were lost: compare
                // against a fresh read of every link instead.
                NetlinkPayload::Overrun(_) => {
                    if let Ok(now) = snapshot() {
                        self.tracker.resync(now);
                    }
                }
                NetlinkPayload::InnerMessage(message) => self.tracker.apply(message),
                _ => {}
            }
        }
    }
}

/// The bookkeeping that turns notifications into changes; no I/O.
#[derive(Debug, Default)]
struct Tracker {
    links: Links,
    pending: VecDeque<(String, bool)>,
}

impl Tracker {
    fn apply(&mut self, message: RouteNetlinkMessage) {
        match message {
            RouteNetlinkMessage::NewLink(link) => {
                let index = link.header.index;
                let name = name_of(&link).or_else(|| Some(self.links.get(&index)?.0.clone()));
                let Some(name) = name else { return };
                let up = link
                    .header
                    .flags
                    .contains(LinkFlags::Up | LinkFlags::Running);
                let now = (name, up);
                if self.links.get(&index) != Some(&now) {
                    self.pending.push_back(now.clone());
                    self.links.insert(index, now);
                }
            }
            RouteNetlinkMessage::DelLink(link) => {
                if let Some((name, true)) = self.links.remove(&link.header.index) {
                    self.pending.push_back((name, false));
                }
            }
            _ => {}
        }
    }

    fn resync(&mut self, now: Links) {
        for (index, state) in &now {
            if self.links.get(index) != Some(state) {
                self.pending.push_back(state.clone());
            }
        }
        for (index, (name, up)) in &self.links {
            if *up && !now.contains_key(index) {
                self.pending.push_back((name.clone(), false));
            }
        }
        self.links = now;
    }
}

fn name_of(link: &LinkMessage) -> Option<String> {
    link.attributes
        .iter()
        .find_map(|attribute| match attribute {
            LinkAttribute::IfName(name) => Some(name.clone()),
            _ => None,
        })
}

/// Every link of the namespace with its state now.
fn snapshot() -> Result<Links, Error> {
    let entries = getifaddrs().map_err(|errno| Error::Netlink {
        operation: "listing links (getifaddrs)",
        source: errno.into(),
    })?;
    Ok(links_of(entries, |name| if_nametoindex(name).ok()))
}

/// The links among getifaddrs' `entries`, by index.
///
/// glibc lists each link once as an AF_PACKET entry whose `sockaddr_ll` carries the index,
/// from the same netlink dump as the rest; the address entries after it repeat the link's
/// name and flags. Only a link without a hardware address (a TUN or WireGuard device:
/// `link/none`) comes without one, and for it `index_of` (`if_nametoindex`: a socket, an
/// ioctl and a close) is asked, once per name. Asking it for every entry, links and
/// addresses alike, made a snapshot of a namespace holding 100 addresses 336 system calls
/// instead of 12.
fn links_of(
    entries: impl IntoIterator<Item = InterfaceAddress>,
    mut index_of: impl FnMut(&str) -> Option<u32>,
) -> Links {
    let mut links = Links::new();
    let mut unindexed = Vec::new();
    for entry in entries {
        let index = entry.address.as_ref().and_then(|address| {
            let index = address.as_link_addr()?.ifindex();
            u32::try_from(index).ok().filter(|&index| index != 0)
        });
        match index {
            Some(index) => {
                links
                    .entry(index)
                    .or_insert((entry.interface_name, is_up(entry.flags)));
            }
            None => unindexed.push(entry),
        }
    }
    let mut asked = HashSet::new();
    let named: HashSet<&str> = links.values().map(|(name, _)| name.as_str()).collect();
    let found: Vec<_> = unindexed
        .into_iter()
        .filter(|entry| !named.contains(entry.interface_name.as_str()))
        .filter(|entry| asked.insert(entry.interface_name.clone()))
        // An interface that vanished since the dump has no index, and no state to track.
        .filter_map(|entry| {
            let index = index_of(&entry.interface_name)?;
            Some((index, (entry.interface_name, is_up(entry.flags))))
        })
        .collect();
    for (index, state) in found {
        links.entry(index).or_insert(state);
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{in_a_new_namespace, ip};

    fn link(index: u32, name: Option<&str>, flags: LinkFlags) -> LinkMessage {
        let mut message = LinkMessage::default();
        message.header.index = index;
        message.header.flags = flags;
        message
            .attributes
            .extend(name.map(|name| LinkAttribute::IfName(name.into())));
        message
    }

    fn tracker_with(links: &[(u32, &str, bool)]) -> Tracker {
        let links = links
            .iter()
            .map(|(index, name, up)| (*index, (name.to_string(), *up)))
            .collect();
        Tracker {
            links,
            pending: VecDeque::new(),
        }
    }

    fn drain(tracker: &mut Tracker) -> Vec<(String, bool)> {
        tracker.pending.drain(..).collect()
    }

    const UP: LinkFlags = LinkFlags::Up.union(LinkFlags::Running);

    #[test]
    fn only_changes_come_out() {
        let mut tracker = tracker_with(&[(2, "eth0", true)]);
        tracker.apply(RouteNetlinkMessage::NewLink(link(2, Some("eth0"), UP)));
        assert_eq!(drain(&mut tracker), []);

        tracker.apply(RouteNetlinkMessage::NewLink(link(
            2,
            Some("eth0"),
            LinkFlags::empty(),
        )));
        tracker.apply(RouteNetlinkMessage::NewLink(link(
            2,
            Some("eth0"),
            LinkFlags::empty(),
        )));
        assert_eq!(drain(&mut tracker), [("eth0".to_string(), false)]);

        // Administratively up but no carrier yet is still down.
        tracker.apply(RouteNetlinkMessage::NewLink(link(
            2,
            Some("eth0"),
            LinkFlags::Up,
        )));
        assert_eq!(drain(&mut tracker), []);
        tracker.apply(RouteNetlinkMessage::NewLink(link(2, None, UP)));
        assert_eq!(drain(&mut tracker), [("eth0".to_string(), true)]);
    }

    #[test]
    fn new_links_and_deleted_up_links_are_reported() {
        let mut tracker = tracker_with(&[(2, "eth0", true), (3, "eth1", false)]);
        tracker.apply(RouteNetlinkMessage::NewLink(link(4, Some("vlan10"), UP)));
        tracker.apply(RouteNetlinkMessage::DelLink(link(2, Some("eth0"), UP)));
        tracker.apply(RouteNetlinkMessage::DelLink(link(
            3,
            Some("eth1"),
            LinkFlags::empty(),
        )));
        assert_eq!(
            drain(&mut tracker),
            [("vlan10".to_string(), true), ("eth0".to_string(), false)]
        );
        // A notification without a name for a link never seen cannot be reported.
        tracker.apply(RouteNetlinkMessage::NewLink(link(9, None, UP)));
        assert_eq!(drain(&mut tracker), []);
    }

    /// A link without a hardware address (TUN, WireGuard) has an AF_PACKET entry with no
    /// address: its name is looked up, once for all its entries; a name that no longer
    /// resolves (the link went since the dump) is left out.
    #[test]
    fn links_without_a_link_address_are_looked_up_by_name_once() {
        use nix::net::if_::InterfaceFlags;
        use nix::sys::socket::SockaddrStorage;
        use std::net::{Ipv4Addr, SocketAddrV4};

        let entry = |name: &str, address: Option<Ipv4Addr>| InterfaceAddress {
            interface_name: name.into(),
            flags: InterfaceFlags::IFF_UP | InterfaceFlags::IFF_RUNNING,
            address: address.map(|a| SockaddrStorage::from(SocketAddrV4::new(a, 0))),
            netmask: None,
            broadcast: None,
            destination: None,
        };
        let entries = [
            entry("wg0", None),
            entry("gone", None),
            entry("wg0", Some(Ipv4Addr::new(10, 0, 0, 1))),
            entry("wg0", Some(Ipv4Addr::new(10, 0, 0, 2))),
        ];
        let mut asked = Vec::new();
        let links = links_of(entries, |name| {
            asked.push(name.to_owned());
            (name == "wg0").then_some(7)
        });
        assert_eq!(asked, ["wg0", "gone"]);
        assert_eq!(links, HashMap::from([(7, ("wg0".to_string(), true))]));
    }

    /// In a namespace of its own, with loopback, a veth pair and a TUN device (all with
    /// addresses): every link is found under the index `if_nametoindex` gives, and only the
    /// TUN device, which has no hardware address, is looked up by name.
    #[test]
    fn links_come_with_their_indexes() {
        let outcome = in_a_new_namespace(|| {
            for args in [
                "link add v0 type veth peer name v1",
                "addr add 10.99.0.1/24 dev v0",
                "addr add fd00:99::1/64 dev v0 nodad",
            ] {
                assert!(ip(args), "ip {args}");
            }
            let mut names = vec!["lo", "v0", "v1"];
            if ip("tuntap add t0 mode tun") {
                assert!(ip("addr add 10.98.0.1/24 dev t0"));
                names.push("t0");
            } else {
                eprintln!("SKIPPED (the TUN part only): ip tuntap add failed");
            }
            let mut asked = Vec::new();
            let links = links_of(getifaddrs().expect("getifaddrs"), |name| {
                asked.push(name.to_owned());
                if_nametoindex(name).ok()
            });
            let mut found: Vec<_> = links
                .into_iter()
                .map(|(index, (name, _))| (index, name))
                .collect();
            found.sort();
            let mut expected: Vec<_> = names
                .iter()
                .map(|name| (if_nametoindex(*name).expect("index"), name.to_string()))
                .collect();
            expected.sort();
            (asked, found, expected, names.contains(&"t0"))
        });
        if let Some((asked, found, expected, tun)) = outcome {
            assert_eq!(found, expected);
            let only_tun: &[&str] = if tun { &["t0"] } else { &[] };
            assert_eq!(asked, only_tun);
        }
    }

    #[test]
    fn resync_reports_what_was_missed() {
        let mut tracker = tracker_with(&[(2, "eth0", true), (3, "eth1", true), (4, "eth2", false)]);
        let now = tracker_with(&[(2, "eth0", true), (4, "eth2", true)]).links;
        tracker.resync(now);
        let mut events = drain(&mut tracker);
        events.sort();
        assert_eq!(
            events,
            [("eth1".to_string(), false), ("eth2".to_string(), true)]
        );
    }
}
