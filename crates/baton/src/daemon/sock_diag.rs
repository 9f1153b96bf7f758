//! TCP sockets on given local addresses, from the kernel's sock_diag (inet_diag) dump.
//!
//! /proc/net/tcp and tcp6 format every connection of the namespace as text, in page-sized
//! reads that each walk the kernel's connection hash again (10-50 ms a pair here). One
//! inet_diag dump walks the hash once (about 1 ms for its 262,144 buckets on this 24 GiB
//! VM, the cost that remains), skips in the kernel the sockets in other states
//! (`idiag_states`) and those on other local addresses (an `INET_DIAG_REQ_BYTECODE`
//! filter), and returns the rest as binary records.
//!
//! The request is inet_diag's first one, TCPDIAG_GETSOCK, which asks for IPv4 and IPv6
//! sockets in one walk (SOCK_DIAG_BY_FAMILY takes one family a dump: two walks). Its
//! records are the same `inet_diag_msg` as SOCK_DIAG_BY_FAMILY's, parsed by
//! netlink-packet-sock-diag; that crate writes only SOCK_DIAG_BY_FAMILY requests, with no
//! attribute, so the request is written here on netlink-packet-core's header.

use std::io;
use std::net::{IpAddr, SocketAddr};

use netlink_packet_core::{
    Emitable, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NetlinkBuffer, NetlinkHeader,
    Parseable,
};
use netlink_packet_sock_diag::{AF_INET, AF_INET6, AF_UNSPEC, inet::InetResponse};
use netlink_sys::{Socket, SocketAddr as NetlinkAddr, protocols::NETLINK_SOCK_DIAG};

/// TCP states as the kernel numbers them (include/net/tcp_states.h); /proc/net/tcp prints
/// the same numbers in hex.
pub(crate) const ESTABLISHED: u8 = 1;
pub(crate) const SYN_RECV: u8 = 3;
pub(crate) const FIN_WAIT1: u8 = 4;
pub(crate) const FIN_WAIT2: u8 = 5;
pub(crate) const CLOSE_WAIT: u8 = 8;
pub(crate) const LAST_ACK: u8 = 9;
pub(crate) const CLOSING: u8 = 11;

/// The states in which a connection still exchanges packets with its peer (not LISTEN,
/// TIME_WAIT or CLOSE).
pub(crate) const OPEN: States = States::of(&[
    ESTABLISHED,
    SYN_RECV,
    FIN_WAIT1,
    FIN_WAIT2,
    CLOSE_WAIT,
    LAST_ACK,
    CLOSING,
]);

/// A set of TCP states, as inet_diag's `idiag_states` takes it: bit `1 << state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct States(u32);

impl States {
    pub(crate) const fn of(states: &[u8]) -> States {
        let mut bits = 0;
        let mut i = 0;
        while i < states.len() {
            bits |= 1 << states[i];
            i += 1;
        }
        States(bits)
    }

    pub(crate) fn contains(self, state: u8) -> bool {
        state < 32 && self.0 & (1 << state) != 0
    }
}

/// Whether a socket whose local address is `local` is on one of `addresses` (a wildcard
/// address matches its port on any address; an IPv4-mapped IPv6 address is its IPv4 one).
pub(crate) fn is_on(local: SocketAddr, addresses: &[SocketAddr]) -> bool {
    addresses.iter().any(|address| {
        address.port() == local.port()
            && (address.ip().is_unspecified()
                || address.ip().to_canonical() == local.ip().to_canonical())
    })
}

/// One socket of a dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    pub(crate) state: u8,
}

/// A NETLINK_SOCK_DIAG socket of this thread's network namespace, kept for the reads of
/// one wait.
pub(crate) struct Table {
    socket: Socket,
    sequence: u32,
    buffer: Vec<u8>,
}

/// Netlink sends a dump in parts of at most 32 KiB.
const RECEIVE: usize = 32 * 1024;

/// inet_diag's request attribute that carries a filter program.
const INET_DIAG_REQ_BYTECODE: u16 = 1;

/// inet_diag filter operations (include/uapi/linux/inet_diag.h).
const INET_DIAG_BC_JMP: u8 = 1;
const INET_DIAG_BC_S_COND: u8 = 7;

