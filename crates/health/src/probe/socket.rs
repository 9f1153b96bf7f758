//! The probe's sockets, with keepalived's connection options applied before connecting.

use std::io;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};

use super::Probe;
use crate::outcome::Failure;

/// A non-blocking socket of `ty` for `probe.connect`'s family, marked, bound to the
/// interface and to the source address as the probe asks.
pub(crate) fn open(probe: &Probe, ty: Type, protocol: Protocol) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(probe.connect), ty, Some(protocol))?;
    socket.set_nonblocking(true)?;
    if let Some(mark) = probe.fwmark {
        socket.set_mark(mark)?;
    }
    if let Some(interface) = &probe.bind_interface {
        socket.bind_device(Some(interface.as_bytes()))?;
    }
    if let Some(bind) = probe.bind {
        socket.bind(&bind.into())?;
    }
    Ok(socket)
}

/// A TCP connection to `probe.connect`.
pub(crate) async fn tcp(probe: &Probe) -> Result<TcpStream, Failure> {
    let socket = open(probe, Type::STREAM, Protocol::TCP).map_err(Failure::Socket)?;
    TcpSocket::from_std_stream(socket.into())
        .connect(probe.connect)
        .await
        .map_err(Failure::Connect)
}

/// A UDP socket connected to `probe.connect`: being connected, it gets the ICMP errors
/// for what it sent (port unreachable as ECONNREFUSED) from `recv`.
pub(crate) async fn udp(probe: &Probe) -> Result<UdpSocket, Failure> {
    let socket = open(probe, Type::DGRAM, Protocol::UDP).map_err(Failure::Socket)?;
    let socket = UdpSocket::from_std(socket.into()).map_err(Failure::Socket)?;
    socket
        .connect(probe.connect)
        .await
        .map_err(Failure::Connect)?;
    Ok(socket)
}

/// A `recv` or `send` error on a connected datagram socket, which is how the kernel hands
/// over an ICMP error for an earlier datagram: ECONNREFUSED for port unreachable.
pub(crate) fn datagram_failure(error: io::Error) -> Failure {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => Failure::PortUnreachable,
        io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::PermissionDenied => Failure::Unreachable(error),
        _ => Failure::Io(error),
    }
}
