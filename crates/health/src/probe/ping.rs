//! PING_CHECK: an ICMP echo request is answered.
//!
//! It uses an unprivileged ICMP datagram socket ("ping socket") where
//! `net.ipv4.ping_group_range` admits the process's group, and a raw ICMP socket otherwise
//! (which needs CAP_NET_RAW, as root has). keepalived instead widens ping_group_range
//! itself; baton leaves the host's sysctls alone. Neither way needs unsafe code.

use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

use socket2::{Protocol, Socket, Type};
use tokio::net::UdpSocket;

use super::Probe;
use super::socket;
use crate::outcome::{Failure, Outcome};

/// ICMPv4 echo request and reply types (RFC 792).
const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
/// ICMPv6 echo request and reply types (RFC 4443 4.1, 4.2).
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;
/// Bytes after the 8-byte ICMP header: a random token, so that a reply to another
/// probe (or an old one) is not taken for ours.
const TOKEN_LEN: usize = 16;

/// Sequence numbers, shared by all probes: each echo gets a new one.
static SEQUENCE: AtomicU16 = AtomicU16::new(0);

pub(super) async fn probe(probe: &Probe) -> Result<Outcome, Failure> {
    let v6 = probe.connect.is_ipv6();
    let (socket, raw) = open(probe).map_err(Failure::Socket)?;
    // Tokio's UdpSocket is only the async wrapper of a datagram socket here: its send and
    // recv are the plain system calls, which an ICMP socket answers too. (AsyncFd would
    // need unsafe code to register the descriptor.)
    let socket = UdpSocket::from_std(socket.into()).map_err(Failure::Socket)?;
    let echo = Echo {
        v6,
        // A datagram socket's echo id is its local port, set by the kernel; a raw socket's
        // is this.
        id: rand::random(),
        sequence: SEQUENCE.fetch_add(1, Ordering::Relaxed),
        token: rand::random(),
    };
    socket.send(&echo.request()).await.map_err(icmp_failure)?;
    let mut buf = [0u8; 1500];
    loop {
        let n = socket.recv(&mut buf).await.map_err(icmp_failure)?;
        // A raw IPv4 socket hands over the IP header too (IPv6 sockets never do).
        let message = if raw && !v6 {
            strip_ipv4_header(&buf[..n])
        } else {
            Some(&buf[..n])
        };
        if message.is_some_and(|message| echo.is_reply(message, raw)) {
            return Ok(Outcome::UP);
        }
    }
}

/// A ping socket if allowed, else a raw one; connected to the target, so that it only
/// hears from there. The bool says raw.
fn open(probe: &Probe) -> io::Result<(Socket, bool)> {
    let protocol = if probe.connect.is_ipv6() {
        Protocol::ICMPV6
    } else {
        Protocol::ICMPV4
    };
    let (socket, raw) = match socket::open(probe, Type::DGRAM, protocol) {
        Ok(socket) => (socket, false),
        // EACCES: the group is outside ping_group_range.
        Err(error) if error.kind() == io::ErrorKind::PermissionDenied => {
            (socket::open(probe, Type::RAW, protocol)?, true)
        }
        Err(error) => return Err(error),
    };
    let mut target = probe.connect;
    target.set_port(0);
    socket.connect(&target.into())?;
    Ok((socket, raw))
}

/// One echo request and what its reply must carry.
struct Echo {
    v6: bool,
    id: u16,
    sequence: u16,
    token: [u8; TOKEN_LEN],
}

impl Echo {
    /// ```text
    ///   type | code | checksum | identifier | sequence | data
    /// ```
    fn request(&self) -> Vec<u8> {
        let kind = if self.v6 {
            ECHO_REQUEST_V6
        } else {
            ECHO_REQUEST_V4
        };
        let mut packet = vec![kind, 0, 0, 0];
        packet.extend_from_slice(&self.id.to_be_bytes());
        packet.extend_from_slice(&self.sequence.to_be_bytes());
        packet.extend_from_slice(&self.token);
        // The kernel fills in the checksum for ping sockets and for ICMPv6; a raw IPv4
        // socket sends what it is given.
        if !self.v6 {
            let checksum = checksum(&packet);
            packet[2..4].copy_from_slice(&checksum.to_be_bytes());
        }
        packet
    }

    /// True if `message` (from the ICMP header on) is the reply to this request. The id
    /// is only ours to check on a raw socket.
    fn is_reply(&self, message: &[u8], raw: bool) -> bool {
        let reply = if self.v6 {
            ECHO_REPLY_V6
        } else {
            ECHO_REPLY_V4
        };
        message.len() >= 8 + TOKEN_LEN
            && message[0] == reply
            && (!raw || message[4..6] == self.id.to_be_bytes())
            && message[6..8] == self.sequence.to_be_bytes()
            && message[8..8 + TOKEN_LEN] == self.token
    }
}

/// An error the kernel raised on the socket for an ICMP error that came back. There is no
/// port to be unreachable here: whatever the ICMP code, the address is unreachable.
fn icmp_failure(error: io::Error) -> Failure {
    match socket::datagram_failure(error) {
        Failure::PortUnreachable => Failure::Unreachable(io::ErrorKind::ConnectionRefused.into()),
        failure => failure,
    }
}

/// The ICMP message inside an IPv4 packet, or None if the header is cut short.
fn strip_ipv4_header(packet: &[u8]) -> Option<&[u8]> {
    let header_len = usize::from(packet.first()? & 0x0f) * 4;
    packet.get(header_len..)
}

/// The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of
/// the 16-bit words.
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|pair| {
            u32::from(u16::from_be_bytes([
                pair[0],
                pair.get(1).copied().unwrap_or(0),
            ]))
        })
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums() {
        // RFC 1071 3's example words sum to ddf2; the checksum is its complement.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2
        );
        let echo = Echo {
            v6: false,
            id: 7,
            sequence: 9,
            token: [1; TOKEN_LEN],
        };
        let request = echo.request();
        assert_eq!(
            checksum(&request),
            0,
            "a packet with its checksum sums to zero"
        );
    }

    #[test]
    fn replies() {
        let echo = Echo {
            v6: false,
            id: 7,
            sequence: 9,
            token: [1; TOKEN_LEN],
        };
        let mut reply = echo.request();
        assert!(!echo.is_reply(&reply, true), "our own request on loopback");
        reply[0] = ECHO_REPLY_V4;
        assert!(echo.is_reply(&reply, true));
        reply[5] = 8;
        assert!(!echo.is_reply(&reply, true), "another id");
        assert!(
            echo.is_reply(&reply, false),
            "the kernel's id on a ping socket"
        );
        reply[7] = 10;
        assert!(!echo.is_reply(&reply, false), "another sequence");
        reply[7] = 9;
        reply[20] = 2;
        assert!(!echo.is_reply(&reply, false), "another token");

        let packet = [
            0x45, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xaa,
        ];
        assert_eq!(strip_ipv4_header(&packet), Some(&[0xaa][..]));
        assert_eq!(strip_ipv4_header(&packet[..3]), None);
    }
}
