//! The raw IP protocol 112 socket VRRP advertisements travel on: one per (interface, family).
//!
//! Set up as keepalived sets up its own (vrrp.c, vrrp_if.c), so that the two interoperate and
//! behave alike on the wire:
//! - bound to the interface (SO_BINDTODEVICE): only that link's packets are read, and packets
//!   leave by it whatever the routing table says;
//! - TTL / hop limit 255 on everything sent (RFC 5798 §5.1.1.3, §5.1.2.3), unicast and multicast,
//!   unless the caller asks for another on a unicast advert (keepalived's `unicast_ttl`);
//! - TOS / traffic class 0xc0 (IPTOS_PREC_INTERNETCONTROL);
//! - for multicast: joined to 224.0.0.18 or ff02::12 on the interface (and to any other group
//!   [`VrrpSocket::join`] is given: keepalived's `mcast_dst_ip`), sending by it, and
//!   multicast loop off, so a router never hears itself;
//! - IP(V6)_MULTICAST_ALL off: only groups this socket joined are delivered, so a unicast socket
//!   hears no multicast advertisements at all (Linux otherwise delivers the multicast a raw
//!   socket's neighbours joined).
//!
//! What arrives is untrusted: anyone on the link can send IP protocol 112. A read never
//! fails on a packet, whatever it holds: one that cannot be an advertisement (larger than any
//! advertisement can be, or with a broken header) is taken off the socket and reported as
//! [`Incoming::Discarded`] with its reason, so the caller counts it and reads on at once.
//! A 9,000-byte packet costs one `recvmsg` of [`RECEIVE_BUFFER`] bytes (MSG_TRUNC gives its
//! real length; the kernel throws the rest away). The receive queue is enlarged, and the
//! packets the kernel still drops because it was full are counted (SO_RXQ_OVFL,
//! [`VrrpSocket::overflow_drops`]).
//!
//! The VRRPv3 checksum is computed and checked by the engine, so IPV6_CHECKSUM stays off (the
//! kernel neither fills nor verifies it; keepalived turns it on, the bytes on the wire are the
//! same, and here a bad checksum reaches the engine's statistics instead of vanishing).

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4};
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::socket::{
    self, ControlMessage, MsgFlags, SockaddrIn, SockaddrIn6, recvmsg, sendmsg, setsockopt,
};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;

use crate::error::Error;
use crate::family::Family;
use crate::link::interface_index;
use crate::readable::Readable;
use crate::{IPPROTO_VRRP, cmsg, ipv4_header, sys};

/// RFC 5798 §5.2.2 / §5.2.3.
const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
const TTL: u32 = 255;
/// IPTOS_PREC_INTERNETCONTROL, as keepalived.
const TOS: u32 = 0xc0;
/// Room for IPV6_PKTINFO, IPV6_HOPLIMIT, SO_RXQ_OVFL and SCM_TIMESTAMPNS (CMSG_SPACE
/// 40 + 24 + 24 + 32 on 64-bit) with margin.
const CONTROL_LEN: usize = 160;
/// The receive queue asked for (SO_RCVBUFFORCE, else SO_RCVBUF up to net.core.rmem_max): a
/// burst of junk queued ahead of a real advert waits there instead of pushing it out.
const RECEIVE_QUEUE_BYTES: usize = 4 << 20;
/// How often a send finding the send buffer full waits [`FULL_PAUSE`] and tries again.
const FULL_RETRIES: u32 = 20;
const FULL_PAUSE: std::time::Duration = std::time::Duration::from_millis(1);

/// A buffer this large holds any VRRP packet a socket can deliver: for IPv4 a 60-byte IP
/// header, the 8-byte VRRP header, 255 addresses of 16 bytes (more than IPv4 needs) and 8
/// bytes of VRRPv2 authentication; for IPv6 (no IP header) the same less the header. Pass
/// one to [`VrrpSocket::recv`]; anything larger is not an advertisement.
pub const RECEIVE_BUFFER: usize = 60 + 8 + 255 * 16 + 8;

/// Whether the socket joins the VRRP multicast group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Membership {
    /// Join 224.0.0.18 / ff02::12 on the interface: the RFC's default.
    Multicast,
    /// keepalived's `unicast_peer`: join nothing, hear only packets addressed to this host.
    Unicast,
}

/// What one read from the socket gave.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Incoming {
    Packet(Received),
    /// Taken off the socket and thrown away: it cannot be an advertisement.
    Discarded(Discarded),
}

