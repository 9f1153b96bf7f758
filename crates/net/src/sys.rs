//! What no safe wrapper does, and so the only `unsafe` in baton:
//! - IP_MULTICAST_IF by interface index (`struct ip_mreqn`): socket2 sets it by address only,
//!   and an interface may have no IPv4 address yet, or several;
//! - a `sockaddr_ll` for AF_PACKET sends: neither socket2 nor nix builds one safely;
//! - IP_RECVTTL (BFD's GTSM check reads each IPv4 packet's TTL): neither socket2 nor nix 0.29
//!   sets it;
//! - ICMP6_FILTER (`struct icmp6_filter`), for the unsolicited NAs' send-only socket: neither
//!   sets it either;
//! - registering a socket (or an inotify instance) with tokio: since tokio 1.54
//!   `AsyncFd::register` is `unsafe` (the caller vouches that the fd stays open and the same),
//!   and the safe `AsyncFd::new` is deprecated as unsound.

use std::io::{self, IoSlice};
use std::mem;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::AsRawFd;

use nix::sys::socket::{ControlMessage, MsgFlags, SockaddrIn6, sendmsg};

use socket2::{SockAddr, SockAddrStorage, Socket};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// IP_MULTICAST_IF with `struct ip_mreqn`, naming the interface by index as keepalived does.
pub(crate) fn set_multicast_if_v4_by_index(socket: &Socket, ifindex: u32) -> io::Result<()> {
    let ifindex = i32::try_from(ifindex).map_err(|_| io::ErrorKind::InvalidInput)?;
    let request = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: ifindex,
    };
    set_option(socket, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &request)
}

/// IP_RECVTTL on: each IPv4 datagram comes with its TTL (an IP_TTL control message), also on
/// a dual-stack IPv6 socket.
pub(crate) fn set_recv_ttl_v4(socket: &Socket) -> io::Result<()> {
    let on: libc::c_int = 1;
    set_option(socket, libc::IPPROTO_IP, libc::IP_RECVTTL, &on)
}

/// ICMP6_FILTER (linux/icmpv6.h) blocking every type: a raw ICMPv6 socket that only sends
/// gets nothing queued, and costs received ICMPv6 traffic nothing (the kernel tests the
/// filter before it clones a packet for the socket). A set bit blocks its type.
pub(crate) fn block_all_icmpv6(socket: &Socket) -> io::Result<()> {
    let block_all: [u32; 8] = [u32::MAX; 8];
    set_option(socket, libc::IPPROTO_ICMPV6, ICMP6_FILTER, &block_all)
}

/// ICMP6_FILTER passing every type, as a raw ICMPv6 socket starts: what tests compare
/// [`block_all_icmpv6`] with, on the same socket.
#[cfg(test)]
pub(crate) fn pass_all_icmpv6(socket: &Socket) -> io::Result<()> {
    let pass_all: [u32; 8] = [0; 8];
    set_option(socket, libc::IPPROTO_ICMPV6, ICMP6_FILTER, &pass_all)
}

/// The option's number in linux/icmpv6.h (libc does not define it).
const ICMP6_FILTER: libc::c_int = 1;

