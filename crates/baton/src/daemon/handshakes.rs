//! Connections still open on local addresses, read from the kernel's sock_diag dump
//! (`sock_diag`), or from /proc/net/tcp and tcp6 where this kernel has no inet_diag.
//!
//! Handshakes still open on a listener that is about to close: a connection whose SYN was
//! answered before the SYN gate closed completes when the client's ACK arrives; if the
//! listener is gone by then, the kernel answers that ACK with a reset and the client's
//! request fails. So the drain waits until no handshake to its listeners is half done
//! (SYN_RECV) before it closes them.
//!
//! Connections on a VIP about to go (`step_down`): its packets would find no address here
//! any more, so the address stays until no connection on it is open.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Once;
use std::time::Duration;

use tokio::time::Instant;

use super::sock_diag::{self, OPEN, SYN_RECV, States};

/// How often the tables are read while handshakes are open.
const POLL: Duration = Duration::from_millis(5);

/// How often the tables are read while connections are open: they last longer.
const CONNECTIONS_POLL: Duration = Duration::from_millis(50);

/// Waits until no handshake to `listeners` is half done, at most `limit` (a client whose
/// ACK was lost needs a retransmitted SYN-ACK, a second later: not worth holding the
/// drain for). How many were still open at the end, for the log.
pub(crate) async fn settle(listeners: &[SocketAddr], limit: Duration) -> usize {
    wait_for_none(listeners, States::of(&[SYN_RECV]), POLL, limit).await
}

/// Waits until no connection whose local address is one of `local` is open, at most
/// `limit`. How many were still open at the end, for the log.
pub(crate) async fn connections_end(local: &[SocketAddr], limit: Duration) -> usize {
    wait_for_none(local, OPEN, CONNECTIONS_POLL, limit).await
}

async fn wait_for_none(
    local: &[SocketAddr],
    states: States,
    poll: Duration,
    limit: Duration,
) -> usize {
    // Nothing to wait for: not even a socket to open.
    if local.is_empty() {
        return 0;
    }
    let until = Instant::now() + limit;
    let mut reader = Reader::open();
    loop {
        let open = reader.count(local, states);
        if open == 0 || Instant::now() >= until {
            return open;
        }
        tokio::time::sleep(poll).await;
    }
}

/// Where the counts come from.
enum Reader {
    /// The kernel's inet_diag dump, filtered in the kernel: one walk of the connection
    /// hash, 1.3-1.9 ms a read with nothing to find on this 24 GiB VM (docs/benchmarks.md).
    SockDiag(sock_diag::Table),
    /// /proc/net/tcp and tcp6: the whole connection hash walked twice and this namespace's
    /// connections formatted as text, 15-19 ms a read on the same VM, loaded. Only where
    /// inet_diag is missing (CONFIG_INET_DIAG or tcp_diag not there).
    Proc,
}

impl Reader {
    fn open() -> Reader {
        match sock_diag::Table::open() {
            Ok(table) => Reader::SockDiag(table),
            Err(error) => {
                fall_back(&error);
                Reader::Proc
            }
        }
    }

    /// Sockets in one of `states` on `local` in this network namespace.
    fn count(&mut self, local: &[SocketAddr], states: States) -> usize {
        if let Reader::SockDiag(table) = self {
            match table.count(local, states) {
                Ok(open) => return open,
                Err(error) => {
                    fall_back(&error);
                    *self = Reader::Proc;
                }
            }
        }
        // This thread's namespace, as the netlink socket's: /proc/net is the process's
        // first thread's.
        ["/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"]
            .iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .map(|table| count(&table, local, states))
            .sum()
    }
}

/// Says once per process that the drain reads the slow tables.
fn fall_back(error: &std::io::Error) {
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        tracing::warn!(
            %error,
            "sock_diag (inet_diag) unavailable: the drain reads /proc/net/tcp instead, \
             a few milliseconds a read (modprobe tcp_diag)"
        );
    });
}

