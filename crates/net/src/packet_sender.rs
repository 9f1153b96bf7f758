//! The sockets announcements leave by, one of each kind per network namespace, opened on
//! first use and kept: an AF_PACKET socket for gratuitous ARPs, a raw ICMPv6 socket for
//! unsolicited neighbour advertisements. [`Announcer`] is the handle to them.
//!
//! Closing an AF_PACKET socket waits for an RCU grace period (packet_release calls
//! synchronize_net): milliseconds during which the closing thread stands still. With a
//! socket per ARP, a master announcing 100 addresses five times stalled the daemon's
//! protocol thread for seconds, long enough for its backups to take over. One socket is
//! never closed; it is unbound (protocol 0: the kernel queues nothing received on it) and
//! each frame names its interface, so every interface of the namespace shares it.
//!
//! The ICMPv6 socket is shared the same way. A socket per advertisement cost a socket, five
//! socket options, a bind, an epoll registration and a close each (1,750 system calls for
//! 50 IPv6 addresses announced five times). It is unbound too: each message names its
//! interface and its source (IPV6_PKTINFO) and the destination's scope; ICMP6_FILTER blocks
//! every type, so nothing received is queued on it.
//!
//! Sockets belong to the namespace they were opened in. [`Announcer::new`] reads the
//! calling thread's namespace once (the inode of `/proc/thread-self/ns/net`) and its sockets
//! are that namespace's, whatever thread later sends, as with every other handle of this
//! crate. Reading the namespace per message instead (a `statx` each) was only needed because
//! a thread may move (`setns`): baton's daemon never moves a long-lived thread (the one
//! `setns` is `proc_events`' short-lived subscriber, and test helpers `unshare` threads of
//! their own), but a test process does, so a socket is opened only on a thread that is in
//! the handle's namespace. A socket pins its namespace, so an inode stays that namespace's
//! for as long as the table holds its sockets.

use std::collections::HashMap;
use std::io;
use std::net::Ipv6Addr;
use std::os::unix::fs::MetadataExt as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::error::Error;

/// How often a send finding the socket's buffer full waits [`FULL_PAUSE`] and tries again.
const FULL_RETRIES: u32 = 200;
const FULL_PAUSE: Duration = Duration::from_millis(1);
/// RFC 4861 §7.1.2: receivers drop neighbour discovery that did not come with hop limit 255.
const HOP_LIMIT: u32 = 255;

/// Sends gratuitous ARPs and unsolicited neighbour advertisements in the network namespace
/// of the thread that made it (see [`Announcer::new`]). Cheap to clone: clones share the
/// namespace's sockets.
#[derive(Debug, Clone)]
pub struct Announcer {
    namespace: Arc<Namespace>,
}

/// One namespace's sockets.
#[derive(Debug)]
struct Namespace {
    /// The inode of its `ns/net` link.
    inode: u64,
    packet: Mutex<Option<Arc<Socket>>>,
    icmpv6: Mutex<Option<Arc<Socket>>>,
}

impl Announcer {
    /// The handle for the calling thread's network namespace. Opens nothing: each socket is
    /// opened by its first message (a process without CAP_NET_RAW can make one).
    pub fn new() -> Result<Announcer, Error> {
        static NAMESPACES: Mutex<Option<HashMap<u64, Arc<Namespace>>>> = Mutex::new(None);
        let inode = current_namespace().map_err(|source| Error::Netlink {
            operation: "reading this thread's network namespace (/proc/thread-self/ns/net)",
            source,
        })?;
        let mut namespaces = NAMESPACES.lock().unwrap_or_else(|e| e.into_inner());
        let namespace = namespaces.get_or_insert_with(HashMap::new).entry(inode);
        let namespace = namespace.or_insert_with(|| {
            Arc::new(Namespace {
                inode,
                packet: Mutex::new(None),
                icmpv6: Mutex::new(None),
            })
        });
        Ok(Announcer {
            namespace: Arc::clone(namespace),
        })
    }