/// `setsockopt(level, name)` with `value`, a plain C struct or integer the option expects.
fn set_option<T: Copy>(
    socket: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    let len = mem::size_of::<T>() as libc::socklen_t;
    #[allow(unsafe_code)]
    // SAFETY: the fd is open for the lifetime of `socket`; the pointer and length describe
    // `value`, an initialised `T` (`Copy`: plain data, no pointers the kernel could follow)
    // that lives until the call returns, and the kernel only reads it.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            len,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Packets the kernel dropped at `socket` since it was opened (`SO_MEMINFO`'s
/// `SK_MEMINFO_DROPS`): the count SO_RXQ_OVFL hands over with each received packet, read
/// when no packet comes.
pub(crate) fn socket_drops(socket: &Socket) -> io::Result<u32> {
    // The kernel copies as many of its counters as fit; the drops are the ninth.
    let drops = libc::SK_MEMINFO_DROPS as usize;
    let mut info = [0u32; libc::SK_MEMINFO_DROPS as usize + 1];
    let mut len = mem::size_of_val(&info) as libc::socklen_t;
    #[allow(unsafe_code)]
    // SAFETY: the fd is open for the lifetime of `socket`; the pointer and length describe
    // `info`, a writable array that lives until the call returns, and the kernel writes at
    // most `len` bytes into it (and says how many in `len`).
    let result = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_MEMINFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    if (len as usize) < (drops + 1) * mem::size_of::<u32>() {
        return Err(io::Error::other(format!(
            "SO_MEMINFO gave {len} bytes, too few for the drop count"
        )));
    }
    Ok(info[drops])
}

/// A link-layer destination for `sendto` on an AF_PACKET socket.
pub(crate) fn link_layer_address(
    ifindex: u32,
    ethertype: u16,
    mac: [u8; 6],
) -> io::Result<SockAddr> {
    let ifindex = i32::try_from(ifindex).map_err(|_| io::ErrorKind::InvalidInput)?;
    let mut sll_addr = [0; 8];
    sll_addr[..6].copy_from_slice(&mac);
    let address = libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as libc::sa_family_t,
        sll_protocol: ethertype.to_be(),
        sll_ifindex: ifindex,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 6,
        sll_addr,
    };
    let mut storage = SockAddrStorage::zeroed();
    #[allow(unsafe_code)]
    // SAFETY: sockaddr_storage is larger than and aligned for every sockaddr type, including
    // sockaddr_ll, so viewing it as one is in bounds; the length passed is exactly
    // sizeof(sockaddr_ll) and the family field says AF_PACKET, as SockAddr::new requires.
    let address = unsafe {
        *storage.view_as::<libc::sockaddr_ll>() = address;
        SockAddr::new(
            storage,
            mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    Ok(address)
}

/// Registers `socket` with the current tokio runtime's reactor. The runtime must have I/O
/// enabled (`enable_io` / `enable_all`): tokio panics otherwise, and that cannot be checked.
pub(crate) fn register(socket: Socket, interest: Interest) -> io::Result<AsyncFd<Socket>> {
    // tokio panics without a runtime; an error is kinder to a caller on another executor.
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(io::Error::other("not inside a tokio runtime"));
    }
    #[allow(unsafe_code)]
    // SAFETY: a socket2::Socket owns its fd: it stays open, and `as_raw_fd` returns that same fd,
    // until the Socket is dropped, which only happens when the AsyncFd is; this crate never
    // takes the Socket out or swaps it through `get_mut`.
    let registered = unsafe { AsyncFd::register_with_interest(socket, interest) };
    registered.map_err(io::Error::from)
}

/// An inotify instance as tokio takes it (`AsRawFd`; nix's type has `AsFd` only).
#[derive(Debug)]
pub(crate) struct InotifyFd(pub(crate) nix::sys::inotify::Inotify);

impl AsRawFd for InotifyFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsFd::as_fd(&self.0).as_raw_fd()
    }
}

/// A timerfd as tokio takes it (`AsRawFd`; nix's type has `AsFd` only).
#[derive(Debug)]
pub(crate) struct TimerFd(pub(crate) nix::sys::timerfd::TimerFd);

impl AsRawFd for TimerFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsFd::as_fd(&self.0).as_raw_fd()
    }
}

/// A nix type holding an fd it owns (an OwnedFd it never replaces), as tokio takes it.
pub(crate) trait NixFd: AsRawFd {}

impl std::os::fd::AsFd for TimerFd {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl NixFd for InotifyFd {}
impl NixFd for TimerFd {}

/// Registers `fd` (made non-blocking) for reading with the current tokio runtime, as
/// [`register`] does a socket.
pub(crate) fn register_readable<T: NixFd>(fd: T) -> io::Result<AsyncFd<T>> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(io::Error::other("not inside a tokio runtime"));
    }
    #[allow(unsafe_code)]
    // SAFETY: a NixFd's nix type owns its fd: it stays open, and `as_raw_fd` returns that same
    // fd, until it is dropped, which only happens when the AsyncFd is; this crate never takes
    // it out or swaps it through `get_mut`.
    let registered = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) };
    registered.map_err(io::Error::from)
}

/// Sends `payload` on a raw IPv6 `socket` out of interface `index`, from `src`
/// (IPV6_PKTINFO; unspecified: the kernel's choice) to `dst`.
pub(crate) fn send_v6(
    socket: &Socket,
    index: u32,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    payload: &[u8],
) -> io::Result<usize> {
    let info = libc::in6_pktinfo {
        ipi6_addr: libc::in6_addr {
            s6_addr: src.octets(),
        },
        ipi6_ifindex: index,
    };
    // The scope id only matters for link-scoped destinations (ff02::12, fe80::/10), and there
    // it must name this interface.
    let destination = SockaddrIn6::from(SocketAddrV6::new(dst, 0, 0, index));
    Ok(sendmsg(
        socket.as_raw_fd(),
        &[IoSlice::new(payload)],
        &[ControlMessage::Ipv6PacketInfo(&info)],
        MsgFlags::empty(),
        Some(&destination),
    )?)
}