/// A packet read and thrown away, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discarded {
    pub reason: DiscardReason,
    /// Its length as the kernel had it (before truncation to the buffer).
    pub len: usize,
    /// The sender, when known.
    pub src: Option<IpAddr>,
    /// What was wrong, for a log line.
    pub detail: String,
}

/// Why [`Discarded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DiscardReason {
    /// Larger than the buffer (see [`RECEIVE_BUFFER`]): a 9,000-byte packet, say, or a
    /// reassembled fragment train. The kernel truncated it; it was never copied whole.
    Oversized,
    /// A broken IPv4 header, a protocol other than 112, or (IPv6) the control messages the
    /// kernel always sends missing or truncated.
    Malformed,
}

impl DiscardReason {
    pub const ALL: [DiscardReason; 2] = [DiscardReason::Oversized, DiscardReason::Malformed];

    /// Stable label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            DiscardReason::Oversized => "oversized",
            DiscardReason::Malformed => "malformed",
        }
    }
}

/// One received packet: who sent it, to which address, with what TTL, and where the VRRP
/// message is in the buffer passed to [`VrrpSocket::recv`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit as received; RFC 5798 §7.1 says drop unless 255.
    pub ttl: u8,
    pub payload: Range<usize>,
    /// When the kernel received it (SO_TIMESTAMPNS), on [`Instant`]'s clock; None if the
    /// kernel did not say. A packet read late, behind others or after the reader was not
    /// scheduled for a while, arrived this long before it was read: RFC 5798's timers
    /// count from when an advert is received, not from when it is read.
    pub arrived: Option<Instant>,
}

/// A raw socket for VRRP on one interface and one address family.
pub struct VrrpSocket {
    /// Read on the protocol loop's thread when it is opened there (see `protocol_loop`).
    socket: Readable<Socket>,
    interface: String,
    index: u32,
    family: Family,
    /// The last SO_RXQ_OVFL count the kernel sent.
    overflow: AtomicU32,
    /// The unicast TTL / hop limit the socket is set to now (IP_TTL / IPV6_UNICAST_HOPS).
    unicast_ttl: AtomicU8,
}

impl fmt::Debug for VrrpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VrrpSocket")
            .field("interface", &self.interface)
            .field("index", &self.index)
            .field("family", &self.family)
            .field("fd", &self.socket.as_raw_fd())
            .finish()
    }
}