/// Lines of a /proc/net/tcp table in one of `states` whose local address is on `local`
/// (a wildcard listener matches its port on any address).
fn count(table: &str, local: &[SocketAddr], states: States) -> usize {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let address = fields.nth(1)?;
            let state = u8::from_str_radix(fields.nth(1)?, 16).ok()?;
            states
                .contains(state)
                .then(|| local_address(address))
                .flatten()
        })
        .filter(|address| sock_diag::is_on(*address, local))
        .count()
}

/// `0100030A:0050`: the address as the kernel keeps it (32-bit words in host order), hex.
fn local_address(text: &str) -> Option<SocketAddr> {
    let (address, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match address.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(address)?.to_ne_bytes())),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_exact_mut(4).enumerate() {
                chunk.copy_from_slice(&word(address.get(i * 8..i * 8 + 8)?)?.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

fn word(hex: &str) -> Option<u32> {
    u32::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::daemon::sock_diag::tests::in_namespace;

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 6403000A:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 6403000A:0050 0A03000A:C350 03 00000000:00000000 00:00000000 00000000     0        0 0 1 0 100 0 0 10 0
   2: 6403000A:0050 0B03000A:C351 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0
   3: 0C03000A:1F90 0A03000A:C352 03 00000000:00000000 00:00000000 00000000     0        0 0 1 0 100 0 0 10 0
";

    #[test]
    fn counts_half_done_handshakes_to_the_listeners_only() {
        if cfg!(target_endian = "big") {
            return;
        }
        let vip: SocketAddr = "10.0.3.100:80".parse().expect("address");
        assert_eq!(
            count(TABLE, &[vip], States::of(&[SYN_RECV])),
            1,
            "one SYN_RECV to the VIP"
        );
        let any: SocketAddr = "0.0.0.0:8080".parse().expect("address");
        assert_eq!(
            count(TABLE, &[any], States::of(&[SYN_RECV])),
            1,
            "a wildcard listener matches its port"
        );
        let other: SocketAddr = "10.0.3.100:443".parse().expect("address");
        assert_eq!(count(TABLE, &[other], States::of(&[SYN_RECV])), 0);
    }

    #[test]
    fn open_connections_are_those_that_still_exchange_packets() {
        if cfg!(target_endian = "big") {
            return;
        }
        let vip: SocketAddr = "10.0.3.100:80".parse().expect("address");
        // The listener (0A) is not a connection; SYN_RECV (03) and ESTABLISHED (01) are.
        assert_eq!(count(TABLE, &[vip], OPEN), 2);
        let time_wait = TABLE.replace(" 01 0000", " 06 0000");
        assert_eq!(count(&time_wait, &[vip], OPEN), 1, "TIME_WAIT is over");
    }

    #[test]
    fn reads_ipv6_addresses() {
        if cfg!(target_endian = "big") {
            return;
        }
        let local = local_address("B80D0120000000000000000001000000:01BB").expect("valid");
        assert_eq!(local, "[2001:db8::1]:443".parse().expect("address"));
    }

    #[tokio::test]
    async fn nothing_open_settles_at_once() {
        let listener: SocketAddr = "127.0.0.1:9".parse().expect("address");
        assert_eq!(settle(&[listener], Duration::from_secs(5)).await, 0);
    }

    /// With the client's ACK dropped, both readers see the half-done handshake, and
    /// neither once data completes it; they count the same open connections.
    #[test]
    fn both_readers_agree() {
        let listen: SocketAddr = "127.0.0.1:8081".parse().expect("address");
        in_namespace(Some(8081), move || {
            let listener = std::net::TcpListener::bind(listen).expect("bind");
            let Reader::SockDiag(_) = Reader::open() else {
                panic!("no sock_diag on this kernel");
            };
            let syn_recv = States::of(&[SYN_RECV]);
            let mut client = std::net::TcpStream::connect(listen).expect("connect");
            assert_eq!(Reader::open().count(&[listen], syn_recv), 1, "sock_diag");
            assert_eq!(Reader::Proc.count(&[listen], syn_recv), 1, "/proc");
            std::io::Write::write_all(&mut client, b"x").expect("write");
            let _served = listener.accept().expect("accept");
            for mut reader in [Reader::open(), Reader::Proc] {
                assert_eq!(reader.count(&[listen], syn_recv), 0);
                assert_eq!(reader.count(&[listen], OPEN), 1);
            }
        });
    }

    /// A measurement, by hand: the time of one read, sock_diag's against /proc/net/tcp +
    /// tcp6's, with N connections established to a listener in a namespace of its own;
    /// the three reads interleaved in turn, medians.
    ///
    ///     ulimit -n 65536
    ///     cargo test --release -p baton --bin baton -- --ignored --nocapture read_time
    ///
    /// BATON_READ_TIME_N (a list: "0,1000,10000") and BATON_READ_TIME_ROUNDS (101).
    #[test]
    #[ignore = "a measurement, by hand"]
    fn read_time() {
        let sizes: Vec<usize> = std::env::var("BATON_READ_TIME_N")
            .unwrap_or_else(|_| "0,1000,10000".to_owned())
            .split(',')
            .map(|n| n.trim().parse().expect("a number"))
            .collect();
        let rounds: usize = std::env::var("BATON_READ_TIME_ROUNDS")
            .map(|n| n.parse().expect("a number"))
            .unwrap_or(101);
        println!(
            "| connections | sock_diag, SYN_RECV on the listener | sock_diag, open on the listener | /proc/net/tcp + tcp6 | /proc / sock_diag SYN_RECV |"
        );
        println!("|---|---|---|---|---|");
        for n in sizes {
            in_namespace(None, move || read_times(n, rounds));
        }
    }

    /// N connections to 127.0.0.1:80, held until stdin closes.
    const CLIENTS: &str = "import socket, sys
held = [socket.create_connection(('127.0.0.1', 80)) for _ in range(int(sys.argv[1]))]
print('connected', flush=True)
sys.stdin.read()
";

    fn read_times(n: usize, rounds: usize) {
        use std::time::Instant;
        let listen: SocketAddr = "127.0.0.1:80".parse().expect("address");
        let listener = std::net::TcpListener::bind(listen).expect("bind");
        // The clients' ends in a process of their own: one process may not hold 20,000.
        let mut clients = std::process::Command::new("python3")
            .args(["-c", CLIENTS, &n.to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let connections: Vec<_> = (0..n)
            .map(|_| listener.accept().expect("accept").0)
            .collect();
        let mut ready = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(clients.stdout.take().expect("stdout")),
            &mut ready,
        )
        .expect("clients");
        assert_eq!(ready.trim(), "connected");
        let mut sock_diag = Reader::open();
        let Reader::SockDiag(_) = sock_diag else {
            panic!("no sock_diag on this kernel");
        };
        let mut proc = Reader::Proc;
        let syn_recv = States::of(&[SYN_RECV]);
        let mut times: [Vec<f64>; 3] = Default::default();
        for round in 0..rounds {
            for turn in 0..3 {
                let which = (round + turn) % 3;
                let started = Instant::now();
                let counted = match which {
                    0 => sock_diag.count(&[listen], syn_recv),
                    1 => sock_diag.count(&[listen], OPEN),
                    _ => proc.count(&[listen], OPEN),
                };
                times[which].push(started.elapsed().as_secs_f64() * 1e3);
                let expected = if which == 0 { 0 } else { n };
                assert_eq!(counted, expected, "read {which}");
            }
        }
        let medians = times.map(|mut t| {
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        });
        drop(clients.stdin.take());
        clients.wait().expect("clients end");
        drop(connections);
        println!(
            "| {n} | {:.3} ms | {:.3} ms | {:.3} ms | {:.0} |",
            medians[0],
            medians[1],
            medians[2],
            medians[2] / medians[0]
        );
    }
}
