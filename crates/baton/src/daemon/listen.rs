//! Listening sockets for frontends.
//!
//! A frontend usually listens on the VIP, which only the master holds. Binding with
//! IP_FREEBIND lets the backup open the same listener before it has the address, so it serves
//! from the first packet after it takes over instead of binding (and maybe failing) then.

use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;

/// Pending connections the kernel queues per listener: the usual `somaxconn`.
const BACKLOG: i32 = 4096;

/// Binds `address` even if no interface has it yet. SO_REUSEADDR so a restart does not wait
/// for TIME_WAIT; SO_REUSEPORT so a reload can open the new listener before closing the old.
pub(crate) fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = unbound(address)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

/// Another descriptor of `socket`, a listener already bound and listening, for a proxy to
/// accept on. Both share the socket (and its accept queue): the socket closes with its last
/// descriptor.
pub(crate) fn share(socket: &Socket) -> std::io::Result<TcpListener> {
    TcpListener::from_std(socket.try_clone()?.into())
}

/// Another descriptor of `listener`'s socket, kept aside to [`share`] it later. Fails only
/// for want of a file descriptor.
pub(crate) fn same_socket(listener: &TcpListener) -> std::io::Result<Socket> {
    socket2::SockRef::from(listener).try_clone()
}

/// A TCP socket for `address` with a frontend listener's options, not bound yet; the drain's
/// SYN gate joins the listener's SO_REUSEPORT group with one.
pub(crate) fn unbound(address: SocketAddr) -> std::io::Result<Socket> {
    let domain = Domain::for_address(address);
    let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    match address {
        SocketAddr::V4(_) => socket.set_freebind_v4(true)?,
        SocketAddr::V6(_) => {
            socket.set_freebind_v6(true)?;
            // "[::]:80" should not also take IPv4 port 80: that is another frontend's to say.
            socket.set_only_v6(true)?;
        }
    }
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn binds_an_address_no_interface_has() {
        // 192.0.2.0/24 is TEST-NET-1: never on this machine's interfaces. Nothing is sent.
        let listener = bind("192.0.2.77:0".parse().expect("address")).expect("freebind");
        assert_eq!(
            listener.local_addr().expect("local").ip().to_string(),
            "192.0.2.77"
        );
    }

    #[tokio::test]
    async fn a_second_listener_on_the_same_port_may_open_for_a_reload() {
        let first = bind("127.0.0.1:0".parse().expect("address")).expect("first");
        let address = first.local_addr().expect("local");
        let second = bind(address).expect("second, with SO_REUSEPORT");
        assert_eq!(second.local_addr().expect("local"), address);
    }
}