impl VrrpSocket {
    /// Opens the socket on `interface` in the calling thread's network namespace. Needs
    /// CAP_NET_RAW, and a tokio runtime with I/O enabled.
    pub fn open(
        interface: &str,
        family: Family,
        membership: Membership,
    ) -> Result<VrrpSocket, Error> {
        let operation = "opening VRRP socket";
        tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime { operation })?;
        let index = interface_index(interface)?;
        let domain = match family {
            Family::Ipv4 => Domain::IPV4,
            Family::Ipv6 => Domain::IPV6,
        };
        let protocol = Protocol::from(i32::from(IPPROTO_VRRP));
        let socket = Socket::new(domain, Type::RAW.nonblocking(), Some(protocol))
            .map_err(Error::interface(interface, operation))?;
        socket
            .bind_device(Some(interface.as_bytes()))
            .map_err(Error::interface(
                interface,
                "binding VRRP socket to the interface",
            ))?;
        match family {
            Family::Ipv4 => configure_v4(&socket, index, membership),
            Family::Ipv6 => configure_v6(&socket, index, membership),
        }
        .map_err(|(operation, source)| Error::Interface {
            interface: interface.to_owned(),
            operation,
            source,
        })?;
        // Readable only: registered for writing too, every advert sent would come back from
        // epoll as a writable edge, an extra epoll_wait for nothing (see `send_with_ttl`).
        let register = |socket| sys::register(socket, Interest::READABLE);
        let socket = Readable::register(socket, register).map_err(Error::interface(
            interface,
            "registering VRRP socket with tokio",
        ))?;
        Ok(VrrpSocket {
            socket,
            interface: interface.to_owned(),
            index,
            family,
            overflow: AtomicU32::new(0),
            unicast_ttl: AtomicU8::new(TTL as u8),
        })
    }

    pub fn interface(&self) -> &str {
        &self.interface
    }

    pub fn family(&self) -> Family {
        self.family
    }

    /// Waits for the next packet and reads it into `buf` ([`RECEIVE_BUFFER`] bytes hold any
    /// advertisement). A packet that cannot be an advertisement (larger than `buf`, or
    /// malformed) is [`Incoming::Discarded`], not an error: count it and call again at once.
    /// An error is the socket's, not a packet's.
    ///
    /// Cancel-safe: a packet is only taken off the socket by a poll that returns it.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<Incoming> {
        // One buffer for every attempt (the last one finds the queue empty).
        let mut control = Vec::with_capacity(CONTROL_LEN);
        std::future::poll_fn(|cx| {
            let read = |socket: &Socket| self.read_one(socket, buf, &mut control);
            self.socket.poll_read(cx, read, false)
        })
        .await
    }

    /// As [`VrrpSocket::recv`], for a caller that polls its sockets itself, several in one
    /// future, instead of a task per socket: `Pending` when the socket is empty, and `cx`
    /// is woken when a packet comes. `control` is scratch space, kept by the caller so
    /// that a read allocates nothing.
    ///
    /// Cancel-safe in the same way: a packet is only taken off the socket by a call that
    /// returns it.
    pub fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        control: &mut Vec<u8>,
    ) -> Poll<io::Result<Incoming>> {
        let read = |socket: &Socket| self.read_one(socket, buf, control);
        self.socket.poll_read(cx, read, false)
    }

    /// One `recvmsg` into `buf`, told as an [`Incoming`]; WouldBlock when the socket is empty.
    fn read_one(
        &self,
        socket: &Socket,
        buf: &mut [u8],
        control: &mut Vec<u8>,
    ) -> io::Result<Incoming> {
        control.clear();
        control.resize(CONTROL_LEN, 0);
        let read = read(socket, self.family, buf, control)?;
        let ancillary = cmsg::parse(control);
        if let Some(count) = ancillary.overflow {
            self.overflow.store(count, Ordering::Relaxed);
        }
        let mut incoming = match self.family {
            Family::Ipv4 => incoming_v4(&read, buf),
            Family::Ipv6 => incoming_v6(&read, &ancillary),
        };
        if let Incoming::Packet(received) = &mut incoming {
            received.arrived = ancillary.arrived.and_then(arrival);
        }
        Ok(incoming)
    }

    /// Joins `group` on the interface besides the RFC's group (keepalived's `mcast_dst_ip`),
    /// so that adverts sent to it are read.
    pub fn join(&self, group: IpAddr) -> Result<(), Error> {
        let socket = self.socket.get_ref();
        let joined = match (self.family, group) {
            (Family::Ipv4, IpAddr::V4(group)) => {
                let interface = socket2::InterfaceIndexOrAddress::Index(self.index);
                socket.join_multicast_v4_n(&group, &interface)
            }
            (Family::Ipv6, IpAddr::V6(group)) => socket.join_multicast_v6(&group, self.index),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} socket cannot join {group}", self.family),
            )),
        };
        joined.map_err(Error::interface(
            &self.interface,
            "joining a multicast group",
        ))
    }

    /// Packets the kernel dropped since the socket was opened because its receive queue was
    /// full (SO_RXQ_OVFL, as last reported with a received packet). They never reached
    /// [`VrrpSocket::recv`]; among them may have been real advertisements.
    pub fn overflow_drops(&self) -> u32 {
        self.overflow.load(Ordering::Relaxed)
    }

    /// Reads the kernel's drop count now, for [`VrrpSocket::overflow_drops`]: SO_RXQ_OVFL
    /// reports it only with a packet, so drops after the last packet a flood got into the
    /// queue would otherwise wait for the next one. One system call; for after a flood.
    pub fn refresh_overflow_drops(&self) -> io::Result<()> {
        let count = sys::socket_drops(self.socket.get_ref())?;
        self.overflow.store(count, Ordering::Relaxed);
        Ok(())
    }

    /// Sends `payload` (a VRRP message) from `src` to `dst`, a multicast group or a unicast
    /// peer, with TTL / hop limit 255.
    ///
    /// `src` is used as the packet's source (IP_PKTINFO / IPV6_PKTINFO), not whatever the
    /// kernel would pick, because the VRRPv3 checksum covers it and `unicast_src_ip` sets it.
    /// It must be an address of this host that the kernel will send from: for IPv6 not
    /// tentative (EINVAL while duplicate address detection runs). An unspecified `src` lets
    /// the kernel choose.
    pub async fn send(&self, src: IpAddr, dst: IpAddr, payload: &[u8]) -> io::Result<()> {
        self.send_with_ttl(src, dst, TTL as u8, payload).await
    }

    /// As [`VrrpSocket::send`], with `ttl` as the TTL / hop limit of a unicast `dst`
    /// (keepalived's `unicast_ttl`). Multicast is always sent with 255: `ttl` is not used.
    pub async fn send_with_ttl(
        &self,
        src: IpAddr,
        dst: IpAddr,
        ttl: u8,
        payload: &[u8],
    ) -> io::Result<()> {
        retry_while_full(|| self.try_send_with_ttl(src, dst, ttl, payload)).await
    }

    /// [`VrrpSocket::send_with_ttl`] without waiting: `WouldBlock` when the send buffer is
    /// full (the link is stuck), for the caller to try again later. The protocol loop sends
    /// a master's adverts with it where the timer fired (see the daemon's `expire`).
    pub fn try_send_with_ttl(
        &self,
        src: IpAddr,
        dst: IpAddr,
        ttl: u8,
        payload: &[u8],
    ) -> io::Result<()> {
        if !dst.is_multicast() && self.unicast_ttl.load(Ordering::Relaxed) != ttl {
            // One protocol task sends on the socket, so the setting holds for the send that
            // follows; the cache spares a system call per advert.
            let socket = self.socket.get_ref();
            match self.family {
                Family::Ipv4 => socket.set_ttl_v4(u32::from(ttl))?,
                Family::Ipv6 => socket.set_unicast_hops_v6(u32::from(ttl))?,
            }
            self.unicast_ttl.store(ttl, Ordering::Relaxed);
        }
        let (index, socket) = (self.index, self.socket.get_ref());
        let sent = match (self.family, src, dst) {
            (Family::Ipv4, IpAddr::V4(src), IpAddr::V4(dst)) => {
                send_v4(socket, index, src, dst, payload)?
            }
            (Family::Ipv6, IpAddr::V6(src), IpAddr::V6(dst)) => {
                sys::send_v6(socket, index, src, dst, payload)?
            }
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "{} VRRP socket on {} cannot send from {src} to {dst}",
                        self.family, self.interface
                    ),
                ));
            }
        };
        if sent != payload.len() {
            return Err(io::Error::other(format!(
                "sent {sent} of {} bytes",
                payload.len()
            )));
        }
        Ok(())
    }
}

