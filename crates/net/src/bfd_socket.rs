//! The UDP sockets of BFD single hop (RFC 5881), set up as keepalived's bfd process sets up
//! its own (bfd_scheduler.c) so that the two interoperate:
//! - one listener on port 3784 for every session, dual stack ([::]:3784, IPv4 arriving
//!   v4-mapped; IPv4 only where IPv6 is off), reporting each packet's TTL / hop limit
//!   (IP_RECVTTL, IPV6_RECVHOPLIMIT) for the GTSM check and its destination address
//!   (IPV6_RECVPKTINFO, IP_PKTINFO) for telling sessions with several sources apart;
//! - one sender per session, bound to a source port in 49152-65535 as RFC 5881 4 asks
//!   (keepalived binds one only when `source_ip` is set; baton always does, on the
//!   unspecified address without it), sending with the session's TTL / hop limit.
//!
//! What arrives is untrusted and never fails a read: the caller decodes and counts.

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::os::fd::AsRawFd;

use nix::sys::socket::{MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::{cmsg, sys};

/// Room for IPV6_PKTINFO (or IP_PKTINFO) and the TTL / hop limit, with margin.
const CONTROL_LEN: usize = 128;

/// One datagram read from the listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BfdDatagram {
    /// Its length as the kernel had it: more than the buffer means it was cut.
    pub len: usize,
    /// Its source, IPv4 for IPv4 packets (not v4-mapped).
    pub source: SocketAddr,
    /// The local address it was sent to, when the kernel said.
    pub destination: Option<IpAddr>,
    /// Its TTL / hop limit on arrival, when the kernel said.
    pub ttl: Option<u8>,
}

/// The socket every session's packets arrive on.
#[derive(Debug)]
pub struct BfdListener {
    socket: AsyncFd<Socket>,
}

fn context(what: &'static str) -> impl Fn(io::Error) -> io::Error {
    move |error| io::Error::new(error.kind(), format!("BFD: {what}: {error}"))
}

fn from_nix(error: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(error as i32)
}

impl BfdListener {
    /// Binds `port` (3784) on every address, both families if the host has IPv6.
    pub fn bind(port: u16) -> io::Result<BfdListener> {
        let socket = match Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP)) {
            Ok(socket) => {
                socket.set_only_v6(false).map_err(context("IPV6_V6ONLY"))?;
                socket
                    .set_recv_hoplimit_v6(true)
                    .map_err(context("IPV6_RECVHOPLIMIT"))?;
                setsockopt(&socket, sockopt::Ipv6RecvPacketInfo, &true)
                    .map_err(from_nix)
                    .map_err(context("IPV6_RECVPKTINFO"))?;
                // IPv4 packets arriving on the dual-stack socket carry IP_TTL only if asked.
                sys::set_recv_ttl_v4(&socket).map_err(context("IP_RECVTTL"))?;
                socket
                    .bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)).into())
                    .map_err(context("binding [::]:3784"))?;
                socket
            }
            Err(error) if error.raw_os_error() == Some(libc::EAFNOSUPPORT) => {
                let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
                    .map_err(context("opening the IPv4 listener"))?;
                sys::set_recv_ttl_v4(&socket).map_err(context("IP_RECVTTL"))?;
                setsockopt(&socket, sockopt::Ipv4PacketInfo, &true)
                    .map_err(from_nix)
                    .map_err(context("IP_PKTINFO"))?;
                socket
                    .bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())
                    .map_err(context("binding 0.0.0.0:3784"))?;
                socket
            }
            Err(error) => return Err(context("opening the listener")(error)),
        };
        socket.set_nonblocking(true)?;
        Ok(BfdListener {
            socket: sys::register(socket, Interest::READABLE)?,
        })
    }

    /// The next datagram, into `buf`.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<BfdDatagram> {
        self.socket
            .async_io(Interest::READABLE, |socket| {
                let mut control = vec![0u8; CONTROL_LEN];
                let mut iov = [IoSliceMut::new(buf)];
                let message = recvmsg::<SockaddrStorage>(
                    socket.as_raw_fd(),
                    &mut iov,
                    Some(&mut control),
                    MsgFlags::MSG_TRUNC,
                )
                .map_err(from_nix)?;
                let len = message.bytes;
                let source = message.address.and_then(|address| {
                    if let Some(v6) = address.as_sockaddr_in6() {
                        Some(SocketAddr::new(unmapped(v6.ip()), v6.port()))
                    } else {
                        address
                            .as_sockaddr_in()
                            .map(|v4| SocketAddr::new(IpAddr::V4(v4.ip()), v4.port()))
                    }
                });
                let ancillary = cmsg::parse(&control);
                let source = source.ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "datagram without a source")
                })?;
                Ok(BfdDatagram {
                    len,
                    source,
                    destination: ancillary.dst.map(unmapped),
                    ttl: ancillary.hop_limit,
                })
            })
            .await
    }
}