/// More local addresses than this and the filter is left to this side: the attribute's
/// length is 16 bits, an address costs at most 32 bytes.
const MOST_IN_FILTER: usize = 1024;

impl Table {
    /// Fails where this kernel has no inet_diag (a module not loaded, or not built).
    pub(crate) fn open() -> io::Result<Table> {
        let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
        socket.bind_auto()?;
        socket.connect(&NetlinkAddr::new(0, 0))?;
        Ok(Table {
            socket,
            sequence: 0,
            buffer: vec![0; RECEIVE],
        })
    }

    /// TCP sockets in one of `states` whose local address is on `local` (see `is_on`),
    /// IPv4 and IPv6.
    pub(crate) fn count(&mut self, local: &[SocketAddr], states: States) -> io::Result<usize> {
        let mut open = 0;
        self.dump(local, states, |found| {
            // The kernel's filter already did this: checked again so that a filter this
            // side got wrong counts too few sockets rather than too many.
            if states.contains(found.state) && is_on(found.local, local) {
                open += 1;
            }
        })?;
        Ok(open)
    }

    /// Calls `found` for each TCP socket the kernel returns for `states` and `local`:
    /// those of the filter, nothing checked this side.
    pub(crate) fn dump(
        &mut self,
        local: &[SocketAddr],
        states: States,
        mut found: impl FnMut(Found),
    ) -> io::Result<()> {
        let filter = if local.len() <= MOST_IN_FILTER {
            filter(local)
        } else {
            Vec::new()
        };
        self.sequence = self.sequence.wrapping_add(1);
        self.socket
            .send(&request(states, &filter, self.sequence), 0)?;
        loop {
            let size = self.socket.recv(&mut &mut self.buffer[..], 0)?;
            let mut offset = 0;
            while offset < size {
                let message =
                    NetlinkBuffer::new_checked(&self.buffer[offset..size]).map_err(invalid)?;
                let payload = message.payload();
                match message.message_type() {
                    TCPDIAG_GETSOCK => {
                        let header = InetResponse::parse(payload).map_err(invalid)?.header;
                        let id = &header.socket_id;
                        found(Found {
                            local: SocketAddr::new(id.source_address, id.source_port),
                            remote: SocketAddr::new(id.destination_address, id.destination_port),
                            state: header.state,
                        });
                    }
                    // Both carry an int, the error as a negative errno (0: none).
                    NLMSG_DONE | NLMSG_ERROR => {
                        let code = payload
                            .first_chunk::<4>()
                            .map_or(0, |code| i32::from_ne_bytes(*code));
                        return if code < 0 {
                            Err(io::Error::from_raw_os_error(-code))
                        } else {
                            Ok(())
                        };
                    }
                    _ => {}
                }
                // NLMSG_ALIGN; new_checked saw a length of at least a header.
                offset += (message.length() as usize + 3) & !3;
            }
        }
    }
}

