//! A listener of one nflog group (nfnetlink_log): the packets an nftables rule hands over
//! with `log group N`. baton uses it as a signal, not to read packets: what it needs is
//! the moment a rule first matched, so the listener asks for no payload and reports how
//! many packets each wake-up brought.
//!
//! The rule should say `queue-threshold 1` (or the group is bound with a threshold of 1,
//! as here): the kernel otherwise batches up to 100 packets or 1 s before it sends them.
//! Only one socket per network namespace can bind a group; the kernel refuses a second
//! (EPERM).

use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_netfilter::nflog::{ConfigCmd, ConfigMode, ConfigNla, ULogMessage};
use netlink_packet_netfilter::{NetfilterMessage, NetfilterMessageInner, NetfilterProtoFamily};
use nix::sys::socket::NetlinkAddr;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::error::{Error, io_error, netlink_failed};
use crate::sys;

/// How long [`NflogGroup::bind`] waits for the kernel's acknowledgement.
const ACK_WAIT: Duration = Duration::from_secs(1);

/// A bound nflog group.
#[derive(Debug)]
pub struct NflogGroup {
    socket: AsyncFd<Socket>,
    group: u16,
    buffer: Vec<u8>,
}

/// The configuration request that binds `group`: metadata only, each packet sent at once.
fn bind_request(group: u16) -> Vec<u8> {
    let nlas = vec![
        ConfigNla::Cmd(ConfigCmd::Bind),
        ConfigNla::Mode(ConfigMode::META),
        ConfigNla::QThresh(1),
    ];
    let message =
        netlink_packet_netfilter::nflog::config_request(NetfilterProtoFamily::Unspec, group, nlas);
    let mut bytes = vec![0; message.header.length as usize];
    message.serialize(&mut bytes);
    bytes
}

/// What one datagram from the kernel holds: the acknowledgement (or refusal) of a
/// request, or logged packets.
#[derive(Debug, PartialEq, Eq)]
enum Datagram {
    Ack,
    Refused(i32),
    Packets(usize),
}

/// Reads the netlink messages of one datagram. Anything it cannot parse counts as nothing.
fn read_datagram(bytes: &[u8]) -> Datagram {
    let mut packets = 0;
    let mut offset = 0;
    while offset < bytes.len() {
        let Ok(message) = NetlinkMessage::<NetfilterMessage>::deserialize(&bytes[offset..]) else {
            break;
        };
        match &message.payload {
            NetlinkPayload::Error(error) => {
                return match error.code {
                    None => Datagram::Ack,
                    Some(code) => Datagram::Refused(-code.get()),
                };
            }
            NetlinkPayload::InnerMessage(NetfilterMessage {
                inner: NetfilterMessageInner::ULog(ULogMessage::Packet(_)),
                ..
            }) => packets += 1,
            _ => {}
        }
        let length = message.header.length as usize;
        if length == 0 {
            break;
        }
        offset += length.next_multiple_of(4);
    }
    Datagram::Packets(packets)
}

impl NflogGroup {
    /// Binds `group` in the calling thread's network namespace and waits for the kernel's
    /// acknowledgement. Must be called within a tokio runtime with I/O enabled.
    pub fn bind(group: u16) -> Result<NflogGroup, Error> {
        let socket = Socket::new(
            Domain::from(libc::AF_NETLINK),
            Type::RAW,
            Some(Protocol::from(libc::NETLINK_NETFILTER)),
        )
        .map_err(netlink_failed("opening an nfnetlink socket"))?;
        nix::sys::socket::bind(socket.as_raw_fd(), &NetlinkAddr::new(0, 0))
            .map_err(io_error)
            .map_err(netlink_failed("binding an nfnetlink socket"))?;
        socket.send(&bind_request(group)).map_err(netlink_failed(
            "binding an nflog group (needs CAP_NET_ADMIN)",
        ))?;
        await_ack(&socket)?;
        socket
            .set_nonblocking(true)
            .map_err(netlink_failed("binding an nflog group"))?;
        let socket = sys::register(socket, Interest::READABLE)
            .map_err(netlink_failed("registering the nflog socket"))?;
        Ok(NflogGroup {
            socket,
            group,
            buffer: vec![0; 8192],
        })
    }