fn unmapped(address: Ipv6Addr) -> IpAddr {
    match address.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(address),
    }
}

/// One session's sending socket.
#[derive(Debug)]
pub struct BfdSender {
    socket: AsyncFd<Socket>,
    neighbor: SocketAddr,
}

impl BfdSender {
    /// A socket sending to `neighbor` port `port` with `ttl`, from `source` (or any
    /// address) and the first free port of `ports` from `first` on, wrapping around.
    pub fn open(
        neighbor: SocketAddr,
        source: Option<IpAddr>,
        ttl: u8,
        ports: RangeInclusive<u16>,
        first: u16,
    ) -> io::Result<BfdSender> {
        let domain = match neighbor {
            SocketAddr::V4(_) => Domain::IPV4,
            SocketAddr::V6(_) => Domain::IPV6,
        };
        let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))
            .map_err(context("opening a sender"))?;
        match neighbor {
            SocketAddr::V4(_) => socket.set_ttl_v4(u32::from(ttl)),
            SocketAddr::V6(_) => socket.set_unicast_hops_v6(u32::from(ttl)),
        }
        .map_err(context("setting the TTL / hop limit"))?;
        let address = source.unwrap_or(match neighbor {
            SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        });
        let (low, high) = (*ports.start(), *ports.end());
        let span = u32::from(high - low) + 1;
        let start = u32::from(first.clamp(low, high) - low);
        let mut bound = Err(io::Error::from(io::ErrorKind::AddrInUse));
        for step in 0..span {
            let port = low + ((start + step) % span) as u16;
            bound = socket.bind(&SocketAddr::new(address, port).into());
            match &bound {
                Err(error) if error.kind() == io::ErrorKind::AddrInUse => continue,
                _ => break,
            }
        }
        bound.map_err(context("binding a source port"))?;
        socket.set_nonblocking(true)?;
        Ok(BfdSender {
            socket: sys::register(socket, Interest::WRITABLE)?,
            neighbor,
        })
    }

    /// The address and port packets leave from.
    pub fn local_address(&self) -> io::Result<SocketAddr> {
        self.socket
            .get_ref()
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidData))
    }

    /// Sends one control packet to the neighbour.
    pub async fn send(&self, payload: &[u8]) -> io::Result<()> {
        let to = self.neighbor.into();
        self.socket
            .async_io(Interest::WRITABLE, |socket| socket.send_to(payload, &to))
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over loopback, in whatever namespace runs the tests: a sender reaches a listener with
    /// its TTL, source port in range, and destination.
    #[tokio::test]
    async fn a_packet_arrives_with_its_ttl_and_addresses() {
        // Port 0: any free one, so parallel runs do not collide.
        let listener = match BfdListener::bind(0) {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("SKIPPED: cannot bind a UDP socket here: {error}");
                return;
            }
        };
        let port = listener
            .socket
            .get_ref()
            .local_addr()
            .unwrap()
            .as_socket()
            .unwrap()
            .port();
        for (neighbor, ttl) in [
            (IpAddr::V4(Ipv4Addr::LOCALHOST), 255),
            (IpAddr::V6(Ipv6Addr::LOCALHOST), 64),
        ] {
            let to = SocketAddr::new(neighbor, port);
            let sender = match BfdSender::open(to, Some(neighbor), ttl, 49152..=65535, 60000) {
                Ok(sender) => sender,
                Err(error) => {
                    eprintln!("SKIPPED {neighbor}: {error}");
                    continue;
                }
            };
            let from = sender.local_address().unwrap();
            assert!((49152..=65535).contains(&from.port()));
            sender.send(b"hello").await.unwrap();
            let mut buf = [0u8; 64];
            let datagram =
                tokio::time::timeout(std::time::Duration::from_secs(5), listener.recv(&mut buf))
                    .await
                    .expect("arrives")
                    .unwrap();
            assert_eq!(&buf[..datagram.len], b"hello");
            assert_eq!(datagram.source, from);
            assert_eq!(datagram.destination, Some(neighbor));
            assert_eq!(datagram.ttl, Some(ttl));
        }
    }
}