/// Sends with `send` (non-blocking). The send buffer holds hundreds of adverts, so it is
/// full only when the link is stuck; then each retry waits [`FULL_PAUSE`], up to
/// [`FULL_RETRIES`] times, and the last answer is the caller's.
async fn retry_while_full(mut send: impl FnMut() -> io::Result<()>) -> io::Result<()> {
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

/// A setup failure: which step, and the kernel's answer.
type Setup = Result<(), (&'static str, io::Error)>;

fn at(operation: &'static str) -> impl FnOnce(io::Error) -> (&'static str, io::Error) {
    move |source| (operation, source)
}

/// What both families share: a large receive queue, and the count of what overflows it.
fn configure_receive(socket: &Socket) -> Setup {
    if setsockopt(socket, socket::sockopt::RcvBufForce, &RECEIVE_QUEUE_BYTES).is_err() {
        // Without CAP_NET_ADMIN: as much as net.core.rmem_max allows.
        socket
            .set_recv_buffer_size(RECEIVE_QUEUE_BYTES)
            .map_err(at("setting SO_RCVBUF"))?;
    }
    setsockopt(socket, socket::sockopt::RxqOvfl, &1)
        .map_err(|errno| ("setting SO_RXQ_OVFL", errno.into()))?;
    setsockopt(socket, socket::sockopt::ReceiveTimestampns, &true)
        .map_err(|errno| ("setting SO_TIMESTAMPNS", errno.into()))
}

/// `stamp` (SO_TIMESTAMPNS: the realtime clock, since the epoch) on [`Instant`]'s monotonic
/// clock: now less the packet's age by the realtime clock. A stamp ahead of the clock (it
/// was stepped back since) makes the packet new, never one from the future. Only a step
/// forward of the realtime clock between arrival and read makes a packet look older than
/// it is; NTP slews rather than steps once a host runs.
fn arrival(stamp: Duration) -> Option<Instant> {
    let now_real = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?;
    let now = Instant::now();
    now.checked_sub(now_real.saturating_sub(stamp))
}

fn configure_v4(socket: &Socket, index: u32, membership: Membership) -> Setup {
    configure_receive(socket)?;
    socket.set_ttl_v4(TTL).map_err(at("setting IP_TTL"))?;
    socket
        .set_multicast_ttl_v4(TTL)
        .map_err(at("setting IP_MULTICAST_TTL"))?;
    socket.set_tos_v4(TOS).map_err(at("setting IP_TOS"))?;
    send_from_any_address(socket.set_ip_transparent_v4(true))
        .map_err(at("setting IP_TRANSPARENT"))?;
    socket
        .set_multicast_all_v4(false)
        .map_err(at("setting IP_MULTICAST_ALL"))?;
    socket
        .set_multicast_loop_v4(false)
        .map_err(at("setting IP_MULTICAST_LOOP"))?;
    sys::set_multicast_if_v4_by_index(socket, index).map_err(at("setting IP_MULTICAST_IF"))?;
    if membership == Membership::Multicast {
        let interface = socket2::InterfaceIndexOrAddress::Index(index);
        socket
            .join_multicast_v4_n(&GROUP_V4, &interface)
            .map_err(at("joining 224.0.0.18"))?;
    }
    Ok(())
}

fn configure_v6(socket: &Socket, index: u32, membership: Membership) -> Setup {
    configure_receive(socket)?;
    socket
        .set_unicast_hops_v6(TTL)
        .map_err(at("setting IPV6_UNICAST_HOPS"))?;
    socket
        .set_multicast_hops_v6(TTL)
        .map_err(at("setting IPV6_MULTICAST_HOPS"))?;
    socket
        .set_tclass_v6(TOS)
        .map_err(at("setting IPV6_TCLASS"))?;
    send_from_any_address(socket.set_ip_transparent_v6(true))
        .map_err(at("setting IPV6_TRANSPARENT"))?;
    socket
        .set_recv_hoplimit_v6(true)
        .map_err(at("setting IPV6_RECVHOPLIMIT"))?;
    setsockopt(socket, socket::sockopt::Ipv6RecvPacketInfo, &true)
        .map_err(|errno| ("setting IPV6_RECVPKTINFO", errno.into()))?;
    // IPV6_MULTICAST_ALL is Linux 4.20+; older kernels deliver as if it were on.
    socket
        .set_multicast_all_v6(false)
        .or_else(unsupported_is_ok)
        .map_err(at("setting IPV6_MULTICAST_ALL"))?;
    socket
        .set_multicast_loop_v6(false)
        .map_err(at("setting IPV6_MULTICAST_LOOP"))?;
    socket
        .set_multicast_if_v6(index)
        .map_err(at("setting IPV6_MULTICAST_IF"))?;
    if membership == Membership::Multicast {
        socket
            .join_multicast_v6(&GROUP_V6, index)
            .map_err(at("joining ff02::12"))?;
    }
    Ok(())
}

/// A master goes on advertising from its source address (`unicast_src_ip`, or the primary
/// address it started with) even after that address left the host, as keepalived does:
/// without IP_TRANSPARENT / IPV6_TRANSPARENT the kernel refuses a source that is not local
/// (ENETUNREACH, EINVAL), the backup stops hearing the master and takes the VIP, and both
/// hold it. `track_src_ip` is the setting that gives up instead. Setting the option needs
/// CAP_NET_RAW or CAP_NET_ADMIN, which a VRRP socket's owner has; where it is refused anyway
/// (EPERM) the socket still works for every source address the host has.
fn send_from_any_address(set: io::Result<()>) -> io::Result<()> {
    match set {
        Err(error) if error.raw_os_error() == Some(libc::EPERM) => Ok(()),
        other => other,
    }
}

fn unsupported_is_ok(error: io::Error) -> io::Result<()> {
    if error.raw_os_error() == Some(libc::ENOPROTOOPT) {
        Ok(())
    } else {
        Err(error)
    }
}

/// One `recvmsg`: the datagram's length as the kernel had it, the flags, the source (IPv6).
struct Read {
    len: usize,
    buf_len: usize,
    flags: MsgFlags,
    src: Option<Ipv6Addr>,
}

/// Reads one datagram. MSG_TRUNC makes the length the datagram's real one, so a packet larger
/// than `buf` is seen as such; the kernel drops what did not fit. `control` must be zeroed:
/// the parser stops at the first zero-length header.
fn read(
    socket: &Socket,
    family: Family,
    buf: &mut [u8],
    control: &mut Vec<u8>,
) -> io::Result<Read> {
    let buf_len = buf.len();
    let mut iov = [IoSliceMut::new(buf)];
    let fd = socket.as_raw_fd();
    let (len, flags, src) = match family {
        Family::Ipv4 => {
            let message = recvmsg::<SockaddrIn>(fd, &mut iov, Some(control), MsgFlags::MSG_TRUNC)?;
            (message.bytes, message.flags, None)
        }
        Family::Ipv6 => {
            let message = recvmsg::<SockaddrIn6>(fd, &mut iov, Some(control), MsgFlags::MSG_TRUNC)?;
            let src = message.address.map(|address| address.ip());
            (message.bytes, message.flags, src)
        }
    };
    Ok(Read {
        len,
        buf_len,
        flags,
        src,
    })
}

fn discarded(reason: DiscardReason, read: &Read, src: Option<IpAddr>, detail: String) -> Incoming {
    Incoming::Discarded(Discarded {
        reason,
        len: read.len,
        src,
        detail,
    })
}

fn oversized(read: &Read) -> Option<String> {
    (read.flags.contains(MsgFlags::MSG_TRUNC) || read.len > read.buf_len).then(|| {
        format!(
            "{}-byte packet is larger than any advertisement ({}-byte buffer)",
            read.len, read.buf_len
        )
    })
}

/// IPv4 raw sockets deliver the IP header: everything needed is in the packet.
fn incoming_v4(read: &Read, buf: &[u8]) -> Incoming {
    if let Some(detail) = oversized(read) {
        // The source is in the part that was read, when there is a header at all.
        let src = ipv4_header::source(&buf[..read.buf_len.min(read.len)]).map(IpAddr::from);
        return discarded(DiscardReason::Oversized, read, src, detail);
    }
    let header = match ipv4_header::parse(&buf[..read.len]) {
        Ok(header) => header,
        Err(error) => {
            return discarded(DiscardReason::Malformed, read, None, error.to_string());
        }
    };
    if header.protocol != IPPROTO_VRRP {
        let detail = format!("IP protocol {} is not VRRP", header.protocol);
        return discarded(
            DiscardReason::Malformed,
            read,
            Some(header.src.into()),
            detail,
        );
    }
    Incoming::Packet(Received {
        src: header.src.into(),
        dst: header.dst.into(),
        ttl: header.ttl,
        payload: header.payload,
        arrived: None,
    })
}

/// IPv6 raw sockets deliver only the payload; source comes from the socket address, hop limit
/// and destination from control messages.
fn incoming_v6(read: &Read, ancillary: &cmsg::Ancillary) -> Incoming {
    let src = read.src.map(IpAddr::from);
    if let Some(detail) = oversized(read) {
        return discarded(DiscardReason::Oversized, read, src, detail);
    }
    let malformed = |detail: &str| discarded(DiscardReason::Malformed, read, src, detail.into());
    if read.flags.contains(MsgFlags::MSG_CTRUNC) {
        return malformed("control messages were truncated");
    }
    let (Some(source), Some(dst), Some(ttl)) = (src, ancillary.dst, ancillary.hop_limit) else {
        return malformed("packet without a source, IPV6_PKTINFO or IPV6_HOPLIMIT");
    };
    Incoming::Packet(Received {
        src: source,
        dst: dst.into(),
        ttl,
        payload: 0..read.len,
        arrived: None,
    })
}

fn send_v4(
    socket: &Socket,
    index: u32,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    payload: &[u8],
) -> io::Result<usize> {
    // For raw sockets ipi_spec_dst becomes the source address (ip(7), raw_sendmsg).
    let info = libc::in_pktinfo {
        ipi_ifindex: i32::try_from(index).map_err(|_| io::ErrorKind::InvalidInput)?,
        ipi_spec_dst: libc::in_addr {
            s_addr: u32::from(src).to_be(),
        },
        ipi_addr: libc::in_addr { s_addr: 0 },
    };
    let destination = SockaddrIn::from(SocketAddrV4::new(dst, 0));
    Ok(sendmsg(
        socket.as_raw_fd(),
        &[IoSlice::new(payload)],
        &[ControlMessage::Ipv4PacketInfo(&info)],
        MsgFlags::empty(),
        Some(&destination),
    )?)
}