    pub fn group(&self) -> u16 {
        self.group
    }

    /// Waits until the group's rules log at least one packet, and returns how many came
    /// in the datagram that woke it (the kernel's overflow, ENOBUFS, counts as one).
    pub async fn logged(&mut self) -> Result<usize, Error> {
        loop {
            let mut guard = self
                .socket
                .readable()
                .await
                .map_err(netlink_failed("waiting for nflog packets"))?;
            let buffer = &mut self.buffer;
            let received = guard.try_io(|socket| {
                nix::sys::socket::recvfrom::<NetlinkAddr>(socket.as_raw_fd(), buffer)
                    .map_err(io_error)
            });
            let (len, from) = match received {
                Err(_would_block) => continue,
                Ok(Err(error)) if error.raw_os_error() == Some(libc::ENOBUFS) => return Ok(1),
                Ok(Err(error)) if error.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(error)) => return Err(netlink_failed("receiving nflog packets")(error)),
                Ok(Ok(received)) => received,
            };
            if from.is_none_or(|address| address.pid() != 0) {
                continue;
            }
            if let Datagram::Packets(packets @ 1..) = read_datagram(&self.buffer[..len]) {
                return Ok(packets);
            }
        }
    }
}

/// Waits (blocking, at most [`ACK_WAIT`]) for the kernel's answer to the bind request.
fn await_ack(socket: &Socket) -> Result<(), Error> {
    let operation = "binding an nflog group";
    let deadline = Instant::now() + ACK_WAIT;
    let mut buffer = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Netlink {
                operation,
                source: io::Error::new(io::ErrorKind::TimedOut, "the kernel did not answer"),
            });
        }
        socket
            .set_read_timeout(Some(left))
            .map_err(netlink_failed(operation))?;
        let (len, _) = nix::sys::socket::recvfrom::<NetlinkAddr>(socket.as_raw_fd(), &mut buffer)
            .map_err(io_error)
            .map_err(netlink_failed(operation))?;
        match read_datagram(&buffer[..len]) {
            Datagram::Ack => return Ok(()),
            // The kernel says EPERM both when another socket of this namespace has the
            // group and when the caller lacks CAP_NET_ADMIN.
            Datagram::Refused(libc::EPERM) => {
                return Err(netlink_failed(operation)(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "refused: another socket of this network namespace has the group, \
                     or this process lacks CAP_NET_ADMIN",
                )));
            }
            Datagram::Refused(code) => {
                return Err(netlink_failed(operation)(io::Error::from_raw_os_error(
                    code,
                )));
            }
            Datagram::Packets(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bind_request_asks_for_metadata_and_no_batching() {
        let bytes = bind_request(0x0ba7);
        // nlmsghdr: NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_CONFIG, request and ack.
        assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), (4 << 8) | 1);
        let flags = u16::from_ne_bytes([bytes[6], bytes[7]]);
        assert_eq!(flags, 0x1 | 0x4);
        // nfgenmsg: AF_UNSPEC, version 0, the group in network order.
        assert_eq!(&bytes[16..20], &[0, 0, 0x0b, 0xa7]);
        let parsed = NetlinkMessage::<NetfilterMessage>::deserialize(&bytes).expect("parses");
        let NetlinkPayload::InnerMessage(NetfilterMessage {
            inner: NetfilterMessageInner::ULog(ULogMessage::Config(nlas)),
            ..
        }) = parsed.payload
        else {
            panic!("not a config message: {parsed:?}");
        };
        assert!(nlas.contains(&ConfigNla::Cmd(ConfigCmd::Bind)), "{nlas:?}");
        assert!(nlas.contains(&ConfigNla::QThresh(1)), "{nlas:?}");
    }

    #[test]
    fn garbage_is_no_packet() {
        assert_eq!(read_datagram(&[]), Datagram::Packets(0));
        assert_eq!(read_datagram(&[0xff; 7]), Datagram::Packets(0));
        assert_eq!(read_datagram(&[0; 64]), Datagram::Packets(0));
    }
}