    /// Sends `frame` to `destination` (a link-layer address naming the interface).
    pub(crate) async fn send_frame(
        &self,
        frame: &[u8],
        destination: &SockAddr,
    ) -> io::Result<usize> {
        let socket = self.namespace.socket(&self.namespace.packet, open_packet)?;
        retrying_when_full(|| socket.send_to(frame, destination)).await
    }

    /// Sends the ICMPv6 `message` to `destination` (link-scoped: the interface is its scope)
    /// out of interface `index`, from `source`, or from the address the kernel picks when
    /// `source` is `None`. The kernel fills in the checksum.
    pub(crate) async fn send_icmpv6(
        &self,
        message: &[u8],
        index: u32,
        source: Option<Ipv6Addr>,
        destination: Ipv6Addr,
    ) -> io::Result<usize> {
        let socket = self.namespace.socket(&self.namespace.icmpv6, open_icmpv6)?;
        let source = source.unwrap_or(Ipv6Addr::UNSPECIFIED);
        retrying_when_full(|| crate::sys::send_v6(&socket, index, source, destination, message))
            .await
    }
}

impl Namespace {
    /// The socket in `slot`, opened by `open` the first time, on a thread that is in this
    /// namespace (a socket is opened in the calling thread's).
    fn socket(
        &self,
        slot: &Mutex<Option<Arc<Socket>>>,
        open: fn() -> io::Result<Socket>,
    ) -> io::Result<Arc<Socket>> {
        let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(socket) = slot.as_ref() {
            return Ok(Arc::clone(socket));
        }
        if current_namespace()? != self.inode {
            return Err(io::Error::other(
                "this thread is in another network namespace than the one the announcer was \
                 made in; its socket is opened from a thread in that one",
            ));
        }
        let socket = Arc::new(open()?);
        *slot = Some(Arc::clone(&socket));
        Ok(socket)
    }
}

/// The inode of the calling thread's network namespace.
fn current_namespace() -> io::Result<u64> {
    Ok(std::fs::metadata("/proc/thread-self/ns/net")?.ino())
}

fn open_packet() -> io::Result<Socket> {
    Socket::new(
        Domain::PACKET,
        Type::RAW.nonblocking(),
        Some(Protocol::from(0)),
    )
}

fn open_icmpv6() -> io::Result<Socket> {
    let socket = Socket::new(
        Domain::IPV6,
        Type::RAW.nonblocking(),
        Some(Protocol::ICMPV6),
    )?;
    crate::sys::block_all_icmpv6(&socket)?;
    socket.set_multicast_hops_v6(HOP_LIMIT)?;
    socket.set_unicast_hops_v6(HOP_LIMIT)?;
    socket.set_multicast_loop_v6(false)?;
    Ok(socket)
}