fn invalid(error: netlink_packet_core::DecodeError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

/// inet_diag's TCP request (and its answers' message type) in the format before
/// SOCK_DIAG_BY_FAMILY: the kernel takes it for both address families
/// (`inet_diag_dump_compat`, AF_UNSPEC).
const TCPDIAG_GETSOCK: u16 = 18;

/// A dump request for TCP sockets in `states`, with `filter` as its INET_DIAG_REQ_BYTECODE
/// attribute when there is one.
fn request(states: States, filter: &[u8], sequence: u32) -> Vec<u8> {
    // struct inet_diag_req: family, src_len, dst_len, ext (one byte each), the socket id
    // (48 bytes: ports, addresses, interface, cookie; all 0: any), states, dbs (u32 each).
    let mut body = vec![0u8; 4 + 48];
    body.extend_from_slice(&states.0.to_ne_bytes());
    body.extend_from_slice(&0u32.to_ne_bytes());
    // A bytecode is a multiple of 4 bytes long, and at most MOST_IN_FILTER addresses of
    // 32 bytes: the attribute needs no padding and its length fits.
    if let Ok(length) = u16::try_from(4 + filter.len())
        && !filter.is_empty()
    {
        body.extend_from_slice(&length.to_ne_bytes());
        body.extend_from_slice(&INET_DIAG_REQ_BYTECODE.to_ne_bytes());
        body.extend_from_slice(filter);
    }
    let mut header = NetlinkHeader::default();
    header.length = u32::try_from(16 + body.len()).unwrap_or(u32::MAX);
    header.message_type = TCPDIAG_GETSOCK;
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = sequence;
    let mut bytes = vec![0u8; header.buffer_len()];
    header.emit(&mut bytes);
    bytes.extend_from_slice(&body);
    bytes
}

/// inet_diag bytecode that accepts a socket whose local address is on one of `local`:
/// `S_COND(a) JMP S_COND(b) JMP ... S_COND(z)`, as `ss` compiles `src a or src b`.
///
/// The kernel runs it from the start: an operation that holds moves on by its `yes`, one
/// that fails by its `no`; the socket is taken if that lands exactly on the end. A
/// matching S_COND goes on to its JMP, which jumps to the end; a failing one skips its
/// JMP to the next S_COND; the last one's `no` jumps past the end. The kernel's audit
/// (`inet_diag_bc_audit`) wants every `no` target on the `yes` path, which this layout
/// gives.
fn filter(local: &[SocketAddr]) -> Vec<u8> {
    let conditions: Vec<Vec<u8>> = local.iter().map(|address| condition(*address)).collect();
    let mut program = Vec::new();
    for (i, condition) in conditions.iter().enumerate() {
        let last = i + 1 == conditions.len();
        let length = condition.len();
        // An operation: code, yes (u8), no (u16), in host order.
        let yes = u8::try_from(length).unwrap_or(u8::MAX);
        let no = u16::try_from(length + 4).unwrap_or(u16::MAX);
        program.push(INET_DIAG_BC_S_COND);
        program.push(yes);
        program.extend_from_slice(&no.to_ne_bytes());
        program.extend_from_slice(&condition[4..]);
        if !last {
            // From here to the end: this JMP and the conditions after it.
            let rest: usize = 4 + conditions[i + 1..]
                .iter()
                .map(|condition| condition.len() + 4)
                .sum::<usize>()
                - 4;
            program.push(INET_DIAG_BC_JMP);
            program.push(4);
            program.extend_from_slice(&u16::try_from(rest).unwrap_or(u16::MAX).to_ne_bytes());
        }
    }
    program
}

/// One S_COND operation with its `struct inet_diag_hostcond` (family, prefix length, port
/// as a host-order int, then the address): the operation's first 4 bytes are left for
/// `filter` to write.
fn condition(address: SocketAddr) -> Vec<u8> {
    let (family, prefix, bytes): (u8, u8, Vec<u8>) = match address.ip().to_canonical() {
        ip if ip.is_unspecified() => (AF_UNSPEC, 0, Vec::new()),
        IpAddr::V4(ip) => (AF_INET, 32, ip.octets().to_vec()),
        IpAddr::V6(ip) => (AF_INET6, 128, ip.octets().to_vec()),
    };
    let mut operation = vec![0; 4];
    operation.push(family);
    operation.push(prefix);
    operation.extend_from_slice(&[0, 0]);
    operation.extend_from_slice(&i32::from(address.port()).to_ne_bytes());
    operation.extend_from_slice(&bytes);
    operation
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::process::Command;

    const TIME_WAIT: u8 = 6;
    const LISTEN: u8 = 10;

    #[test]
    fn states_are_the_kernels_bits() {
        let states = States::of(&[SYN_RECV, LISTEN]);
        assert_eq!(states, States((1 << 3) | (1 << 10)));
        assert!(states.contains(SYN_RECV));
        assert!(!states.contains(ESTABLISHED));
        assert!(!OPEN.contains(TIME_WAIT));
        assert!(!OPEN.contains(LISTEN));
    }

    #[test]
    fn the_filter_chains_conditions_as_the_kernel_audits_them() {
        let local: [SocketAddr; 3] = [
            "10.0.3.100:80".parse().expect("address"),
            "0.0.0.0:8080".parse().expect("address"),
            "[2001:db8::1]:443".parse().expect("address"),
        ];
        let program = filter(&local);
        // S_COND v4 (4 + 8 + 4), JMP, S_COND any (4 + 8), JMP, S_COND v6 (4 + 8 + 16).
        assert_eq!(program.len(), 16 + 4 + 12 + 4 + 28);
        let op = |at: usize| {
            (
                program[at],
                program[at + 1],
                u16::from_ne_bytes([program[at + 2], program[at + 3]]),
            )
        };
        assert_eq!(op(0), (INET_DIAG_BC_S_COND, 16, 20), "holds: to its JMP");
        assert_eq!(op(16), (INET_DIAG_BC_JMP, 4, 48), "to the end");
        assert_eq!(op(20), (INET_DIAG_BC_S_COND, 12, 16));
        assert_eq!(op(32), (INET_DIAG_BC_JMP, 4, 32), "to the end");
        assert_eq!(op(36), (INET_DIAG_BC_S_COND, 28, 32), "fails: past the end");
        assert_eq!(&program[4..8], &[AF_INET, 32, 0, 0]);
        assert_eq!(&program[8..12], &80i32.to_ne_bytes());
        assert_eq!(&program[12..16], &[10, 0, 3, 100]);
        assert_eq!(&program[24..28], &[AF_UNSPEC, 0, 0, 0]);
        assert_eq!(&program[28..32], &8080i32.to_ne_bytes());
        assert_eq!(&program[40..44], &[AF_INET6, 128, 0, 0]);
    }

    #[test]
    fn is_on_matches_wildcards_and_mapped_addresses() {
        let vip: SocketAddr = "10.0.3.100:80".parse().expect("address");
        let mapped: SocketAddr = "[::ffff:10.0.3.100]:80".parse().expect("address");
        let any: SocketAddr = "[::]:80".parse().expect("address");
        assert!(is_on(mapped, &[vip]));
        assert!(is_on(vip, &[any]));
        assert!(!is_on("10.0.3.100:81".parse().expect("address"), &[vip]));
        assert!(!is_on("10.0.3.101:80".parse().expect("address"), &[vip]));
    }

    /// Runs `test` on a thread of its own in a new network namespace with loopback up
    /// (gone with the thread), where an nftables rule drops the clients' handshake ACKs to
    /// `drop_ack` (pure ACKs; data segments pass and complete the handshake). None where
    /// this is not root.
    pub(crate) fn in_namespace<T: Send + 'static>(
        drop_ack: Option<u16>,
        test: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        std::thread::spawn(move || {
            if let Err(error) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) {
                eprintln!("skipped: no network namespace ({error}); needs root");
                return None;
            }
            let run = |args: &[&str]| {
                let status = Command::new(args[0])
                    .args(&args[1..])
                    .status()
                    .expect("runs");
                assert!(status.success(), "{args:?}");
            };
            run(&["ip", "link", "set", "lo", "up"]);
            if let Some(port) = drop_ack {
                let rules = format!(
                    "add table inet drop_ack {{ chain out {{ type filter hook output priority 0; \
                     tcp dport {port} tcp flags == ack drop; }}; }}"
                );
                run(&["nft", &rules]);
            }
            Some(test())
        })
        .join()
        .expect("test thread")
    }

    fn sockets(table: &mut Table, local: &[SocketAddr], states: States) -> Vec<Found> {
        let mut found = Vec::new();
        table
            .dump(local, states, |socket| found.push(socket))
            .expect("dump");
        found
    }

    fn half_done_handshake_is_seen_then_not(listen: &str, port: u16) {
        let listen: SocketAddr = listen.parse().expect("address");
        in_namespace(Some(port), move || {
            let listener = TcpListener::bind(listen).expect("bind");
            let mut table = Table::open().expect("sock_diag");
            let syn_recv = States::of(&[SYN_RECV]);
            assert_eq!(table.count(&[listen], syn_recv).expect("count"), 0);

            // The client's ACK is dropped: it is ESTABLISHED, the listener's side SYN_RECV.
            let mut client = TcpStream::connect(listen).expect("connect");
            let half = sockets(&mut table, &[listen], syn_recv);
            assert_eq!(half.len(), 1, "one half-done handshake: {half:?}");
            assert_eq!(half[0].local, listen);
            assert_eq!(half[0].remote, client.local_addr().expect("address"));
            assert_eq!(half[0].state, SYN_RECV);
            let wildcard = SocketAddr::new(
                if listen.is_ipv4() {
                    "0.0.0.0".parse().expect("address")
                } else {
                    "::".parse().expect("address")
                },
                port,
            );
            assert_eq!(table.count(&[wildcard], syn_recv).expect("count"), 1);
            let other_port = SocketAddr::new(listen.ip(), port + 1);
            assert_eq!(table.count(&[other_port], syn_recv).expect("count"), 0);

            // Data carries the ACK past the rule: the handshake completes.
            client.write_all(b"x").expect("write");
            let (mut served, _) = listener.accept().expect("accept");
            let mut byte = [0u8; 1];
            served.read_exact(&mut byte).expect("read");
            assert_eq!(table.count(&[listen], syn_recv).expect("count"), 0);

            // Two ESTABLISHED sockets carry the port, one as its local port: the kernel
            // returns only the listener's side, not the client's (whose remote port it is).
            let established = sockets(&mut table, &[listen], States::of(&[ESTABLISHED]));
            assert_eq!(established.len(), 1, "{established:?}");
            assert_eq!(established[0].remote, client.local_addr().expect("address"));
            let client_side = client.local_addr().expect("address");
            let from_client = sockets(&mut table, &[client_side], States::of(&[ESTABLISHED]));
            assert_eq!(from_client.len(), 1, "{from_client:?}");
            assert_eq!(from_client[0].remote, listen);
        });
    }

    #[test]
    fn half_done_handshake_ipv4() {
        half_done_handshake_is_seen_then_not("127.0.0.1:8080", 8080);
    }

    #[test]
    fn half_done_handshake_ipv6() {
        half_done_handshake_is_seen_then_not("[::1]:8443", 8443);
    }

    fn connections_are_counted_while_open(listen: &str) {
        let listen: SocketAddr = listen.parse().expect("address");
        in_namespace(None, move || {
            let listener = TcpListener::bind(listen).expect("bind");
            let mut table = Table::open().expect("sock_diag");
            let clients: Vec<TcpStream> = (0..3)
                .map(|_| TcpStream::connect(listen).expect("connect"))
                .collect();
            let mut served: Vec<TcpStream> = (0..3)
                .map(|_| listener.accept().expect("accept").0)
                .collect();
            // Three connections; the listener itself is not one.
            assert_eq!(table.count(&[listen], OPEN).expect("count"), 3);
            assert_eq!(
                table
                    .count(&[listen], States::of(&[LISTEN]))
                    .expect("count"),
                1
            );

            // This side closes first: FIN_WAIT2 while the client has not closed, still open.
            drop(served.pop());
            std::thread::sleep(std::time::Duration::from_millis(50));
            let states: Vec<u8> = sockets(&mut table, &[listen], OPEN)
                .iter()
                .map(|found| found.state)
                .collect();
            assert_eq!(states.len(), 3, "{states:?}");
            assert_eq!(states.iter().filter(|&&s| s == FIN_WAIT2).count(), 1);

            // The clients close too: TIME_WAIT here, and no longer open.
            drop(clients);
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert_eq!(
                table
                    .count(&[listen], States::of(&[TIME_WAIT]))
                    .expect("count"),
                1
            );
            // The two this side has not closed wait in CLOSE_WAIT: open.
            assert_eq!(
                table
                    .count(&[listen], States::of(&[CLOSE_WAIT]))
                    .expect("count"),
                2
            );
            assert_eq!(table.count(&[listen], OPEN).expect("count"), 2);
            drop(served);
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert_eq!(table.count(&[listen], OPEN).expect("count"), 0);
            // Another address with the same port is not this one.
            let other = SocketAddr::new(
                if listen.is_ipv4() {
                    "127.0.0.2".parse().expect("address")
                } else {
                    "::2".parse().expect("address")
                },
                listen.port(),
            );
            assert_eq!(
                table
                    .count(&[other], States::of(&[TIME_WAIT, LISTEN]))
                    .expect("count"),
                0
            );
        });
    }

    #[test]
    fn connections_counted_while_open_ipv4() {
        connections_are_counted_while_open("127.0.0.1:80");
    }

    #[test]
    fn connections_counted_while_open_ipv6() {
        connections_are_counted_while_open("[::1]:80");
    }
}