/// Calls `send` until it does not find the socket's buffer full, a moment apart, at most
/// [`FULL_RETRIES`] times: a burst filled the buffer, and the device drains it within a
/// moment.
async fn retrying_when_full(mut send: impl FnMut() -> io::Result<usize>) -> io::Result<usize> {
    let mut retries = 0;
    loop {
        match send() {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock && retries < FULL_RETRIES => {
                retries += 1;
                tokio::time::sleep(FULL_PAUSE).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    /// The ICMPv6 socket only sends: ICMP6_FILTER keeps every message out of its queue, or
    /// each one sent to or through the namespace would pile up there unread. In a namespace
    /// of its own, an echo request and a neighbour solicitation sent over loopback leave
    /// nothing to read on it; with the filter opened, the same socket gets both.
    #[test]
    fn the_icmpv6_socket_queues_nothing() {
        let outcome = crate::test_support::in_a_new_namespace(|| {
            let announcer = Announcer::new().expect("announcer");
            let namespace = &announcer.namespace;
            let socket = namespace
                .socket(&namespace.icmpv6, open_icmpv6)
                .expect("the announcer's ICMPv6 socket");
            let probe = Probe::new();
            probe.send_both();
            let blocked = queued_types(&socket);
            crate::sys::pass_all_icmpv6(&socket).expect("filter opened");
            probe.send_both();
            let passed = queued_types(&socket);
            (blocked, passed)
        });
        if let Some((blocked, passed)) = outcome {
            assert_eq!(blocked, [], "ICMPv6 types queued behind ICMP6_FILTER");
            for kind in [ECHO_REQUEST, NEIGHBOR_SOLICITATION] {
                assert!(
                    passed.contains(&kind),
                    "type {kind} without the filter: {passed:?}"
                );
            }
        }
    }

    const ECHO_REQUEST: u8 = 128;
    const NEIGHBOR_SOLICITATION: u8 = 135;

    /// A raw ICMPv6 socket without a filter, sending to ::1. The kernel hands each message
    /// to every raw ICMPv6 socket of the namespace in one pass, so once this one has read
    /// both of its messages back, every other one has been offered them too.
    struct Probe(Socket);

    impl Probe {
        fn new() -> Probe {
            let socket =
                Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6)).expect("probe socket");
            socket.set_unicast_hops_v6(HOP_LIMIT).expect("hop limit");
            socket
                .set_read_timeout(Some(Duration::from_secs(5)))
                .expect("read timeout");
            Probe(socket)
        }

        /// Sends an echo request and a neighbour solicitation (for ::1) to ::1 and reads
        /// until both came back. The kernel fills in the checksums.
        fn send_both(&self) {
            let to = SockAddr::from(std::net::SocketAddrV6::new(Ipv6Addr::LOCALHOST, 0, 0, 0));
            let echo = [ECHO_REQUEST, 0, 0, 0, 0x12, 0x34, 0, 1];
            let mut solicitation = vec![NEIGHBOR_SOLICITATION, 0, 0, 0, 0, 0, 0, 0];
            solicitation.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
            for message in [&echo[..], &solicitation] {
                self.0.send_to(message, &to).expect("probe sent");
            }
            let mut missing = vec![ECHO_REQUEST, NEIGHBOR_SOLICITATION];
            let mut buf = [0u8; 1500];
            while !missing.is_empty() {
                let len = (&self.0)
                    .read(&mut buf)
                    .expect("probe read its messages back");
                if len > 0 {
                    missing.retain(|&kind| kind != buf[0]);
                }
            }
        }
    }

    /// The ICMPv6 types waiting on `socket` (non-blocking), read until it has no more.
    fn queued_types(socket: &Socket) -> Vec<u8> {
        let mut types = Vec::new();
        let mut buf = [0u8; 1500];
        loop {
            match (&*socket).read(&mut buf) {
                Ok(len) if len > 0 => types.push(buf[0]),
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return types,
                Err(error) => panic!("reading the announcer's socket: {error}"),
            }
        }
    }

    /// A handle stays its namespace's: a thread that moved to another one (`unshare`, as
    /// `setns`) neither opens the handle's socket there nor reuses it as that namespace's.
    #[test]
    fn a_thread_that_moved_does_not_open_the_handle_s_socket() {
        let outcome = std::thread::spawn(|| {
            // Namespaces of its own, so that no socket of them is open yet.
            let unshare = || nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET);
            if let Err(error) = unshare() {
                eprintln!("SKIPPED: needs root to make network namespaces (unshare: {error})");
                return None;
            }
            let before = Announcer::new().expect("announcer");
            unshare().expect("a second namespace");
            let after = Announcer::new().expect("announcer");
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let destination = crate::sys::link_layer_address(1, 0x0806, [0xff; 6]).unwrap();
            let error = runtime
                .block_on(before.send_frame(&[0; 42], &destination))
                .expect_err("opened from another namespace");
            Some((
                error.to_string(),
                Arc::ptr_eq(&before.namespace, &after.namespace),
            ))
        })
        .join()
        .expect("thread");
        if let Some((error, same)) = outcome {
            assert!(error.contains("another network namespace"), "{error}");
            assert!(!same, "a new namespace gets sockets of its own");
        }
    }
}
